"""Test helpers for transports, public like `trio.testing`: the conformance suite that
every `dht.transport.Transport` backend must pass, whoever wrote the backend.

Like trio's `check_two_way_stream`: each `check_*` is an async function taking a
factory; the factory is an async context manager `factory(n)` yielding a `Harness`
with `n` transports, every pair able to reach each other (transport 0 connected to
all), and a `kill(i)` that makes transport i vanish as a crashed process would.
`ALL_CHECKS` lists them, so a backend's test module parametrises over it:

    @pytest.mark.parametrize("check", ALL_CHECKS)
    async def test_conformance(check): await check(my_harness)

The checks take time from trio's clock only (no wall time), so a backend whose own
waits are trio's may run them under `trio.testing.MockClock(autojump_threshold=0)`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import trio

from dht.authority import sort_by_distance
from dht.transport import (
    MAX_MESSAGE,
    STRANGER_MAX_MESSAGE,
    NotServed,
    PeerUnreachable,
    RequestFailed,
    RequestTimeout,
    Transport,
    encode_frame,
    encode_varint,
)
from node.core.identity import AgentId

TIMEOUT = 10.0  # per request; every check also runs under trio.fail_after


class Harness(Protocol):
    """`n` transports that reach each other, and a way to crash one of them."""

    transports: Sequence[Transport]

    async def kill(self, index: int) -> None:
        """Make transport `index` vanish as a crashed process would."""
        ...


Factory = Callable[[int], AbstractAsyncContextManager[Harness]]
"""`factory(n)` opens a `Harness` of `n` connected transports."""
Check = Callable[[Factory], Awaitable[None]]
"""One conformance check: raises (AssertionError or a transport error) on a failure."""


async def echo(peer: AgentId, data: bytes) -> bytes:
    """A handler that answers with the request's bytes."""
    return data


def serve_echo(transports: Sequence[Transport]) -> None:
    """Serve `echo` as protocol "echo" on each of `transports`."""
    for t in transports:
        t.set_handler("echo", echo)


async def check_round_trip(factory: Factory) -> None:
    """A request reaches its handler with the verified requester and is counted."""
    with trio.fail_after(20):
        async with factory(2) as h:
            a, b = h.transports
            seen: list[AgentId] = []

            async def whoami(peer: AgentId, data: bytes) -> bytes:
                seen.append(peer)
                return b"hello " + data

            b.set_handler("whoami", whoami)
            assert await a.request(b.local_id, "whoami", b"a", timeout=TIMEOUT) == b"hello a"
            assert seen == [a.local_id]  # the requester's verified id
            serve_echo(h.transports)
            assert await b.request(a.local_id, "echo", b"", timeout=TIMEOUT) == b""
            sa, sb = a.statistics(), b.statistics()
            assert sa.requests_sent == 1 and sa.requests_received == 1
            assert sb.requests_sent == 1 and sb.requests_received == 1
            assert sa.bytes_sent > 0 and sb.bytes_received > 0


async def check_large_messages(factory: Factory) -> None:
    """Frames up to MAX_MESSAGE pass; larger ones are refused both ways."""
    with trio.fail_after(40):
        async with factory(2) as h:
            a, b = h.transports
            serve_echo(h.transports)
            big = os.urandom(4 * 1024 * 1024)
            assert await a.request(b.local_id, "echo", big, timeout=30) == big
            limit = bytes(MAX_MESSAGE)
            assert await a.request(b.local_id, "echo", limit, timeout=30) == limit
            try:
                await a.request(b.local_id, "echo", limit + b"x", timeout=TIMEOUT)
                raise AssertionError("an oversize request was sent")
            except RequestFailed:
                pass
            # A peer that does not check: a header announcing MAX + 1 bytes is refused.
            header = encode_varint(MAX_MESSAGE + 1)
            try:
                await a.send_raw(b.local_id, "echo", header + b"x" * 100, timeout=TIMEOUT)
                raise AssertionError("an oversize frame was accepted")
            except RequestFailed:
                pass

            async def too_big(peer: AgentId, data: bytes) -> bytes:
                return bytes(MAX_MESSAGE + 1)

            b.set_handler("too-big", too_big)
            try:
                await a.request(b.local_id, "too-big", b"", timeout=30)
                raise AssertionError("an oversize response was sent")
            except RequestFailed:
                pass
            assert await a.request(b.local_id, "echo", b"still here", timeout=TIMEOUT)


