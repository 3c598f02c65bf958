"""The command line as a user runs it: a real `coledger` process per command."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASS = "integration test passphrase"


def run(
    home: Path,
    *args: str,
    passphrase: str | None = PASS,
    check: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "COLEDGER_PASSPHRASE"}
    if passphrase is not None:
        env["COLEDGER_PASSPHRASE"] = passphrase
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--home", str(home), *args],
        capture_output=True, env=env, cwd=cwd or home.parent, stdin=subprocess.DEVNULL, timeout=60,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"coledger {' '.join(args)} failed: {proc.stderr.decode()}")
    return proc


def run_json(home: Path, *args: str, **kw) -> object:
    return json.loads(run(home, "--json", *args, **kw).stdout)


@pytest.fixture(scope="module")
def member(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("farm") / "home"
    run(home, "init", "--name", "Green Farm")
    run(home, "network", "create", "valley", "--property", "redundancy=3")
    return home


def one_line_error(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode != 0
    err = proc.stderr.decode().strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_init_prints_a_libp2p_peer_id_and_refuses_to_overwrite(tmp_path):
    home = tmp_path / "h"
    out = run_json(home, "init", "--name", "Mill")
    assert out["agent_id"].startswith("12D3KooW")
    assert "--force" in one_line_error(run(home, "init", check=False))
    again = run_json(home, "init", "--force")
    assert again["agent_id"] != out["agent_id"]


def test_missing_passphrase_and_wrong_passphrase_are_clear(member):
    err = one_line_error(run(member, "record", "produce", "--resource", "new:x",
                             "--quantity", "1 kg", passphrase=None, check=False))
    assert "COLEDGER_PASSPHRASE" in err
    err = one_line_error(run(member, "record", "produce", "--resource", "new:x",
                             "--quantity", "1 kg", passphrase="nope", check=False))
    assert "wrong passphrase" in err


def test_commands_without_a_home_fail_clearly(tmp_path):
    err = one_line_error(run(tmp_path / "nothing", "chain", "show", check=False))
    assert "coledger init" in err


def test_chain_show_and_verify(member):
    chain = run_json(member, "chain", "show")
    assert [r["action"]["type"] for r in chain[:3]] == ["Dna", "AgentValidationPkg", "Create"]
    assert chain[2]["action"]["entry_type"] == "agent"
    verdict = run_json(member, "chain", "verify")
    assert verdict["ok"] is True and verdict["length"] == len(chain)
    assert "Dna" in run(member, "chain", "show").stdout.decode()


def test_get_shows_a_record_and_writes_exact_cbor(member):
    chain = run_json(member, "chain", "show")
    agent_create = chain[2]
    shown = run_json(member, "get", agent_create["address"])
    assert shown["action"]["type"] == "Create"
    raw_action = run(member, "get", agent_create["address"], "--format", "cbor").stdout
    raw_entry = run(member, "get", agent_create["entry_address"], "--format", "cbor").stdout
    from node.core.cid import Cid

    assert str(Cid.of(raw_action)) == agent_create["address"]
    assert str(Cid.of(raw_entry)) == agent_create["entry_address"]
    err = one_line_error(run(member, "get", "bafy-not-an-address", check=False))
    assert "not an address" in err


def test_tampering_one_byte_makes_verify_fail_naming_the_seq(tmp_path, member):
    import shutil

    home = tmp_path / "copy"
    shutil.copytree(member, home)
    conn = sqlite3.connect(home / "coledger.db")
    raw = bytearray(conn.execute("SELECT action FROM chain WHERE seq = 1").fetchone()[0])
    raw[10] ^= 0x40
    conn.execute("UPDATE chain SET action = ? WHERE seq = 1", (bytes(raw),))
    conn.commit()
    conn.close()
    proc = run(home, "chain", "verify", check=False)
    assert "seq 1" in one_line_error(proc)


def test_help_on_every_command():
    import cli

    paths = [[]] + [path.split() for path, _, _ in cli._COMMANDS] + [["chain"], ["network"]]
    for args in paths:
        proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args, "--help"],
                              capture_output=True, timeout=60)
        assert proc.returncode == 0 and b"usage: coledger" in proc.stdout, args


def test_usage_errors_are_one_line():
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "record"],
                          capture_output=True, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.decode().strip().splitlines()) == 1
