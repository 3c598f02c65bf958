"""Countersigned agreements, pure: clause addresses, the agreement hook's draft, and each
agreement rule broken once (through the valueflows zome's `validate`, as an authority runs
it); an agreement missing an approval or naming a third agent is refused.

Rules: check_agreement_countersigned, check_agreement_clauses, check_agreement_parties,
check_agreement_reciprocal, check_clause_flow; a clause satisfying an intent keeps the
commitments' check_satisfaction."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clicmd.agreements import parse_clause
from dht.session_wire import Propose
from node.core.cid import Cid
from node.core.countersign import Envelope, Party
from node.core.errors import LocalError
from node.core.identity import AgentKey
from node.core.ops import OpType, produce_ops
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome
from node.core.records import Entry, Record
from node.runtime.countersign_api import proposal_problem
from node.store.deps import BoundedMemo
from node.testing import MemoryAgent
from tests.unit.test_peer_decoders import dag_values
from tests.unit.test_sys_validation import DictDeps, signed_by
from validation.sys import sys_validate
from zomes.valueflows.agreement_hook import (
    AgreementHook,
    AgreementRequest,
    ClauseRequest,
    draft_agreement,
    list_agreements,
)
from zomes.valueflows.agreements import (
    AGREEMENT_TYPE,
    RULES,
    agreement_at,
    clause_address,
    find_clause,
    signed_agreement,
)
from zomes.valueflows.commitments import check_event_plans, resolve_commitment
from zomes.valueflows.entries import Agreement, Commitment, EconomicEvent
from zomes.valueflows.obligations import list_obligations
from zomes.valueflows.units import Measure
from zomes.valueflows.zome import INTEGRITY, validate

FLOUR = str(Cid.of(b"flour spec"))
EUROS = str(Cid.of(b"euro spec"))
DUE = 1_803_000_000_000_000
MILL, BAKERY, STRANGER = (AgentKey(bytes([n]) * 32) for n in (1, 2, 3))


class Deps(DictDeps):
    def __init__(self, records: Any = ()) -> None:
        super().__init__(records)
        self.memo = BoundedMemo()


def _agent(key: AgentKey) -> MemoryAgent:
    agent = MemoryAgent(key)
    agent.genesis()
    return agent


def _clause(provider: AgentKey, receiver: AgentKey, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "action": "transfer", "provider": str(provider.agent_id),
        "receiver": str(receiver.agent_id), "resourceConformsTo": FLOUR,
        "resourceQuantity": {"hasNumericalValue": "300", "hasUnit": "kilogram"}, "due": DUE}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _pay(**fields: Any) -> dict[str, Any]:
    return _clause(BAKERY, MILL, resourceConformsTo=EUROS,
                   resourceQuantity={"hasNumericalValue": "450", "hasUnit": "euro"}, **fields)


def _signed(clauses: list[dict[str, Any]], *, extra: list[Record] = ()) -> Outcome:
    """The agreement of `clauses`, countersigned by the mill and the bakery; the verdict
    on every op of both records (all alike)."""
    mill, bakery = _agent(MILL), _agent(BAKERY)
    mill.countersign_with([bakery], AGREEMENT_TYPE, {"name": "flour", "clauses": clauses})
    return _judge([mill.records[-1], bakery.records[-1]],
                  [*mill.records, *bakery.records, *extra])


def _judge(records: list[Record], held: list[Record]) -> Outcome:
    outcomes = set()
    for record in records:
        for op in produce_ops(record):
            outcomes.add(str(validate(op, Deps(held))))
    assert len(outcomes) == 1, outcomes
    return _verdict(records[0], held)


def _verdict(record: Record, held: list[Record]) -> Outcome:
    op = next(iter(produce_ops(record)))
    return validate(op, Deps(held))


def _rule(outcome: Outcome) -> str | None:
    return outcome.rule if isinstance(outcome, Invalid) else None


def test_every_rule_is_named_in_this_module() -> None:
    assert all(name in __doc__ for name in RULES)
    assert "zomes.valueflows.agreements" in INTEGRITY.modules  # hashed into the DNA
    assert "CountersignedAgreement" in INTEGRITY.entry_types


# -- addresses ---------------------------------------------------------------------------


def test_a_clause_is_addressed_as_its_commitment_entry_and_found_by_it() -> None:
    agreement = Agreement.from_content({"clauses": [_clause(MILL, BAKERY), _pay()]})
    flour, pay = agreement.clauses
    assert clause_address(flour) == Entry.of(flour.to_content()).address
    assert clause_address(flour) == Entry.of(Commitment.from_content(
        _clause(MILL, BAKERY)).to_content()).address  # anyone computes the same
    assert clause_address(flour) != clause_address(pay)
    assert find_clause(agreement, clause_address(pay)) == pay
    assert find_clause(agreement, str(clause_address(flour))) == flour
    assert find_clause(agreement, Cid.of(b"another")) is None


def test_an_agreement_is_found_by_its_entry_address_only_when_both_signed() -> None:
    mill, bakery = _agent(MILL), _agent(BAKERY)
    content = {"clauses": [_clause(MILL, BAKERY), _pay()]}
    entry = mill.countersign_with([bakery], AGREEMENT_TYPE, content)
    assert mill.records[-1].entry == bakery.records[-1].entry == entry
    found = agreement_at(Deps(mill.records), str(entry.address))
    assert found is not None and len(found.clauses) == 2
    listed = list_agreements(bakery.records)
    assert [a["address"] for a in listed] == [str(entry.address)]
    assert [c["address"] for c in listed[0]["clauses"]] == [
        str(clause_address(c)) for c in found.clauses]
    # one approval dropped, or an approval over another entry type: no agreement
    envelope = Envelope.from_value(entry.value)
    one = Envelope(envelope.session, envelope.inner, envelope.approvals[:1])
    assert signed_agreement(one.to_value()) is None
    event_signed = _agent(MILL).countersign_with([_agent(BAKERY)], "valueflows.CountersignedEvent",
                                                 content)
    assert signed_agreement(event_signed.value) is None
    assert agreement_at(Deps(mill.records), "not an address") is None
    with pytest.raises(MissingDependency):  # not held yet: no proof it does not exist
        agreement_at(Deps(mill.records), str(Cid.of(b"nothing")))


# -- the rules, each broken once -----------------------------------------------------------


def test_a_reciprocal_agreement_signed_by_both_is_valid_on_every_op() -> None:
    assert _signed([_clause(MILL, BAKERY), _pay()]) == VALID


def test_a_missing_approval_is_refused_by_sys_validation() -> None:
    mill, bakery = _agent(MILL), _agent(BAKERY)
    entry = mill.countersign_with([bakery], AGREEMENT_TYPE,
                                  {"clauses": [_clause(MILL, BAKERY), _pay()]})
    envelope = Envelope.from_value(entry.value)
    lacking = Envelope(envelope.session, envelope.inner, envelope.approvals[:1]).entry()
    action = mill.records[-1].signed.action.model_copy(update={"entry_hash": lacking.address})
    record = Record(signed_by(action, mill.key), lacking)
    op = next(o for o in produce_ops(record) if o.type is OpType.REGISTER_AGENT_ACTIVITY)
    outcome = sys_validate(op, network_id=Cid.of(b"test dna"),
                           known_entry_types=frozenset({AGREEMENT_TYPE}),
                           now_us=op.action.timestamp, deps=Deps(mill.records))
    assert _rule(outcome) == "check_countersignatures"


def test_check_agreement_countersigned() -> None:
    mill = _agent(MILL)
    mill.create("valueflows.Agreement", {"clauses": [_clause(MILL, BAKERY), _pay()]})
    assert _rule(_verdict(mill.records[-1], mill.records)) == "check_agreement_countersigned"
    mill.create("valueflows.Agreement", {"name": "a framework, no clauses"})
    assert _verdict(mill.records[-1], mill.records) == VALID


def test_check_agreement_clauses() -> None:
    assert _rule(_signed([])) == "check_agreement_clauses"
    assert _rule(_signed([_clause(MILL, BAKERY), _clause(MILL, BAKERY), _pay()])) \
        == "check_agreement_clauses"


def test_check_agreement_parties() -> None:
    third = _clause(MILL, STRANGER)
    outcome = _signed([_clause(MILL, BAKERY), third, _pay()])
    assert _rule(outcome) == "check_agreement_parties" and "two agents" in outcome.reason
    to_self = _clause(MILL, MILL)
    assert _rule(_signed([to_self, _clause(MILL, BAKERY), _pay()])) == "check_agreement_parties"


def test_check_agreement_reciprocal() -> None:
    one_way = [_clause(MILL, BAKERY), _clause(MILL, BAKERY, due=DUE + 1)]
    assert _rule(_signed(one_way)) == "check_agreement_reciprocal"


def test_check_clause_flow() -> None:
    zero = _clause(MILL, BAKERY, resourceQuantity={"hasNumericalValue": "0", "hasUnit": "kilogram"})
    assert _rule(_signed([zero, _pay()])) == "check_clause_flow"
    undated = _clause(MILL, BAKERY)
    del undated["due"]
    assert _rule(_signed([undated, _pay()])) == "check_clause_flow"
    work = _clause(MILL, BAKERY, action="work")  # work states an effort, not kilograms
    assert _rule(_signed([work, _pay()])) == "check_clause_flow"
    hours = _clause(MILL, BAKERY, action="work", resourceQuantity=None, resourceConformsTo=None,
                    effortQuantity={"hasNumericalValue": "8", "hasUnit": "hour"})
    assert _signed([hours, _pay()]) == VALID
    elsewhere = _clause(MILL, BAKERY, clauseOf=str(Cid.of(b"another agreement")))
    assert _rule(_signed([elsewhere, _pay()])) == "check_clause_flow"
    # an action outside the 19 is no clause at all
    assert _rule(_signed([_clause(MILL, BAKERY, action="bake"), _pay()])) == "check_entry_shape"


def _intent(author: MemoryAgent, **fields: Any) -> tuple[str, list[Record]]:
    content = {"action": "transfer", "receiver": str(BAKERY.agent_id),
               "resourceConformsTo": FLOUR,
               "resourceQuantity": {"hasNumericalValue": "500", "hasUnit": "kilogram"}}
    content.update(fields)
    author.create("valueflows.Intent", {k: v for k, v in content.items() if v is not None})
    return str(author.records[-1].address), author.records


def test_a_clause_satisfying_an_intent_keeps_check_satisfaction() -> None:
    requester = _agent(BAKERY)
    request, held = _intent(requester)
    assert _signed([_clause(MILL, BAKERY, satisfies=request), _pay()], extra=held) == VALID
    with pytest.raises(MissingDependency):  # the app layer makes it Unresolved, not Invalid
        _signed([_clause(MILL, BAKERY, satisfies=request), _pay()])
    note = requester.records[2]  # the agent entry: not an intent
    outcome = _signed([_clause(MILL, BAKERY, satisfies=str(note.address)), _pay()], extra=held)
    assert _rule(outcome) == "check_satisfaction" and "no intent" in outcome.reason
    for fields, why in (({"action": "use"}, "cannot meet a planned use"),
                        ({"resourceConformsTo": str(Cid.of(b"bran"))}, "specification"),
                        ({"resourceQuantity": {"hasNumericalValue": "5", "hasUnit": "litre"}},
                         "dimension")):
        other, more = _intent(_agent(BAKERY), **fields)
        outcome = _signed([_clause(MILL, BAKERY, satisfies=other), _pay()], extra=more)
        assert _rule(outcome) == "check_satisfaction" and why in outcome.reason, outcome


# -- drafting and proposing ----------------------------------------------------------------


def _request(**changes: Any) -> AgreementRequest:
    give = ClauseRequest(quantity="300 kg", due_us=DUE, conforms_to=FLOUR)
    get = ClauseRequest(quantity="450 EUR", due_us=DUE, conforms_to=EUROS)
    return AgreementRequest(**{"give": (give,), "get": (get,), "name": "flour", **changes})


def test_the_draft_puts_the_initiators_clauses_first_and_keeps_the_rules() -> None:
    me, other = str(MILL.agent_id), str(BAKERY.agent_id)
    agreement = draft_agreement(_request(), me, other, 5)
    assert [(c.provider, c.receiver) for c in agreement.clauses] == [(me, other), (other, me)]
    assert agreement.clauses[1].resource_quantity.has_unit == "euro"
    hook = AgreementHook(None, None)  # type: ignore[arg-type]
    assert hook.parties(agreement.to_content()) == (me, other)
    assert hook.parties({"clauses": "no"}) is None
    with pytest.raises(LocalError, match="reciprocal"):
        draft_agreement(_request(get=()), me, other, 5)
    with pytest.raises(LocalError, match="clause 1 of what you give"):
        draft_agreement(_request(give=(ClauseRequest(quantity="3 parsecs", due_us=DUE),)),
                        me, other, 5)
    with pytest.raises(LocalError, match="not a ValueFlows action"):
        draft_agreement(_request(give=(ClauseRequest(quantity="3 kg", due_us=DUE, action="x"),)),
                        me, other, 5)
    work = ClauseRequest(quantity="8 h", due_us=DUE, action="work")
    made = draft_agreement(_request(give=(work,)), me, other, 5)
    assert made.clauses[0].effort_quantity is not None
    with pytest.raises(LocalError, match="malformed"):
        AgreementRequest.of({"give": [], "get": [], "extra": 1})


def test_a_peers_proposal_of_an_unknown_type_or_malformed_agreement_is_declined() -> None:
    hook = AgreementHook(None, None)  # type: ignore[arg-type]
    party = Party(MILL.agent_id, Cid.of(b"prev"), 4, 10)
    content = draft_agreement(_request(), str(MILL.agent_id), str(BAKERY.agent_id), 5)
    msg = Propose(b"s" * 16, "valueflows.CountersignedGift", content.to_content(), party,
                  10, 20, None, ())
    assert "cannot be countersigned" in (
        proposal_problem(None, msg, MILL.agent_id, BAKERY.agent_id, 11) or "")
    good = Propose(b"s" * 16, AGREEMENT_TYPE, content.to_content(), party, 10, 20, None, ())
    assert proposal_problem(hook, good, MILL.agent_id, BAKERY.agent_id, 11) is None
    garbage = Propose(b"s" * 16, AGREEMENT_TYPE, {"clauses": [1, 2]}, party, 10, 20, None, ())
    assert "malformed" in (proposal_problem(hook, garbage, MILL.agent_id, BAKERY.agent_id, 11)
                           or "")
    new = Propose(b"s" * 16, AGREEMENT_TYPE, content.to_content(), party, 10, 20, "x", ())
    assert "nothing for the counterparty to create" in (
        proposal_problem(hook, new, MILL.agent_id, BAKERY.agent_id, 11) or "")
    # the bakery cannot propose the mill's clauses first: it is not their provider
    assert "first clause's provider" in (
        proposal_problem(hook, good, BAKERY.agent_id, MILL.agent_id, 11) or "")


def test_clause_text_as_the_cli_reads_it() -> None:
    clause = parse_clause(f"300 kg of {FLOUR} by 2027-03-01 satisfies {EUROS}", "--give")
    assert clause["quantity"] == "300 kg" and clause["conforms_to"] == FLOUR
    assert clause["satisfies"] == EUROS and "action" not in clause
    assert clause["due_us"] == 1_803_945_600_000_000  # the end of 1 March 2027, UTC
    service = parse_clause("action deliver-service 2 h by 2027-03-01 note the oven", "--get")
    assert service["action"] == "deliverService" and service["note"] == "the oven"
    assert parse_clause("work 8 h by 2027-03-01", "--get")["action"] == "work"
    for bad in ("300 kg", "by 2027-03-01", "300 kg by", "300 kg by tomorrow",
                "300 kg of X of Y by 2027-03-01", "action"):
        with pytest.raises(LocalError):
            parse_clause(bad, "--give")


_CLAUSE_KEYS = ("action", "provider", "receiver", "resourceQuantity", "due", "satisfies",
                "clauses", "hasUnit", "hasNumericalValue")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_CLAUSE_KEYS) | st.text(max_size=6), dag_values,
                       max_size=4))
def test_a_peers_proposed_agreement_never_raises_as_it_arrives(content: dict[str, Any]) -> None:
    """A proposal's entry is a peer's map: read as an agreement it gives parties or None,
    and the arrival check gives a reason or None, never an exception."""
    hook = AgreementHook(None, None)  # type: ignore[arg-type]
    for value in (content, {"clauses": [content]}, {"clauses": [content, content]}):
        parties = hook.parties(value)
        assert parties is None or len(parties) == 2
        msg = Propose(b"s" * 16, AGREEMENT_TYPE, value, Party(MILL.agent_id, Cid.of(b"p"), 4, 10),
                      10, 20, None, ())
        problem = proposal_problem(hook, msg, MILL.agent_id, BAKERY.agent_id, 11)
        assert problem is None or isinstance(problem, str)
        assert signed_agreement({"session": value, "entry": value, "approvals": []}) is None


def test_an_event_fulfils_a_clause_named_with_its_agreement() -> None:
    """commitments.py's resolver finds a clause in the agreement the event realizes, and
    the fulfilment rules apply to it as to any commitment."""
    mill, bakery = _agent(MILL), _agent(BAKERY)
    entry = mill.countersign_with([bakery], AGREEMENT_TYPE,
                                  {"clauses": [_clause(MILL, BAKERY), _pay()]})
    deps = Deps(mill.records)
    flour = Agreement.from_content(Envelope.from_value(entry.value).inner).clauses[0]
    clause, agreement = str(clause_address(flour)), str(entry.address)
    assert resolve_commitment(deps, clause, agreement) == flour

    def delivery(action: str = "transfer") -> EconomicEvent:
        return EconomicEvent(action=action, provider=str(MILL.agent_id),
                             receiver=str(BAKERY.agent_id), resource_conforms_to=FLOUR,
                             resource_quantity=Measure.of("100", "kilogram"),
                             fulfills=clause, realization_of=agreement)

    assert check_event_plans(delivery(), str(BAKERY.agent_id), deps) == VALID
    assert _rule(check_event_plans(delivery("transferCustody"), str(MILL.agent_id), deps)) \
        == "check_fulfilment"
    assert _rule(check_event_plans(delivery(), str(STRANGER.agent_id), deps)) \
        == "check_fulfilment_party"
    with pytest.raises(MissingDependency):  # the agreement not held yet
        resolve_commitment(Deps(), clause, agreement)


def test_both_parties_list_the_clauses_among_their_commitments() -> None:
    mill, bakery = _agent(MILL), _agent(BAKERY)
    entry = mill.countersign_with([bakery], AGREEMENT_TYPE,
                                  {"clauses": [_clause(MILL, BAKERY), _pay()]})
    clauses = Agreement.from_content(Envelope.from_value(entry.value).inner).clauses
    for agent in (mill, bakery):
        rows = list_obligations(str(agent.agent_id), agent.records, DUE + 1, None, None)
        assert sorted(r["address"] for r in rows) == sorted(str(clause_address(c))
                                                            for c in clauses)
        flour = next(r for r in rows if r["spec"] == FLOUR)
        assert flour["committed"] == {"hasNumericalValue": "300", "hasUnit": "kilogram"}
        assert flour["remaining"] == flour["committed"] and flour["overdue"]
    assert list_obligations(str(STRANGER.agent_id), mill.records, 0, None, None) == []
