"""The libp2p backend against the transport conformance suite: real hosts on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from dht.testing import ALL_CHECKS, Check, serve_echo
from dht.transport import PeerUnreachable, Transport
from node.core.cid import Cid
from node.core.identity import AgentKey

NETWORK = Cid.of(b"\xa0")  # any CID will do for a network id here


class Libp2pHarness:
    """Each host runs in its own task, so any one can be killed in any order."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self.transports: list[Transport] = []
        self._stops: list[trio.Event] = []
        self._stopped: list[trio.Event] = []

    async def add(self, key: AgentKey, **options: Any) -> Transport:
        from dht.libp2p_backend import open_libp2p_transport

        stop, stopped = trio.Event(), trio.Event()

        async def run(task_status: trio.TaskStatus[Transport]) -> None:
            try:
                async with open_libp2p_transport(key, NETWORK, **options) as transport:
                    task_status.started(transport)
                    await stop.wait()
            finally:
                stopped.set()

        transport = await self._nursery.start(run)
        self.transports.append(transport)
        self._stops.append(stop)
        self._stopped.append(stopped)
        return transport

    async def kill(self, index: int) -> None:
        self._stops[index].set()
        await self._stopped[index].wait()

    async def close(self) -> None:
        for i in range(len(self.transports)):
            await self.kill(i)


@asynccontextmanager
async def libp2p_harness(n: int, **options: Any) -> AsyncIterator[Libp2pHarness]:
    """`n` hosts, each opened with `options` (of `open_libp2p_transport`)."""
    async with trio.open_nursery() as nursery:
        harness = Libp2pHarness(nursery)
        try:
            for _ in range(n):
                await harness.add(AgentKey.generate(), **options)
            for t in harness.transports[1:]:
                await harness.transports[0].connect(t.listen_addrs()[0])
            yield harness
        finally:
            await harness.close()


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
async def test_libp2p_conformance(check: Check) -> None:
    await check(libp2p_harness)


async def test_identity_is_the_agent_key() -> None:
    from libp2p.peer.id import ID

    key = AgentKey.generate()
    with trio.fail_after(10):
        async with libp2p_harness(0) as h:
            t = await h.add(key)
            assert t.local_id == key.agent_id
            assert ID.from_base58(str(key.agent_id)).to_bytes() == key.agent_id.to_bytes()
            assert all(a.startswith("/ip4/127.0.0.1/tcp/") for a in t.listen_addrs())


async def test_bootstrap_with_retries() -> None:
    """A host bootstraps from a list that includes a dead address."""
    with trio.fail_after(20):
        async with libp2p_harness(1) as h:
            seed = h.transports[0]
            dead = f"/ip4/127.0.0.1/tcp/1/p2p/{AgentKey.generate().agent_id}"
            t = await h.add(
                AgentKey.generate(), bootstrap=[seed.listen_addrs()[0], dead], bootstrap_attempts=2
            )
            await t.bootstrapped.wait()  # type: ignore[attr-defined]
            assert t.connected_peers() == [seed.local_id]
            assert seed.local_id in t.known_peers()
            # The seed learnt of the newcomer from its inbound connection.
            with trio.fail_after(5):
                while t.local_id not in seed.known_peers():
                    await trio.sleep(0.01)  # bounded poll: the routing table has no event


async def test_inbound_peer_filter_closes_connection() -> None:
    with trio.fail_after(20):
        async with libp2p_harness(2) as h:
            a, b = h.transports

            async def echo(peer: object, data: bytes) -> bytes:
                return data

            b.set_handler("echo", echo)
            b.set_peer_filter(lambda p: p != a.local_id)
            for _ in range(2):
                with pytest.raises(Exception) as info:
                    await a.request(b.local_id, "echo", os.urandom(8), timeout=5)
                assert type(info.value).__name__ in {"PeerUnreachable", "RequestFailed"}


