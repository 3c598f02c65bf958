"""`coledger plan status` on a real home (SQLite on disk), without a node.

The bakery publishes flour and bread recipes, declares wheat's footprint and a network
budget of emissions, and plans 400 loaves. Before anything is made the plan already
breaks the budget (its expected footprint); then events fulfil some of its flows
(written through the ledger with `fulfills`/`satisfies` set, as `record --fulfills` will)
and the status shows each flow done, partly, late, missing or pending, the processes'
actual times and the footprint recorded. An unknown plan is one line and a non-zero exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from node.api import open_ledger
from node.core.scratch import Scratch
from tests.cli_home import CliHome
from tests.integration.test_recipes_cli import PASS, bakery, flow, write  # noqa: F401
from zomes.valueflows.coordinator import EventRequest, build_event, create_resource
from zomes.valueflows.entries import EconomicEvent
from zomes.valueflows.zome import ChainView, entry_type


def fulfilling(home: Path, request: EventRequest, *, fulfills: str | None = None,
               satisfies: str | None = None, new: tuple[str, str, str] | None = None) -> str:
    """Record one event that fulfils a commitment or satisfies an intent (`new`: a
    resource (name, unit, spec) made for it, as `record --resource new:NAME` does)."""
    with open_ledger(home, lambda: PASS) as led:
        author, now = str(led.agent.agent_id), led.agent.clock()

        def build(scratch: Scratch, view: ChainView) -> str:
            resource = request.resource
            if new is not None:
                resource = str(create_resource(scratch, view, *new))
            req = EventRequest(**{**request.__dict__, "resource": resource})
            event = build_event(view, author, req, now, lambda *a: None)
            event = event.model_copy(update={"fulfills": fulfills, "satisfies": satisfies})
            return str(scratch.create(entry_type(EconomicEvent), event.to_content()))

        address: str = led.commit(build)
    return address


@pytest.fixture
def planned(bakery: tuple[CliHome, dict[str, str], Path]  # noqa: F811
            ) -> tuple[CliHome, dict[str, Any], dict[str, str]]:
    home, s, tmp_path = bakery
    home("recipe", "create", write(tmp_path, "flour", {
        "name": "flour", "primaryOutput": s["flour"], "processes": [{
            "name": "milling", "hasDuration": "2 day",
            "inputs": [flow("consume", s["wheat"], "100 kg")],
            "outputs": [flow("produce", s["flour"], "80 kg")]}]}))
    bread = home("recipe", "create", write(tmp_path, "bread", {
        "name": "bread", "primaryOutput": s["bread"], "processes": [{
            "name": "baking", "hasDuration": "1 day",
            "inputs": [flow("consume", s["flour"], "50 kg"), flow("consume", s["water"], "30 l"),
                       {"action": "work", "effortQuantity": "2 hour"}],
            "outputs": [flow("produce", s["bread"], "100 one")]}]}))
    home("footprint", "declare", s["wheat"], "--per", "kg", "--factor", "emissions=0.5kgCO2e")
    home("budget", "set", "emissions", "--allocated", "100 kgCO2e",
         "--from", _day(-1), "--to", _day(90), "--for", "network")
    plan = home("plan", "from-recipe", bread["address"], "--quantity", "400 one",  # type: ignore[index]
                "--due", _day(30))
    return home, plan, s  # type: ignore[return-value]


def by(report: Any, action: str, spec: str | None) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in report["flows"]
                                 if f["action"] == action and f["resourceConformsTo"] == spec)
    return found


def test_before_production_the_expected_footprint_breaks_the_budget(planned) -> None:  # type: ignore[no-untyped-def]
    home, plan, s = planned
    before = home.length()
    report = home("plan", "status", plan["address"], "--at", _day(1))
    assert report["plan"] == plan["address"] and report["asOf"] == _day(1) + "T00:00:00Z"
    assert report["states"] == {"pending": 6}
    assert by(report, "consume", s["wheat"])["planned"] == {
        "hasNumericalValue": "250", "hasUnit": "kilogram"}
    # 250 kg of wheat at 0.5 kgCO2e: 125 of a 100 kgCO2e budget, before anything is made
    assert report["footprint"]["expected"] == {
        "emissions": {"hasNumericalValue": "125", "hasUnit": "kilogramCO2e"}}
    assert report["footprint"]["recorded"] == {}
    [budget] = report["budgets"]
    assert (budget["quotient"], budget["over"]) == ("0", False)
    assert (budget["withPlan"]["quotient"], budget["withPlan"]["over"]) == ("1.25", True)
    assert report["breaksBudget"] is True
    assert [p["state"] for p in report["processes"]] == ["pending", "pending"]
    text = home.text("plan", "status", plan["address"])
    assert "OVER with the plan" in text and "quotient 1.25" in text
    header = next(line for line in text.splitlines() if line.startswith("kind"))
    row = next(line for line in text.splitlines() if line.startswith("intent") and "wheat" in line)
    assert row.index("250 kilogram") == header.index("planned")  # columns aligned
    assert home.length() == before  # reading writes nothing


def test_events_fulfil_the_plan_done_partly_late_missing_pending(planned) -> None:  # type: ignore[no-untyped-def]
    home, plan, s = planned
    flows = {(f["action"], f["resourceConformsTo"], f["direction"]): f for f in plan["flows"]}
    milling, baking = plan["processes"][1]["address"], plan["processes"][0]["address"]
    wheat = home("record", "raise", "--resource", "new:wheat", "--conforms-to", s["wheat"],
                 "--quantity", "300 kg")["created_resources"]["wheat"]
    # all the wheat (in tonnes: converted), into milling, satisfying the intent
    fulfilling(home.home, EventRequest(
        "consume", resource=wheat, quantity="0.25 t", input_of=milling, at_us=None),
        satisfies=flows[("consume", s["wheat"], "input")]["address"])
    # 80 of the 200 kg of flour milling makes
    fulfilling(home.home, EventRequest(
        "produce", quantity="80 kg", output_of=milling, conforms_to=s["flour"]),
        fulfills=flows[("produce", s["flour"], "output")]["address"],
        new=("flour", "kg", s["flour"]))
    # 100 loaves of 400
    fulfilling(home.home, EventRequest(
        "produce", quantity="100 one", output_of=baking, conforms_to=s["bread"]),
        fulfills=flows[("produce", s["bread"], "output")]["address"],
        new=("bread", "one", s["bread"]))
    report = home("plan", "status", plan["address"])
    assert by(report, "consume", s["wheat"])["state"] == "done"
    assert by(report, "consume", s["wheat"])["done"]["hasNumericalValue"] == "250"
    assert by(report, "produce", s["flour"])["state"] == "partly"
    assert by(report, "produce", s["flour"])["remaining"]["hasNumericalValue"] == "120"
    assert by(report, "produce", s["bread"])["state"] == "partly"
    assert by(report, "consume", s["water"])["state"] == "pending"
    assert {p["name"]: p["state"] for p in report["processes"]} == {
        "milling": "started", "baking": "started"}
    before = home("plan", "status", plan["address"], "--at", _day(-1))  # as of yesterday
    assert set(before["states"]) == {"pending"}
    later = home("plan", "status", plan["address"], "--at", _day(40))
    assert by(later, "produce", s["bread"])["state"] == "late"
    assert by(later, "produce", s["bread"])["done"]["hasNumericalValue"] == "100"
    assert by(later, "consume", s["water"])["state"] == "missing"
    assert by(later, "work", None)["state"] == "missing"
    assert set(later["states"]) == {"done", "late", "missing"}
    names = {p["name"]: p for p in later["processes"]}
    assert names["milling"]["events"] == 2 and names["milling"]["state"] == "late"
    assert names["milling"]["actualBeginning"] is not None
    # the wheat consumed is what the plan's processes recorded: 125 kgCO2e
    assert later["footprint"]["recorded"] == {
        "emissions": {"hasNumericalValue": "125", "hasUnit": "kilogramCO2e"}}
    text = home.text("plan", "status", plan["address"], "--at", _day(40))
    assert "late" in text and "missing" in text and "milling" in text


def test_an_unknown_plan_is_one_line_and_a_failure(planned) -> None:  # type: ignore[no-untyped-def]
    home, plan, s = planned
    assert "no plan at" in home.fails("plan", "status", s["wheat"])
    assert "not an address" in home.fails("plan", "status", "nonsense")


def _day(days: int) -> str:
    """The date `days` from today (UTC)."""
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def test_plan_status_through_a_running_nodes_socket(planned) -> None:  # type: ignore[no-untyped-def]
    import trio

    from dht.memory import MemoryNetwork
    from node.api import node_running, open_node

    home, plan, s = planned

    async def main() -> Any:
        async with open_node(home.home, lambda: PASS, memory_network=MemoryNetwork(),
                             gossip_interval=0.2):
            assert node_running(home.home)
            return await trio.to_thread.run_sync(
                lambda: home("plan", "status", plan["address"]))

    report = trio.run(main)
    assert report["states"] == {"pending": 6} and report["breaksBudget"] is True
