"""The DHT op store's schema on real SQLite files: an older database loses the index no
query used (ops_by_action) when it is opened, keeping its ops; and add_ops, which hashes
an entry once for all the ops of one call that carry its bytes, still judges an op
whose entry is not its action's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from node.core.identity import AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.records import Entry
from node.store.dht import PENDING, REJECTED, DhtStore
from node.store.sqlite import open_store
from node.testing import MemoryAgent

NOW = 1_800_000_000_000_000


def _agent() -> MemoryAgent:
    agent = MemoryAgent(AgentKey(b"\x5d" * 32))
    agent.genesis()
    agent.create("test.Note", {"n": 1})
    agent.create("test.Note", {"n": 2})
    return agent


def _indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    finally:
        conn.close()
    return {name for (name,) in rows}


def test_an_older_database_loses_the_unused_index_and_keeps_its_ops(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    ops = [op for record in _agent().records for op in produce_ops(record)]
    with open_store(path, create=True) as store:
        dht = DhtStore(store)
        store.db.execute("CREATE INDEX ops_by_action ON ops(action)")  # as it was made
        dht.add_ops(ops, NOW)
    assert "ops_by_action" in _indexes(path)
    for _ in range(2):  # opening again and again is harmless
        with open_store(path) as store:
            dht = DhtStore(store)
            assert dht.counts()[PENDING] == len(ops)
            assert len(dht.due(NOW, 1000)) == len(ops)
        indexes = _indexes(path)
        assert "ops_by_action" not in indexes
        assert {"ops_by_state", "ops_by_author", "ops_by_basis"} <= indexes


def test_an_op_carrying_another_entry_is_judged_among_the_genuine_ones(tmp_path: Path) -> None:
    records = _agent().records
    note, other = records[-1], records[-2]
    assert note.entry is not None and other.entry is not None
    by_type = {op.type: op for op in produce_ops(note)}
    store_record = by_type[OpType.STORE_RECORD]
    activity = by_type[OpType.REGISTER_AGENT_ACTIVITY]
    # the other note's bytes, under their own address and under the note's claimed one
    swapped = Op(OpType.STORE_ENTRY, note.signed, Entry(other.entry.data, other.entry.address))
    claimed = Op(OpType.STORE_ENTRY, note.signed, Entry(other.entry.data, note.entry.address))
    genuine = [*produce_ops(other), store_record, activity]  # other's carry the same bytes
    for i, counterfeit in enumerate((swapped, claimed, swapped, claimed)):
        with open_store(tmp_path / f"{i}.db", create=True) as store:
            dht = DhtStore(store)
            # the counterfeit first (its bytes hashed first) or among the genuine ops
            dht.add_ops([counterfeit, *genuine] if i < 2 else [*genuine, counterfeit], NOW)
            state = dht.state_of(counterfeit.address)
            assert state is not None and state[:2] == (REJECTED, "check_entry_address")
            for op in (store_record, activity, *produce_ops(other)):
                assert dht.state_of(op.address) == (PENDING, None, None)
            # each entry kept under the hash of its own bytes, never under a claim
            assert dht.get_entry(note.entry.address) == note.entry
            assert dht.get_entry(other.entry.address) == other.entry


def test_outcomes_and_receipts_of_many_ops_at_once(tmp_path: Path) -> None:
    from node.store.db import CHUNK as _CHUNK
    from node.store.dht import INTEGRATED
    from node.store.publish import PublishQueue

    agent = MemoryAgent(AgentKey(b"\x5e" * 32))
    agent.genesis()
    while len(agent.records) * 3 < 2 * _CHUNK:  # more ops than one query's IN list
        agent.create("test.Note", {"n": len(agent.records)})
    ops = [op for r in agent.records for op in produce_ops(r)]
    me, other = AgentKey(b"\x01" * 32).agent_id, AgentKey(b"\x02" * 32).agent_id
    with open_store(tmp_path / "dht.db", create=True) as store:
        dht = DhtStore(store)
        dht.add_ops(ops[1:], NOW)  # the first op is not held
        done = ops[2::2]
        dht.finish_many([(op.address, INTEGRATED, None, None) for op in done], NOW + 7)
        dht.add_receipts([(op.address, me, b"mine") for op in done[::2]])
        dht.add_receipts([(op.address, other, b"theirs") for op in done[::3]])
        outcomes = dht.outcomes([op.address for op in ops], me)
        assert ops[0].address not in outcomes and len(outcomes) == len(ops) - 1
        assert {a for a, o in outcomes.items() if o.state == INTEGRATED} == {
            op.address for op in done}
        assert {a for a, o in outcomes.items() if o.receipt == b"mine"} == {
            op.address for op in done[::2]}  # ours only, not the other validator's
        assert all(o.changed_us == NOW + 7 for o in outcomes.values() if o.state == INTEGRATED)
        assert all(o.receipt is None for o in outcomes.values() if o.state == PENDING)
        validators = PublishQueue(store).validators([op.address for op in ops])
        assert len(validators) == len(ops)
        assert {a for a, v in validators.items() if len(v) == 2} == {op.address for op in done[::6]}
        assert validators[ops[0].address] == set()
