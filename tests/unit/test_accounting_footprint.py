"""Thermodynamic accounting on farm → mill → bakery, worked out by hand.

Farming consumes 12 l diesel (38.6 MJ, 2.68 kgCO2e, 0.832 kg diesel per litre) and 50 m³
water: 463.2 MJ, 32.16 kgCO2e, 9.984 kg diesel, 50 m³, all into 1000 kg wheat. Milling adds
40 kWh (3.6 MJ, 0.25 kgCO2e per kWh): 144 MJ, 10 kgCO2e, and splits 800 kg flour / 200 kg
bran: by mass the flour carries 0.8 of 607.2 MJ = 485.76 MJ and of 42.16 kgCO2e = 33.728.
Baking turns the 800 kg flour into 1200 kg bread.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from zomes.accounting.common import AccountingError
from zomes.accounting.footprint import (
    Allocation,
    AllocationShare,
    Budget,
    Factor,
    SpecFootprint,
    footprint,
    perma_circularity,
    sustainability_quotient,
)
from zomes.accounting.testing import Chain, bread_chain, bread_footprints
from zomes.valueflows.units import Measure


def report(chain: Chain, name: str, **options: object):  # type: ignore[no-untyped-def]
    return footprint(
        chain.at(name),
        index=chain.index(),
        events=chain.events,
        processes=chain.processes,
        resources=chain.resources,
        spec_footprints=bread_footprints(),
        **options,  # type: ignore[arg-type]
    )


def test_bread_includes_the_mills_electricity_and_the_farms_diesel() -> None:
    chain = bread_chain()
    bread = report(chain, "bread")
    assert bread.quantity == 1200 and bread.unit == "kilogram"
    assert bread.total("energy") == Decimal("485.76")
    assert bread.total("emissions") == Decimal("33.728")
    assert bread.total("water") == Decimal("40")
    assert bread.total("material", "diesel") == Decimal("7.9872")
    by_event = {part.event: part.footprint for part in bread.parts}
    electricity = by_event[chain.at("consume electricity")]
    assert electricity == {"energy": Decimal("115.2"), "emissions": 8}
    diesel = by_event[chain.at("consume diesel")]
    assert diesel["energy"] == Decimal("370.56") and diesel["emissions"] == Decimal("25.728")
    assert all(part.source == "input" for part in bread.parts)
    parts_of = {part.event: part.process for part in bread.parts}
    assert parts_of[chain.at("consume diesel")] == chain.at("farming")
    assert parts_of[chain.at("consume electricity")] == chain.at("milling")
    assert bread.missing == ()


def test_allocation_by_mass_splits_the_mill_between_flour_and_bran() -> None:
    chain = bread_chain()
    flour, bran = report(chain, "flour"), report(chain, "bran")
    assert flour.total("energy") == Decimal("485.76")
    assert bran.total("energy") == Decimal("121.44")
    assert flour.total("emissions") + bran.total("emissions") == Decimal("42.16")
    assert flour.per_unit == bran.per_unit  # same mill, same footprint per kilogram


def test_a_declared_allocation_overrides_mass() -> None:
    chain = bread_chain()
    allocation = Allocation(
        process=chain.at("milling"),
        shares=(
            AllocationShare(resource=chain.at("flour"), fraction="0.9"),
            AllocationShare(resource=chain.at("bran"), fraction="0.1"),
        ),
    )
    bread = report(chain, "bread", allocations={chain.at("milling"): allocation})
    assert bread.total("emissions") == Decimal("37.944")  # 0.9 × 42.16
    assert bread.total("energy") == Decimal("546.48")  # 0.9 × 607.2


def test_scaled_to_a_requested_quantity() -> None:
    chain = bread_chain()
    loaf = report(chain, "bread", quantity=Measure.of(500, "g"))
    assert loaf.total("energy") == Decimal("0.2024")  # 485.76 / 1200 / 2
    assert loaf.to_json()["quantity"] == {"hasNumericalValue": "0.5", "hasUnit": "kilogram"}


def test_a_raw_resource_has_its_declared_footprint_and_gaps_are_listed() -> None:
    chain = bread_chain()
    diesel = report(chain, "farm diesel")
    assert diesel.total("energy") == Decimal("3860")  # 100 l raised
    assert [part.source for part in diesel.parts] == ["declared"]
    recipe = report(chain, "recipe")
    assert recipe.totals == {} and recipe.missing == (chain.spec_at("recipe"),)


def test_several_outputs_not_in_mass_need_an_allocation() -> None:
    chain = bread_chain()
    chain.resource("mill heat", "electricity", "kilowattHour")
    chain.event("produce heat", "produce", "mill", resource_quantity=(5, "kWh"),
                resource_inventoried_as="mill heat", output_of="milling")  # fmt: skip
    with pytest.raises(AccountingError, match="declare an Allocation"):
        report(chain, "flour")


def test_flows_that_loop_back_are_refused() -> None:
    chain = bread_chain()
    chain.event("produce power", "produce", "mill", resource_quantity=(5, "kWh"),
                resource_inventoried_as="mill electricity", output_of="milling")  # fmt: skip
    with pytest.raises(AccountingError, match="loop back"):
        report(chain, "flour")


def test_entries_check_themselves() -> None:
    with pytest.raises(ValidationError, match="measured like megajoule"):
        Factor(kind="energy", quantity=Measure.of(1, "kg"))
    with pytest.raises(ValidationError, match="names its material"):
        Factor(kind="material", quantity=Measure.of(1, "kg"))
    with pytest.raises(ValidationError, match="add up to 1"):
        Allocation(
            process=bread_chain().at("milling"),
            shares=(AllocationShare(resource=bread_chain().at("flour"), fraction="0.5"),),
        )
    spec = bread_footprints()[bread_chain().spec_at("diesel")]
    assert SpecFootprint.from_content(spec.to_content()) == spec
    assert spec.to_content()["factors"][0] == {
        "kind": "energy",
        "quantity": {"hasNumericalValue": "38.6", "hasUnit": "megajoule"},
    }


def test_sustainability_quotient_and_budgets() -> None:
    budget = Budget(
        kind="emissions",
        period_start=0,
        period_end=10,
        allocated=Measure.of(40, "kgCO2e"),
    )
    assert sustainability_quotient(Decimal("33.728"), budget) == Decimal("0.8432")
    assert sustainability_quotient(Measure.of(50, "kgCO2e"), budget) == Decimal("1.25")
    assert sustainability_quotient(Measure.of("0.06", "tCO2e"), budget) == Decimal("1.5")
    assert Budget.from_content(budget.to_content()) == budget
    with pytest.raises(ValidationError):
        Budget(kind="water", period_start=0, period_end=1, allocated=Measure.of(1, "kg"))


def test_perma_circularity_flags_growth_above_one_percent() -> None:
    flags = perma_circularity(
        [("2024", Decimal(1000)), ("2025", Decimal(1010)), ("2026", Decimal("1020.11")),
         ("2027", Decimal(900)), ("2028", Decimal(0)), ("2029", Decimal(5))]
    )  # fmt: skip
    assert [f.flagged for f in flags] == [False, False, True, False, False, True]
    assert flags[1].growth == Decimal("0.01") and flags[2].growth == Decimal("0.010010")
    assert flags[0].growth is None and flags[5].growth is None
