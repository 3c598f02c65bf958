"""An in-memory network: many transports in one trio process, for tests and simulations.

Each transport owns one nursery in which its inbound requests run (no background
tasks while idle), so 1,000 of them fit in one process. Frames are built and parsed
by the same code as on a real stream, with the same limits, so a garbage or oversize
frame is refused exactly as the libp2p backend refuses it, a stranger's (`set_trust`)
past the stranger frame limit included. Frames arrive whole here, so the stream bound,
greeting deadline and frame budget of the libp2p backend have nothing to bound.

Idealised where the real network is not: every live, reachable peer is in every
routing table (Kademlia with perfect knowledge), and a request dials on demand.
Test controls: `partition(groups)`, `heal()`, `kill(agent_id)`, and a simulated
one-way `latency` (seconds, or a function of (sender, receiver)).

Every join, death, partition or heal starts a new epoch, logged with the agent that
came or went (or None: reachability regrouped), so that a transport can say which
peers changed since a version (`peer_changes`) and callers keep what the rest did
not touch.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

import trio

from dht.authority import ClosestIndex
from dht.endpoint import Busy, Endpoint
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
    TransportStatistics,
    check_name,
    encode_frame,
    parse_frame,
    parse_response,
    peer_in,
)
from node.core.cid import Cid
from node.core.identity import AgentId, AgentKey

log = logging.getLogger("coledger.dht")
_serial = itertools.count(1)

Latency = float | Callable[[AgentId, AgentId], float]


class _Call:
    """One request in flight: the responder fills it, the requester waits for it."""

    __slots__ = ("done", "response", "error")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.response: bytes | None = None
        self.error: Exception | None = None

    def finish(self, response: bytes | None = None, error: Exception | None = None) -> None:
        if not self.done.is_set():
            self.response, self.error = response, error
            self.done.set()


class MemoryNetwork:
    """The shared medium of a set of memory transports."""

    def __init__(
        self,
        network_id: Cid | None = None,
        *,
        latency: Latency = 0.0,
        limits: Limits | None = None,
    ) -> None:
        self.network_id = network_id
        self.latency = latency
        self.limits = limits or Limits()
        self._tag = next(_serial)
        self._live: dict[AgentId, MemoryTransport] = {}
        self._index = ClosestIndex()
        self._group: dict[AgentId, int] = {}
        self._log: list[AgentId | None] = []  # per epoch: who came or went; None: regrouped
        self._members_of: dict[int, tuple[AgentId, ...]] = {}  # group -> its live agents

    @asynccontextmanager
    async def open_transport(self, key: AgentKey) -> AsyncIterator[MemoryTransport]:
        """A transport for `key`'s agent, live until the block exits (or `kill`)."""
        agent = key.agent_id
        if agent in self._live:
            raise ValueError(f"{agent} already has a transport on this network")
        async with trio.open_nursery() as nursery:
            transport = MemoryTransport(self, agent, nursery)
            self._live[agent] = transport
            self._index.add(agent)
            self._changed(agent)
            try:
                yield transport
            finally:
                self._remove(transport)
                nursery.cancel_scope.cancel()

    def partition(self, groups: Iterable[Iterable[AgentId]]) -> None:
        """Cut the network: peers in different groups cannot reach each other;
        peers in no group form one more group together."""
        self._group = {a: i for i, group in enumerate(groups, 1) for a in group}
        self._changed(None)

    def heal(self) -> None:
        self._group = {}
        self._changed(None)

    def kill(self, agent: AgentId) -> None:
        """The agent's process dies: its in-flight work is cancelled, it answers no more."""
        transport = self._live.get(agent)
        if transport is not None:
            self._remove(transport)

    def live_peers(self) -> list[AgentId]:
        return list(self._live)

    def reachable_from(self, agent: AgentId) -> tuple[AgentId, ...]:
        """The live agents in `agent`'s group (itself included), computed once an epoch."""
        group = self._group.get(agent, 0)
        members = self._members_of.get(group)
        if members is None:
            members = self._members_of[group] = tuple(
                a for a in self._live if self._group.get(a, 0) == group
            )
        return members

    @property
    def epoch(self) -> int:
        """Changes whenever who can reach whom may have changed."""
        return len(self._log)

    def changes_since(self, epoch: int) -> frozenset[AgentId] | None:
        """The agents that came or went since `epoch`; None if reachability was regrouped."""
        changed = self._log[epoch:]
        if any(agent is None for agent in changed):
            return None
        return frozenset(a for a in changed if a is not None)

    def _changed(self, agent: AgentId | None) -> None:
        self._log.append(agent)
        self._members_of.clear()

    def reachable(self, a: AgentId, b: AgentId) -> bool:
        return a in self._live and b in self._live and self._group.get(a, 0) == self._group.get(
            b, 0
        )

    def _remove(self, transport: MemoryTransport) -> None:
        if self._live.get(transport.local_id) is transport:
            del self._live[transport.local_id]
            self._index.remove(transport.local_id)
            self._changed(transport.local_id)
        transport._die()

    def _delay(self, src: AgentId, dst: AgentId) -> float:
        return self.latency(src, dst) if callable(self.latency) else self.latency

    def _target(self, src: MemoryTransport, dst: AgentId) -> MemoryTransport:
        """The live transport of `dst` if `src` may reach it now; PeerUnreachable if not."""
        if src._dead:
            raise PeerUnreachable("this transport is closed")
        target = self._live.get(dst)
        if target is None or dst == src.local_id or not self.reachable(src.local_id, dst):
            raise PeerUnreachable(f"{dst} is unreachable")
        if not src._endpoint.accepts(dst):
            raise PeerUnreachable(f"{dst} is refused by our peer filter")
        if not target._endpoint.accepts(src.local_id):
            src._connected.discard(dst)
            target._connected.discard(src.local_id)
            raise PeerUnreachable(f"{dst} refused the connection")
        src._connected.add(dst)
        target._connected.add(src.local_id)
        return target

    async def _exchange(self, src: MemoryTransport, dst: AgentId, name: str, raw: bytes) -> bytes:
        """Carry `raw` request bytes to `dst` and return its raw response frame."""
        target = self._target(src, dst)
        delay = self._delay(src.local_id, dst)
        if delay > 0:
            await trio.sleep(delay)
            target = self._target(src, dst)
        if name not in target._endpoint.handlers:  # (libp2p: the protocol negotiation fails)
            raise NotServed(f"{dst} does not serve {name!r}")
        call = _Call()
        src._pending.add(call)
        try:
            target._nursery.start_soon(target._serve, src.local_id, name, raw, call)
            await call.done.wait()
        finally:
            src._pending.discard(call)
        if call.error is not None:
            raise call.error
        assert call.response is not None
        if delay > 0:
            await trio.sleep(self._delay(dst, src.local_id))
        return call.response


