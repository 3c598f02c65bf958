"""A running node: the ledger on a transport, with its workflows as trio tasks.

Handlers answer peers (hello, publish, fetch, get, gossip, warrant); loops publish
our own ops until enough authorities hold them, validate what arrives, gossip to
heal, and notice records the command line wrote to the store directly.
Everything touches SQLite from the trio thread only, between awaits.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import trio

from dht import wire
from dht.authority import ClosestIndex
from dht.gossip import addresses_in, differing_buckets, fingerprints, missing, shared_scope
from dht.transport import Transport, TransportError
from node.core.cid import Cid
from node.core.clock import now_us
from node.core.errors import CoreError
from node.core.identity import AgentId, AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.outcome import Invalid
from node.core.records import Record
from node.runtime.hello import Hello, check_hello
from node.runtime.integrate import ValidationWorkflow, WorkflowReport
from node.runtime.ledger import Ledger
from node.store.dht import INTEGRATED, REJECTED
from node.store.publish import PublishQueue
from validation.receipts import ValidationReceipt, verify_receipt
from validation.sys import decode_op
from validation.warrants import Warrant

log = logging.getLogger("coledger.node")

BATCH = 400
_CHAIN_OPS = frozenset({OpType.REGISTER_AGENT_ACTIVITY})
REQUEST_TIMEOUT = 20.0
GET_TIMEOUT = 8.0
DIAL_INTERVAL_US = 15_000_000
PUBLISHED_META = "published_upto_seq"


def publish_delay_us(attempts: int) -> int:
    """Authorities that said "pending" usually integrate within a second or two."""
    return int(min(5_000_000, 250_000 * 2 ** min(attempts, 10)))


class NotAMember(Exception):
    """A request from a peer that has not shown a valid membrane proof."""


@dataclass
class NodeStats:
    published_ops: int = 0
    receipts: int = 0
    gossip_rounds: int = 0
    fetched_by_gossip: int = 0
    pushed_by_gossip: int = 0
    warrants_sent: int = 0
    refused_peers: set[AgentId] = field(default_factory=set)


class Node:
    """One agent's node. Build with `open_node` (node/runtime/conductor.py)."""

    def __init__(self, ledger: Ledger, key: AgentKey, transport: Transport,
                 clock: Callable[[], int] = now_us, *, gossip_interval: float = 2.0,
                 publish_interval: float = 0.25, auto_accept_from: Iterable[AgentId] = ()) -> None:
        self.ledger = ledger
        self.key = key
        self.me = key.agent_id
        self.transport = transport
        self.clock = clock
        self.dht = ledger.dht
        self.deps = ledger.deps()
        self.workflow = ValidationWorkflow(self.dht, self.deps, ledger.validator, key)
        self.queue = PublishQueue(ledger.agent.store, self.dht)
        self.redundancy = ledger.dna.redundancy
        self.network_id = ledger.dna.address
        self.progenitor = ledger.dna.progenitor_id
        self.members: set[AgentId] = {self.me, self.progenitor}
        self.addresses: dict[AgentId, tuple[str, ...]] = {}
        self.blocked: set[AgentId] = set(self.dht.blocked())
        self.stats = NodeStats()
        self.gossip_interval = gossip_interval
        self.publish_interval = publish_interval
        self._wake_publish = trio.Event()
        self._wake_validate = trio.Event()
        self._hello = Hello(self._own_avp())
        self._fetched_at: dict[AgentId, int] = {}
        self._dialed_at: dict[AgentId, int] = {}
        self._to_drop: set[AgentId] = set()
        self._handed_off: set[Cid] = set()
        self.lags_us: deque[int] = deque(maxlen=100_000)  # commit noticed -> R receipts
        self._index_of: tuple[AgentId, ...] = ()
        self._index = ClosestIndex()
        self._warrants_out: list[Warrant] = []
        for name, handler in (("hello", self._on_hello), ("publish", self._on_publish),
                              ("fetch", self._on_fetch), ("get", self._on_get),
                              ("gossip", self._on_gossip), ("warrant", self._on_warrant)):
            transport.set_handler(name, handler)
        transport.set_peer_filter(
            lambda peer: peer not in self.blocked and peer not in self.stats.refused_peers
        )
        from node.runtime.countersign import Countersigner

        self.countersigner = Countersigner(self, tuple(auto_accept_from))

    def _own_avp(self):  # type: ignore[no-untyped-def]
        record = self.ledger.agent.store.get_record_at(1)
        if record is None:
            raise CoreError("this agent has not joined a network")
        return record.signed

    # -- membership ------------------------------------------------------------------------

    def _hello_bytes(self) -> bytes:
        mine = (self.me, tuple(self.transport.listen_addrs()[:8]))
        peers = tuple(
            (p, self.addresses.get(p, ())[:8]) for p in self.transport.connected_peers()
            if p in self.members and self.addresses.get(p)
        )
        return Hello(self._hello.avp, (mine, *peers[:200])).to_bytes()

    def _admit(self, peer: AgentId, hello: Hello) -> None:
        problem = check_hello(hello, peer, network_id=self.network_id, progenitor=self.progenitor)
        if problem is not None:
            self.stats.refused_peers.add(peer)
            raise NotAMember(f"{peer} is not a member: {problem}")
        self.members.add(peer)
        for other, addrs in hello.peers:
            if other == peer and addrs:
                self.addresses[peer] = addrs  # its own word on where it listens
            elif other != self.me and addrs:
                self.addresses.setdefault(other, addrs)

    async def _on_hello(self, peer: AgentId, data: bytes) -> bytes:
        try:
            self._admit(peer, Hello.from_bytes(data))
        except NotAMember:
            self._disconnect_soon(peer)
            raise
        return self._hello_bytes()

    def _disconnect_soon(self, peer: AgentId) -> None:
        """Refused in a handler: the discovery loop closes the connection."""
        self._to_drop.add(peer)

    async def _refuse(self, peer: AgentId, why: str) -> None:
        log.info("refusing %s: %s", peer, why)
        self.stats.refused_peers.add(peer)
        self._to_drop.discard(peer)
        await self.transport.disconnect(peer)

    async def connect(self, multiaddr: str) -> AgentId | None:
        """Connect and shake hands; None (and a log line) if it fails or is no member."""
        try:
            peer = await self.transport.connect(multiaddr)
            await self.greet(peer)
        except (TransportError, CoreError, NotAMember) as e:
            log.warning("could not join %s: %s", multiaddr, e)
            return None
        self.addresses.setdefault(peer, (multiaddr,))
        return peer

    async def greet(self, peer: AgentId) -> None:
        answer = await self.transport.request(peer, "hello", self._hello_bytes(), timeout=REQUEST_TIMEOUT)
        try:
            self._admit(peer, Hello.from_bytes(answer))
        except NotAMember:
            await self.transport.disconnect(peer)
            raise

    async def discover(self) -> None:
        """Connect to member peers others told us about: those not connected, each
        tried at most every DIAL_INTERVAL seconds (a dead peer costs little)."""
        connected = set(self.transport.connected_peers())
        now = self.clock()
        todo = [(p, a) for p, a in self.addresses.items()
                if p not in connected and p not in self.blocked and p != self.me
                and now - self._dialed_at.get(p, 0) > DIAL_INTERVAL_US][:16]
        for peer, addrs in todo:
            self._dialed_at[peer] = now
            for addr in addrs:
                if await self.connect(addr) is not None:
                    break
        for peer in list(self._to_drop):
            await self._refuse(peer, "no valid membrane proof")
        for peer in connected - self.members - self.blocked - self.stats.refused_peers:
            if now - self._dialed_at.get(peer, 0) > DIAL_INTERVAL_US:
                self._dialed_at[peer] = now
                try:
                    await self.greet(peer)  # connected to us but never said hello
                except (TransportError, CoreError, NotAMember) as e:
                    # it speaks none of this network's protocols, or has no valid proof
                    await self._refuse(peer, str(e))

    def _member(self, peer: AgentId) -> None:
        if peer not in self.members:
            raise NotAMember(f"{peer} has not shown a membrane proof (say hello first)")
        if peer in self.blocked:
            raise NotAMember(f"{peer} is blocked")

    def peers(self) -> list[AgentId]:
        """Member peers we can reach, and ourselves: the population authorities come from."""
        reachable = set(self.transport.connected_peers()) | set(self.transport.known_peers())
        reachable.add(self.me)
        return sorted((p for p in reachable if p in self.members and p not in self.blocked),
                      key=lambda p: p.to_bytes())

    def authorities(self, basis: bytes, peers: list[AgentId] | None = None) -> list[AgentId]:
        population = tuple(peers if peers is not None else self.peers())
        if self._index_of != population:  # rebuilt only when the population changes
            self._index_of, self._index = population, ClosestIndex(population)
        return self._index.closest(basis, self.redundancy)

    def receipts_needed(self, peers: list[AgentId]) -> int:
        return min(self.redundancy, len(peers))

    # -- validation ------------------------------------------------------------------------

    def validate_now(self) -> WorkflowReport:
        report = self.workflow.run(self.clock())
        if report.warrants:
            self.blocked |= set(self.dht.blocked())
        for warrant in report.warrants:
            self._warrants_out.append(warrant)
        if report.warrants:
            self._wake_publish.set()
        return report

    def take_ops(self, ops: Iterable[Op]) -> list[Cid]:
        """Store ops from peers (dropping blocked authors'), to be validated."""
        fresh = [op for op in ops if op.action.author not in self.blocked]
        added = self.dht.add_ops(fresh, self.clock())
        if added:
            self._wake_validate.set()
        return added

    def _decode_ops(self, raw_ops: Iterable[wire.RawOp]) -> list[Op]:
        ops = []
        for raw in raw_ops:
            op = decode_op(raw.op_type, raw.action, raw.signature, raw.entry)
            if not isinstance(op, Invalid):
                ops.append(op)
        return ops

    async def resolve_missing(self) -> int:
        """Fetch what waiting ops miss: the author's chain from its agent-activity
        authorities (one request per author), or the record itself. Bounded per call."""
        fetched = 0
        now = self.clock()
        authors: set[AgentId] = set()
        singles: set[Cid] = set()
        for author, dep in self.dht.waiting():
            authors.add(author)
            try:
                singles.add(Cid(dep))
            except CoreError:
                continue  # an agent id: the author's activity covers it
        for author in list(authors)[:8]:
            if now - self._fetched_at.get(author, 0) < 1_000_000:
                continue
            self._fetched_at[author] = now
            records = await self.agent_activity(author)
            ops = [op for r in records for op in produce_ops(r) if op.type in _CHAIN_OPS]
            fetched += len(self.take_ops(ops))
        for address in list(singles)[:32]:
            if self.dht.get_record(address) is None and await self.get(address) is not None:
                fetched += 1
        return fetched

    # -- handlers --------------------------------------------------------------------------

    async def _on_publish(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        request = wire.decode_message(wire.PublishRequest, data)
        ops = self._decode_ops(request.ops)
        self.take_ops(ops)
        self.validate_now()
        results, receipts = [], []
        for op in ops:
            state = self.dht.state_of(op.address)
            status = "pending" if state is None else {INTEGRATED: "integrated", REJECTED: "rejected"}.get(state[0], "pending")
            results.append(wire.OpResult(op.address, status, state[2] if state and state[0] == REJECTED else None))
            receipts.extend(self._my_receipts(op.address))
        return wire.encode_message(wire.PublishResponse(tuple(results), tuple(receipts)))

    def _my_receipts(self, op_address: Cid) -> list[bytes]:
        out = []
        for data in self.dht.receipts_for(op_address):
            receipt = ValidationReceipt.from_bytes(data)
            if receipt.validator == self.me:
                out.append(data)
        return out

    async def _on_fetch(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        request = wire.decode_message(wire.FetchRequest, data)
        ops = [self.dht.get_op(a) for a in request.addresses]
        raw = tuple(_raw_op(op) for op in ops if op is not None)
        return wire.encode_message(wire.FetchResponse(raw))

    async def _on_get(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        request = wire.decode_message(wire.GetRequest, data)
        records: list[Record] = []
        if request.kind == "agent_activity":
            assert isinstance(request.target, AgentId)
            records = self.activity_held(request.target)
        else:
            assert isinstance(request.target, Cid)
            found = self.local_record(request.target)
            records = [found] if found is not None else []
        return wire.encode_message(wire.GetResponse(bool(records), tuple(_raw_record(r) for r in records)))

    async def _on_gossip(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        request = wire.decode_message(wire.GossipRequest, data)
        scope = shared_scope(self.me, peer, request.peers, min(request.redundancy, 64))
        held = self.dht.held_ops(scope)
        if request.fingerprints:
            mine = fingerprints(held, request.now_us)
            theirs = dict(request.fingerprints)
            differ = differing_buckets(mine, theirs)
            return wire.encode_message(wire.GossipResponse(tuple(differ), tuple(addresses_in(held, differ, request.now_us))))
        return wire.encode_message(wire.GossipResponse((), ()))

    async def _on_warrant(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        message = wire.decode_message(wire.WarrantMessage, data)
        verdicts = []
        for raw in message.warrants:
            try:
                warrant = Warrant.from_bytes(raw)
            except CoreError:
                continue
            verdicts.append(self.workflow.accept_warrant(warrant, self.clock()))
        self.blocked |= set(self.dht.blocked())
        return wire.encode_message(wire.WarrantMessage(()))

    # -- reads -------------------------------------------------------------------------------

    def local_record(self, address: Cid) -> Record | None:
        return self.ledger.agent.store.get_record(address) or self.dht.get_record(address)

    def activity_held(self, author: AgentId) -> list[Record]:
        if author == self.me:
            return list(self.ledger.agent.store.records())
        return self.dht.activity(author)

    async def get(self, address: Cid) -> Record | None:
        """Local store first, then the address's authorities; a found record is checked
        (signature, address) and cached as ops to validate."""
        found = self.local_record(address)
        if found is not None:
            return found
        for peer in self.authorities(address.to_bytes()):
            if peer == self.me:
                continue
            records = await self._ask(peer, wire.GetRequest(address, "record"))
            for raw in records:
                record = _checked_record(raw)
                if record is not None and record.address == address:
                    # cached as the one op it is the answer to, validated like any other
                    self.take_ops(op for op in produce_ops(record) if op.type is OpType.STORE_RECORD)
                    return record
        return None

    async def agent_activity(self, author: AgentId) -> list[Record]:
        """An agent's whole chain, from its agent-activity authorities, verified."""
        from node.core.chain import StoredRow, iter_verified

        held = self.activity_held(author)
        candidates = [held] if held else []
        sources = self.authorities(author.to_bytes())
        if author in self.members and author not in sources:
            sources.insert(0, author)  # the author holds its whole chain; all of it is signed
        for peer in sources:
            if peer == self.me:
                continue
            raws = await self._ask(peer, wire.GetRequest(author, "agent_activity"))
            if raws:
                candidates.append([r for r in (_checked_record(x) for x in raws) if r is not None])
        best: list[Record] = []
        for records in candidates:
            rows = [StoredRow(r.action.seq, r.signed.data, r.signed.signature, r.entry.data if r.entry else None) for r in records]
            try:
                verified = list(iter_verified(rows))
            except CoreError:
                continue
            if verified and verified[0].action.author == author and len(verified) > len(best):
                best = verified
        return best

    async def flows(self, address: str, backwards: bool, max_agents: int = 64) -> list[dict[str, object]]:
        """Trace or track across chains: start from our own, fetch the chains of the
        agents our events name (and theirs, breadth first), walk the joined flows."""
        from zomes.valueflows.coordinator import flow_index, merged_view
        from node.runtime.ledger import describe_node
        from zomes.valueflows.trace import NotInIndex

        from node.runtime.rpc import chain_view_of

        views = {self.me: self.ledger.view()}
        frontier = list(views)
        tried: set[AgentId] = set(views)
        if address not in views[self.me].events and address not in views[self.me].resources \
                and address not in views[self.me].processes:
            start = await self.get(Cid.parse(address))  # whose chain is it on?
            author = start.action.author if start is not None else None
            if author is not None and author != self.me:
                records = await self.agent_activity(author)
                if records:
                    views[author] = chain_view_of(records)
                    frontier.append(author)
        while frontier and len(views) < max_agents:
            agent = frontier.pop(0)
            for other in sorted(views[agent].agents()):
                try:
                    other_id = AgentId.parse(other)
                except CoreError:
                    continue
                if other_id in views or other_id in tried or len(views) >= max_agents:
                    continue
                tried.add(other_id)
                records = await self.agent_activity(other_id)
                if records:
                    views[other_id] = chain_view_of(records)
                    frontier.append(other_id)
        view = merged_view(list(views.values()))
        index = flow_index(view)
        try:
            nodes = index.trace(address) if backwards else index.track(address)
        except NotInIndex:
            raise CoreError(f"{address} is not a resource, event or process known here or to the chains it names") from None
        return [describe_node(n, view) for n in nodes]

    async def _ask(self, peer: AgentId, request: wire.GetRequest) -> tuple[wire.RawRecord, ...]:
        try:
            data = await self.transport.request(peer, "get", wire.encode_message(request), timeout=GET_TIMEOUT)
            response = wire.decode_message(wire.GetResponse, data)
        except (TransportError, CoreError) as e:
            log.info("get from %s failed: %s", peer, e)
            return ()
        return response.records if response.found else ()

    # -- publishing ------------------------------------------------------------------------

    def enqueue_new_records(self) -> int:
        """Queue the ops of records the chain gained since we last looked."""
        store = self.ledger.agent.store
        raw = store.get_meta(PUBLISHED_META)
        start = int(raw) + 1 if raw else 0
        records = list(store.records(start=start))
        if not records:
            return 0
        ops = [op for r in records for op in produce_ops(r)]
        self.queue.enqueue(ops, self.clock())
        store.set_meta(PUBLISHED_META, str(records[-1].action.seq).encode())
        self._wake_publish.set()
        return len(ops)

    async def publish_once(self) -> int:
        """Send due ops to their authorities, batched per peer; count done ops."""
        now = self.clock()
        due = self.queue.due(now)
        if not due:
            return 0
        peers = self.peers()
        by_peer: dict[AgentId, list[Op]] = {}
        for out in due:
            for peer in self.authorities(out.op.basis, peers):
                by_peer.setdefault(peer, []).append(out.op)
        local = by_peer.pop(self.me, [])
        if local:
            self.take_ops(local)
            self.validate_now()
        async with trio.open_nursery() as nursery:
            for peer, ops in by_peer.items():
                for i in range(0, len(ops), BATCH):
                    nursery.start_soon(self._publish_to, peer, ops[i:i + BATCH])
        needed = self.receipts_needed(peers)
        done = 0
        with self.dht.transaction():
            for out in due:
                if self.queue.receipt_count(out.op.address) >= needed:
                    added = self.queue.done(out.op.address)
                    if added is not None:
                        self.lags_us.append(self.clock() - added)
                    done += 1
                else:
                    self.queue.defer(out.op.address, now + publish_delay_us(out.attempts))
        self.stats.published_ops += done
        return done

    async def _publish_to(self, peer: AgentId, ops: list[Op]) -> None:
        request = wire.PublishRequest(tuple(_raw_op(op) for op in ops))
        try:
            data = await self.transport.request(peer, "publish", wire.encode_message(request), timeout=REQUEST_TIMEOUT)
            response = wire.decode_message(wire.PublishResponse, data)
        except (TransportError, CoreError) as e:
            log.info("publish to %s failed: %s", peer, e)
            return
        wanted = {op.address for op in ops}
        for raw in response.receipts:
            try:
                receipt = ValidationReceipt.from_bytes(raw)
                verify_receipt(receipt)
            except CoreError:
                continue
            if receipt.op_address in wanted and receipt.validator == peer and receipt.outcome == "valid":
                self.dht.add_receipt(receipt.op_address, peer, raw)
                self.stats.receipts += 1

    async def send_warrants(self) -> None:
        warrants, self._warrants_out = self._warrants_out, []
        for warrant in warrants:
            data = wire.encode_message(wire.WarrantMessage((warrant.to_bytes(),)))
            targets = set(self.authorities(warrant.basis)) | set(self.transport.connected_peers())
            for peer in targets - {self.me, warrant.warrantee}:
                try:
                    await self.transport.request(peer, "warrant", data, timeout=REQUEST_TIMEOUT)
                    self.stats.warrants_sent += 1
                except TransportError as e:
                    log.info("warrant to %s failed: %s", peer, e)

    # -- gossip ------------------------------------------------------------------------------

    async def gossip_with(self, peer: AgentId) -> int:
        """One reconciliation round with `peer`; returns how many ops we fetched."""
        peers = self.peers()
        now = self.clock()
        scope = shared_scope(self.me, peer, peers, self.redundancy)
        held = self.dht.held_ops(scope)
        request = wire.GossipRequest(now, self.redundancy, tuple(peers), tuple(fingerprints(held, now).items()))
        data = await self.transport.request(peer, "gossip", wire.encode_message(request), timeout=REQUEST_TIMEOUT)
        response = wire.decode_message(wire.GossipResponse, data)
        self.stats.gossip_rounds += 1
        if not response.differing:
            return 0
        mine = addresses_in(held, response.differing, now)
        want = missing(mine, response.addresses)
        fetched = 0
        for i in range(0, len(want), BATCH):
            fetch = wire.FetchRequest(tuple(want[i:i + BATCH]))
            answer = await self.transport.request(peer, "fetch", wire.encode_message(fetch), timeout=REQUEST_TIMEOUT)
            ops = self._decode_ops(wire.decode_message(wire.FetchResponse, answer).ops)
            ops = [op for op in ops if op.address in set(want)]
            fetched += len(self.take_ops(ops))
        theirs_missing = missing(response.addresses, mine)
        if theirs_missing:
            ops = [op for op in (self.dht.get_op(a) for a in theirs_missing) if op is not None]
            for i in range(0, len(ops), BATCH):
                push = wire.PublishRequest(tuple(_raw_op(op) for op in ops[i:i + BATCH]))
                await self.transport.request(peer, "publish", wire.encode_message(push), timeout=REQUEST_TIMEOUT)
            self.stats.pushed_by_gossip += len(ops)
        self.stats.fetched_by_gossip += fetched
        if fetched:
            self.validate_now()
        return fetched

    # -- the loops -------------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:  # type: ignore[no-untyped-def]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._validation_loop)
            nursery.start_soon(self._publish_loop)
            nursery.start_soon(self._gossip_loop)
            nursery.start_soon(self.countersigner.run)
            task_status.started()

    async def _validation_loop(self) -> None:
        while True:
            with trio.move_on_after(1.0):
                await self._wake_validate.wait()
            self._wake_validate = trio.Event()
            self.validate_now()
            if self.dht.waiting(limit=1) and await self.resolve_missing():
                self.validate_now()
            if self._warrants_out:
                await self.send_warrants()

    async def _publish_loop(self) -> None:
        while True:
            self.enqueue_new_records()
            await self.publish_once()
            if self._warrants_out:
                await self.send_warrants()
            with trio.move_on_after(self.publish_interval):
                await self._wake_publish.wait()
            self._wake_publish = trio.Event()

    async def _gossip_loop(self) -> None:
        rng = random.Random()
        while True:
            await trio.sleep(self.gossip_interval * (0.5 + rng.random()))
            await self.discover()
            peer = self.gossip_partner(rng)
            if peer is None:
                continue
            try:
                await self.hand_off()
                await self.gossip_with(peer)
            except (TransportError, CoreError) as e:
                log.info("gossip with %s failed: %s", peer, e)

    def gossip_partner(self, rng: random.Random) -> AgentId | None:
        """Mostly a fellow authority of something we hold (they share most of our data);
        sometimes anyone, so that separate neighbourhoods still meet."""
        peers = self.peers()
        candidates = [p for p in peers if p != self.me]
        if not candidates:
            return None
        held = self.dht.held_ops(lambda basis: True)
        if held and rng.random() < 0.75:
            op = self.dht.get_op(rng.choice(held)[0])
            if op is not None:
                fellows = [p for p in self.authorities(op.basis, peers) if p != self.me]
                if fellows:
                    return rng.choice(fellows)
        return rng.choice(candidates)

    async def hand_off(self, limit: int = BATCH) -> int:
        """Push integrated ops we hold but are no longer an authority for (the network
        grew or a partition healed) to their authorities, once each."""
        peers = self.peers()
        by_peer: dict[AgentId, list[Op]] = {}
        moved = 0
        for address, _ in self.dht.held_ops(lambda basis: True):
            if moved >= limit:
                break
            if address in self._handed_off:
                continue
            op = self.dht.get_op(address)
            if op is None or op.action.author == self.me:
                continue
            authorities = self.authorities(op.basis, peers)
            if self.me in authorities:
                continue
            self._handed_off.add(address)
            moved += 1
            for peer in authorities:
                by_peer.setdefault(peer, []).append(op)
        for peer, ops in by_peer.items():
            request = wire.PublishRequest(tuple(_raw_op(op) for op in ops))
            try:
                await self.transport.request(peer, "publish", wire.encode_message(request),
                                             timeout=REQUEST_TIMEOUT)
            except TransportError as e:
                log.info("hand-off to %s failed: %s", peer, e)
        return moved

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
            "stats": {k: (len(v) if isinstance(v, set) else v) for k, v in vars(self.stats).items()},
        }


def _raw_op(op: Op) -> wire.RawOp:
    return wire.RawOp(op.type.value, op.signed.data, op.signed.signature, op.entry.data if op.entry else None)


def _raw_record(record: Record) -> wire.RawRecord:
    return wire.RawRecord(record.signed.data, record.signed.signature, record.entry.data if record.entry else None)


def _checked_record(raw: wire.RawRecord) -> Record | None:
    """A record from a peer, if its signature verifies and its entry matches."""
    from node.core.chain import check_entry_address
    from node.core.records import Entry, SignedAction

    try:
        signed = SignedAction.from_bytes(raw.action, raw.signature)
        signed.verify_signature()
        entry = Entry.from_bytes(raw.entry) if raw.entry is not None else None
    except CoreError:
        return None
    if check_entry_address(signed.action, entry) is not None:
        return None
    return Record(signed, entry)
