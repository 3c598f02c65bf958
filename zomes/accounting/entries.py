"""The accounting zome's entry types: value equations, declared footprints, allocations of
a process's footprint to its outputs, and budgets. Frozen pydantic models, VF-style camelCase
when encoded, checked when built; the integrity zome (zome.py) pins this module.

They live apart from the accounting functions (contributions.py, footprint.py, which
re-export them) so that changing how a report is computed does not change the network id.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal, Self

from pydantic import Field, model_validator

from zomes.accounting.common import AccountingError, dimension, from_base, to_base
from zomes.valueflows.entries import (
    Address,
    AgentId,
    DecimalText,
    EconomicEvent,
    Label,
    Name,
    Text,
    Timestamp,
    UnitId,
    VfEntry,
)
from zomes.valueflows.units import Measure

# Value equations (contributive accounting)

ScoredAction = Literal["work", "use", "cite", "consume", "deliverService"]


class Rate(VfEntry):
    """A rate for the flows of one skill or kind (resourceClassifiedAs) or specification,
    per its own unit or else per the rule's."""

    rate: DecimalText
    classified_as: Label | None = None
    conforms_to: Address | None = None
    per: UnitId | None = None

    @model_validator(mode="after")
    def _one_match(self) -> Self:
        if (self.classified_as is None) == (self.conforms_to is None):
            raise ValueError("a rate names exactly one of classifiedAs and conformsTo")
        return self


class Rule(VfEntry):
    """How one action scores: quantity (converted to `per`) × rate; for `cite`, `rate`
    points per citation. `rates` override the default rate by skill or specification."""

    action: ScoredAction
    rate: DecimalText = "0"
    per: UnitId | None = None
    rates: tuple[Rate, ...] = ()

    @model_validator(mode="after")
    def _unit(self) -> Self:
        if self.action == "cite" and (self.per or any(r.per for r in self.rates)):
            raise ValueError("cite scores points per citation: it takes no `per` unit")
        if self.action != "cite" and self.per is None:
            raise ValueError(f"a {self.action} rule needs `per`, the unit its rate is per")
        return self

    def rate_for(self, event: EconomicEvent, spec: str | None) -> tuple[Fraction, str | None]:
        """(rate, unit it is per) for one event: the first matching rate, else the rule's."""
        for rate in self.rates:
            if rate.classified_as in event.resource_classified_as or (
                rate.conforms_to is not None and rate.conforms_to == spec
            ):
                return Fraction(Decimal(rate.rate)), rate.per or self.per
        return Fraction(Decimal(self.rate)), self.per


class Bucket(VfEntry):
    """A share of the income, paid to a fixed recipient or by the bucket's rules."""

    name: Name
    percentage: DecimalText
    behaviour: Literal["straight", "remaining"] = "straight"
    recipient: AgentId | None = None
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not Decimal(0) <= Decimal(self.percentage) <= Decimal(100):
            raise ValueError(f"bucket {self.name!r}: percentage must be within 0 and 100")
        if (self.recipient is None) == (not self.rules):
            raise ValueError(f"bucket {self.name!r}: give either a recipient or rules")
        actions = [rule.action for rule in self.rules]
        if len(set(actions)) != len(actions):
            raise ValueError(f"bucket {self.name!r}: one rule per action")
        return self


class ValueEquation(VfEntry):
    """An ordered list of buckets that together take at most the whole income: a
    `straight` bucket takes its percentage of the income, a `remaining` one its percentage
    of what the buckets before it left (so [30 straight, 100 remaining] takes it all)."""

    name: Name
    buckets: tuple[Bucket, ...] = Field(min_length=1)
    note: Text | None = None

    @model_validator(mode="after")
    def _at_most_everything(self) -> Self:
        taken = Decimal(0)  # percent of the income the buckets so far take
        for bucket in self.buckets:
            share = Decimal(bucket.percentage)
            taken += share if bucket.behaviour == "straight" else (100 - taken) * share / 100
            if taken > 100:
                raise ValueError(
                    f"the buckets up to {bucket.name!r} take {taken.normalize()} % of the income, "
                    "more than all of it")
        return self


