"""PACT 3.0.3 by the specification's rules (the `x-rule`s and property texts of the
ProductFootprint), not only its schema: the three-cooperative story (farm -> mill ->
bakery) exported as coledger exports it, bread counted in pieces of a declared mass and
flour per kilogram, each rule checked on the document; the vendored 3.0.3 schema checked
against the upstream examples."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from zomes.accounting.common import AccountingError
from zomes.accounting.dataset import Dataset
from zomes.accounting.pact import pact_schema, validate_pact
from zomes.accounting.pact_scope import UN_REGIONS, Geography, common_geography, geography_of
from zomes.accounting.reports import export
from zomes.accounting.testing import START, address, bread_chain, bread_footprints, spec_address
from zomes.valueflows.entries import ResourceSpecification
from zomes.valueflows.units import Measure

EXAMPLES = Path(__file__).parents[1] / "data" / "pact-3.0.3"
PIECES = 2400  # the bakery's 1200 kg of bread, as loaves of half a kilogram
PLACES = {"farm": "Ferme des Prés, Chartres, FR", "mill": "Moulin de Vaux, Dijon, FR",
          "bakery": "Fournil, Lyon, FR"}  # fmt: skip


def story(places: dict[str, str] | None = None, mass: str | None = "0.5 kg") -> Dataset:
    """The three cooperatives' records as a gathered Dataset: bread counted in pieces (its
    specification declaring `mass` per piece), each event at its cooperative's place."""
    chain, places = bread_chain(), PLACES if places is None else places
    ds = Dataset()
    names = {chain.agent(n): n for n in ("farm", "mill", "bakery", "ana", "ben", "cleo")}
    home = {"ana": "farm", "ben": "mill", "cleo": "bakery"}
    for at, event in chain.events:
        who = names[chain.authors[at]]
        where = places.get(home.get(who, who))
        if event.action == "produce" and event.resource_inventoried_as == address("bread"):
            event = event.model_copy(update={"resource_quantity": Measure.of(PIECES, "one")})
        ds.events[at] = event.model_copy(update={"at_location": where})
        ds.authors[at] = chain.authors[at]
    ds.resources |= chain.resources
    ds.resources[address("bread")] = chain.resources[address("bread")].model_copy(
        update={"unit_of_resource": "one"}
    )
    ds.processes |= chain.processes
    ds.specs |= chain.specs
    ds.specs[spec_address("bread")] = ResourceSpecification.model_validate(
        {"name": "sourdough loaf", "defaultUnitOfResource": "one"}
        | ({"massPerUnit": {"hasNumericalValue": mass.split()[0], "hasUnit": "kilogram"}}
           if mass else {})
    )  # fmt: skip
    for name, declared in bread_footprints().items():
        ds.footprints[name + "f"] = declared
        ds.authors[name + "f"] = chain.agent("farm" if name == spec_address("diesel") else "mill")
        ds.created_at[name + "f"] = START
    ds.authors |= {address("bread"): chain.agent("bakery"), address("flour"): chain.agent("mill")}
    ds.names |= {chain.agent(n): n.title() for n in ("farm", "mill", "bakery")}
    return ds


def pact(ds: Dataset, resource: str) -> dict[str, Any]:
    text = export(ds, "pact", me=bread_chain().agent("bakery"), now_us=START, resource=resource)
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.fixture(scope="module")
def bread() -> dict[str, Any]:
    return pact(story(), address("bread"))


@pytest.fixture(scope="module")
def flour() -> dict[str, Any]:
    return pact(story(), address("flour"))


def rules(definition: str) -> dict[str, str]:
    """{property: x-rule} of one definition of the vendored schema."""
    schema = pact_schema()
    node = schema if definition == "ProductFootprint" else schema["$defs"][definition]
    return {name: p["x-rule"] for name, p in node["properties"].items() if "x-rule" in p}


