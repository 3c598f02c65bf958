"""Fulfilment, satisfaction, settlement and claims, pure: each rule of
zomes/valueflows/commitments.py broken once (through the valueflows zome's `validate`, as
an authority runs it), what `record_event` links, what a withdrawal finishes, and the
listing of `coledger commitments` for both parties.

Rules (docs/validation-rules.md): check_commitment_party, check_fulfilment,
check_fulfilment_party, check_satisfaction, check_satisfaction_open, check_settlement,
check_claim, check_flow_link, check_party_link.
"""

from __future__ import annotations

from typing import Any

import pytest

from node.core.actions import CreateLink
from node.core.cid import Cid
from node.core.identity import AgentKey
from node.core.ops import Op, OpType
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome
from node.core.records import Record
from node.testing import MemoryAgent
from tests.unit.test_vf_proposals import Deps
from zomes.valueflows.commitments import (
    COMMITMENT_TYPE,
    FLOW_LINKS,
    PARTY_LINK,
    RULES,
    party_base,
    resolve_commitment,
)
from zomes.valueflows.coordinator import EventRequest, create_spec, record_event
from zomes.valueflows.entries import Commitment, Intent
from zomes.valueflows.obligations import (
    ClaimRequest,
    create_claim,
    create_commitment,
    list_obligations,
)
from zomes.valueflows.offers import ProposalRequest, open_intents, open_links, publish, withdraw
from zomes.valueflows.units import Measure
from zomes.valueflows.zome import ChainView, validate

HOUR = 3_600_000_000


def _agent(seed: int) -> MemoryAgent:
    agent = MemoryAgent(AgentKey(bytes([seed]) * 32))
    agent.genesis()
    return agent


def _me(agent: MemoryAgent) -> str:
    return str(agent.agent_id)


def _spec(agent: MemoryAgent, name: str = "bran", unit: str = "kg") -> str:
    return str(agent.commit(lambda s: create_spec(s, name, unit, False, None)))


def _event(agent: MemoryAgent, spec: str, quantity: str = "5 kg", action: str = "raise",
           at_us: int | None = None, **fields: Any) -> Record:
    """A raise of a new resource by `agent` (it is provider and receiver): the event record."""
    req = EventRequest(action=action, resource="new:stock", conforms_to=spec, quantity=quantity,
                       at_us=at_us, **fields)
    made = agent.commit(lambda s: record_event(s, ChainView(), _me(agent), req, agent.clock()))
    return next(r for r in agent.records if r.address == made.event)


def _commitment(author: MemoryAgent, spec: str | None, provider: str, receiver: str,
                quantity: str = "10 kg", action: str = "raise", **fields: Any) -> Cid:
    entry = Commitment(action=action, provider=provider, receiver=receiver,
                       resource_conforms_to=spec,
                       resource_quantity=Measure.of(*quantity.split()), **fields)
    return author.commit(lambda s: create_commitment(s, _me(author), entry))  # type: ignore[no-any-return]


def _judge(record: Record, *agents: MemoryAgent,
           op_type: OpType = OpType.REGISTER_AGENT_ACTIVITY) -> Outcome:
    deps = Deps([r for a in agents for r in a.records])
    return validate(Op(op_type, record.signed, record.entry), deps)


def _rule(outcome: Outcome) -> str | None:
    return outcome.rule if isinstance(outcome, Invalid) else str(outcome)


def _last(agent: MemoryAgent) -> Record:
    return agent.records[-1]


def test_the_rules_are_listed_once() -> None:
    assert len(set(RULES)) == len(RULES) == 10


# -- commitments and fulfilment ----------------------------------------------------------


def test_check_commitment_party_only_a_party_writes_a_commitment() -> None:
    farm, mill, bakery = _agent(1), _agent(2), _agent(3)
    _commitment(farm, None, _me(mill), _me(bakery))
    created = next(r for r in farm.records if getattr(r.action, "entry_type", "") ==
                   COMMITMENT_TYPE)
    assert _rule(_judge(created, farm)) == "check_commitment_party"
    _commitment(farm, None, _me(farm), _me(bakery))
    assert _judge(farm.records[-2], farm) == VALID  # (the last record is its party link)


