"""The py-libp2p backend of `dht.transport.Transport`: TCP + Noise + Yamux, Kademlia.

The agent key is the libp2p identity, so a peer id is an agent id and Noise verifies
it (`stream.muxed_conn.peer_id`). A request is a frame written on a stream of its
protocol, answered by one frame on the same stream; the stream is then kept for the
next request to that peer and protocol (opening one, with its protocol negotiation,
cost ~2 ms of CPU: more than a small request), and the serving side answers frame
after frame until the stream ends or idles (`stream_idle`). A peer that half-closes
after its one request is served the same way. Kademlia (`libp2p.kad_dht`) is the routing table;
we add peers to it on every connection (py-libp2p does not) and sort by its metric
(`dht.authority`, checked against its `sort_peer_ids_by_distance`), counting the local
node in.

Peers the node does not trust yet (`set_trust`: no membrane proof shown) are
strangers: their frames are refused past `Limits.stranger_max_message` from the length
alone, they get `stranger_streams` streams, no Kademlia answers (the routing table is
the member list), and `greet_deadline` seconds to become trusted before their
connection is closed. Every frame body read takes its bytes from one budget
(`Limits.frame_budget`) first, so many peers cannot pile up unread frames.

Importing this module imports libp2p (about a second): import it lazily, inside the
code that runs the network. libp2p's exceptions stop here (`_map_errors`).
Traps handled are listed in LIBP2P-NOTES.md; those met while writing this are noted
where they are handled.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from functools import partial

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p import create_yamux_muxer_option, new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.kad_dht.common import PROTOCOL_ID as KAD_PROTOCOL_ID
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.network.config import ConnectionConfig
from libp2p.network.exceptions import SwarmException
from libp2p.network.stream.exceptions import StreamEOF, StreamError, StreamReset
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.exceptions import MuxedConnError, MuxedStreamError
from libp2p.tools.anyio_service import background_trio_service
from libp2p.transport.tcp import tcp as _libp2p_tcp

from dht.authority import ClosestIndex
from dht.endpoint import Busy, Endpoint, release
from dht.transport import (
    AddressInUse,
    FrameError,
    Handler,
    Limits,
    MessageTooLarge,
    NotServed,
    PeerFilter,
    PeerUnreachable,
    RequestFailed,
    RequestTimeout,
    TransportError,
    TransportStatistics,
    check_name,
    encode_frame,
    encode_response,
    error_text,
    parse_response,
    protocol_id,
    read_frame_or_end,
)
from node.core.cid import Cid
from node.core.errors import CoreError
from node.core.identity import AgentId, AgentKey

log = logging.getLogger("coledger.dht")

BOOTSTRAP_ATTEMPTS = 5
BOOTSTRAP_FIRST_DELAY = 0.25  # seconds, doubled after each failed attempt
CONNECT_TIMEOUT = 10.0
STREAMS_KEPT = 4  # idle streams kept per (peer, protocol) for later requests
STREAM_KEEP_S = 20.0  # a kept stream is not used after this long idle...
STREAM_IDLE_S = 30.0  # ...as the serving side ends it after this long without a request
STREAMS_PER_PEER = 64  # inbound streams open at once from one peer (more: "busy")
BUSY_READ_S = 2.0  # how long a stream past that bound may take to send its request
_LIBP2P_ERRORS = (BaseLibp2pError, OSError, EOFError, ValueError)

# `import libp2p` makes its logger stop propagating; we want its warnings in our logs.
logging.getLogger("libp2p").propagate = True


def _reuse_address_only(sock: trio.socket.SocketType) -> None:
    """libp2p listens with SO_REUSEPORT (for hole punching, which we do not use), so a
    second node on a taken port started silently and shared it: keep SO_REUSEADDR only
    (a restart may still bind over connections in TIME_WAIT)."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)


_libp2p_tcp._set_reuse_flags = _reuse_address_only



def show_libp2p_logs() -> None:
    """Let libp2p's log records reach the root logger (`--log-level debug`): once
    imported (as here), libp2p keeps them to itself, at WARNING and not propagated,
    unless LIBP2P_DEBUG is set."""
    chatter = logging.getLogger("libp2p")
    chatter.setLevel(logging.NOTSET)
    chatter.propagate = True