def test_the_vendored_schema_is_3_0_3_with_its_rules_and_takes_the_upstream_examples() -> None:
    schema = pact_schema()
    assert "3.0.3" in schema["title"] and "v3.0.3" in schema["$comment"]
    assert rules("CarbonFootprint")["primaryDataShare"] == "SHALL"
    assert rules("CarbonFootprint")["dqi"] == "SHALL-2027"
    assert schema["$defs"]["CarbonFootprint"]["properties"]["geographyRegionOrSubregion"][
        "enum"] == list(UN_REGIONS)  # fmt: skip
    for example in sorted(EXAMPLES.glob("example-*.json")):
        validate_pact(json.loads(example.read_text()))  # upstream's own documents pass


def test_the_exports_validate_against_the_vendored_schema(bread, flour) -> None:
    for document in (bread, flour):
        validate_pact(document)
        assert document["specVersion"] == "3.0.3"
    two_places = copy.deepcopy(bread)
    two_places["pcf"]["geographyRegionOrSubregion"] = "Western Europe"
    with pytest.raises(AccountingError, match="valid under each of"):  # the oneOf holds
        validate_pact(two_places)


def test_every_shall_rule_of_the_footprint_is_met(bread, flour) -> None:
    for document in (bread, flour):
        for definition, node in (("ProductFootprint", document),
                                 ("CarbonFootprint", document["pcf"]),
                                 ("DataQualityIndicators", document["pcf"]["dqi"])):  # fmt: skip
            shall = {p for p, rule in rules(definition).items() if rule.startswith("SHALL")}
            assert shall <= set(node), (definition, shall - set(node))


def test_bread_per_piece_declares_the_mass_of_its_pieces(bread) -> None:
    pcf = bread["pcf"]
    assert pcf["declaredUnitOfMeasurement"] == "piece" and pcf["declaredUnitAmount"] == "1"
    assert pcf["productMassPerDeclaredUnit"] == "0.5"  # not 0: the spec's mass per piece
    # the bakery's 33.728 kgCO2e over 2400 loaves, to 6 places
    assert pcf["pcfExcludingBiogenicUptake"] == pcf["fossilGhgEmissions"] == "0.014053"


def test_flour_per_kilogram_has_the_mass_of_a_kilogram(flour) -> None:
    pcf = flour["pcf"]
    assert pcf["declaredUnitOfMeasurement"] == "kilogram"
    assert pcf["declaredUnitAmount"] == "1" and pcf["productMassPerDeclaredUnit"] == "1"


def test_a_piece_of_no_declared_mass_is_refused_in_one_line() -> None:
    with pytest.raises(AccountingError, match="needs the mass of one") as error:
        pact(story(mass=None), address("bread"))
    assert "piece" in str(error.value) and "\n" not in str(error.value)
    assert "the mass per unit of its resource specification (sourdough loaf)" in str(error.value)
    no_spec = story(mass=None)
    no_spec.resources[address("bread")] = no_spec.resources[address("bread")].model_copy(
        update={"conforms_to": None}
    )
    with pytest.raises(AccountingError, match="conforms to no resource specification"):
        pact(no_spec, address("bread"))


def test_a_specification_mass_is_a_mass_of_a_unit() -> None:
    loaf = {"name": "loaf", "defaultUnitOfResource": "one"}
    for number, unit in (("2", "litre"), ("0", "kilogram"), ("-1", "gram")):
        mass = {"hasNumericalValue": number, "hasUnit": unit}
        with pytest.raises(ValueError, match="mass"):
            ResourceSpecification.model_validate(loaf | {"massPerUnit": mass})
    old = ResourceSpecification(name="loaf", default_unit_of_resource="one")
    assert "massPerUnit" not in old.to_content()  # entries without it encode as before


def test_primary_data_share_is_the_emissions_from_recorded_activity(bread) -> None:
    # every kgCO2e of the bread comes from consumed inputs recorded in the chain
    assert bread["pcf"]["primaryDataShare"] == "100"
    power = pact(story(), address("mill electricity"))  # raised: its declared footprint alone
    assert power["pcf"]["primaryDataShare"] == "0"
    assert power["pcf"]["dqi"] == {"technologicalDQR": "3", "geographicalDQR": "3",
                                   "temporalDQR": "3"}  # fmt: skip
    assert power["pcf"]["declaredUnitOfMeasurement"] == "kilowatt hour"
    assert power["pcf"]["productMassPerDeclaredUnit"] == "0"  # energy: no mass, PACT says 0


