"""Thermodynamic accounting: the energy, matter, water and emissions behind a resource.

A footprint is a vector of physical quantities: energy (megajoule), material mass per kind
of material (kilogram), water (cubic metre), emissions (kilogram CO2e). It comes from
`SpecFootprint` entries: factors per unit of a resource specification (diesel: 38.6 MJ and
2.68 kgCO2e per litre). A resource nobody produced in a process (raised, or bought in) has
its specification's declared footprint per unit; when a process consumes it (40 kWh of
electricity, 12 l of diesel), that input is measured: quantity × factors.

Rolling up: a process's footprint is the sum of what it consumed (each consumed resource's
footprint per unit × the quantity consumed, recursively). The process's footprint is
allocated to its outputs by mass (output quantities converted to kilograms), or by an
`Allocation` entry (a fraction per output resource) when it has one; a resource's
footprint per unit is what came into it over how much came into it (a transfer brings the
source's footprint per unit). Transport and repair processes (dropoff, modify outputs) add
their footprint to the resource they return without adding quantity. All math is exact
(Fractions); numbers are rounded only when shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final, Literal

from zomes.accounting.common import AccountingError, dimension, from_base, to_base
from zomes.accounting.entries import (  # the entry types, re-exported
    KIND_UNITS as KIND_UNITS,
)
from zomes.accounting.entries import (
    Allocation,
    Budget,
    SpecFootprint,
    Vector,
    key_unit,
    vector_key,
)
from zomes.accounting.entries import AllocationShare as AllocationShare
from zomes.accounting.entries import Factor as Factor
from zomes.accounting.entries import FootprintKind as FootprintKind
from zomes.accounting.events import event_time
from zomes.accounting.formatting import measure_json, shown, text
from zomes.valueflows.entries import EconomicEvent, EconomicResource, Process
from zomes.valueflows.trace import FlowIndex
from zomes.valueflows.units import Measure, exact_decimal

PRODUCING: Final = frozenset({"produce", "separate"})  # outputs that bring new quantity
PASSING: Final = frozenset({"dropoff", "modify"})  # outputs that return a resource
TRANSFERS: Final = frozenset({"transfer", "transferAllRights", "transferCustody", "move"})

@dataclass(frozen=True, slots=True)
class FootprintPart:
    """What one source contributed to the report's totals: a consumed input (event, the
    process it went into, the resource and its specification), or a declared footprint."""

    source: Literal["input", "declared"]
    event: str | None
    process: str | None
    resource: str | None
    spec: str | None
    footprint: Vector

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "event": self.event,
            "process": self.process,
            "resource": self.resource,
            "spec": self.spec,
            "footprint": vector_json(self.footprint),
        }


def vector_json(vector: Vector) -> dict[str, dict[str, str]]:
    return {key: measure_json(vector[key], key_unit(key)) for key in sorted(vector)}


@dataclass(frozen=True, slots=True)
class FootprintReport:
    resource: str
    quantity: Fraction
    unit: str
    totals: Vector
    per_unit: Vector
    parts: tuple[FootprintPart, ...]
    missing: tuple[str, ...]  # specifications (or resources) with no footprint data
    period: tuple[int, int] | None  # earliest and latest time of the events rolled up

    def total(self, kind: str, material: str | None = None) -> Decimal:
        """One component of the totals, exact when it terminates (else 6 places)."""
        return shown(self.totals.get(vector_key(kind, material), Fraction(0)))

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "quantity": measure_json(self.quantity, self.unit),
            "totals": vector_json(self.totals),
            "perUnit": vector_json(self.per_unit),
            "parts": [part.to_json() for part in self.parts],
            "missing": list(self.missing),
            "period": list(self.period) if self.period else None,
        }


_RAW = "raw"  # marks the parts of a raw resource's footprint, named when consumed
_Key = tuple[str, str | None, str | None, str | None]  # (source or "raw", event, process, spec)
_Parts = dict[_Key, Vector]


def _add(target: _Parts, parts: _Parts, factor: Fraction) -> None:
    for key, vector in parts.items():
        into = target.setdefault(key, {})
        for component, amount in vector.items():
            into[component] = into.get(component, Fraction(0)) + amount * factor


class _Rollup:
    """Memoized, iterative (no recursion) evaluation over resources and processes."""

    def __init__(
        self,
        index: FlowIndex,
        events: Mapping[str, EconomicEvent],
        resources: Mapping[str, EconomicResource],
        spec_footprints: Mapping[str, SpecFootprint],
        allocations: Mapping[str, Allocation],
    ) -> None:
        self.index, self.events, self.resources = index, events, resources
        self.spec_footprints, self.allocations = spec_footprints, allocations
        self.per_unit: dict[str, _Parts] = {}  # resource -> parts per unit of its unit
        self.quantity: dict[str, Fraction] = {}  # resource -> quantity that came into it
        self.process: dict[str, _Parts] = {}  # process -> its whole footprint
        self.missing: set[str] = set()
        self.times: list[int] = []

    def event(self, address: str) -> EconomicEvent:
        event = self.events.get(address)
        if event is None:
            raise AccountingError(f"event {address} is in the index but was not given")
        return event

    def unit(self, resource: str) -> str:
        entry = self.resources.get(resource)
        if entry is None:
            raise AccountingError(f"resource {resource} was not given")
        return entry.unit_of_resource

    def in_unit(self, event: EconomicEvent, address: str, unit: str) -> Fraction:
        quantity = event.resource_quantity
        if quantity is None:
            raise AccountingError(f"{event.action} event {address} has no resourceQuantity")
        if dimension(quantity.has_unit) != dimension(unit):
            raise AccountingError(
                f"{event.action} event {address} is in {quantity.has_unit}, not like {unit}"
            )
        return from_base(to_base(quantity), unit)

    def evaluate(self, resource: str) -> None:
        stack: list[tuple[str, str, bool]] = [("R", resource, False)]
        active: set[tuple[str, str]] = set()
        while stack:
            kind, address, ready = stack.pop()
            memo = self.per_unit if kind == "R" else self.process
            if address in memo:
                continue
            if ready:
                if kind == "R":
                    self._resource(address)
                else:
                    self._process(address)
                continue
            if (kind, address) in active:
                raise AccountingError(f"the flows loop back to {address}: cannot roll up")
            active.add((kind, address))
            stack.append((kind, address, True))
            for dep in self._deps(kind, address):
                if dep[1] not in (self.per_unit if dep[0] == "R" else self.process):
                    if dep in active:
                        raise AccountingError(f"the flows loop back to {dep[1]}: cannot roll up")
                    stack.append((*dep, False))

    def _deps(self, kind: str, address: str) -> list[tuple[str, str]]:
        deps: list[tuple[str, str]] = []
        if kind == "R":
            for event_address in self.index.previous(address):
                event = self.event(event_address)
                if event.output_of is not None and event.action in PRODUCING | PASSING:
                    deps.append(("P", event.output_of))
                elif event.action in TRANSFERS and event.resource_inventoried_as is not None:
                    deps.append(("R", event.resource_inventoried_as))
        else:
            for event_address in self.index.previous(address):
                event = self.event(event_address)
                if event.action == "consume" and event.resource_inventoried_as is not None:
                    deps.append(("R", event.resource_inventoried_as))
        return deps

    def _declared(self, spec: str | None, label: str) -> SpecFootprint | None:
        found = self.spec_footprints.get(spec or "")
        if found is None:
            self.missing.add(spec or label)
        return found

    def _resource(self, address: str) -> None:
        """A resource's footprint per unit: all that came into it over its quantity."""
        unit, entry = self.unit(address), self.resources[address]
        total: _Parts = {}
        quantity = Fraction(0)
        for event_address in self.index.previous(address):
            event = self.event(event_address)
            if event.output_of is not None and event.action in PRODUCING | PASSING:
                self._time(event)
                share = self._share(event.output_of, event_address, event)
                _add(total, self.process[event.output_of], share)
                if event.action in PRODUCING:
                    quantity += self.in_unit(event, event_address, unit)
            elif event.action in TRANSFERS and event.resource_inventoried_as is not None:
                self._time(event)
                moved = self.in_unit(event, event_address, unit)
                source_unit = self.unit(event.resource_inventoried_as)
                in_source = self.in_unit(event, event_address, source_unit)
                _add(total, self.per_unit[event.resource_inventoried_as], in_source)
                quantity += moved
            elif event.action == "raise" and event.resource_inventoried_as == address:
                self._time(event)
                amount = self.in_unit(event, event_address, unit)
                declared = self._declared(entry.conforms_to, address)
                if declared is not None:
                    _add(total, {(_RAW, None, None, entry.conforms_to): declared.per_unit(unit)},
                         amount)  # fmt: skip
                quantity += amount
        if quantity == 0:
            if total:
                raise AccountingError(f"resource {address} has a footprint but no quantity")
            declared = self._declared(entry.conforms_to, address)
            per_unit = declared.per_unit(unit) if declared is not None else {}
            self.per_unit[address] = {(_RAW, None, None, entry.conforms_to): per_unit}
            self.quantity[address] = Fraction(0)
            return
        per: _Parts = {}
        _add(per, total, 1 / quantity)
        self.per_unit[address], self.quantity[address] = per, quantity

    def _process(self, address: str) -> None:
        """A process's footprint: everything it consumed; raw inputs are named here."""
        total: _Parts = {}
        for event_address in self.index.previous(address):
            event = self.event(event_address)
            if event.action != "consume":
                continue
            self._time(event)
            resource = event.resource_inventoried_as
            if resource is not None:
                amount = self.in_unit(event, event_address, self.unit(resource))
                for key, vector in self.per_unit[resource].items():
                    named = ("input", event_address, address, key[3]) if key[0] == _RAW else key
                    _add(total, {named: vector}, amount)
            else:
                spec = event.resource_conforms_to
                declared = self._declared(spec, event_address)
                if declared is not None and event.resource_quantity is not None:
                    unit = event.resource_quantity.has_unit
                    amount = self.in_unit(event, event_address, unit)
                    _add(total, {("input", event_address, address, spec): declared.per_unit(unit)},
                         amount)  # fmt: skip
        self.process[address] = total

    def _share(self, process: str, event_address: str, event: EconomicEvent) -> Fraction:
        """The fraction of the process's footprint that this output event carries."""
        outputs = [
            (a, self.event(a))
            for a in self.index.next(process)
            if self.event(a).output_of == process and self.event(a).action in PRODUCING | PASSING
        ]
        allocation = self.allocations.get(process)
        if allocation is not None:
            resource = event.resource_inventoried_as or ""
            same = [(a, e) for a, e in outputs if e.resource_inventoried_as == resource]
            amounts = {a: self._magnitude(a, e) for a, e in same}
            whole = sum(amounts.values(), Fraction(0))
            part = amounts[event_address] / whole if whole else Fraction(1, len(same))
            return allocation.fraction(resource) * part
        if len(outputs) == 1:
            return Fraction(1)
        masses = {a: self._mass(a, e, process) for a, e in outputs}
        whole = sum(masses.values(), Fraction(0))
        if whole == 0:
            raise AccountingError(
                f"process {process}'s outputs weigh nothing: declare an Allocation"
            )
        return masses[event_address] / whole

    def _magnitude(self, address: str, event: EconomicEvent) -> Fraction:
        quantity = event.resource_quantity
        return to_base(quantity) if quantity is not None else Fraction(0)

    def _mass(self, address: str, event: EconomicEvent, process: str) -> Fraction:
        quantity = event.resource_quantity
        if quantity is None or dimension(quantity.has_unit) != "mass":
            raise AccountingError(
                f"process {process} has several outputs and output {address} is not measured "
                "in mass: declare an Allocation for the process"
            )
        return to_base(quantity)

    def _time(self, event: EconomicEvent) -> None:
        time = event_time(event)
        if time is not None:
            self.times.append(time)


