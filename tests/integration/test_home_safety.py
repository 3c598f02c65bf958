"""A home on real files, through the real `coledger` command: a key and a chain that do not
belong together, a damaged chain, durability, private files, a read-only home, one node
per home, concurrent writers, damaged key files (issue 11, items 7-11, 15, 21).

Rules these tests hold the home to:
- a key without its chain (missing or 0-byte coledger.db), or a chain without its key, is
  refused in one line saying which; `init` never writes a key beside a chain;
- a chain whose head or records do not match what was signed, or a file SQLite's
  quick_check finds damaged, is read with a warning and never written;
- every connection the store opens is WAL with synchronous=FULL;
- every file in a home is 0600 and the home 0700; a read-only home still reads;
- a second `coledger run` on a home is refused, naming the first's pid;
- concurrent writers all succeed (a moved head is retried) and the chain verifies.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.processes import PASS, NodeProcess

ROOT = Path(__file__).resolve().parents[2]
# Root ignores file modes; without these capabilities it obeys them as any user does.
AS_A_USER = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
)


def run(home: Path, *args: str, passphrase: str = PASS, prefix: list[str] = (),
        check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLEDGER_PASSPHRASE=passphrase)
    env.pop("COLEDGER_HOME", None)
    proc = subprocess.run(
        [*prefix, sys.executable, str(ROOT / "cli.py"), "--home", str(home), *args],
        capture_output=True, text=True, env=env, cwd=home.parent, stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"coledger {' '.join(args)} failed: {proc.stderr}")
    return proc


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed (no traceback)."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def member_template(tmp_path_factory) -> Path:
    """A member with three resources; tests copy it."""
    home = tmp_path_factory.mktemp("tpl") / "home"
    run(home, "init", "--name", "Farm", check=True)
    run(home, "network", "create", "valley", "--out", str(home.parent / "v.json"), check=True)
    for name, qty in (("wheat", "10 kg"), ("rye", "5 kg"), ("oat", "3 kg")):
        run(home, "record", "raise", "--resource", f"new:{name}", "--quantity", qty, check=True)
    return home


@pytest.fixture
def member(member_template, tmp_path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(member_template, home)
    return home


def chain_length(home: Path) -> int:
    conn = sqlite3.connect(home / "coledger.db")
    try:
        return int(conn.execute("SELECT count(*) FROM chain").fetchone()[0])
    finally:
        conn.close()


def inventory_names(home: Path) -> list[str]:
    out = json.loads(run(home, "--json", "inventory", check=True).stdout)
    rows = out["result"] if isinstance(out, dict) else out
    return sorted(r["name"] for r in rows)


# -- item 7: a key and a chain that do not belong together -------------------------------------


def test_a_zero_length_database_beside_a_key_is_refused_not_taken_for_an_empty_chain(member):
    (member / "coledger.db").write_bytes(b"")
    for args in (["inventory"], ["chain", "show"],
                 ["record", "raise", "--resource", "new:x", "--quantity", "1 kg"]):
        err = error_line(run(member, *args))
        assert "0 bytes" in err and "coledger.db" in err, err
        assert "coledger join" not in err and "network create" not in err, err
    assert (member / "coledger.db").stat().st_size == 0  # nothing was written over it


def test_a_key_without_a_database_is_refused(member):
    (member / "coledger.db").unlink()
    err = error_line(run(member, "record", "raise", "--resource", "new:x", "--quantity", "1 kg"))
    assert "agent key but no chain" in err and "coledger.db is missing" in err, err
    assert not (member / "coledger.db").exists()


def test_a_chain_without_its_key_is_refused_and_init_writes_no_key_beside_it(member):
    length = chain_length(member)
    (member / "agent.key").unlink()
    err = error_line(run(member, "inventory"))
    assert f"chain of {length} actions but no agent key" in err, err
    err = error_line(run(member, "init", "--name", "Someone else"))
    assert f"chain of {length} actions" in err and "key" in err, err
    assert err.endswith("(--force would destroy this chain)"), err
    assert not (member / "agent.key").exists()
    assert chain_length(member) == length
    run(member, "init", "--force", check=True)  # said plainly: this destroys the chain
    assert (member / "agent.key").exists()


# -- item 8: a damaged chain is read with a warning and never written ---------------------------


def _edit(home: Path, sql_select: str, table: str, column: str, key_column: str) -> None:
    conn = sqlite3.connect(home / "coledger.db")
    key, raw = conn.execute(sql_select).fetchone()
    raw = bytearray(raw)
    raw[8] ^= 0x01
    conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key_column} = ?", (bytes(raw), key))
    conn.commit()
    conn.close()


def test_one_edited_entry_refuses_writes_and_warns_on_reads(member):
    length = chain_length(member)
    # seq 5 is the rye resource's entry, in the middle of the chain
    _edit(member, "SELECT e.address, e.entry FROM chain c JOIN entries e "
                  "ON e.address = c.entry_address WHERE c.seq = 5",
          "entries", "entry", "address")
    text = run(member, "inventory")
    assert text.returncode == 0
    assert "warning" in text.stderr and "seq 5" in text.stderr, text.stderr
    assert "coledger chain verify" in text.stderr
    out = json.loads(run(member, "--json", "inventory", check=True).stdout)
    assert "seq 5" in out["warning"] and isinstance(out["result"], list)
    err = error_line(run(member, "record", "raise", "--resource", "new:x", "--quantity", "1 kg"))
    assert "damaged" in err and "seq 5" in err and "coledger chain verify" in err, err
    assert chain_length(member) == length  # nothing appended
    assert "seq 5" in error_line(run(member, "chain", "verify"))


def test_an_edited_head_is_found_when_the_home_is_opened(member):
    length = chain_length(member)
    head = length - 1
    _edit(member, f"SELECT seq, signature FROM chain WHERE seq = {head}",
          "chain", "signature", "seq")
    proc = run(member, "--json", "chain", "show")
    assert proc.returncode == 0 and f"seq {head}" in json.loads(proc.stdout)["warning"]
    err = error_line(run(member, "record", "raise", "--resource", "new:x", "--quantity", "1 kg"))
    assert f"seq {head}" in err and "coledger chain verify" in err, err
    assert chain_length(member) == length


def test_a_file_quick_check_finds_damaged_refuses_writes(member):
    conn = sqlite3.connect(member / "coledger.db")
    page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = "
                        "'sqlite_autoindex_chain_1'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    length = conn.execute("SELECT count(*) FROM chain").fetchone()[0]
    conn.close()
    with open(member / "coledger.db", "r+b") as f:  # a cell offset of the index's page
        f.seek((page - 1) * size + 8)
        f.write(b"\xff\xff\xff\xff")
    err = error_line(run(member, "record", "raise", "--resource", "new:x", "--quantity", "1 kg"))
    assert "quick_check" in err and "coledger chain verify" in err, err
    assert "quick_check" in error_line(run(member, "chain", "verify"))
    assert chain_length(member) == length


# -- item 9: every connection the store opens keeps an acknowledged commit ------------------------


def test_every_connection_the_store_opens_is_wal_with_synchronous_full(tmp_path, monkeypatch):
    import trio

    import node.store.db as store_db
    import node.store.sqlite as store_sqlite
    from dht.memory import MemoryNetwork
    from node.api import init_home, open_agent, open_ledger
    from node.membership import create_network
    from node.runtime.conductor import open_node

    seen: list[tuple[str, str, int]] = []
    real_connect = sqlite3.connect

    class Probe(sqlite3.Connection):
        def close(self) -> None:
            mode = self.execute("PRAGMA journal_mode").fetchone()[0]
            sync = self.execute("PRAGMA synchronous").fetchone()[0]
            seen.append((self.__dict__.get("where", "?"), mode, sync))
            super().close()

    def connect(database, *args, **kw):  # type: ignore[no-untyped-def]
        conn = real_connect(database, *args, factory=Probe, **kw)
        conn.where = str(database)
        return conn

    monkeypatch.setattr(store_db.sqlite3, "connect", connect)
    home = tmp_path / "home"
    init_home(home, PASS, "Durable")
    with open_agent(home, lambda: PASS) as agent:
        create_network(agent, "d", {}, tmp_path / "d.network.json")
    with open_ledger(home, lambda: PASS) as ledger:
        ledger.inventory()

    async def node() -> None:
        async with open_node(home, lambda: PASS, memory_network=MemoryNetwork(), rpc=False):
            pass

    trio.run(node)
    assert store_sqlite.chain_length(home / "coledger.db") == 3  # its read-only connection
    writable = [s for s in seen if "mode=ro" not in s[0]]
    assert len(writable) >= 4 and len(seen) > len(writable), seen
    for where, mode, sync in writable:
        assert (mode, sync) == ("wal", 2), (where, mode, sync)  # 2: FULL
    for where, _, sync in seen:
        assert sync == 2, (where, sync)


# -- item 10: private files, and a read-only home that still reads -----------------------------


def test_every_file_in_a_home_is_private_and_the_home_is_0700(tmp_path):
    old = os.umask(0o022)
    try:
        home = tmp_path / "home"
        run(home, "init", check=True)
        run(home, "network", "create", "p", "--out", str(tmp_path / "p.json"), check=True)
        run(home, "record", "raise", "--resource", "new:x", "--quantity", "1 kg", check=True)
        node = NodeProcess(home)
        try:
            names = {p.name for p in home.iterdir()}
            assert {"node.sock", "node.lock", "coledger.db", "agent.key",
                    "network.json"} <= names, names
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in home.iterdir()}
        finally:
            node.stop()
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert any(name.endswith(("-wal", "-shm")) for name in modes), modes
        assert {name: mode for name, mode in modes.items() if mode & 0o077} == {}, modes
    finally:
        os.umask(old)


@pytest.fixture
def read_only(member):
    address = json.loads(run(member, "--json", "inventory", check=True).stdout)[0]["address"]
    for p in [member, *member.iterdir()]:
        p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)
    yield member, address
    for p in [member, *member.iterdir()]:
        p.chmod(stat.S_IMODE(p.stat().st_mode) | 0o200)


@pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="needs setpriv")
def test_a_read_only_home_still_verifies_shows_inventory_and_traces(read_only):
    home, address = read_only
    assert json.loads(run(home, "--json", "chain", "verify", prefix=AS_A_USER,
                          check=True).stdout)["ok"] is True
    rows = json.loads(run(home, "--json", "inventory", prefix=AS_A_USER, check=True).stdout)
    assert sorted(r["name"] for r in rows) == ["oat", "rye", "wheat"]
    nodes = json.loads(run(home, "--json", "trace", address, prefix=AS_A_USER,
                           check=True).stdout)
    assert nodes[0]["address"] == address
    err = error_line(run(home, "record", "raise", "--resource", "new:x", "--quantity", "1 kg",
                         prefix=AS_A_USER))
    assert "read-only" in err, err


# -- item 11: one node per home -------------------------------------------------------------------


def test_a_second_node_on_the_same_home_is_refused_naming_the_first(member):
    first = NodeProcess(member)
    try:
        started = time.monotonic()
        second = run(member, "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-http",
                     timeout=60)
        err = error_line(second)
        assert "already running" in err and f"pid {first.proc.pid}" in err, err
        assert time.monotonic() - started < 60
        assert first.proc.poll() is None
        assert first.status()["agent_id"] == first.agent_id  # its socket is still its own
    finally:
        first.stop()
    again = NodeProcess(member)  # the lock went with the first node
    again.stop()


# -- item 15: concurrent writers all succeed ------------------------------------------------------


WRITER = """
import sys
sys.path.insert(0, {root!r})
import cli
for i in range({count}):
    try:
        cli.main(["--home", {home!r}, "record", "raise",
                  "--resource", f"new:w{{sys.argv[1]}}-{{i}}", "--quantity", "1 kg"])
    except SystemExit as e:
        if e.code:
            sys.exit(e.code)
