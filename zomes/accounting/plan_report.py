"""`coledger plan status`: a plan's flows and processes against what was recorded
(zomes/valueflows/plan_status.py), and its footprint: expected beside recorded, and
against the budgets that apply, before production starts as after.

- expected: the raw inputs the plan needs (its intents to consume) × their specification's
  declared footprint per unit, as `plan from-recipe` rolls it up (planning.py);
- recorded: what the plan's processes consumed from outside the plan, each input valued
  as the footprint report values it (its resource's footprint rolled up along its trace,
  or its specification's declared footprint), so what one process of the plan made and
  another used is not counted twice;
- budgets and perma-circularity: the footprint report's own `budget_report` and
  `circularity` over the raw inputs recorded, then again with the plan's remaining raw
  inputs added as if consumed when due (valued as the report will value them once
  recorded): a cooperative sees that a plan would break a budget before making anything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Final

from node.core.cid import Cid
from node.core.errors import CoreError, LocalError, NotFound
from node.core.records import Record
from zomes.accounting.common import AccountingError
from zomes.accounting.dataset import Dataset
from zomes.accounting.entries import Budget, Vector
from zomes.accounting.footprint import PRODUCING, footprint, vector_json
from zomes.accounting.formatting import iso_time, measure_json
from zomes.accounting.reports import Inputs, budget_report, circularity, raw_inputs, raw_vector
from zomes.valueflows.entries import EconomicEvent, Intent
from zomes.valueflows.plan_status import (
    Events,
    FlowStatus,
    PlanParts,
    PlanStatus,
    plan_parts,
    plan_status,
)
from zomes.valueflows.planning import declared_footprint, measure_of
from zomes.valueflows.recipe_rules import DEMANDING

PLANNED: Final = "planned:"  # names a raw input the plan still needs, as if consumed


def _add(into: Vector, vector: Mapping[str, Fraction]) -> None:
    for key, value in vector.items():
        into[key] = into.get(key, Fraction(0)) + value


def _raw_needs(status: PlanStatus) -> list[tuple[FlowStatus, Intent]]:
    """The plan's raw inputs: its intents to consume something, with their status."""
    flows = status.parts.flows
    return [(f, entry) for f in status.flows
            if isinstance(entry := flows[f.address], Intent) and entry.action in DEMANDING
            and entry.input_of is not None]


def expected_footprint(ds: Dataset, status: PlanStatus) -> tuple[Vector, Vector, list[str]]:
    """(the whole plan's, what remains to consume's) footprint from the declared footprints
    of its raw inputs, and the specifications with none declared."""
    declared = ds.spec_footprints()
    whole: Vector = {}
    remaining: Vector = {}
    missing: set[str] = set()
    for flow, _ in _raw_needs(status):
        found = declared_footprint(flow.spec, flow.planned, flow.unit, declared)
        if found is None:
            missing.add(flow.spec or flow.address)
            continue
        _add(whole, found)
        if flow.planned:
            _add(remaining, {k: v * flow.remaining / flow.planned for k, v in found.items()})
    return whole, remaining, sorted(missing)


def recorded_footprint(ds: Dataset, processes: Collection[str]) -> tuple[Vector, list[str]]:
    """What the `processes` consumed from outside them, each input valued as the footprint
    report values it; and what had no footprint to value it by."""
    made = {e.resource_inventoried_as for e in ds.events.values()
            if e.output_of in processes and e.action in PRODUCING}
    declared = ds.spec_footprints()
    total: Vector = {}
    missing: set[str] = set()
    for address, event in ds.ordered_events():
        quantity, resource = event.resource_quantity, event.resource_inventoried_as
        if event.action != "consume" or event.input_of not in processes or quantity is None:
            continue
        if resource is not None and resource in made:
            continue  # made within the plan: counted through what went into it
        if resource is None:
            found = declared_footprint(event.resource_conforms_to, Fraction(quantity.value),
                                       quantity.has_unit, declared)
            if found is None:
                missing.add(event.resource_conforms_to or address)
            _add(total, found or {})
            continue
        try:
            report = footprint(resource, index=ds.flow_index(), events=ds.events.items(),
                               processes=ds.processes, resources=ds.resources,
                               spec_footprints=declared, allocations=ds.process_allocations(),
                               quantity=quantity)
        except (AccountingError, KeyError):
            missing.add(resource)
            continue
        missing.update(report.missing)
        _add(total, report.totals)
    return total, sorted(missing)


def planned_inputs(ds: Dataset, status: PlanStatus) -> Inputs:
    """The plan's remaining raw inputs as the footprint report will count them once
    consumed: by the planner, when due, valued as raw inputs are."""
    declared = ds.spec_footprints()
    out: Inputs = []
    for flow, entry in _raw_needs(status):
        if not flow.remaining:
            continue
        when = flow.due or status.parts.plan.due or status.now
        event = EconomicEvent(
            action="consume", provider=status.parts.author, receiver=status.parts.author,
            resource_conforms_to=flow.spec, resource_quantity=measure_of(
                flow.remaining, flow.unit)[0], has_point_in_time=when, input_of=entry.input_of)
        vector = raw_vector(flow.unit, declared.get(flow.spec or ""), ds, flow.spec)
        scaled = {k: v * flow.remaining for k, v in vector.items()}
        if scaled:
            out.append((PLANNED + flow.address, event, scaled))
    return out


