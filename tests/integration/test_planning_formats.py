"""Planning and recipe records through `coledger export` and `import`, on real homes.

The bakery writes two recipes, plans 400 loaves from one, offers bran (for 20 EUR) and
withdraws an offer of flour, and requests water. Its VF JSON-LD export, imported into a
fresh home of the same network, exported again, is the same graph up to addresses; the
offer is listed again, the withdrawn one is not; importing it twice adds nothing; another
agent's intents are refused, naming the node; the CSV export writes a file per kind.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib.compare import isomorphic

from tests.cli_home import CliHome
from zomes.accounting.exports import PLANNING_CSV
from zomes.valueflows.commitments import party_base
from zomes.valueflows.proposals import proposal_base

PASS = "planning formats test"


def write(path: Path, document: dict[str, Any]) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def flow(action: str, spec: str, quantity: str) -> dict[str, str]:
    return {"action": action, "resourceConformsTo": spec, "resourceQuantity": quantity}


@pytest.fixture
def bakery(tmp_path: Path, capsys: pytest.CaptureFixture[str],
           monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    monkeypatch.chdir(tmp_path)
    home = CliHome(tmp_path / "bakery", capsys)
    me = home("init", "--name", "Bakery")["agent_id"]  # type: ignore[index]
    home("network", "create", "valley", "--out", str(tmp_path / "valley.network.json"))
    s = {name: str(home("spec", "create", name, "--unit", unit)["address"])  # type: ignore[index]
         for name, unit in (("wheat", "kg"), ("flour", "kg"), ("water", "l"),
                            ("bread", "one"), ("bran", "kg"), ("euro", "EUR"))}
    home("recipe", "create", write(tmp_path / "flour.json", {
        "name": "flour", "primaryOutput": s["flour"], "processes": [{
            "name": "milling", "hasDuration": "2 hour",
            "inputs": [flow("consume", s["wheat"], "100 kg")],
            "outputs": [flow("produce", s["flour"], "80 kg"),
                        flow("produce", s["bran"], "20 kg")]}],
        "exchanges": [{"name": "buy wheat", "clauses": [flow("transfer", s["wheat"], "100 kg")],
                       "reciprocal": [flow("transfer", s["euro"], "30 EUR")]}]}))
    bread = home("recipe", "create", write(tmp_path / "bread.json", {
        "name": "bread", "primaryOutput": s["bread"], "processes": [{
            "name": "baking", "hasDuration": "3 hour",
            "inputs": [flow("consume", s["flour"], "50 kg"), flow("consume", s["water"], "30 l"),
                       {"action": "work", "effortQuantity": "2 hour"}],
            "outputs": [flow("produce", s["bread"], "100 one")]}]}))
    plan = home("plan", "from-recipe", bread["address"], "--quantity", "400 one",  # type: ignore[index]
                "--due", "2027-03-01", "--buy", s["flour"])
    offer = home("offer", "--spec", s["bran"], "--quantity", "800 kg", "--minimum", "100 kg",
                 "--for", "20 EUR", "--for-spec", s["euro"], "--class", "byproduct",
                 "--location", "Valley", "--from", "2027-01-01", "--until", "2027-06-01")
    gone = home("offer", "--spec", s["flour"], "--quantity", "50 kg", "--unit-based")
    home("offer", "--withdraw", gone["proposal"])  # type: ignore[index]
    home("request", "--spec", s["water"], "--quantity", "1000 l", "--name", "water for bread")
    return {"home": home, "me": me, "specs": s, "plan": plan, "offer": offer, "gone": gone,
            "root": tmp_path, "capsys": capsys}


def fresh(b: dict[str, Any], name: str) -> tuple[CliHome, str]:
    """A new home that joined the bakery's network (named as the bakery, so that the
    agents' nodes compare equal)."""
    home = CliHome(b["root"] / name, b["capsys"])
    me = str(home("init", "--name", "Bakery")["agent_id"])  # type: ignore[index]
    token = b["home"]("invite", me)["token"]
    home("join", str(b["root"] / "valley.network.json"), "--invite", token)
    return home, me


def graph_of(text: str, me: str) -> rdflib.Graph:
    """The document's graph with every record's address a blank node and `me` a fixed
    agent: two graphs that differ only in addresses are isomorphic."""
    raw = rdflib.Graph().parse(data=text, format="json-ld")
    nodes: dict[rdflib.term.Node, rdflib.term.Node] = {}

    def norm(term: rdflib.term.Node) -> rdflib.term.Node:
        if isinstance(term, rdflib.URIRef) and str(term) == f"urn:coledger:agent:{me}":
            return rdflib.URIRef("urn:test:me")
        if isinstance(term, rdflib.URIRef) and str(term).startswith("urn:coledger:b"):
            return nodes.setdefault(term, rdflib.BNode())
        return term

    out = rdflib.Graph()
    for s, p, o in raw:
        out.add((norm(s), p, norm(o)))
    return out


