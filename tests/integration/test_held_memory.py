"""Gossip's running sums (node/runtime/held.py) over many ops: what they keep in memory
does not grow with the ops held (issue #11: "memory over a long run stays flat"), and the
sums still match fingerprints taken from scratch after new ops, a peer joining, a
blocked author, a restart and a hand-off."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from dht.gossip import SETTLE_US, Bucket, _hash_of, fingerprints, shared_scope
from dht.memory import MemoryNetwork
from node.core.identity import AgentId, AgentKey
from node.core.ops import Op, produce_ops
from node.runtime.held import SharedOps
from node.runtime.population import Population
from node.store.dht import INTEGRATED, DhtStore
from node.store.sqlite import open_store
from node.testing import MemoryAgent

R = 3
NOW = 1_800_000_000_000_000
OPS = 30_000
"""About an hour of a node's share at 10 events/s (3 ops an event)."""
WILD = 2**63 - 1  # the latest clock a peer's gossip request may claim (dht/wire.py)
LATE = 3_000  # of those, integrated after the first refresh (handed over by the store)


def make_ops(count: int, agents: int = 40) -> list[Op]:
    """At least `count` ops of `agents` chains, their records interleaved in time."""
    writers = [MemoryAgent() for _ in range(agents)]
    for w in writers:
        w.genesis()
    ops: list[Op] = []
    for w in writers:
        ops += [op for r in w.records for op in produce_ops(r)]
    n = 0
    while len(ops) < count:
        w = writers[n % agents]
        w.create("note", {"n": n})
        ops += produce_ops(w.records[-1])
        n += 1
    return ops


def integrate(dht: DhtStore, ops: list[Op]) -> None:
    added = dht.add_ops(ops, NOW)
    dht.finish_many([(a, INTEGRATED, None, None) for a in added], NOW)


def check_sums(shared: SharedOps, dht: DhtStore, population: Population, me: AgentId) -> None:
    """Every peer's fingerprints and ops, and the ops not ours, as from scratch."""
    first = min(t for _, t in dht.held_ops(lambda b: True))
    edge = first + SETTLE_US + 500_000  # some settled, some not (a peer's clock may be behind)
    for peer in population.peers():
        if peer == me:
            continue
        held = dht.held_ops(shared_scope(me, peer, population.peers(), R))
        for now in (NOW, edge, first, WILD):
            assert shared.fingerprints(peer, now) == fingerprints(held, now)
            every = sorted(shared.fingerprints(peer, now))
            assert sorted(a for a, _ in shared.ops_in(peer, every, now)) == \
                sorted(a for a, t in held if t < now - SETTLE_US)
    theirs = dht.held_ops(lambda b: me not in population.authority_set(b))
    assert shared.not_ours == {a.to_bytes() for a, _ in theirs}


async def test_the_running_sums_stay_out_of_memory(tmp_path) -> None:
    ops = make_ops(OPS)
    network = MemoryNetwork()
    keys = [AgentKey.generate() for _ in range(8)]
    members = {k.agent_id for k in keys}
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        integrate(dht, ops[:-LATE])
        async with AsyncExitStack() as stack:
            live = [await stack.enter_async_context(network.open_transport(k)) for k in keys[:6]]
            me = live[0].local_id
            population = Population(me, live[0], R)
            population.refresh(members, set())
            gc.collect()
            tracemalloc.start()
            try:
                shared = SharedOps(me, dht)
                shared.refresh(population, 0, NOW)  # everything read at once
                integrate(dht, ops[-LATE:])
                shared.refresh(population, 0, NOW)  # the new ones, from the store's feed
                joining = network.open_transport(keys[6])
                live.append(await stack.enter_async_context(joining))
                population.refresh(members, set())
                shared.refresh(population, 0, NOW)  # the bases near it judged again
                for peer in shared.fellows():
                    fps = shared.fingerprints(peer, NOW)
                    shared.ops_in(peer, list(fps)[:3], NOW)
                # the bounded memos of others (tests/integration/test_node_memory_growth.py)
                population.refresh(set(), set())
                _hash_of.cache_clear()
                gc.collect()
                used, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            held = len(dht.held_ops(lambda b: True))
            assert used < 2_000_000, f"{used / 1e6:.2f} MB held for {held} ops"
            assert held >= OPS
            assert len(shared.fellows()) >= 2 and len(shared.not_ours) > 0
            population.refresh(members, set())
            shared.refresh(population, 0, NOW)
            check_sums(shared, dht, population, me)


