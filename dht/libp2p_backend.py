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

The backend's rooms: `dht.libp2p_host` builds the host (identity, listening, logging),
`dht.libp2p_outbound` makes requests on kept streams, `dht.libp2p_inbound` serves
streams and admits peers, `dht.libp2p_streams` holds the stream helpers and
`map_errors`; this module is the transport itself (dialing, peers, the routing table)
and `open_libp2p_transport`, and names what the rest of coledger imports.

Importing this module imports libp2p (about a second): import it lazily, inside the
code that runs the network. libp2p's exceptions stop in `dht/` (`map_errors`).
Traps handled are listed in LIBP2P-NOTES.md; those met while writing this are noted
where they are handled.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.kad_dht.common import PROTOCOL_ID as KAD_PROTOCOL_ID
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.tools.anyio_service import background_trio_service

from dht.authority import ClosestIndex
from dht.endpoint import Endpoint
from dht.libp2p_host import (
    ConnectionWatch,
    NotListening,
    agent_of,
    key_pair_of,
    listen_failure,
    multiaddr_problem,
    new_libp2p_host,
    peer_id_of,
    show_libp2p_logs,
)
from dht.libp2p_inbound import BUSY_READ_S, STREAM_IDLE_S, STREAMS_PER_PEER, InboundStreams
from dht.libp2p_outbound import STREAM_KEEP_S, STREAMS_KEPT, OutboundStreams
from dht.libp2p_streams import LIBP2P_ERRORS, map_errors, not_supported
from dht.transport import (
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
    protocol_id,
)
from node.core.cid import Cid
from node.core.identity import AgentId, AgentKey

__all__ = [
    "BOOTSTRAP_ATTEMPTS", "BUSY_READ_S", "CONNECT_TIMEOUT", "STREAMS_KEPT", "STREAMS_PER_PEER",
    "STREAM_IDLE_S", "STREAM_KEEP_S", "Libp2pTransport", "agent_of", "key_pair_of",
    "multiaddr_problem", "open_libp2p_transport", "show_libp2p_logs",
]

log = logging.getLogger("coledger.dht")

BOOTSTRAP_ATTEMPTS = 5
BOOTSTRAP_FIRST_DELAY = 0.25  # seconds, doubled after each failed attempt
CONNECT_TIMEOUT = 10.0


class Libp2pTransport:
    """One agent's libp2p host, as a `dht.transport.Transport`."""

    def __init__(
        self, host: IHost, dht: KadDHT, network_id: Cid, agent: AgentId, limits: Limits,
        *, streams_per_peer: int = STREAMS_PER_PEER, stream_idle: float = STREAM_IDLE_S,
    ) -> None:
        self._host = host
        self._dht = dht
        self._network_id = network_id
        self._endpoint = Endpoint(agent, limits)
        self._nursery: trio.Nursery | None = None
        self._closed = False
        self._peers_seen: frozenset[object] = frozenset()
        self._peers_version = 0
        self._index_version: object = None
        self._index = ClosestIndex()
        self.bootstrapped = trio.Event()
        """Set once every bootstrap address was connected to or given up on."""
        self._outbound = OutboundStreams(self._endpoint, self._open)
        self._inbound = InboundStreams(self._endpoint, self._refuse,
                                       streams_per_peer=streams_per_peer, stream_idle=stream_idle)
        kad_handler = dht.handle_stream

        async def on_kad_stream(stream: INetStream) -> None:
            await self._inbound.serve_kad(stream, kad_handler)

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
            await self._inbound.serve(stream, name)

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
                    return await self._outbound.exchange(peer, name, frame)
        except trio.TooSlowError:
            ep.requests_failed += 1
            raise RequestTimeout(f"{name} request to {peer} timed out after {timeout} s") from None
        except PeerUnreachable:
            ep.requests_failed += 1
            self._dht.routing_table.remove_peer(peer_id_of(peer))  # dead peers are not evicted
            raise
        except RequestFailed:
            ep.requests_failed += 1
            raise

    async def send_raw(self, peer: AgentId, name: str, data: bytes, *, timeout: float) -> bytes:
        try:
            with trio.fail_after(timeout):
                return await self._outbound.raw(peer, name, data)
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
            with trio.fail_after(CONNECT_TIMEOUT), map_errors(agent, "connect"):
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
            await self._host.disconnect(peer_id_of(peer))
        except LIBP2P_ERRORS as e:
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
        peer_id = peer_id_of(peer)
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
                with map_errors(peer, name):
                    stream = await self._host.new_stream(peer_id, [pid])
            except RequestFailed as e:
                if not_supported(e):
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
            except LIBP2P_ERRORS as e:
                log.debug("purging connection to %s: %s", peer_id, e)

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
        if agent is not None:
            self._outbound.forget(agent)

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
        except LIBP2P_ERRORS as e:
            log.debug("routing table refused %s: %s", peer_id, e)

    def _refuse(self, peer_id: ID) -> None:
        """Forget a refused peer and close its connection (in the background)."""
        self._dht.routing_table.remove_peer(peer_id)
        if self._nursery is not None and not self._closed:
            self._nursery.start_soon(self._close_peer, peer_id)

    async def _close_peer(self, peer_id: ID) -> None:
        try:
            await self._host.disconnect(peer_id)
        except LIBP2P_ERRORS as e:
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
    host = new_libp2p_host(key, listen)
    dht = KadDHT(host, DHTMode.SERVER, enable_random_walk=False)
    transport = Libp2pTransport(host, dht, network_id, key.agent_id, limits or Limits(),
                                streams_per_peer=streams_per_peer, stream_idle=stream_idle)
    failure: TransportError | None = None
    try:
        async with host.run([multiaddr.Multiaddr(listen)]):
            if not host.get_addrs():  # libp2p logs a failed listen and runs on without it
                raise NotListening
            network = host.get_network()
            # The swarm's auto-connector dials every peer in the peerstore while below
            # its watermarks, refused and disconnected peers included: stop it.
            auto_connector = getattr(network, "auto_connector", None)
            if auto_connector is not None:
                await auto_connector.stop()
            network.register_notifee(
                ConnectionWatch(transport._on_connected, transport._on_disconnected)
            )
            async with background_trio_service(dht), trio.open_nursery() as nursery:
                transport._nursery = transport._outbound.nursery = nursery

                async def bootstrap_then_signal() -> None:
                    await transport._bootstrap(bootstrap, bootstrap_attempts)
                    transport.bootstrapped.set()

                nursery.start_soon(bootstrap_then_signal)
                try:
                    yield transport
                finally:
                    transport._closed = True
                    transport._outbound.nursery = None
                    nursery.cancel_scope.cancel()
    except* NotListening:  # (raised in host.run's nursery: it comes in a group)
        failure = listen_failure(listen)
    finally:
        # Leaving host.run() leaves the listener open and two tasks behind.
        with trio.CancelScope(shield=True):
            await host.close()
    if failure is not None:
        raise failure
