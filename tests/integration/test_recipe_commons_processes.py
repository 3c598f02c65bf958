"""Recipes as a network commons, across real `coledger run` processes: the bakery publishes
its bread and flour recipes; the farm lists them by the specification they make, asking
that base's authorities, and plans 400 loaves from the bread recipe: the recipe, its
processes and flows and the flour recipe it depends on are fetched from the network (the
bakery's chain: what the farm's home holds of it, as an authority of some of its records,
may be a part). The farm's request for flour finds the bakery's offer with the footprint
the bakery declared. And on one home without a node:
`recipe list --spec` filters what the home holds; `--network` says in one line that it
needs the node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli_home import CliHome
from tests.integration.processes import cli, cooperatives, wait_until

NAMES = ["bakery", "farm", "mill", "shop"]


def _flow(action: str, spec: str, quantity: str) -> dict[str, str]:
    return {"action": action, "resourceConformsTo": spec, "resourceQuantity": quantity}


def _recipes(home: Path, specs: dict[str, str]) -> tuple[str, str]:
    """The flour and bread recipes written on `home`: (flour's, bread's) addresses."""
    made = []
    for name, process, inputs, output in (
            ("flour", "milling", [_flow("consume", specs["wheat"], "100 kg")],
             _flow("produce", specs["flour"], "80 kg")),
            ("bread", "baking", [_flow("consume", specs["flour"], "40 kg")],
             _flow("produce", specs["bread"], "100 one"))):
        path = home.parent / f"{name}.json"
        path.write_text(json.dumps({"name": name, "primaryOutput": specs[name], "processes": [
            {"name": process, "hasDuration": "2 hour", "inputs": inputs,
             "outputs": [output]}]}))
        made.append(cli(home, "recipe", "create", str(path))["address"])
    return made[0], made[1]


@pytest.mark.slow
def test_a_cooperative_lists_another_members_recipe_by_spec_and_plans_from_it(tmp_path):
    homes, ids, nodes = cooperatives(tmp_path, NAMES)
    try:
        wait_until(lambda: all(n.status()["peers"] == len(NAMES) - 1 for n in nodes.values()),
                   timeout=90, what="a full mesh")
        bakery = homes["bakery"]
        specs = {name: cli(bakery, "spec", "create", name, "--unit", unit)["address"]
                 for name, unit in (("wheat", "kg"), ("flour", "kg"), ("bread", "one"))}
        flour, bread = _recipes(bakery, specs)
        cli(bakery, "footprint", "declare", specs["flour"], "--per", "kg",
            "--factor", "emissions=0.5kgCO2e")
        offered = cli(bakery, "offer", "--spec", specs["flour"], "--quantity", "500 kg")
        cli(bakery, "sync", "--timeout", "90", timeout=150)
        home = homes["farm"]  # (what it holds of the bakery's chain, as an authority, varies)
        listed: list[Any] = []
        wait_until(lambda: listed.extend(cli(home, "recipe", "list", "--spec", specs["bread"],
                                             "--network")) or bool(listed),
                   timeout=60, what="the bread recipe listed")
        assert [(r["address"], r["name"], r["primaryOutput"], r["author"], r["processes"])
                for r in listed] == [(bread, "bread", specs["bread"], ids["bakery"],
                                      ["baking"])]
        everything = cli(home, "recipe", "list", "--network")
        assert [r["address"] for r in everything] == [bread, flour]
        assert cli(home, "recipe", "list", "--spec", specs["wheat"], "--network") == []
        plan = cli(home, "plan", "from-recipe", bread, "--quantity", "400 one",
                   "--due", "2030-03-01", timeout=240)
        assert [(p["name"], p["scale"]) for p in plan["processes"]] == [
            ("baking", "4"), ("milling", "2")]
        assert [(f["kind"], f["action"], f["resourceConformsTo"],
                 f["quantity"]["hasNumericalValue"]) for f in plan["flows"]
                if f["direction"] == "input"] == [
            ("commitment", "consume", specs["flour"], "160"),
            ("intent", "consume", specs["wheat"], "200")]
        assert cli(home, "get", plan["address"])["entry"]["name"]
        bought = cli(home, "plan", "from-recipe", bread, "--quantity", "100 one",
                     "--due", "2030-03-01", "--buy", specs["flour"], timeout=240)
        assert [p["name"] for p in bought["processes"]] == ["baking"]
        # its request for flour finds the bakery's offer, with the footprint the bakery
        # declared (read from the bakery's chain: this home holds none of it)
        asked = cli(home, "request", "--spec", specs["flour"], "--quantity", "100 kg")
        cli(home, "sync", "--timeout", "90", timeout=150)
        found: list[Any] = []
        wait_until(lambda: found.extend(cli(home, "match", "--footprints", timeout=240))
                   or bool(found), timeout=60, what="a match")
        assert [(m["request"], m["offer"], m["footprint_per_unit"]) for m in found] == [
            (asked["proposal"], offered["proposal"], {"emissions": "0.5"})]
        assert all(n.status()["ops"].get("rejected", 0) == 0 for n in nodes.values())
    finally:
        for node in nodes.values():
            node.stop()


def test_without_a_node_recipes_are_the_homes_and_the_network_needs_the_node(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", "recipe commons test")
    monkeypatch.chdir(tmp_path)
    home = CliHome(tmp_path / "bakery", capsys)
    home("init", "--name", "Bakery")
    home("network", "create", "valley")
    specs = {name: str(home("spec", "create", name, "--unit", unit)["address"])  # type: ignore[index]
             for name, unit in (("wheat", "kg"), ("flour", "kg"), ("bread", "one"))}
    path = tmp_path / "flour.json"
    path.write_text(json.dumps({"name": "flour", "primaryOutput": specs["flour"], "processes": [
        {"name": "milling", "inputs": [_flow("consume", specs["wheat"], "100 kg")],
         "outputs": [_flow("produce", specs["flour"], "80 kg")]}]}))
    made = home("recipe", "create", str(path))
    assert len(made["links"]) == 2  # type: ignore[index]  (every recipe's base, flour's)
    assert [r["address"] for r in home("recipe", "list", "--spec", specs["flour"])] == [  # type: ignore[union-attr, index]
        made["address"]]  # type: ignore[index]
    assert home("recipe", "list", "--spec", specs["bread"]) == []
    before = home.length()
    assert "no node is running" in home.fails("recipe", "list", "--network")
    assert "not an address" in home.fails("recipe", "list", "--spec", "bread")
    # the author's own ledger refuses a recipe listed under what it does not make
    from node.api import open_ledger
    from node.core.cid import Cid
    from node.runtime.ledger import RuleBroken
    from zomes.valueflows.recipe_links import RECIPE_LINK, recipe_base

    with open_ledger(home.home, lambda: "recipe commons test") as led:
        with pytest.raises(RuleBroken, match="check_recipe_link"):
            led.create_link(recipe_base(specs["bread"]), Cid.parse(made["address"]),  # type: ignore[index]
                            "valueflows", RECIPE_LINK)
        with pytest.raises(RuleBroken, match="check_recipe_link"):
            led.create_link(recipe_base(specs["flour"]), Cid.parse(specs["flour"]),
                            "valueflows", RECIPE_LINK)
    assert home.length() == before
