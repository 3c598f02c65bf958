"""What both backends share: handlers, limits, counters, the peer filter and trust.

A backend moves frames; an `Endpoint` decides what to do with them. `answer` runs a
handler for one inbound request under the inbound limits and turns every outcome
into a response frame, so a handler's exception is an error frame for the requester
and one log line here, never a crash. Peers not trusted (`set_trust`: no membrane
proof shown yet) get the stranger limits: `frame_limit` and `budget_for`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from dht.transport import (
    FrameError,
    Handler,
    Limits,
    PeerFilter,
    RequestFailed,
    TransportStatistics,
    check_name,
    encode_response,
    error_text,
)
from node.core.identity import AgentId

log = logging.getLogger("coledger.dht")


class Busy(Exception):
    """An inbound request over the per-peer limit: the backend resets its stream."""


class ByteBudget:
    """A count of bytes shared by frame readers: `take` waits its turn (first come,
    first served, so a big frame is not starved by small ones), `try_take` does not."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.held = 0
        self.peak = 0
        self._turn = trio.Lock()  # fair: waiters are served in order
        self._freed = trio.Event()

    def try_take(self, n: int) -> bool:
        if self._turn.locked() or self.held + n > self.total:
            return False
        self._hold(n)
        return True

    async def take(self, n: int) -> None:
        if n > self.total:
            raise FrameError(f"a frame of {n} bytes exceeds the budget of {self.total}")
        async with self._turn:
            while self.held + n > self.total:
                if self._freed.is_set():
                    self._freed = trio.Event()
                await self._freed.wait()
            self._hold(n)

    def give(self, n: int) -> None:
        self.held -= n
        self._freed.set()

    def _hold(self, n: int) -> None:
        self.held += n
        self.peak = max(self.peak, self.held)


class _MemberBudget:
    """A trusted peer's frame waits for its share of the whole budget."""

    def __init__(self, total: ByteBudget) -> None:
        self._total = total

    async def acquire(self, n: int) -> None:
        await self._total.take(n)

    def release(self, n: int) -> None:
        self._total.give(n)


class _StrangerBudget:
    """A stranger's frame has its share of the strangers' part at once, or is refused."""

    def __init__(self, total: ByteBudget, strangers: ByteBudget) -> None:
        self._total = total
        self._strangers = strangers

    async def acquire(self, n: int) -> None:
        if not self._strangers.try_take(n):
            raise FrameError("no room for a stranger's frame now")
        if not self._total.try_take(n):
            self._strangers.give(n)
            raise FrameError("no room for a stranger's frame now")

    def release(self, n: int) -> None:
        self._strangers.give(n)
        self._total.give(n)


