"""Planning together across real nodes: a farm, a mill, a bakery and a livestock
cooperative, each its own `coledger run` process on 127.0.0.1, one network.

The farm offers wheat and, separately, bran classified byproduct (and feed); the
livestock cooperative requests feed; `match` at the livestock cooperative finds the
farm's bran, not its wheat; the bakery publishes its bread recipe and plans 400 loaves
from it; the farm and the mill agree on wheat (due already: it will be late), the mill and
the bakery on flour, each agreement countersigned by both; the farm delivers part of its
wheat and the mill its flour (events fulfilling their clauses), the bakery bakes part of the
plan; `commitments` shows both parties the same, the farm's clause overdue, and `plan
status` the plan against what was recorded, late where the due date passed. Every rule of
planning broken once, nothing written.

Each step is a module fixture (what it made, for the steps after it) with its test:
a step to add (an agreement, deliveries, a plan's status) takes the fixtures it builds
on. Waits on the network are bounded polls with generous deadlines (a busy machine)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import (
    PASS,
    NodeProcess,
    cli,
    cli_background,
    cooperatives,
    wait_until,
)

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
    # deliveries are accepted without asking (an agreement never is: a person accepts it)
    homes, ids, nodes = cooperatives(root, NAMES, auto_accept={"mill": ["farm", "bakery"],
                                                               "bakery": ["mill"],
                                                               "livestock": ["farm"]})
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
    bran = v("farm", "offer", "--spec", m["bran_spec"], "--quantity", "800 kg",
             "--minimum", "100 kg", "--class", "byproduct", "--class", "feed",
             "--for", "20 EUR", "--location", "Farm lane 1")
    m["bran_offer"], m["bran_intent"] = bran["proposal"], bran["intents"][0]
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


# -- step 4: agreements, countersigned by both -------------------------------------------------

def _finished(proc: subprocess.Popen[str]) -> Any:
    out, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err
    return json.loads(out)


def _agree(v: Valley, proposer: str, other: str, *clauses: str) -> dict[str, Any]:
    """`proposer` proposes an agreement to `other`, who finds it pending and accepts it;
    the agreement as both list it."""
    proc = cli_background(v.homes[proposer], "agree", "--with", v.ids[other], *clauses,
                          "--wait", "120")
    found: list[dict[str, Any]] = []
    wait_until(lambda: found.extend(s for s in v(other, "pending") if s["state"] == "pending")
               or bool(found), timeout=DEADLINE, what=f"{proposer}'s agreement at {other}")
    assert found[0]["entry_type"] == "valueflows.CountersignedAgreement"
    accepted = v(other, "accept", found[0]["id"])
    address = _finished(proc)["event"]
    assert accepted["state"] == "committed" and accepted["event"] == address
    [theirs] = [a for a in v(other, "agreements") if a["address"] == address]
    [ours] = [a for a in v(proposer, "agreements") if a["address"] == address]
    assert theirs == ours
    return ours


@pytest.fixture(scope="module")
def agreed(planned: Valley) -> Valley:
    v, m = planned, planned.made
    m["wheat_deal"] = _agree(v, "farm", "mill",
                             "--give", f"300 kg of {m['wheat_spec']} by 2026-12-01",
                             "--get", "60 EUR by 2027-01-31")
    m["flour_deal"] = _agree(v, "mill", "bakery",
                             "--give", f"200 kg of {m['flour_spec']} by 2027-02-25",
                             "--get", "300 EUR by 2027-03-15")
    return v


def _clause(deal: dict[str, Any], provider: str) -> dict[str, Any]:
    [clause] = [c for c in deal["clauses"] if c["provider"] == provider]
    return clause


def test_the_mill_and_the_bakery_agree_on_flour_signed_by_both(agreed: Valley) -> None:
    v, m = agreed, agreed.made
    deal = m["flour_deal"]
    assert set(deal["parties"]) == {v.ids["mill"], v.ids["bakery"]}
    flour, pay = _clause(deal, v.ids["mill"]), _clause(deal, v.ids["bakery"])
    assert (flour["receiver"], flour["resource_conforms_to"], flour["quantity"]) == (
        v.ids["bakery"], m["flour_spec"], {"hasNumericalValue": "200", "hasUnit": "kilogram"})
    assert (pay["receiver"], pay["quantity"]["hasUnit"]) == (v.ids["mill"], "euro")
    # a member who is no party fetches the agreement from the network, signed by both
    v.sync("bakery")
    wait_until(lambda: v("livestock", "get", deal["address"])["entry_address"]
               == deal["address"], timeout=DEADLINE, what="the agreement at the livestock's")


# -- step 5: deliveries fulfil the clauses, the bakery bakes part of its plan ------------------

def _plan_flow(m: dict[str, Any], kind: str, action: str, spec: str | None) -> str:
    [flow] = [f["address"] for f in m["bread_plan"]["flows"]
              if (f["kind"], f["action"], f["resourceConformsTo"]) == (kind, action, spec)]
    return flow


@pytest.fixture(scope="module")
def delivered(agreed: Valley) -> Valley:
    v, m = agreed, agreed.made
    wheat_deal, flour_deal = m["wheat_deal"], m["flour_deal"]
    wheat = v("farm", "record", "raise", "--resource", "new:wheat 2026", "--conforms-to",
              m["wheat_spec"], "--quantity", "500 kg")["created_resources"]["wheat 2026"]
    v("farm", "record", "transfer", "--resource", wheat, "--quantity", "200 kg",
      "--to", v.ids["mill"], "--to-resource", "new:wheat from the farm",
      "--fulfills", _clause(wheat_deal, v.ids["farm"])["address"],
      "--realization-of", wheat_deal["address"], "--wait", "120")
    flour = v("mill", "record", "raise", "--resource", "new:flour", "--conforms-to",
              m["flour_spec"], "--quantity", "500 kg")["created_resources"]["flour"]
    v("mill", "record", "transfer", "--resource", flour, "--quantity", "200 kg",
      "--to", v.ids["bakery"], "--to-resource", "new:flour for bread",
      "--fulfills", _clause(flour_deal, v.ids["mill"])["address"],
      "--realization-of", flour_deal["address"], "--wait", "120")
    [stock] = [r["address"] for r in v("bakery", "inventory") if r["name"] == "flour for bread"]
    baking = m["bread_plan"]["processes"][0]["address"]
    v("bakery", "record", "consume", "--resource", stock, "--quantity", "150 kg",
      "--input-of", baking, "--satisfies", _plan_flow(m, "intent", "consume", m["flour_spec"]))
    v("bakery", "record", "produce", "--resource", "new:bread", "--conforms-to",
      m["bread_spec"], "--quantity", "100 one", "--output-of", baking,
      "--fulfills", _plan_flow(m, "commitment", "produce", m["bread_spec"]))
    for name in ("farm", "mill", "bakery"):
        v.sync(name)
    return v


def _commitments(v: Valley, name: str) -> dict[str, dict[str, Any]]:
    return {r["address"]: r for r in v(name, "commitments", "--all")}


def test_both_parties_see_each_clause_fulfilled_and_the_farms_overdue(delivered: Valley) -> None:
    v, m = delivered, delivered.made
    wheat = _clause(m["wheat_deal"], v.ids["farm"])["address"]
    flour = _clause(m["flour_deal"], v.ids["mill"])["address"]
    for name in ("farm", "mill"):
        row = _commitments(v, name)[wheat]
        assert (row["fulfilled"], row["remaining"], row["overdue"]) == (
            {"hasNumericalValue": "200", "hasUnit": "kilogram"},
            {"hasNumericalValue": "100", "hasUnit": "kilogram"}, True), name
    for name in ("mill", "bakery"):
        row = _commitments(v, name)[flour]
        assert (row["remaining"]["hasNumericalValue"], row["open"], row["overdue"]) == (
            "0", False, False), name
    # open ones only: the farm's late wheat is there, the delivered flour is not
    mills = {r["address"] for r in v("mill", "commitments")}
    assert wheat in mills and flour not in mills


def test_plan_status_shows_planned_against_actual_and_what_is_late(delivered: Valley) -> None:
    v, m = delivered, delivered.made
    plan = m["bread_plan"]["address"]

    def states(report: dict[str, Any]) -> dict[tuple[str, str, str | None], tuple[str, str]]:
        return {(f["kind"], f["action"], f["resourceConformsTo"]):
                (f["done"]["hasNumericalValue"], f["state"]) for f in report["flows"]}

    now = v("bakery", "plan", "status", plan)
    assert states(now) == {
        ("intent", "consume", m["flour_spec"]): ("150", "partly"),
        ("intent", "consume", m["water_spec"]): ("0", "pending"),
        ("intent", "work", None): ("0", "pending"),
        ("commitment", "produce", m["bread_spec"]): ("100", "partly")}
    # the day after it was due: the bread commitment is late, what nothing met is missing
    after = v("bakery", "plan", "status", plan, "--at", "2027-03-02")
    assert states(after) == {
        ("intent", "consume", m["flour_spec"]): ("150", "late"),
        ("intent", "consume", m["water_spec"]): ("0", "missing"),
        ("intent", "work", None): ("0", "missing"),
        ("commitment", "produce", m["bread_spec"]): ("100", "late")}


# -- step 6: every rule of commitments broken once through the command line --------------------

def test_fulfilment_satisfaction_and_claim_rules_refused_and_nothing_written(
        delivered: Valley) -> None:
    v, m = delivered, delivered.made
    mixing = v("livestock", "process", "create", "mixing feed")["address"]
    lengths = {name: v.length(name) for name in NAMES}
    flour = _clause(m["flour_deal"], v.ids["mill"])["address"]
    [stock] = [r["address"] for r in v("bakery", "inventory") if r["name"] == "flour for bread"]
    [bread] = [r["address"] for r in v("bakery", "inventory") if r["name"] == "bread"]
    baking = m["bread_plan"]["processes"][0]["address"]
    flour_intent = _plan_flow(m, "intent", "consume", m["flour_spec"])
    # a consume cannot fulfil a transfer clause
    assert "check_fulfilment" in v.fails(
        "bakery", "record", "consume", "--resource", stock, "--quantity", "1 kg",
        "--input-of", baking, "--fulfills", flour,
        "--realization-of", m["flour_deal"]["address"])
    # a member who is no party to the bakery's plan cannot fulfil its commitment (once it
    # holds the commitment, fetched from the network: until then it cannot be checked)
    loaves = _plan_flow(m, "commitment", "produce", m["bread_spec"])
    v("livestock", "get", loaves)
    refusals: list[str] = []

    def refused_by_the_rule() -> bool:
        refusals.append(v.fails(
            "livestock", "record", "produce", "--resource", "new:loaves", "--conforms-to",
            m["bread_spec"], "--quantity", "1 one", "--output-of", mixing, "--fulfills", loaves))
        return "check_fulfilment_party" in refusals[-1]

    wait_until(refused_by_the_rule, timeout=DEADLINE, what="the commitment checked there")
    assert all("cannot be checked yet" in r for r in refusals[:-1]), refusals
    # loaves do not satisfy an intent for flour (another specification and dimension)
    assert "check_satisfaction" in v.fails(
        "bakery", "record", "consume", "--resource", bread, "--quantity", "1 one",
        "--input-of", baking, "--satisfies", flour_intent)
    # a claim on an event its author was no party to
    wheat_delivery = _commitments(v, "mill")[_clause(m["wheat_deal"], v.ids["farm"])["address"]]
    assert "check_claim" in v.fails(
        "livestock", "claim", "--triggered-by", wheat_delivery["events"][0],
        "--from", v.ids["farm"], "--quantity", "5 EUR")
    # settling what is no claim
    assert "check_settlement" in v.fails(
        "bakery", "record", "consume", "--resource", stock, "--quantity", "1 kg",
        "--input-of", baking, "--settles", flour_intent)
    # an agreement must bind both: a one-way promise is refused before it is proposed
    assert "an agreement is reciprocal" in v.fails(
        "mill", "agree", "--with", v.ids["bakery"], "--give",
        f"10 kg of {m['flour_spec']} by 2027-03-01", "--wait", "5")
    # and another: an agreement with oneself is none
    assert "needs another agent" in v.fails(
        "mill", "agree", "--with", v.ids["mill"], "--give",
        f"10 kg of {m['flour_spec']} by 2027-03-01", "--get", "1 EUR by 2027-03-01")
    assert {name: v.length(name) for name in NAMES} == lengths


def test_a_withdrawn_offer_is_no_longer_satisfied(delivered: Valley) -> None:
    """The livestock cooperative's request withdrawn: its intent is finished, and an
    event of the livestock's dated after cannot satisfy it."""
    v, m = delivered, delivered.made
    request = v("livestock", "request", "--spec", m["feed_spec"], "--quantity", "5 kg",
                "--action", "raise")
    [intent] = request["intents"]
    v("livestock", "request", "--withdraw", request["proposal"])
    before = v.length("livestock")
    assert "check_satisfaction_open" in v.fails(
        "livestock", "record", "raise", "--resource", "new:more feed", "--conforms-to",
        m["feed_spec"], "--quantity", "5 kg", "--satisfies", intent)
    assert v.length("livestock") == before


