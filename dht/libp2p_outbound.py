"""Requests over libp2p and their responses: a request is a frame written on a stream
of its protocol, answered by one frame on the same stream; the stream is then kept for
the next request to that peer and protocol (opening one, with its protocol negotiation,
cost ~2 ms of CPU: more than a small request), up to `STREAMS_KEPT` of them, each for
`STREAM_KEEP_S` at most (the serving side ends a stream idle longer than that).

Part of the py-libp2p backend (`dht.libp2p_backend`); importing it imports libp2p.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import trio
from libp2p.abc import INetStream

from dht.endpoint import Endpoint
from dht.libp2p_streams import (
    close_quietly,
    half_close,
    map_errors,
    read_or_eof,
    reset_quietly,
)
from dht.transport import PeerUnreachable, RequestFailed, parse_response, read_frame_or_end
from node.core.identity import AgentId

STREAMS_KEPT = 4  # idle streams kept per (peer, protocol) for later requests
STREAM_KEEP_S = 20.0  # a kept stream is not used after this long idle, as the serving
# side ends it after `stream_idle` (30 s by default) without a request

OpenStream = Callable[[AgentId, str], Awaitable[INetStream]]
"""Opens a new stream to a peer for a protocol name (dialing it if need be)."""


class OutboundStreams:
    """The requesting side of one transport: its exchanges and the streams it keeps."""

    def __init__(self, endpoint: Endpoint, open_stream: OpenStream) -> None:
        self._endpoint = endpoint
        self._open = open_stream
        self.idle: dict[tuple[AgentId, str], list[tuple[INetStream, float]]] = {}
        """Streams kept for the next request to a (peer, protocol), with when kept."""
        self.nursery: trio.Nursery | None = None
        """Set while the transport runs (stale streams close in it); None: none kept."""

    async def exchange(self, peer: AgentId, name: str, frame: bytes) -> bytes:
        """One request and its response, on a stream kept from an earlier request to the
        same peer and protocol when there is one; if that stream turns out to have ended
        before it answered (the peer closed it idle, or restarted), once more on a new
        one."""
        ep = self._endpoint
        key = (peer, name)
        while True:
            stream = self._idle_stream(key)
            reused = stream is not None
            if stream is None:
                stream = await self._open(peer, name)
            try:
                with map_errors(peer, name):
                    await stream.write(frame)
                    body = await read_frame_or_end(
                        partial(read_or_eof, stream), ep.frame_limit(peer) + 1,
                        ep.budget_for(peer),
                    )
            except (RequestFailed, PeerUnreachable):
                await reset_quietly(stream)
                if reused:
                    continue  # it broke before answering: it was stale
                raise
            except BaseException:  # cancelled or timed out mid-exchange: unusable
                await reset_quietly(stream)
                raise
            if body is None:
                await close_quietly(stream)
                if reused:
                    continue
                raise RequestFailed(f"{peer} closed the {name} stream without answering")
            ep.bytes_sent += len(frame)
            ep.bytes_received += len(body)
            await self._keep_stream(key, stream)
            return parse_response(body)

    async def raw(self, peer: AgentId, name: str, data: bytes) -> bytes:
        """`data` as is on a new stream, which we then half-close; what the peer writes
        until it ends the stream."""
        stream = await self._open(peer, name)
        with map_errors(peer, name):
            try:
                if data:
                    await stream.write(data)
                await half_close(stream)
                chunks = []
                while chunk := await read_or_eof(stream, 1 << 16):
                    chunks.append(chunk)
                if not chunks:  # Yamux may report a reset as a plain end
                    raise RequestFailed(f"{peer} closed the stream without answering")
                return b"".join(chunks)
            finally:
                await close_quietly(stream)

    def forget(self, peer: AgentId) -> None:
        """Forget the streams kept for a peer whose connection closed (they died with it)."""
        for key in [k for k in self.idle if k[0] == peer]:
            del self.idle[key]

    def _idle_stream(self, key: tuple[AgentId, str]) -> INetStream | None:
        """A kept stream for (peer, protocol) not idle for too long, if any."""
        kept = self.idle.get(key)
        now = trio.current_time()
        while kept:
            stream, since = kept.pop()
            if not kept:
                del self.idle[key]
            if now - since < STREAM_KEEP_S:
                return stream
            self._drop_later(stream)
        return None

    async def _keep_stream(self, key: tuple[AgentId, str], stream: INetStream) -> None:
        kept = self.idle.setdefault(key, [])
        if len(kept) < STREAMS_KEPT and self.nursery is not None:
            kept.append((stream, trio.current_time()))
        else:
            await close_quietly(stream)

    def _drop_later(self, stream: INetStream) -> None:
        if self.nursery is not None:
            self.nursery.start_soon(close_quietly, stream)
