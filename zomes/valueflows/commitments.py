"""Commitments, intents and claims as events meet them: the resolvers that find what an
event's `fulfills`, `satisfies` and `settles` name, and the rules peers apply to those
references, to commitments and claims, and to the links that index them
(docs/validation-rules.md).

Links: an event that fulfils, satisfies or settles X is linked from X (link types in
FLOW_LINKS), so either party of X asks X's authorities for what met it; a commitment or a
claim is linked from `party_base(agent)` of each of its parties (PARTY_LINK), so a party
that did not write it finds it. A missing record is a MissingDependency (Unresolved),
never proof that it does not exist.
"""

from __future__ import annotations

from typing import Final

from node.core.actions import Create, CreateLink, Update
from node.core.cid import Cid
from node.core.countersign import Envelope
from node.core.errors import CoreError
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome
from node.core.records import Record
from zomes.api import Deps
from zomes.valueflows.agreements import agreement_at
from zomes.valueflows.agreements import find_clause as clause_in
from zomes.valueflows.entries import (
    Claim,
    Commitment,
    EconomicEvent,
    EconomicResource,
    Intent,
    VfEntry,
)
from zomes.valueflows.units import Measure, UnitError, compatible

PREFIX: Final = "valueflows."
COMMITMENT_TYPE: Final = PREFIX + "Commitment"
CLAIM_TYPE: Final = PREFIX + "Claim"
INTENT_TYPE: Final = PREFIX + "Intent"
EVENT_TYPES: Final = frozenset({PREFIX + "EconomicEvent", PREFIX + "CountersignedEvent"})
FLOW_LINKS: Final = {"fulfilment": "fulfills", "satisfaction": "satisfies",
                     "settlement": "settles"}
"""Link type -> the event field naming the link's base."""
PARTY_LINK: Final = "party"
"""The link type from `party_base(agent)` to a commitment or claim `agent` is a party to."""
RULES: Final = (
    "check_commitment_party", "check_fulfilment", "check_fulfilment_party",
    "check_satisfaction", "check_satisfaction_party", "check_satisfaction_open",
    "check_settlement", "check_claim",
    "check_flow_link", "check_party_link",
)

# -- the agreement clause lookup ------------------------------------------------------


def find_clause(deps: Deps, agreement: str, clause: str) -> Commitment | None:
    """The commitment `clause` of the countersigned agreement `agreement` (None: none):
    a clause is held inline in the agreement (zomes/valueflows/agreements.py), named by the
    entry address of its content; MissingDependency while the agreement is not held."""
    found = agreement_at(deps, agreement)
    return None if found is None else clause_in(found, clause)


def party_base(agent: str) -> Cid:
    """The well-known base of the commitments and claims `agent` is a party to: the
    address of the bytes `coledger:commitments:party:<agent>`."""
    return Cid.of(b"coledger:commitments:party:" + agent.encode())


# -- resolvers ----------------------------------------------------------------------------


def _record(deps: Deps, address: str) -> Record | None:
    """The record at `address` (MissingDependency if not held); None: no address at all."""
    try:
        cid = Cid.parse(address)
    except CoreError:
        return None
    return deps.must_get_record(cid)


def _created(record: Record, entry_type: str) -> bool:
    action = record.action
    return (isinstance(action, Create | Update) and action.entry_type == entry_type
            and record.entry is not None)


def resolve_commitment(deps: Deps, address: str,
                       realization_of: str | None) -> Commitment | None:
    """The commitment `address` names: a clause of the agreement `realization_of` when one
    is given and holds it, else a standalone Commitment record; None if it names none."""
    if realization_of is not None:
        clause = find_clause(deps, realization_of, address)
        if clause is not None:
            return clause
    record = _record(deps, address)
    if record is None or not _created(record, COMMITMENT_TYPE):
        return None
    assert record.entry is not None
    commitment = Commitment.from_content(record.entry.value)
    if check_commitment_party(commitment, str(record.action.author)) is not None:
        return None  # (not a commitment its parties made: its author is warranted)
    return commitment


