"""`coledger import` of another VF system's planning records, on a real home.

tests/data/vf/planning.jsonld (written for these tests in the shape of the VF 1.0 spec's
planning examples: the http namespace through @vocab, object values as plain strings and
compact IRIs, every record named by the bakery's own IRIs) holds a plan with its process
and three commitments (one from the mill, an external agent, as clause of an agreement,
partly fulfilled by a transfer event), an offer of bread with its reciprocal intent, a
recipe, and three records the bakery may not author (the farm's intent and its proposal,
the farm's commitment to the mill). Each authorable record imports and shows in
`commitments`, `plan status`, `recipe list` and the export (the proposal listed); the
others are reported, not fatal; a reversed copy imports the same; a second import adds
nothing.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.cli_home import CliHome
from tests.integration.test_vf_import import imported, new_home, reversed_graph, write

PASS = "accounting cli test"
DOC = Path(__file__).parent.parent / "data" / "vf" / "planning.jsonld"
ME = "https://bakery.example/coop"
B = "https://bakery.example/"
NOT_AUTHORED = {("Intent", "https://farm.example/intent/wheat"),
                ("Proposal", "https://farm.example/proposal/wheat"),
                ("Commitment", "https://mill.example/commitment/wheat")}
CREATED = {"ProcessSpecification": 1, "RecipeProcess": 1, "RecipeFlow": 2, "Recipe": 1,
           "Plan": 1, "Intent": 2, "Proposal": 1, "Agreement": 1, "Commitment": 3}


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> CliHome:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    monkeypatch.chdir(tmp_path)
    return new_home(tmp_path, capsys, "bakery")


def load() -> Any:
    return json.loads(DOC.read_text(), parse_float=Decimal)


def commitments(home: CliHome) -> list[tuple[Any, ...]]:
    rows = home("commitments", "--all")
    assert isinstance(rows, list)
    return sorted((r["action"], r["committed"]["hasNumericalValue"],
                   r["fulfilled"]["hasNumericalValue"], r["provider"] == home.agent_id,
                   r["receiver"] == home.agent_id) for r in rows)


def test_a_planning_document_imports_with_what_it_says(home: CliHome, tmp_path: Path) -> None:
    result = imported(home, str(DOC), ME)
    planning = result["planning"]
    assert planning["created"] == CREATED and planning["already_here"] == 0
    assert {(r["class"], r["iri"]) for r in planning["not_authored"]} == NOT_AUTHORED
    assert result["imported"] == 1 and result["external_agents"] == 1
    records = planning["records"]
    # the commitments: the mill's (an external provider) fulfilled in part by the event
    assert commitments(home) == [("consume", "50", "0", True, True),
                                 ("produce", "120", "0", True, True),
                                 ("transfer", "50", "30", False, True)]
    mill = next(r for r in home("commitments") if r["action"] == "transfer")
    assert mill["events"] == [result["events"][B + "event/flour-in"]]
    # the plan with its process and commitments
    report = home("plan", "status", records[B + "plan/week-12"], "--at", "2026-03-17")
    assert report["name"] == "Bread for week 12"
    assert sorted((f["kind"], f["action"], f["processName"]) for f in report["flows"]) == [
        ("commitment", "consume", "Bake week 12"), ("commitment", "produce", "Bake week 12"),
        ("commitment", "transfer", None)]
    # the recipe, and the offer listed (the export does not say it was withdrawn)
    recipes = home("recipe", "list")
    assert [(r["name"], r["processes"]) for r in recipes] == [("Sourdough bread", ["Bake"])]
    out = tmp_path / "out.jsonld"
    home("export", "--format", "vf-jsonld", "--out", str(out))
    graph = json.loads(out.read_text())["@graph"]
    offer = next(n for n in graph if n.get("type") == "vf:Proposal")
    assert offer["purpose"] == "vf:offer" and "withdrawn" not in offer
    assert offer["sameAs"] == B + "proposal/bread"  # the IRI it was imported by
    text = home.text("import", "--format", "vf-jsonld", str(DOC), "--as", ME)
    assert ("not imported: Commitment https://mill.example/commitment/wheat: this "
            "cooperative is neither its provider nor its receiver") in text


def test_a_second_import_adds_nothing(home: CliHome) -> None:
    imported(home, str(DOC), ME)
    head = home("chain", "show")
    again = imported(home, str(DOC), ME)
    assert again["planning"]["created"] == {} and again["imported"] == 0
    assert again["planning"]["already_here"] == sum(CREATED.values())
    assert again["external_agents"] == 0
    assert home("chain", "show") == head


def test_a_reversed_copy_imports_the_same(home: CliHome, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    first = imported(home, str(DOC), ME)
    other = new_home(tmp_path, capsys, "other")
    second = imported(other, write(tmp_path / "rev.jsonld", reversed_graph(load())), ME)
    assert second["planning"]["created"] == first["planning"]["created"]
    assert commitments(other) == [(a, q, f, p, r) for a, q, f, p, r in commitments(home)]
    assert len(other("recipe", "list")) == 1


def test_without_as_only_what_anyone_may_author_imports(home: CliHome,
                                                      tmp_path: Path) -> None:
    """With no agent of the document named this cooperative, its intents, commitments
    and proposals are reported (not fatal); the plan, the agreement and the recipe import."""
    document = load()
    document["@graph"] = [n for n in document["@graph"] if n.get("@type") != "EconomicEvent"]
    result = home("import", "--format", "vf-jsonld", write(tmp_path / "d.jsonld", document))
    planning = result["planning"]
    assert {name for name, _ in {(r["class"], r["iri"]) for r in planning["not_authored"]}} == {
        "Intent", "Proposal", "Commitment"}
    assert len(planning["not_authored"]) == 9  # 3 intents, 2 proposals, 4 commitments
    assert planning["created"] == {
        "ProcessSpecification": 1, "RecipeProcess": 1, "RecipeFlow": 2, "Recipe": 1,
        "Plan": 1, "Agreement": 1}
    assert commitments(home) == []


def test_a_commitment_from_an_external_party_imports(home: CliHome, tmp_path: Path) -> None:
    """The farm's commitment, once it names the bakery as its receiver, is the bakery's to
    author too: it imports, the farm (an external agent) its provider."""
    document = load()
    for node in document["@graph"]:
        if node.get("@id") == "mill:commitment/wheat":
            node["receiver"] = "bakery:coop"
    result = imported(home, write(tmp_path / "d.jsonld", document), ME)
    assert ("Commitment", "https://mill.example/commitment/wheat") not in {
        (r["class"], r["iri"]) for r in result["planning"]["not_authored"]}
    assert ("transfer", "1000", "0", False, True) in commitments(home)


MILL = "Mill cooperative (external)"


def test_an_external_agent_shows_as_external_everywhere(home: CliHome, tmp_path: Path) -> None:
    """The mill (an external agent: the provider of the transfer and of the commitment it
    fulfils) is `NAME (external)` in every listing naming it, `external: true` in --json
    rows, its own IRI in EPCIS, never a member's IRI nor a countersigner."""
    result = imported(home, str(DOC), ME)
    event = result["events"][B + "event/flour-in"]
    # commitments
    assert f"{MILL} -> " in home.text("commitments")
    (row,) = [r for r in home("commitments") if r["action"] == "transfer"]
    assert row["external"] is True and row["externalName"] == MILL
    assert all("external" not in r for r in home("commitments") if r["action"] != "transfer")
    # trace and track
    (resource,) = [r["address"] for r in home("inventory")]
    assert f"transfer 30 kilogram with {MILL}" in home.text("trace", resource)
    assert f"with {MILL}" in home.text("track", event)
    assert f": {MILL}, https://mill.example/coop: no member" in home.text("get", event)
    (node,) = [n for n in home("trace", resource) if n["kind"] == "EconomicEvent"]
    assert node["external"] is True and node["externalName"] == MILL
    # report flows
    assert MILL in home.text("report", "flows")
    flows = home("report", "flows")
    assert [r.get("external") for r in flows["rows"]] == [True]
    assert MILL in flows["agents"].values()
    # exports: CSV names it, EPCIS by its own IRI, VF JSON-LD as an agent with its sameAs
    csv_out, epcis_out, vf_out = (tmp_path / n for n in ("e.csv", "e.json", "e.jsonld"))
    home("export", "--format", "csv", "--out", str(csv_out))
    lines = csv_out.read_text().splitlines()
    assert lines[0].endswith(",external") and lines[1].endswith("," + MILL)
    home("export", "--format", "epcis", "--out", str(epcis_out))
    (doc,) = [e for e in json.loads(epcis_out.read_text())["epcisBody"]["eventList"]
              if e.get("sourceList")]
    assert {s["source"] for s in doc["sourceList"]} == {"https://mill.example/coop"}
    home("export", "--format", "vf-jsonld", "--out", str(vf_out))
    graph = json.loads(vf_out.read_text())["@graph"]
    (mill,) = [n for n in graph if n.get("name") == "Mill cooperative"]
    assert mill["sameAs"] == "https://mill.example/coop"
    assert not mill["id"].startswith("urn:coledger:agent:")  # no member's IRI
    # never a signer: no countersigned agreement lists it
    assert home.text("agreements").strip() == "(no agreements)"