class _Quiet(logging.Filter):
    """Drops libp2p log records that describe normal events (a stream ending, a peer
    not speaking a protocol we asked for), which it logs at WARNING/ERROR."""

    NOISE = (
        "Failed to open stream to peer",
        "Failed to open TCP stream",  # a dead peer: we raise PeerUnreachable
        "Failed to start TCP listener",  # we raise AddressInUse (or say why)
        "MultiselectClient handshake",  # a connection that died under a new stream
        "ClosedResourceError",  # Yamux's reader when its connection closes at shutdown
        "Stream closed",
        "stream reset",
        "EOF",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL:
            return True
        message = record.getMessage()
        return not any(n in message for n in self.NOISE)


# A logger's filters see only its own records, so each noisy module is named.
for _name in (
    "libp2p.host.basic_host",
    "libp2p.stream_muxer.yamux.yamux",
    "libp2p.network.swarm",
    "libp2p.transport.tcp.tcp",
    "libp2p.protocol_muxer.multiselect_client",
):
    logging.getLogger(_name).addFilter(_Quiet())


def agent_of(peer_id: ID) -> AgentId | None:
    """The agent behind a libp2p peer id, or None for a non-Ed25519 peer."""
    try:
        return AgentId(peer_id.to_bytes())
    except CoreError:
        return None


def _peer_id(agent: AgentId) -> ID:
    return ID(agent.to_bytes())


def key_pair_of(key: AgentKey) -> KeyPair:
    """The libp2p key pair of an agent key: the same Ed25519 seed."""
    private = Ed25519PrivateKey.from_bytes(key.seed)
    return KeyPair(private, private.get_public_key())


@contextmanager
def _map_errors(peer: AgentId, name: str) -> Iterator[None]:
    """libp2p's exceptions, as ours (httpcore's map_exceptions)."""
    try:
        yield
    except FrameError as e:
        raise RequestFailed(f"malformed response from {peer}: {e}") from None
    except (StreamReset, MuxedStreamError) as e:
        raise RequestFailed(f"{name} stream reset by {peer}") from e
    except StreamEOF as e:
        raise RequestFailed(f"{peer} closed the {name} stream without answering") from e
    except SwarmException as e:
        raise PeerUnreachable(f"cannot reach {peer}: {e}") from e
    except MuxedConnError as e:
        raise PeerUnreachable(f"connection to {peer} lost: {e}") from e
    except StreamError as e:
        raise RequestFailed(f"{name} stream to {peer} failed: {e}") from e
    except _LIBP2P_ERRORS as e:
        raise RequestFailed(f"{name} request to {peer} failed: {type(e).__name__}: {e}") from e


class _ConnectionWatch(INotifee):
    """Hands connection events to the transport without blocking the swarm."""

    def __init__(self, transport: Libp2pTransport) -> None:
        self._transport = transport

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._transport._on_connected(conn.muxed_conn.peer_id)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._transport._on_disconnected(conn.muxed_conn.peer_id)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass


class Libp2pTransport:
    """One agent's libp2p host, as a `dht.transport.Transport`."""

    def __init__(
        self, host: IHost, dht: KadDHT, network_id: Cid, agent: AgentId, limits: Limits,
        *, streams_per_peer: int = STREAMS_PER_PEER, stream_idle: float = STREAM_IDLE_S,
    ) -> None:
        self._host = host
        self._streams_per_peer = streams_per_peer
        self._stream_idle = stream_idle
        self._dht = dht
        self._network_id = network_id
        self._endpoint = Endpoint(agent, limits)
        self._nursery: trio.Nursery | None = None
        self._closed = False
        self._peers_seen: frozenset[object] = frozenset()
        # streams kept for the next request to a (peer, protocol), with when kept
        self._idle: dict[tuple[AgentId, str], list[tuple[INetStream, float]]] = {}
        self._inbound_streams: dict[AgentId, int] = {}  # open, by peer
        self._peers_version = 0
        self._index_version: object = None
        self._index = ClosestIndex()
        self.bootstrapped = trio.Event()
        """Set once every bootstrap address was connected to or given up on."""
        # Kademlia answers with the routing table, that is with members and their
        # addresses: only to trusted peers
        kad_handler = dht.handle_stream

        async def on_kad_stream(stream: INetStream) -> None:
            agent = agent_of(stream.muxed_conn.peer_id)
            if agent is None or not self._endpoint.accepts(agent) or not self._endpoint.trusts(
                agent
            ):
                self._endpoint.inbound_failed += 1
                await _reset_quietly(stream)
                return
            await kad_handler(stream)

        host.set_stream_handler(KAD_PROTOCOL_ID, on_kad_stream)

    # --- Transport ---------------------------------------------------------------

    @property
    def local_id(self) -> AgentId:
        return self._endpoint.local_id

    def listen_addrs(self) -> list[str]:
        return [str(a) for a in self._host.get_addrs()]

    def set_handler(self, name: str, handler: Handler) -> None:
        check_name(name)
        self._endpoint.set_handler(name, handler)
        pid = TProtocol(protocol_id(self._network_id, name))

        async def on_stream(stream: INetStream) -> None:
            await self._serve(stream, name)

        self._host.set_stream_handler(pid, on_stream)

    def set_peer_filter(self, accept: PeerFilter) -> None:
        self._endpoint.set_peer_filter(accept)
        self._peers_version += 1
        for peer_id in self._host.get_connected_peers():
            agent = agent_of(peer_id)
            if agent is None or not self._endpoint.accepts(agent):
                self._refuse(peer_id)

    def set_trust(self, trusted: PeerFilter) -> None:
        self._endpoint.set_trust(trusted)
        for peer_id in self._host.get_connected_peers():
            self._on_connected(peer_id)  # strangers connected now get their deadline

    async def request(self, peer: AgentId, name: str, payload: bytes, *, timeout: float) -> bytes:
        check_name(name)
        ep = self._endpoint
        try:
            frame = encode_frame(payload, ep.limits.max_message)
        except FrameError as e:
            ep.requests_failed += 1
            raise MessageTooLarge(str(e)) from None
        ep.requests_sent += 1
        try:
            with trio.fail_after(timeout):
                async with ep.outbound_slot(peer):
                    return await self._exchange(peer, name, frame)
        except trio.TooSlowError:
            ep.requests_failed += 1
            raise RequestTimeout(f"{name} request to {peer} timed out after {timeout} s") from None
        except PeerUnreachable:
            ep.requests_failed += 1
            self._dht.routing_table.remove_peer(_peer_id(peer))  # dead peers are not evicted
            raise
        except RequestFailed:
            ep.requests_failed += 1
            raise

    async def send_raw(self, peer: AgentId, name: str, data: bytes, *, timeout: float) -> bytes:
        try:
            with trio.fail_after(timeout):
                stream = await self._open(peer, name)
                with _map_errors(peer, name):
                    try:
                        if data:
                            await stream.write(data)
                        await _half_close(stream)
                        chunks = []
                        while chunk := await _read_or_eof(stream, 1 << 16):
                            chunks.append(chunk)
                        if not chunks:  # Yamux may report a reset as a plain end
                            raise RequestFailed(f"{peer} closed the stream without answering")
                        return b"".join(chunks)
                    finally:
                        await _close_quietly(stream)
        except trio.TooSlowError:
            raise RequestTimeout("raw request timed out") from None

    async def connect(self, address: str) -> AgentId:
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(address))
        except Exception as e:  # multiaddr raises many types on bad input
            raise PeerUnreachable(f"not a multiaddr ending in /p2p/<id>: {address!r}") from e
        agent = agent_of(info.peer_id)
        if agent is None:
            raise PeerUnreachable(f"{info.peer_id} is not an Ed25519 agent")
        if agent == self.local_id:
            raise PeerUnreachable("cannot connect to ourselves")
        if not self._endpoint.accepts(agent):
            raise PeerUnreachable(f"{agent} is refused by our peer filter")
        network = self._host.get_network()
        # A failed dial blocks the peer for 60 s (the swarm's negative cache), even
        # for a retry that the caller asks for explicitly: clear it.
        if hasattr(network, "unblock_peer"):
            network.unblock_peer(info.peer_id)
        try:
            with trio.fail_after(CONNECT_TIMEOUT), _map_errors(agent, "connect"):
                await self._host.connect(info)
        except trio.TooSlowError:
            raise PeerUnreachable(f"connecting to {agent} timed out") from None
        except RequestFailed as e:
            raise PeerUnreachable(str(e)) from e
        await self._remember(info.peer_id)
        return agent

    def connected_peers(self) -> list[AgentId]:
        out = []
        for peer_id in self._host.get_connected_peers():
            agent = agent_of(peer_id)
            if agent is not None and self._endpoint.accepts(agent):
                out.append(agent)
        return out

    async def disconnect(self, peer: AgentId) -> None:
        try:
            await self._host.disconnect(_peer_id(peer))
        except _LIBP2P_ERRORS as e:
            log.debug("disconnecting %s: %s", peer, e)

    def known_peers(self) -> list[AgentId]:
        accepts = self._endpoint.accepts
        return [agent for agent in self._known() if accepts(agent)]

    def _known(self) -> list[AgentId]:
        """The routing table and the connected peers, unfiltered."""
        ids = set(self._dht.routing_table.get_peer_ids())
        ids.update(self._host.get_connected_peers())
        agents = (agent_of(peer_id) for peer_id in ids)
        return [a for a in agents if a is not None and a != self.local_id]

    def peer_changes(self, since: object) -> tuple[object, frozenset[AgentId] | None]:
        # routing tables stay small (k per bucket), so comparing the sets is cheap; which
        # peers changed is not kept: any change means anything may have
        seen = frozenset(self._dht.routing_table.get_peer_ids()) | frozenset(
            self._host.get_connected_peers()
        )
        if seen != self._peers_seen:
            self._peers_seen = seen
            self._peers_version += 1
        version = self._peers_version
        return version, (frozenset() if since == version else None)

    def closest_peers(self, key: bytes, count: int) -> list[AgentId]:
        if count <= 0:
            return []
        # the metric of `sort_peer_ids_by_distance`, in an index kept until the known
        # peers change (sorting them all again cost a node most of a core under load)
        version, _ = self.peer_changes(self._index_version)
        if version != self._index_version:
            self._index_version = version
            self._index = ClosestIndex([*self._known(), self.local_id])
        return self._index.closest(key, count, self._endpoint.accepts)

    def statistics(self) -> TransportStatistics:
        return self._endpoint.statistics(len(self.connected_peers()))

    # --- internals ---------------------------------------------------------------

    async def _open(self, peer: AgentId, name: str) -> INetStream:
        if self._closed:
            raise PeerUnreachable("this transport is closed")
        if peer == self.local_id:
            raise PeerUnreachable("requests to ourselves are not carried by the network")
        if not self._endpoint.accepts(peer):
            raise PeerUnreachable(f"{peer} is refused by our peer filter")
        peer_id = _peer_id(peer)
        pid = TProtocol(protocol_id(self._network_id, name))
        network = self._host.get_network()
        for attempt in (1, 2):
            conns = network.get_connections(peer_id)
            if conns and all(c.is_closed for c in conns):
                # A closed connection left in the swarm's table makes new_stream fail
                # with "No valid connections" instead of dialing again: purge it.
                await self._purge(peer_id)
                conns = []
            try:
                with _map_errors(peer, name):
                    stream = await self._host.new_stream(peer_id, [pid])
            except RequestFailed as e:
                if _not_supported(e):
                    raise NotServed(f"{peer} does not serve {name!r}") from e
                # The handshake broke: a connection that died under us (the peer
                # restarted or refused us). Drop it and dial once more.
                await self._purge(peer_id)
                if attempt == 2 or not conns:
                    raise PeerUnreachable(f"cannot reach {peer}: {e}") from e
                continue
            if not conns:
                await self._remember(peer_id)
            return stream
        raise AssertionError("unreachable")

    async def _purge(self, peer_id: ID) -> None:
        with trio.CancelScope(shield=True):
            try:
                await self._host.get_network().close_peer(peer_id)
            except _LIBP2P_ERRORS as e:
                log.debug("purging connection to %s: %s", peer_id, e)

    async def _exchange(self, peer: AgentId, name: str, frame: bytes) -> bytes:
        """One request and its response, on a stream kept from an earlier request to the
        same peer and protocol when there is one (opening a stream, with its protocol
        negotiation, cost more than the request itself); if that stream turns out to
        have ended before it answered (the peer closed it idle, or restarted), once
        more on a new one."""
        ep = self._endpoint
        key = (peer, name)
        while True:
            stream = self._idle_stream(key)
            reused = stream is not None
            if stream is None:
                stream = await self._open(peer, name)
            try:
                with _map_errors(peer, name):
                    await stream.write(frame)
                    body = await read_frame_or_end(
                        partial(_read_or_eof, stream), ep.frame_limit(peer) + 1,
                        ep.budget_for(peer),
                    )
            except (RequestFailed, PeerUnreachable):
                await _reset_quietly(stream)
                if reused:
                    continue  # it broke before answering: it was stale
                raise
            except BaseException:  # cancelled or timed out mid-exchange: unusable
                await _reset_quietly(stream)
                raise
            if body is None:
                await _close_quietly(stream)
                if reused:
                    continue
                raise RequestFailed(f"{peer} closed the {name} stream without answering")
            ep.bytes_sent += len(frame)
            ep.bytes_received += len(body)
            await self._keep_stream(key, stream)
            return parse_response(body)

    def _idle_stream(self, key: tuple[AgentId, str]) -> INetStream | None:
        """A kept stream for (peer, protocol) not idle for too long, if any."""
        kept = self._idle.get(key)
        now = trio.current_time()
        while kept:
            stream, since = kept.pop()
            if not kept:
                del self._idle[key]
            if now - since < STREAM_KEEP_S:
                return stream
            self._drop_later(stream)
        return None

    async def _keep_stream(self, key: tuple[AgentId, str], stream: INetStream) -> None:
        kept = self._idle.setdefault(key, [])
        if len(kept) < STREAMS_KEPT and not self._closed:
            kept.append((stream, trio.current_time()))
        else:
            await _close_quietly(stream)

    def _drop_later(self, stream: INetStream) -> None:
        if self._nursery is not None and not self._closed:
            self._nursery.start_soon(_close_quietly, stream)

    async def _serve(self, stream: INetStream, name: str) -> None:
        """Answer the requests of one inbound stream, one after another, until the peer
        ends it or leaves it idle; never raises into libp2p."""
        ep = self._endpoint
        agent = agent_of(stream.muxed_conn.peer_id)  # verified by Noise
        if agent is None or not ep.accepts(agent):
            ep.inbound_failed += 1
            await _reset_quietly(stream)
            self._refuse(stream.muxed_conn.peer_id)
            return
        # kept streams are bounded, so are a peer's here: past the bound a request is
        # answered "busy" (a reset while the peer negotiates the protocol would look
        # like a dead connection to it), far past it the stream is reset; a stranger's
        # past its small bound is reset at once
        open_now = self._inbound_streams.get(agent, 0)
        if open_now >= ep.limits.stranger_streams and not ep.trusts(agent):
            ep.inbound_failed += 1
            log.info("reset a %s stream from stranger %s: %d streams open", name, agent,
                     open_now)
            await _reset_quietly(stream)
            return
        if open_now >= 4 * self._streams_per_peer:
            ep.inbound_failed += 1
            log.warning("reset a %s stream from %s: %d streams open", name, agent, open_now)
            await _reset_quietly(stream)
            return
        busy = f"Busy: {open_now} streams open" if open_now >= self._streams_per_peer else None
        self._inbound_streams[agent] = open_now + 1
        try:
            await self._serve_stream(stream, name, agent, busy)
        finally:
            release(self._inbound_streams, agent)

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
                        lambda n: _read_or_eof(stream, n), ep.frame_limit(agent),
                        ep.budget_for(agent),
                    )
                if idle.cancelled_caught and first:
                    raise trio.TooSlowError
                if payload is None or idle.cancelled_caught:
                    break  # the peer is done with it (or left it idle)
                if not first and not ep.accepts(agent):  # refused since (a warrant)
                    ep.inbound_failed += 1
                    await _reset_quietly(stream)
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
            await _close_quietly(stream)
        except (FrameError, trio.TooSlowError) as e:
            ep.inbound_failed += 1
            log.warning("reset a %s stream from %s: %s", name, agent, e or type(e).__name__)
            await _reset_quietly(stream)
        except _LIBP2P_ERRORS as e:
            log.debug("%s stream from %s broke: %s", name, agent, e)
            await _reset_quietly(stream)

    def _on_connected(self, peer_id: ID) -> None:
        if self._nursery is None or self._closed:
            return
        agent = agent_of(peer_id)
        if agent is None or not self._endpoint.accepts(agent):
            self._refuse(peer_id)
            return
        self._nursery.start_soon(self._remember, peer_id)
        if self._endpoint.trust_set and not self._endpoint.trusts(agent):
            self._nursery.start_soon(self._greet_or_go, peer_id, agent)

    async def _greet_or_go(self, peer_id: ID, agent: AgentId) -> None:
        """Close a stranger's connection if it is still not trusted after the deadline
        (one that never greets would otherwise hold its connection and streams)."""
        await trio.sleep(self._endpoint.limits.greet_deadline)
        if self._endpoint.trusts(agent) or not self._host.get_network().get_connections(peer_id):
            return
        log.info("closing the connection of %s: no membrane proof shown in %.0f s", agent,
                 self._endpoint.limits.greet_deadline)
        self._dht.routing_table.remove_peer(peer_id)
        await self._close_peer(peer_id)

    def _on_disconnected(self, peer_id: ID) -> None:
        """Forget the streams kept for a peer whose connection closed (they died with it)."""
        agent = agent_of(peer_id)
        for key in [k for k in self._idle if k[0] == agent]:
            del self._idle[key]

    async def _remember(self, peer_id: ID) -> None:
        """Put a connected peer in the Kademlia routing table."""
        try:
            addrs = self._host.get_peerstore().addrs(peer_id)
        except Exception:  # PeerStoreError (a KeyError) when identify has not run yet
            addrs = []
        try:
            await self._dht.routing_table.add_peer(
                PeerInfo(peer_id, addrs), skip_server_mode_check=True
            )
        except _LIBP2P_ERRORS as e:
            log.debug("routing table refused %s: %s", peer_id, e)

    def _refuse(self, peer_id: ID) -> None:
        """Forget a refused peer and close its connection (in the background)."""
        self._dht.routing_table.remove_peer(peer_id)
        if self._nursery is not None and not self._closed:
            self._nursery.start_soon(self._close_peer, peer_id)

    async def _close_peer(self, peer_id: ID) -> None:
        try:
            await self._host.disconnect(peer_id)
        except _LIBP2P_ERRORS as e:
            log.debug("closing refused peer %s: %s", peer_id, e)

    async def _bootstrap(self, addresses: Sequence[str], attempts: int) -> None:
        async def one(address: str) -> None:
            delay = BOOTSTRAP_FIRST_DELAY
            for attempt in range(1, attempts + 1):
                try:
                    await self.connect(address)
                    return
                except PeerUnreachable as e:
                    if attempt == attempts:
                        log.warning("bootstrap %s failed %d times: %s", address, attempt, e)
                        return
                await trio.sleep(delay)  # backoff before retrying, not synchronisation
                delay *= 2

        async with trio.open_nursery() as nursery:
            for address in addresses:
                nursery.start_soon(one, address)