def _span(status: PlanStatus) -> tuple[int, int]:
    """From the first planned time of the plan to its last (its due date)."""
    times = [t for f in status.flows if (t := f.due) is not None]
    for p in status.processes:
        times += [t for t in (p.planned_begin, p.planned_end) if t is not None]
    if status.parts.plan.due is not None:
        times.append(status.parts.plan.due)
    return (min(times), max(times)) if times else (status.now, status.now)


def _applies(budget: Budget, planner: str, span: tuple[int, int]) -> bool:
    """A budget of the network or of the planner, over a period the plan falls in."""
    return (budget.agent is None or budget.agent == planner) \
        and budget.period_start <= span[1] and span[0] < budget.period_end


def budgets(ds: Dataset, status: PlanStatus, period: str) -> dict[str, Any]:
    """The budgets that apply, each as recorded and with the plan's remaining raw inputs;
    perma-circularity the same two ways."""
    inputs = raw_inputs(ds)
    projected = inputs + planned_inputs(ds, status)
    span = _span(status)
    rows = []
    for address, budget in sorted(ds.budgets.items(), key=lambda b: (b[1].period_start, b[0])):
        if not _applies(budget, status.parts.author, span):
            continue
        row = budget_report(ds, address, budget, inputs)
        planned = budget_report(ds, address, budget, projected)
        row["withPlan"] = {k: planned[k] for k in ("actual", "quotient", "over")}
        rows.append(row)
    before = circularity(inputs, period)["flagged"]
    after = circularity(projected, period)["flagged"]
    return {"budgets": rows, "circularity": {
        "period": period, "flagged": after, "flaggedByPlan": [f for f in after
                                                               if f not in before]}}


def _flow_json(flow: FlowStatus, ds: Dataset, names: Mapping[str, str]) -> dict[str, Any]:
    spec = ds.specs.get(flow.spec or "")
    return {
        "address": flow.address, "kind": flow.kind, "direction": flow.direction,
        "process": flow.process, "processName": names.get(flow.process or ""),
        "action": flow.action, "resourceConformsTo": flow.spec,
        "resourceName": spec.name if spec is not None else None,
        "planned": measure_json(flow.planned, flow.unit),
        "done": measure_json(flow.done, flow.unit),
        "remaining": measure_json(flow.remaining, flow.unit),
        "due": None if flow.due is None else iso_time(flow.due),
        "state": flow.state, "events": list(flow.events), "otherUnits": list(flow.other_units),
    }


def _time(us: int | None) -> str | None:
    return None if us is None else iso_time(us)


Fulfilling = Callable[[Sequence[tuple[str, EconomicEvent]], Sequence[str]], Mapping[str, Events]]
"""(events held, flows) -> the events fulfilling or satisfying each flow (the Client's)."""


def plan_status_of(records: Iterable[Record], plan: str, now: int, period: str,
                   fulfilling: Fulfilling) -> dict[str, Any]:
    """The plan at `plan` among `records` (a home's), as `plan_report` shows it; the
    events fulfilling its flows from `fulfilling`."""
    try:
        address = str(Cid.parse(plan))
    except CoreError:
        raise LocalError(f"{plan!r} is not an address (bafy...)") from None
    held = list(records)
    parts = plan_parts(held, address)
    if parts is None:
        raise NotFound(f"no plan at {address} here")
    ds = Dataset()
    ds.add_records(held)
    events = ds.ordered_events()
    return plan_report(ds, parts, fulfilling(events, list(parts.flows)), now, period)


def plan_report(ds: Dataset, parts: PlanParts, fulfilled: Mapping[str, Events], now: int,
                period: str = "year") -> dict[str, Any]:
    """`coledger plan status --json`: the plan's flows and processes against what was
    recorded, and its footprint expected, recorded and against the budgets that apply."""
    status = plan_status(parts, fulfilled, ds.ordered_events(), now)
    names = {p.address: p.name for p in status.processes}
    expected, remaining, no_footprint = expected_footprint(ds, status)
    recorded, missing = recorded_footprint(ds, set(parts.processes))
    checked = budgets(ds, status, period)
    states = [f.state for f in status.flows]
    return {
        "plan": parts.address, "name": parts.plan.name, "author": parts.author,
        "due": _time(parts.plan.due), "asOf": iso_time(now),
        "states": {s: states.count(s) for s in sorted(set(states))},
        "flows": [_flow_json(f, ds, names) for f in status.flows],
        "processes": [
            {"address": p.address, "name": p.name, "plannedBeginning": _time(p.planned_begin),
             "plannedEnd": _time(p.planned_end), "actualBeginning": _time(p.actual_begin),
             "actualEnd": _time(p.actual_end), "events": p.events, "state": p.state}
            for p in status.processes],
        "footprint": {"expected": vector_json(expected), "expectedRemaining":
                      vector_json(remaining), "recorded": vector_json(recorded),
                      "noFootprint": no_footprint, "missing": missing},
        **checked,
        "breaksBudget": any(b["withPlan"]["over"] for b in checked["budgets"]),
    }
