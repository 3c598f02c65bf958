"""The gossip workflow: reconcile the ops we and a fellow authority both should hold
(fingerprints per time bucket, then the differing addresses; each side fetches or pushes
what the other lacks), and hand off the ops we are no longer an authority for. Also the
"gossip" and "fetch" handlers that answer another node's round.

Queue: none of its own. A round reads the running sums of the ops held
(node/runtime/held.py over node/store/shared.py); hand-off takes the held ops marked
to hand off there, once each.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from dht import wire
from dht.gossip import (
    Bucket,
    Fingerprint,
    addresses_in,
    differing_buckets,
    fingerprints,
    missing,
    shared_scope,
)
from dht.transport import Transport, TransportError
from node.core.cid import Cid
from node.core.identity import AgentId
from node.core.ops import Op
from node.runtime.held import SharedOps
from node.runtime.membership import Membership
from node.runtime.publish import BATCH
from node.runtime.receive import Receive, decode_ops
from node.store.dht import DhtStore

log = logging.getLogger("coledger.node")

SendOps = Callable[[AgentId, Sequence[Op]], Awaitable[None]]


class GossipStats(Protocol):
    """The counters gossip adds to (node.runtime.node.NodeStats)."""

    gossip_rounds: int
    last_sync_us: int
    fetched_by_gossip: int
    pushed_by_gossip: int


class Gossip:
    """Gossip rounds and hand-off, with the peers `membership` counts."""

    def __init__(self, dht: DhtStore, shared: SharedOps, transport: Transport,
                 clock: Callable[[], int], *, membership: Membership, receive: Receive,
                 send_ops: SendOps, stats: GossipStats, request_timeout: float) -> None:
        self.me = membership.me
        self.dht = dht
        self.shared = shared
        self.transport = transport
        self.clock = clock
        self.membership = membership
        self.redundancy = membership.redundancy
        self.receive = receive  # takes and validates the ops fetched
        self.send_ops = send_ops
        self.stats = stats
        self.request_timeout = request_timeout

    def _shared_with(self, peer: AgentId, redundancy: int, now_us: int) -> tuple[
            dict[Bucket, Fingerprint], Callable[[Iterable[Bucket]], list[Cid]]]:
        """Our fingerprints of the ops both we and `peer` are authorities for, by our own
        view of the population, and a way to list their addresses in some buckets. From
        the running sums (node/runtime/held.py) unless `peer` is not one we count or the
        request counts another redundancy (then from the store, O(ops held))."""
        population = self.membership.counted()
        if population.counts(peer) and redundancy == self.redundancy:
            shared = self.shared
            shared.refresh(population, len(self.membership.blocked), self.clock())
            return (shared.fingerprints(peer, now_us),
                    lambda buckets: sorted({a for a, _ in shared.ops_in(peer, buckets, now_us)}))
        held = self.dht.held_ops(shared_scope(self.me, peer, population.peers(), redundancy))
        return fingerprints(held, now_us), lambda buckets: addresses_in(held, buckets, now_us)

    async def gossip_with(self, peer: AgentId) -> int:
        """One reconciliation round with `peer`; returns how many ops we fetched."""
        now = self.clock()
        mine_fps, addresses = self._shared_with(peer, self.redundancy, now)
        request = wire.GossipRequest(now, self.redundancy, tuple(mine_fps.items()))
        data = await self.transport.request(
            peer, "gossip", wire.encode_message(request), timeout=self.request_timeout
        )
        response = wire.decode_message(wire.GossipResponse, data)
        self.stats.gossip_rounds += 1
        self.stats.last_sync_us = self.clock()
        if not response.differing:
            return 0
        mine = addresses(response.differing)
        want = missing(mine, response.addresses)
        fetched = 0
        wanted = set(want)
        for i in range(0, len(want), BATCH):
            fetch = wire.FetchRequest(tuple(want[i:i + BATCH]))
            answer = await self.transport.request(
                peer, "fetch", wire.encode_message(fetch), timeout=self.request_timeout
            )
            ops = decode_ops(wire.decode_message(wire.FetchResponse, answer).ops)
            ops = [op for op in ops if op.address in wanted]
            fetched += len(self.receive.take_ops(ops))
        theirs_missing = missing(response.addresses, mine)
        if theirs_missing:
            ops = [op for op in (self.dht.get_op(a) for a in theirs_missing) if op is not None]
            await self.send_ops(peer, ops)
            self.stats.pushed_by_gossip += len(ops)
        self.stats.fetched_by_gossip += fetched
        if fetched:
            self.receive.validate_now()
        return fetched

    async def on_gossip(self, peer: AgentId, data: bytes) -> bytes:
        """The "gossip" handler: the buckets whose fingerprints differ from the peer's,
        with our addresses in them."""
        self.membership.check_member(peer)
        request = wire.decode_message(wire.GossipRequest, data)
        if request.fingerprints:
            mine, addresses = self._shared_with(peer, request.redundancy, request.now_us)
            differ = differing_buckets(mine, dict(request.fingerprints))
            return wire.encode_message(wire.GossipResponse(tuple(differ), tuple(addresses(differ))))
        return wire.encode_message(wire.GossipResponse((), ()))

    async def on_fetch(self, peer: AgentId, data: bytes) -> bytes:
        """The "fetch" handler: the ops held at the addresses asked for."""
        self.membership.check_member(peer)
        request = wire.decode_message(wire.FetchRequest, data)
        ops = [self.dht.get_op(a) for a in request.addresses]
        raw = tuple(wire.RawOp.of(op) for op in ops if op is not None)
        return wire.encode_message(wire.FetchResponse(raw))

    def partner(self, rng: random.Random) -> AgentId | None:
        """Mostly a fellow authority of something we hold (they share most of our data);
        sometimes anyone, so that separate neighbourhoods still meet."""
        population = self.membership.counted()
        self.shared.refresh(population, len(self.membership.blocked), self.clock())
        fellows = self.shared.fellows()
        if fellows and rng.random() < 0.75:
            return rng.choice(fellows)
        # the peer nearest a random point of the keyspace (not O(peers) to pick)
        anyone = [p for p in population.nearest(rng.randbytes(32), 2) if p != self.me]
        return anyone[0] if anyone else None

    async def hand_off(self, limit: int = BATCH) -> int:
        """Push integrated ops we hold but are no longer an authority for (the network
        grew or a partition healed) to their authorities, once each."""
        population = self.membership.counted()
        self.shared.refresh(population, len(self.membership.blocked), self.clock())
        by_peer: dict[AgentId, list[Op]] = {}
        moved = 0
        addresses = self.shared.to_hand_off(limit)
        self.shared.handed_off(addresses)  # (the store remembers: not a set in memory)
        for address in addresses:
            op = self.dht.get_op(Cid(address))
            if op is None:
                continue
            basis = op.basis
            # only to the authorities that were not ones with us (they hold it already)
            before = population.before(basis)
            new = [p for p in population.authorities(basis) if before is None or p not in before]
            moved += 1
            for peer in new:
                by_peer.setdefault(peer, []).append(op)
        for peer, ops in by_peer.items():
            try:
                await self.send_ops(peer, ops)
            except TransportError as e:
                log.info("hand-off to %s failed: %s", peer, e)
        return moved
