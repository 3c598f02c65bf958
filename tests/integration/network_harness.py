"""Helpers to build a network of real homes (SQLite files) for node tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import trio

from node.api import init_home, open_agent
from node.core.clock import now_us
from node.membership import create_network, invite, join

PASS = "network test"


def passphrase() -> str:
    return PASS


def make_homes(root: Path, names: list[str], redundancy: int = 3) -> tuple[list[Path], Path]:
    """Init one home per name; the first creates the network, the others join by invitation."""
    homes = [root / name for name in names]
    network_file = root / "net.network.json"
    for home, name in zip(homes, names, strict=True):
        init_home(home, PASS, name)
    with open_agent(homes[0], passphrase) as progenitor:
        create_network(progenitor, "testnet", {"redundancy": str(redundancy)}, network_file)
    for home in homes[1:]:
        with open_agent(home, passphrase) as newcomer:
            agent_id = str(newcomer.agent_id)
        with open_agent(homes[0], passphrase) as progenitor:
            token = invite(progenitor, agent_id)
        with open_agent(home, passphrase) as newcomer:
            join(newcomer, network_file, token)
    return homes, network_file


def backup(home: Path, to: Path) -> None:
    """A consistent copy of a home's database (SQLite's online backup)."""
    src, dst = sqlite3.connect(home / "coledger.db"), sqlite3.connect(to)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()


def restore(home: Path, copy: Path) -> None:
    for suffix in ("-wal", "-shm"):
        (home / f"coledger.db{suffix}").unlink(missing_ok=True)
    (home / "coledger.db").write_bytes(copy.read_bytes())


def skipping_clock() -> Callable[[], int]:
    """A node clock (µs): the wall clock moved on by the time trio's clock skipped since
    (on an autojump MockClock, a test's waits for a window or a deadline pass at once),
    never behind the records that homes write at wall time."""
    start = trio.current_time()
    return lambda: now_us() + int((trio.current_time() - start) * 1_000_000)
