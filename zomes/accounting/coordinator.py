"""The accounting zome's coordinator: accounting entries from what the command line gives,
written to a Scratch (pure). node/runtime/ledger.py validates and flushes them.

- a value equation from a JSON document (VF-style camelCase, as the entry is encoded;
  numbers may be JSON numbers or strings, units any label `coledger` knows);
- a footprint declared on a specification: `--factor emissions=0.25kgCO2e`;
- an allocation of a process's footprint: `--share RESOURCE=0.8`;
- a budget: a kind, an allocated quantity, a period, for the network or one agent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from node.core.cid import Cid
from node.core.errors import AddressError, Field, LocalError
from node.core.refusals import BadFactor, BadQuantity, MissingField
from node.core.scratch import Scratch
from zomes.accounting.entries import (
    Allocation,
    AllocationShare,
    Budget,
    Factor,
    SpecFootprint,
    ValueEquation,
)
from zomes.accounting.zome import entry_type
from zomes.valueflows.entries import VfEntry
from zomes.valueflows.messages import describe_error
from zomes.valueflows.units import (
    Measure,
    UnitError,
    bounded,
    canonical_unit,
    decimal_string,
    parse_quantity,
    to_decimal,
)

_DECIMAL_KEYS = frozenset({"percentage", "rate", "fraction"})
_UNIT_KEYS = frozenset({"per"})
FACTOR = Field("factors", "factor")


def _normalised(value: Any, key: str | None = None) -> Any:
    """JSON numbers to canonical decimal text, unit labels to unit ids, recursively."""
    if isinstance(value, dict):
        return {k: _normalised(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    number = isinstance(value, int | str | Decimal) and not isinstance(value, bool)
    if key in _DECIMAL_KEYS and number:
        try:
            return decimal_string(bounded(to_decimal(value)))
        except UnitError as e:
            raise LocalError(f"{key}: {e}") from None
    if key in _UNIT_KEYS and isinstance(value, str):
        try:
            return canonical_unit(value)
        except UnitError as e:
            raise LocalError(f"{key}: {e}") from None
    return value


def _build(cls: type[VfEntry], content: Any, what: str) -> Any:
    try:
        return cls.model_validate(content)
    except ValueError as e:
        raise LocalError(f"bad {what}: {describe_error(e)}") from None


def create_equation(scratch: Scratch, document: Any) -> tuple[Cid, ValueEquation]:
    """A ValueEquation entry from its JSON form."""
    if not isinstance(document, dict):
        raise LocalError("a value equation is a JSON object with a name and buckets")
    equation: ValueEquation = _build(ValueEquation, _normalised(document), "value equation")
    return scratch.create(entry_type(ValueEquation), equation.to_content()), equation


def parse_factor(text: str) -> Factor:
    """ "energy=3.6 MJ", "emissions=0.25 kgCO2e", "material:diesel=0.832 kg", "water=1 m3"."""
    kind, sep, quantity = text.partition("=")
    if not sep:
        raise BadFactor(Field("factors", "a factor"),
                        f" takes KIND=QUANTITY (e.g. emissions=0.25kgCO2e), not {text!r}")
    kind, _, material = kind.strip().partition(":")
    try:
        measure = parse_quantity(quantity)
    except UnitError as e:
        raise BadQuantity(FACTOR, f" {text!r}: {e}") from None
    content = {"kind": kind, "quantity": measure, "material": material or None}
    try:
        return Factor.model_validate(content)
    except ValueError as e:
        raise BadFactor("bad ", FACTOR, f" {text!r}: {describe_error(e)}") from None


def declare_footprint(
    scratch: Scratch, spec: str, per: str, factors: list[str], note: str | None
) -> Cid:
    """A SpecFootprint: the footprint per `per` of any resource of the specification."""
    if not factors:
        raise MissingField("give at least one ", FACTOR)
    try:
        unit = canonical_unit(per)
    except UnitError as e:
        raise BadQuantity(Field("per", "per"), f": {e}") from None
    content = {"specification": _address(spec, "specification"), "per": unit,
               "factors": tuple(parse_factor(f) for f in factors), "note": note}  # fmt: skip
    entry: SpecFootprint = _build(SpecFootprint, content, "footprint")
    return scratch.create(entry_type(SpecFootprint), entry.to_content())


def allocate(scratch: Scratch, process: str, shares: list[str], note: str | None) -> Cid:
    """An Allocation of a process's footprint to its outputs: RESOURCE=FRACTION each."""
    parsed = []
    for share in shares:
        resource, sep, fraction = share.partition("=")
        if not sep:
            raise BadFactor(Field("shares", "a share"), f" takes RESOURCE=FRACTION, not {share!r}")
        try:
            number = decimal_string(bounded(to_decimal(fraction.strip())))
        except UnitError as e:
            raise BadQuantity(Field("shares", "share"), f" {share!r}: {e}") from None
        address = _address(resource.strip(), "share")
        parsed.append(AllocationShare(resource=address, fraction=number))
    content = {"process": _address(process, "process"), "shares": tuple(parsed), "note": note}
    entry: Allocation = _build(Allocation, content, "allocation")
    return scratch.create(entry_type(Allocation), entry.to_content())


def set_budget(
    scratch: Scratch, *, kind: str, allocated: str, start_us: int, end_us: int,
    material: str | None, agent: str | None, name: str | None,
) -> Cid:  # fmt: skip
    """A Budget for the network (agent None) or one agent, over [start, end)."""
    try:
        measure: Measure = parse_quantity(allocated)
    except UnitError as e:
        raise BadQuantity(Field("allocated", "allocated"), f": {e}") from None
    content = {
        "kind": kind, "period_start": start_us, "period_end": end_us, "allocated": measure,
        "material": material, "agent": agent, "name": name,
    }  # fmt: skip
    entry: Budget = _build(Budget, content, "budget")
    return scratch.create(entry_type(Budget), entry.to_content())


def _address(text: str, what: str) -> str:
    try:
        return str(Cid.parse(text))
    except AddressError:
        raise LocalError(f"{what} {text!r} is not an address (bafy...)") from None
