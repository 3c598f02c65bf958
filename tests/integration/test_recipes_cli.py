"""Recipes and plans on the command line, on a real home (SQLite on disk), without a node.

The bakery publishes a flour recipe (milling wheat) and a bread recipe (baking flour,
water and work), declares wheat's footprint, and plans 400 loaves: baking and milling are
planned, wheat and water are needed (intents), the footprint comes from the wheat. A
malformed recipe and a cycle are refused with one line and nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_home import CliHome

PASS = "recipes cli test"


@pytest.fixture
def bakery(tmp_path: Path, capsys: pytest.CaptureFixture[str],
           monkeypatch: pytest.MonkeyPatch) -> tuple[CliHome, dict[str, str], Path]:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    monkeypatch.chdir(tmp_path)
    home = CliHome(tmp_path / "bakery", capsys)
    home("init", "--name", "Bakery")
    home("network", "create", "valley", "--out", str(tmp_path / "valley.network.json"))
    specs = {name: str(home("spec", "create", name, "--unit", unit)["address"])  # type: ignore[index]
             for name, unit in (("wheat", "kg"), ("flour", "kg"), ("water", "l"),
                                ("bread", "one"), ("euro", "EUR"))}
    return home, specs, tmp_path


def write(tmp: Path, name: str, document: dict[str, Any]) -> str:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(document))
    return str(path)


def flow(action: str, spec: str, quantity: str) -> dict[str, str]:
    return {"action": action, "resourceConformsTo": spec, "resourceQuantity": quantity}


def test_a_plan_from_a_recipe_walks_down_to_raw_inputs(bakery) -> None:  # type: ignore[no-untyped-def]
    home, s, tmp = bakery
    flour = home("recipe", "create", write(tmp, "flour", {
        "name": "flour", "primaryOutput": s["flour"], "processes": [{
            "name": "milling", "hasDuration": "2 hour",
            "inputs": [flow("consume", s["wheat"], "100 kg")],
            "outputs": [flow("produce", s["flour"], "80 kg")]}],
        "exchanges": [{"name": "buy wheat", "clauses": [flow("transfer", s["wheat"], "100 kg")],
                       "reciprocal": [flow("transfer", s["euro"], "30 EUR")]}]}))
    assert len(flour["processes"]) == 1 and len(flour["exchanges"]) == 1
    assert len(flour["flows"]) == 4
    clause = home("get", flour["flows"][2])["entry"]  # type: ignore[index]
    assert clause["recipeClauseOf"] == flour["exchanges"][0]
    bread = home("recipe", "create", write(tmp, "bread", {
        "name": "bread", "primaryOutput": s["bread"], "processes": [{
            "name": "baking", "hasDuration": "3 hour",
            "inputs": [flow("consume", s["flour"], "50 kg"), flow("consume", s["water"], "30 l"),
                       {"action": "work", "effortQuantity": "2 hour"}],
            "outputs": [flow("produce", s["bread"], "100 one")]}]}))
    listed = home("recipe", "list")
    assert [r["name"] for r in listed] == ["bread", "flour"]
    home("footprint", "declare", s["wheat"], "--per", "kg", "--factor", "emissions=0.5kgCO2e")
    before = home.length()
    plan = home("plan", "from-recipe", bread["address"], "--quantity", "400 one",
                "--due", "2027-03-01")
    assert [p["name"] for p in plan["processes"]] == ["baking", "milling"]
    assert [p["scale"] for p in plan["processes"]] == ["4", "2.5"]
    assert plan["processes"][0]["hasEnd"] - plan["processes"][1]["hasEnd"] == 3 * 3600 * 10**6
    needs = {(f["action"], f["resourceConformsTo"]): f["quantity"]["hasNumericalValue"]
             for f in plan["flows"] if f["kind"] == "intent"}
    assert needs == {("consume", s["wheat"]): "250", ("consume", s["water"]): "120",
                     ("work", None): "8"}
    assert plan["footprint"] == {
        "emissions": {"hasNumericalValue": "125", "hasUnit": "kilogramCO2e"}}
    assert plan["noFootprint"] == [s["water"]]
    # the plan, 2 processes and 6 flows, on the chain
    assert home.length() == before + 1 + 2 + 6
    got = home("get", plan["flows"][0]["address"])
    assert got["entry"]["plannedWithin"] == plan["address"]  # type: ignore[index]
    text = home.text("plan", "from-recipe", bread["address"], "--quantity", "100 one",
                     "--due", "2027-03-01", "--buy", s["flour"])
    assert "1 commitments" in text and "3 intents" in text


def test_malformed_recipes_and_cycles_are_refused_and_nothing_written(bakery) -> None:  # type: ignore[no-untyped-def]
    home, s, tmp = bakery
    before = home.length()
    no_quantity = write(tmp, "bad", {"name": "bad", "primaryOutput": s["bread"], "processes": [
        {"name": "baking", "inputs": [{"action": "consume", "resourceConformsTo": s["flour"]}],
         "outputs": [flow("produce", s["bread"], "1 one")]}]})
    assert "check_recipe_flow_quantity" in home.fails("recipe", "create", no_quantity)
    loop = write(tmp, "loop", {"name": "loop", "primaryOutput": s["bread"], "processes": [
        {"name": "baking", "inputs": [flow("consume", s["flour"], "1 kg")],
         "outputs": [flow("produce", s["bread"], "1 one")]},
        {"name": "milling", "inputs": [flow("consume", s["bread"], "1 one")],
         "outputs": [flow("produce", s["flour"], "1 kg")]}]})
    assert "check_recipe_no_cycle" in home.fails("recipe", "create", loop)
    assert "is not a recipe known here" in home.fails(
        "plan", "from-recipe", s["bread"], "--quantity", "1 one", "--due", "2027-03-01")
    assert home.length() == before
