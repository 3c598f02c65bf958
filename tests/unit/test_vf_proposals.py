"""Offers and requests, pure: the well-known bases a proposal is listed under, what
`publish` writes, and each rule of intents, proposals and their links broken once
(through the valueflows zome's `validate`, as an authority runs it)."""

from __future__ import annotations

from typing import Any

import pytest

from node.core.cid import Cid
from node.core.identity import AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome
from node.core.records import Record
from node.store.deps import BoundedMemo
from node.testing import MemoryAgent
from tests.unit.test_sys_validation import DictDeps
from zomes.valueflows.entries import Intent, Proposal
from zomes.valueflows.offers import ProposalRequest, list_proposals, publish
from zomes.valueflows.proposals import (
    INTENT_TYPE,
    PROPOSAL_LINK,
    PROPOSAL_TYPE,
    proposal_base,
    proposal_bases,
)
from zomes.valueflows.zome import validate

SPEC = str(Cid.of(b"bran spec"))
OTHER_SPEC = str(Cid.of(b"wheat spec"))
BRAN = ProposalRequest(purpose="offer", spec=SPEC, quantity="100 kg", reciprocal="20 EUR",
                       classes=("byproduct", "organic"), location="Farm lane 1")


class Deps(DictDeps):
    def __init__(self, records: Any = ()) -> None:
        super().__init__(records)
        self.memo = BoundedMemo()


def _agent(seed: int) -> MemoryAgent:
    agent = MemoryAgent(AgentKey(bytes([seed]) * 32))
    agent.genesis()
    return agent


def _judge(record: Record, records: list[Record], op_type: OpType | None = None) -> Outcome:
    """Every op of `record` judged alike (the verdict of the first)."""
    deps = Deps(records)
    outcomes = {str(validate(op, deps)) for op in produce_ops(record)
                if op_type is None or op.type is op_type}
    assert len(outcomes) == 1, outcomes
    return validate(next(iter(produce_ops(record))), deps)


def _rule(outcome: Outcome) -> str | None:
    return outcome.rule if isinstance(outcome, Invalid) else None


# -- the bases ---------------------------------------------------------------------------


def test_a_base_is_the_address_of_its_label() -> None:
    assert proposal_base("offer", "class", "byproduct") == Cid.of(
        b"coledger:offers:class:byproduct")
    assert proposal_base("request", "spec", SPEC) == Cid.of(
        b"coledger:requests:spec:" + SPEC.encode())
    assert proposal_base("offer", "all") == Cid.of(b"coledger:offers:all:")
    bases = {proposal_base(p, k, v) for p in ("offer", "request")
             for k, v in (("all", ""), ("spec", SPEC), ("class", "waste"), ("class", "Waste"))}
    assert len(bases) == 8
    with pytest.raises(ValueError):
        proposal_base("gift", "all")
    with pytest.raises(ValueError):
        proposal_base("offer", "region", "north")


def test_a_proposal_is_listed_under_all_its_spec_and_each_class_once() -> None:
    intents = [Intent(action="transfer", resource_conforms_to=SPEC,
                      resource_classified_as=("byproduct", "organic")),
               Intent(action="transfer", resource_conforms_to=SPEC,
                      resource_classified_as=("byproduct",))]
    assert proposal_bases("offer", intents) == [
        proposal_base("offer", "all"), proposal_base("offer", "spec", SPEC),
        proposal_base("offer", "class", "byproduct"), proposal_base("offer", "class", "organic")]


# -- what publish writes, and its rules kept ------------------------------------------------


def _published(agent: MemoryAgent, req: ProposalRequest = BRAN) -> Any:
    return agent.commit(lambda s: publish(s, str(agent.agent_id), req, agent.clock()))


def test_publish_writes_intents_a_proposal_and_its_links() -> None:
    farm = _agent(1)
    done = _published(farm)
    by_address = {r.address: r for r in farm.records}
    proposal = Proposal.from_content(by_address[done.proposal].entry.value)  # type: ignore[union-attr]
    assert proposal.purpose == "offer"
    assert proposal.publishes == (str(done.intents[0]),)
    assert proposal.reciprocal == (str(done.reciprocal[0]),)
    offered = Intent.from_content(by_address[done.intents[0]].entry.value)  # type: ignore[union-attr]
    assert offered.provider == str(farm.agent_id) and offered.receiver is None
    assert str(offered.available_quantity) == "100 kilogram"
    assert offered.resource_classified_as == ("byproduct", "organic")
    back = Intent.from_content(by_address[done.reciprocal[0]].entry.value)  # type: ignore[union-attr]
    assert back.receiver == str(farm.agent_id) and str(back.resource_quantity) == "20 euro"
    assert [by_address[x].action.base for x in done.links] == proposal_bases(  # type: ignore[attr-defined]
        "offer", [offered])
    for record in farm.records[3:]:  # every record of the offer keeps every rule
        assert _judge(record, farm.records) == VALID