def test_an_external_worker_shares_as_external(home: CliHome, tmp_path: Path) -> None:
    """manufacturing.jsonld's external worker (alice) gets its share of the desk's income
    named `NAME (external)`, `external: true` in --json: it is paid outside coledger."""
    imported(home, str(DOC.parent / "manufacturing.jsonld"), "https://manufacturing.example/")
    (desks,) = [r["address"] for r in home("inventory") if r["name"] == "Lean desks"]
    equation = {"name": "labour", "buckets": [
        {"name": "labour", "percentage": 100, "rules": [
            {"action": "work", "rate": "20", "per": "h"}]}]}
    home("equation", "create", write(tmp_path / "eq.json", equation))
    args = ("report", "contributions", "--output", desks, "--income", "100 EUR",
            "--equation", "labour")
    report = home(*args)
    (share,) = [s for s in report["agents"] if s.get("external")]
    assert share["name"].endswith(" (external)") and share["share"] == "100.00"
    assert share["name"] in home.text(*args)


def test_a_claim_on_an_external_agent_is_reported(home: CliHome, tmp_path: Path) -> None:
    """A claim is between members: one on the mill (external) is left out, reported."""
    document = load()
    document["@graph"].append({
        "@id": "bakery:claim/flour", "@type": "Claim", "action": "transfer",
        "provider": "mill:coop", "receiver": "bakery:coop",
        "triggeredBy": "bakery:event/flour-in", "resourceConformsTo": "bakery:spec/flour",
        "resourceQuantity": {"hasUnit": "om2:kilogram", "hasNumericalValue": "20"}})
    result = imported(home, write(tmp_path / "d.jsonld", document), ME)
    assert ("Claim", B + "claim/flour") in {
        (r["class"], r["iri"]) for r in result["planning"]["not_authored"]}
    assert result["imported"] == 1


def test_the_export_of_imported_planning_imports_elsewhere(
        home: CliHome, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bakery's export (its commitment with the mill, an external agent named by the
    bakery's Agent entry) imports into another home: the mill external there too, made
    once, the commitments the same; a second import adds nothing."""
    imported(home, str(DOC), ME)
    out = tmp_path / "bakery.jsonld"
    home("export", "--format", "vf-jsonld", "--out", str(out))
    other = new_home(tmp_path, capsys, "other")
    bakery = str(home.agent_id)
    first = other("import", "--format", "vf-jsonld", str(out), "--agent", f"{bakery}=me")
    assert first["external_agents"] == 1
    assert commitments(other) == commitments(home)
    assert f"{MILL} -> " in other.text("commitments")
    again = other("import", "--format", "vf-jsonld", str(out), "--agent", f"{bakery}=me")
    assert again["planning"]["created"] == {} and again["external_agents"] == 0
