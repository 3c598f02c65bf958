"""The VF JSON-LD export of the three-cooperative story, as a reader of the specifications
takes it: pyld and rdflib expand it to the same RDF graph (one agent's export and the
network's); resources carry their quantities and accountable agent; locations are places
(one node per label, with a SpatialThing entry's coordinates), the planning records' too."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rdflib
from pyld import jsonld as pyld  # type: ignore[import-untyped]
from rdflib.compare import isomorphic, to_isomorphic
from rdflib.namespace import RDF, RDFS, XSD

from zomes.accounting.dataset import Dataset
from zomes.accounting.jsonld import AGENT_PREFIX, EXTENSIONS, VF, node_id, place_iri
from zomes.accounting.jsonld_import import read_vf_graph
from zomes.accounting.reports import export
from zomes.accounting.testing import START, Chain, bread_chain
from zomes.valueflows.entries import Intent, SpatialThing
from zomes.valueflows.units import OM2, Measure

TTL = Path(__file__).resolve().parents[2] / "zomes" / "valueflows" / "valueflows-1.0.ttl"
GEO = rdflib.Namespace("http://www.w3.org/2003/01/geo/wgs84_pos#")
V = rdflib.Namespace(VF)


def story() -> tuple[Chain, Dataset]:
    """The bread chain with places: the farm's wheat starts in its silo, the mill receives
    it at its yard, the bakery moves bread to its shop (a SpatialThing entry gives the shop's
    coordinates), and the mill asks for transport to its yard, in tonne-kilometres."""
    chain = bread_chain()
    wheat = chain.at("farm wheat")
    chain.resources[wheat] = chain.resources[wheat].model_copy(
        update={"current_location": "Farm silo"})
    events = dict(chain.events)
    sale = chain.at("sell wheat")
    events[sale] = events[sale].model_copy(
        update={"at_location": "Farm silo", "to_location": "Mill yard"})
    chain.events = list(events.items())
    chain.event("move bread", "move", "bakery", resource_quantity=("200", "kg"),
                resource_inventoried_as="bread", to_resource_inventoried_as="bread")
    address, move = chain.events[-1]
    chain.events[-1] = (address, move.model_copy(update={"to_location": "Bakery shop"}))
    ds = Dataset()
    ds.events = dict(chain.events)
    ds.resources, ds.processes, ds.specs = chain.resources, chain.processes, chain.specs
    ds.authors, ds.names = dict(chain.authors), dict(chain.names)
    ds.cosigned = {a for a, e in chain.events if e.provider != e.receiver}
    shop = chain.at("the shop's place")
    ds.places[shop] = SpatialThing(name="Bakery shop", lat="47.3769", long="8.5417",
                                   mappable_address="Bahnhofstrasse 1, Zürich")
    ds.created_at[shop] = START
    request = chain.at("a request for transport")
    ds.planning[request] = Intent(
        action="deliverService", receiver=chain.agent("mill"), at_location="Mill yard",
        resource_quantity=Measure.of("120", "tkm"), resource_classified_as=("transport",))
    ds.authors[request] = chain.agent("mill")
    return chain, ds


def _refuse_remote(url: str, options: Any = None) -> Any:
    raise AssertionError(f"the export needs the remote document {url}")


def under_rdflib(document: dict[str, Any]) -> rdflib.Graph:
    return rdflib.Graph().parse(data=json.dumps(document), format="json-ld")


def under_pyld(document: dict[str, Any]) -> rdflib.Graph:
    nquads = pyld.to_rdf(document, {"format": "application/n-quads",
                                    "documentLoader": _refuse_remote})
    return rdflib.Graph().parse(data=nquads, format="nt")  # (all in the default graph)


def exported(everyone: bool) -> dict[str, Any]:
    chain, ds = story()
    text = export(ds, "vf-jsonld", me=chain.agent("mill"), now_us=START, everyone=everyone)
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.mark.parametrize("everyone", [False, True], ids=["one agent", "network"])
def test_pyld_and_rdflib_expand_the_export_to_the_same_graph(everyone: bool) -> None:
    document = exported(everyone)
    by_rdflib, by_pyld = under_rdflib(document), under_pyld(document)
    assert len(by_rdflib) > 150
    assert isomorphic(by_rdflib, by_pyld), "\n".join(
        sorted(str(t) for t in set(to_isomorphic(by_rdflib)) ^ set(to_isomorphic(by_pyld))))
    expanded = pyld.expand(document, {"documentLoader": _refuse_remote})
    assert isomorphic(under_rdflib({"@graph": expanded}), by_rdflib)  # (expanded: no context)


def _measure(graph: rdflib.Graph, node: Any, prop: str) -> tuple[Decimal, str]:
    measure = graph.value(node, V[prop])
    value, unit = graph.value(measure, V.hasNumericalValue), graph.value(measure, V.hasUnit)
    assert isinstance(value, rdflib.Literal) and value.datatype == XSD.decimal
    return Decimal(str(value)), str(unit)


def _named(graph: rdflib.Graph, name: str) -> Any:
    """The resource called `name`."""
    [node] = (n for n in graph.subjects(V.name, rdflib.Literal(name))
              if (n, RDF.type, V.EconomicResource) in graph)
    return node


def test_resources_carry_their_quantities_and_accountable_agent() -> None:
    chain, _ = story()
    for everyone in (False, True):
        graph = under_pyld(exported(everyone))
        # the mill's export names the wheat it received: as all the events leave it, the
        # mill's consumption included, accountable the mill
        wheat = _named(graph, "mill wheat")
        assert _measure(graph, wheat, "accountingQuantity") == (Decimal(0), OM2 + "kilogram")
        assert _measure(graph, wheat, "onhandQuantity") == (Decimal(0), OM2 + "kilogram")
        assert graph.value(wheat, V.primaryAccountable) == rdflib.URIRef(
            AGENT_PREFIX + chain.agent("mill"))
    graph = under_pyld(exported(True))
    bread = _named(graph, "bread")
    assert _measure(graph, bread, "accountingQuantity") == (Decimal(1200), OM2 + "kilogram")
    assert graph.value(bread, V.primaryAccountable) == rdflib.URIRef(
        AGENT_PREFIX + chain.agent("bakery"))
    diesel = _named(graph, "farm diesel")
    assert _measure(graph, diesel, "onhandQuantity") == (Decimal(88), OM2 + "litre")


def test_locations_are_places_with_the_coordinates_their_entry_gives() -> None:
    chain, _ = story()
    document = exported(True)
    graph = under_pyld(document)
    silo, yard, shop = (rdflib.URIRef(place_iri(label))
                        for label in ("Farm silo", "Mill yard", "Bakery shop"))
    sale = rdflib.URIRef("urn:coledger:" + chain.at("sell wheat"))
    assert graph.value(sale, rdflib.URIRef(EXTENSIONS + "atLocation")) == silo
    assert graph.value(sale, V.toLocation) == yard
    assert graph.value(_named(graph, "farm wheat"), V.currentLocation) == silo
    assert graph.value(_named(graph, "bread"), V.currentLocation) == shop  # moved there
    for place, label in ((silo, "Farm silo"), (yard, "Mill yard"), (shop, "Bakery shop")):
        assert set(graph.objects(place, RDF.type)) == {V.SpatialThing}
        assert graph.value(place, V.name) == rdflib.Literal(label)
    assert graph.value(shop, V.lat) == rdflib.Literal("47.3769", datatype=XSD.decimal)
    assert graph.value(shop, V.long) == rdflib.Literal("8.5417", datatype=XSD.decimal)
    assert str(graph.value(shop, V.mappableAddress)) == "Bahnhofstrasse 1, Zürich"
    assert graph.value(silo, V.lat) is None  # no entry gives the silo's coordinates
    # a vf:SpatialThing is a geo:SpatialThing, as the VF ontology says
    ontology = rdflib.Graph().parse(TTL, format="turtle")
    assert (V.SpatialThing, RDFS.subClassOf, GEO.SpatialThing) in ontology
    assert (V.lat, RDFS.subPropertyOf, GEO.lat) in ontology
    # the export still imports: events, and resources with their place (by its label)
    read = read_vf_graph(json.loads(json.dumps(document)))  # records named by their IRIs
    assert read["resources"][node_id(chain.at("farm wheat"))]["currentLocation"] == "Farm silo"
    assert {iri for iri, _ in read["events"]} == {node_id(a) for a, _ in chain.events}
    assert not read["unread"]  # a place node is read, not reported as unknown


def test_planning_records_use_the_same_places_and_units() -> None:
    chain, _ = story()
    graph = under_pyld(exported(False))  # the mill's own request
    [intent] = graph.subjects(RDF.type, V.Intent)
    assert graph.value(intent, rdflib.URIRef(EXTENSIONS + "atLocation")) == rdflib.URIRef(
        place_iri("Mill yard"))
    assert len(set(graph.subjects(V.name, rdflib.Literal("Mill yard")))) == 1  # one place
    tkm = rdflib.URIRef(EXTENSIONS + "tonneKilometre")
    assert _measure(graph, intent, "resourceQuantity") == (Decimal(120), str(tkm))
    om = rdflib.Namespace(OM2)
    assert graph.value(tkm, RDF.type) == om.UnitMultiplication  # defined where it is used
    assert graph.value(tkm, om.hasTerm1) == om.tonne
    assert graph.value(tkm, om.hasTerm2) == om.kilometre
    [(_, request)] = read_vf_graph(exported(False))["planning"]["Intent"].items()
    assert request["resourceQuantity"] == {"hasNumericalValue": "120", "hasUnit": "tonneKilometre"}


def test_the_docs_name_every_term_of_coledgers_own_an_export_writes() -> None:
    docs = (TTL.parents[2] / "docs" / "formats.md").read_text()
    section = docs.split("## ValueFlows JSON-LD: export")[1].split("\n## ")[0]
    graph = under_pyld(exported(True))
    own = {str(term) for triple in graph for term in triple if str(term).startswith(EXTENSIONS)}
    assert {EXTENSIONS + "atLocation", EXTENSIONS + "tonneKilometre"} <= own
    for term in own:
        assert "coledger:" + term.removeprefix(EXTENSIONS) in section, f"{term} is not documented"
