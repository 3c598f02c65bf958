"""Planning together across real nodes: a farm, a mill, a bakery and a livestock
cooperative, each its own `coledger run` process on 127.0.0.1, one network.

The farm offers wheat and, separately, bran classified byproduct (and feed); the
livestock cooperative requests feed; `match` at the livestock cooperative finds the
farm's bran, not its wheat; the bakery publishes its bread recipe and plans 400 loaves
from it. The rules of proposals and recipes broken once each, nothing written.

Each step is a module fixture (what it made, for the steps after it) with its test:
a step to add (an agreement, deliveries, a plan's status) takes the fixtures it builds
on. Waits on the network are bounded polls with generous deadlines (a busy machine)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import PASS, NodeProcess, cli, cooperatives, wait_until

pytestmark = pytest.mark.slow
NAMES = ["farm", "mill", "bakery", "livestock"]
DEADLINE = 180.0  # seconds for anything to cross the network


@dataclass
class Valley:
    """The four running homes and what the steps made (addresses by name)."""

    homes: dict[str, Path]
    ids: dict[str, str]
    nodes: dict[str, NodeProcess]
    root: Path
    made: dict[str, Any] = field(default_factory=dict)

    def __call__(self, name: str, *args: str) -> Any:
        return cli(self.homes[name], *args)

    def fails(self, name: str, *args: str) -> str:
        """The one-line error of a command that must fail."""
        proc = cli(self.homes[name], *args, check=False)
        assert proc.returncode != 0, proc.stdout
        return str(proc.stderr)

    def length(self, name: str) -> int:
        return len(self(name, "chain", "show"))

    def sync(self, name: str) -> None:
        """The home's new records handed to its node and published."""
        self(name, "sync", "--timeout", "120")


@pytest.fixture(scope="module")
def valley(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Valley]:
    root: Path = tmp_path_factory.mktemp("planning")
    homes, ids, nodes = cooperatives(root, NAMES)
    try:
        wait_until(lambda: all(n.status()["peers"] == len(NAMES) - 1 for n in nodes.values()),
                   timeout=DEADLINE, what="a full mesh")
        yield Valley(homes, ids, nodes, root)
    finally:
        for node in nodes.values():
            node.stop()


# -- step 1: offers and a request -------------------------------------------------------------

@pytest.fixture(scope="module")
def offers(valley: Valley) -> Valley:
    v, m = valley, valley.made
    m["wheat_spec"] = v("farm", "spec", "create", "wheat", "--unit", "kg")["address"]
    m["bran_spec"] = v("farm", "spec", "create", "bran", "--unit", "kg")["address"]
    m["feed_spec"] = v("livestock", "spec", "create", "feed", "--unit", "kg")["address"]
    m["wheat_offer"] = v("farm", "offer", "--spec", m["wheat_spec"], "--quantity", "5 t",
                         "--for", "250 EUR", "--location", "Farm lane 1")["proposal"]
    m["bran_offer"] = v("farm", "offer", "--spec", m["bran_spec"], "--quantity", "800 kg",
                        "--minimum", "100 kg", "--class", "byproduct", "--class", "feed",
                        "--for", "20 EUR", "--location", "Farm lane 1")["proposal"]
    m["feed_request"] = v("livestock", "request", "--spec", m["feed_spec"], "--quantity",
                          "300 kg", "--class", "feed", "--until", "2030-01-01")["proposal"]
    v.sync("farm")
    v.sync("livestock")
    return v


def _listed(v: Valley, name: str, *args: str) -> list[str]:
    return [r["proposal"] for r in v(name, *args)]


