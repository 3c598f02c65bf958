"""The home database's one transaction (node/store/db.py), on real SQLite files: a nested
use joins the outer one; an exception that leaves the outermost rolls back everything,
the nested uses' writes too, across the rooms that share the database (chain metadata,
DHT ops, the publish queue); sqlite3's errors leave as StoreError naming what was done.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.core.ops import produce_ops
from node.store.db import Db, StoreError, open_db
from node.store.dht import DhtStore
from node.store.publish import PublishQueue
from node.store.sqlite import open_store
from node.testing import MemoryAgent

NOW = 1_800_000_000_000_000


def _db(path: Path) -> Db:
    db = open_db(path, create=True)
    db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    return db


def _rows(path: Path) -> list[int]:
    """What another connection sees committed."""
    conn = sqlite3.connect(path)
    try:
        return [n for (n,) in conn.execute("SELECT n FROM t ORDER BY n")]
    finally:
        conn.close()


def test_a_nested_transaction_joins_the_outer_one(tmp_path: Path) -> None:
    db = _db(tmp_path / "db")
    with db.transaction("outer"):
        db.execute("INSERT INTO t VALUES (1)")
        with db.transaction("inner"):
            db.execute("INSERT INTO t VALUES (2)")
        assert db.in_transaction
        assert _rows(tmp_path / "db") == []  # the inner one's end committed nothing
        with db.transaction("inner again"):
            db.execute("INSERT INTO t VALUES (3)")
    assert not db.in_transaction
    assert _rows(tmp_path / "db") == [1, 2, 3]
    db.close()


def test_an_inner_failure_rolls_back_the_outer_transaction(tmp_path: Path) -> None:
    db = _db(tmp_path / "db")
    with pytest.raises(RuntimeError, match="inner"), db.transaction("outer"):
        db.execute("INSERT INTO t VALUES (1)")
        with db.transaction("inner"):
            db.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("inner failed")
    assert not db.in_transaction
    assert _rows(tmp_path / "db") == []
    with db.transaction("after"):  # the database is usable again
        db.execute("INSERT INTO t VALUES (4)")
    assert _rows(tmp_path / "db") == [4]
    db.close()


def test_sqlite_errors_leave_as_store_errors_naming_the_work(tmp_path: Path) -> None:
    db = _db(tmp_path / "db")
    unique = "while adding a row: UNIQUE constraint failed"
    with pytest.raises(StoreError, match=unique), db.transaction("storing rows"):
        db.execute("INSERT INTO t VALUES (1)")
        with db.transaction("adding a row"):
            db.execute("INSERT INTO t VALUES (1)")
    assert _rows(tmp_path / "db") == []
    # another connection holds the write lock: BEGIN fails, mapped, nothing left open
    other = sqlite3.connect(tmp_path / "db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    impatient = Db(sqlite3.connect(tmp_path / "db", isolation_level=None, timeout=0),
                   tmp_path / "db")
    locked = "while writing late: database is locked"
    with pytest.raises(StoreError, match=locked), impatient.transaction("writing late"):
        pytest.fail("the body ran without the lock")
    assert not impatient.in_transaction
    other.execute("ROLLBACK")
    other.close()
    impatient.close()
    db.close()


def test_a_commit_that_fails_leaves_no_transaction_open(tmp_path: Path) -> None:
    db = _db(tmp_path / "db")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE child (n INTEGER REFERENCES t(n) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(StoreError, match="while linking: FOREIGN KEY"), db.transaction("linking"):
        db.execute("INSERT INTO child VALUES (9)")  # checked only at COMMIT
    assert not db.in_transaction
    with db.transaction("after"):
        db.execute("INSERT INTO t VALUES (5)")
    assert _rows(tmp_path / "db") == [5]
    db.close()


def test_a_transaction_not_durable_relaxes_only_its_own_commit(tmp_path: Path) -> None:
    db = _db(tmp_path / "db")

    def sync() -> int:
        return int(db.execute("PRAGMA synchronous").fetchone()[0])

    with db.transaction("filing", durable=False):
        assert sync() == 1  # NORMAL
    assert sync() == 2  # FULL again
    with db.transaction("outer"), db.transaction("filing", durable=False):
        assert sync() == 2  # joined a durable one: stays durable
    db.close()


def test_one_transaction_spans_the_chain_the_dht_and_the_publish_queue(tmp_path: Path) -> None:
    agent = MemoryAgent()
    agent.genesis()
    ops = [op for record in agent.records for op in produce_ops(record)]
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        queue = PublishQueue(store)
        with pytest.raises(RuntimeError), store.db.transaction("all of it"):
            dht.add_ops(ops, NOW)
            queue.enqueue(ops, NOW)
            store.set_meta("mark", b"1")
            with dht.transaction():
                dht.block(agent.agent_id, "test", NOW, None)
            raise RuntimeError("the batch failed")
        assert dht.counts() == dict.fromkeys(dht.counts(), 0)
        assert queue.pending() == 0 and store.get_meta("mark") is None
        assert not dht.is_blocked(agent.agent_id)
        with dht.transaction():
            dht.add_ops(ops, NOW)
            store.set_meta("mark", b"2")
        assert sum(dht.counts().values()) == len(ops) and store.get_meta("mark") == b"2"


def test_the_blocked_in_memory_are_the_blocked_in_the_table(tmp_path: Path) -> None:
    """One truth for "blocked": the table; `blocked_agents` is its copy in memory, and
    never holds a block the table lost with a rolled-back transaction."""
    agent, other = MemoryAgent(), MemoryAgent()
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        assert agent.agent_id not in dht.blocked_agents and not dht.blocked_agents
        with pytest.raises(RuntimeError), store.db.transaction("all of it"):
            dht.block(agent.agent_id, "test", NOW, None)
            assert agent.agent_id in dht.blocked_agents  # (the transaction sees it)
            raise RuntimeError("the batch failed")
        assert agent.agent_id not in dht.blocked_agents and not dht.is_blocked(agent.agent_id)
        dht.block(other.agent_id, "test", NOW, None)
        assert set(dht.blocked_agents) == {other.agent_id} == set(dht.blocked())
        assert set(DhtStore(store).blocked_agents) == {other.agent_id}
