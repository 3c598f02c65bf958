"""Quantities: exact Decimal numbers with OM2 units, and exact conversion between them.

Validation runs this code on every node, so the conversion factors are an explicit table of
exact decimals (identical results whatever pint is installed); pint is the reference the
table is checked against (`pint_registry`, built lazily: it takes about 0.3 s).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    import pint

OM2: Final = "http://www.ontology-of-units-of-measure.org/resource/om-2/"
MAX_DIGITS: Final = 40  # bound on the length of a numerical value, sign and point excluded


class UnitError(ValueError):
    """An unknown unit, a malformed number, or a conversion that is impossible or inexact."""


class Unit(NamedTuple):
    """A canonical unit: its dimension, its exact factor to that dimension's base unit, and
    the same unit in pint's language (only used to check this table)."""

    dimension: str
    factor: Decimal
    pint: str


D = Decimal
UNITS: Final[dict[str, Unit]] = {
    "one":            Unit("dimensionless", D(1), "dimensionless"),
    "gram":           Unit("mass", D("0.001"), "gram"),
    "kilogram":       Unit("mass", D(1), "kilogram"),
    "tonne":          Unit("mass", D(1000), "metric_ton"),
    "millilitre":     Unit("volume", D("0.000001"), "milliliter"),
    "litre":          Unit("volume", D("0.001"), "liter"),
    "cubicMetre":     Unit("volume", D(1), "meter ** 3"),
    "joule":          Unit("energy", D(1), "joule"),
    "kilojoule":      Unit("energy", D(1000), "kilojoule"),
    "megajoule":      Unit("energy", D(10) ** 6, "megajoule"),
    "wattHour":       Unit("energy", D(3600), "watt_hour"),
    "kilowattHour":   Unit("energy", D(3_600_000), "kilowatt_hour"),
    "megawattHour":   Unit("energy", D(3_600_000_000), "megawatt_hour"),
    "second":         Unit("time", D(1), "second"),
    "minute":         Unit("time", D(60), "minute"),
    "hour":           Unit("time", D(3600), "hour"),
    "day":            Unit("time", D(86400), "day"),
    "metre":          Unit("length", D(1), "meter"),
    "kilometre":      Unit("length", D(1000), "kilometer"),
    "squareMetre":    Unit("area", D(1), "meter ** 2"),
    "hectare":        Unit("area", D(10000), "hectare"),
    "tonneKilometre": Unit("mass × length", D(10) ** 6, "metric_ton * kilometer"),
    "gramCO2e":       Unit("CO2-equivalent mass", D("0.001"), "gram_CO2e"),
    "kilogramCO2e":   Unit("CO2-equivalent mass", D(1), "kilogram_CO2e"),
    "tonneCO2e":      Unit("CO2-equivalent mass", D(1000), "tonne_CO2e"),
    "euro":           Unit("currency EUR", D(1), "euro"),
}  # fmt: skip

# Labels matched exactly (symbols: "mJ" is not "MJ").
_SYMBOLS: Final[dict[str, str]] = {
    "each": "one", "unit": "one", "units": "one", "pcs": "one", "piece": "one",
    "g": "gram", "kg": "kilogram", "t": "tonne",
    "ml": "millilitre", "mL": "millilitre", "l": "litre", "L": "litre", "m3": "cubicMetre",
    "m³": "cubicMetre", "J": "joule", "kJ": "kilojoule", "MJ": "megajoule", "Wh": "wattHour",
    "kWh": "kilowattHour", "kwh": "kilowattHour", "MWh": "megawattHour",
    "s": "second", "min": "minute", "h": "hour", "hr": "hour", "d": "day",
    "m": "metre", "km": "kilometre", "m2": "squareMetre", "m²": "squareMetre", "ha": "hectare",
    "tkm": "tonneKilometre", "gCO2e": "gramCO2e", "kgCO2e": "kilogramCO2e",
    "tCO2e": "tonneCO2e", "EUR": "euro", "€": "euro",
}  # fmt: skip

