"""PACT 3.0.3 on the command line, on the farm and mill homes of test_accounting_cli: a
specification declares the mass of one piece (`spec create --mass`), the mill bakes loaves
counted in pieces at a place in France, and `export --format pact` declares the loaf's mass
and the country; rolls whose specification declares no mass are refused in one line."""

from __future__ import annotations

import json

from tests.integration.test_accounting_cli import coops, made  # noqa: F401 (the fixture)


def bake(mill, x, spec: str, name: str, flour: str, pieces: str) -> str:  # type: ignore[no-untyped-def]
    """The mill bakes `flour` of its flour into `pieces` of `name` in a process of its own,
    at its bakehouse in Lyon."""
    place = ("--location", "Fournil du Moulin, Lyon, FR")
    process = mill("process", "create", f"baking {name}")["address"]
    mill("record", "consume", "--resource", x["flour"], "--quantity", flour,
         "--input-of", process, "--at", "2026-01-13T00:00:00+00:00", *place)
    return made(mill("record", "produce", "--resource", f"new:{name}", "--conforms-to", spec,
                     "--quantity", pieces, "--output-of", process,
                     "--at", "2026-01-14T00:00:00+00:00", *place), name)


def test_a_loaf_counted_in_pieces_is_exported_with_its_declared_mass(coops):  # noqa: F811
    from zomes.accounting.pact import validate_pact

    mill, x = coops["mill"], coops["x"]
    loaf = mill("spec", "create", "loaf", "--unit", "each", "--mass", "500 g")
    assert loaf["kind"] == "ResourceSpecification"
    loaves = bake(mill, x, loaf["address"], "loaves", "100 kg", "200 each")
    document = json.loads(mill.text("export", "--format", "pact", "--resource", loaves))
    validate_pact(document)
    pcf = document["pcf"]
    assert pcf["declaredUnitOfMeasurement"] == "piece" and pcf["declaredUnitAmount"] == "1"
    assert pcf["productMassPerDeclaredUnit"] == "0.5"  # 500 g, in kilograms
    assert pcf["geographyCountry"] == "FR" and pcf["primaryDataShare"] == "100"
    assert pcf["ccsTechnologicalCO2CaptureIncluded"] is False
    # the farm's diesel and the mill's electricity were used at places naming no country
    assert pcf["dqi"] == {"technologicalDQR": "2", "geographicalDQR": "3", "temporalDQR": "1"}


def test_a_piece_of_no_declared_mass_is_refused_and_a_mass_must_be_a_mass(coops):  # noqa: F811
    mill, x = coops["mill"], coops["x"]
    roll = mill("spec", "create", "roll", "--unit", "each")["address"]
    rolls = bake(mill, x, roll, "rolls", "10 kg", "100 each")
    err = mill.fails("export", "--format", "pact", "--resource", rolls)
    assert "needs the mass of one" in err and "piece" in err
    assert "mass" in mill.fails("spec", "create", "bun", "--unit", "each", "--mass", "2 l")
    assert "mass" in mill.fails("spec", "create", "bun", "--unit", "each", "--mass", "heavy")
    assert "--mass" in mill.fails("spec", "create", "baking", "--process", "--mass", "1 kg")
