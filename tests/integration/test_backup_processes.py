"""A cooperative backs up its running node, records more (published), loses its machine,
and restores the backup elsewhere: the restored home refuses to write until its node has
compared its chain with the network, and the node takes the later records back from its
agent-activity authorities by itself (real `coledger run` processes on 127.0.0.1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.processes import NodeProcess, cli, cooperatives, wait_until
from tests.integration.test_rollback_processes import record

pytestmark = pytest.mark.slow
NAMES = ["farm", "mill", "bakery"]


def length(home: Path) -> int:
    return int(cli(home, "chain", "verify", check=False).returncode == 0
               and cli(home, "chain", "verify")["length"])


def test_a_restored_node_takes_the_later_records_back_from_the_network(tmp_path):
    homes, ids, nodes = cooperatives(tmp_path, NAMES)
    mill = homes["mill"]
    try:
        wait_until(lambda: all(n.status()["peers"] == 2 for n in nodes.values()), timeout=60,
                   what="a full mesh")
        before = [record(mill, f"sack{i}") for i in range(3)]
        at_backup = length(mill)
        made = cli(mill, "backup", str(tmp_path / "mill.backup"))  # (its node running)
        after = [record(mill, f"sack{i}") for i in range(3, 6)]
        full = length(mill)
        assert made["head_seq"] + 1 == at_backup < full
        cli(mill, "sync", "--timeout", "60")
        nodes["mill"].stop()
        shutil.rmtree(mill)  # (the machine is lost)
        elsewhere = tmp_path / "new machine" / "mill"
        elsewhere.parent.mkdir()
        done = cli(elsewhere, "restore", str(tmp_path / "mill.backup"))
        assert done["agent_id"] == ids["mill"] and done["head_seq"] == made["head_seq"]
        refused = cli(elsewhere, "record", "raise", "--resource", "new:fork",
                      "--quantity", "1 kg", check=False)
        assert refused.returncode == 1 and "restored from a backup" in refused.stderr
        nodes["mill"] = NodeProcess(elsewhere, bootstrap=[nodes["farm"].address])
        wait_until(lambda: length(elsewhere) == full, timeout=60,
                   what="the later records back from the network")
        assert all(cli(elsewhere, "get", e)["address"] == e for e in before + after)
        new = record(elsewhere, "after the restore")  # (writes resumed)
        assert length(elsewhere) > full
        cli(elsewhere, "sync", "--timeout", "60")
        for name in ("farm", "bakery"):
            assert cli(homes[name], "get", new)["address"] == new
            assert ids["mill"] not in nodes[name].status()["blocked"]
    finally:
        for node in nodes.values():
            node.stop()