def resolve_intent(deps: Deps, address: str) -> tuple[Intent, int | None] | None:
    """The intent `address` names (its first version or a later one) and, when that
    version is finished (a withdrawn proposal's), the time it was finished; None: no
    intent there."""
    record = _record(deps, address)
    if record is None or not _created(record, INTENT_TYPE):
        return None
    assert record.entry is not None
    intent = Intent.from_content(record.entry.value)
    if str(record.action.author) not in (intent.provider, intent.receiver):
        return None  # (check_intent_party: no intent its parties made)
    return intent, record.action.timestamp if intent.finished else None


def resolve_claim(deps: Deps, address: str) -> Claim | None:
    """The claim `address` names; None if it names none."""
    record = _record(deps, address)
    if record is None or not _created(record, CLAIM_TYPE):
        return None
    assert record.entry is not None
    claim = Claim.from_content(record.entry.value)
    return claim if str(record.action.author) == claim.receiver else None  # (check_claim)


def _event(record: Record) -> EconomicEvent | None:
    """The event a record holds (a countersigned envelope's inner event too)."""
    action = record.action
    if (not isinstance(action, Create) or action.entry_type not in EVENT_TYPES
            or record.entry is None):
        return None
    content = record.entry.value
    if action.entry_type.endswith("CountersignedEvent"):
        try:
            content = Envelope.from_value(content).inner
        except CoreError:
            return None
    if not isinstance(content, dict):
        return None
    try:
        return EconomicEvent.from_content(content)
    except ValueError:
        return None


def _event_at(deps: Deps, address: str) -> EconomicEvent | None:
    """The event named by `address`: a record's (an action address), else a countersigned
    envelope's (its entry address names it on both chains); MissingDependency if neither
    is held."""
    try:
        cid = Cid.parse(address)
    except CoreError:
        return None
    try:
        return _event(deps.must_get_record(cid))
    except MissingDependency:
        entry = deps.must_get_entry(cid)  # (raises MissingDependency in turn)
    try:
        inner = Envelope.from_value(entry.value).inner
        return EconomicEvent.from_content(inner) if isinstance(inner, dict) else None
    except (CoreError, ValueError):
        return None


# -- what an event, a commitment and a claim must keep -------------------------------------


def _fits(flow: EconomicEvent | Commitment, planned: Commitment | Intent | Claim,
          spec: str | None) -> str | None:
    """Why `flow` cannot meet `planned` (another action, specification or unit
    dimension), or None."""
    if flow.action != planned.action:
        return f"a {flow.action} cannot meet a planned {planned.action}"
    if spec is not None and planned.resource_conforms_to not in (None, spec):
        return "its resource specification is not the planned one"
    for name in ("resource_quantity", "effort_quantity"):
        mine: Measure | None = getattr(flow, name)
        theirs: Measure | None = getattr(planned, name)
        if mine is None or theirs is None:
            continue
        try:
            same = compatible(mine.has_unit, theirs.has_unit)
        except UnitError:
            same = False
        if not same:
            return f"{mine.has_unit} is not of the planned unit's dimension ({theirs.has_unit})"
    return None


def _spec_of(event: EconomicEvent, deps: Deps) -> str | None:
    """The event's resource specification: its own, else its resource's (if held)."""
    if event.resource_conforms_to is not None or event.resource_inventoried_as is None:
        return event.resource_conforms_to
    record = _record(deps, event.resource_inventoried_as)
    if record is None or record.entry is None or not _created(record, PREFIX + "EconomicResource"):
        return None
    return EconomicResource.from_content(record.entry.value).conforms_to


def event_time(event: EconomicEvent) -> int:
    return event.has_point_in_time or event.has_end or event.has_beginning or 0


def check_fulfilment(event: EconomicEvent, commitment: Commitment | None,
                     spec: str | None) -> str | None:
    """A fulfilment names a commitment, of the same action, a compatible specification
    and a unit of the same dimension."""
    if commitment is None:
        return f"fulfills {event.fulfills}, which is no commitment"
    return _fits(event, commitment, spec)