def footprint(
    resource_address: str,
    *,
    index: FlowIndex,
    events: Iterable[tuple[str, EconomicEvent]],
    processes: Mapping[str, Process],
    resources: Mapping[str, EconomicResource],
    spec_footprints: Mapping[str, SpecFootprint],
    allocations: Mapping[str, Allocation] | None = None,
    quantity: Measure | None = None,
) -> FootprintReport:
    """The footprint of a resource, rolled up along its trace: of all of it that came into
    existence (or was received), or of `quantity` of it when given. `spec_footprints` and
    `allocations` are keyed by specification and process address."""
    index.trace(resource_address)  # raises NotInIndex for an unknown resource
    del processes  # reached through the index; kept for a stable signature
    rollup = _Rollup(index, dict(events), resources, spec_footprints, allocations or {})
    rollup.evaluate(resource_address)
    unit = rollup.unit(resource_address)
    amount = rollup.quantity[resource_address]
    if quantity is not None:
        if dimension(quantity.has_unit) != dimension(unit):
            raise AccountingError(f"{resource_address} is measured in {unit}, not {quantity}")
        amount = from_base(to_base(quantity), unit)
    per_unit_parts = rollup.per_unit[resource_address]
    parts: list[FootprintPart] = []
    totals: Vector = {}
    per_unit: Vector = {}
    for key, vector in per_unit_parts.items():
        source, event, process, spec = key
        declared = source == _RAW
        scaled = {component: value * amount for component, value in vector.items()}
        parts.append(
            FootprintPart(
                "declared" if declared else "input", event, process,
                resource_address if declared else _consumed(rollup, event), spec, scaled,
            )
        )  # fmt: skip
        for component, value in vector.items():
            per_unit[component] = per_unit.get(component, Fraction(0)) + value
            totals[component] = totals.get(component, Fraction(0)) + value * amount
    times = rollup.times
    return FootprintReport(
        resource_address, amount, unit, totals, per_unit,
        tuple(sorted(parts, key=_part_order)), tuple(sorted(rollup.missing)),
        (min(times), max(times)) if times else None,
    )  # fmt: skip