def test_an_event_fulfils_a_commitment_of_its_author() -> None:
    farm = _agent(1)
    spec = _spec(farm)
    commitment = _commitment(farm, spec, _me(farm), _me(farm))
    event = _event(farm, spec, fulfills=str(commitment))
    assert _judge(event, farm) == VALID
    link = _last(farm)
    assert isinstance(link.action, CreateLink) and link.action.base == commitment
    assert link.action.link_type == "fulfilment" and link.action.target == event.address
    assert _judge(link, farm, op_type=OpType.REGISTER_ADD_LINK) == VALID
    deps = Deps(farm.records)
    assert resolve_commitment(deps, str(commitment), None) is not None
    assert resolve_commitment(deps, str(event.address), None) is None


def test_check_fulfilment_what_is_no_commitment_another_action_spec_or_dimension() -> None:
    farm = _agent(1)
    bran, wheat = _spec(farm), _spec(farm, "wheat")
    loaves = _spec(farm, "loaves", "one")
    commitment = _commitment(farm, bran, _me(farm), _me(farm))
    cases = [
        dict(spec=bran, fulfills=bran),  # a specification: no commitment
        dict(spec=bran, action="produce", fulfills=str(commitment)),
        dict(spec=wheat, fulfills=str(commitment)),
        dict(spec=loaves, quantity="5 one", fulfills=str(commitment)),
    ]
    for case in cases:
        fields = dict(case)
        spec = str(fields.pop("spec"))
        if fields.get("action") == "produce":
            process = farm.commit(lambda s: s.create("valueflows.Process", {"name": "p"}))
            fields["output_of"] = str(process)
        event = _event(farm, spec, **fields)  # type: ignore[arg-type]
        assert _rule(_judge(event, farm)) == "check_fulfilment", case
    with pytest.raises(MissingDependency):  # not held yet: Unresolved, never Invalid
        _judge(_event(farm, bran, fulfills=str(Cid.of(b"elsewhere"))), farm)


def test_check_fulfilment_party_an_event_fulfils_only_its_authors_commitments() -> None:
    farm, mill, bakery = _agent(1), _agent(2), _agent(3)
    spec = _spec(farm)
    theirs = _commitment(mill, spec, _me(mill), _me(bakery))
    event = _event(farm, spec, fulfills=str(theirs))
    assert _rule(_judge(event, farm, mill)) == "check_fulfilment_party"
    ours = _commitment(mill, spec, _me(mill), _me(farm))  # the farm is its receiver
    assert _judge(_event(farm, spec, fulfills=str(ours)), farm, mill) == VALID


# -- satisfaction --------------------------------------------------------------------------


def _offer(agent: MemoryAgent, spec: str) -> Any:
    req = ProposalRequest(purpose="offer", spec=spec, quantity="100 kg", action="raise")
    return agent.commit(lambda s: publish(s, _me(agent), req, agent.clock()))


def test_check_satisfaction_an_intent_of_the_same_action_spec_and_dimension() -> None:
    farm = _agent(1)
    bran, wheat = _spec(farm), _spec(farm, "wheat")
    offered = _offer(farm, bran)
    intent = str(offered.intents[0])
    assert _judge(_event(farm, bran, satisfies=intent), farm) == VALID
    assert _rule(_judge(_event(farm, wheat, satisfies=intent), farm)) == "check_satisfaction"
    commitment = _commitment(farm, bran, _me(farm), _me(farm))
    assert _rule(_judge(_event(farm, bran, satisfies=str(commitment)), farm)) == (
        "check_satisfaction")
    # a commitment that satisfies an intent keeps the same rule
    _commitment(farm, bran, _me(farm), _me(farm), quantity="3 one", satisfies=intent)
    assert _rule(_judge(farm.records[-1], farm)) == "check_satisfaction"
    _commitment(farm, bran, _me(farm), _me(farm), satisfies=intent)
    assert _judge(farm.records[-1], farm) == VALID