def check_fulfilment_party(author: str, commitment: Commitment) -> str | None:
    """An event fulfils only commitments its author is a party to."""
    if author not in (commitment.provider, commitment.receiver):
        return "an event fulfils only a commitment its author is a party to"
    return None


def check_satisfaction(flow: EconomicEvent | Commitment, intent: Intent | None,
                       spec: str | None) -> str | None:
    """A satisfaction names an intent, of the same action, a compatible specification and
    a unit of the same dimension."""
    if intent is None:
        return f"satisfies {flow.satisfies}, which is no intent"
    return _fits(flow, intent, spec)


def check_satisfaction_open(at_us: int, finished_us: int | None) -> str | None:
    """A withdrawn proposal's intents (finished) are not satisfied after they finished."""
    if finished_us is not None and at_us > finished_us:
        return "the intent was withdrawn (finished) before this"
    return None


def check_settlement(event: EconomicEvent, author: str, claim: Claim | None,
                     spec: str | None) -> str | None:
    """A settlement names a claim, of the same action, a compatible specification and a
    unit of the same dimension, and its author is a party to the claim."""
    if claim is None:
        return f"settles {event.settles}, which is no claim"
    if author not in (claim.provider, claim.receiver):
        return "an event settles only a claim its author is a party to"
    return _fits(event, claim, spec)


def check_event_plans(event: EconomicEvent, author: str, deps: Deps,
                      cosigners: frozenset[str] = frozenset(), prev: Cid | None = None,
                      ) -> Outcome:
    """The rules of what an event fulfils, satisfies and settles, judged on `author`'s
    chain (the event's action after `prev`; `cosigners`: a countersigned event's)."""
    if event.fulfills is None and event.satisfies is None and event.settles is None:
        return VALID
    spec = _spec_of(event, deps)
    if event.fulfills is not None:
        commitment = resolve_commitment(deps, event.fulfills, event.realization_of)
        reason = check_fulfilment(event, commitment, spec)
        if reason is not None:
            return Invalid("check_fulfilment", reason)
        assert commitment is not None
        reason = check_fulfilment_party(author, commitment)
        if reason is not None:
            return Invalid("check_fulfilment_party", reason)
    if event.satisfies is not None:
        found = check_intent_met(event, deps, spec, event_time(event))
        if found is not None:
            return found
        intent_author = _author_of(deps, event.satisfies)
        reason = check_satisfaction_party(author, cosigners, intent_author)
        if reason is not None:
            return Invalid("check_satisfaction_party", reason)
        if intent_author == author and withdrawn_on_chain(deps, event.satisfies, prev):
            return Invalid("check_satisfaction_open",
                           "the intent was withdrawn (finished) on its author's chain before this")
    if event.settles is not None:
        reason = check_settlement(event, author, resolve_claim(deps, event.settles), spec)
        if reason is not None:
            return Invalid("check_settlement", reason)
    return VALID


def check_satisfaction_party(author: str, cosigners: frozenset[str],
                             intent_author: str | None) -> str | None:
    """Only the intent's author satisfies it, by an event it authored or countersigned: so
    the intent's state (withdrawn or not) is read from the chain the event is on."""
    if intent_author is not None and intent_author != author and intent_author not in cosigners:
        return ("an event satisfies only an intent of its author's or of a party who "
                "countersigned it")
    return None


def _author_of(deps: Deps, address: str) -> str | None:
    record = _record(deps, address)
    return None if record is None else str(record.action.author)


def withdrawn_on_chain(deps: Deps, intent: str, prev: Cid | None) -> bool:
    """Whether the intent's author finished it (a withdrawn proposal's: the latest Update
    of the intent says finished) on its chain from `prev` down to where the intent was
    written: read from the chain an event of the author's is checked on, every validator
    reads the same, whatever it has seen of the network."""
    record = _record(deps, intent)
    if record is None:
        return False
    action = record.action
    original = action.original_action if isinstance(action, Update) else record.address
    floor, address = action.seq, prev
    while address is not None:
        step = deps.must_get_record(address)
        found = step.action
        if (isinstance(found, Update) and found.original_action == original
                and found.entry_type == INTENT_TYPE and step.entry is not None):
            return Intent.from_content(step.entry.value).finished
        if found.seq <= floor:
            return False
        address = found.prev_action
    return False


