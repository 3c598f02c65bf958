"""Serving inbound libp2p streams: who is admitted (the peer filter; strangers, not yet
trusted, get `Limits.stranger_streams` streams, the greeting deadline to send a request
and no Kademlia answers), how many streams a peer may hold open (past
`streams_per_peer` a request is answered "busy", far past it the stream is reset), and
the requests of one stream answered frame after frame until it ends or idles.

Part of the py-libp2p backend (`dht.libp2p_backend`); importing it imports libp2p.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio
from libp2p.abc import INetStream
from libp2p.peer.id import ID

from dht.endpoint import Busy, Endpoint, release
from dht.libp2p_host import agent_of
from dht.libp2p_streams import LIBP2P_ERRORS, close_quietly, read_or_eof, reset_quietly
from dht.transport import FrameError, encode_response, error_text, read_frame_or_end
from node.core.identity import AgentId

log = logging.getLogger("coledger.dht")

STREAMS_PER_PEER = 64  # inbound streams open at once from one peer (more: "busy")
STREAM_IDLE_S = 30.0  # the serving side ends a stream after this long without a request
BUSY_READ_S = 2.0  # how long a stream past that bound may take to send its request


class InboundStreams:
    """The serving side of one transport's streams, with the streams open by peer."""

    def __init__(
        self, endpoint: Endpoint, refuse: Callable[[ID], None], *,
        streams_per_peer: int = STREAMS_PER_PEER, stream_idle: float = STREAM_IDLE_S,
    ) -> None:
        self._endpoint = endpoint
        self._refuse = refuse  # forget a refused peer and close its connection
        self._streams_per_peer = streams_per_peer
        self._stream_idle = stream_idle
        self._open: dict[AgentId, int] = {}  # inbound streams open, by peer

    async def serve_kad(self, stream: INetStream,
                        handler: Callable[[INetStream], Awaitable[None]]) -> None:
        """Kademlia answers with the routing table, that is with members and their
        addresses: only to trusted peers."""
        ep = self._endpoint
        agent = agent_of(stream.muxed_conn.peer_id)
        if agent is None or not ep.accepts(agent) or not ep.trusts(agent):
            ep.inbound_failed += 1
            await reset_quietly(stream)
            return
        await handler(stream)

    async def serve(self, stream: INetStream, name: str) -> None:
        """Answer the requests of one inbound stream, one after another, until the peer
        ends it or leaves it idle; never raises into libp2p."""
        ep = self._endpoint
        agent = agent_of(stream.muxed_conn.peer_id)  # verified by Noise
        if agent is None or not ep.accepts(agent):
            ep.inbound_failed += 1
            await reset_quietly(stream)
            self._refuse(stream.muxed_conn.peer_id)
            return
        # kept streams are bounded, so are a peer's here: past the bound a request is
        # answered "busy" (a reset while the peer negotiates the protocol would look
        # like a dead connection to it), far past it the stream is reset; a stranger's
        # past its small bound is reset at once
        open_now = self._open.get(agent, 0)
        if open_now >= ep.limits.stranger_streams and not ep.trusts(agent):
            ep.inbound_failed += 1
            log.info("reset a %s stream from stranger %s: %d streams open", name, agent,
                     open_now)
            await reset_quietly(stream)
            return
        if open_now >= 4 * self._streams_per_peer:
            ep.inbound_failed += 1
            log.warning("reset a %s stream from %s: %d streams open", name, agent, open_now)
            await reset_quietly(stream)
            return
        busy = f"Busy: {open_now} streams open" if open_now >= self._streams_per_peer else None
        self._open[agent] = open_now + 1
        try:
            await self._serve_stream(stream, name, agent, busy)
        finally:
            release(self._open, agent)

    async def _serve_stream(self, stream: INetStream, name: str, agent: AgentId,
                            busy: str | None) -> None:
        ep = self._endpoint
        first = True
        wait = min(ep.limits.read_timeout, BUSY_READ_S) if busy else ep.limits.read_timeout
        if not ep.trusts(agent):
            wait = min(wait, ep.limits.greet_deadline)
        try:
            while True:
                # the first request must come at once; later ones may wait a while
                with trio.move_on_after(wait if first else self._stream_idle) as idle:
                    payload = await read_frame_or_end(
                        lambda n: read_or_eof(stream, n), ep.frame_limit(agent),
                        ep.budget_for(agent),
                    )
                if idle.cancelled_caught and first:
                    raise trio.TooSlowError
                if payload is None or idle.cancelled_caught:
                    break  # the peer is done with it (or left it idle)
                if not first and not ep.accepts(agent):  # refused since (a warrant)
                    ep.inbound_failed += 1
                    await reset_quietly(stream)
                    self._refuse(stream.muxed_conn.peer_id)
                    return
                first = False
                if busy is not None:
                    ep.inbound_failed += 1
                    await stream.write(encode_response(False, busy.encode()))
                    break
                try:
                    async with ep.inbound_slot(agent):
                        response = await ep.answer(agent, name, payload)
                except Busy as e:  # (counted by the slot)
                    response = encode_response(False, error_text(e))
                await stream.write(response)
            await close_quietly(stream)
        except (FrameError, trio.TooSlowError) as e:
            ep.inbound_failed += 1
            log.warning("reset a %s stream from %s: %s", name, agent, e or type(e).__name__)
            await reset_quietly(stream)
        except LIBP2P_ERRORS as e:
            log.debug("%s stream from %s broke: %s", name, agent, e)
            await reset_quietly(stream)