def test_check_satisfaction_open_a_withdrawn_offers_intent_is_not_satisfied_after() -> None:
    farm = _agent(1)
    bran = _spec(farm)
    offered = _offer(farm, bran)
    links = open_links(farm.records, offered.proposal)
    intents = open_intents(farm.records, offered.proposal)
    assert [i[0] for i in intents] == list(offered.intents)
    farm.commit(lambda s: withdraw(s, links, intents))
    update = next(r for r in farm.records if r.action.TYPE == "Update")
    assert Intent.from_content(update.entry.value).finished  # type: ignore[union-attr]
    assert _judge(update, farm) == VALID  # the author may finish its intent
    assert open_intents(farm.records, offered.proposal) == []
    finished = update.action.timestamp
    late = _event(farm, bran, at_us=finished + 1, satisfies=str(update.address))
    assert _rule(_judge(late, farm)) == "check_satisfaction_open"
    # recorded after the withdrawal on the chain: refused whatever version it names and
    # whenever it says it happened (the chain, which every validator reads alike, decides)
    for named in (str(update.address), str(offered.intents[0])):
        backdated = _event(farm, bran, at_us=finished - 1, satisfies=named)
        assert _rule(_judge(backdated, farm)) == "check_satisfaction_open"


def test_check_satisfaction_open_an_event_before_the_withdrawal_stays_valid() -> None:
    farm = _agent(1)
    bran = _spec(farm)
    offered = _offer(farm, bran)
    before = _event(farm, bran, satisfies=str(offered.intents[0]))
    farm.commit(lambda s: withdraw(s, open_links(farm.records, offered.proposal),
                                   open_intents(farm.records, offered.proposal)))
    assert _judge(before, farm) == VALID  # judged on its chain up to itself


def test_check_satisfaction_party_only_the_intents_author_satisfies_it() -> None:
    farm, mill = _agent(1), _agent(2)
    bran = _spec(farm)
    offered = _offer(farm, bran)
    theirs = _event(mill, bran, satisfies=str(offered.intents[0]))
    assert _rule(_judge(theirs, farm, mill)) == "check_satisfaction_party"


# -- claims and settlement ------------------------------------------------------------------


def test_check_claim_by_its_receiver_triggered_by_an_event_it_was_party_to() -> None:
    farm, mill = _agent(1), _agent(2)
    bran = _spec(farm)
    event = _event(farm, bran)
    theirs = _event(mill, bran)
    cases = [(str(event.address), True), (bran, False), (str(theirs.address), False)]
    for triggered_by, valid in cases:
        req = ClaimRequest(triggered_by=triggered_by, provider=_me(mill), quantity="3 EUR")
        claim = farm.commit(lambda s, r=req: create_claim(s, _me(farm), r, farm.clock()))
        record = next(r for r in farm.records if r.address == claim)
        outcome = _judge(record, farm, mill)
        assert (outcome == VALID) if valid else _rule(outcome) == "check_claim", triggered_by
    # a claim written as if the mill claimed (the mill its receiver): not the farm's to write
    farm.create("valueflows.Claim", {"action": "transfer", "provider": _me(farm),
                                     "receiver": _me(mill), "triggeredBy": str(event.address)})
    assert _rule(_judge(farm.records[-1], farm)) == "check_claim"


def test_check_settlement_names_a_claim_of_its_author() -> None:
    farm, mill, bakery = _agent(1), _agent(2), _agent(3)
    bran = _spec(farm)
    event = _event(farm, bran)
    req = ClaimRequest(triggered_by=str(event.address), provider=_me(mill), quantity="3 kg",
                       spec=bran, action="raise")
    claim = farm.commit(lambda s: create_claim(s, _me(farm), req, farm.clock()))
    assert _judge(_event(farm, bran, settles=str(claim)), farm) == VALID
    assert _rule(_judge(_event(farm, bran, settles=str(event.address)), farm)) == (
        "check_settlement")  # an event: no claim
    assert _rule(_judge(_event(bakery, bran, settles=str(claim)), farm, bakery)) == (
        "check_settlement")  # the bakery is no party to it
    wheat = _spec(farm, "wheat")
    assert _rule(_judge(_event(farm, wheat, settles=str(claim)), farm)) == (
        "check_settlement")  # another specification


# -- links ----------------------------------------------------------------------------------


