"""Reading VF JSON-LD as other systems write it (pure): pyld's expansion without the
network, both VF namespaces, plain strings as IRIs, the VF 1.0 terms, the dependency
order of events and opening balances."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st

from zomes.accounting.common import AccountingError
from zomes.accounting.jsonld import VF, MalformedDocument
from zomes.accounting.jsonld_expand import VF_TERMS
from zomes.accounting.jsonld_import import read_vf_graph
from zomes.accounting.jsonld_order import dependency_order, opening_balance

TTL = Path(__file__).parents[2] / "zomes" / "valueflows" / "valueflows-1.0.ttl"
CORPUS = Path(__file__).parents[1] / "data" / "vf"


def test_vf_terms_are_every_term_of_the_ontology() -> None:
    graph = rdflib.Graph().parse(TTL)
    names = {str(s)[len(VF):] for s in graph.subjects() if str(s).startswith(VF)} - {""}
    assert names == VF_TERMS


def corpus(name: str) -> Any:
    return json.loads((CORPUS / f"{name}.jsonld").read_text(), parse_float=Decimal)


def test_both_namespaces_and_plain_strings_read_the_same() -> None:
    https = corpus("vocab")
    http = json.loads(json.dumps(https, default=str).replace(
        "https://w3id.org/valueflows", "http://w3id.org/valueflows"))
    assert read_vf_graph(http)["events"] == read_vf_graph(https)["events"]
    first = read_vf_graph(corpus("manufacturing"))["events"][0][1]
    assert first["inputOf"] == "https://manufacturing.example/process/make-desk"  # mfg: expanded
    assert first["provider"] == "https://manufacturing.example/"


def test_a_term_without_id_resolves_through_vocab() -> None:
    """The issue's context: `hasUnit` defined only by its type, its IRI from @vocab."""
    doc = {"@context": {"@vocab": VF, "hasUnit": {"@type": "@id"}},
           "@graph": [{"@id": "https://x.example/e", "@type": "EconomicEvent", "action": "raise",
                       "provider": "https://x.example/a", "receiver": "https://x.example/a",
                       "resourceQuantity": {"hasNumericalValue": "2",
                                            "hasUnit": "http://www.ontology-of-units-of-measure"
                                                       ".org/resource/om-2/kilogram"}}]}
    [(_, event)] = read_vf_graph(doc)["events"]
    assert event["resourceQuantity"] == {"hasNumericalValue": "2", "hasUnit": "kilogram"}


def test_no_url_is_ever_fetched() -> None:
    with pytest.raises(MalformedDocument, match="remote @context https://x.example/c is not"):
        read_vf_graph({"@context": ["https://x.example/c", {"@vocab": VF}], "@graph": []})


def test_terms_coledger_does_not_record_are_counted_not_fatal() -> None:
    graph = read_vf_graph(corpus("vocab"))
    assert graph["unread"] == {VF + "created": 1, "https://bakery.example/terms#shift": 1,
                               "https://bakery.example/terms#bin": 1}
    spec = graph["specs"]["https://bakery.example/spec/bread"]
    assert spec["resourceClassifiedAs"] == ["http://www.wikidata.org/entity/Q7802",
                                            "https://bakery.example/kinds/loaf"]


def test_events_nested_in_a_process_are_its_inputs_and_outputs() -> None:
    events = dict(read_vf_graph(corpus("vocab"))["events"])
    process = "https://bakery.example/process/bake-42"
    assert events["https://bakery.example/event/flour-in"]["inputOf"] == process
    assert events["https://bakery.example/event/bread-out"]["outputOf"] == process


def test_events_are_ordered_by_time_then_by_what_they_need() -> None:
    events = read_vf_graph(corpus("trade"))["events"]
    order = [events[n][0] for n in dependency_order(events)]
    assert order == ["https://mill.example/event/receive-wheat",
                     "https://mill.example/event/pay-farm",
                     "https://mill.example/event/mill-wheat",
                     "https://mill.example/event/produce-flour"]
    untimed = [(iri, {k: v for k, v in e.items() if k != "hasPointInTime"}) for iri, e in events]
    backwards = list(reversed(untimed))
    order = [backwards[n][0] for n in dependency_order(backwards)]
    assert order.index("https://mill.example/event/receive-wheat") < order.index(
        "https://mill.example/event/mill-wheat")


def test_an_opening_balance_is_what_was_held_before_the_documents_events() -> None:
    graph = read_vf_graph(corpus("manufacturing"))
    events = graph["events"]
    quantities = graph["quantities"]
    desks = "https://manufacturing.example/resource/desks"
    plywood = "https://manufacturing.example/resource/plywood"
    assert opening_balance(desks, quantities[desks], events) == "8"  # 9 after one produced
    assert opening_balance(plywood, quantities[plywood], events) == "130"  # 127 after 3 used
    with pytest.raises(AccountingError, match="take out more"):
        opening_balance(plywood, {"hasNumericalValue": "-5", "hasUnit": "one"}, events)


def test_another_systems_planning_records_are_counted_not_refused() -> None:
    doc = corpus("vocab")
    doc["@graph"].append({"@id": "b:commitment/1", "@type": "Commitment", "action": "produce"})
    doc["@graph"][0]["hasOutput"]["fulfills"] = "b:commitment/1"
    graph = read_vf_graph(doc)
    assert graph["unread"][VF + "Commitment"] == 1
    assert all(not records for records in graph["planning"].values())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["@id", "@type", "@vocab", "@graph", "@context", "@value", "@list",
                       "vf:action", "provider", VF + "EconomicEvent", "_:b0", "urn:x"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["@id", "@type", "@context", "@graph", "@vocab", "@value",
                                       "action", "provider", "resourceQuantity", "hasUnit",
                                       "vf", "hasNumericalValue", "x"]), inner, max_size=5),
    max_leaves=20)


@given(JSON)
@settings(max_examples=300, deadline=None)
def test_reading_any_json_raises_only_malformed_document(document: Any) -> None:
    """A document is a user's file, not trusted: whatever it holds, reading it returns or
    raises MalformedDocument (one line), never pyld's or Python's own errors."""
    try:
        read_vf_graph(document)
    except MalformedDocument as error:
        assert "\n" not in str(error)


def test_language_tagged_notes_and_lists_read_as_their_values() -> None:
    doc = corpus("trade")
    pay = next(n for n in doc["@graph"] if n["@id"] == "mill:event/pay-farm")
    pay["note"] = {"@value": "Weizen, Rechnung 4", "@language": "de"}
    spec = next(n for n in doc["@graph"] if n["@id"] == "mill:spec/flour")
    spec["vf:resourceClassifiedAs"] = {"@list": ["type 550", "organic"]}
    graph = read_vf_graph(doc)
    assert dict(graph["events"])["https://mill.example/event/pay-farm"]["note"] == (
        "Weizen, Rechnung 4")
    assert graph["specs"]["https://mill.example/spec/flour"]["resourceClassifiedAs"] == [
        "type 550", "organic"]
