"""`coledger import` of ValueFlows JSON-LD as other systems write it, on real homes.

The corpus (tests/data/vf/, written for these tests from the VF 1.0 spec and the shapes of
its examples): manufacturing.jsonld (the spec's http namespace through @vocab, object
properties as plain strings and compact IRIs, OM's own measure properties, resources
given only with their quantities, Wikidata classes, an external worker and designer),
trade.jsonld (the https namespace with `@type: @id` terms, an external farm selling wheat
to the mill and paid from an account opened by its balance, @graph out of order),
vocab.jsonld (terms through @vocab, `{"@type": "@id"}` without @id, a process's
hasInput/hasOutput nesting its events, VF terms coledger does not record and terms of
another vocabulary). Each imports, and the inventory and events after it are what the
document says; a reversed copy and a copy re-contexted by pyld import the same; importing
twice adds nothing; coledger's own exports round-trip to the same graph (rdflib
isomorphism, each record named by the IRI it was imported from); a wrong document is one
line naming the node and the property, exit non-zero, nothing written.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rdflib
from pyld import jsonld  # type: ignore[import-untyped]
from rdflib.compare import isomorphic
from rdflib.namespace import OWL

from tests.cli_home import CliHome
from tests.integration.test_accounting_cli import coops  # noqa: F401  (the farm and the mill)
from zomes.accounting.jsonld import EXTENSIONS, place_iri
from zomes.valueflows.units import OM2

PASS = "accounting cli test"
CORPUS = Path(__file__).parent.parent / "data" / "vf"
VF = "https://w3id.org/valueflows/ont/vf#"
WHO = {
    "manufacturing": "https://manufacturing.example/",
    "trade": "https://mill.example/coop",
    "vocab": "https://bakery.example/coop",
}
INVENTORY = {  # name -> accounting quantity after the import
    "manufacturing": {"Lean desks": "9", "Plywood sheets": "127", "CNC router": "1",
                      "Desk design": "1"},
    "trade": {"Current account": "700", "Flour, batch 7": "780", "Wheat received, batch 7": "0"},
    "vocab": {"Flour": "150", "Bread loaves": "120"},
}
EVENTS = {  # (action, quantity, unit, external party's IRI or None), sorted
    "manufacturing": [
        ("cite", "1", "one", "https://designs.example/"),
        ("consume", "3", "one", None),
        ("produce", "1", "one", None),
        ("raise", "1", "one", None), ("raise", "1", "one", None),
        ("raise", "130", "one", None), ("raise", "8", "one", None),
        ("use", "3.5", "hour", None),
        ("work", "7", "hour", "https://alice.example/"),
    ],
    "trade": [
        ("consume", "1", "tonne", None),
        ("produce", "780", "kilogram", None),
        ("raise", "1000", "euro", None),
        ("transfer", "1000", "kilogram", "https://farm.example/coop"),
        ("transfer", "300", "euro", "https://farm.example/coop"),
    ],
    "vocab": [
        ("consume", "50", "kilogram", None),
        ("produce", "120", "one", None),
        ("raise", "200", "kilogram", None),
        ("work", "6", "hour", "https://bakery.example/people/bo"),
    ],
}
UNREAD = {
    "manufacturing": {"http://www.w3.org/2004/02/skos/core#note", VF + "uri"},
    "trade": set(),
    "vocab": {VF + "created", "https://bakery.example/terms#shift",
              "https://bakery.example/terms#bin"},
}


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> CliHome:
    """A cooperative that created its own network (no one else in it)."""
    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    monkeypatch.chdir(tmp_path)
    return new_home(tmp_path, capsys, "coop")


def new_home(root: Path, capsys: pytest.CaptureFixture[str], name: str,
             shown: str | None = None) -> CliHome:
    """A home in a network of its own; its agent id as `.agent_id`."""
    made = CliHome(root / name, capsys)
    made.agent_id = made("init", "--name", shown or name.title())["agent_id"]  # type: ignore
    made("network", "create", name, "--out", str(root / f"{name}.network.json"))
    return made


def load(name: str) -> Any:
    return json.loads((CORPUS / f"{name}.jsonld").read_text(), parse_float=Decimal)


def write(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document, default=str))
    return str(path)


def imported(home: CliHome, path: str, who: str) -> dict[str, Any]:
    result = home("import", "--format", "vf-jsonld", path, "--as", who)
    assert isinstance(result, dict)
    return result


def inventory(home: CliHome) -> dict[str, str]:
    rows = home("inventory")
    assert isinstance(rows, list)
    return {r["name"]: r["accountingQuantity"]["hasNumericalValue"] for r in rows}


def events(home: CliHome) -> list[tuple[Any, ...]]:
    """This chain's events as (action, quantity, unit, external party's IRI), from its
    export: an external party is named by its Agent entry, whose sameAs is its IRI."""
    doc = json.loads(home.text("export", "--format", "vf-jsonld"))
    same = {n["id"]: n["sameAs"] for n in doc["@graph"] if "sameAs" in n}
    out = []
    for n in doc["@graph"]:
        if n["type"] == "vf:EconomicEvent":
            quantity = n.get("resourceQuantity") or n["effortQuantity"]
            parties = [same.get(n[k]) for k in ("provider", "receiver")]
            unit = quantity["hasUnit"].removeprefix("om2:")
            out.append((n["action"].removeprefix("vf:"), quantity["hasNumericalValue"],
                        unit, next((p for p in parties if p), None)))
    return sorted(out)


@pytest.mark.parametrize("name", sorted(WHO))
def test_each_document_imports_as_it_says(home: CliHome, tmp_path: Path, name: str) -> None:
    result = imported(home, str(CORPUS / f"{name}.jsonld"), WHO[name])
    assert inventory(home) == INVENTORY[name]
    assert events(home) == sorted(EVENTS[name])
    assert set(result["unread"]) == UNREAD[name]
    assert result["opened"] and all(o["iri"].startswith("https://") for o in result["opened"])
    externals = {e[3] for e in EVENTS[name]} - {None}
    assert result["external_agents"] == len(externals)
    assert home("chain", "verify")["ok"] is True
    text = home.text("import", "--format", "vf-jsonld", str(CORPUS / f"{name}.jsonld"),
                     "--as", WHO[name])
    assert text.startswith("imported 0 events")  # the second time adds nothing
    assert inventory(home) == INVENTORY[name] and events(home) == sorted(EVENTS[name])


def test_the_output_says_what_was_opened_external_and_not_recorded(home: CliHome) -> None:
    text = home.text("import", "--format", "vf-jsonld", str(CORPUS / "vocab.jsonld"),
                     "--as", WHO["vocab"])
    assert "opening balance: raise 200 kilogram of https://bakery.example/stock/flour" in text
    assert "external agents: 1" in text
    assert "not recorded (no coledger field): " in text and "terms#shift (1)" in text
    flows = home.text("report", "flows")
    assert "Bo (external)" in flows


def reversed_graph(document: Any) -> Any:
    flipped = copy.deepcopy(document)
    flipped["@graph"].reverse()
    return flipped


def recontexted(document: Any) -> Any:
    """The document compacted by pyld with another context: other prefixes for VF, no
    terms (references given as IRIs become node objects), the document's own prefixes kept
    (the plain strings a context without `@type: @id` leaves are read with them)."""
    expanded = jsonld.expand(json.loads(json.dumps(document, default=str)))
    contexts = document["@context"]
    prefixes = {k: v for c in (contexts if isinstance(contexts, list) else [contexts])
                for k, v in c.items() if isinstance(v, str) and v.endswith(("/", "#"))
                and not k.startswith("@") and "valueflows" not in v}
    other = {**prefixes, "v": "http://w3id.org/valueflows/ont/vf#", "w": VF}
    return jsonld.compact(expanded, other)


@pytest.mark.parametrize("name", sorted(WHO))
@pytest.mark.parametrize("form", [reversed_graph, recontexted])
def test_a_reversed_or_recontexted_copy_imports_the_same(
        home: CliHome, tmp_path: Path, name: str, form: Any) -> None:
    changed = form(load(name))
    assert changed != load(name)
    imported(home, write(tmp_path / "copy.jsonld", changed), WHO[name])
    assert inventory(home) == INVENTORY[name]
    assert events(home) == sorted(EVENTS[name])


def identified(text: str, renames: dict[str, str]) -> rdflib.Graph:
    """A VF export as a graph in which a record imported with a foreign IRI is named by it
    (its sameAs), one named by coledger's address is a blank node (addresses differ from
    home to home), and `renames` rename agents; the sameAs triples themselves are left
    out. Two such graphs are isomorphic when the exports say the same."""
    graph = rdflib.Graph().parse(data=text, format="json-ld")
    same = dict(graph.subject_objects(OWL.sameAs))

    def name(term: Any) -> Any:
        term = same.get(term, term)
        if str(term) in renames:
            return rdflib.URIRef(renames[str(term)])
        if str(term).startswith("urn:coledger:b"):
            return rdflib.BNode(str(term))
        return term

    out = rdflib.Graph()
    for s, p, o in graph:
        if p != OWL.sameAs:
            out.add((name(s), p, name(o)))
    return out


def test_an_agents_export_round_trips_to_the_same_graph(
        coops: dict[str, Any], tmp_path: Path,  # noqa: F811  (the fixture)
        capsys: pytest.CaptureFixture[str]) -> None:
    farm, ids = coops["farm"], coops["ids"]
    first = farm.text("export", "--format", "vf-jsonld")
    other = new_home(tmp_path, capsys, "farm2", "Farm")  # named as the farm is
    me = other.agent_id  # type: ignore[attr-defined]
    farm_iri = f"urn:coledger:agent:{ids['farm']}"
    result = imported(other, write(tmp_path / "farm.jsonld", json.loads(first)), farm_iri)
    assert result["imported"] == 5 and result["external_agents"] == 0
    again = other.text("export", "--format", "vf-jsonld")
    renames = {f"urn:coledger:agent:{me}": farm_iri}
    assert isomorphic(identified(again, renames), identified(first, {}))
    length = other.length()
    second = imported(other, str(tmp_path / "farm.jsonld"), farm_iri)
    assert second["imported"] == 0 and other.length() == length  # twice adds nothing
    # and once more: the second home's export into a third keeps the first identities
    third = new_home(tmp_path, capsys, "farm3", "Farm")
    me3 = third.agent_id  # type: ignore[attr-defined]
    imported(third, write(tmp_path / "again.jsonld", json.loads(again)),
             f"urn:coledger:agent:{me}")
    last = third.text("export", "--format", "vf-jsonld")
    assert isomorphic(identified(last, {f"urn:coledger:agent:{me3}": farm_iri}),
                      identified(first, {}))


def test_a_network_export_imported_as_one_member_gives_that_members_graph(
        coops: dict[str, Any], tmp_path: Path,  # noqa: F811  (the fixture)
        capsys: pytest.CaptureFixture[str]) -> None:
    mill, farm, ids = coops["mill"], coops["farm"], coops["ids"]
    network = mill.text("export", "--format", "vf-jsonld", "--network")
    own = farm.text("export", "--format", "vf-jsonld")
    other = new_home(tmp_path, capsys, "farm2", "Farm")
    me = other.agent_id  # type: ignore[attr-defined]
    farm_iri = f"urn:coledger:agent:{ids['farm']}"
    result = imported(other, write(tmp_path / "net.jsonld", json.loads(network)), farm_iri)
    assert result["imported"] == 5 and result["left_out"] == 4  # the mill's own events
    again = other.text("export", "--format", "vf-jsonld")
    assert isomorphic(identified(again, {f"urn:coledger:agent:{me}": farm_iri}),
                      identified(own, {}))


def test_an_agent_of_another_network_is_external_unless_mapped(
        home: CliHome, tmp_path: Path) -> None:
    """urn:coledger:agent:<id> is a member when this home knows it (itself, the progenitor,
    an author it holds) or `--agent ID=ID` says so; else another network's agent, external
    here: the sale to it needs no countersigning."""
    doc = load("trade")
    other = "12D3KooW" + "B" * 44
    text = json.dumps(doc).replace('"farm:coop"', f'"urn:coledger:agent:{other}"')
    path = write(tmp_path / "other.jsonld", json.loads(text))
    result = imported(home, path, WHO["trade"])
    assert result["external_agents"] == 1
    assert ("transfer", "300", "euro", f"urn:coledger:agent:{other}") in events(home)
    assert "Valley Farm (external)" in home.text("report", "flows")
    fresh = CliHome(tmp_path / "mapped", home.capsys)
    fresh("init", "--name", "Mill")
    fresh("network", "create", "mapped", "--out", str(tmp_path / "mapped.network.json"))
    err = fresh.fails("import", "--format", "vf-jsonld", path, "--as", WHO["trade"],
                      "--agent", f"{other}={other}")
    # a member: its side of the purchase is its own to sign (countersigned), not the mill's
    assert "rejected by check_author_is_provider" in err


def test_an_event_of_others_is_left_out_with_as_and_refused_without(
        home: CliHome, tmp_path: Path) -> None:
    doc = load("trade")
    doc["@graph"].append({
        "@id": "farm:event/other", "@type": "vf:EconomicEvent", "action": "vf:work",
        "provider": "farm:people/ann", "receiver": "farm:coop",
        "effortQuantity": {"hasNumericalValue": "2", "hasUnit": "om2:hour"}})
    result = imported(home, write(tmp_path / "t.jsonld", doc), WHO["trade"])
    assert result["left_out"] == 1 and result["imported"] == 5


def test_as_must_name_an_agent_of_the_document(home: CliHome) -> None:
    before = home.length()
    err = home.fails("import", "--format", "vf-jsonld", str(CORPUS / "trade.jsonld"),
                     "--as", "https://nobody.example/")
    assert "--as https://nobody.example/: no event of the document names this agent" in err
    assert "https://mill.example/coop" in err and home.length() == before


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update({"@context": "https://w3id.org/valueflows/ont/vf.jsonld"}),
     "remote @context https://w3id.org/valueflows/ont/vf.jsonld is not fetched"),
    (lambda d: d["@graph"][6].update(action="fly"),
     "event https://manufacturing.example/event/1: action: fly is not a ValueFlows action"),
    (lambda d: d["@graph"][6]["resourceQuantity"].update({"om2:hasUnit": "om2:furlong"}),
     "event https://manufacturing.example/event/1: resourceQuantity: unknown unit"),
    (lambda d: d["@graph"][7].update(hasPointInTime="tuesday"),
     "event https://manufacturing.example/event/2: hasPointInTime: not an ISO 8601"),
    (lambda d: d["@graph"][1].update(accountingQuantity="nine"),
     "EconomicResource https://manufacturing.example/resource/desks: accountingQuantity: "
     "expected a vf:Measure"),
    (lambda d: d["@graph"][6].update(resourceInventoriedAs=12),
     "event https://manufacturing.example/event/1: resourceInventoriedAs: expected an IRI"),
    (lambda d: d["@graph"][6].update(action="produce"),  # an output given as an input
     "event 1 (https://manufacturing.example/event/1): rejected by check_process_link"),
])
def test_a_wrong_document_is_one_line_and_writes_nothing(
        home: CliHome, tmp_path: Path, change: Any, message: str) -> None:
    doc = load("manufacturing")
    change(doc)
    before = home.length()
    err = home.fails("import", "--format", "vf-jsonld", write(tmp_path / "bad.jsonld", doc),
                     "--as", WHO["manufacturing"])
    assert message in err
    assert home.length() == before


def test_foreign_identities_survive_a_coledger_export_and_import(
        home: CliHome, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Another system's document into one home, its export into another: both exports
    name the same things by the first document's IRIs (owl:sameAs), external agents too."""
    imported(home, str(CORPUS / "manufacturing.jsonld"), WHO["manufacturing"])
    first = home.text("export", "--format", "vf-jsonld")
    assert '"sameAs": "https://alice.example/"' in first
    second = new_home(tmp_path, capsys, "second", "Coop")
    one, two = home.agent_id, second.agent_id  # type: ignore[attr-defined]
    result = imported(second, write(tmp_path / "first.jsonld", json.loads(first)),
                      f"urn:coledger:agent:{one}")
    assert result["external_agents"] == 2 and not result["opened"]
    again = second.text("export", "--format", "vf-jsonld")
    renames = {f"urn:coledger:agent:{two}": f"urn:coledger:agent:{one}"}
    assert isomorphic(identified(again, renames), identified(first, {}))
    assert inventory(second) == INVENTORY["manufacturing"]


