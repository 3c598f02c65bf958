"""The accounting zome's integrity rules, judged as a validator judges a peer's ops, and
the Dataset reports read (entries of several chains, the latest declaration winning).

Rules (zomes.accounting.zome.RULES), each kept and broken:
check_footprint_specification, check_allocation_process, check_budget_declarer;
and, shared with the valueflows zome, check_entry_shape and check_update_allowed.
"""

from __future__ import annotations

from typing import Any

import pytest

from node.core.identity import AgentKey
from node.core.ops import OpType
from node.core.outcome import Invalid, Unresolved, Valid
from node.core.records import Record
from node.testing import MemoryAgent
from tests.two_members import TwoMembers
from zomes.accounting.dataset import Dataset
from zomes.accounting.entries import Budget, SpecFootprint, ValueEquation
from zomes.accounting.zome import RULES, entry_type
from zomes.valueflows import coordinator
from zomes.valueflows.units import Measure

NOW = 1_800_000_000_000_000
P_KEY, A_KEY = AgentKey(b"\x50" * 32), AgentKey(b"\x51" * 32)
NET = TwoMembers("accounting", P_KEY, A_KEY, NOW)
members, judge = NET.members, NET.judge
FACTORS = [
    {"kind": "emissions", "quantity": {"hasNumericalValue": "0.25", "hasUnit": "kilogramCO2e"}}
]


def create(agent: MemoryAgent, local: str, content: dict[str, Any]) -> Record:
    agent.create(f"accounting.{local}", content)
    return agent.records[-1]


def spec_and_process(agent: MemoryAgent) -> tuple[str, str]:
    spec = str(agent.commit(lambda s: coordinator.create_spec(s, "electricity", "kWh", False,
                                                              None)))
    process = str(agent.commit(lambda s: coordinator.create_process(s, "milling", None, None, 1)))
    return spec, process


def test_the_rules_are_listed() -> None:
    assert RULES == (
        "check_footprint_specification", "check_allocation_process", "check_budget_declarer"
    )


def test_a_footprint_is_declared_on_a_specification_per_a_unit_of_its_kind() -> None:
    progenitor, member = members()
    spec, process = spec_and_process(progenitor)
    good = create(member, "SpecFootprint",
                  {"specification": spec, "per": "megawattHour", "factors": FACTORS})
    assert judge(good, progenitor, member) == Valid()
    assert judge(good, progenitor, member, op_type=OpType.STORE_RECORD) == Valid()
    on_process = create(member, "SpecFootprint", {"specification": process, "per": "kilowattHour",
                                                  "factors": FACTORS})
    assert judge(on_process, progenitor, member) == Invalid(
        "check_footprint_specification", f"{process} is not a resource specification")
    per_kg = create(member, "SpecFootprint",
                    {"specification": spec, "per": "kilogram", "factors": FACTORS})
    outcome = judge(per_kg, progenitor, member)
    assert isinstance(outcome, Invalid) and "measured in kilowattHour" in outcome.reason
    # the specification not held yet: wait for it, never reject
    assert isinstance(judge(good, member), Unresolved)


def test_only_a_processs_author_allocates_its_footprint() -> None:
    progenitor, member = members()
    _, process = spec_and_process(progenitor)
    shares = [{"resource": "bafy2bzaceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "fraction": "1"}]
    own = create(progenitor, "Allocation", {"process": process, "shares": shares})
    assert judge(own, progenitor) == Valid()
    theirs = create(member, "Allocation", {"process": process, "shares": shares})
    assert judge(theirs, progenitor, member) == Invalid(
        "check_allocation_process",
        f"process {process} is another agent's: only its author allocates it",
    )


def budget(agent: str | None) -> dict[str, Any]:
    content = Budget(kind="emissions", period_start=0, period_end=10,
                     allocated=Measure.of(12, "tCO2e"), agent=agent).to_content()
    return content


def test_an_agent_sets_its_own_budget_and_the_progenitor_the_networks() -> None:
    progenitor, member = members()
    assert judge(create(member, "Budget", budget(str(A_KEY.agent_id))), member) == Valid()
    assert judge(create(member, "Budget", budget(str(P_KEY.agent_id))), member) == Invalid(
        "check_budget_declarer", "an agent's budget is set by that agent")
    assert judge(create(progenitor, "Budget", budget(None)), progenitor) == Valid()
    network_by_member = create(member, "Budget", budget(None))
    assert judge(network_by_member, member) == Invalid(
        "check_budget_declarer", "a network budget is set by the network's progenitor")
    # the author's chain is judged by its agent-activity authorities, not by the others
    assert judge(network_by_member, member, op_type=OpType.STORE_RECORD) == Valid()


def test_malformed_entries_and_updates_are_rejected() -> None:
    progenitor, _ = members()
    bad = create(progenitor, "ValueEquation", {"name": "x", "buckets": [
        {"name": "b", "percentage": "150", "recipient": str(A_KEY.agent_id)}]})
    outcome = judge(bad, progenitor)
    assert isinstance(outcome, Invalid) and outcome.rule == "check_entry_shape"
    unknown = create(progenitor, "Nonsense", {"a": 1})
    assert isinstance(judge(unknown, progenitor), Invalid)
    equation = {"name": "fair", "buckets": [{"name": "all", "percentage": "100",
                                            "recipient": str(A_KEY.agent_id)}]}
    first = create(progenitor, "ValueEquation", equation)
    assert judge(first, progenitor) == Valid()
    assert first.entry is not None
    progenitor.commit(lambda s: s.update(first.address, first.entry.address,  # type: ignore[union-attr]
                                         entry_type(ValueEquation), dict(equation, name="fairer")))
    outcome = judge(progenitor.records[-1], progenitor)
    assert isinstance(outcome, Invalid) and outcome.rule == "check_update_allowed"


def test_the_dataset_takes_the_latest_footprint_its_specifications_author_declared() -> None:
    progenitor, member = members()
    spec, _ = spec_and_process(progenitor)

    def declare(agent: MemoryAgent, emissions: str) -> str:
        factors = [{"kind": "emissions", "quantity": {"hasNumericalValue": emissions,
                                                      "hasUnit": "kilogramCO2e"}}]
        return str(create(agent, "SpecFootprint", {"specification": spec, "per": "kilowattHour",
                                                    "factors": factors}).address)

    declare(progenitor, "0.3")
    declare(member, "0.9")  # later, but not by the specification's author
    declare(progenitor, "0.25")
    ds = Dataset()
    ds.add_records(reversed(member.records))  # any order, any source
    ds.add_records(progenitor.records)
    ds.add_records(progenitor.records)  # seen twice, counted once
    chosen = ds.spec_footprints()[spec]
    assert isinstance(chosen, SpecFootprint)
    assert chosen.factors[0].quantity.has_numerical_value == "0.25"
    assert ds.names == {} and len(ds.footprints) == 3 and ds.specs[spec].name == "electricity"
    assert ds.chains == {str(P_KEY.agent_id), str(A_KEY.agent_id)}


@pytest.mark.parametrize("local", ["ValueEquation", "SpecFootprint", "Allocation", "Budget"])
def test_every_entry_type_is_known_to_the_network(local: str) -> None:
    assert f"accounting.{local}" in NET.validator.known_entry_types
