"""Planned against actual, pure: each flow of a plan beside the events that fulfilled it.

A plan's parts are read off records (`plan_parts`): the Plan, the Processes and the
Commitments and Intents `plannedWithin` it. A flow is done by the events whose `fulfills`
(a commitment) or `satisfies` (an intent) names it (`fulfilments` finds them among events;
a client may add those the network links to the flow). Quantities are summed exactly in the
flow's planned unit (an event in another unit of the same dimension is converted; one of
another dimension is set aside, named) and the flow gets a state (STATES): done, partly,
late, missing or pending. Each process shows its planned begin and end beside the first
and last event in or out of it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final, Literal

from node.core.actions import Update
from node.core.records import Record
from zomes.valueflows.entries import Commitment, EconomicEvent, Intent, Plan, Process, VfEntry
from zomes.valueflows.units import UNITS
from zomes.valueflows.zome import PREFIX, parse, thing_address

STATES: Final[dict[str, str]] = {
    "done": "all of it recorded (or the flow finished)",
    "partly": "some recorded, the rest due ahead",
    "late": "due passed, some recorded, some remaining",
    "missing": "due passed, nothing recorded",
    "pending": "nothing recorded yet, due ahead",
}
PROCESS_STATES: Final[dict[str, str]] = {
    "finished": "the process was finished",
    "late": "its planned end passed and it is not finished",
    "started": "events went in or out of it",
    "pending": "nothing yet, its planned end ahead",
}
_PARTS: Final = {PREFIX + cls.__name__: cls for cls in (Plan, Process, Commitment, Intent)}

Events = Sequence[tuple[str, EconomicEvent]]  # (address, event)


@dataclass
class PlanParts:
    """A plan and what is planned within it, each by the address that names it."""

    address: str
    plan: Plan
    author: str
    processes: dict[str, Process] = field(default_factory=dict)  # as planned (first version)
    finished: dict[str, int | None] = field(default_factory=dict)  # finished: when it ended
    flows: dict[str, Commitment | Intent] = field(default_factory=dict)


def plan_parts(records: Iterable[Record], plan: str) -> PlanParts | None:
    """The plan at `plan` and its processes and flows among `records` (None: no such plan):
    only its author's (nobody else plans within it). A process keeps its planned times from
    its first version; a later one may finish it."""
    found: dict[str, tuple[VfEntry, str]] = {}
    later: dict[str, Process] = {}
    for record in records:
        name = getattr(record.action, "entry_type", None)
        if name not in _PARTS or record.entry is None:
            continue
        try:
            entry = parse(name, record.entry.value)
        except ValueError:
            continue
        thing = thing_address(record.action, record.address)
        if isinstance(record.action, Update) and isinstance(entry, Process):
            later[thing] = entry
        else:
            found.setdefault(thing, (entry, str(record.action.author)))
    top = found.get(plan)
    if top is None or not isinstance(top[0], Plan):
        return None
    parts = PlanParts(plan, top[0], top[1])
    for address in sorted(found):
        entry, author = found[address]
        if getattr(entry, "planned_within", None) != plan or author != parts.author:
            continue
        if isinstance(entry, Process):
            parts.processes[address] = entry
            last = later.get(address)
            if last is not None and last.finished:
                parts.finished[address] = last.has_end
        elif isinstance(entry, Commitment | Intent):
            parts.flows[address] = entry
    return parts


def fulfilments(events: Iterable[tuple[str, EconomicEvent]],
                flows: Collection[str]) -> dict[str, list[tuple[str, EconomicEvent]]]:
    """The events among `events` that fulfil (a commitment) or satisfy (an intent) each of
    `flows`, each event once per flow."""
    out: dict[str, list[tuple[str, EconomicEvent]]] = {flow: [] for flow in flows}
    for address, event in events:
        for named in {event.fulfills, event.satisfies}:
            if named is not None and named in out \
                    and all(a != address for a, _ in out[named]):
                out[named].append((address, event))
    return out


@dataclass(frozen=True)
class FlowStatus:
    """One planned flow against what was recorded, in its planned unit."""

    address: str
    kind: Literal["commitment", "intent"]
    direction: Literal["input", "output", "other"]
    process: str | None
    action: str
    spec: str | None
    unit: str
    planned: Fraction
    done: Fraction
    due: int | None
    state: str
    events: tuple[str, ...]
    other_units: tuple[str, ...]  # events in a unit of another dimension, not counted

    @property
    def remaining(self) -> Fraction:
        return max(self.planned - self.done, Fraction(0))


@dataclass(frozen=True)
class ProcessStatus:
    """A planned process: its planned times beside the first and last event in or out."""

    address: str
    name: str
    planned_begin: int | None
    planned_end: int | None
    actual_begin: int | None
    actual_end: int | None
    events: int
    state: str


@dataclass(frozen=True)
class PlanStatus:
    """Every flow and process of a plan, as of `now`."""

    parts: PlanParts
    now: int
    flows: tuple[FlowStatus, ...]
    processes: tuple[ProcessStatus, ...]


def event_time(event: EconomicEvent) -> int | None:
    """When it happened: hasPointInTime, else hasEnd, else hasBeginning."""
    for time in (event.has_point_in_time, event.has_end, event.has_beginning):
        if time is not None:
            return time
    return None


def _base(value: Fraction, unit: str) -> Fraction:
    return value * Fraction(UNITS[unit].factor)


def flow_state(planned: Fraction, done: Fraction, recorded: bool, due: int | None,
               now: int, finished: bool = False) -> str:
    """The flow's state (one of STATES): done when nothing remains (or it was finished),
    else by whether its due date passed and whether anything was recorded."""
    if finished or (done >= planned and (recorded or planned > 0)):
        return "done"
    passed = due is not None and due <= now
    if passed:
        return "late" if recorded else "missing"
    return "partly" if recorded else "pending"


def flow_status(address: str, flow: Commitment | Intent, events: Events,
                now: int) -> FlowStatus:
    """One flow against the events that fulfilled or satisfied it."""
    effort = flow.resource_quantity is None and flow.effort_quantity is not None
    measure = flow.effort_quantity if effort else flow.resource_quantity
    unit = measure.has_unit if measure is not None else "one"
    planned = Fraction(measure.value) if measure is not None else Fraction(0)
    done, other = Fraction(0), []
    for event_address, event in events:
        given = (event.effort_quantity or event.resource_quantity) if effort else \
            (event.resource_quantity or event.effort_quantity)
        if given is None:
            continue
        if UNITS[given.has_unit].dimension != UNITS[unit].dimension:
            other.append(event_address)
            continue
        done += _base(Fraction(given.value), given.has_unit) / Fraction(UNITS[unit].factor)
    direction: Literal["input", "output", "other"] = (
        "input" if flow.input_of else "output" if flow.output_of else "other")
    due = flow.due if flow.due is not None else flow.has_end or flow.has_point_in_time
    counted = len(events) > len(other)
    return FlowStatus(
        address, "commitment" if isinstance(flow, Commitment) else "intent", direction,
        flow.input_of or flow.output_of, flow.action, flow.resource_conforms_to, unit,
        planned, done, due, flow_state(planned, done, counted, due, now, flow.finished),
        tuple(a for a, _ in events), tuple(other))


def process_status(address: str, process: Process, finished: int | None, finished_known: bool,
                   events: Events, now: int) -> ProcessStatus:
    """A process's planned begin and end beside its first and last event."""
    times = [t for _, e in events if (t := event_time(e)) is not None]
    end = finished if finished_known and finished is not None else max(times, default=None)
    if finished_known:
        state = "finished"
    elif process.has_end is not None and process.has_end <= now:
        state = "late"
    else:
        state = "started" if events else "pending"
    return ProcessStatus(address, process.name, process.has_beginning, process.has_end,
                         min(times, default=None), end, len(events), state)


