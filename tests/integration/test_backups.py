"""`coledger backup` and `restore` on one home: a round trip, a restored home that writes
nothing until it has compared its chain with the network, a damaged, cut or foreign
backup refused in one line (nothing restored), and a backup taken while another process
writes the chain in a loop restores a chain that verifies."""

from __future__ import annotations

import json
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.membership import create_network
from node.store.backup import MAGIC
from node.store.home import open_agent
from node.testing import SIM_PASSPHRASE, fast_home
from tests.cli_home import CliHome

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A member of a network of its own, with a few records."""
    path, _ = fast_home(tmp_path, "coop")
    with open_agent(path, lambda: SIM_PASSPHRASE) as agent:
        create_network(agent, "valley", {}, tmp_path / "valley.network.json")
    monkeypatch.setenv("COLEDGER_PASSPHRASE", SIM_PASSPHRASE)
    return path


def specs(home: Path, capsys, count: int, start: int = 0) -> None:
    coledger = CliHome(home, capsys)
    for i in range(start, start + count):
        coledger("spec", "create", f"grain {i}", "--unit", "kg")


def test_a_backup_restores_into_an_empty_home_that_waits_for_the_network(
        home: Path, tmp_path: Path, capsys) -> None:
    specs(home, capsys, 3)
    stale = home / ".backup-4194999-1"  # (left by a backup killed mid-way: no such pid)
    stale.mkdir()
    (stale / "coledger.db").write_bytes(b"an old snapshot")
    coledger = CliHome(home, capsys)
    made = coledger("backup", str(tmp_path / "coop.backup"))
    assert not stale.exists()
    backup = tmp_path / "coop.backup"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.read_bytes().startswith(MAGIC)
    assert b"grain" not in backup.read_bytes()  # (encrypted)
    assert made["head_seq"] == 5 and set(made["files"]) >= {"coledger.db", "network.json",
                                                           "agent.key"}
    specs(home, capsys, 2, start=3)  # (after the backup: not in it)
    (tmp_path / "again").mkdir()  # (an empty directory will do)
    restored = CliHome(tmp_path / "again", capsys)
    done = restored("restore", str(backup))
    assert done["head_seq"] == 5 and done["agent_id"] == made["agent_id"]
    assert restored("chain", "verify")["length"] == 6
    assert [r["action"]["seq"] for r in restored("chain", "show")] == list(range(6))
    assert stat.S_IMODE((tmp_path / "again").stat().st_mode) == 0o700
    assert not list(tmp_path.glob(".again*")) and not list(home.glob(".backup-*"))
    error = restored.fails("spec", "create", "fork", "--unit", "kg")
    assert "this home was restored from a backup (head seq 5) and has not yet compared its" \
           " chain with the network's" in error and "nothing was written" in error
    assert restored("chain", "verify")["length"] == 6
    error = restored.fails("restore", str(backup))
    assert error.endswith("again is not empty: restore only into an empty or new home")


def test_a_damaged_cut_or_foreign_backup_is_refused(home: Path, tmp_path: Path, capsys,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    specs(home, capsys, 2)
    backup = tmp_path / "coop.backup"
    CliHome(home, capsys)("backup", str(backup))
    good = backup.read_bytes()
    cases = {}
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01
    cases["flipped"] = bytes(flipped)
    cases["cut"] = good[: len(good) - 100]
    stream = good.index(b"\n", len(MAGIC)) + 1 + 24  # (the stream's header: 24 bytes)
    manifest_end = stream + 4 + struct.unpack(">I", good[stream:stream + 4])[0]
    cases["cut at a frame"] = good[:manifest_end]  # (the files and the final frame gone)
    cases["not one"] = b"SQLite format 3\x00" + good[16:]
    cases["header"] = good.replace(b'"format":1', b'"format":"one"', 1)
    other, _ = fast_home(tmp_path, "other")  # another agent's key, the same passphrase
    header_end = good.index(b"\n", len(MAGIC)) + 1
    header = json.loads(good[len(MAGIC):header_end])
    header["key_file"] = json.loads((other / "agent.key").read_text())
    header["agent_id"] = header["key_file"]["agent_id"]
    cases["foreign key"] = MAGIC + json.dumps(header).encode() + b"\n" + good[header_end:]
    expected = {"flipped": "is damaged or cut short: nothing was restored",
                "cut": "is damaged or cut short: nothing was restored",
                "cut at a frame": "is damaged or cut short: nothing was restored",
                "not one": "is not a coledger backup",
                "header": "is a backup of format one; this coledger reads format 1: upgrade"
                          " coledger",
                "foreign key": "does not open with the key it carries (it was not written"
                               " with this agent's key, or it is damaged): nothing was restored"}
    for name, data in cases.items():
        bad = tmp_path / f"{name}.backup"
        bad.write_bytes(data)
        target = tmp_path / f"restored {name}"
        error = CliHome(target, capsys).fails("restore", str(bad))
        assert error.endswith(expected[name]), (name, error)
        assert not target.exists() and not list(tmp_path.glob(f".restored {name}*"))
    monkeypatch.setenv("COLEDGER_PASSPHRASE", "not the passphrase")
    error = CliHome(tmp_path / "wrong", capsys).fails("restore", str(backup))
    assert error == "coledger: error: wrong passphrase for this agent's key"
    assert not (tmp_path / "wrong").exists()


WRITER = """
import sys, pathlib
from node.api import open_client
from node.testing import SIM_PASSPHRASE
home, stop = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
client = open_client(home, lambda: SIM_PASSPHRASE)
i = 0
while not stop.exists():
    client.create_process_spec(f"step {i}", None)
    i += 1
print(i)
"""


def test_a_backup_taken_while_the_chain_is_written_restores_a_sound_chain(
        home: Path, tmp_path: Path, capsys) -> None:
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(home), str(stop)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    coledger = CliHome(home, capsys)
    try:
        time.sleep(0.5)
        backups = []
        for i in range(4):
            backups.append(coledger("backup", str(tmp_path / f"during-{i}.backup")))
            time.sleep(0.2)
    finally:
        stop.touch()
        written = int(writer.communicate(timeout=60)[0])
    assert written > 10
    lengths = []
    for i, made in enumerate(backups):
        restored = CliHome(tmp_path / f"restored-{i}", capsys)
        restored("restore", made["file"])
        lengths.append(restored("chain", "verify")["length"])
        assert lengths[-1] == made["head_seq"] + 1
    assert lengths == sorted(lengths) and lengths[-1] > lengths[0]  # (taken mid-writing)
    assert coledger("chain", "verify")["length"] >= lengths[-1]