# Spelled-out names, matched case-insensitively, besides the canonical ids themselves.
_NAMES: Final[dict[str, str]] = {
    "kilograms": "kilogram", "grams": "gram", "tonnes": "tonne", "metricTon": "tonne",
    "liter": "litre", "litres": "litre", "liters": "litre", "milliliter": "millilitre",
    "cubicMeter": "cubicMetre", "kilowattHours": "kilowattHour", "hours": "hour",
    "minutes": "minute", "seconds": "second", "days": "day", "meter": "metre",
    "meters": "metre", "kilometer": "kilometre", "kilometers": "kilometre",
    "squareMeter": "squareMetre", "hectares": "hectare", "tonneKilometer": "tonneKilometre",
    "euros": "euro",
}  # fmt: skip

_BY_NAME: Final[dict[str, str]] = {
    name.casefold(): unit for name, unit in {**{u: u for u in UNITS}, **_NAMES}.items()
}
# Canonical decimal text: "0", or an optional "-", digits without leading zeros, and an
# optional fraction without trailing zeros. (No look-ahead: pydantic's Rust regex lacks it.)
DECIMAL_PATTERN: Final = r"^(0|-?[1-9][0-9]*(\.[0-9]*[1-9])?|-?0\.[0-9]*[1-9])$"
_NUMBER = re.compile(DECIMAL_PATTERN)
_QUANTITY = re.compile(
    r"\s*(?P<number>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?P<unit>[^\s0-9].*?)\s*"
)


def canonical_unit(label: str) -> str:
    """The canonical OM2 unit id for a unit id, `om2:` name, OM2 IRI, name or symbol."""
    bare = label.strip().removeprefix("om2:").removeprefix(OM2)
    unit = _SYMBOLS.get(bare) or _BY_NAME.get(bare.casefold())
    if unit is None:
        raise UnitError(f"unknown unit {label!r}; known units: {', '.join(UNITS)}")
    return unit