class _NotListening(Exception):
    """The host started without its listener."""


def _listen_failure(listen: str) -> TransportError:
    """Why the host could not listen on `listen` (libp2p only logs it): a probe bind
    tells an address in use from other causes."""
    try:
        address = multiaddr.Multiaddr(listen)
        port = int(address.value_for_protocol("tcp"))
        family, host = socket.AF_INET, address.value_for_protocol("ip4")
    except Exception:  # not ip4/tcp: no probe, the plain message
        return TransportError(f"cannot listen on {listen}")
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return AddressInUse(f"address in use: {listen} (is another node running?)")
            return TransportError(f"cannot listen on {listen}: {e.strerror or e}")
    return TransportError(f"cannot listen on {listen}")


def _not_supported(error: BaseException) -> bool:
    """Whether a failed stream open means "the peer does not speak that protocol"."""
    cause: BaseException | None = error
    while cause is not None:
        if "not supported" in str(cause):
            return True
        cause = cause.__cause__
    return False


async def _half_close(stream: INetStream) -> None:
    """Close our writing side: the peer reads an end of stream, we can still read."""
    close_write = getattr(stream, "close_write", None)  # NetStream has it, INetStream not
    await (close_write() if close_write is not None else stream.close())


async def _read_or_eof(stream: INetStream, n: int) -> bytes:
    try:
        return await stream.read(n)
    except StreamEOF:
        return b""


