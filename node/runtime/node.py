"""A running node: the ledger on a transport, its workflows composed and run as trio loops.

Each workflow is a file of node/runtime (Holochain's core/workflow/ is the model):
membership.py (hello, discovery, refusal), receive.py (incoming ops and warrants),
validate.py (the validation workflow), cascade.py (get, agent activity, links,
missing dependencies), publish.py (our ops to their authorities, the audit, warrants) and
gossip.py (reconciliation, hand-off); countersign.py and recovery.py likewise. `Node`
builds them, each with the narrow collaborators it needs, gives the transport their
handlers, and runs the loops. Everything touches SQLite from the trio thread only,
between awaits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import trio

from dht.transport import Transport, TransportError
from node.core.cid import Cid
from node.core.clock import now_us
from node.core.errors import CoreError
from node.core.identity import AgentId, AgentKey
from node.core.links import MAX_LINKS, LinkPage
from node.core.ops import Op
from node.core.records import Record, SignedAction
from node.runtime.cascade import Cascade
from node.runtime.countersign import Countersigner
from node.runtime.gossip import Gossip
from node.runtime.held import SharedOps
from node.runtime.ledger import Ledger
from node.runtime.membership import REQUEST_TIMEOUT, Membership
from node.runtime.publish import AUDIT_RECORDS, ROUNDS, Publish
from node.runtime.receive import Receive
from node.runtime.recovery import OwnChain
from node.runtime.validate import ValidationWorkflow, WorkflowReport
from node.store.publish import PublishQueue
from validation.warrants import Warrant
from zomes.registry import countersign_hooks

__all__ = ["REQUEST_TIMEOUT", "Node", "NodeStats"]

log = logging.getLogger("coledger.node")

STORE_POLL = 0.25
"""Seconds between looks for records another process wrote to our chain."""
IDLE_WAKE = 5.0
"""Longest sleep of the validation loop when nothing is due and nothing waits."""


@dataclass
class NodeStats:
    published_ops: int = 0
    receipts: int = 0
    gossip_rounds: int = 0
    last_sync_us: int = 0  # when a gossip round with a peer last completed (0: never)
    fetched_by_gossip: int = 0
    pushed_by_gossip: int = 0
    warrants_sent: int = 0
    refused_peers: set[AgentId] = field(default_factory=set)


class Wake:
    """A loop's alarm: anyone sets it; the loop sleeps until it is set, or a while."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Sleep until set or `seconds` pass, then be ready to be set again."""
        with trio.move_on_after(seconds):
            await self._event.wait()
        self._event = trio.Event()