async def check_unknown_protocol(factory: Factory) -> None:
    """A protocol nobody serves raises NotServed; the peer still serves."""
    with trio.fail_after(20):
        async with factory(2) as h:
            a, b = h.transports
            serve_echo([b])
            try:
                await a.request(b.local_id, "nobody-serves-this", b"x", timeout=TIMEOUT)
                raise AssertionError("an unknown protocol answered")
            except NotServed:  # (a RequestFailed) told apart: another network's node
                pass
            assert await a.request(b.local_id, "echo", b"x", timeout=TIMEOUT) == b"x"


async def check_handler_exception(factory: Factory) -> None:
    """A handler's error reaches the requester as RequestFailed, with its message."""
    with trio.fail_after(20):
        async with factory(2) as h:
            a, b = h.transports

            async def broken(peer: AgentId, data: bytes) -> bytes:
                raise ValueError("the handler broke on purpose")

            b.set_handler("broken", broken)
            serve_echo([b])
            try:
                await a.request(b.local_id, "broken", b"x", timeout=TIMEOUT)
                raise AssertionError("a failing handler answered")
            except RequestFailed as e:
                assert "the handler broke on purpose" in str(e)
            assert await a.request(b.local_id, "echo", b"ok", timeout=TIMEOUT) == b"ok"
            assert b.statistics().inbound_failed >= 1
            assert a.statistics().requests_failed >= 1


async def check_garbage_frames(factory: Factory) -> None:
    """Malformed frames are refused without an answer; the peer survives them."""
    with trio.fail_after(30):
        async with factory(2) as h:
            a, b = h.transports
            serve_echo([b])
            garbage = [
                b"\xff" * 12,  # a varint that never ends
                encode_varint(100) + b"short",  # the stream ends inside the frame
                b"",  # the stream ends before any frame
            ]
            for raw in garbage:
                try:
                    got = await a.send_raw(b.local_id, "echo", raw, timeout=TIMEOUT)
                except RequestFailed:
                    continue
                # Some backends close instead of resetting: then no response may come.
                assert got == b"", f"garbage {raw[:12]!r} got an answer {got[:20]!r}"
            # A well-formed raw frame gets a well-formed response, and the peer survived.
            got = await a.send_raw(b.local_id, "echo", encode_frame(b"raw"), timeout=TIMEOUT)
            assert got == encode_frame(b"\x00raw")
            assert await a.request(b.local_id, "echo", b"next", timeout=TIMEOUT) == b"next"
            assert b.statistics().inbound_failed >= 2


async def check_stranger_frames(factory: Factory) -> None:
    """A peer not trusted yet gets the stranger frame limit, one trusted the full one."""
    with trio.fail_after(40):
        async with factory(2) as h:
            a, b = h.transports
            serve_echo([b])
            trusted: set[AgentId] = set()
            b.set_trust(lambda p: p in trusted)
            small, big = os.urandom(1000), os.urandom(STRANGER_MAX_MESSAGE + 1)
            assert await a.request(b.local_id, "echo", small, timeout=TIMEOUT) == small
            try:
                await a.request(b.local_id, "echo", big, timeout=TIMEOUT)
                raise AssertionError("a stranger's frame over its limit was served")
            except (RequestFailed, PeerUnreachable):
                pass
            trusted.add(a.local_id)
            assert await a.request(b.local_id, "echo", big, timeout=TIMEOUT) == big


async def check_timeout(factory: Factory) -> None:
    """A request the peer never answers raises RequestTimeout at its timeout."""
    with trio.fail_after(20):
        async with factory(2) as h:
            a, b = h.transports
            release = trio.Event()

            async def stuck(peer: AgentId, data: bytes) -> bytes:
                await release.wait()
                return b"late"

            b.set_handler("stuck", stuck)
            serve_echo([b])
            start = trio.current_time()
            try:
                await a.request(b.local_id, "stuck", b"", timeout=0.3)
                raise AssertionError("a stuck handler answered")
            except RequestTimeout:
                pass
            assert trio.current_time() - start < 5
            release.set()
            assert await a.request(b.local_id, "echo", b"after", timeout=TIMEOUT) == b"after"