async def _close_quietly(stream: INetStream) -> None:
    with trio.CancelScope(shield=True), suppress(*_LIBP2P_ERRORS):
        await stream.close()


async def _reset_quietly(stream: INetStream) -> None:
    with trio.CancelScope(shield=True), suppress(*_LIBP2P_ERRORS):
        await stream.reset()


@asynccontextmanager
async def open_libp2p_transport(
    key: AgentKey,
    network_id: Cid,
    listen: str = "/ip4/127.0.0.1/tcp/0",
    bootstrap: Sequence[str] = (),
    *,
    limits: Limits | None = None,
    bootstrap_attempts: int = BOOTSTRAP_ATTEMPTS,
    streams_per_peer: int = STREAMS_PER_PEER,
    stream_idle: float = STREAM_IDLE_S,
) -> AsyncIterator[Libp2pTransport]:
    """Run a libp2p host for `key` on `network_id` until the block exits.

    Bootstrap connections are made in the background, `bootstrap_attempts` tries
    each with doubling delays from 0.25 s; the transport's `bootstrapped` event is
    set when all succeeded or were given up. A peer may have `streams_per_peer`
    inbound streams open (more are answered "busy"); one idle `stream_idle` seconds is
    ended by the serving side."""
    key_pair = key_pair_of(key)
    host = new_host(
        key_pair=key_pair,
        # Noise only: the default also offers TLS, SECIO and *plaintext*.
        sec_opt={
            NOISE_PROTOCOL_ID: NoiseTransport(
                key_pair, noise_privkey=create_new_x25519_key_pair().private_key
            )
        },
        muxer_opt=create_yamux_muxer_option(),
        listen_addrs=[multiaddr.Multiaddr(listen)],
        enable_mDNS=False,
        enable_quic=False,
        enable_upnp=False,
        # One connection per peer: without it a connect waits ~250 ms (happy eyeballs).
        # No auto-connector floor: the node decides whom to dial (see below).
        connection_config=ConnectionConfig(
            max_connections_per_peer=1, min_connections=0, low_watermark=0
        ),
    )
    if host.get_id().to_bytes() != key.agent_id.to_bytes():
        raise AssertionError("libp2p derived a peer id other than the agent id")
    dht = KadDHT(host, DHTMode.SERVER, enable_random_walk=False)
    transport = Libp2pTransport(host, dht, network_id, key.agent_id, limits or Limits(),
                                streams_per_peer=streams_per_peer, stream_idle=stream_idle)
    failure: TransportError | None = None
    try:
        async with host.run([multiaddr.Multiaddr(listen)]):
            if not host.get_addrs():  # libp2p logs a failed listen and runs on without it
                raise _NotListening
            network = host.get_network()
            # The swarm's auto-connector dials every peer in the peerstore while below
            # its watermarks, refused and disconnected peers included: stop it.
            auto_connector = getattr(network, "auto_connector", None)
            if auto_connector is not None:
                await auto_connector.stop()
            network.register_notifee(_ConnectionWatch(transport))
            async with background_trio_service(dht), trio.open_nursery() as nursery:
                transport._nursery = nursery

                async def bootstrap_then_signal() -> None:
                    await transport._bootstrap(bootstrap, bootstrap_attempts)
                    transport.bootstrapped.set()

                nursery.start_soon(bootstrap_then_signal)
                try:
                    yield transport
                finally:
                    transport._closed = True
                    nursery.cancel_scope.cancel()
    except* _NotListening:  # (raised in host.run's nursery: it comes in a group)
        failure = _listen_failure(listen)
    finally:
        # Leaving host.run() leaves the listener open and two tasks behind.
        with trio.CancelScope(shield=True):
            await host.close()
    if failure is not None:
        raise failure


def multiaddr_problem(text: str, *, peer: bool) -> str | None:
    """What is wrong with `text` as an address to listen on (`peer` False:
    /ip4|ip6/ADDRESS/tcp/PORT) or a member's address to dial (`peer` True: ending in
    /p2p/<agent id>); None when it is fine. Checked before a node starts."""
    try:
        names = [p.name for p in multiaddr.Multiaddr(text).protocols()]
    except Exception:  # multiaddr raises many types on bad input
        return f"{text!r} is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001)"
    if peer and ("tcp" not in names or names[-1] != "p2p"):
        return f"{text!r}: a member's address is /ip4/ADDRESS/tcp/PORT/p2p/AGENT_ID"
    if not peer and (len(names) != 2 or names[0] not in ("ip4", "ip6") or names[1] != "tcp"):
        return f"{text!r}: listen on /ip4/ADDRESS/tcp/PORT or /ip6/ADDRESS/tcp/PORT"
    return None