def to_decimal(value: Decimal | int | str) -> Decimal:
    """An exact finite Decimal from a Decimal, an int or a decimal string; never a float."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise UnitError(f"a quantity must be a decimal string or Decimal, not {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise UnitError(f"not a decimal number: {value!r}") from None
    if not number.is_finite():
        raise UnitError(f"a quantity must be finite, not {value!r}")
    return number


def bounded(number: Decimal) -> Decimal:
    """`number` if it is written with at most MAX_DIGITS digits (checked before it is
    written out: 1e999999999 would take a gigabyte), else UnitError."""
    if number and not -MAX_DIGITS <= number.adjusted() < MAX_DIGITS:
        raise UnitError(f"{number} is too large or too precise: a quantity has at most "
                        f"{MAX_DIGITS} digits")
    digits = len(decimal_string(number).lstrip("-").replace(".", ""))
    if digits > MAX_DIGITS:
        raise UnitError(f"{number} is too large or too precise: a quantity has at most "
                        f"{MAX_DIGITS} digits")
    return number


def decimal_string(number: Decimal) -> str:
    """The canonical text of a finite Decimal: no exponent, no trailing zeros, no "-0"."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """`value` in `from_unit` expressed exactly in `to_unit` (both canonical ids)."""
    if from_unit == to_unit:
        return value
    if value.is_finite():
        return _convert_memo(value, from_unit, to_unit)
    return _convert(value, from_unit, to_unit)


def _convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """convert between two different units, computed."""
    source, target = _unit(from_unit), _unit(to_unit)
    if source.dimension != target.dimension:
        raise UnitError(
            f"cannot convert {from_unit} to {to_unit}: incompatible dimensions "
            f"({source.dimension} vs {target.dimension})"
        )
    exact = Fraction(value) * Fraction(source.factor) / Fraction(target.factor)
    result = exact_decimal(exact)
    if result is None:
        raise UnitError(
            f"{decimal_string(value)} {from_unit} is not an exact decimal number of {to_unit}"
        )
    return result


# Validation converts the same few quantities again and again (every event of a chain
# is checked and folded). Memoizing is exact: the result depends only on the value of
# `value` (through Fraction), so Decimals equal in value (1.0, 1) may share an entry, and
# identical units are answered above, before the memo. Errors are raised, never cached.
_convert_memo: Final = lru_cache(maxsize=4096)(_convert)


def compatible(unit_a: str, unit_b: str) -> bool:
    """Whether quantities in these two canonical units have the same dimension."""
    return _unit(unit_a).dimension == _unit(unit_b).dimension


def _unit(unit: str) -> Unit:
    try:
        return UNITS[unit]
    except KeyError:
        raise UnitError(f"unknown unit {unit!r}; known units: {', '.join(UNITS)}") from None


def exact_decimal(exact: Fraction) -> Decimal | None:
    """The Fraction as an exact Decimal, or None when its decimal expansion never ends."""
    denominator, twos, fives = exact.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        return None
    digits = max(twos, fives)
    scaled = exact.numerator * 10**digits // exact.denominator
    return Decimal(scaled).scaleb(-digits)


class Measure(BaseModel):
    """An OM2 measure: a canonical decimal string and a canonical unit id.

    Direct construction is strict (one encoding per value, so decoding and re-encoding an
    entry gives back the same bytes); `Measure.of` and `parse_quantity` normalise.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    has_numerical_value: str = Field(max_length=MAX_DIGITS + 2)
    has_unit: str

    @field_validator("has_numerical_value", mode="before")
    @classmethod
    def _canonical_number(cls, value: Any) -> Any:
        if isinstance(value, Decimal):
            return decimal_string(bounded(to_decimal(value)))
        if not isinstance(value, str):  # (lax pydantic would take bytes for text)
            raise ValueError("hasNumericalValue must be a decimal string")
        if not _NUMBER.fullmatch(value):
            raise ValueError(
                f"hasNumericalValue {value!r} is not a canonical decimal string"
                + _canonical_hint(value)
            )
        return value

    @field_validator("has_unit")
    @classmethod
    def _canonical_unit(cls, value: str) -> str:
        if value not in UNITS:
            raise ValueError(f"hasUnit {value!r} is not a canonical unit id" + _unit_hint(value))
        return value

    @classmethod
    def of(cls, value: Decimal | int | str, unit: str) -> Measure:
        """A measure from any exact number and any known unit label."""
        number = decimal_string(bounded(to_decimal(value)))
        return cls(has_numerical_value=number, has_unit=canonical_unit(unit))

    @property
    def value(self) -> Decimal:
        """The numerical value as an exact Decimal."""
        return Decimal(self.has_numerical_value)

    def to_content(self) -> dict[str, str]:
        """The encodable form, with OM2/VF names."""
        return {"hasNumericalValue": self.has_numerical_value, "hasUnit": self.has_unit}

    def to(self, unit: str) -> Measure:
        """This measure expressed exactly in another unit."""
        target = canonical_unit(unit)
        return Measure.of(convert(self.value, self.has_unit, target), target)

    def __str__(self) -> str:
        return f"{self.has_numerical_value} {self.has_unit}"


def parse_quantity(text: str) -> Measure:
    """A measure from text such as "40 kg", "2.5 kilowattHour" or "-3 om2:hour"."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise UnitError(f"not a quantity: {text!r} (expected a number and a unit, e.g. '40 kg')")
    return Measure.of(match["number"], match["unit"])


def _canonical_hint(value: str) -> str:
    try:
        return f"; write {decimal_string(bounded(to_decimal(value)))!r}"
    except UnitError:
        return ""


def _unit_hint(value: str) -> str:
    try:
        return f"; write {canonical_unit(value)!r}"
    except UnitError:
        return ""


@cache
def pint_registry() -> pint.UnitRegistry[Any]:
    """pint's registry with the units it lacks (CO2-equivalent mass, euro) as new dimensions."""
    import pint

    registry: pint.UnitRegistry[Any] = pint.UnitRegistry()
    registry.define("kilogram_CO2e = [co2e_mass]")
    registry.define("gram_CO2e = 0.001 * kilogram_CO2e")
    registry.define("tonne_CO2e = 1000 * kilogram_CO2e")
    registry.define("euro = [currency_EUR]")
    return registry
