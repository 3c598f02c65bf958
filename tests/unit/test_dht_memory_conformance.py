"""The memory backend against the transport conformance suite, and at 1,000 agents."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import trio
from trio.testing import MockClock

from dht.authority import sort_by_distance
from dht.memory import MemoryNetwork, MemoryTransport
from dht.testing import ALL_CHECKS, Check, check_timeout
from dht.transport import PeerUnreachable, RequestFailed
from node.core.identity import AgentId, AgentKey


class MemoryHarness:
    def __init__(self, network: MemoryNetwork, transports: list[MemoryTransport]) -> None:
        self.network = network
        self.transports = transports

    async def kill(self, index: int) -> None:
        self.network.kill(self.transports[index].local_id)


@asynccontextmanager
async def memory_harness(n: int, **options: float) -> AsyncIterator[MemoryHarness]:
    network = MemoryNetwork(**options)  # type: ignore[arg-type]
    async with AsyncExitStack() as stack:
        transports = [
            await stack.enter_async_context(network.open_transport(AgentKey.generate()))
            for _ in range(n)
        ]
        for t in transports[1:]:
            await transports[0].connect(t.listen_addrs()[0])
        yield MemoryHarness(network, transports)


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
async def test_memory_conformance(check: Check, autojump_clock: MockClock) -> None:
    """On trio's mock clock: a timeout or a latency passes at once, not in wall time."""
    await check(memory_harness)


async def test_the_suite_fails_a_backend_that_ignores_timeouts(
        autojump_clock: MockClock) -> None:
    """The public suite catches a broken backend: one that waits past a request's timeout
    fails `check_timeout` (on the mock clock, at once)."""

    @asynccontextmanager
    async def patient(n: int) -> AsyncIterator[MemoryHarness]:
        async with memory_harness(n) as h:
            for t in h.transports:
                request = t.request

                async def ignoring(peer: AgentId, name: str, payload: bytes, *,
                                   timeout: float, request=request) -> bytes:  # type: ignore[no-untyped-def]
                    return await request(peer, name, payload, timeout=3600)

                t.request = ignoring  # type: ignore[method-assign]
            yield h

    with pytest.raises(trio.TooSlowError):
        await check_timeout(patient)


async def test_conformance_with_latency(autojump_clock: MockClock) -> None:
    def slow(n: int) -> object:
        return memory_harness(n, latency=0.002)

    for check in ALL_CHECKS[:4]:
        await check(slow)  # type: ignore[arg-type]


async def echo(peer: AgentId, data: bytes) -> bytes:
    return data


async def test_partition_and_heal() -> None:
    with trio.fail_after(10):
        async with memory_harness(4) as h:
            a, b, c, d = h.transports
            for t in h.transports:
                t.set_handler("echo", echo)
            h.network.partition([[a.local_id, b.local_id], [c.local_id]])
            assert await a.request(b.local_id, "echo", b"1", timeout=1) == b"1"
            for src, dst in [(a, c), (c, a), (a, d), (c, d)]:
                with pytest.raises(PeerUnreachable):
                    await src.request(dst.local_id, "echo", b"x", timeout=1)
            assert set(a.known_peers()) == {b.local_id}
            assert set(a.closest_peers(os.urandom(32), 10)) == {a.local_id, b.local_id}
            assert c.closest_peers(b"k", 10) == [c.local_id]
            h.network.heal()
            assert await c.request(a.local_id, "echo", b"2", timeout=1) == b"2"
            assert len(a.closest_peers(b"k", 10)) == 4


async def test_kill_cancels_in_flight_requests() -> None:
    with trio.fail_after(10):
        async with memory_harness(2) as h:
            a, b = h.transports
            started = trio.Event()

            async def stuck(peer: AgentId, data: bytes) -> bytes:
                started.set()
                await trio.sleep_forever()
                raise AssertionError("unreachable")

            b.set_handler("stuck", stuck)
            async with trio.open_nursery() as nursery:

                async def kill_when_started() -> None:
                    await started.wait()
                    await h.kill(1)

                nursery.start_soon(kill_when_started)
                with pytest.raises(PeerUnreachable):
                    await a.request(b.local_id, "stuck", b"", timeout=5)
            with pytest.raises(PeerUnreachable):
                await b.request(a.local_id, "stuck", b"", timeout=5)


async def test_busy_peer_is_reset() -> None:
    """A peer with more requests in progress than inbound_per_peer gets resets."""
    with trio.fail_after(10):
        from dht.transport import Limits

        network = MemoryNetwork(limits=Limits(outbound_per_peer=32, inbound_per_peer=4))
        async with AsyncExitStack() as stack:
            a, b = [
                await stack.enter_async_context(network.open_transport(AgentKey.generate()))
                for _ in range(2)
            ]
            gate = trio.Event()

            async def gated(peer: AgentId, data: bytes) -> bytes:
                await gate.wait()
                return data

            b.set_handler("gated", gated)
            outcomes: list[str] = []

            async def one() -> None:
                try:
                    await a.request(b.local_id, "gated", b"x", timeout=5)
                    outcomes.append("ok")
                except RequestFailed:
                    outcomes.append("reset")
                    if outcomes.count("reset") == 6:
                        gate.set()

            async with trio.open_nursery() as nursery:
                for _ in range(10):
                    nursery.start_soon(one)
            assert outcomes.count("ok") == 4 and outcomes.count("reset") == 6


async def test_thousand_transports() -> None:
    """1,000 agents in one process: any can reach any; closest_peers is exact."""
    with trio.fail_after(30):
        network = MemoryNetwork()
        async with AsyncExitStack() as stack:
            transports = []
            for _ in range(1000):
                t = await stack.enter_async_context(network.open_transport(AgentKey.generate()))
                t.set_handler("echo", echo)
                transports.append(t)
            everyone = [t.local_id for t in transports]
            rng = __import__("random").Random(7)

            async def ask(src: MemoryTransport, dst: MemoryTransport) -> None:
                payload = dst.local_id.to_bytes()
                assert await src.request(dst.local_id, "echo", payload, timeout=5) == payload

            async with trio.open_nursery() as nursery:
                for i, src in enumerate(transports):
                    nursery.start_soon(ask, src, transports[(i * 7 + 1) % 1000])
                    nursery.start_soon(ask, src, rng.choice(transports[:i] + transports[i + 1 :]))
            for _ in range(200):
                key = os.urandom(36)
                t = rng.choice(transports)
                got = t.closest_peers(key, 5)
                assert got == sort_by_distance(key, everyone)[:5]
            network.kill(everyone[0])
            key = os.urandom(36)
            assert transports[1].closest_peers(key, 5) == sort_by_distance(key, everyone[1:])[:5]
            assert transports[1].statistics().requests_sent == 2