def test_a_network_document_with_transfers_imports_as_one_member(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The farm -> mill -> bakery story as a network export (zomes/accounting/testing.py),
    imported as the mill of a new network: its events are recorded, the farm and the
    bakery it traded with (countersigned there) and its worker are external agents here,
    and its export is the mill's part of the network's graph."""
    from zomes.accounting.jsonld import resource_states, to_vf_jsonld
    from zomes.accounting.testing import agent_id, bread_chain

    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    chain = bread_chain()
    network = to_vf_jsonld(chain.events, chain.processes, chain.resources, chain.specs,
                           chain.agents)
    mill = new_home(tmp_path, capsys, "mill")
    mill_iri = f"urn:coledger:agent:{agent_id('mill')}"
    result = imported(mill, write(tmp_path / "network.jsonld", network), mill_iri)
    assert result["imported"] == 8 and result["left_out"] == 11
    assert result["external_agents"] == 3  # the farm, the bakery, Ben
    assert inventory(mill)["flour"] == "0" and inventory(mill)["bran"] == "200"
    mine = [(a, e) for a, e in chain.events if agent_id("mill") in (e.provider, e.receiver)]
    named = {p for _, e in mine for p in (e.provider, e.receiver)}
    resources = {r: chain.resources[r] for _, e in mine
                 for r in (e.resource_inventoried_as, e.to_resource_inventoried_as) if r}
    specs = {s: chain.specs[s] for s in {r.conforms_to for r in resources.values()}
             | {e.resource_conforms_to for _, e in mine} if s in chain.specs}
    processes = {p: chain.processes[p] for _, e in mine for p in (e.input_of, e.output_of)
                 if p in chain.processes}
    # the mill's resources as the whole network's events leave them (mill wheat received
    # from the farm and milled: 0 kg); the farm's and the bakery's are on no chain here, so
    # the mill's export states nothing of them
    everything = resource_states(chain.events, chain.resources, chain.processes)
    states = {r: s for r, s in everything.items()
              if r in resources and s.primary_accountable == agent_id("mill")}
    part = to_vf_jsonld(mine, processes, resources, specs,
                        {a: chain.agents[a] for a in named}, states=states)
    again = mill.text("export", "--format", "vf-jsonld")
    renames = {f"urn:coledger:agent:{mill.agent_id}": mill_iri}  # type: ignore[attr-defined]
    assert isomorphic(identified(again, renames), identified(json.dumps(part), {}))


def test_places_and_a_unit_coledger_defines_round_trip(
        home: CliHome, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A home's export with places made by `coledger place create` (their coordinates and
    address) and a quantity in tonne-kilometres (a unit OM 2.0 lacks, defined in the
    export) imports into another home whose export is the same graph."""
    spec = home("spec", "create", "transport", "--unit", "tkm")
    assert isinstance(spec, dict)
    raised = home("record", "raise", "--resource", "new:haulage", "--conforms-to",
                  spec["address"], "--quantity", "120 tkm", "--location", "Mill yard")
    assert isinstance(raised, dict)
    haulage = raised["created_resources"]["haulage"]
    hauling = home("process", "create", "hauling")
    assert isinstance(hauling, dict)
    home("record", "consume", "--resource", haulage, "--quantity", "20 tkm",
         "--input-of", hauling["address"], "--location", "Farm silo")
    for name, lat, long, address in (("Mill yard", "47.4", "8.6", "Mühleweg 2, Dorf"),
                                     ("Farm silo", "47.5", "8.75", "Hof 1, Dorf")):
        home("place", "create", name, "--lat", lat, "--long", long, "--address", address)
    first = home.text("export", "--format", "vf-jsonld")
    graph = rdflib.Graph().parse(data=first, format="json-ld")
    tkm = rdflib.URIRef(EXTENSIONS + "tonneKilometre")
    assert (None, rdflib.URIRef(VF + "hasUnit"), tkm) in graph
    assert (tkm, rdflib.RDF.type, rdflib.URIRef(OM2 + "UnitMultiplication")) in graph
    yard = rdflib.URIRef(place_iri("Mill yard"))
    assert str(graph.value(yard, rdflib.URIRef(VF + "lat"))) == "47.4"
    other = new_home(tmp_path, capsys, "coop2", "Coop")
    me, was = other.agent_id, home.agent_id  # type: ignore[attr-defined]
    result = imported(other, write(tmp_path / "places.jsonld", json.loads(first)),
                      f"urn:coledger:agent:{was}")
    assert result["imported"] == 2 and not result["opened"] and not result["unread"]
    assert inventory(other)["haulage"] == "100"
    again = other.text("export", "--format", "vf-jsonld")
    renames = {f"urn:coledger:agent:{me}": f"urn:coledger:agent:{was}"}
    assert isomorphic(identified(again, renames), identified(first, {}))
    length = other.length()
    imported(other, str(tmp_path / "places.jsonld"), f"urn:coledger:agent:{was}")
    assert other.length() == length  # the places too are described once