def plan_status(parts: PlanParts, fulfilled: Mapping[str, Events],
                events: Iterable[tuple[str, EconomicEvent]], now: int) -> PlanStatus:
    """The plan as of `now`: each flow with the events `fulfilled` names for it, each
    process with the `events` in or out of it (events after `now` do not count yet)."""
    flows = tuple(flow_status(a, f, _until(fulfilled.get(a, ()), now), now)
                  for a, f in parts.flows.items())
    touching: dict[str, list[tuple[str, EconomicEvent]]] = {p: [] for p in parts.processes}
    for address, event in _until(events, now):
        for process in {event.input_of, event.output_of}:
            if process in touching:
                touching[process].append((address, event))
    processes = tuple(
        process_status(a, p, parts.finished.get(a), a in parts.finished, touching[a], now)
        for a, p in sorted(parts.processes.items(),
                           key=lambda i: (i[1].has_beginning or 0, i[0])))
    ordered = tuple(sorted(flows, key=lambda f: (f.due or 0, f.direction, f.address)))
    return PlanStatus(parts, now, ordered, processes)


def _until(events: Iterable[tuple[str, EconomicEvent]], now: int) -> Events:
    """The events that happened by `now` (one without a time counts)."""
    return [(a, e) for a, e in events if (t := event_time(e)) is None or t <= now]
