"""`coledger sync` against real `coledger run` processes: it says "synced" (exit 0) only
once every op holds its receipts from other members; alone, or at its timeout, it exits
1 and says how many ops lack them (an op only its author holds is not published)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.integration.processes import NodeProcess, cli, cooperatives

pytestmark = pytest.mark.slow


def record_some(home: Path) -> None:
    spec = cli(home, "spec", "create", "grain", "--unit", "kg")["address"]
    process = cli(home, "process", "create", "harvest")["address"]
    cli(home, "record", "produce", "--resource", "new:grain", "--conforms-to", spec,
        "--quantity", "100 kg", "--output-of", process)


def test_sync_with_no_peers_fails_and_says_how_many_ops_lack_receipts(tmp_path):
    home = tmp_path / "alone"
    cli(home, "init", "--name", "alone")
    cli(home, "network", "create", "solo", "--out", str(tmp_path / "solo.network.json"))
    record_some(home)
    node = NodeProcess(home)
    try:
        started = time.monotonic()
        proc = cli(home, "sync", "--timeout", "2", check=False, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert time.monotonic() - started < 30
        result = json.loads(proc.stdout)
        assert result["pending"] > 0 and result["peers"] == 0
        assert f"{result['pending']} ops lack their" in proc.stderr
        assert "held by this node only" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert node.status()["publish_pending"] == result["pending"]
    finally:
        node.stop()


def test_sync_with_peers_exits_0_once_the_receipts_are_in(tmp_path):
    homes, _, nodes = cooperatives(tmp_path, ["farm", "mill", "bakery"])
    try:
        record_some(homes["farm"])
        proc = cli(homes["farm"], "sync", "--timeout", "60", check=False, timeout=120)
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["pending"] == 0 and result["peers"] == 2
        assert result["receipts_needed"] == 3
    finally:
        for node in nodes.values():
            node.stop()