def test_the_farms_offers_are_listed_across_the_network(offers: Valley) -> None:
    v, m = offers, offers.made
    wait_until(lambda: _listed(v, "mill", "offers", "--class", "byproduct") == [m["bran_offer"]],
               timeout=DEADLINE, what="the bran listed as a byproduct at the mill")
    wait_until(lambda: _listed(v, "bakery", "offers", "--spec", m["wheat_spec"])
               == [m["wheat_offer"]], timeout=DEADLINE, what="the wheat listed at the bakery")
    rows = v("bakery", "offers", "--spec", m["bran_spec"])
    assert [(r["proposal"], r["author"], r["available"], r["minimum"], r["for"], r["classes"])
            for r in rows] == [(m["bran_offer"], v.ids["farm"], "800 kilogram", "100 kilogram",
                                "20 euro", ["byproduct", "feed"])]
    wait_until(lambda: _listed(v, "farm", "requests", "--class", "feed") == [m["feed_request"]],
               timeout=DEADLINE, what="the livestock's request listed at the farm")
    assert _listed(v, "mill", "offers", "--class", "waste") == []


# -- step 2: match ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def matched(offers: Valley) -> Valley:
    v, m = offers, offers.made

    def found() -> bool:
        m["livestock_match"] = v("livestock", "match")
        return bool(m["livestock_match"])

    wait_until(found, timeout=DEADLINE, what="a match at the livestock cooperative")
    return v


def test_match_at_the_livestock_cooperative_finds_the_farms_bran_not_its_wheat(
        matched: Valley) -> None:
    v, m = matched, matched.made
    rows = m["livestock_match"]
    assert [(r["request"], r["offer"], r["offered_by"]) for r in rows] == [
        (m["feed_request"], m["bran_offer"], v.ids["farm"])]
    assert rows[0]["fits"]["resource"]["why"] == "shared classification: feed"
    assert rows[0]["fits"]["quantity"]["why"] == "800 kilogram covers the 300 kilogram asked"
    assert m["wheat_offer"] not in {r["offer"] for r in rows}
    # the farm's own match: its bran for the livestock's request
    assert [(r["request"], r["offer"]) for r in v("farm", "match")] == [
        (m["feed_request"], m["bran_offer"])]
    assert v("mill", "match") == []


# -- step 3: the bakery's recipe and its plan of 400 loaves -----------------------------------

def _flow(action: str, spec: str, quantity: str) -> dict[str, str]:
    return {"action": action, "resourceConformsTo": spec, "resourceQuantity": quantity}


def _document(v: Valley, name: str, document: dict[str, Any]) -> str:
    path = v.root / f"{name}.json"
    path.write_text(json.dumps(document))
    return str(path)


@pytest.fixture(scope="module")
def planned(valley: Valley) -> Valley:
    v, m = valley, valley.made
    m["flour_spec"] = v("mill", "spec", "create", "flour", "--unit", "kg")["address"]
    m["water_spec"] = v("bakery", "spec", "create", "water", "--unit", "l")["address"]
    m["bread_spec"] = v("bakery", "spec", "create", "bread", "--unit", "one")["address"]
    m["bread_recipe"] = v("bakery", "recipe", "create", _document(v, "bread", {
        "name": "bread", "primaryOutput": m["bread_spec"], "processes": [{
            "name": "baking", "hasDuration": "3 hour",
            "inputs": [_flow("consume", m["flour_spec"], "50 kg"),
                       _flow("consume", m["water_spec"], "30 l"),
                       {"action": "work", "effortQuantity": "2 hour"}],
            "outputs": [_flow("produce", m["bread_spec"], "100 one")]}]}))
    m["bread_plan"] = v("bakery", "plan", "from-recipe", m["bread_recipe"]["address"],
                        "--quantity", "400 one", "--due", "2027-03-01")
    v.sync("bakery")
    return v