async def test_connect_retries_a_peer_that_failed_before() -> None:
    """A dial that failed does not block an explicit connect once the peer is up."""
    import socket

    with socket.socket() as s:  # a free port to start the late peer on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    late = AgentKey.generate()
    address = f"/ip4/127.0.0.1/tcp/{port}/p2p/{late.agent_id}"
    with trio.fail_after(20):
        async with libp2p_harness(1) as h:
            a = h.transports[0]
            with pytest.raises(PeerUnreachable):
                await a.connect(address)
            await h.add(late, listen=f"/ip4/127.0.0.1/tcp/{port}")
            assert await a.connect(address) == late.agent_id


async def test_exit_closes_the_listener() -> None:
    """Leaving the context closes the port (host.run alone leaves it open)."""
    import socket

    from dht.libp2p_backend import open_libp2p_transport

    with trio.fail_after(10):
        async with open_libp2p_transport(AgentKey.generate(), NETWORK) as t:
            address = t.listen_addrs()[0]
        port = int(address.split("/tcp/")[1].split("/")[0])
        with socket.socket() as s, pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.1", port))


async def test_requests_share_a_stream_and_survive_its_end(monkeypatch) -> None:
    """Sequential requests to a peer reuse one stream; one the peer ended while idle is
    replaced without the request failing; a peer refused since gets no answer on it."""
    import dht.libp2p_backend as backend

    opened: list[str] = []
    original = backend.Libp2pTransport._open

    async def counting(self: Any, peer: Any, name: str) -> Any:
        opened.append(name)
        return await original(self, peer, name)

    monkeypatch.setattr(backend.Libp2pTransport, "_open", counting)

    with trio.fail_after(30):
        async with libp2p_harness(2, stream_idle=0.3) as h:  # the serving side ends idle ones
            a, b = h.transports
            serve_echo([b])
            for i in range(20):
                assert await a.request(b.local_id, "echo", bytes([i]), timeout=5) == bytes([i])
            assert len(opened) == 1
            await trio.sleep(0.6)  # b has ended the idle stream a still keeps
            assert await a.request(b.local_id, "echo", b"again", timeout=5) == b"again"
            assert len(opened) == 2
            answers: list[bytes] = []

            async def one(i: int) -> None:
                answers.append(await a.request(b.local_id, "echo", bytes([i]), timeout=5))

            async with trio.open_nursery() as nursery:
                for i in range(10):
                    nursery.start_soon(one, i)
            assert sorted(answers) == [bytes([i]) for i in range(10)]
            assert 1 <= len(a._outbound.idle[(b.local_id, "echo")]) <= backend.STREAMS_KEPT  # type: ignore[attr-defined]
            b.set_peer_filter(lambda p: p != a.local_id)
            with pytest.raises(Exception) as info:
                await a.request(b.local_id, "echo", b"refused", timeout=5)
            assert type(info.value).__name__ in {"PeerUnreachable", "RequestFailed"}


async def test_a_peer_gets_a_bounded_number_of_streams() -> None:
    async def slow(peer: object, data: bytes) -> bytes:
        await trio.sleep(0.3)
        return data

    with trio.fail_after(30):
        async with libp2p_harness(2, streams_per_peer=2) as h:
            a, b = h.transports
            b.set_handler("slow", slow)
            outcomes: list[str] = []

            async def one() -> None:
                try:
                    await a.request(b.local_id, "slow", b"x", timeout=5)
                    outcomes.append("answered")
                except Exception as e:  # noqa: BLE001 - which error is what is counted
                    outcomes.append(type(e).__name__)

            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(one)
            assert outcomes.count("answered") >= 2, outcomes
            assert set(outcomes) <= {"answered", "RequestFailed"} and "RequestFailed" in outcomes
            assert await a.request(b.local_id, "slow", b"after", timeout=5) == b"after"


async def test_streams_kept_for_a_peer_go_with_its_connection() -> None:
    with trio.fail_after(20):
        async with libp2p_harness(2) as h:
            a, b = h.transports
            serve_echo([b])
            for _ in range(3):
                await a.request(b.local_id, "echo", b"x", timeout=5)
            assert (b.local_id, "echo") in a._outbound.idle  # type: ignore[attr-defined]
            await h.kill(1)  # no request follows: only the connection's end can clear it
            while (b.local_id, "echo") in a._outbound.idle:  # type: ignore[attr-defined]
                await trio.sleep(0.05)