class MemoryTransport:
    """One agent's endpoint on a `MemoryNetwork` (implements `dht.transport.Transport`)."""

    def __init__(self, network: MemoryNetwork, agent: AgentId, nursery: trio.Nursery) -> None:
        self._network = network
        self._endpoint = Endpoint(agent, network.limits)
        self._nursery = nursery
        self._connected: set[AgentId] = set()
        self._pruned_at = -1  # the network epoch at which _connected was last pruned
        self._filter_serial = 0
        self._pending: set[_Call] = set()
        self._dead = False

    @property
    def local_id(self) -> AgentId:
        return self._endpoint.local_id

    def listen_addrs(self) -> list[str]:
        return [f"/memory/{self._network._tag}/p2p/{self.local_id}"]

    def set_handler(self, name: str, handler: Handler) -> None:
        self._endpoint.set_handler(name, handler)

    def set_trust(self, trusted: PeerFilter) -> None:
        self._endpoint.set_trust(trusted)

    def set_peer_filter(self, accept: PeerFilter) -> None:
        self._endpoint.set_peer_filter(accept)
        self._filter_serial += 1
        for peer in [p for p in self._connected if not self._endpoint.accepts(p)]:
            self._drop(peer)

    async def request(self, peer: AgentId, name: str, payload: bytes, *, timeout: float) -> bytes:
        check_name(name)
        ep = self._endpoint
        try:
            frame = encode_frame(payload, ep.limits.max_message)
        except FrameError as e:
            ep.requests_failed += 1
            raise MessageTooLarge(str(e)) from None
        ep.requests_sent += 1
        ep.bytes_sent += len(frame)
        try:
            with trio.fail_after(timeout):
                async with ep.outbound_slot(peer):
                    raw = await self._network._exchange(self, peer, name, frame)
            ep.bytes_received += len(raw)
            try:
                body = parse_frame(raw, ep.frame_limit(peer) + 1)
            except FrameError as e:
                raise RequestFailed(f"malformed response: {e}") from None
            return parse_response(body)
        except trio.TooSlowError:
            ep.requests_failed += 1
            raise RequestTimeout(f"{name} request to {peer} timed out after {timeout} s") from None
        except (PeerUnreachable, RequestFailed):
            ep.requests_failed += 1
            raise

    async def send_raw(self, peer: AgentId, name: str, data: bytes, *, timeout: float) -> bytes:
        try:
            with trio.fail_after(timeout):
                return await self._network._exchange(self, peer, name, bytes(data))
        except trio.TooSlowError:
            raise RequestTimeout("raw request timed out") from None

    async def connect(self, multiaddr: str) -> AgentId:
        peer = peer_in(multiaddr)
        self._network._target(self, peer)
        return peer

    def connected_peers(self) -> list[AgentId]:
        net = self._network
        if self._pruned_at != net.epoch:  # a connection is only made to a reachable peer
            self._pruned_at = net.epoch
            for peer in [p for p in self._connected if not net.reachable(self.local_id, p)]:
                self._drop(peer)
        return list(self._connected)

    def peer_changes(self, since: object) -> tuple[object, frozenset[AgentId] | None]:
        # connected peers are always among the known ones here, so the network's log
        # and our filter say everything that changes what we answer
        net = self._network
        version = (net.epoch, self._filter_serial)
        if since == version:
            return version, frozenset()
        if not isinstance(since, tuple) or since[1] != self._filter_serial or since[0] > net.epoch:
            return version, None
        return version, net.changes_since(since[0])

    async def disconnect(self, peer: AgentId) -> None:
        self._drop(peer)

    def known_peers(self) -> list[AgentId]:
        net, me = self._network, self.local_id
        if self._dead:
            return []
        accepts = self._endpoint.accepts
        return [p for p in net.reachable_from(me) if p != me and accepts(p)]

    def closest_peers(self, key: bytes, count: int) -> list[AgentId]:
        net, me, ep = self._network, self.local_id, self._endpoint
        if self._dead:
            return [me][:count]
        if not net._group:  # every peer in the index is live and reachable
            return net._index.closest(key, count, ep.accepts)
        return net._index.closest(
            key, count, lambda p: p == me or (net.reachable(me, p) and ep.accepts(p))
        )

    def statistics(self) -> TransportStatistics:
        return self._endpoint.statistics(len(self.connected_peers()))

    def _drop(self, peer: AgentId) -> None:
        self._connected.discard(peer)
        other = self._network._live.get(peer)
        if other is not None:
            other._connected.discard(self.local_id)

    def _die(self) -> None:
        if self._dead:
            return
        self._dead = True
        for peer in list(self._connected):
            self._drop(peer)
        self._nursery.cancel_scope.cancel()
        for call in list(self._pending):
            call.finish(error=PeerUnreachable("this transport was closed"))

    async def _serve(self, peer: AgentId, name: str, raw: bytes, call: _Call) -> None:
        """Answer one inbound request in this transport's nursery."""
        ep = self._endpoint
        try:
            try:
                payload = parse_frame(raw, ep.frame_limit(peer))
            except FrameError as e:
                ep.inbound_failed += 1
                log.warning("reset a %s stream from %s: %s", name, peer, e)
                call.finish(error=RequestFailed("stream reset by peer"))
                return
            if name not in ep.handlers:
                ep.inbound_failed += 1
                unknown = f"protocol {name!r} not supported by {self.local_id}"
                call.finish(error=RequestFailed(unknown))
                return
            try:
                async with ep.inbound_slot(peer):
                    call.finish(await ep.answer(peer, name, payload))
            except Busy as e:
                log.warning("reset a %s stream: %s", name, e)
                call.finish(error=RequestFailed("stream reset by peer (busy)"))
        finally:
            call.finish(error=PeerUnreachable(f"{self.local_id} went away during the request"))
