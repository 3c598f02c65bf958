"""A node's memos over a long run: a node meets new bases and new ops all the time, so a
memo of them grows for as long as its bound allows. These bounds are small enough that
what they hold stays a few MB, however many bases and ops a node has seen (a running
node at 10 events/s meets about 30 new bases a second)."""

from __future__ import annotations

import gc
import hashlib
import tracemalloc
from contextlib import AsyncExitStack

from dht.memory import MemoryNetwork
from node.core.cid import Cid
from node.core.identity import AgentKey
from node.core.ops import OpType, op_address
from node.runtime.population import Population

SEEN = 30_000
"""Bases asked about (and ops addressed): about 15 minutes of a node at 10 events/s."""


def traced_after(work) -> int:  # type: ignore[no-untyped-def]
    """Bytes still allocated (traced) after `work()` ran and its result was let go."""
    gc.collect()
    tracemalloc.start()
    try:
        work()
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


async def test_the_population_memo_stays_small_however_many_bases_it_answers() -> None:
    network = MemoryNetwork()
    keys = [AgentKey.generate() for _ in range(3)]
    async with AsyncExitStack() as stack:
        live = [await stack.enter_async_context(network.open_transport(k)) for k in keys]
        population = Population(live[0].local_id, live[0], 3)
        population.refresh({k.agent_id for k in keys}, set())
        bases = [hashlib.sha256(b"basis %d" % i).digest() for i in range(SEEN)]

        def ask() -> None:
            for basis in bases:  # what publishing, gossip and hand-off ask
                population.authorities(basis)
                population.authority_set(basis)

        held = traced_after(ask)
    assert held < 4_000_000, f"{held / 1e6:.1f} MB held by the population's memo"


def test_the_op_address_memo_stays_small_however_many_ops_it_addresses() -> None:
    actions = [Cid.of(b"action %d" % i) for i in range(SEEN)]
    op_address.cache_clear()

    def address() -> None:
        for action in actions:
            for kind in (OpType.STORE_RECORD, OpType.REGISTER_AGENT_ACTIVITY):
                op_address(kind, action)

    held = traced_after(address)
    assert held < 4_000_000, f"{held / 1e6:.1f} MB held by the op address memo"


async def test_strangers_with_ever_new_ids_leave_bounded_traces(tmp_path) -> None:
    """A stranger can make a new peer id for every connection; each is refused, and what
    the node remembers of them (refused ids, dial times) stays bounded."""
    from node.api import init_home, open_agent
    from node.membership import create_network
    from node.runtime.conductor import open_node
    from node.runtime.hello import Hello
    from tests.integration.network_harness import make_homes, passphrase

    homes, _ = make_homes(tmp_path, ["a"])
    outsider = tmp_path / "outsider"
    init_home(outsider, "network test", "outsider")
    with open_agent(outsider, passphrase) as o:  # a network of its own: not a member of ours
        create_network(o, "other", {}, tmp_path / "other.network.json")
    net = MemoryNetwork()
    async with open_node(homes[0], passphrase, memory_network=net, rpc=False) as a, \
            open_node(outsider, passphrase, memory_network=net, rpc=False) as o:
        hello = Hello(o.membership.hello.avp).to_bytes()
        address = a.transport.listen_addrs()[0]
        refused = 0
        for _ in range(1324):
            async with net.open_transport(AgentKey.generate()) as stranger:
                await stranger.connect(address)
                try:
                    await stranger.request(a.me, "hello", hello, timeout=5)
                except Exception:  # refused, as it should be
                    refused += 1
            await a.discover()
        assert refused == 1324
        assert 0 < len(a.stats.refused_peers) <= 1024
        assert len(a.membership._dialed_at) <= 300
