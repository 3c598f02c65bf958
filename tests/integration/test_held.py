"""Gossip's running sums (node/runtime/held.py) against fingerprints taken from scratch
over the store, as ops arrive and as peers come and go."""

from __future__ import annotations

import random
from contextlib import AsyncExitStack

from dht.gossip import SETTLE_US, fingerprints, shared_scope
from dht.memory import MemoryNetwork
from node.core.identity import AgentKey
from node.core.ops import produce_ops
from node.runtime.held import SharedOps
from node.runtime.population import Population
from node.store.dht import INTEGRATED, DhtStore
from node.store.sqlite import open_store
from node.testing import MemoryAgent

R = 3
NOW = 1_800_000_000_000_000
# MemoryAgent's clock starts at 1.7e15, 1 ms a step
EDGE = 1_700_000_000_000_000 + SETTLE_US + 3_000


def integrate_chain(dht: DhtStore, rng: random.Random) -> None:
    """A short chain of a new agent, every op of it held and integrated."""
    agent = MemoryAgent()
    agent.genesis()
    for i in range(rng.randint(1, 4)):
        agent.create("note", {"n": i})
    ops = [op for r in agent.records for op in produce_ops(r)]
    for address in dht.add_ops(ops, NOW):
        dht.set_state(address, INTEGRATED, NOW)


async def test_running_sums_match_fingerprints_from_scratch(tmp_path) -> None:
    rng = random.Random(11)
    network = MemoryNetwork()
    keys = [AgentKey.generate() for _ in range(12)]
    members = {k.agent_id for k in keys}
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        async with AsyncExitStack() as stack:
            live = [await stack.enter_async_context(network.open_transport(k)) for k in keys[:6]]
            me = live[0].local_id
            population = Population(me, live[0], R)
            shared = SharedOps(me, dht)
            mixed = False  # some peer's shared hour held settled and unsettled ops
            for step in range(25):
                roll = rng.random()
                if roll < 0.4 and len(live) < len(keys):
                    joining = network.open_transport(keys[len(live)])
                    live.append(await stack.enter_async_context(joining))
                elif roll < 0.55 and len(live) > 3:
                    network.kill(live[rng.randrange(1, len(live))].local_id)
                else:
                    integrate_chain(dht, rng)
                population.refresh(members, set())
                shared.refresh(population, 0, NOW)
                for peer in population.peers():
                    if peer == me:
                        continue
                    held = dht.held_ops(shared_scope(me, peer, population.peers(), R))
                    assert shared.fingerprints(peer, NOW) == fingerprints(held, NOW), step
                    every = sorted(shared.fingerprints(peer, NOW))
                    assert sorted(a for a, _ in shared.ops_in(peer, every, NOW)) == \
                        sorted(a for a, _ in held)
                    # just after the chains were written: some of an hour's ops settled
                    assert shared.fingerprints(peer, EDGE) == fingerprints(held, EDGE), step
                    every = sorted(shared.fingerprints(peer, EDGE))
                    assert sorted(a for a, _ in shared.ops_in(peer, every, EDGE)) == \
                        sorted(a for a, t in held if t < EDGE - SETTLE_US)
                    mixed |= 0 < sum(t < EDGE - SETTLE_US for _, t in held) < len(held)
                theirs = dht.held_ops(lambda b: me not in population.authority_set(b))
                assert shared.not_ours == {a.to_bytes() for a, _ in theirs}, step
            assert mixed


def test_the_store_hands_over_what_it_integrates_once(tmp_path, monkeypatch) -> None:
    import node.store.op_queue as op_queue_module

    rng = random.Random(5)
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        integrate_chain(dht, rng)
        assert dht.take_integrated() is None  # never asked: read everything
        assert dht.take_integrated() == []
        integrate_chain(dht, rng)
        handed = dht.take_integrated()
        assert handed and {r[0] for r in handed} <= {a.to_bytes() for a, _ in
                                                     dht.held_ops(lambda b: True)}
        assert dht.take_integrated() == []
        # integrated, then rolled back: handed over only if it is integrated when asked
        agent = MemoryAgent()
        agent.genesis()
        ops = [op for r in agent.records for op in produce_ops(r)]
        added = dht.add_ops(ops, NOW)
        try:
            with dht.transaction():
                dht.finish_many([(a, INTEGRATED, None, None) for a in added], NOW)
                raise RuntimeError("the batch failed")
        except RuntimeError:
            pass
        assert dht.take_integrated() == []
        # nobody asked for too long: the next reader reads everything
        monkeypatch.setattr(op_queue_module, "FEED_LIMIT", 2)
        integrate_chain(dht, rng)
        assert dht.take_integrated() is None


async def test_the_running_sums_hold_little_per_op(tmp_path) -> None:
    """What gossip's sums keep in memory grows with the ops held (nothing else does on a
    long run); that share stays small: no per-fellow copy of each address, fellow sets
    and authors shared between ops."""
    import gc
    import tracemalloc

    rng = random.Random(7)
    network = MemoryNetwork()
    keys = [AgentKey.generate() for _ in range(3)]  # every op shared with both others
    with open_store(tmp_path / "db", create=True) as store:
        dht = DhtStore(store)
        async with AsyncExitStack() as stack:
            live = [await stack.enter_async_context(network.open_transport(k)) for k in keys]
            me = live[0].local_id
            population = Population(me, live[0], R)
            population.refresh({k.agent_id for k in keys}, set())
            while len(dht.held_ops(lambda b: True)) < 3000:
                integrate_chain(dht, rng)
            held = len(dht.held_ops(lambda b: True))
            shared = SharedOps(me, dht)
            shared.refresh(population, 0, NOW)  # (fills the population's answers first)
            gc.collect()
            tracemalloc.start()
            try:
                shared = SharedOps(me, dht)
                shared.refresh(population, 0, NOW)
                for peer in shared.fellows():
                    shared.fingerprints(peer, NOW)
                    shared.ops_in(peer, list(shared.fingerprints(peer, NOW)), NOW)
                gc.collect()
                used, _ = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert len(shared.fellows()) == 2
            assert used / held < 520, f"{used / held:.0f} bytes an op"
