"""Fulfilment on the command line, on one home without a node: the bakery plans 400
loaves from its bread recipe (a commitment to produce them, by a date already past),
records 150 loaves fulfilling it; `commitments` shows 150 fulfilled, 250 remaining and
overdue. A fulfilment of what is no commitment, or of another action, is refused with
one line and nothing is written; a claim is recorded and listed the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from node.core.identity import AgentKey
from tests.cli_home import CliHome

PASS = "commitments cli test"


@pytest.fixture
def bakery(tmp_path: Path, capsys: pytest.CaptureFixture[str],
           monkeypatch: pytest.MonkeyPatch) -> tuple[CliHome, dict[str, str], dict[str, Any]]:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    monkeypatch.chdir(tmp_path)
    home = CliHome(tmp_path / "bakery", capsys)
    home("init", "--name", "Bakery")
    home("network", "create", "valley", "--out", str(tmp_path / "valley.network.json"))
    specs = {name: str(home("spec", "create", name, "--unit", unit)["address"])  # type: ignore[index]
             for name, unit in (("flour", "kg"), ("bread", "one"), ("euro", "EUR"))}
    recipe = tmp_path / "bread.json"
    recipe.write_text(json.dumps({
        "name": "bread", "primaryOutput": specs["bread"], "processes": [{
            "name": "baking", "hasDuration": "3 hour",
            "inputs": [{"action": "consume", "resourceConformsTo": specs["flour"],
                        "resourceQuantity": "50 kg"}],
            "outputs": [{"action": "produce", "resourceConformsTo": specs["bread"],
                         "resourceQuantity": "100 one"}]}]}))
    made = home("recipe", "create", str(recipe))
    plan = home("plan", "from-recipe", made["address"], "--quantity", "400 one",  # type: ignore[index]
                "--due", "2020-03-01")
    assert isinstance(plan, dict)
    return home, specs, plan


def _commitment(plan: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in plan["flows"] if f["kind"] == "commitment")
    return found


def test_an_event_fulfils_a_plans_commitment(bakery) -> None:  # type: ignore[no-untyped-def]
    home, specs, plan = bakery
    commitment = _commitment(plan)
    assert commitment["action"] == "produce"
    listed = home("commitments")
    assert [r["address"] for r in listed] == [commitment["address"]]
    assert listed[0]["fulfilled"]["hasNumericalValue"] == "0"
    event = home("record", "produce", "--resource", "new:loaves", "--conforms-to", specs["bread"],
                 "--quantity", "150 one", "--output-of", commitment["process"],
                 "--at", "2020-02-01T10:00:00", "--fulfills", commitment["address"])
    assert event["event"]["fulfills"] == commitment["address"]
    row = home("commitments")[0]
    assert (row["committed"]["hasNumericalValue"], row["fulfilled"]["hasNumericalValue"],
            row["remaining"]["hasNumericalValue"]) == ("400", "150", "250")
    assert row["overdue"] is True and row["open"] is True
    assert row["events"] == [event["address"]]
    table = home.text("commitments")
    assert "OVERDUE" in table and "250 one" in table
    # the rest: no longer open, listed with --all only
    home("record", "produce", "--resource", "new:more loaves", "--conforms-to", specs["bread"],
         "--quantity", "250 one", "--output-of", commitment["process"],
         "--at", "2020-02-02T10:00:00", "--fulfills", commitment["address"])
    assert home("commitments") == []
    done = home("commitments", "--all")
    assert done[0]["remaining"]["hasNumericalValue"] == "0" and done[0]["overdue"] is False


def test_a_bad_fulfilment_is_refused_and_nothing_written(bakery) -> None:  # type: ignore[no-untyped-def]
    home, specs, plan = bakery
    commitment = _commitment(plan)
    before = home.length()
    base = ["record", "produce", "--resource", "new:loaves", "--conforms-to", specs["bread"],
            "--quantity", "10 one", "--output-of", commitment["process"]]
    err = home.fails(*base, "--fulfills", "nonsense")
    assert "fulfills" in err
    err = home.fails(*base, "--fulfills", plan["address"])  # the plan: no commitment
    assert "check_fulfilment" in err
    err = home.fails("record", "produce", "--resource", "new:dough", "--quantity", "10 kg",
                     "--output-of", commitment["process"], "--fulfills", commitment["address"])
    assert "check_fulfilment" in err  # kilograms for loaves counted one by one
    err = home.fails("record", "raise", "--resource", "new:x", "--conforms-to", specs["bread"],
                     "--quantity", "10 one", "--fulfills", commitment["address"])
    assert "check_fulfilment" in err  # another action
    assert home.length() == before


def test_a_claim_is_recorded_and_listed(bakery) -> None:  # type: ignore[no-untyped-def]
    home, specs, _ = bakery
    event = home("record", "raise", "--resource", "new:bread stock", "--conforms-to",
                 specs["bread"], "--quantity", "5 one")
    member = str(AgentKey(bytes([9]) * 32).agent_id)  # (it owes; its node need not run)
    claim = home("claim", "--triggered-by", event["address"], "--from", member,
                 "--quantity", "30 EUR", "--spec", specs["euro"], "--due", "2020-01-01")
    row = next(r for r in home("commitments") if r["kind"] == "claim")
    assert row["address"] == claim["address"] and row["overdue"] is True
    before = home.length()
    err = home.fails("claim", "--triggered-by", specs["bread"], "--from", member,
                     "--quantity", "3 EUR")
    assert "check_claim" in err
    assert home.length() == before


def test_an_event_satisfies_an_offer_until_it_is_withdrawn(bakery) -> None:  # type: ignore[no-untyped-def]
    home, specs, _ = bakery
    offer = home("offer", "--spec", specs["bread"], "--quantity", "20 one", "--action", "raise")
    intent = offer["intents"][0]
    event = home("record", "raise", "--resource", "new:rolls", "--conforms-to", specs["bread"],
                 "--quantity", "5 one", "--satisfies", intent)
    assert event["event"]["satisfies"] == intent
    err = home.fails("record", "raise", "--resource", "new:rolls", "--conforms-to",
                     specs["euro"], "--quantity", "5 EUR", "--satisfies", intent)
    assert "check_satisfaction" in err
    home("offer", "--withdraw", offer["proposal"])
    updates = [r for r in home("chain", "show") if r["action"]["type"] == "Update"]
    assert [u["action"]["original_action"] for u in updates] == [intent]
    assert home("get", updates[0]["address"])["entry"]["finished"] is True  # type: ignore[index]
    err = home.fails("record", "raise", "--resource", "new:rolls", "--conforms-to",
                     specs["bread"], "--quantity", "5 one", "--satisfies", updates[0]["address"])
    assert "check_satisfaction_open" in err