def test_a_request_is_received_by_its_author() -> None:
    bakery = _agent(2)
    done = _published(bakery, ProposalRequest(purpose="request", spec=SPEC, quantity="1 t"))
    wanted = next(r for r in bakery.records if r.address == done.intents[0])
    assert Intent.from_content(wanted.entry.value).receiver == str(bakery.agent_id)  # type: ignore[union-attr]
    assert all(_judge(r, bakery.records) == VALID for r in bakery.records[3:])


# -- each rule broken -------------------------------------------------------------------


def test_check_intent_party_an_intent_of_two_others_is_refused() -> None:
    farm, mill = _agent(1), _agent(3)
    for parties in ({"provider": str(mill.agent_id)}, {"receiver": str(mill.agent_id)}, {}):
        farm.create(INTENT_TYPE, Intent(action="transfer", **parties).to_content())
        assert _rule(_judge(farm.records[-1], farm.records)) == "check_intent_party"


def test_check_proposal_intents_only_the_authors_intents() -> None:
    farm, mill = _agent(1), _agent(3)
    theirs = mill.create(INTENT_TYPE, Intent(action="transfer",
                                             provider=str(mill.agent_id)).to_content())
    mine = farm.create(INTENT_TYPE, Intent(action="transfer",
                                           provider=str(farm.agent_id)).to_content())
    everything = lambda: [*farm.records, *mill.records]  # noqa: E731
    cases = [((str(theirs),), ()), ((str(mine),), (str(theirs),)), ((), ()),
             ((str(farm.records[2].address),), ()),  # the agent entry: no intent
             ((str(mine),) * 40, (str(mine),) * 25)]  # more than MAX_INTENTS
    for publishes, reciprocal in cases:
        farm.create(PROPOSAL_TYPE, Proposal(purpose="offer", publishes=publishes,
                                            reciprocal=reciprocal).to_content())
        assert _rule(_judge(farm.records[-1], everything())) == "check_proposal_intents"
    farm.create(PROPOSAL_TYPE, Proposal(purpose="offer", publishes=(str(mine),)).to_content())
    assert _judge(farm.records[-1], everything()) == VALID
    with pytest.raises(MissingDependency):  # an intent not held yet: Unresolved, not Invalid
        farm.create(PROPOSAL_TYPE, Proposal(publishes=(str(Cid.of(b"?")),)).to_content())
        validate(next(iter(produce_ops(farm.records[-1]))), Deps(farm.records))


def _link_from(agent: MemoryAgent, base: Cid, target: Cid) -> Record:
    agent.commit(lambda s: s.create_link(base, target, "valueflows", PROPOSAL_LINK))
    return agent.records[-1]


def test_check_proposal_link_from_its_own_bases_to_its_authors_proposal() -> None:
    farm, mill = _agent(1), _agent(3)
    done = _published(farm)
    everything = lambda: [*farm.records, *mill.records]  # noqa: E731
    wrong_bases = [proposal_base("offer", "spec", OTHER_SPEC), proposal_base("offer", "class",
                   "waste"), proposal_base("request", "spec", SPEC), Cid.of(b"anywhere")]
    for base in wrong_bases:
        link = _link_from(farm, base, done.proposal)
        assert _rule(_judge(link, everything(), OpType.REGISTER_ADD_LINK)) == (
            "check_proposal_link"), base
    # the mill lists the farm's proposal under one of its right bases: not its to list
    link = _link_from(mill, proposal_base("offer", "class", "byproduct"), done.proposal)
    assert _rule(_judge(link, everything())) == "check_proposal_link"
    # a proposal link to what is no proposal
    link = _link_from(farm, proposal_base("offer", "all"), done.intents[0])
    assert _rule(_judge(link, everything())) == "check_proposal_link"
    # another link type from the same base is no business of this rule
    farm.commit(lambda s: s.create_link(Cid.of(b"anywhere"), done.proposal, "valueflows",
                                        "offer"))
    assert _judge(farm.records[-1], everything()) == VALID


