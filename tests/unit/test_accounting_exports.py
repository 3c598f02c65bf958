"""Exports: VF JSON-LD (checked against the VF 1.0 ontology with rdflib, and round-tripped),
PACT 3.0.3 (validated by its JSON schema), EPCIS 2.0 and CSV."""

from __future__ import annotations

import copy
import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib.namespace import OWL, RDF

from zomes.accounting.common import AccountingError
from zomes.accounting.epcis_identity import validate_epcis
from zomes.accounting.exports import (
    CSV_COLUMNS,
    MalformedDocument,
    PactCompany,
    PactProduct,
    from_vf_jsonld,
    to_csv,
    to_epcis,
    to_pact,
    to_vf_jsonld,
    validate_pact,
)
from zomes.accounting.footprint import footprint
from zomes.accounting.formatting import dumps_json
from zomes.accounting.jsonld import EXTENSIONS, VF
from zomes.accounting.testing import START, Chain, agent_id, bread_chain, bread_footprints
from zomes.valueflows.units import OM2, Measure

# the VF 1.0 ontology, kept in the project beside the action table that restates it
TTL = Path(__file__).resolve().parents[2] / "zomes" / "valueflows" / "valueflows-1.0.ttl"


def vf_document(chain: Chain) -> dict[str, Any]:
    return to_vf_jsonld(chain.events, chain.processes, chain.resources, chain.specs, chain.agents)


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    return rdflib.Graph().parse(TTL, format="turtle")


def test_vf_jsonld_uses_only_terms_of_the_vf_ontology(ontology: rdflib.Graph) -> None:
    chain = bread_chain()
    graph = rdflib.Graph().parse(data=json.dumps(vf_document(chain)), format="json-ld")
    classes = set(ontology.subjects(RDF.type, OWL.Class))
    properties = set(ontology.subjects(RDF.type, OWL.ObjectProperty)) | set(
        ontology.subjects(RDF.type, OWL.DatatypeProperty)
    )
    actions = set(ontology.subjects(RDF.type, rdflib.URIRef(VF + "Action")))
    used_types = set(graph.objects(None, RDF.type))
    assert {
        rdflib.URIRef(VF + name) for name in ("EconomicEvent", "Process", "Measure")
    } <= used_types
    for used in used_types:
        assert used in classes, f"{used} is not a VF class"
    for predicate in set(graph.predicates()) - {RDF.type}:
        if str(predicate).startswith(VF):
            assert predicate in properties, f"{predicate} is not a VF property"
        else:
            assert str(predicate).startswith(EXTENSIONS), f"{predicate} is neither VF nor ours"
    for action in graph.objects(None, rdflib.URIRef(VF + "action")):
        assert action in actions
    for unit in graph.objects(None, rdflib.URIRef(VF + "hasUnit")):
        assert str(unit).startswith(OM2)
    values = list(graph.objects(None, rdflib.URIRef(VF + "hasNumericalValue")))
    decimal = rdflib.URIRef("http://www.w3.org/2001/XMLSchema#decimal")
    assert values and all(v.datatype == decimal for v in values)  # type: ignore[attr-defined]
    events = set(graph.subjects(RDF.type, rdflib.URIRef(VF + "EconomicEvent")))
    assert events == {rdflib.URIRef(f"urn:coledger:{address}") for address, _ in chain.events}


def test_vf_jsonld_round_trips_event_contents() -> None:
    chain = bread_chain()
    chain.event("move bread", "move", "bakery", resource_quantity=("2.5", "kg"),
                resource_inventoried_as="bread", to_resource_inventoried_as="bread")  # fmt: skip
    expected = [event.to_content() for _, event in chain.events]
    document = vf_document(chain)
    assert from_vf_jsonld(document) == expected
    assert from_vf_jsonld(json.loads(json.dumps(document))) == expected


def test_the_importer_reads_the_same_graph_in_rdflibs_flattened_form() -> None:
    chain = bread_chain()
    graph = rdflib.Graph().parse(data=json.dumps(vf_document(chain)), format="json-ld")
    flattened = json.loads(graph.serialize(format="json-ld"))
    expected = sorted(json.dumps(e.to_content(), sort_keys=True) for _, e in chain.events)
    got = sorted(json.dumps(c, sort_keys=True) for c in from_vf_jsonld(flattened))
    assert got == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update({"@context": "https://example.org/ctx.jsonld"}), "remote @context"),
        (lambda d: d["@graph"].__setitem__(slice(None), d["@graph"][:3]), "no vf:EconomicEvent"),
        (lambda d: event(d).update(action="vf:dance"), "not a ValueFlows action"),
        (lambda d: event(d).update(provider="https://example.org/me"), "is not an urn:coledger"),
        (lambda d: event(d)["resourceQuantity"].update(hasNumericalValue=12.5), "is a float"),
        (lambda d: event(d)["resourceQuantity"].update(hasUnit="om2:furlong"), "unknown unit"),
        (lambda d: event(d).update(hasPointInTime="yesterday"), "not an ISO 8601"),
        (lambda d: event(d).update({"vf:triggeredBy": "urn:coledger:x"}), "not supported"),
        (lambda d: event(d).pop("provider"), "provider: Field required"),
    ],
)
def test_malformed_documents_are_refused_in_one_line(change: Any, message: str) -> None:
    document = copy.deepcopy(vf_document(bread_chain()))
    change(document)
    with pytest.raises(MalformedDocument, match=message) as error:
        from_vf_jsonld(document)
    assert "\n" not in str(error.value)


def event(document: dict[str, Any]) -> dict[str, Any]:
    """The first event node with a resource quantity."""
    return next(n for n in document["@graph"] if "resourceQuantity" in n)