def test_no_carbon_capture_nor_packaging_is_declared_so_their_properties_are_absent(bread):
    pcf = bread["pcf"]
    assert pcf["ccsTechnologicalCO2CaptureIncluded"] is False
    assert pcf["packagingEmissionsIncluded"] is False
    ccs_ccu = {p for p, rule in rules("CarbonFootprint").items() if "CC" in rule}
    assert ccs_ccu == {"ccsTechnologicalCO2Capture", "technologicalCO2CaptureOrigin",
                       "technologicalCO2Removals", "ccuCarbonContent", "ccuCalculationApproach",
                       "ccuCreditCertification"}  # fmt: skip
    assert not ccs_ccu & set(pcf) and "packagingGhgEmissions" not in pcf


def test_geography_comes_from_the_places_the_product_was_made(bread, flour) -> None:
    assert bread["pcf"]["geographyCountry"] == "FR" and flour["pcf"]["geographyCountry"] == "FR"
    lyon = pact(story(PLACES | {"bakery": "Fournil, Lyon, FR-ARA"}), address("bread"))
    assert lyon["pcf"]["geographyCountrySubdivision"] == "FR-ARA"
    assert "geographyCountry" not in lyon["pcf"]
    europe = pact(story(PLACES | {"bakery": "somewhere, western europe"}), address("bread"))
    assert europe["pcf"]["geographyRegionOrSubregion"] == "Western Europe"
    nowhere = pact(story(PLACES | {"bakery": "the bakery"}), address("bread"))
    assert not {k for k in nowhere["pcf"] if k.startswith("geography")}  # global


def test_location_labels_name_a_geography_only_in_iso_or_un_terms() -> None:
    assert geography_of("Moulin, Dijon, FR") == Geography("geographyCountry", "FR")
    assert geography_of("DE-BW") == Geography("geographyCountrySubdivision", "DE-BW")
    for label in ("Dijon", "Mill, UK", "Mill, fr", "Mill, XX-1", "", None):
        assert geography_of(label) is None, label
    assert common_geography(["a, FR", None, "b, FR"]) == Geography("geographyCountry", "FR")
    assert common_geography(["a, FR", "b, DE"]) is None  # made in two countries: global
    assert common_geography(["a, FR", "b"]) is None  # one place unknown


def test_data_quality_ratings_are_the_parts_weighted_by_emissions(bread) -> None:
    # consumed inputs: factors per specification (2), at a place in the product's
    # country (1), within the reference period (1)
    assert bread["pcf"]["dqi"] == {"technologicalDQR": "2", "geographicalDQR": "1",
                                   "temporalDQR": "1"}  # fmt: skip
    geneva = pact(story(PLACES | {"bakery": "Fournil, Genève, CH"}), address("bread"))
    assert geneva["pcf"]["geographyCountry"] == "CH"
    assert geneva["pcf"]["dqi"]["geographicalDQR"] == "2"  # the inputs were used in FR
    # the farm's diesel has no place (3) for its 25.728 of the 33.728 kgCO2e, the mill's
    # electricity is in France (1) for the other 8: (25.728 x 3 + 8) / 33.728 = 2.53
    farm_unknown = pact(story(PLACES | {"farm": "the farm"}), address("bread"))
    assert farm_unknown["pcf"]["dqi"]["geographicalDQR"] == "2.5"


def test_the_secondary_factors_processes_and_omissions_are_named(bread) -> None:
    pcf = bread["pcf"]
    sources = {s["name"] for s in pcf["secondaryEmissionFactorSources"]}
    assert sources == {"coledger declared footprint of diesel, by Farm",
                       "coledger declared footprint of electricity, by Mill"}  # fmt: skip
    assert {s["version"] for s in pcf["secondaryEmissionFactorSources"]} == {
        "2024-06-01T00:00:00Z"}  # fmt: skip
    assert "farming: diesel, water" in pcf["boundaryProcessesDescription"]
    assert "milling: electricity" in pcf["boundaryProcessesDescription"]
    assert "biogenic" in bread["comment"] and "not assessed" in bread["comment"]