# -- the listing ------------------------------------------------------------------------------


def _reader(agents: list[MemoryAgent]) -> tuple[Any, Any]:
    """links_page and fetch over the agents' records, as a Client would answer them."""
    from node.core.actions import CreateLink
    from node.core.jsonview import record_json

    records = {r.address: r for a in agents for r in a.records}

    def links_page(base: str, after: str | None) -> dict[str, Any]:
        found = [{"target": str(r.action.target), "author": str(r.action.author)}
                 for r in records.values() if isinstance(r.action, CreateLink)
                 and str(r.action.base) == base]
        return {"links": found, "next": None}

    def fetch(address: str) -> dict[str, Any] | None:
        record = records.get(Cid.parse(address))
        return None if record is None else record_json(record)

    return links_page, fetch


def test_a_listing_reads_one_base_and_filters() -> None:
    farm, mill = _agent(1), _agent(3)
    bran = _published(farm)
    _published(farm, ProposalRequest(purpose="offer", spec=OTHER_SPEC, quantity="2 t",
                                     classes=("organic",), location="Mill road"))
    _published(mill, ProposalRequest(purpose="request", spec=SPEC, quantity="50 kg"))
    links_page, fetch = _reader([farm, mill])
    rows = list_proposals("offer", None, "byproduct", links_page, fetch)
    assert [r["proposal"] for r in rows] == [str(bran.proposal)]
    row = rows[0]
    assert (row["author"], row["spec"], row["available"], row["for"], row["classes"]) == (
        str(farm.agent_id), SPEC, "100 kilogram", "20 euro", ["byproduct", "organic"])
    assert len(list_proposals("offer", None, "organic", links_page, fetch)) == 2
    assert len(list_proposals("offer", None, None, links_page, fetch)) == 2
    assert [r["spec"] for r in list_proposals("offer", None, "organic", links_page, fetch,
                                              location="mill")] == [OTHER_SPEC]
    assert list_proposals("offer", SPEC, "waste", links_page, fetch) == []
    assert [r["author"] for r in list_proposals("request", SPEC, None, links_page, fetch)] == [
        str(mill.agent_id)]
    # a listing leaves out what does not check out: a link to the mill's request said to be
    # the farm's, and a record that is gone
    forged = {"links": [{"target": rows[0]["proposal"], "author": str(mill.agent_id)},
                        {"target": str(Cid.of(b"gone")), "author": str(farm.agent_id)}],
              "next": None}
    assert list_proposals("offer", None, "byproduct", lambda b, a: forged, fetch) == []


def test_op_types_are_judged_alike() -> None:
    """(What `_judge` assumes, checked once on a broken link.)"""
    farm = _agent(1)
    done = _published(farm)
    link = _link_from(farm, Cid.of(b"anywhere"), done.proposal)
    deps = Deps(farm.records)
    rules = {_rule(validate(op, deps)) for op in produce_ops(link)}
    assert rules == {"check_proposal_link"}
    assert all(isinstance(op, Op) for op in produce_ops(link))


def test_a_listing_with_fetch_many_reads_two_batches_and_answers_the_same_rows() -> None:
    """list_proposals(fetch_many=...): the proposals in one call, the intents they name in
    another, nothing one by one; the rows those of the one-by-one listing."""
    farm = _agent(1)
    for k in range(6):
        _published(farm, ProposalRequest(purpose="offer", spec=SPEC, quantity=f"{k + 1} t",
                                         classes=("byproduct",)))
    links_page, fetch = _reader([farm])
    batches: list[list[str]] = []
    singles: list[str] = []

    def many(addresses: Any) -> list[dict[str, Any] | None]:
        batches.append(list(addresses))
        return [fetch(a) for a in addresses]

    def one(address: str) -> dict[str, Any] | None:
        singles.append(address)
        return fetch(address)  # type: ignore[no-any-return]

    alone = list_proposals("offer", SPEC, None, links_page, fetch)
    assert len(alone) == 6
    assert list_proposals("offer", SPEC, None, links_page, one, fetch_many=many) == alone
    assert [len(b) for b in batches] == [6, 6] and singles == []  # (an intent each)