def test_the_bakery_plans_400_loaves_from_its_bread_recipe(planned: Valley) -> None:
    v, m = planned, planned.made
    recipe, plan = m["bread_recipe"], m["bread_plan"]
    assert [r["address"] for r in v("bakery", "recipe", "list")] == [recipe["address"]]
    assert [(p["name"], p["scale"]) for p in plan["processes"]] == [("baking", "4")]
    flows = {(f["kind"], f["action"], f["resourceConformsTo"]): f["quantity"]["hasNumericalValue"]
             for f in plan["flows"]}
    assert flows == {("intent", "consume", m["flour_spec"]): "200",
                     ("intent", "consume", m["water_spec"]): "120",
                     ("intent", "work", None): "8",
                     ("commitment", "produce", m["bread_spec"]): "400"}
    # the plan and its records are on the bakery's chain and reach the network
    got = v("bakery", "get", plan["flows"][0]["address"])
    assert got["entry"]["plannedWithin"] == plan["address"]
    wait_until(lambda: v("mill", "get", plan["address"])["action"]["author"] == v.ids["bakery"],
               timeout=DEADLINE, what="the plan fetched by the mill from its authorities")


# -- the rules broken, nothing written ---------------------------------------------------------

def test_a_broken_recipe_rule_is_refused_through_the_command_line_and_nothing_written(
        planned: Valley) -> None:
    v, m = planned, planned.made
    before = v.length("bakery")
    loop = _document(v, "loop", {"name": "loop", "primaryOutput": m["bread_spec"], "processes": [
        {"name": "baking", "inputs": [_flow("consume", m["flour_spec"], "1 kg")],
         "outputs": [_flow("produce", m["bread_spec"], "1 one")]},
        {"name": "unbaking", "inputs": [_flow("consume", m["bread_spec"], "1 one")],
         "outputs": [_flow("produce", m["flour_spec"], "1 kg")]}]})
    assert "check_recipe_no_cycle" in v.fails("bakery", "recipe", "create", loop)
    no_quantity = _document(v, "vague", {"name": "vague", "primaryOutput": m["bread_spec"],
                                         "processes": [{"name": "baking", "inputs": [
                                             {"action": "consume",
                                              "resourceConformsTo": m["flour_spec"]}],
                                             "outputs": [_flow("produce", m["bread_spec"],
                                                               "1 one")]}]})
    assert "check_recipe_flow_quantity" in v.fails("bakery", "recipe", "create", no_quantity)
    assert v.length("bakery") == before


def test_a_broken_proposal_rule_is_refused_and_nothing_written(offers: Valley) -> None:
    """The command line builds every offer from the author's own intents and links it
    only from its own bases, so the rules cannot be broken through it: what it refuses
    is another's proposal; the rules themselves are broken by records crafted on the
    farm's home (its node running), which its ledger refuses before writing."""
    from node.api import open_ledger
    from node.core.cid import Cid
    from node.runtime.ledger import RuleBroken
    from zomes.valueflows.entries import Intent, Proposal
    from zomes.valueflows.proposals import INTENT_TYPE, PROPOSAL_LINK, PROPOSAL_TYPE, proposal_base

    v, m = offers, offers.made
    before = v.length("farm")
    assert "no open proposal of this agent" in v.fails(
        "farm", "offer", "--withdraw", m["feed_request"])
    assert "no open proposal of this agent" in v.fails(
        "farm", "offer", "--spec", m["bran_spec"], "--quantity", "1 kg",
        "--replace", m["feed_request"])
    with open_ledger(v.homes["farm"], lambda: PASS) as led:
        with pytest.raises(RuleBroken, match="check_intent_party"):
            led.commit(lambda s, _: s.create(INTENT_TYPE, Intent(
                action="transfer", provider=v.ids["mill"],
                receiver=v.ids["bakery"]).to_content()))
        with pytest.raises(RuleBroken, match="check_proposal_intents"):
            led.commit(lambda s, _: s.create(PROPOSAL_TYPE, Proposal(
                purpose="offer", publishes=(m["bran_offer"],)).to_content()))
        with pytest.raises(RuleBroken, match="check_proposal_link"):
            led.create_link(proposal_base("offer", "class", "waste"),
                            Cid.parse(m["bran_offer"]), "valueflows", PROPOSAL_LINK)
    assert v.length("farm") == before
    assert _listed(v, "farm", "offers", "--class", "waste") == []
