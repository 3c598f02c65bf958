"""Planned against actual (zomes/valueflows/plan_status.py) and a plan's footprint against
the budgets (zomes/accounting/plan_report.py): states, units, the events that count, the
footprint expected and recorded, and a plan that breaks a budget before anything is made.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from node.core.cid import Cid
from node.core.identity import AgentKey
from node.core.records import Record
from node.testing import MemoryAgent
from zomes.accounting.dataset import Dataset
from zomes.accounting.entries import Budget, Factor, SpecFootprint
from zomes.accounting.plan_report import plan_report
from zomes.valueflows.entries import (
    Commitment,
    EconomicEvent,
    EconomicResource,
    Intent,
    Plan,
    Process,
    VfEntry,
)
from zomes.valueflows.plan_status import (
    STATES,
    PlanParts,
    flow_state,
    flow_status,
    fulfilments,
    plan_parts,
    plan_status,
    process_status,
)
from zomes.valueflows.units import Measure
from zomes.valueflows.zome import entry_type

DAY = 86_400 * 1_000_000
T0 = 1_800_000_000_000_000  # the plan's first day
ME = "12D3KooWEpywxUQBRdxCvQkiYnYng8Jk299rKkmEuDfiAE2DZKjs"


def addr(name: str) -> str:
    return str(Cid.of(name.encode()))


WHEAT, FLOUR, PLAN, MILLING = (addr(n) for n in ("wheat", "flour", "plan", "milling"))
NEED, MAKE = addr("need wheat"), addr("make flour")


def event(action: str, quantity: Measure | None, at: int, **fields: object) -> EconomicEvent:
    return EconomicEvent(action=action, provider=ME, receiver=ME, resource_quantity=quantity,
                         has_point_in_time=at, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("planned, done, recorded, due, finished, state", [
    (10, 10, True, T0, False, "done"),
    (10, 12, True, T0 + DAY, False, "done"),  # more than planned is done too
    (10, 3, True, T0 + DAY, False, "partly"),
    (10, 3, True, T0 - DAY, False, "late"),
    (10, 0, False, T0 - DAY, False, "missing"),
    (10, 0, False, T0 + DAY, False, "pending"),
    (10, 0, False, None, False, "pending"),  # no due date: never late
    (10, 3, True, T0 - DAY, True, "done"),  # finished: nothing more expected
])
def test_flow_states(planned: int, done: int, recorded: bool, due: int | None,
                     finished: bool, state: str) -> None:
    assert state in STATES
    assert flow_state(Fraction(planned), Fraction(done), recorded, due, T0, finished) == state


def test_done_is_converted_to_the_planned_unit_and_other_dimensions_set_aside() -> None:
    need = Intent(action="consume", receiver=ME, resource_conforms_to=WHEAT,
                  resource_quantity=Measure.of(250, "kilogram"), due=T0, input_of=MILLING)
    events = [("e1", event("consume", Measure.of("0.1", "tonne"), T0)),
              ("e2", event("consume", Measure.of(50_000, "gram"), T0)),
              ("e3", event("consume", Measure.of(5, "litre"), T0))]
    status = flow_status(NEED, need, events, T0 + DAY)
    assert (status.unit, status.planned, status.done) == ("kilogram", 250, 150)
    assert status.remaining == 100 and status.state == "late"
    assert status.other_units == ("e3",) and status.events == ("e1", "e2", "e3")
    assert (status.kind, status.direction, status.process) == ("intent", "input", MILLING)


def test_work_is_measured_by_its_effort() -> None:
    work = Intent(action="work", receiver=ME, effort_quantity=Measure.of(8, "hour"), due=T0)
    done = EconomicEvent(action="work", provider=ME, receiver=ME,
                         effort_quantity=Measure.of(90, "minute"), has_point_in_time=T0)
    status = flow_status(addr("work"), work, [("w", done)], T0 - DAY)
    assert (status.unit, status.done, status.state) == ("hour", Fraction(3, 2), "partly")


def test_an_event_in_another_dimension_alone_is_nothing_recorded() -> None:
    need = Intent(action="consume", receiver=ME, resource_quantity=Measure.of(1, "kilogram"),
                  due=T0)
    status = flow_status(NEED, need, [("e", event("consume", Measure.of(1, "litre"), T0))],
                         T0 + DAY)
    assert status.state == "missing"


def test_fulfilments_are_the_events_naming_the_flow() -> None:
    events = [("a", event("produce", None, T0, fulfills=MAKE)),
              ("b", event("consume", None, T0, satisfies=NEED)),
              ("c", event("consume", None, T0, fulfills=NEED, satisfies=NEED)),
              ("d", event("consume", None, T0, fulfills=addr("elsewhere")))]
    found = fulfilments(events, [MAKE, NEED])
    assert [a for a, _ in found[MAKE]] == ["a"]
    assert [a for a, _ in found[NEED]] == ["b", "c"]  # c once


def test_a_process_planned_beside_its_events() -> None:
    process = Process(name="milling", has_beginning=T0, has_end=T0 + DAY)
    events = [("x", event("consume", None, T0 + 5)), ("y", event("produce", None, T0 + 9))]
    started = process_status(MILLING, process, None, False, events, T0 + 10)
    assert (started.actual_begin, started.actual_end, started.state) == (T0 + 5, T0 + 9,
                                                                         "started")
    assert process_status(MILLING, process, None, False, [], T0).state == "pending"
    assert process_status(MILLING, process, None, False, events, T0 + 2 * DAY).state == "late"
    done = process_status(MILLING, process, T0 + 20, True, events, T0 + 2 * DAY)
    assert (done.state, done.actual_end) == ("finished", T0 + 20)


def parts() -> PlanParts:
    """A plan to mill 200 kg of flour from 250 kg of wheat (an intent) on day 1."""
    plan = PlanParts(PLAN, Plan(name="flour", due=T0 + DAY), ME)
    plan.processes[MILLING] = Process(name="milling", has_beginning=T0, has_end=T0 + DAY,
                                      planned_within=PLAN)
    plan.flows[NEED] = Intent(action="consume", receiver=ME, resource_conforms_to=WHEAT,
                              resource_quantity=Measure.of(250, "kilogram"), due=T0,
                              input_of=MILLING, planned_within=PLAN)
    plan.flows[MAKE] = Commitment(action="produce", provider=ME, receiver=ME,
                                  resource_conforms_to=FLOUR, due=T0 + DAY, output_of=MILLING,
                                  resource_quantity=Measure.of(200, "kilogram"),
                                  planned_within=PLAN)
    return plan


def dataset(allocated: str) -> Dataset:
    """Wheat at 0.5 kgCO2e per kg; a network budget of `allocated` kgCO2e over the plan."""
    ds = Dataset()
    declared = addr("wheat footprint")
    ds.footprints[declared] = SpecFootprint(specification=WHEAT, per="kilogram", factors=(
        Factor(kind="emissions", quantity=Measure.of("0.5", "kilogramCO2e")),))
    ds.authors[declared], ds.created_at[declared] = ME, 1
    ds.budgets[addr("budget")] = Budget(
        kind="emissions", period_start=T0 - 10 * DAY, period_end=T0 + 10 * DAY,
        allocated=Measure.of(allocated, "kilogramCO2e"), name="carbon")
    return ds


def test_before_production_a_plan_that_would_break_a_budget_says_so() -> None:
    ds = dataset("100")
    report = plan_report(ds, parts(), {}, T0 - DAY)
    assert report["states"] == {"pending": 2}
    assert report["footprint"]["expected"]["emissions"]["hasNumericalValue"] == "125"
    assert report["footprint"]["expectedRemaining"] == report["footprint"]["expected"]
    assert report["footprint"]["recorded"] == {}
    [budget] = report["budgets"]
    assert (budget["quotient"], budget["over"]) == ("0", False)
    assert budget["withPlan"]["actual"]["hasNumericalValue"] == "125"
    assert (budget["withPlan"]["quotient"], budget["withPlan"]["over"]) == ("1.25", True)
    assert report["breaksBudget"] is True
    assert plan_report(dataset("200"), parts(), {}, T0 - DAY)["breaksBudget"] is False


def test_what_was_recorded_counts_once_and_what_remains_is_checked() -> None:
    ds = dataset("100")
    wheat = addr("wheat resource")
    ds.resources[wheat] = EconomicResource(name="wheat", unit_of_resource="kilogram",
                                           conforms_to=WHEAT)
    ds.events[addr("raise")] = event("raise", Measure.of(300, "kilogram"), T0 - DAY,
                                     resource_inventoried_as=wheat)
    used = event("consume", Measure.of("0.1", "tonne"), T0, resource_inventoried_as=wheat,
                 input_of=MILLING, satisfies=NEED)
    ds.events[addr("consume")] = used
    fulfilled = fulfilments(ds.ordered_events(), [NEED, MAKE])
    report = plan_report(ds, parts(), fulfilled, T0 + 2 * DAY)
    need = next(f for f in report["flows"] if f["address"] == NEED)
    assert (need["done"]["hasNumericalValue"], need["state"]) == ("100", "late")
    # 100 kg consumed (50 kgCO2e recorded), 150 kg still needed (75 kgCO2e): 125 in all
    assert report["footprint"]["recorded"]["emissions"]["hasNumericalValue"] == "50"
    assert report["footprint"]["expectedRemaining"]["emissions"]["hasNumericalValue"] == "75"
    [budget] = report["budgets"]
    assert budget["actual"]["hasNumericalValue"] == "50"
    assert budget["withPlan"]["actual"]["hasNumericalValue"] == "125"
    assert budget["withPlan"]["over"] is True
    assert {p["name"]: p["events"] for p in report["processes"]} == {"milling": 1}


def test_a_budget_of_another_agent_or_period_does_not_apply() -> None:
    ds = dataset("100")
    ds.budgets[addr("later")] = Budget(
        kind="emissions", period_start=T0 + 30 * DAY, period_end=T0 + 60 * DAY,
        allocated=Measure.of(1, "kilogramCO2e"))
    ds.budgets[addr("theirs")] = Budget(
        kind="emissions", period_start=T0 - DAY, period_end=T0 + DAY,
        allocated=Measure.of(1, "kilogramCO2e"), agent=str(AgentKey.generate().agent_id))
    assert [b["name"] for b in plan_report(ds, parts(), {}, T0)["budgets"]] == ["carbon"]


def test_plan_status_orders_flows_by_due_date_and_counts_events_until_now() -> None:
    late = ("e", event("produce", Measure.of(200, "kilogram"), T0 + 3 * DAY, fulfills=MAKE,
                         output_of=MILLING))
    status = plan_status(parts(), {MAKE: [late]}, [late], T0)
    assert [f.address for f in status.flows] == [NEED, MAKE]
    assert status.flows[1].state == "pending" and status.processes[0].events == 0
    after = plan_status(parts(), {MAKE: [late]}, [late], T0 + 4 * DAY)
    assert after.flows[1].state == "done" and after.processes[0].events == 1


def test_a_plan_that_grows_the_throughput_more_than_one_percent_is_flagged() -> None:
    bran = addr("bran")
    ds = Dataset()  # bran declares no footprint: counted by its mass, as the report does
    ds.events[addr("last year")] = event("consume", Measure.of(100, "kilogram"),
                                         T0 - 365 * DAY, resource_conforms_to=bran)
    plan = parts()
    plan.flows[NEED] = plan.flows[NEED].model_copy(update={"resource_conforms_to": bran})
    report = plan_report(ds, plan, {}, T0 - DAY)
    assert report["circularity"]["flaggedByPlan"] == ["material 2027"]
    assert report["footprint"]["noFootprint"] == [bran]
    smaller = plan.flows[NEED].model_copy(update={"resource_quantity": Measure.of(100, "kg")})
    plan.flows[NEED] = smaller
    assert plan_report(ds, plan, {}, T0 - DAY)["circularity"]["flaggedByPlan"] == []


def test_plan_parts_are_its_authors_and_a_process_keeps_its_planned_times() -> None:
    from tests.two_members import TwoMembers

    bakery, other = TwoMembers("plans", AgentKey(b"\x70" * 32), AgentKey(b"\x71" * 32),
                               T0).members()

    def create(agent: MemoryAgent, entry: VfEntry) -> Record:
        agent.create(entry_type(type(entry)), entry.to_content())
        return agent.records[-1]

    plan = str(create(bakery, Plan(name="flour", due=T0 + DAY)).address)
    planned = Process(name="milling", has_beginning=T0, has_end=T0 + DAY, planned_within=plan)
    process = create(bakery, planned)
    made = str(create(bakery, Commitment(
        action="produce", provider=str(bakery.agent_id), receiver=str(bakery.agent_id),
        resource_quantity=Measure.of(1, "kilogram"), output_of=str(process.address),
        planned_within=plan)).address)
    create(other, Intent(action="consume", receiver=str(other.agent_id), planned_within=plan,
                         resource_quantity=Measure.of(1, "kilogram")))
    finished = planned.model_copy(update={"finished": True, "has_end": T0 + 3 * DAY})
    bakery.commit(lambda s: s.update(process.address, process.action.entry_address,  # type: ignore[attr-defined]
                                     entry_type(Process), finished.to_content()))
    found = plan_parts([*bakery.records, *other.records], plan)
    assert found is not None and found.author == str(bakery.agent_id)
    assert list(found.flows) == [made]  # the other member's intent is not the plan's
    assert found.processes[str(process.address)].has_end == T0 + DAY  # as planned
    assert found.finished == {str(process.address): T0 + 3 * DAY}
    assert plan_parts(bakery.records, made) is None
