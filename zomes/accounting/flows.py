"""Flow accounting: who provided how much of what to whom.

Events are grouped by (provider, receiver, action, resource specification) and their
quantities summed exactly. Within a group, quantities are expressed in the specification's
default unit (of effort for effort flows, of resource otherwise) when that unit has the
same dimension, else in the first unit seen; quantities of another dimension (kg and hours
of one specification) are kept as a separate row, never mixed. A sum that is not an exact
decimal in the chosen unit (20 minutes in hours) falls back to the dimension's finest unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from zomes.accounting.common import AccountingError, dimension, from_base, to_base
from zomes.accounting.events import flow_quantity, in_window
from zomes.accounting.formatting import measure_json
from zomes.valueflows.entries import EconomicEvent, EconomicResource, ResourceSpecification
from zomes.valueflows.units import UNITS, Measure, exact_decimal


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One cell of the matrix: everything one agent gave another by one action, of one
    specification (None: events that name none), in one unit."""

    provider: str
    receiver: str
    action: str
    spec: str | None
    quantity: Decimal
    unit: str
    events: tuple[str, ...]

    @property
    def measure(self) -> Measure:
        return Measure.of(self.quantity, self.unit)

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "receiver": self.receiver,
            "action": self.action,
            "spec": self.spec,
            "quantity": measure_json(self.quantity, self.unit),
            "events": list(self.events),
        }


@dataclass(frozen=True, slots=True)
class FlowMatrix:
    """The rows, in a deterministic order (provider, receiver, action, spec, unit)."""

    rows: tuple[FlowRow, ...]
    since_us: int | None = None
    until_us: int | None = None

    @property
    def agents(self) -> list[str]:
        """Every agent that provided or received, sorted."""
        return sorted({row.provider for row in self.rows} | {row.receiver for row in self.rows})

    @property
    def unit_groups(self) -> list[str]:
        """The units rows are measured in, sorted: quantities are comparable within one."""
        return sorted({row.unit for row in self.rows})

    def totals(self) -> dict[str, list[dict[str, Any]]]:
        """Sums per specification, per provider and per receiver, each per unit."""
        return {
            "bySpec": _sum_by(self.rows, "spec"),
            "byProvider": _sum_by(self.rows, "provider"),
            "byReceiver": _sum_by(self.rows, "receiver"),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since_us,
            "until": self.until_us,
            "rows": [row.to_json() for row in self.rows],
            "totals": self.totals(),
        }


def _sum_by(rows: Iterable[FlowRow], field: str) -> list[dict[str, Any]]:
    sums: dict[tuple[str | None, str], Decimal] = {}
    for row in rows:
        key = (getattr(row, field), row.unit)
        sums[key] = sums.get(key, Decimal(0)) + row.quantity
    ordered = sorted(sums.items(), key=lambda item: (item[0][0] or "", item[0][1]))
    return [{field: key, "quantity": measure_json(value, unit)} for (key, unit), value in ordered]


def event_spec(event: EconomicEvent, resources: Mapping[str, EconomicResource]) -> str | None:
    """The specification an event's flow is of: resourceConformsTo, else the inventoried
    resource's conformsTo."""
    if event.resource_conforms_to is not None:
        return event.resource_conforms_to
    resource = resources.get(event.resource_inventoried_as or "")
    return resource.conforms_to if resource is not None else None


@dataclass(slots=True)
class _Group:
    unit_hint: str | None  # the spec's default unit for this kind of flow
    first_unit: str
    units: set[str]
    total: Fraction  # in the dimension's base unit
    events: list[str]


def flows(
    events: Iterable[tuple[str, EconomicEvent]],
    *,
    specs: Mapping[str, ResourceSpecification],
    resources: Mapping[str, EconomicResource],
    since_us: int | None = None,
    until_us: int | None = None,
    spec: str | None = None,
) -> FlowMatrix:
    """The flow matrix of (address, event) pairs in [since_us, until_us), optionally only of
    one specification. Events without a quantity are skipped."""
    groups: dict[tuple[str, str, str, str | None, str], _Group] = {}
    for address, event in events:
        if not in_window(event, since_us, until_us):
            continue
        event_spec_address = event_spec(event, resources)
        if spec is not None and event_spec_address != spec:
            continue
        quantity = flow_quantity(event)
        if quantity is None:
            continue
        key = (
            event.provider,
            event.receiver,
            event.action,
            event_spec_address,
            dimension(quantity.has_unit),
        )
        group = groups.get(key)
        if group is None:
            hint = _default_unit(event, quantity, specs.get(event_spec_address or ""))
            group = groups[key] = _Group(hint, quantity.has_unit, set(), Fraction(0), [])
        group.units.add(quantity.has_unit)
        group.total += to_base(quantity)
        group.events.append(address)
    rows = [
        FlowRow(provider, receiver, action, spec_address, *_express(group), tuple(group.events))
        for (provider, receiver, action, spec_address, _), group in groups.items()
    ]
    rows.sort(key=lambda r: (r.provider, r.receiver, r.action, r.spec or "", r.unit))
    return FlowMatrix(tuple(rows), since_us, until_us)


def _default_unit(
    event: EconomicEvent, quantity: Measure, specification: ResourceSpecification | None
) -> str | None:
    if specification is None:
        return None
    effort = quantity is event.effort_quantity
    unit = (
        specification.default_unit_of_effort if effort else specification.default_unit_of_resource
    )
    if unit is None or dimension(unit) != dimension(quantity.has_unit):
        return None
    return unit


def _express(group: _Group) -> tuple[Decimal, str]:
    """The group's total in its preferred unit, exactly."""
    dim = dimension(group.first_unit)
    finest = sorted((u for u in UNITS if UNITS[u].dimension == dim), key=lambda u: UNITS[u].factor)
    candidates = [group.unit_hint, group.first_unit, *sorted(group.units), *finest]
    for unit in candidates:
        if unit is None:
            continue
        value = exact_decimal(from_base(group.total, unit))
        if value is not None:
            return value, unit
    raise AccountingError(  # unreachable with decimal unit factors, kept as a guard
        f"no unit expresses {group.total} {dim} exactly"
    )