def test_check_flow_link_points_to_an_event_of_its_author_meeting_the_base() -> None:
    farm, mill = _agent(1), _agent(2)
    bran = _spec(farm)
    commitment = _commitment(farm, bran, _me(farm), _me(farm))
    other = _commitment(farm, bran, _me(farm), _me(farm))
    event = _event(farm, bran, fulfills=str(commitment))
    for author, base, target, link_type in [
        (farm, other, event.address, "fulfilment"),  # it fulfils another commitment
        (farm, commitment, event.address, "settlement"),  # it settles nothing
        (mill, commitment, event.address, "fulfilment"),  # not the mill's event
        (farm, commitment, commitment, "fulfilment"),  # no event at all
    ]:
        author.commit(lambda s: s.create_link(base, target, "valueflows", link_type))  # noqa: B023
        assert _rule(_judge(_last(author), farm, mill, op_type=OpType.REGISTER_ADD_LINK)) == (
            "check_flow_link"), (base, link_type)
    assert set(FLOW_LINKS) == {"fulfilment", "satisfaction", "settlement"}


def test_check_party_link_from_a_partys_base_to_the_authors_commitment() -> None:
    farm, mill, bakery = _agent(1), _agent(2), _agent(3)
    commitment = _commitment(farm, None, _me(farm), _me(mill))
    link = _last(farm)
    assert isinstance(link.action, CreateLink) and link.action.base == party_base(_me(mill))
    assert _judge(link, farm, op_type=OpType.REGISTER_ADD_LINK) == VALID
    for author, base in [(farm, party_base(_me(bakery))), (mill, party_base(_me(mill)))]:
        author.commit(lambda s: s.create_link(base, commitment, "valueflows", PARTY_LINK))  # noqa: B023
        assert _rule(_judge(_last(author), farm, mill)) == "check_party_link"


# -- the listing, for both parties ------------------------------------------------------------


def _reader(agents: list[MemoryAgent]) -> tuple[Any, Any]:
    """links_page and fetch over the agents' records, as a Client would answer them."""
    from node.core.jsonview import record_json

    records = {r.address: r for a in agents for r in a.records}

    def links_page(base: str, link_type: str, after: str | None) -> dict[str, Any]:
        found = [{"target": str(r.action.target), "author": str(r.action.author)}
                 for r in records.values() if isinstance(r.action, CreateLink)
                 and str(r.action.base) == base and r.action.link_type == link_type]
        return {"links": found, "next": None}

    def fetch(address: str) -> dict[str, Any] | None:
        record = records.get(Cid.parse(address))
        return None if record is None else record_json(record)

    return links_page, fetch


def test_both_parties_see_a_fulfilment_recorded_on_one_chain() -> None:
    mill, bakery = _agent(2), _agent(3)
    flour = _spec(mill, "flour")
    commitment = _commitment(mill, flour, _me(mill), _me(bakery), quantity="300 kg",
                             due=1_000)
    _event(mill, flour, quantity="100 kg", fulfills=str(commitment))
    links_page, fetch = _reader([mill, bakery])
    now = 10**18
    for agent in (mill, bakery):
        rows = list_obligations(_me(agent), agent.records, now, links_page, fetch)
        assert [(r["address"], r["fulfilled"]["hasNumericalValue"],
                 r["remaining"]["hasNumericalValue"], r["overdue"]) for r in rows] == [
            (str(commitment), "100", "200", True)], agent
    # without the network the bakery knows nothing of it; the mill, its own chain
    assert list_obligations(_me(bakery), bakery.records, now, None, None) == []
    assert len(list_obligations(_me(mill), mill.records, now, None, None)) == 1
    # a forged link (the bakery's event said to be the mill's) is left out
    forged = {"links": [{"target": str(commitment), "author": _me(bakery)}], "next": None}
    assert list_obligations(_me(bakery), bakery.records, now, lambda *a: forged, fetch) == []


def test_a_commitment_its_parties_did_not_make_is_fulfilled_by_nothing() -> None:
    farm, mill = _agent(1), _agent(2)
    spec = _spec(farm)
    forged = mill.create(COMMITMENT_TYPE, Commitment(
        action="raise", provider=_me(farm), receiver=_me(farm), resource_conforms_to=spec,
        resource_quantity=Measure.of(10, "kg")).to_content())
    assert _rule(_judge(_event(farm, spec, fulfills=str(forged)), farm, mill)) == (
        "check_fulfilment")
