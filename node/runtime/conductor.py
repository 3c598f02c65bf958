"""Start and stop a node: open the home, the transport, the node's loops, the RPC socket.

`open_node` is the one way to run a node, in a test (in-memory network) or for real
(`coledger run`, libp2p). It first takes the home's node lock (one node per home: a
second is refused, naming the first's pid, before it touches the socket). Leaving it
cancels the loops, closes the transport (the libp2p backend closes its listener) and
then the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from dht.transport import Limits
from node.core.clock import now_us
from node.core.identity import AgentId
from node.runtime.ledger import open_ledger
from node.runtime.node import REQUEST_TIMEOUT, Node
from node.store.home import HomePaths, PassphraseSource, hold_node_lock
from node.store.network_file import read_network_file


@asynccontextmanager
async def open_node(
    home: Path,
    passphrase: PassphraseSource,
    *,
    memory_network: Any = None,
    listen: str = "/ip4/0.0.0.0/tcp/0",
    bootstrap: Sequence[str] = (),
    clock: Callable[[], int] = now_us,
    gossip_interval: float = 2.0,
    rpc: Callable[[Node], Mapping[str, Callable[..., Awaitable[object]]]] | None = None,
    auto_accept_from: Sequence[str] = (),
    limits: Limits | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
) -> AsyncIterator[Node]:
    """Run this home's node until the block exits. With `memory_network` (a
    dht.memory.MemoryNetwork) it joins that simulated network instead of libp2p;
    `limits` are the libp2p transport's (its defaults otherwise). With `rpc`, the home's
    socket serves the methods it gives for the node (node.api.open_node gives the front
    door's)."""
    async with AsyncExitStack() as stack:
        stack.enter_context(hold_node_lock(HomePaths(Path(home))))  # before the socket is taken
        ledger = stack.enter_context(open_ledger(home, passphrase))
        damage = ledger.agent.store.quick_check(None)  # the whole file: a node lives long
        if damage is not None:
            ledger.agent.store.note_damage(damage)
        key = ledger.agent.key()
        _, file_bootstrap = read_network_file(ledger.agent.paths.network)
        peers = [*bootstrap, *file_bootstrap]
        if memory_network is not None:
            transport = await stack.enter_async_context(memory_network.open_transport(key))
        else:
            from dht.libp2p_backend import open_libp2p_transport

            transport = await stack.enter_async_context(
                open_libp2p_transport(key, ledger.dna.address, listen, (), limits=limits)
            )
        node = Node(ledger, key, transport, clock, gossip_interval=gossip_interval,
                    auto_accept_from=[AgentId.parse(a) for a in auto_accept_from],
                    request_timeout=request_timeout)
        nursery = await stack.enter_async_context(trio.open_nursery())
        if rpc:
            from node.runtime.rpc import serve_rpc

            await nursery.start(serve_rpc, rpc(node), ledger.agent.paths.root)
        await node.join(peers)
        await node.own_chain.check_on_start()  # (before publishing: a rolled-back chain forks)
        node.enqueue_new_records()
        await nursery.start(node.run)
        try:
            yield node
        finally:
            nursery.cancel_scope.cancel()
