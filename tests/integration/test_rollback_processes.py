"""A cooperative's home rolled back, with real `coledger run` processes on 127.0.0.1:
restored from a backup taken after its 8th of 12 events, its node notices on restart
that the network holds more of its chain, refuses `record`, and `chain recover` brings
all 12 back (asking the running node, or with none running in a session of its own);
and a fork of its own reaching the network no longer ends its process."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from tests.integration.network_harness import backup, restore
from tests.integration.processes import NodeProcess, cli, cooperatives, wait_until

pytestmark = pytest.mark.slow
NAMES = ["farm", "mill", "bakery"]


def record(home: Path, name: str) -> str:
    return cli(home, "record", "raise", "--resource", f"new:{name}",
               "--quantity", "1 kg")["address"]


def head_seq(home: Path) -> int:
    return cli(home, "chain", "show", "--limit", "1")[-1]["action"]["seq"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_restored_backup_is_noticed_refused_and_recovered(tmp_path):
    homes, ids, nodes = cooperatives(tmp_path, NAMES)
    mill = homes["mill"]
    try:
        wait_until(lambda: all(n.status()["peers"] == 2 for n in nodes.values()), timeout=60,
                   what="a full mesh")
        events = [record(mill, f"sack{i}") for i in range(8)]
        backup(mill, tmp_path / "mill-after-8.db")
        events += [record(mill, f"sack{i}") for i in range(8, 12)]
        full = head_seq(mill)
        cli(mill, "sync", "--timeout", "60")
        nodes["mill"].stop()
        restore(mill, tmp_path / "mill-after-8.db")
        short = head_seq(mill)
        assert short < full
        nodes["mill"] = NodeProcess(mill, bootstrap=[nodes["farm"].address])
        wait_until(lambda: nodes["mill"].status()["behind"] is not None, timeout=30,
                   what="the mill to notice it is behind")
        assert nodes["mill"].status()["behind"]["network_seq"] == full
        refused = cli(mill, "record", "raise", "--resource", "new:fork", "--quantity", "1 kg",
                      check=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert json.loads(refused.stderr) == {  # (cli runs with --json: errors are JSON)
            "error": f"your chain is behind the network (local head seq {short},"
                     f" network has seq {full}): run `coledger chain recover`",
            "kind": "refused"}
        verify = cli(mill, "chain", "verify", check=False)
        assert verify.returncode == 1 and "behind the network" in verify.stderr
        assert head_seq(mill) == short
        restored = cli(mill, "chain", "recover")
        assert restored["restored"] == full - short and restored["head_seq"] == full
        assert cli(mill, "chain", "verify")["length"] == full + 1
        assert all(cli(mill, "get", e)["address"] == e for e in events)
        new = record(mill, "after recovery")
        cli(mill, "sync", "--timeout", "60")
        for name in ("farm", "bakery"):
            assert cli(homes[name], "get", new)["address"] == new
            assert ids["mill"] not in nodes[name].status()["blocked"]
        assert nodes["mill"].proc.poll() is None
        # the same with no node running: `chain recover` runs a short session of its own
        latest = head_seq(mill)
        nodes["mill"].stop()
        restore(mill, tmp_path / "mill-after-8.db")
        restored = cli(mill, "chain", "recover", "--bootstrap", nodes["farm"].address)
        assert restored == {"restored": latest - short, "dropped": 0, "set_aside": 0,
                            "head_seq": latest}
        assert cli(mill, "chain", "verify")["length"] == latest + 1
        assert cli(mill, "get", new)["address"] == new
    finally:
        for node in nodes.values():
            node.stop()


def test_a_fork_of_its_own_reaching_the_network_does_not_end_the_node(tmp_path):
    """The issue's crash loop: a chain that lost its last actions (and its node's own
    copy of them) was written again and its node started alone, so the fork went out;
    when the old actions came back the node exited with "an agent cannot warrant
    itself", every time it was started."""
    listen = f"/ip4/127.0.0.1/tcp/{free_port()}"
    homes, _, nodes = cooperatives(tmp_path, NAMES, where={"mill": ("", listen)})
    mill = homes["mill"]
    try:
        wait_until(lambda: all(n.status()["peers"] == 2 for n in nodes.values()), timeout=60,
                   what="a full mesh")
        for i in range(8):
            record(mill, f"sack{i}")
        mid = head_seq(mill)
        for i in range(8, 12):
            record(mill, f"sack{i}")
        cli(mill, "sync", "--timeout", "60")
        nodes["mill"].stop()
        db = sqlite3.connect(mill / "coledger.db")
        with db:  # a damaged WAL: the last actions, the node's copy and its publish mark
            db.execute("DELETE FROM chain WHERE seq > ?", (mid,))
            db.execute("DELETE FROM ops")
            db.execute("UPDATE meta SET value = ? WHERE key = 'published_upto_seq'",
                       (str(mid).encode(),))
        db.close()
        record(mill, "written after the rollback")
        # alone at its old address: it publishes the fork; its peers dial it again
        nodes["mill"] = NodeProcess(mill, listen=listen)
        wait_until(lambda: nodes["mill"].status()["behind"] is not None, timeout=90,
                   what="the mill to find its own fork")
        time.sleep(6)  # many gossip rounds (0.5 s) and validations: still running
        assert nodes["mill"].proc.poll() is None, (tmp_path / "mill.log").read_text()[-2000:]
        assert "fork" in nodes["mill"].status()["behind"]["reason"]
        refused = cli(mill, "record", "raise", "--resource", "new:more", "--quantity", "1 kg",
                      check=False)
        assert refused.returncode == 1 and "behind the network" in refused.stderr
        log = (tmp_path / "mill.log").read_text()
        assert "cannot warrant itself" not in log and "Traceback" not in log
    finally:
        for node in nodes.values():
            node.stop()