class Endpoint:
    """Handlers, limits, counters, the peer filter and trust of one transport."""

    def __init__(self, local_id: AgentId, limits: Limits) -> None:
        self.local_id = local_id
        self.limits = limits
        self.handlers: dict[str, Handler] = {}
        self._accept: PeerFilter = _accept_all
        self._trust: PeerFilter = _accept_all
        self.trust_set = False
        """Whether `set_trust` was called: until then every peer is trusted."""
        self.frames = ByteBudget(limits.frame_budget)
        self._members_budget = _MemberBudget(self.frames)
        self._strangers_budget = _StrangerBudget(self.frames, ByteBudget(limits.stranger_budget))
        self._inbound = trio.Semaphore(limits.inbound_total)
        self._inbound_per_peer: dict[AgentId, int] = {}
        self._outbound: dict[AgentId, tuple[trio.Semaphore, list[int]]] = {}
        self.requests_sent = 0
        self.requests_received = 0
        self.requests_failed = 0
        self.inbound_failed = 0
        self.bytes_sent = 0
        self.bytes_received = 0

    def set_handler(self, name: str, handler: Handler) -> None:
        check_name(name)
        self.handlers[name] = handler

    def set_peer_filter(self, accept: PeerFilter) -> None:
        self._accept = accept

    def set_trust(self, trusted: PeerFilter) -> None:
        self._trust = trusted
        self.trust_set = True

    def trusts(self, peer: AgentId) -> bool:
        """Whether `peer` has shown a membrane proof (gets the member limits); a trust
        check that raises does not trust."""
        if peer == self.local_id:
            return True
        try:
            return bool(self._trust(peer))
        except Exception:
            log.exception("trust check raised for %s; holding it as a stranger", peer)
            return False

    def frame_limit(self, peer: AgentId) -> int:
        """The largest frame `peer` may send us now."""
        if self.trusts(peer):
            return self.limits.max_message
        return min(self.limits.max_message, self.limits.stranger_max_message)

    def budget_for(self, peer: AgentId) -> _MemberBudget | _StrangerBudget:
        """Where the bytes of `peer`'s next frame body come from."""
        return self._members_budget if self.trusts(peer) else self._strangers_budget

    def accepts(self, peer: AgentId) -> bool:
        """Whether `peer` may talk to us; a filter that raises refuses."""
        if peer == self.local_id:
            return True
        try:
            return bool(self._accept(peer))
        except Exception:
            log.exception("peer filter raised for %s; refusing it", peer)
            return False

    @asynccontextmanager
    async def outbound_slot(self, peer: AgentId) -> AsyncIterator[None]:
        """Hold one of the per-peer outbound request slots."""
        entry = self._outbound.get(peer)
        if entry is None:
            entry = self._outbound[peer] = (trio.Semaphore(self.limits.outbound_per_peer), [0])
        sem, users = entry
        users[0] += 1
        try:
            async with sem:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._outbound[peer]

    @asynccontextmanager
    async def inbound_slot(self, peer: AgentId) -> AsyncIterator[None]:
        """Hold an inbound slot; Busy if `peer` already has too many requests served."""
        held = self._inbound_per_peer.get(peer, 0)
        if held >= self.limits.inbound_per_peer:
            self.inbound_failed += 1
            raise Busy(f"{peer} has {held} requests in progress")
        self._inbound_per_peer[peer] = held + 1
        try:
            async with self._inbound:
                yield
        finally:
            release(self._inbound_per_peer, peer)

    async def answer(self, peer: AgentId, name: str, payload: bytes) -> bytes:
        """Run the handler for one request (slot already held); return a response frame."""
        self.requests_received += 1
        self.bytes_received += len(payload)
        handler = self.handlers.get(name)
        if handler is None:
            self.inbound_failed += 1
            return encode_response(False, f"no handler for protocol {name!r}".encode())
        try:
            with trio.fail_after(self.limits.handler_timeout):
                body = await handler(peer, payload)
            if not isinstance(body, bytes | bytearray):
                raise TypeError(f"handler returned {type(body).__name__}, not bytes")
            if len(body) > self.limits.max_message:
                raise RequestFailed(f"response of {len(body)} bytes exceeds the limit")
        except Exception as e:  # a handler's bug must not take the node down
            self.inbound_failed += 1
            log.warning("%s request from %s failed: %s", name, peer, error_text(e).decode())
            return encode_response(False, error_text(e))
        frame = encode_response(True, bytes(body), self.limits.max_message)
        self.bytes_sent += len(frame)
        return frame

    def statistics(self, connected: int) -> TransportStatistics:
        return TransportStatistics(
            requests_sent=self.requests_sent,
            requests_received=self.requests_received,
            requests_failed=self.requests_failed,
            inbound_failed=self.inbound_failed,
            bytes_sent=self.bytes_sent,
            bytes_received=self.bytes_received,
            connected_peers=connected,
            frame_bytes_held=self.frames.held,
            frame_bytes_peak=self.frames.peak,
        )


def release(counts: dict[AgentId, int], peer: AgentId) -> None:
    """One less for `peer` in a per-peer count (none left: forgotten)."""
    left = counts[peer] - 1
    if left:
        counts[peer] = left
    else:
        del counts[peer]


def _accept_all(peer: AgentId) -> bool:
    return True