# Footprints, allocations and budgets (thermodynamic accounting)

FootprintKind = Literal["energy", "material", "water", "emissions"]
KIND_UNITS: Final[dict[str, str]] = {
    "energy": "megajoule",
    "material": "kilogram",
    "water": "cubicMetre",
    "emissions": "kilogramCO2e",
}
Vector = dict[str, Fraction]  # "energy" | "water" | "emissions" | "material:<kind>" -> amount


def vector_key(kind: str, material: str | None = None) -> str:
    return f"material:{material}" if kind == "material" else kind


def key_unit(key: str) -> str:
    """The unit a footprint vector's component is measured in."""
    return KIND_UNITS[key.split(":", 1)[0]]


class Factor(VfEntry):
    """One component of a footprint per unit of a resource, e.g. 2.68 kilogramCO2e."""

    kind: FootprintKind
    quantity: Measure
    material: Label | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.kind == "material") != (self.material is not None):
            raise ValueError("a material factor names its material; other kinds do not")
        expected = KIND_UNITS[self.kind]
        if dimension(self.quantity.has_unit) != dimension(expected):
            raise ValueError(
                f"a {self.kind} factor is measured like {expected}, not {self.quantity.has_unit}"
            )
        return self


class SpecFootprint(VfEntry):
    """The footprint per `per` unit of any resource conforming to `specification`."""

    specification: Address
    per: UnitId
    factors: tuple[Factor, ...] = Field(min_length=1)
    note: str | None = None

    def per_unit(self, unit: str) -> Vector:
        """The footprint per one `unit` of the resource (same dimension as `per`)."""
        if dimension(unit) != dimension(self.per):
            raise AccountingError(
                f"footprint of {self.specification} is per {self.per}, not convertible from {unit}"
            )
        units_per = from_base(to_base(Measure.of(1, unit)), self.per)
        vector: Vector = {}
        for factor in self.factors:
            key = vector_key(factor.kind, factor.material)
            amount = from_base(to_base(factor.quantity), key_unit(key)) * units_per
            vector[key] = vector.get(key, Fraction(0)) + amount
        return vector


class AllocationShare(VfEntry):
    resource: Address
    fraction: DecimalText


class Allocation(VfEntry):
    """How a process's footprint is split among its output resources (fractions sum to 1)."""

    process: Address
    shares: tuple[AllocationShare, ...] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _whole(self) -> Self:
        fractions = [Decimal(share.fraction) for share in self.shares]
        if any(f < 0 for f in fractions) or sum(fractions, Decimal(0)) != 1:
            raise ValueError("allocation fractions must be at least 0 and add up to 1")
        if len({share.resource for share in self.shares}) != len(self.shares):
            raise ValueError("an allocation names each output resource once")
        return self

    def fraction(self, resource: str) -> Fraction:
        for share in self.shares:
            if share.resource == resource:
                return Fraction(Decimal(share.fraction))
        return Fraction(0)


class Budget(VfEntry):
    """An allocated quantity of one footprint kind for a period, for the network (no agent)
    or for one agent."""

    kind: FootprintKind
    period_start: Timestamp
    period_end: Timestamp
    allocated: Measure
    material: Label | None = None
    agent: AgentId | None = None
    name: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.period_end <= self.period_start:
            raise ValueError("a budget's period ends after it starts")
        if dimension(self.allocated.has_unit) != dimension(KIND_UNITS[self.kind]):
            raise ValueError(f"a {self.kind} budget is not measured in {self.allocated.has_unit}")
        if self.allocated.value <= 0:
            raise ValueError("a budget allocates more than zero")
        return self


ENTRY_TYPES: Final[dict[str, type[VfEntry]]] = {
    cls.__name__: cls for cls in (ValueEquation, SpecFootprint, Allocation, Budget)
}
