"""A real network partition between real `coledger run` processes: five cooperatives in
two network namespaces joined by one link (tests/integration/netns.py). The link goes
down, both sides record, the link comes back: every node gets every event, and every op
ends up with its R receipts. Nothing is lost and nobody republishes by hand."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration import netns
from tests.integration.processes import cli, cooperatives, wait_until

pytestmark = pytest.mark.slow
SIDE_A = ["farm", "mill"]
SIDE_B = ["bakery", "energy", "shop"]

_why_not = netns.unavailable()


def record_chain(home: Path, what: str) -> dict[str, str]:
    spec = cli(home, "spec", "create", what, "--unit", "kg")["address"]
    process = cli(home, "process", "create", f"making {what}")["address"]
    out = cli(home, "record", "produce", "--resource", f"new:{what}", "--conforms-to", spec,
              "--quantity", "100 kg", "--output-of", process)
    return {"event": out["address"], "resource": out["created_resources"][what]}


@pytest.mark.skipif(_why_not is not None, reason=f"no network namespaces: {_why_not}")
def test_a_partition_heals_and_loses_nothing(tmp_path: Path) -> None:
    with netns.two_sides() as sides:
        where = {name: (sides.a, f"/ip4/{netns.A_ADDR}/tcp/0") for name in SIDE_A}
        where.update({name: (sides.b, f"/ip4/{netns.B_ADDR}/tcp/0") for name in SIDE_B})
        homes, ids, nodes = cooperatives(tmp_path, SIDE_A + SIDE_B, where=where)
        try:
            wait_until(lambda: all(n.status()["peers"] == 4 for n in nodes.values()),
                       timeout=60, what="every node connected to the four others")
            sides.cut()
            # both sides go on recording; R = 3 and side A has two nodes, so every op of
            # the farm has an authority on the other side and cannot be confirmed yet
            wheat = record_chain(homes["farm"], "wheat")
            bread = record_chain(homes["bakery"], "bread")
            time.sleep(3)
            assert nodes["farm"].status()["publish_pending"] > 0
            sides.heal()
            for name, home in homes.items():
                for made in (wheat, bread):
                    wait_until(lambda h=home, m=made: cli(h, "get", m["event"])["address"]
                               == m["event"], timeout=120,
                               what=f"{name} to get {made['event']} after the partition")
            wait_until(lambda: all(nodes[n].status()["publish_pending"] == 0
                                   for n in ("farm", "bakery")),
                       timeout=120, what="every op of both sides confirmed by R authorities")
            far_side = cli(homes["shop"], "inventory", "--agent", ids["farm"])
            assert [r["accountingQuantity"]["hasNumericalValue"] for r in far_side] == ["100"]
            far_side = cli(homes["mill"], "inventory", "--agent", ids["bakery"])
            assert [r["accountingQuantity"]["hasNumericalValue"] for r in far_side] == ["100"]
        finally:
            for node in nodes.values():
                node.stop()
