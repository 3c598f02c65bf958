"""Validating a chain that arrives out of order or with a hole stays O(1) an op: the
queue hands out the ops of one message in chain order, and fold_chain remembers a
hole below a fold it could not finish instead of walking down to it again."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from node.core.cid import Cid
from node.core.ops import produce_ops
from node.core.outcome import MissingDependency
from node.core.records import Record
from node.store.deps import BoundedMemo
from node.store.dht import DhtStore
from node.store.sqlite import open_store
from node.testing import MemoryAgent
from zomes.api import fold_chain

NOW = 1_800_000_000_000_000


def _chain(n: int) -> list[Record]:
    agent = MemoryAgent()
    agent.genesis()
    for i in range(n):
        agent.create("test.Note", {"n": i})
    return agent.records


class CountingDeps:
    """must_get_record over a dict, counting the calls."""

    def __init__(self, records: list[Record]) -> None:
        self.records = {r.address: r for r in records}
        self.memo = BoundedMemo()
        self.calls = 0

    def must_get_record(self, address: Cid) -> Record:
        self.calls += 1
        found = self.records.get(address)
        if found is None:
            raise MissingDependency(address)
        return found


def _count(state: list[int], record: Record) -> list[int]:
    state.append(record.action.seq)
    return state


def test_a_hole_is_walked_down_to_once_not_once_an_op() -> None:
    records = _chain(60)
    hole = records[5]
    deps = CountingDeps([r for r in records if r is not hole])
    calls = []
    for record in records[10:]:  # each action's fold runs from its prev, in chain order
        before = deps.calls
        with pytest.raises(MissingDependency) as missing:
            fold_chain(deps, record.action.prev_action, "notes", list, _count)
        assert missing.value.addresses == (hole.address,)
        calls.append(deps.calls - before)
    assert calls[0] == 5  # seq 8 down to the hole at 5
    assert max(calls[1:]) <= 3  # then a step, the memo, and the hole itself
    # the hole filled: the next fold walks the chain once and folds every record
    deps.records[hole.address] = hole
    top = records[-1]
    state = fold_chain(deps, top.address, "notes", list, _count)
    assert state == list(range(top.action.seq + 1))
    whole = fold_chain(CountingDeps(records), top.address, "notes", list, _count)
    assert state == whole


def test_the_ops_of_one_message_are_handed_out_in_chain_order(tmp_path: Path) -> None:
    records = _chain(30)
    ops = [op for r in records for op in produce_ops(r)]
    random.Random(3).shuffle(ops)
    with open_store(tmp_path / "dht.db", create=True) as store:
        dht = DhtStore(store)
        dht.add_ops(ops[:40], NOW)  # an earlier message: handed out first, in its own order
        dht.add_ops(ops[40:], NOW + 1)
        due = dht.due(NOW + 2, 1000)
    seqs = [q.op.action.seq for q in due]
    assert len(seqs) == len(ops)
    assert seqs[:40] == sorted(seqs[:40]) and seqs[40:] == sorted(seqs[40:])
    assert seqs != sorted(seqs)  # (the two messages overlap on the chain)
