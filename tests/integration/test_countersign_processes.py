"""Countersigned transfers between cooperatives, each its own `coledger run` process with
real libp2p on 127.0.0.1, driven from the command line: complete, decline, time out;
either party killed at each step of a session; a forged countersignature and a replayed
one. After every case both chains agree: the event is on both or on neither."""

from __future__ import annotations

import json
import os
from pathlib import Path

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
NAMES = ["farm", "mill", "bakery", "shop"]
COUNTERSIGNED = "valueflows.CountersignedEvent"


@pytest.fixture(scope="module")
def coops(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("cs")
    homes, ids, nodes = cooperatives(root, NAMES)
    wait_until(lambda: all(n.status()["peers"] == len(NAMES) - 1 for n in nodes.values()),
               timeout=60, what="a full mesh")
    wheat = cli(homes["farm"], "record", "raise", "--resource", "new:wheat",
                "--quantity", "1000 kg")["created_resources"]["wheat"]
    yield homes, ids, nodes, wheat
    for node in nodes.values():
        node.stop()


def countersigned(home: Path) -> list[dict]:
    return [r for r in cli(home, "chain", "show")
            if r.get("action", {}).get("entry_type") == COUNTERSIGNED]


def balance(home: Path, name: str) -> str | None:
    rows = [r for r in cli(home, "inventory") if r["name"] == name]
    return rows[0]["accountingQuantity"]["hasNumericalValue"] if rows else None


def start_transfer(coops, quantity: str, to: str = "mill", wait: str = "30"):
    homes, ids, _, wheat = coops
    return cli_background(homes["farm"], "record", "transfer", "--resource", wheat, "--quantity",
                          quantity, "--to", ids[to], "--wait", wait)


def pending_on(home: Path) -> str:
    found: list[str] = []
    wait_until(lambda: found.extend(s["id"] for s in cli(home, "pending")
                                    if s["state"] == "pending")
               or bool(found), timeout=30, what="the proposal to arrive")
    return found[0]


def finished(proc, timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_transfer_from_the_command_line_is_on_both_chains(coops):
    homes, ids, nodes, wheat = coops
    proc = start_transfer(coops, "40 kg")
    session = pending_on(homes["mill"])
    accepted = cli(homes["mill"], "accept", session[:10])
    code, out, err = finished(proc)
    assert code == 0, err
    event = json.loads(out)["event"]
    assert accepted["event"] == event and accepted["state"] == "committed"
    [farm_side], [mill_side] = countersigned(homes["farm"]), countersigned(homes["mill"])
    assert farm_side["action"]["entry_hash"] == mill_side["action"]["entry_hash"] == event
    assert balance(homes["farm"], "wheat") == "960" and balance(homes["mill"], "wheat") == "40"
    for name in ("farm", "mill"):
        cli(homes[name], "sync", "--timeout", "60")
    # any member gets the shared event, and the authorities validated both records
    got = cli(homes["bakery"], "get", event)
    assert (got["entry_address"] == event
            and got["address"] in (farm_side["address"], mill_side["address"]))
    inventory = cli(homes["shop"], "inventory", "--agent", ids["mill"])
    assert [r["accountingQuantity"]["hasNumericalValue"] for r in inventory] == ["40"]
    assert all(n.status()["ops"].get("rejected", 0) == 0 for n in nodes.values())


def test_decline_and_timeout_leave_both_chains_as_they_were(coops):
    homes, ids, nodes, wheat = coops
    before = {n: len(cli(homes[n], "chain", "show")) for n in ("farm", "mill")}
    proc = start_transfer(coops, "1 kg")
    cli(homes["mill"], "decline", pending_on(homes["mill"]), "--reason", "no room in the silo")
    code, _, err = finished(proc)
    assert code == 1 and "declined" in err and "no room in the silo" in err
    proc = start_transfer(coops, "1 kg", wait="2")
    code, _, err = finished(proc)
    assert code == 1 and "expired" in err and "nothing was written" in err
    assert {n: len(cli(homes[n], "chain", "show")) for n in ("farm", "mill")} == before
    cli(homes["farm"], "record", "raise", "--resource", wheat, "--quantity", "1 kg")  # not locked


@pytest.mark.parametrize("failpoint, written", [
    ("counterparty-after-sign", False),    # the mill dies before its signature leaves
    ("counterparty-before-write", True),   # the mill dies after the farm committed
])
def test_counterparty_killed_mid_session(coops, failpoint, written):
    homes, ids, nodes, wheat = coops
    farm_before = len(countersigned(homes["farm"]))
    nodes["mill"].stop()
    nodes["mill"] = NodeProcess(homes["mill"], bootstrap=[nodes["farm"].address],
                                environment={"COLEDGER_FAILPOINT": failpoint})
    proc = start_transfer(coops, "2 kg", wait="8")
    session = pending_on(homes["mill"])
    cli(homes["mill"], "accept", session, check=False)
    assert nodes["mill"].wait_exit() == 75
    code, _, err = finished(proc)
    assert (code == 0) is written, err
    nodes["mill"] = NodeProcess(homes["mill"], bootstrap=[nodes["farm"].address])
    wait_until(lambda: not [s for s in cli(homes["mill"], "pending") if s["id"] == session],
               timeout=60, what="the restarted mill to resolve the session")
    assert len(countersigned(homes["farm"])) == farm_before + written
    farm_events = {r["action"]["entry_hash"] for r in countersigned(homes["farm"])}
    mill_events = {r["action"]["entry_hash"] for r in countersigned(homes["mill"])}
    assert farm_events == mill_events


@pytest.mark.parametrize("failpoint, written", [
    ("initiator-before-commit", False),
    ("initiator-after-commit", True),
])
def test_initiator_killed_mid_session(coops, failpoint, written):
    homes, ids, nodes, wheat = coops
    before = len(countersigned(homes["farm"]))
    nodes["farm"].stop()
    nodes["farm"] = NodeProcess(homes["farm"], bootstrap=[nodes["mill"].address],
                                environment={"COLEDGER_FAILPOINT": failpoint})
    proc = start_transfer(coops, "3 kg", wait="6")
    session = pending_on(homes["mill"])
    accepted = cli(homes["mill"], "accept", session)
    assert accepted["state"] == "signed"  # no answer: the mill keeps its chain locked
    assert nodes["farm"].wait_exit() == 75
    finished(proc)
    nodes["farm"] = NodeProcess(homes["farm"], bootstrap=[nodes["mill"].address])
    wait_until(lambda: [s["state"] for s in cli(homes["mill"], "pending", "--all")
                        if s["id"] == session]
               == ["committed" if written else "abandoned"],
               timeout=60, what="the mill to resolve it")
    farm_events = {r["action"]["entry_hash"] for r in countersigned(homes["farm"])}
    mill_events = {r["action"]["entry_hash"] for r in countersigned(homes["mill"])}
    assert farm_events == mill_events
    assert len(farm_events) == before + written


def test_a_counterparty_unlocks_after_the_window_while_the_initiator_stays_gone(coops):
    """The farm dies before deciding and stays down: the mill, signed and locked, asks the
    farm's agent-activity authorities once the window and the grace (30 s) are over, and
    unlocks; `pending` says meanwhile what it waits for."""
    homes, ids, nodes, wheat = coops
    nodes["farm"].stop()
    nodes["farm"] = NodeProcess(homes["farm"], bootstrap=[nodes["mill"].address],
                                environment={"COLEDGER_FAILPOINT": "initiator-before-commit"})
    proc = start_transfer(coops, "4 kg", wait="6")
    session = pending_on(homes["mill"])
    assert cli(homes["mill"], "accept", session)["state"] == "signed"
    assert nodes["farm"].wait_exit() == 75
    finished(proc)
    [shown] = [s for s in cli(homes["mill"], "pending") if s["id"] == session]
    assert "signed; waiting for the initiator's decision until" in shown["waiting_for"]
    locked = cli(homes["mill"], "record", "raise", "--resource", "new:oats", "--quantity",
                 "1 kg", check=False)
    assert locked.returncode == 1 and "locked" in locked.stderr
    # window 6 s + grace 30 s + a bound for the asking (2 s a round, 10 s a request)
    wait_until(lambda: [s["state"] for s in cli(homes["mill"], "pending", "--all")
                        if s["id"] == session] == ["abandoned"],
               timeout=6 + 30 + 40, what="the mill to unlock without the farm")
    cli(homes["mill"], "record", "raise", "--resource", "new:oats", "--quantity", "1 kg")
    nodes["farm"] = NodeProcess(homes["farm"], bootstrap=[nodes["mill"].address])
    farm_events = {r["action"]["entry_hash"] for r in countersigned(homes["farm"])}
    mill_events = {r["action"]["entry_hash"] for r in countersigned(homes["mill"])}
    assert farm_events == mill_events


def test_concurrent_sessions_on_one_agent_do_not_interleave(coops):
    homes, ids, nodes, wheat = coops
    flour = cli(homes["bakery"], "record", "raise", "--resource", "new:flour",
                "--quantity", "50 kg")["created_resources"]["flour"]
    first = start_transfer(coops, "5 kg")
    # while the farm's session is open its chain is locked: a second one is refused at once
    wait_until(lambda: any(s["state"] == "proposed" for s in cli(homes["farm"], "pending")),
               timeout=30, what="the farm's proposal")
    again = cli(homes["farm"], "record", "transfer", "--resource", wheat, "--quantity", "1 kg",
                "--to", ids["bakery"], "--wait", "5", check=False)
    assert again.returncode == 1 and "locked by countersigning session" in again.stderr
    second = cli_background(homes["bakery"], "record", "transfer", "--resource", flour,
                            "--quantity", "5 kg", "--to", ids["mill"], "--wait", "30")
    wait_until(lambda: len([s for s in cli(homes["mill"], "pending")
                            if s["state"] == "pending"]) == 2,
               timeout=30, what="both proposals at the mill")
    sessions = [s["id"] for s in cli(homes["mill"], "pending")]
    accepts = [cli_background(homes["mill"], "accept", sid) for sid in sessions]  # at the same time
    for proc in accepts:
        code, _, err = finished(proc)
        if code != 0:  # the other session held the mill's chain: accepted again once it is free
            assert "locked by countersigning session" in err, err
            sid = next(s["id"] for s in cli(homes["mill"], "pending") if s["state"] == "pending")
            cli(homes["mill"], "accept", sid)
    assert finished(first)[0] == 0 and finished(second)[0] == 0
    mill = countersigned(homes["mill"])
    seqs = [r["action"]["seq"] for r in mill]
    assert len(seqs) == len(set(seqs))
    others = {r["action"]["entry_hash"]
              for n in ("farm", "bakery") for r in countersigned(homes[n])}
    assert {r["action"]["entry_hash"] for r in mill} <= others
    assert cli(homes["mill"], "chain", "verify")["ok"]


def test_forged_and_replayed_countersignatures_are_rejected_and_warranted(coops):
    homes, ids, nodes, wheat = coops
    # the shop forges the mill's countersignature on a transfer of the mill's wheat to itself
    nodes["shop"].stop()
    forge_countersignature(homes["shop"], ids["mill"])
    nodes["shop"] = NodeProcess(homes["shop"], bootstrap=[nodes["farm"].address])
    # the mill replays the farm's real countersigned transfer at a new place on its chain
    nodes["mill"].stop()
    replay_last_countersigned(homes["mill"])
    nodes["mill"] = NodeProcess(homes["mill"], bootstrap=[nodes["farm"].address])
    for cheat in ("shop", "mill"):
        wait_until(lambda cheat=cheat: all(ids[cheat] in nodes[n].status()["blocked"]
                                           for n in ("farm", "bakery")),
                   timeout=90, what=f"the farm and the bakery to block the {cheat}")


def forge_countersignature(home: Path, victim: str) -> None:
    from node.api import open_agent
    from node.core.cid import Cid
    from node.core.countersign import SESSION_ID_SIZE, Envelope, Party, Session, approve, next_party
    from node.core.identity import AgentId, AgentKey
    from zomes.valueflows.entries import EconomicEvent
    from zomes.valueflows.units import parse_quantity

    with open_agent(home, lambda: PASS) as agent:
        me = agent.agent_id
        head = agent.head()
        mine = next_party(me, head, agent.clock())
        theirs = Party(AgentId.parse(victim), Cid.of(b"their head"), 9, mine.timestamp)
        event = EconomicEvent(action="transfer", provider=victim, receiver=str(me),
                              resource_conforms_to=None, resource_quantity=parse_quantity("1 kg"),
                              has_point_in_time=mine.timestamp).to_content()
        session = Session(os.urandom(SESSION_ID_SIZE), mine.timestamp, mine.timestamp + 10**7,
                          (theirs, mine))
        approvals = (AgentKey.generate().sign(b"not the victim"),
                     approve(agent.key(), COUNTERSIGNED, session, event))
        entry = Envelope(session, event, approvals).entry()
        agent.commit(lambda s: s.countersigned(COUNTERSIGNED, entry, mine))


def replay_last_countersigned(home: Path) -> None:
    from node.api import open_agent

    with open_agent(home, lambda: PASS) as agent:
        old = [r for r in agent.store.records()
               if getattr(r.action, "entry_type", None) == COUNTERSIGNED][0]
        agent.commit(lambda s: s.create(COUNTERSIGNED, old.entry.value))