def test_planning_records_round_trip_through_another_home(bakery: dict[str, Any]) -> None:
    b = bakery
    document = b["root"] / "bakery.jsonld"
    b["home"]("export", "--format", "vf-jsonld", "--output", str(document))
    exported = json.loads(document.read_text())
    kinds = sorted({n["type"] for n in exported["@graph"]})
    assert {"vf:Plan", "vf:Intent", "vf:Commitment", "vf:Proposal", "vf:Process", "vf:Recipe",
            "vf:RecipeProcess", "vf:RecipeFlow", "vf:RecipeExchange"} <= set(kinds)
    withdrawn = [n for n in exported["@graph"] if n.get("withdrawn")]
    assert [n["id"] for n in withdrawn] == [f"urn:coledger:{b['gone']['proposal']}"]

    other, me = fresh(b, "elsewhere")
    before = other.length()
    result = other("import", "--format", "vf-jsonld", str(document), "--agent", f"{b['me']}=me")
    made = result["planning"]["created"]  # type: ignore[index]
    assert made["Plan"] == 1 and made["Proposal"] == 3 and made["Recipe"] == 2
    assert result["imported"] == 0 and result["created"]["specs"] == 6  # type: ignore[index]
    again = other.text("export", "--format", "vf-jsonld")
    assert isomorphic(graph_of(again, me), graph_of(document.read_text(), b["me"]))

    # the open offers are listed again (links from their bases), the withdrawn one is not;
    # so are the recipes (every recipe's base, their primary output's)
    chain = other("chain", "show")
    links = [r["action"] for r in chain if r["action"]["type"] == "CreateLink"]  # type: ignore[index]
    kinds = sorted(link["link_type"] for link in links)
    assert kinds == ["proposal"] * (3 + 2) + ["recipe"] * 4  # bran: all, spec, class; water
    assert str(proposal_base("offer", "class", "byproduct")) in {x["base"] for x in links}

    # twice: nothing more
    length = other.length()
    second = other("import", "--format", "vf-jsonld", str(document), "--agent", f"{b['me']}=me")
    assert second["planning"]["created"] == {} and other.length() == length  # type: ignore[index]
    assert length > before
    # the bakery's own export, imported by the bakery: nothing more
    own = b["home"].length()
    mine = b["home"]("import", "--format", "vf-jsonld", str(document))
    assert mine["planning"]["created"] == {} and b["home"].length() == own  # type: ignore[index]
    assert other("chain", "verify")["ok"] is True  # type: ignore[index]


def test_another_agents_intents_and_broken_nodes_are_refused(bakery: dict[str, Any]) -> None:
    b = bakery
    exported = json.loads(b["home"].text("export", "--format", "vf-jsonld"))
    other, _ = fresh(b, "stranger")
    length = other.length()
    path = write(b["root"] / "as-is.jsonld", exported)
    err = other.fails("import", "--format", "vf-jsonld", path)  # no --agent: not its intents
    assert "Intent urn:coledger:" in err and "only a party may author it" in err
    assert "--agent OLD=me" in err
    broken = json.loads(json.dumps(exported))
    plan = next(n for n in broken["@graph"] if n["type"] == "vf:Plan")
    plan["due"] = "soon"
    err = other.fails("import", "--format", "vf-jsonld", write(b["root"] / "b.jsonld", broken),
                      "--agent", f"{b['me']}=me")
    assert f"Plan {plan['id']}: due:" in err and "ISO 8601" in err
    broken = json.loads(json.dumps(exported))
    flow_node = next(n for n in broken["@graph"] if n["type"] == "vf:RecipeFlow")
    flow_node["vf:triggeredBy"] = flow_node["id"]
    err = other.fails("import", "--format", "vf-jsonld", write(b["root"] / "c.jsonld", broken),
                      "--agent", f"{b['me']}=me")
    assert f"RecipeFlow {flow_node['id']}: property" in err and "triggeredBy" in err
    assert other.length() == length


def test_csv_export_writes_a_file_per_kind(bakery: dict[str, Any]) -> None:
    b = bakery
    folder = b["root"] / "csv"
    folder.mkdir()
    out = b["home"]("export", "--format", "csv", "--output", f"{folder}/")
    assert sorted(out["files"]) == sorted(["events.csv", *PLANNING_CSV])  # type: ignore[index]
    rows = {name: list(csv.DictReader(io.StringIO((folder / name).read_text())))
            for name in out["files"]}  # type: ignore[index]
    assert len(rows["plans.csv"]) == 1 and len(rows["recipes.csv"]) == 2
    assert len(rows["proposals.csv"]) == 3
    assert {r["withdrawn"] for r in rows["proposals.csv"]} == {"true", "false"}
    intents = rows["intents.csv"]
    bran = next(r for r in intents if r["resourceConformsTo"] == b["specs"]["bran"])
    assert bran["resourceQuantity.hasNumericalValue"] == "800"
    assert bran["resourceQuantity.hasUnit"] == "kilogram"
    assert bran["resourceClassifiedAs"] == "byproduct"
    assert rows["commitments.csv"][0]["plannedWithin"] == b["plan"]["address"]
    assert len(rows["recipe_flows.csv"]) == 9
    assert rows["events.csv"] == []
    text = b["home"]("export", "--format", "csv")
    assert text["csv"].startswith("address,author,action")  # type: ignore[index]
    assert text["files"]["plans.csv"].startswith("address,author,name")  # type: ignore[index]


