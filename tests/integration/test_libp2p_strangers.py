"""Strangers (peers that have shown no membrane proof) over real libp2p hosts on
127.0.0.1: small frames, few streams, a deadline to greet, one budget for the frames
being read from everyone, and nothing of the member list."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import trio

from dht.transport import Limits, encode_frame, encode_varint, read_frame_or_end
from node.core.cid import Cid
from node.core.identity import AgentId, AgentKey
from node.runtime.conductor import open_node
from node.runtime.hello import Hello
from tests.integration.network_harness import make_homes, passphrase

NETWORK = Cid.of(b"\xa1")
LOCAL = "/ip4/127.0.0.1/tcp/0"
QUIET = 3600.0  # gossip interval: the nodes' own loops stay out of the way
PROOF = b"a membrane proof"  # what the test's hello handler takes for one


@asynccontextmanager
async def hosts(n: int, limits: Limits) -> AsyncIterator[list[Any]]:
    """`n` libp2p transports; the first is "the node", with `limits`, trusting only the
    peers whose hello said PROOF (its membership check, as the node's hello is)."""
    from dht.libp2p_backend import open_libp2p_transport

    async with AsyncExitStack() as stack:
        ts = [await stack.enter_async_context(
            open_libp2p_transport(AgentKey.generate(), NETWORK, LOCAL, limits=limits if i == 0
                                  else None))
              for i in range(n)]
        node = ts[0]
        members: set[AgentId] = set()

        async def hello(peer: AgentId, data: bytes) -> bytes:
            if data != PROOF:
                raise ValueError("not a member")
            members.add(peer)
            return b"welcome"

        async def echo(peer: AgentId, data: bytes) -> bytes:
            return data

        node.set_handler("hello", hello)
        node.set_handler("echo", echo)
        node.set_trust(lambda peer: peer in members)
        for t in ts[1:]:
            await t.connect(node.listen_addrs()[0])
        yield ts


async def answer(stream: Any) -> bytes:
    """All the bytes the peer writes back; b'' when it resets or ends the stream."""
    chunks = []
    try:
        while chunk := await stream.read(1 << 16):
            chunks.append(chunk)
    except Exception:  # noqa: BLE001 - a reset, in whichever libp2p type it comes
        pass
    return b"".join(chunks)


async def raw_stream(t: Any, peer: AgentId, name: str) -> Any:
    """A new stream of protocol `name` from `t`'s host (not the transport's `_open`,
    which would take a reset for a dead connection and dial again)."""
    from libp2p.peer.id import ID

    from dht.transport import protocol_id

    return await t._host.new_stream(ID(peer.to_bytes()), [protocol_id(NETWORK, name)])


async def one_frame(stream: Any) -> bytes | None:
    """The payload of the next frame the peer writes; None when it resets or ends."""
    try:
        return await read_frame_or_end(lambda n: stream.read(n), 1 << 20)
    except Exception:  # noqa: BLE001 - a reset, in whichever libp2p type it comes
        return None


async def slow_request(t: Any, peer: AgentId, name: str, payload: bytes,
                       pieces: int = 10, pause: float = 0.03) -> bytes | None:
    """Send one request frame in `pieces`, pausing between them; the response frame's
    payload (None if the stream ended first)."""
    stream = await raw_stream(t, peer, name)
    frame = encode_frame(payload)
    step = -(-len(frame) // pieces)
    try:
        for i in range(0, len(frame), step):
            await stream.write(frame[i:i + step])
            await trio.sleep(pause)
        return await read_frame_or_end(lambda n: stream.read(n), len(payload) + 1)
    except Exception:  # noqa: BLE001 - reset: counted by the caller
        return None
    finally:
        await stream.close()


async def test_a_strangers_frame_over_its_limit_is_reset_from_its_length() -> None:
    limits = Limits(stranger_max_message=64 * 1024)
    with trio.fail_after(30):
        async with hosts(3, limits) as (node, stranger, member):
            stream = await raw_stream(stranger, node.local_id, "hello")
            # a frame of 1 MiB announced, a tenth of it sent: the rest never comes
            await stream.write(encode_varint(1 << 20) + os.urandom(100_000))
            with trio.fail_after(5):  # (before: read until the 30 s read timeout)
                assert await answer(stream) == b""
            assert node.statistics().frame_bytes_peak == 0  # no body was taken in
            # a member may send that much
            assert await member.request(node.local_id, "hello", PROOF, timeout=5) == b"welcome"
            big = os.urandom(1 << 20)
            assert await member.request(node.local_id, "echo", big, timeout=20) == big


async def test_a_stranger_gets_few_streams() -> None:
    limits = Limits(stranger_streams=4)
    with trio.fail_after(30):
        async with hosts(2, limits) as (node, stranger):
            held = [await raw_stream(stranger, node.local_id, "hello") for _ in range(4)]
            await trio.sleep(0.3)  # the node has taken them in
            for _ in range(3):
                with trio.fail_after(5):
                    try:
                        extra = await raw_stream(stranger, node.local_id, "hello")
                        await extra.write(encode_frame(b"hello?"))
                        served = await one_frame(extra)
                    except Exception:  # noqa: BLE001 - reset while it was negotiated
                        served = None
                assert served is None, "a stream past the bound was served"
            # those within the bound are served (the answer: an error, not a member)
            await held[0].write(encode_frame(b"hello?"))
            with trio.fail_after(5):
                assert b"not a member" in (await one_frame(held[0]) or b"")


async def test_a_stranger_that_never_greets_is_disconnected_after_the_deadline() -> None:
    limits = Limits(greet_deadline=1.0)
    with trio.fail_after(30):
        async with hosts(3, limits) as (node, silent, greeter):
            assert await greeter.request(node.local_id, "hello", PROOF, timeout=5) == b"welcome"
            assert silent.local_id in node.connected_peers()
            with trio.fail_after(6):
                while silent.local_id in node.connected_peers():
                    await trio.sleep(0.1)  # bounded by the fail_after above
            assert node.local_id not in silent.connected_peers()
            # the one that greeted with a proof stays, and gets the member limits
            assert greeter.local_id in node.connected_peers()
            big = os.urandom(256 * 1024)
            assert await greeter.request(node.local_id, "echo", big, timeout=10) == big


async def test_the_frame_budget_holds_with_many_peers_sending_big_frames_slowly() -> None:
    size = 600 * 1024
    limits = Limits(max_message=900 * 1024, frame_budget=1 << 20, stranger_max_message=64 * 1024,
                    stranger_budget=100 * 1024)
    with trio.fail_after(60):
        async with hosts(9, limits) as ts:
            node, members, strangers = ts[0], ts[1:5], ts[5:]
            for m in members:
                assert await m.request(node.local_id, "hello", PROOF, timeout=5) == b"welcome"
            payloads = [os.urandom(size) for _ in members]
            echoed: list[bool] = []
            refused: list[int] = []
            held: list[int] = []

            async def member(i: int) -> None:
                got = await slow_request(members[i], node.local_id, "echo", payloads[i])
                echoed.append(got == b"\x00" + payloads[i])

            async def stranger(t: Any) -> None:
                if await slow_request(t, node.local_id, "hello", os.urandom(60_000),
                                      pause=0.1) is None:
                    refused.append(1)

            async def watch() -> None:
                while True:
                    held.append(node.statistics().frame_bytes_held)
                    await trio.sleep(0.01)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(watch)
                async with trio.open_nursery() as senders:
                    for i in range(len(members)):
                        senders.start_soon(member, i)
                stats = node.statistics()
                # every member's frame was read in turn, never two at once
                assert echoed == [True] * len(members)
                assert size <= stats.frame_bytes_peak <= limits.frame_budget
                # strangers do not wait for room (nor jump the members' queue): with
                # room for one 60 KB frame in their part, the others are refused
                async with trio.open_nursery() as senders:
                    for t in strangers:
                        senders.start_soon(stranger, t)
                nursery.cancel_scope.cancel()
            assert max(held) <= limits.frame_budget
            assert refused and len(refused) < len(strangers)
            assert node.statistics().frame_bytes_held == 0


async def find_node(t: Any, peer: AgentId, key: bytes) -> list[AgentId] | None:
    """One Kademlia FIND_NODE from transport `t` to `peer`: the peers in the answer,
    or None when the stream was refused."""
    from libp2p.kad_dht.common import PROTOCOL_ID
    from libp2p.kad_dht.pb.kademlia_pb2 import Message
    from libp2p.peer.id import ID

    try:  # (the refusal's reset may overtake the protocol's acceptance: refused too)
        stream = await t._host.new_stream(ID(peer.to_bytes()), [PROTOCOL_ID])
    except Exception:  # noqa: BLE001 - libp2p's StreamFailure
        return None
    request = Message()
    request.type = Message.MessageType.FIND_NODE
    request.key = key
    body = request.SerializeToString()
    try:
        await stream.write(encode_varint(len(body)) + body)
        raw = await read_frame_or_end(lambda n: stream.read(n), 1 << 20)
    except Exception:  # noqa: BLE001 - reset
        return None
    finally:
        await stream.close()
    if not raw:
        return None
    response = Message()
    response.ParseFromString(raw)
    return [AgentId(p.id) for p in response.closerPeers]


async def test_a_stranger_learns_no_member_from_kademlia_or_hello(tmp_path) -> None:
    from dht.libp2p_backend import open_libp2p_transport

    homes, _ = make_homes(tmp_path, ["farm", "mill", "bakery"])
    with trio.fail_after(60):
        async with AsyncExitStack() as stack:
            farm, mill, bakery = [await stack.enter_async_context(
                open_node(h, passphrase, listen=LOCAL, gossip_interval=QUIET, rpc=False))
                for h in homes]
            for n in (mill, bakery):
                assert await n.connect(farm.transport.listen_addrs()[0]) == farm.me
            stranger = await stack.enter_async_context(
                open_libp2p_transport(AgentKey.generate(), farm.network_id, LOCAL))
            greeted: list[bytes] = []

            async def hello(peer: AgentId, data: bytes) -> bytes:
                greeted.append(data)
                raise ValueError("no proof here")

            stranger.set_handler("hello", hello)
            await stranger.connect(farm.transport.listen_addrs()[0])
            key = mill.me.to_bytes()
            # a member asks and hears of the other members...
            assert mill.me in (await find_node(bakery.transport, farm.me, key) or [])
            # ...a stranger hears of none
            answer = await find_node(stranger, farm.me, key)
            assert not {mill.me, bakery.me} & set(answer or []), answer
            # the farm greets the stranger that never said hello: with itself alone
            await farm.discover()
            assert len(greeted) == 1
            assert [p for p, _ in Hello.from_bytes(greeted[0]).peers] == [farm.me]