async def check_peer_filter(factory: Factory) -> None:
    """A filtered peer is neither reached nor answered, nor listed; unfiltered, it is."""
    with trio.fail_after(30):
        async with factory(3) as h:
            a, b, c = h.transports
            serve_echo(h.transports)
            for t in (b, c):
                assert await a.request(t.local_id, "echo", b"x", timeout=TIMEOUT) == b"x"
            a.set_peer_filter(lambda p: p != b.local_id)
            try:
                await a.request(b.local_id, "echo", b"x", timeout=TIMEOUT)
                raise AssertionError("a request went to a refused peer")
            except PeerUnreachable:
                pass
            try:  # b is refused by a: reset or unreachable, never answered
                await b.request(a.local_id, "echo", b"x", timeout=TIMEOUT)
                raise AssertionError("a refused peer was answered")
            except (PeerUnreachable, RequestFailed):
                pass
            assert b.local_id not in a.connected_peers()
            assert b.local_id not in a.known_peers()
            assert b.local_id not in a.closest_peers(b.local_id.to_bytes(), 10)
            assert await a.request(c.local_id, "echo", b"c", timeout=TIMEOUT) == b"c"
            a.set_peer_filter(lambda p: True)
            assert await a.request(b.local_id, "echo", b"back", timeout=TIMEOUT) == b"back"


async def check_concurrency(factory: Factory) -> None:
    """Requests to one peer run concurrently, within the per-peer limit."""
    with trio.fail_after(30):
        async with factory(2) as h:
            a, b = h.transports
            running = peak = 0

            async def slow_echo(peer: AgentId, data: bytes) -> bytes:
                nonlocal running, peak
                running += 1
                peak = max(peak, running)
                await trio.sleep(0.005)  # stands for work, not for synchronisation
                running -= 1
                return data

            b.set_handler("slow-echo", slow_echo)
            results: dict[int, bytes] = {}

            async def one(i: int) -> None:
                payload = i.to_bytes(4, "big") * 64
                results[i] = await a.request(b.local_id, "slow-echo", payload, timeout=20)

            async with trio.open_nursery() as nursery:
                for i in range(100):
                    nursery.start_soon(one, i)
            assert results == {i: i.to_bytes(4, "big") * 64 for i in range(100)}
            assert 1 < peak <= 16, peak  # concurrent, and within the per-peer limit


async def check_closest_peers(factory: Factory) -> None:
    """`closest_peers` is exact in Kademlia's metric, the local node counted."""
    with trio.fail_after(20):
        async with factory(4) as h:
            a = h.transports[0]
            everyone = [t.local_id for t in h.transports]
            assert set(a.known_peers()) == set(everyone) - {a.local_id}
            for i in range(50):
                key = os.urandom(34 if i % 2 else 38)
                expected = sort_by_distance(key, everyone)
                assert a.closest_peers(key, 4) == expected
                assert a.closest_peers(key, 2) == expected[:2]
                assert a.closest_peers(key, 10) == expected
            assert a.closest_peers(a.local_id.to_bytes(), 0) == []


async def check_disconnect_and_kill(factory: Factory) -> None:
    """A disconnected peer is dialled again; a killed one is unreachable."""
    with trio.fail_after(30):
        async with factory(3) as h:
            a, b, c = h.transports
            serve_echo(h.transports)
            assert await a.request(b.local_id, "echo", b"x", timeout=TIMEOUT) == b"x"
            assert b.local_id in a.connected_peers()
            await a.disconnect(b.local_id)
            assert b.local_id not in a.connected_peers()
            # A later request dials again.
            assert await a.request(b.local_id, "echo", b"y", timeout=TIMEOUT) == b"y"
            await h.kill(2)
            for _ in range(2):
                try:
                    await a.request(c.local_id, "echo", b"z", timeout=TIMEOUT)
                    raise AssertionError("a dead peer answered")
                except PeerUnreachable:
                    pass
            assert c.local_id not in a.connected_peers()
            assert await a.request(b.local_id, "echo", b"b", timeout=TIMEOUT) == b"b"


async def check_listen_addrs(factory: Factory) -> None:
    """Listen addresses end in the agent id and can be connected to."""
    with trio.fail_after(20):
        async with factory(2) as h:
            a, b = h.transports
            for t in h.transports:
                addrs = t.listen_addrs()
                assert addrs
                assert all(addr.endswith(f"/p2p/{t.local_id}") for addr in addrs)
            await a.disconnect(b.local_id)
            assert await a.connect(b.listen_addrs()[0]) == b.local_id
            assert b.local_id in a.connected_peers()
            try:
                await a.connect("/ip4/127.0.0.1/tcp/1/p2p/not-a-peer-id")
                raise AssertionError("connected to nonsense")
            except PeerUnreachable:
                pass


ALL_CHECKS: list[Check] = [
    check_round_trip,
    check_large_messages,
    check_unknown_protocol,
    check_handler_exception,
    check_garbage_frames,
    check_stranger_frames,
    check_timeout,
    check_peer_filter,
    check_concurrency,
    check_closest_peers,
    check_disconnect_and_kill,
    check_listen_addrs,
]
"""Every check, in the order a backend should pass them."""