def bread_report():  # type: ignore[no-untyped-def]
    chain = bread_chain()
    return footprint(
        chain.at("bread"), index=chain.index(), events=chain.events, processes=chain.processes,
        resources=chain.resources, spec_footprints=bread_footprints(),
    )  # fmt: skip


PRODUCT = PactProduct(
    name="Sourdough bread",
    description="Wholemeal sourdough, unpackaged, per kilogram",
    ids=("urn:pact:coledger.example:product-id:bread",),
    cpc="23410",
)
COMPANY = PactCompany(name="Bakery Coop", ids=("urn:pact:coledger.example:company:bakery",))


def test_pact_product_footprint_is_valid_and_per_declared_unit() -> None:
    document = to_pact(bread_report(), product=PRODUCT, company=COMPANY, created_us=START)
    validate_pact(document)
    assert document["specVersion"] == "3.0.3" and document["status"] == "Active"
    assert document["created"] == "2024-06-01T00:00:00Z"
    assert document["productClassifications"] == ["urn:pact:productclassification:un-cpc:23410"]
    pcf = document["pcf"]
    assert pcf["declaredUnitOfMeasurement"] == "kilogram" and pcf["declaredUnitAmount"] == "1"
    assert pcf["pcfExcludingBiogenicUptake"] == "0.028107"  # 33.728 kgCO2e / 1200 kg
    assert pcf["productMassPerDeclaredUnit"] == "1"
    assert pcf["referencePeriodStart"] == "2024-06-01T00:00:00Z"
    again = to_pact(bread_report(), product=PRODUCT, company=COMPANY, created_us=START)
    assert again["id"] == document["id"]  # deterministic
    tonne = to_pact(
        bread_report(), product=PRODUCT, company=COMPANY, created_us=START,
        declared_unit_amount=Decimal(1200),
    )  # fmt: skip
    assert tonne["pcf"]["pcfExcludingBiogenicUptake"] == "33.728"


def test_pact_schema_rejects_a_broken_document() -> None:
    document = to_pact(bread_report(), product=PRODUCT, company=COMPANY, created_us=START)
    broken = copy.deepcopy(document)
    del broken["companyIds"]
    with pytest.raises(AccountingError, match="companyIds"):
        validate_pact(broken)
    broken = copy.deepcopy(document)
    broken["pcf"]["fossilGhgEmissions"] = "-1"
    with pytest.raises(AccountingError, match="fossilGhgEmissions"):
        validate_pact(broken)


def test_epcis_transformations_and_transactions() -> None:
    chain = bread_chain()
    document = to_epcis(
        chain.events, processes=chain.processes, resources=chain.resources, created_us=START
    )
    assert document["type"] == "EPCISDocument" and document["schemaVersion"] == "2.0"
    validate_epcis(document)  # GS1's EPCIS 2.0 JSON schema
    events = document["epcisBody"]["eventList"]
    kinds = [e["type"] for e in events]
    assert kinds.count("TransformationEvent") == 3 and kinds.count("TransactionEvent") == 2
    milling = next(
        e for e in events if e.get("transformationID") == f"urn:coledger:{chain.at('milling')}"
    )
    # the mill's wheat is the farm's lot (it came by the transfer): one class with a lot
    wheat = f"urn:coledger:{chain.spec_at('wheat')}:lot:{chain.at('farm wheat')}"
    power = f"urn:coledger:{chain.spec_at('electricity')}:lot:{chain.at('mill electricity')}"
    assert milling["inputQuantityList"] == [
        {"epcClass": wheat, "quantity": Decimal(1000), "uom": "KGM"},
        {"epcClass": power, "quantity": Decimal(40), "uom": "KWH"},
    ]
    assert [q["uom"] for q in milling["outputQuantityList"]] == ["KGM", "KGM"]
    assert milling["bizStep"] == "https://ref.gs1.org/cbv/BizStep-commissioning"
    sale = next(e for e in events if e["type"] == "TransactionEvent")
    assert sale["sourceList"][0] == {
        "type": "https://ref.gs1.org/cbv/SDT-owning_party",
        "source": f"urn:coledger:agent:{agent_id('farm')}",
    }
    assert sale["eventTimeZoneOffset"] == "+00:00" and sale["eventTime"].endswith("Z")
    times = [e["eventTime"] for e in events]
    assert times == sorted(times)
    text = dumps_json(document)
    assert json.loads(text, parse_float=Decimal) == json.loads(
        dumps_json(document, indent=None), parse_float=Decimal
    )
    assert '"quantity": 1000' in text


def test_epcis_leaves_payments_out() -> None:
    chain = bread_chain()
    goods = [(a, e) for a, e in chain.events if e.action == "transfer"]
    address, sale = goods[0]
    paid = sale.model_copy(update={"resource_quantity": Measure.of(12, "EUR"),
                                   "provider": sale.receiver, "receiver": sale.provider})
    document = to_epcis([*chain.events, ("payment", paid)], processes=chain.processes,
                        resources=chain.resources, created_us=START)
    kinds = [e["type"] for e in document["epcisBody"]["eventList"]]
    assert kinds.count("TransactionEvent") == 2  # the goods, not the money


def test_csv_has_one_row_per_event_with_vf_columns() -> None:
    chain = bread_chain()
    text = to_csv(chain.events, authors=chain.authors)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(chain.events)
    assert tuple(rows[0]) == CSV_COLUMNS
    bakes = next(r for r in rows if r["address"] == chain.at("cleo bakes"))
    assert bakes["action"] == "work" and bakes["effortQuantity.hasNumericalValue"] == "20"
    assert bakes["effortQuantity.hasUnit"] == "hour" and bakes["resourceClassifiedAs"] == "baking"
    assert bakes["author"] == agent_id("bakery") and bakes["hasPointInTime"].endswith("Z")