# -- step 7: a claim for the flour delivered, settled in part by the bakery -------------------

@pytest.fixture(scope="module")
def claimed(delivered: Valley) -> Valley:
    v, m = delivered, delivered.made
    flour = _clause(m["flour_deal"], v.ids["mill"])["address"]
    [delivery] = _commitments(v, "mill")[flour]["events"]
    m["claim"] = v("mill", "claim", "--triggered-by", delivery, "--from", v.ids["bakery"],
                   "--quantity", "300 EUR", "--due", "2027-03-15")["address"]
    v.sync("mill")
    cash = v("bakery", "record", "raise", "--resource", "new:till", "--quantity",
             "1000 EUR")["created_resources"]["till"]
    # the bakery pays part: a transfer the mill accepts on its own, settling the claim
    m["payment"] = v("bakery", "record", "transfer", "--resource", cash, "--quantity",
                     "100 EUR", "--to", v.ids["mill"], "--to-resource", "new:takings",
                     "--settles", m["claim"], "--wait", "120")
    return v


def test_the_claim_and_its_settlement_show_to_both_parties(claimed: Valley) -> None:
    v, m = claimed, claimed.made
    for name in ("mill", "bakery"):
        rows = _commitments(v, name)
        assert m["claim"] in rows, name
        row = rows[m["claim"]]
        assert (row["kind"], row["provider"], row["receiver"]) == (
            "claim", v.ids["bakery"], v.ids["mill"]), name
        assert (row["fulfilled"], row["remaining"]) == (
            {"hasNumericalValue": "100", "hasUnit": "euro"},
            {"hasNumericalValue": "200", "hasUnit": "euro"}), name


# -- step 8: the bran goes to the livestock cooperative, satisfying the farm's offer ----------

def test_the_farms_bran_delivered_satisfies_its_offer(matched: Valley) -> None:
    v, m = matched, matched.made
    bran = v("farm", "record", "raise", "--resource", "new:bran", "--conforms-to",
             m["bran_spec"], "--quantity", "800 kg", "--classified-as", "byproduct")
    delivered = v("farm", "record", "transfer", "--resource",
                  bran["created_resources"]["bran"], "--quantity", "300 kg",
                  "--to", v.ids["livestock"], "--to-resource", "new:bran for feed",
                  "--satisfies", m["bran_intent"], "--wait", "120")
    assert delivered["state"] == "committed"
    [feed] = [r for r in v("livestock", "inventory") if r["name"] == "bran for feed"]
    assert feed["onhandQuantity"] == {"hasNumericalValue": "300", "hasUnit": "kilogram"}
