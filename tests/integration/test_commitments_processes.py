"""Fulfilment seen by both parties, across two real `coledger run` processes: the mill
commits to produce 300 kg of flour for the bakery (a commitment on the mill's chain,
linked from the bakery's party base); the mill records 120 kg produced fulfilling it (an
event on the mill's chain alone, linked from the commitment). The bakery's `commitments`
finds both through the links' authorities: 120 kg fulfilled, 180 kg remaining, overdue.
The bakery, which holds the commitment as one of its authorities, is refused a
fulfilment of another action: one line, nothing written. A countersigned delivery
(`record transfer --to`) fulfils the mill's transfer commitment on both chains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from node.api import open_ledger
from tests.integration.processes import PASS, cli, cooperatives, wait_until
from zomes.valueflows.entries import Commitment
from zomes.valueflows.obligations import create_commitment
from zomes.valueflows.units import Measure

pytestmark = pytest.mark.slow


def _commit(home: Path, mill: str, bakery: str, spec: str, action: str = "produce",
            kg: int = 300) -> str:
    """The mill's commitment (written on its home as a coordinator would)."""
    entry = Commitment(action=action, provider=mill, receiver=bakery,
                       resource_conforms_to=spec, resource_quantity=Measure.of(kg, "kg"),
                       due=1_600_000_000_000_000)
    with open_ledger(home, lambda: PASS) as led:
        return str(led.commit(lambda s, v: create_commitment(s, mill, entry)))


def test_the_other_party_sees_a_fulfilment_through_the_links(tmp_path: Path) -> None:
    homes, ids, nodes = cooperatives(tmp_path, ["mill", "bakery"],
                                     auto_accept={"bakery": ["mill"]})
    try:
        wait_until(lambda: all(n.status()["peers"] == 1 for n in nodes.values()),
                   timeout=60, what="the two nodes meeting")
        mill, bakery = homes["mill"], homes["bakery"]
        flour = cli(mill, "spec", "create", "flour", "--unit", "kg")["address"]
        milling = cli(mill, "process", "create", "milling")["address"]
        commitment = _commit(mill, ids["mill"], ids["bakery"], flour)
        event = cli(mill, "record", "produce", "--resource", "new:flour", "--conforms-to", flour,
                    "--quantity", "120 kg", "--output-of", milling, "--fulfills", commitment)
        own = cli(mill, "commitments")
        assert [r["address"] for r in own] == [commitment]
        assert own[0]["fulfilled"]["hasNumericalValue"] == "120"

        def seen() -> Any:
            rows = cli(bakery, "commitments")
            return rows and rows[0]["fulfilled"]["hasNumericalValue"] == "120"

        wait_until(seen, timeout=60, what="the bakery seeing the mill's fulfilment")
        row = cli(bakery, "commitments")[0]
        assert (row["address"], row["provider"], row["receiver"]) == (
            commitment, ids["mill"], ids["bakery"])
        assert row["remaining"]["hasNumericalValue"] == "180" and row["overdue"] is True
        assert row["events"] == [event["address"]]
        before = len(cli(bakery, "chain", "show"))
        proc = cli(bakery, "record", "raise", "--resource", "new:x", "--quantity", "1 kg",
                   "--fulfills", commitment, check=False)  # a raise for a planned produce
        assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
        assert "check_fulfilment" in proc.stderr
        assert len(cli(bakery, "chain", "show")) == before
        # a countersigned delivery fulfils a transfer commitment: on both chains at once
        delivery = _commit(mill, ids["mill"], ids["bakery"], flour, "transfer", 50)
        session = cli(mill, "record", "transfer", "--resource",
                      event["created_resources"]["flour"], "--quantity", "50 kg",
                      "--to", ids["bakery"], "--fulfills", delivery)
        assert session["state"] == "committed"
        rows = {r["address"]: r for r in cli(bakery, "commitments", "--all")}
        assert rows[delivery]["fulfilled"]["hasNumericalValue"] == "50"
        assert rows[delivery]["open"] is False and rows[delivery]["events"] == [session["event"]]
    finally:
        for node in nodes.values():
            node.stop()