def check_intent_met(flow: EconomicEvent | Commitment, deps: Deps, spec: str | None,
                     at_us: int) -> Invalid | None:
    """check_satisfaction and check_satisfaction_open of `flow.satisfies`."""
    assert flow.satisfies is not None
    resolved = resolve_intent(deps, flow.satisfies)
    reason = check_satisfaction(flow, None if resolved is None else resolved[0], spec)
    if reason is not None:
        return Invalid("check_satisfaction", reason)
    assert resolved is not None
    reason = check_satisfaction_open(at_us, resolved[1])
    if reason is not None:
        return Invalid("check_satisfaction_open", reason)
    return None


def check_commitment_party(commitment: Commitment, author: str) -> str | None:
    """Only a party of a standalone commitment (its provider or receiver) may author it."""
    if author not in (commitment.provider, commitment.receiver):
        return "a commitment is authored by its provider or its receiver"
    return None


def check_commitment(commitment: Commitment, author: str, at_us: int, deps: Deps) -> Outcome:
    """The rules of a standalone commitment as created by `author` at `at_us`."""
    reason = check_commitment_party(commitment, author)
    if reason is not None:
        return Invalid("check_commitment_party", reason)
    if commitment.satisfies is not None:
        found = check_intent_met(commitment, deps, commitment.resource_conforms_to, at_us)
        if found is not None:
            return found
    return VALID


def check_claim(claim: Claim, author: str, deps: Deps) -> Outcome:
    """A claim is authored by its receiver (the claimer), and the event triggering it
    exists and had the author as a party."""
    if author != claim.receiver:
        return Invalid("check_claim", "a claim is authored by its receiver (the claimer)")
    event = _event_at(deps, claim.triggered_by)
    if event is None:
        return Invalid("check_claim", f"triggered by {claim.triggered_by}, which is no event")
    if author not in (event.provider, event.receiver):
        return Invalid("check_claim", "a claim is triggered by an event its author was party to")
    return VALID


def check_flow_link(link: CreateLink, deps: Deps) -> Outcome:
    """A fulfilment, satisfaction or settlement link points from X to an event of the
    link's author that fulfils, satisfies or settles X."""
    record = deps.must_get_record(link.target)
    event = _event(record)
    if event is None or record.action.author != link.author:
        return Invalid("check_flow_link", "the link points to no event of its author")
    if getattr(event, FLOW_LINKS[link.link_type]) != str(link.base):
        return Invalid("check_flow_link",
                       f"the event does not {FLOW_LINKS[link.link_type]} the link's base")
    return VALID


def check_party_link(link: CreateLink, deps: Deps) -> Outcome:
    """A party link points from the party base of one of its parties to a commitment or
    a claim the link's author created."""
    record = deps.must_get_record(link.target)
    action = record.action
    entry: VfEntry | None = None
    if isinstance(action, Create) and action.author == link.author and record.entry is not None:
        if action.entry_type == COMMITMENT_TYPE:
            entry = Commitment.from_content(record.entry.value)
        elif action.entry_type == CLAIM_TYPE:
            entry = Claim.from_content(record.entry.value)
    if not isinstance(entry, Commitment | Claim):
        return Invalid("check_party_link", "the link points to no commitment or claim of "
                       "its author")
    parties = [p for p in (entry.provider, entry.receiver) if p is not None]
    if link.base not in [party_base(p) for p in parties]:
        return Invalid("check_party_link", "the link's base is no party's of its target")
    return VALID


def check_link(link: CreateLink, deps: Deps) -> Outcome:
    """The rule of a link of one of this module's types."""
    if link.link_type == PARTY_LINK:
        return check_party_link(link, deps)
    return check_flow_link(link, deps)


LINK_TYPES: Final = frozenset({PARTY_LINK, *FLOW_LINKS})