def test_events_in_the_document_fulfil_the_copies_of_its_commitments(
        bakery: dict[str, Any]) -> None:
    b = bakery
    doc = json.loads(b["home"].text("export", "--format", "vf-jsonld"))
    commitment = next(n for n in doc["@graph"] if n["type"] == "vf:Commitment")
    assert commitment["action"] == "vf:produce"
    doc["@graph"] += [
        {"id": "urn:coledger:bafyreibreadbreadbreadbreadbreadbreadbreadbreadbreadbreadbr",
         "type": "vf:EconomicResource", "name": "loaves", "unitOfResource": "om2:one",
         "conformsTo": commitment["resourceConformsTo"]},
        {"id": "urn:coledger:bafyreibakedbakedbakedbakedbakedbakedbakedbakedbakedbakedba",
         "type": "vf:EconomicEvent", "action": "vf:produce", "provider": commitment["provider"],
         "receiver": commitment["receiver"],
         "resourceInventoriedAs":
             "urn:coledger:bafyreibreadbreadbreadbreadbreadbreadbreadbreadbreadbreadbr",
         "resourceQuantity": commitment["resourceQuantity"], "outputOf": commitment["outputOf"],
         "hasPointInTime": "2026-01-10T12:00:00Z", "fulfills": commitment["id"]}]
    other, _ = fresh(b, "elsewhere")
    path = write(b["root"] / "with-event.jsonld", doc)
    result = other("import", "--format", "vf-jsonld", path, "--agent", f"{b['me']}=me")
    assert result["imported"] == 1 and result["planning"]["created"]["Commitment"] == 1  # type: ignore[index]
    event = other("get", result["events"][  # type: ignore[index]
        "bafyreibakedbakedbakedbakedbakedbakedbakedbakedbakedbakedba"])["entry"]  # type: ignore[index]
    fulfilled = other("get", event["fulfills"])["entry"]  # type: ignore[index]
    assert event["fulfills"] != commitment["id"].removeprefix("urn:coledger:")
    assert fulfilled["outputOf"] == event["outputOf"]
    assert fulfilled["resourceQuantity"] == {"hasNumericalValue": "400", "hasUnit": "one"}
    assert other("get", fulfilled["plannedWithin"])["entry"]["name"] == "bread: 400 one"  # type: ignore[index]
    [row] = other("commitments", "--all")  # type: ignore[misc]
    assert row["address"] == event["fulfills"] and row["events"] == [  # type: ignore[index]
        result["events"]["bafyreibakedbakedbakedbakedbakedbakedbakedbakedbakedbakedba"]]  # type: ignore[index]
    assert row["fulfilled"] == {"hasNumericalValue": "400", "hasUnit": "one"}  # type: ignore[index]
    links = [r["action"] for r in other("chain", "show")  # type: ignore[union-attr]
             if r["action"]["type"] == "CreateLink" and r["action"]["link_type"] == "fulfilment"]
    assert [link["base"] for link in links] == [event["fulfills"]]


def test_a_commitment_naming_another_party_is_linked_from_its_party_base(
        bakery: dict[str, Any]) -> None:
    b = bakery
    doc = json.loads(b["home"].text("export", "--format", "vf-jsonld"))
    mill = "12D3KooW" + "M" * 44
    doc["@graph"].append({
        "id": "urn:coledger:bafyreiflourflourflourflourflourflourflourflourflourflourfl",
        "type": "vf:Commitment", "action": "vf:transfer",
        "provider": f"urn:coledger:agent:{mill}", "receiver": f"urn:coledger:agent:{b['me']}",
        "resourceConformsTo": f"urn:coledger:{b['specs']['flour']}",
        "resourceQuantity": {"type": "vf:Measure", "hasNumericalValue": "300",
                             "hasUnit": "om2:kilogram"},
        "due": "2027-03-01T00:00:00Z"})
    other, _ = fresh(b, "elsewhere")
    path = write(b["root"] / "with-mill.jsonld", doc)
    other("import", "--format", "vf-jsonld", path, "--agent", f"{b['me']}=me")
    party = [r["action"] for r in other("chain", "show")  # type: ignore[union-attr]
             if r["action"]["type"] == "CreateLink" and r["action"]["link_type"] == "party"]
    assert [link["base"] for link in party] == [str(party_base(mill))]
    [row] = [r for r in other("commitments") if r["provider"] == mill]  # type: ignore[union-attr]
    assert row["committed"] == {"hasNumericalValue": "300", "hasUnit": "kilogram"}
