"""The publish workflow: our own ops to their authorities until enough of them hold
each (their receipts say so), the audit that queues again what every holder left, and
the warrants this node issued. `send_ops` is the one way ops go to a peer.

Queue: the `publish_queue` table (node/store/publish.py): our ops, due by their retry
time; new records are noticed by comparing the chain head with PUBLISHED_META.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import trio

from dht import wire
from dht.transport import Transport, TransportError
from node.core.cid import Cid
from node.core.errors import CoreError
from node.core.identity import AgentId
from node.core.ops import Op, produce_ops
from node.core.records import Record
from node.runtime.logs import event as log_event
from node.runtime.membership import REQUEST_TIMEOUT, Membership
from node.runtime.recovery import OwnChain
from node.runtime.validate import WorkflowReport
from node.store.behind import PUBLISHED_META
from node.store.dht import DhtStore, OpOutcome
from node.store.publish import Outgoing, PublishQueue
from node.store.sqlite import Store
from validation.receipts import ValidationReceipt, verify_receipt
from validation.warrants import Warrant

log = logging.getLogger("coledger.node")

BATCH = 400
"""Ops in one publish request."""
ROUNDS = 2
"""Publish rounds out at once."""
ROUND_HOLD_US = int((REQUEST_TIMEOUT + 5) * 1_000_000)
"""How long a round's ops are held back from other rounds (it ends before that)."""
AUDIT_RECORDS = 100
"""Own records the audit of published ops looks at per gossip round."""
AUDIT_LAP_US = 30_000_000
"""Least time between the starts of two laps of that audit round the chain."""
CAUGHT_UP_SAY_US = 10_000_000
"""Least time between two "publish caught up" lines at INFO."""

Answered = Callable[[AgentId, Sequence[Op], wire.PublishResponse], None]
"""What to do with a peer's answer to a batch of ops sent (`send_ops`)."""


def publish_delay_us(attempts: int) -> int:
    """Authorities that said "pending" usually integrate within a second or two."""
    return int(min(5_000_000, 250_000 * 2 ** min(attempts, 10)))


class Local(Protocol):
    """What a round needs to be an authority of its own ops (node/runtime/receive.py)."""

    def take_ops(self, ops: Iterable[Op]) -> list[Cid]: ...

    def validate_now(self) -> WorkflowReport: ...


class Stats(Protocol):
    """The counters publishing adds to (node.runtime.node.NodeStats)."""

    published_ops: int
    receipts: int
    warrants_sent: int


