"""Quantities and units: exact Decimal conversion, canonical text, the factor table vs pint."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from zomes.valueflows.units import (
    UNITS,
    Measure,
    UnitError,
    canonical_unit,
    convert,
    decimal_string,
    parse_quantity,
    pint_registry,
)

D = Decimal


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        ("1", "gram", "kilogram", "0.001"),
        ("2500", "gram", "kilogram", "2.5"),
        ("2.5", "kilogram", "gram", "2500"),
        ("1", "kilowattHour", "megajoule", "3.6"),
        ("90", "minute", "hour", "1.5"),
        ("1", "tonne", "kilogram", "1000"),
        ("250", "millilitre", "litre", "0.25"),
        ("3", "tonneCO2e", "kilogramCO2e", "3000"),
    ],
)
def test_conversions_are_exact(value: str, source: str, target: str, expected: str) -> None:
    assert convert(D(value), source, target) == D(expected)


def test_incompatible_dimensions_are_rejected_with_both_named() -> None:
    with pytest.raises(UnitError, match=r"^cannot convert hour to kilogram: incompatible "
                       r"dimensions \(time vs mass\)$"):  # fmt: skip
        convert(D(1), "hour", "kilogram")


def test_currency_and_co2e_are_their_own_dimensions() -> None:
    for other in ("kilogram", "one"):
        with pytest.raises(UnitError, match="incompatible dimensions"):
            convert(D(1), "euro", other)
        with pytest.raises(UnitError, match="incompatible dimensions"):
            convert(D(1), "kilogramCO2e", other)


def test_inexact_conversions_are_rejected_not_rounded() -> None:
    with pytest.raises(UnitError, match="not an exact decimal number of hour"):
        convert(D(1), "minute", "hour")


@pytest.mark.parametrize(
    ("label", "unit"),
    [
        ("kilogram", "kilogram"), ("om2:kilogram", "kilogram"), ("kg", "kilogram"),
        ("Kilogram", "kilogram"), ("g", "gram"), ("litre", "litre"), ("liter", "litre"),
        ("l", "litre"), ("m3", "cubicMetre"), ("kWh", "kilowattHour"), ("MJ", "megajoule"),
        ("h", "hour"), ("each", "one"), ("unit", "one"), ("kgCO2e", "kilogramCO2e"),
        ("EUR", "euro"), ("tkm", "tonneKilometre"),
        ("http://www.ontology-of-units-of-measure.org/resource/om-2/hour", "hour"),
    ],
)  # fmt: skip
def test_labels_map_to_canonical_ids(label: str, unit: str) -> None:
    assert canonical_unit(label) == unit


@pytest.mark.parametrize("label", ["furlong", "mJ", "", "KG "])
def test_unknown_units_are_rejected_in_one_line(label: str) -> None:
    with pytest.raises(UnitError, match="^unknown unit") as error:
        canonical_unit(label)
    assert "\n" not in str(error.value)


def test_parse_quantity() -> None:
    assert parse_quantity("40 kg") == Measure(has_numerical_value="40", has_unit="kilogram")
    assert parse_quantity("2.50kWh").to_content() == {
        "hasNumericalValue": "2.5",
        "hasUnit": "kilowattHour",
    }
    assert parse_quantity("-3 om2:hour").value == D(-3)
    for bad in ("kg", "40", "forty kg", "NaN kg", "inf kg", "401"):
        with pytest.raises(UnitError):
            parse_quantity(bad)


def test_measures_reject_floats_non_finite_and_non_canonical_text() -> None:
    for value in (2.5, "2.50", "-0", "1e3", "NaN", "Infinity", True):
        with pytest.raises((ValidationError, UnitError)):
            Measure(has_numerical_value=value, has_unit="kilogram")  # type: ignore[arg-type]
    with pytest.raises(UnitError):
        Measure.of(D("NaN"), "kg")
    with pytest.raises(UnitError):
        Measure.of(2.5, "kg")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="write 'kilogram'"):
        Measure(has_numerical_value="1", has_unit="kg")


def test_measure_to_another_unit() -> None:
    assert Measure.of("2500", "g").to("kg") == Measure.of("2.5", "kilogram")


def test_every_table_factor_and_dimension_agrees_with_pint() -> None:
    registry = pint_registry()
    by_dimension: dict[str, set[str]] = {}
    for name, unit in UNITS.items():
        quantity = registry.Quantity(1, registry.parse_units(unit.pint))
        base = quantity.to_base_units()
        assert Fraction(base.magnitude).limit_denominator(10**12) == Fraction(unit.factor), name
        by_dimension.setdefault(unit.dimension, set()).add(str(base.units))
    # one pint base unit per dimension of the table, a different one for each dimension
    assert all(len(bases) == 1 for bases in by_dimension.values()), by_dimension
    assert len({next(iter(b)) for b in by_dimension.values()}) == len(by_dimension)


decimals = st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9),
                       max_value=10**9)  # fmt: skip
units = st.sampled_from(sorted(UNITS))


@given(decimals, units, units)
def test_conversion_round_trips_exactly(value: Decimal, source: str, target: str) -> None:
    try:
        there = convert(value, source, target)
    except UnitError:
        return
    assert convert(there, target, source) == value
    assert Fraction(there) * Fraction(UNITS[target].factor) == Fraction(value) * Fraction(
        UNITS[source].factor
    )


@given(decimals, units)
def test_measure_text_round_trips(value: Decimal, unit: str) -> None:
    measure = Measure.of(value, unit)
    assert measure.value == value
    assert Measure.model_validate(measure.to_content()) == measure
    assert parse_quantity(str(measure)) == measure
    assert decimal_string(measure.value) == measure.has_numerical_value


@pytest.mark.parametrize("text", ["1e999999999", "-1E+999999999", "1e-999999999"])
def test_a_huge_exponent_is_refused_without_writing_it_out(text: str) -> None:
    """A peer's hasNumericalValue "1e999999999" once cost a validator a gigabyte (writing
    the canonical-form hint), and `--quantity "1e999999999 kg"` the same."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError):
            Measure(has_numerical_value=text, has_unit="kilogram")
        with pytest.raises(UnitError, match="at most 40 digits"):
            parse_quantity(f"{text} kg")
        with pytest.raises(UnitError, match="at most 40 digits"):
            Measure.of(Decimal(text), "kg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, peak