class Node:
    """One agent's node. Build with `open_node` (node/runtime/conductor.py)."""

    def __init__(self, ledger: Ledger, key: AgentKey, transport: Transport,
                 clock: Callable[[], int] = now_us, *, gossip_interval: float = 2.0,
                 publish_interval: float = 0.25, auto_accept_from: Iterable[AgentId] = (),
                 request_timeout: float = REQUEST_TIMEOUT) -> None:
        self.ledger = ledger
        self.request_timeout = request_timeout  # seconds for any request to a peer
        self.key = key
        self.me = me = key.agent_id
        self.transport = transport
        self.clock = clock
        self.dht = dht = ledger.dht
        self.deps = ledger.deps()
        self.stats = stats = NodeStats()
        self.gossip_interval = gossip_interval
        self.publish_interval = publish_interval
        self.blocked = dht.blocked_agents  # (the store's `blocked` table, in memory)
        self.redundancy = ledger.dna.redundancy
        self.network_id = ledger.dna.address
        self._wake_publish, self._wake_validate = Wake(), Wake()
        self.warrants_out: list[Warrant] = []  # issued here, for the publish loop to send
        store = ledger.agent.store
        self.membership = membership = Membership(
            self._own_avp(), transport, clock, network_id=self.network_id,
            progenitor=ledger.dna.progenitor_id, redundancy=self.redundancy,
            blocked=self.blocked, refused=stats.refused_peers, request_timeout=request_timeout)
        self.members, self.addresses = membership.members, membership.addresses
        self.workflow = ValidationWorkflow(dht, self.deps, ledger.validator, key)
        self.cascade = Cascade(me, store, dht, transport, clock, members=self.members,
                               authorities=membership.authorities,
                               member=membership.check_member, take_ops=self.take_ops)
        self.own_chain = OwnChain(me, store, dht, transport, clock, members=self.members,
                                  authorities=membership.authorities, cascade=self.cascade,
                                  restored=self._chain_restored)
        self.receive = receive = Receive(
            me, dht, self.deps, ledger.validator, self.workflow, self.own_chain, clock,
            blocked=self.blocked, member=membership.check_member,
            warrants_out=self.warrants_out, wake_validate=self._wake_validate.set,
            wake_publish=self._wake_publish.set)
        self.queue = PublishQueue(store)
        self.publish = publish = Publish(
            store, self.queue, dht, transport, clock, membership=membership,
            own_chain=self.own_chain, local=receive, outcomes=self.workflow.outcomes,
            stats=stats, warrants_out=self.warrants_out, wake=self._wake_publish.set,
            request_timeout=request_timeout)
        self.lags_us = publish.lags_us  # commit noticed -> R receipts
        self.shared = SharedOps(me, dht)
        self.gossip = Gossip(dht, self.shared, transport, clock, membership=membership,
                             receive=receive, send_ops=publish.send_ops, stats=stats,
                             request_timeout=request_timeout)
        for name, handler in (("hello", membership.on_hello), ("publish", receive.on_publish),
                              ("fetch", self.gossip.on_fetch), ("get", self.cascade.on_get),
                              ("links", self.cascade.on_links),
                              ("gossip", self.gossip.on_gossip),
                              ("warrant", receive.on_warrant)):
            transport.set_handler(name, handler)
        transport.set_peer_filter(
            lambda peer: peer not in self.blocked and peer not in stats.refused_peers
        )
        # until a peer's hello shows a membrane proof, the transport holds it to the
        # stranger limits (small frames, few streams, a deadline to greet)
        transport.set_trust(lambda peer: peer in self.members)
        self.countersigner = Countersigner(
            key, clock, requests=transport, member=membership.check_member, ledger=self.ledger,
            chain=store, sessions=store.sessions, apps=countersign_hooks()(self.ledger, store),
            activity=self.agent_activity, written=self.enqueue_new_records,
            auto_accept_from=tuple(auto_accept_from))
        transport.set_handler("countersign", self.countersigner.on_request)

    def _own_avp(self) -> SignedAction:
        avp = self.ledger.own_avp()
        if avp is None:
            raise CoreError("this agent has not joined a network")
        return avp

    def _chain_restored(self) -> None:
        """A recovery rewrote our chain: publishing looks at it afresh."""
        self.publish.published_seq = None

    # -- what the command line, the RPC server and the tests ask of a node ------------------

    async def join(self, bootstrap: Iterable[str]) -> None:
        await self.membership.join(bootstrap)

    async def connect(self, multiaddr: str) -> AgentId | None:
        return await self.membership.connect(multiaddr)

    async def discover(self) -> None:
        await self.membership.discover()

    def peers(self) -> list[AgentId]:
        return self.membership.peers()

    def authorities(self, basis: bytes) -> list[AgentId]:
        return self.membership.authorities(basis)

    def take_ops(self, ops: Iterable[Op]) -> list[Cid]:
        return self.receive.take_ops(ops)

    def validate_now(self) -> WorkflowReport:
        return self.receive.validate_now()

    async def get(self, address: Cid) -> Record | None:
        return await self.cascade.get(address)

    async def agent_activity(self, author: AgentId, first: bool = False) -> list[Record]:
        return await self.cascade.agent_activity(author, first)

    async def get_links(self, base: Cid, link_type: str | None = None, tag_prefix: bytes = b"",
                        *, include_deleted: bool = False, after: Cid | None = None,
                        limit: int = MAX_LINKS, every: bool = False) -> LinkPage:
        return await self.cascade.get_links(base, link_type, tag_prefix,
                                            include_deleted=include_deleted, after=after,
                                            limit=limit, every=every)

    def activity_held(self, author: AgentId, since: int = 0) -> list[Record]:
        return self.cascade.activity_held(author, since)

    def enqueue_new_records(self) -> int:
        return self.publish.enqueue_new_records()

    async def publish_once(self) -> int:
        return await self.publish.publish_once()

    def publish_state(self) -> dict[str, int]:
        return self.publish.state()

    def audit_published(self, limit: int = AUDIT_RECORDS) -> int:
        return self.publish.audit_published(limit)

    def status(self) -> dict[str, object]:
        return {
            "agent_id": str(self.me),
            "network_id": str(self.network_id),
            "listen": self.transport.listen_addrs(),
            "peers": len(self.peers()) - 1,
            "members_known": len(self.members),
            "blocked": [str(b) for b in sorted(self.blocked, key=lambda a: a.to_bytes())],
            "ops": self.dht.counts(),
            "publish_pending": self.queue.pending(),
            "behind": self.own_chain.status(),
            "last_sync_us": self.stats.last_sync_us or None,
            "stats": {
                k: (len(v) if isinstance(v, set) else v) for k, v in vars(self.stats).items()
                if k != "last_sync_us"
            },
        }

    # -- the loops -------------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:  # type: ignore[no-untyped-def]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._validation_loop)
            nursery.start_soon(self._publish_loop)
            nursery.start_soon(self._gossip_loop)
            nursery.start_soon(self.countersigner.run)
            task_status.started()

    def _seconds_until(self, due_us: int | None, longest: float) -> float:
        if due_us is None:
            return longest
        return min(longest, max(0.0, (due_us - self.clock()) / 1e6))

    async def _validation_loop(self) -> None:
        """Wakes when ops arrive or the next deferred one is due (not on a fixed tick:
        a thousand simulated nodes polling each second is most of a core)."""
        while True:
            self.validate_now()
            waiting = bool(self.dht.waiting(limit=1) or self.dht.undecided_warrantees(limit=1))
            if waiting and await self.cascade.resolve_missing():
                self.validate_now()
            if waiting:
                self.workflow.retry_warrants(self.clock())
            if self.warrants_out:
                await self.publish.send_warrants()
            # while ops wait on missing dependencies, fetch again within a second
            longest = 1.0 if waiting else IDLE_WAKE
            await self._wake_validate.wait(self._seconds_until(self.dht.next_due_us(), longest))

    async def _publish_loop(self) -> None:
        """Wakes on a commit or a warrant, when a round ends or the next op is due for a
        retry, and every STORE_POLL seconds to notice records another process wrote;
        rounds are at least `publish_interval` apart unless woken. Up to ROUNDS rounds
        are out at once, so that new commits need not wait for the slowest authority
        of the round before (under load, commits gather into fewer, larger rounds)."""
        out = [0]
        publish = self.publish

        async def publish_round() -> None:
            try:
                await publish.publish_once()
            finally:
                out[0] -= 1
                self._wake_publish.set()

        async with trio.open_nursery() as rounds:
            while True:
                publish.enqueue_new_records()
                due_us = self.queue.next_due_us()
                if due_us is not None and due_us <= self.clock() and out[0] < ROUNDS:
                    out[0] += 1
                    rounds.start_soon(publish_round)
                if self.warrants_out:
                    await publish.send_warrants()
                if publish.unsaid_caught_up:
                    publish.say_caught_up()
                wait = self._seconds_until(due_us, STORE_POLL)
                await self._wake_publish.wait(max(self.publish_interval, wait))

    async def _gossip_loop(self) -> None:
        rng = random.Random()
        while True:
            await trio.sleep(self.gossip_interval * (0.5 + rng.random()))
            await self.membership.discover()
            try:
                await self.own_chain.maybe_check()
            except CoreError as e:
                log.warning("checking our chain against the network failed: %s", e)
            self.publish.audit_published()
            peer = self.gossip.partner(rng)
            if peer is None:
                continue
            try:
                await self.gossip.hand_off()
                await self.gossip.gossip_with(peer)
            except (TransportError, CoreError) as e:
                log.info("gossip with %s failed: %s", peer, e)