class Publish:
    """Publishes our chain's ops, and our warrants."""

    def __init__(self, chain: Store, queue: PublishQueue, dht: DhtStore, transport: Transport,
                 clock: Callable[[], int], *, membership: Membership, own_chain: OwnChain,
                 local: Local, outcomes: Callable[[Sequence[Cid]], dict[Cid, OpOutcome]],
                 stats: Stats, warrants_out: list[Warrant], wake: Callable[[], None],
                 request_timeout: float) -> None:
        self.chain = chain
        self.queue = queue
        self.dht = dht
        self.transport = transport
        self.clock = clock
        self.me = membership.me
        self.membership = membership
        self.own_chain = own_chain
        self.local = local
        self.outcomes = outcomes  # our receipts for ops we hold (ValidationWorkflow.outcomes)
        self.stats = stats
        self.warrants_out = warrants_out
        self.wake = wake
        self.request_timeout = request_timeout
        self.lags_us: deque[int] = deque(maxlen=10_000)  # commit noticed -> R receipts
        self.published_seq: int | None = None  # the chain head last queued for publishing
        self.unsaid_caught_up = False  # ops were confirmed since "caught up" was last said
        self._audit_seq = 0  # where the audit of published ops goes on from
        self._audit_lap_us = 0  # when its last lap began
        self._said_caught_up_us = -CAUGHT_UP_SAY_US  # when "publish caught up" was last said
        self._sending: dict[AgentId, trio.StrictFIFOLock] = {}  # ops to a peer, in order

    # -- sending -----------------------------------------------------------------------

    async def send_ops(self, peer: AgentId, ops: Sequence[Op],
                       answered: Answered | None = None) -> None:
        """Send `ops` to `peer` to hold, BATCH a request, after whatever is being sent to
        it already (an authority given a chain's later ops first could not validate them
        yet: trio runs concurrent tasks in no fixed order); `answered` is given each
        batch's answer. TransportError (or CoreError: an answer that does not decode)
        ends it at the batch that failed."""
        lock = self._sending.setdefault(peer, trio.StrictFIFOLock())
        async with lock:
            for i in range(0, len(ops), BATCH):
                batch = ops[i:i + BATCH]
                request = wire.PublishRequest(tuple(wire.RawOp.of(op) for op in batch))
                data = await self.transport.request(
                    peer, "publish", wire.encode_message(request), timeout=self.request_timeout
                )
                if answered is not None:
                    answered(peer, batch, wire.decode_message(wire.PublishResponse, data))

    async def publish_to(self, peer: AgentId, ops: Sequence[Op]) -> None:
        """`send_ops`, keeping the receipts that come back; a failure is a line in the log."""
        try:
            await self.send_ops(peer, ops, self._keep_receipts)
        except (TransportError, CoreError) as e:
            log.info("publish to %s failed: %s", peer, e)

    def _keep_receipts(self, peer: AgentId, ops: Sequence[Op],
                       response: wire.PublishResponse) -> None:
        """Store `peer`'s valid receipts, verified, for the ops sent to it."""
        wanted = {op.address for op in ops}
        kept: list[tuple[Cid, AgentId, bytes]] = []
        for raw in response.receipts:
            try:
                receipt = ValidationReceipt.from_bytes(raw)
                mine = receipt.op_address in wanted and receipt.validator == peer
                if not mine or receipt.outcome != "valid":
                    continue  # (checked before the signature: it costs more)
                verify_receipt(receipt)
            except CoreError:
                continue
            kept.append((receipt.op_address, peer, raw))
        if kept:
            self.dht.add_receipts(kept)
            self.stats.receipts += len(kept)

    async def send_warrants(self) -> None:
        """Send the warrants we issued to the warrant's authorities and our peers."""
        warrants = list(self.warrants_out)
        self.warrants_out.clear()
        for warrant in warrants:
            sent = self.stats.warrants_sent
            data = wire.encode_message(wire.WarrantMessage((warrant.to_bytes(),)))
            targets = (set(self.membership.authorities(warrant.basis))
                       | set(self.transport.connected_peers()))
            for peer in targets - {self.me, warrant.warrantee}:
                try:
                    await self.transport.request(peer, "warrant", data,
                                                 timeout=self.request_timeout)
                    self.stats.warrants_sent += 1
                except TransportError as e:
                    log.info("warrant to %s failed: %s", peer, e)
            log.info("sent a warrant against %s to %d peers", warrant.warrantee,
                     self.stats.warrants_sent - sent, extra=log_event(
                         "warrant_sent", warrantee=warrant.warrantee, issuer=warrant.issuer,
                         peers=self.stats.warrants_sent - sent))

    # -- the queue ---------------------------------------------------------------------

    def enqueue_new_records(self) -> int:
        """Queue the ops of records the chain gained since we last looked."""
        chain = self.chain
        head = chain.head()  # (one indexed read when nothing is new: polled 4 times a second)
        if head is None or head.seq == self.published_seq or self.own_chain.behind:
            return 0
        raw = chain.get_meta(PUBLISHED_META)
        start = int(raw) + 1 if raw else 0
        if start > head.seq + 1:
            start = self._rolled_back_unseen(head.seq, start - 1)
        records = list(chain.records(start=start))
        if not records:
            self.published_seq = head.seq
            return 0
        ops = [op for r in records for op in produce_ops(r)]
        self.queue.enqueue(ops, self.clock())
        chain.set_meta(PUBLISHED_META, str(records[-1].action.seq).encode())
        self.published_seq = records[-1].action.seq
        self.wake()
        return len(ops)

    def _rolled_back_unseen(self, head_seq: int, queued_seq: int) -> int:
        """Our chain ends before what we once queued for publishing: it was rolled back,
        and the network holds none of what it lost (or the check on start would have
        found it). Say so, and publish the whole chain again (where the new actions
        begin is not known; ops already receipted settle at once)."""
        log.warning("our chain ends at seq %d but had reached seq %d: it was rolled back and"
                    " the network holds none of the actions lost; publishing it again",
                    head_seq, queued_seq)
        self.own_chain.due = True
        return 0

    def state(self) -> dict[str, int]:
        """What `sync` reports: ops still short of their receipts, the receipts each
        needs, and the other members we can reach."""
        self.enqueue_new_records()
        return {"pending": self.queue.pending(),
                "receipts_needed": self.membership.receipts_needed(),
                "peers": len(self.membership.peers()) - 1}

    def audit_published(self, limit: int = AUDIT_RECORDS) -> int:
        """Queue again our published ops none of whose validators is among their
        current authorities, nor ourselves: they all left at once, before gossip could
        pass the op on, and nobody holds it but our chain. (Fewer holders than R, or a
        node that just joined, are gossip's and hand-off's to heal.) `limit` records a
        call, going on round the chain call after call; a lap starts at most every
        AUDIT_LAP_US. Returns the ops queued."""
        chain = self.chain
        raw = chain.get_meta(PUBLISHED_META)
        if raw is None:
            return 0
        upto = int(raw)
        population = self.membership.counted()
        start = self._audit_seq if self._audit_seq <= upto else 0
        if start == 0:
            now = self.clock()
            if now - self._audit_lap_us < AUDIT_LAP_US:
                return 0
            self._audit_lap_us = now
        records: list[Record] = []
        for record in chain.records(start=start):
            if record.action.seq > upto or len(records) == limit:
                break
            records.append(record)
        self._audit_seq = records[-1].action.seq + 1 if records else 0
        ops = [op for r in records for op in produce_ops(r)]
        if not ops:
            return 0
        receipted = self.queue.validators([op.address for op in ops])
        me = self.me.to_bytes()  # (an op we validated we hold: hand-off passes it on)
        lost = [op for op in ops if (validators := receipted[op.address]) and me not in validators
                and not validators & {p.to_bytes() for p in population.authorities(op.basis)}]
        queued = self.queue.enqueue(lost, self.clock()) if lost else 0
        if queued:
            log.warning("%d published ops lost every validator: publishing them again", queued)
            self.wake()
        return queued

    # -- rounds ------------------------------------------------------------------------

    async def publish_once(self) -> int:
        """Send due ops to their authorities, batched per peer; count done ops. Rounds
        may overlap: the ops of one are held back from the others until it ends."""
        now = self.clock()
        due = self.queue.due(now) if not self.own_chain.behind else []
        if not due:  # (behind: what we queued may fork the network's chain of ours)
            return 0
        self.queue.hold([out.op.address for out in due], now + ROUND_HOLD_US)
        try:
            return await self._publish_round(due, now)
        except BaseException:
            self.queue.hold([out.op.address for out in due], now)  # (cancelled: due again)
            raise

    async def _publish_round(self, due: list[Outgoing], now: int) -> int:
        needed = self.membership.receipts_needed()
        addresses = [out.op.address for out in due]
        receipted = self.queue.validators(addresses)  # (not asked again)
        by_peer: dict[AgentId, list[Op]] = {}
        # receipts count from the op's current authorities only (a validator that left
        # holds it for nobody)
        counted: dict[Cid, set[bytes]] = {}
        for out in due:
            authorities = self.membership.authorities(out.op.basis)
            counted[out.op.address] = {p.to_bytes() for p in authorities}
            for peer in authorities:
                if peer.to_bytes() not in receipted[out.op.address]:
                    by_peer.setdefault(peer, []).append(out.op)
        local = by_peer.pop(self.me, [])
        if local:  # we are an authority for these: our own receipts count
            self.local.take_ops(local)
            self.local.validate_now()
            self.outcomes([op.address for op in local])
        async with trio.open_nursery() as nursery:
            for peer, ops in by_peer.items():
                nursery.start_soon(self.publish_to, peer, ops)
        receipted = self.queue.validators(addresses)
        me = self.me.to_bytes()
        confirmed = {a for a in addresses
                     if len(held := receipted[a] & counted[a]) >= needed and held - {me}}
        done = [out for out in due if out.op.address in confirmed]
        self.queue.settle(
            confirmed,
            [(out.op.address, now + publish_delay_us(out.attempts))
             for out in due if out.op.address not in confirmed],
        )
        finished = self.clock()
        self.lags_us.extend(finished - out.added_us for out in done)
        self.stats.published_ops += len(done)
        self.unsaid_caught_up |= bool(done)
        self.say_caught_up()
        return len(done)

    def say_caught_up(self) -> None:
        """Say that every op published has its receipts, once it is so after a round that
        confirmed some: at most once a CAUGHT_UP_SAY_US (a node keeping up with its
        commits catches up every round), late rather than never (the publish loop asks
        again)."""
        now = self.clock()
        if now - self._said_caught_up_us < CAUGHT_UP_SAY_US or self.queue.pending():
            return
        self._said_caught_up_us, self.unsaid_caught_up = now, False
        log.info("publish caught up: %d ops published", self.stats.published_ops,
                 extra=log_event("publish_caught_up", published=self.stats.published_ops))