async def test_the_sums_survive_a_block_a_restart_and_a_hand_off(tmp_path) -> None:
    ops = make_ops(2_000, agents=8)
    network = MemoryNetwork()
    keys = [AgentKey.generate() for _ in range(7)]
    members = {k.agent_id for k in keys}
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        integrate(dht, ops)
        async with AsyncExitStack() as stack:
            live = [await stack.enter_async_context(network.open_transport(k)) for k in keys]
            me = live[0].local_id
            population = Population(me, live[0], R)
            population.refresh(members, set())
            shared = SharedOps(me, dht)
            shared.refresh(population, 0, NOW)
            check_sums(shared, dht, population, me)
            # a blocked author's ops are rejected: they leave the sums
            author = ops[0].action.author
            assert dht.reject_author(author, NOW, "blocked")
            shared.refresh(population, 1, NOW)
            assert not any(op.address.to_bytes() in shared.not_ours for op in ops
                           if op.action.author == author)
            check_sums(shared, dht, population, me)
            # a peer leaves: some ops become ours again, others another fellow's
            network.kill(live[3].local_id)
            population.refresh(members, set())
            shared.refresh(population, 1, NOW)
            check_sums(shared, dht, population, me)
            # handed off once: not listed again, though still not ours
            first = shared.to_hand_off(10)
            assert first and set(first) <= shared.not_ours
            shared.handed_off(first)
            rest = shared.to_hand_off(len(shared.not_ours))
            assert not set(first) & set(rest)
            assert len(rest) == len(shared.not_ours) - len(first)
            shared.refresh(population, 1, NOW + 400_000_000)  # a full re-read keeps that
            assert not set(first) & set(shared.to_hand_off(len(shared.not_ours)))
            check_sums(shared, dht, population, me)
            # a bucket that is no bucket (a peer's, in a gossip request) holds nothing
            peer = shared.fellows()[0]
            assert shared.ops_in(peer, [Bucket(0, WILD)], NOW) == []
            assert shared.ops_in(peer, [Bucket(0, 1), Bucket(WILD, WILD)], WILD) == []
            # a new process files everything anew from the same file
            again = SharedOps(me, dht)
            again.refresh(population, 1, NOW)
            check_sums(again, dht, population, me)
            assert sorted(again.fellows(), key=str) == sorted(shared.fellows(), key=str)


@asynccontextmanager
async def five_peers() -> AsyncIterator[tuple[MemoryNetwork, list[Any], Population]]:
    """Five members on an in-memory network, their transports, and the population as the
    first of them sees it."""
    network = MemoryNetwork()
    keys = [AgentKey.generate() for _ in range(5)]
    async with AsyncExitStack() as stack:
        live = [await stack.enter_async_context(network.open_transport(k)) for k in keys]
        population = Population(live[0].local_id, live[0], R)
        population.refresh({k.agent_id for k in keys}, set())
        yield network, live, population


async def test_a_refresh_that_fails_leaves_nothing_half_filed(tmp_path, monkeypatch) -> None:
    ops = make_ops(600, agents=4)
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        integrate(dht, ops[:300])
        async with five_peers() as (network, live, population):
            me = live[0].local_id
            shared = SharedOps(me, dht)
            shared.refresh(population, 0, NOW)
            integrate(dht, ops[300:])  # handed over once, to the refresh that fails

            def fail(deltas: object) -> None:
                raise RuntimeError("the disk failed")

            monkeypatch.setattr(shared._held, "add_sums", fail)
            with pytest.raises(RuntimeError, match="the disk failed"):
                shared.refresh(population, 0, NOW)
            monkeypatch.undo()
            shared.refresh(population, 0, NOW)
            check_sums(shared, dht, population, me)


async def test_the_sums_queries_scan_and_sort_nothing(tmp_path) -> None:
    """Every statement a refresh, gossip and hand-off run seeks by an index (a sort or a
    scan in a page's query makes a full re-read quadratic in the ops held)."""
    ops = make_ops(300, agents=3)
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        integrate(dht, ops[:200])
        async with five_peers() as (network, live, population):
            me = live[0].local_id
            shared = SharedOps(me, dht)
            statements: list[str] = []
            store.db.trace(statements.append)
            try:
                shared.refresh(population, 0, NOW)
                integrate(dht, ops[200:])
                network.kill(live[4].local_id)
                population.refresh({t.local_id for t in live}, set())
                shared.refresh(population, 0, NOW)
                shared.refresh(population, 1, NOW)
                for peer in shared.fellows():
                    shared.ops_in(peer, list(shared.fingerprints(peer, NOW)), NOW)
                shared.handed_off(shared.to_hand_off(5))
                assert len(shared.not_ours) == len(list(shared.not_ours)) > 0
            finally:
                store.db.trace(None)
            reads = {s for s in statements if s.startswith("SELECT")
                     and ("held_" in s or "address IN (" in s)}
            assert len(reads) >= 9
            for sql in reads:
                plan = [r[-1] for r in store.db.execute("EXPLAIN QUERY PLAN " + sql)]
                assert not any("TEMP B-TREE" in step or step.startswith("SCAN")
                               and "held_ops_not_ours" not in step for step in plan), (sql, plan)
                if "address IN (" in sql:  # (the ops the store hands over: found by address)
                    assert "(address=?)" in plan[0], (sql, plan)
