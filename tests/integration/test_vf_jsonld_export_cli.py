"""`coledger export --format vf-jsonld` on a real home, read as RDF (pyld): the places
given with --location carry the coordinates `coledger place create` gave them, resources
their quantities and accountable agent, units their OM 2.0 names; and the export imports."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rdflib
from pyld import jsonld as pyld  # type: ignore[import-untyped]
from rdflib.namespace import RDF, XSD

from tests.cli_home import CliHome
from zomes.accounting.jsonld import AGENT_PREFIX, EXTENSIONS, VF, node_id, place_iri
from zomes.accounting.jsonld_import import read_vf_graph
from zomes.valueflows.units import OM2

V = rdflib.Namespace(VF)
OM = rdflib.Namespace(OM2)


@pytest.fixture
def coop(tmp_path: Any, capsys: Any, monkeypatch: Any) -> tuple[CliHome, str]:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", "export cli test")
    monkeypatch.chdir(tmp_path)
    home = CliHome(tmp_path / "home", capsys)
    me = home("init", "--name", "Valley Coop")
    home("network", "create", "valley")
    assert isinstance(me, dict)
    return home, str(me["agent_id"])


def graph_of(document: dict[str, Any]) -> rdflib.Graph:
    nquads = pyld.to_rdf(document, {"format": "application/n-quads"})
    return rdflib.Graph().parse(data=nquads, format="nt")


def test_places_quantities_and_units_of_a_homes_export(coop: tuple[CliHome, str]) -> None:
    home, me = coop
    spec = home("spec", "create", "wheat", "--unit", "kg")
    assert isinstance(spec, dict)
    raised = home("record", "raise", "--resource", "new:wheat", "--conforms-to", spec["address"],
                  "--quantity", "100 kg", "--location", "Farm silo")
    assert isinstance(raised, dict)
    wheat = raised["created_resources"]["wheat"]
    drying = home("process", "create", "drying")
    assert isinstance(drying, dict)
    home("record", "work", "--effort", "30 min", "--input-of", drying["address"],
         "--location", "Farm silo")
    home("record", "move", "--resource", wheat, "--to-resource", wheat, "--quantity", "40 kg",
         "--to-location", "Mill yard")
    place = home("place", "create", "Farm silo", "--lat", "47.5", "--long", "8.75",
                 "--address", "Hof 1, Dorf")
    assert isinstance(place, dict) and place["name"] == "Farm silo"
    document = json.loads(home.text("export", "--format", "vf-jsonld"))
    graph = graph_of(document)
    silo, yard = rdflib.URIRef(place_iri("Farm silo")), rdflib.URIRef(place_iri("Mill yard"))
    at = rdflib.URIRef(EXTENSIONS + "atLocation")
    assert len(set(graph.subjects(at, silo))) == 2  # the raise and the work: one place
    assert graph.value(silo, RDF.type) == V.SpatialThing
    assert graph.value(silo, V.lat) == rdflib.Literal("47.5", datatype=XSD.decimal)
    assert graph.value(silo, V.long) == rdflib.Literal("8.75", datatype=XSD.decimal)
    assert str(graph.value(silo, V.mappableAddress)) == "Hof 1, Dorf"
    assert graph.value(yard, V.lat) is None and str(graph.value(yard, V.name)) == "Mill yard"
    resource = rdflib.URIRef("urn:coledger:" + wheat)
    assert graph.value(resource, V.currentLocation) == yard  # moved there
    assert graph.value(resource, V.primaryAccountable) == rdflib.URIRef(AGENT_PREFIX + me)
    quantity = graph.value(resource, V.accountingQuantity)
    assert str(graph.value(quantity, V.hasNumericalValue)) == "100"
    assert graph.value(quantity, V.hasUnit) == OM.kilogram
    [effort] = graph.objects(None, V.effortQuantity)
    assert graph.value(effort, V.hasUnit) == OM["minute-Time"]  # not om2:minute (an angle's)
    read = read_vf_graph(document)
    assert len(read["events"]) == 3 and node_id(wheat) in read["resources"]