def _consumed(rollup: _Rollup, event: str | None) -> str | None:
    if event is None:
        return None
    entry = rollup.events[event]
    return entry.resource_inventoried_as or entry.resource_conforms_to


def _part_order(part: FootprintPart) -> tuple[str, str, str]:
    return (part.process or "", part.event or "", part.spec or "")


def sustainability_quotient(actual: Decimal | Measure, budget: Budget) -> Decimal:
    """actual / allocated: above 1 means over budget. A Decimal `actual` is in the budget's
    unit; a Measure is converted exactly."""
    if isinstance(actual, Measure):
        if dimension(actual.has_unit) != dimension(budget.allocated.has_unit):
            raise AccountingError(f"{actual} cannot be compared with a {budget.kind} budget")
        used = from_base(to_base(actual), budget.allocated.has_unit)
    else:
        used = Fraction(actual)
    ratio = used / Fraction(budget.allocated.value)
    exact = exact_decimal(ratio)
    return exact if exact is not None else Decimal(ratio.numerator) / Decimal(ratio.denominator)


@dataclass(frozen=True, slots=True)
class CircularityFlag:
    """One period's throughput, its growth over the period before, and whether that growth
    exceeds the threshold (a perma-circular economy does not grow its throughput)."""

    period: Any
    throughput: Decimal
    growth: Decimal | None  # None for the first period, or growth from zero
    flagged: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "throughput": text(self.throughput),
            "growth": None if self.growth is None else text(self.growth),
            "flagged": self.flagged,
        }


def perma_circularity(
    throughput_by_period: Sequence[tuple[Any, Decimal]], threshold: Decimal = Decimal("0.01")
) -> list[CircularityFlag]:
    """Flag each period whose total material and energy throughput grew by more than
    `threshold` (1 %) over the period before; growth from zero is always flagged."""
    flags: list[CircularityFlag] = []
    previous: Decimal | None = None
    for period, throughput in throughput_by_period:
        growth: Decimal | None = None
        flagged = False
        if previous is not None:
            if previous == 0:
                flagged = throughput > 0
            else:
                ratio = (Fraction(throughput) - Fraction(previous)) / Fraction(previous)
                growth = shown(ratio)
                flagged = ratio > Fraction(threshold)
        flags.append(CircularityFlag(period, throughput, growth, flagged))
        previous = throughput
    return flags