"""


def test_concurrent_records_all_succeed_and_the_chain_verifies(member):
    before = chain_length(member)
    writers, count = 4, 15
    env = dict(os.environ, COLEDGER_PASSPHRASE=PASS)
    code = WRITER.format(root=str(ROOT), count=count, home=str(member))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(w)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for w in range(writers)]
    results = [p.communicate(timeout=300) for p in procs]
    failures = [(p.returncode, err) for p, (_, err) in zip(procs, results, strict=True)
                if p.returncode != 0]
    assert failures == []
    printed = [line for out, _ in results for line in out.split()]
    assert len(set(printed)) == writers * count
    assert chain_length(member) == before + 2 * writers * count  # resource + event each
    assert json.loads(run(member, "--json", "chain", "verify", check=True).stdout)["ok"]


# -- item 21: a damaged key file says how ---------------------------------------------------------


def test_a_damaged_key_file_says_how(member):
    key = member / "agent.key"
    good = key.read_text()
    err = error_line(run(member, "record", "raise", "--resource", "new:x", "--quantity", "1 kg",
                         passphrase="not it"))
    assert "wrong passphrase" in err and "damaged" not in err, err

    doc = json.loads(good)
    sealed = bytearray(bytes.fromhex(doc["secretbox"]))
    sealed[30] ^= 0x01
    key.write_text(json.dumps(dict(doc, secretbox=sealed.hex())))
    err = error_line(run(member, "record", "raise", "--resource", "new:x", "--quantity", "1 kg"))
    assert "damaged" in err and "wrong passphrase" not in err, err

    key.write_text(good[: len(good) // 2])
    err = error_line(run(member, "inventory"))
    assert "damaged" in err and "truncated" in err and "Expecting" not in err, err

    key.write_bytes(b"")
    assert "empty" in error_line(run(member, "inventory"))

    key.write_bytes(os.urandom(300))
    assert "damaged" in error_line(run(member, "inventory"))

    key.write_text(json.dumps(dict(doc, secretbox=doc["secretbox"][:40])))
    err = error_line(run(member, "record", "raise", "--resource", "new:x", "--quantity", "1 kg"))
    assert "damaged" in err and "sealed key" in err, err

    key.write_text(good)
    key.chmod(0o000)
    if AS_A_USER or os.geteuid() != 0:
        err = error_line(run(member, "inventory", prefix=AS_A_USER))
        assert "unreadable" in err and "ermission denied" in err, err
    key.chmod(0o600)
