"""What both backends share: handlers, limits, counters and the peer filter.

A backend moves frames; an `Endpoint` decides what to do with them. `answer` runs a
handler for one inbound request under the inbound limits and turns every outcome
into a response frame, so a handler's exception is an error frame for the requester
and one log line here, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from dht.transport import (
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


class Endpoint:
    """Handlers, limits, counters and the peer filter of one transport."""

    def __init__(self, local_id: AgentId, limits: Limits) -> None:
        self.local_id = local_id
        self.limits = limits
        self.handlers: dict[str, Handler] = {}
        self._accept: PeerFilter = _accept_all
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
