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
from dht.gossip import (
    Bucket,
    Fingerprint,
    addresses_in,
    differing_buckets,
    fingerprints,
    missing,
    shared_scope,
)
from dht.transport import NotServed, PeerUnreachable, Transport, TransportError, peer_in
from node.core.chain import verify_records
from node.core.cid import Cid
from node.core.clock import now_us
from node.core.errors import CoreError, DecodeError
from node.core.identity import AgentId, AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.outcome import Invalid
from node.core.records import Record, SignedAction
from node.runtime.countersign import Countersigner
from node.runtime.held import SharedOps
from node.runtime.hello import Hello, check_hello, fitting
from node.runtime.integrate import ValidationWorkflow, WorkflowReport
from node.runtime.ledger import Ledger
from node.runtime.logs import event as log_event
from node.runtime.population import Population
from node.runtime.recovery import OwnChain
from node.store.dht import INTEGRATED, REJECTED
from node.store.publish import Outgoing, PublishQueue
from validation.receipts import ValidationReceipt, verify_receipt
from validation.sys import counterfeit, decode_op
from validation.warrants import ForkEvidence, Warrant
from zomes.registry import countersign_hooks

log = logging.getLogger("coledger.node")

BATCH = 400
_CHAIN_OPS = frozenset({OpType.REGISTER_AGENT_ACTIVITY})
REQUEST_TIMEOUT = 20.0
GET_TIMEOUT = 8.0
DIAL_INTERVAL_US = 15_000_000
STORE_POLL = 0.25
"""Seconds between looks for records another process wrote to our chain."""
IDLE_WAKE = 5.0
"""Longest sleep of the validation loop when nothing is due and nothing waits."""
ROUNDS = 2
"""Publish rounds out at once."""
ROUND_HOLD_US = int((REQUEST_TIMEOUT + 5) * 1_000_000)
"""How long a round's ops are held back from other rounds (it ends before that)."""
PUBLISHED_META = "published_upto_seq"
AUDIT_RECORDS = 100
"""Own records the audit of published ops looks at per gossip round."""
AUDIT_LAP_US = 30_000_000
"""Least time between the starts of two laps of that audit round the chain."""
CAUGHT_UP_SAY_US = 10_000_000
"""Least time between two "publish caught up" lines at INFO."""
MAX_REFUSED = 1024
"""Refused peers remembered: a stranger makes new peer ids at will (one forgotten is
refused again when it says hello)."""
MAX_ADDRESSES = 4096
"""Peers' addresses learnt from hellos, at most (a member could name peers without end)."""


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
                 publish_interval: float = 0.25, auto_accept_from: Iterable[AgentId] = (),
                 request_timeout: float = REQUEST_TIMEOUT) -> None:
        self.ledger = ledger
        self.request_timeout = request_timeout  # seconds for any request to a peer
        self.key = key
        self.me = key.agent_id
        self.transport = transport
        self.clock = clock
        self.dht = ledger.dht
        self.deps = ledger.deps()
        self.workflow = ValidationWorkflow(self.dht, self.deps, ledger.validator, key)
        self.queue = PublishQueue(ledger.agent.store)
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
        self._published_seq: int | None = None  # the chain head last queued for publishing
        self._audit_seq = 0  # where the audit of published ops goes on from
        self._audit_lap_us = 0  # when its last lap began
        self._said_caught_up_us = -CAUGHT_UP_SAY_US  # when "publish caught up" was last said
        self._unsaid_caught_up = False  # ops were confirmed since
        self.joined: set[AgentId] = set()  # peers whose hello was admitted
        self._sending: dict[AgentId, trio.StrictFIFOLock] = {}  # publishes to a peer, in order
        self.lags_us: deque[int] = deque(maxlen=10_000)  # commit noticed -> R receipts
        self.population = Population(self.me, transport, self.redundancy)
        self.shared = SharedOps(self.me, self.dht)
        self._warrants_out: list[Warrant] = []
        self.own_chain = OwnChain(self)
        for name, handler in (("hello", self._on_hello), ("publish", self._on_publish),
                              ("fetch", self._on_fetch), ("get", self._on_get),
                              ("gossip", self._on_gossip), ("warrant", self._on_warrant)):
            transport.set_handler(name, handler)
        transport.set_peer_filter(
            lambda peer: peer not in self.blocked and peer not in self.stats.refused_peers
        )
        # until a peer's hello shows a membrane proof, the transport holds it to the
        # stranger limits (small frames, few streams, a deadline to greet)
        transport.set_trust(lambda peer: peer in self.members)
        store = self.ledger.agent.store
        self.countersigner = Countersigner(
            key, clock, requests=transport, member=self._member, ledger=self.ledger,
            chain=store, sessions=store.sessions, app=countersign_hooks()(self.ledger, store),
            activity=self.agent_activity, written=self.enqueue_new_records,
            auto_accept_from=tuple(auto_accept_from))
        transport.set_handler("countersign", self.countersigner.on_request)

    def _own_avp(self) -> SignedAction:
        avp = self.ledger.own_avp()
        if avp is None:
            raise CoreError("this agent has not joined a network")
        return avp

    # -- membership ------------------------------------------------------------------------

    def _hello_bytes(self, to: AgentId) -> bytes:
        """Our hello to `to`: the member peers we know only if `to` is a member (a
        stranger learns nothing of the members before it shows its proof)."""
        mine = (self.me, tuple(self.transport.listen_addrs()[:8]))
        peers = tuple(
            (p, self.addresses.get(p, ())[:8]) for p in self.transport.connected_peers()
            if p in self.members and self.addresses.get(p)
        ) if to in self.members else ()
        return Hello(self._hello.avp, fitting((mine, *peers[:200]))).to_bytes()

    def _admit(self, peer: AgentId, hello: Hello) -> None:
        problem = check_hello(hello, peer, network_id=self.network_id, progenitor=self.progenitor)
        if problem is not None:
            log.info("refused peer %s: %s", peer, problem,
                     extra=log_event("peer_refused", peer=peer, reason=problem))
            self._note_refused(peer)
            raise NotAMember(f"{peer} is not a member: {problem}")
        if peer not in self.joined:
            self.joined.add(peer)
            log.info("peer %s joined", peer, extra=log_event("peer_joined", peer=peer))
        self.members.add(peer)
        for other, addrs in hello.peers:
            if other == peer and addrs:
                self.addresses[peer] = addrs  # its own word on where it listens
            elif other != self.me and addrs and len(self.addresses) < MAX_ADDRESSES:
                self.addresses.setdefault(other, addrs)

    def _admit_bytes(self, peer: AgentId, data: bytes) -> None:
        """`_admit` of a peer's hello bytes: one that does not decode shows no valid
        membrane proof either (NotAMember), whatever is inside."""
        try:
            hello = Hello.from_bytes(data)
        except DecodeError as e:
            self.stats.refused_peers.add(peer)
            raise NotAMember(f"{peer} is not a member: its hello does not decode: {e}") from None
        self._admit(peer, hello)

    async def _on_hello(self, peer: AgentId, data: bytes) -> bytes:
        try:
            self._admit_bytes(peer, data)
        except NotAMember:
            self._disconnect_soon(peer)
            raise
        return self._hello_bytes(peer)

    def _disconnect_soon(self, peer: AgentId) -> None:
        """Refused in a handler: the discovery loop closes the connection."""
        self._to_drop.add(peer)

    async def _refuse(self, peer: AgentId, why: str) -> None:
        log.log(logging.DEBUG if peer in self.stats.refused_peers else logging.INFO,  # (said once)
                "refused peer %s: %s", peer, why,
                extra=log_event("peer_refused", peer=peer, reason=why))
        self._note_refused(peer)
        self._to_drop.discard(peer)
        await self.transport.disconnect(peer)

    def _note_refused(self, peer: AgentId) -> None:
        """Remember a refused peer, forgetting some when there are more than MAX_REFUSED."""
        refused = self.stats.refused_peers
        if peer not in refused:
            while len(refused) >= MAX_REFUSED:
                refused.pop()
            refused.add(peer)

    async def join(self, bootstrap: Iterable[str]) -> None:
        """Connect to the bootstrap addresses. They are kept with the addresses peers
        tell us of, so discovery dials them again while not connected (a node started
        before its bootstrap peer joins when that peer comes)."""
        for address in dict.fromkeys(bootstrap):
            try:
                peer = peer_in(address)
            except PeerUnreachable as e:
                log.warning("could not join %s: %s", address, e)
                continue
            self.addresses.setdefault(peer, (address,))
            self._dialed_at[peer] = self.clock()
            await self.connect(address)

    async def connect(self, multiaddr: str) -> AgentId | None:
        """Connect and shake hands; None (and a log line) if it fails or is no member."""
        try:
            peer = await self.transport.connect(multiaddr)
            # greeted here: discovery leaves it alone for a while (a peer that refused
            # our hello gets the time to greet us and refuse us in turn)
            self._dialed_at[peer] = self.clock()
            await self.greet(peer)
        except NotServed:
            log.warning("could not join %s: it serves none of this network's protocols"
                        " (a node of another network?)", multiaddr)
            return None
        except (TransportError, CoreError, NotAMember) as e:
            log.warning("could not join %s: %s", multiaddr, e)
            return None
        self.addresses.setdefault(peer, (multiaddr,))
        return peer

    async def greet(self, peer: AgentId) -> None:
        answer = await self.transport.request(
            peer, "hello", self._hello_bytes(peer), timeout=self.request_timeout
        )
        try:
            self._admit_bytes(peer, answer)
        except NotAMember:
            await self.transport.disconnect(peer)
            raise

    async def discover(self) -> None:
        """Connect to the peers others told us about, and the bootstrap ones: those not
        connected, each tried at most every DIAL_INTERVAL seconds (a dead peer costs
        little); and greet the connected peers that never said hello: one that answers
        with no valid membrane proof, or speaks none of this network's protocols, is
        refused (one that cannot be reached is only left: it may be a member whose
        connection dropped)."""
        now = self.clock()
        if len(self._dialed_at) > 256:  # (a time older than the interval says nothing)
            self._dialed_at = {p: t for p, t in self._dialed_at.items()
                               if now - t <= DIAL_INTERVAL_US}
        connected = set(self.transport.connected_peers()) if self.addresses else set()
        refused = self.blocked | self.stats.refused_peers
        todo = [(p, a) for p, a in self.addresses.items()
                if p not in connected and p not in refused and p != self.me
                and now - self._dialed_at.get(p, 0) > DIAL_INTERVAL_US][:16]
        for peer, addrs in todo:
            self._dialed_at[peer] = now
            for addr in addrs:
                if await self.connect(addr) is not None:
                    break
        for peer in list(self._to_drop):
            await self._refuse(peer, "no valid membrane proof")
        strangers = set(self.transport.connected_peers()) - self.members - self.blocked
        for peer in strangers - self.stats.refused_peers:
            if now - self._dialed_at.get(peer, 0) > DIAL_INTERVAL_US:
                self._dialed_at[peer] = now
                try:
                    await self.greet(peer)  # connected to us but never said hello
                except (NotServed, NotAMember) as e:
                    # it speaks none of this network's protocols, or has no valid proof
                    await self._refuse(peer, str(e))
                except (TransportError, CoreError) as e:
                    log.info("could not greet %s: %s", peer, e)

    def _member(self, peer: AgentId) -> None:
        if peer not in self.members:
            raise NotAMember(f"{peer} has not shown a membrane proof (say hello first)")
        if peer in self.blocked:
            raise NotAMember(f"{peer} is blocked")

    def _population(self) -> Population:
        self.population.refresh(self.members, self.blocked)
        return self.population

    def peers(self) -> list[AgentId]:
        """Member peers we can reach, and ourselves: the population authorities come from."""
        return self._population().peers()

    def authorities(self, basis: bytes) -> list[AgentId]:
        """The R counted peers closest to `basis` (all of them when fewer)."""
        return self._population().authorities(basis)

    def receipts_needed(self) -> int:
        """min(R, the peers we count, ourselves included): the receipts from an op's
        current authorities that confirm it published; one of them must be another
        member's (`_publish_round`): an op only its author holds is not published."""
        return self._population().size_at_most(self.redundancy)

    def publish_state(self) -> dict[str, int]:
        """What `sync` reports: ops still short of their receipts, the receipts each
        needs, and the other members we can reach."""
        self.enqueue_new_records()
        return {"pending": self.queue.pending(), "receipts_needed": self.receipts_needed(),
                "peers": len(self.peers()) - 1}

    # -- validation ------------------------------------------------------------------------

    def validate_now(self) -> WorkflowReport:
        report = self.workflow.run(self.clock())
        if report.own_forks:
            self.own_chain.note((s for pair in report.own_forks for s in pair),
                                "a fork of our chain in our own validation")
        if report.warrants:
            self.blocked |= set(self.dht.blocked())
        for warrant in report.warrants:
            self._warrants_out.append(warrant)
        if report.warrants:
            self._wake_publish.set()
        return report

    def take_ops(self, ops: Iterable[Op]) -> list[Cid]:
        """Store ops from peers, to be validated; blocked authors' ops and counterfeits
        (validation.sys.counterfeit: they would squat on the genuine op's address) are
        dropped."""
        fresh = [
            op for op in ops
            if op.action.author not in self.blocked and not self._counterfeit(op)
        ]
        added = self.dht.add_ops(fresh, self.clock())
        if added:
            self._wake_validate.set()
            ours = [op.signed for op in fresh if op.action.author == self.me]
            if ours:  # (a peer's data naming actions of ours our chain may lack)
                self.own_chain.note(ours, "ops of ours from a peer")
        return added

    def _counterfeit(self, op: Op) -> bool:
        """`counterfeit(op)`, each action's signature verified once (the validator's memo
        then skips verifying it again)."""
        signed, validator = op.signed, self.ledger.validator
        verified = validator.verified(signed, self.deps)
        reason = counterfeit(op, signature_known_good=verified)
        if reason is not None:
            log.info("dropped a counterfeit op %s: %s", op.address, reason)
            return True
        if not verified:
            validator.note_verified(signed, self.deps)
        return False

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
        if len(self._fetched_at) > 256:
            self._fetched_at = {a: t for a, t in self._fetched_at.items() if now - t < 1_000_000}
        for author in list(authors)[:8]:
            if now - self._fetched_at.get(author, 0) < 1_000_000:
                continue
            self._fetched_at[author] = now
            records = await self.agent_activity(author, first=True)
            ops = [op for r in records for op in produce_ops(r) if op.type in _CHAIN_OPS]
            fetched += len(self.take_ops(ops))
        for address in list(singles)[:32]:
            if self.dht.get_record(address) is None and await self.get(address) is not None:
                fetched += 1
        for warrantee in self.dht.undecided_warrantees(limit=8):
            # the longest verified chain, not the first answer: the accused may withhold
            if warrantee in authors or now - self._fetched_at.get(warrantee, 0) < 1_000_000:
                continue
            self._fetched_at[warrantee] = now
            records = await self.agent_activity(warrantee)
            ops = [op for r in records for op in produce_ops(r) if op.type in _CHAIN_OPS]
            fetched += len(self.take_ops(ops))
        return fetched

    def retry_warrants(self) -> int:
        """Judge again the warrants this node could not judge when they came."""
        decided = self.workflow.retry_warrants(self.clock())
        if decided:
            self.blocked |= set(self.dht.blocked())
        return decided

    # -- handlers --------------------------------------------------------------------------

    async def _on_publish(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        request = wire.decode_message(wire.PublishRequest, data)
        ops = self._decode_ops(request.ops)
        if self.take_ops(ops):  # (a hand-off or a retry often brings only ops we hold)
            self.validate_now()
        outcomes = self.workflow.outcomes([op.address for op in ops])
        results, receipts = [], []
        for op in ops:
            held = outcomes.get(op.address)
            state = None if held is None else held.state
            status: wire.OpStatus = (
                "integrated" if state == INTEGRATED else "rejected" if state == REJECTED
                else "pending")
            results.append(wire.OpResult(op.address, status,
                                         held.reason if held and state == REJECTED else None))
            if held is not None and held.receipt is not None:
                receipts.append(held.receipt)
        return wire.encode_message(wire.PublishResponse(tuple(results), tuple(receipts)))

    async def _on_fetch(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        request = wire.decode_message(wire.FetchRequest, data)
        ops = [self.dht.get_op(a) for a in request.addresses]
        raw = tuple(wire.RawOp.of(op) for op in ops if op is not None)
        return wire.encode_message(wire.FetchResponse(raw))

    async def _on_get(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        request = wire.decode_message(wire.GetRequest, data)
        records: list[Record] = []
        if request.kind == "agent_activity":
            assert isinstance(request.target, AgentId)
            records = self.activity_held(request.target, request.since)
        else:
            assert isinstance(request.target, Cid)
            found = self.local_record(request.target)
            records = [found] if found is not None else []
        return wire.encode_message(
            wire.GetResponse(bool(records), tuple(wire.RawRecord.of(r) for r in records))
        )

    async def _on_gossip(self, peer: AgentId, data: bytes) -> bytes:
        self._member(peer)
        request = wire.decode_message(wire.GossipRequest, data)
        if request.fingerprints:
            mine, addresses = self._shared_with(peer, request.redundancy, request.now_us)
            differ = differing_buckets(mine, dict(request.fingerprints))
            return wire.encode_message(wire.GossipResponse(tuple(differ), tuple(addresses(differ))))
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
            if warrant.warrantee == self.me:
                self._warranted(warrant)
            verdicts.append(self.workflow.accept_warrant(warrant, self.clock()))
            log.info("warrant from %s against %s: %s", peer, warrant.warrantee, verdicts[-1],
                     extra=log_event("warrant_received", sender=peer, issuer=warrant.issuer,
                                 warrantee=warrant.warrantee, verdict=verdicts[-1]))
        self.blocked |= set(self.dht.blocked())
        return wire.encode_message(wire.WarrantMessage(()))

    def _warranted(self, warrant: Warrant) -> None:
        """A warrant about us: say so; a fork of ours flags the home (never ends the node)."""
        evidence = warrant.evidence
        log.error("warranted by %s: %s", warrant.issuer, type(evidence).__name__)
        if isinstance(evidence, ForkEvidence):
            self.own_chain.note(evidence.pair, f"a fork warrant from {warrant.issuer}")

    # -- reads -------------------------------------------------------------------------------

    def local_record(self, address: Cid) -> Record | None:
        """The record at an action address, or one whose entry is at `address`."""
        store = self.ledger.agent.store
        return (store.get_record(address) or self.dht.get_record(address)
                or store.record_by_entry(address) or self.dht.record_by_entry(address))

    def activity_held(self, author: AgentId, since: int = 0) -> list[Record]:
        if author == self.me:
            return list(self.ledger.agent.store.records(start=since))
        return self.dht.activity(author, since)

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
                record = raw.checked()
                if record is None:
                    continue
                if record.address == address or (record.entry and record.entry.address == address):
                    # cached as the one op it is the answer to, validated like any other
                    kind = OpType.STORE_RECORD if record.address == address else OpType.STORE_ENTRY
                    self.take_ops(op for op in produce_ops(record) if op.type is kind)
                    return record
        return None

    async def agent_activity(self, author: AgentId, first: bool = False) -> list[Record]:
        """An agent's whole chain, from its agent-activity authorities, verified: the
        longest verified answer (an author or an authority may withhold the end of it).
        `first`: the first verified answer of a peer, the author asked first (to fetch
        what we lack of it: the ops are validated anyway)."""
        best = [] if first else _longer(author, self.activity_held(author), [])
        sources = self.authorities(author.to_bytes())
        if author in self.members and author not in sources:
            sources.append(author)  # the author holds its whole chain; all of it is signed
        sources.sort(key=lambda p: p != author)  # the author first
        for peer in sources:
            if peer == self.me:
                continue
            raws = await self._ask(peer, wire.GetRequest(author, "agent_activity"))
            records = [r for r in (x.decoded() for x in raws) if r is not None]
            best = _longer(author, records, best)
            if first and best:
                break
        return best

    async def flows(
        self, address: str, backwards: bool, max_agents: int = 64
    ) -> list[dict[str, object]]:
        """Trace or track across chains: start from our own, fetch the chains of the
        agents our events name (and theirs, breadth first), walk the joined flows."""
        from node.runtime.ledger import describe_node
        from zomes.valueflows.coordinator import chain_view_of, flow_index, merged_view
        from zomes.valueflows.trace import NotInIndex

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
            raise CoreError(
                f"{address} is not a resource, event or process known here"
                " or to the chains it names"
            ) from None
        return [describe_node(n, view) for n in nodes]

    async def _ask(self, peer: AgentId, request: wire.GetRequest) -> tuple[wire.RawRecord, ...]:
        try:
            data = await self.transport.request(
                peer, "get", wire.encode_message(request), timeout=GET_TIMEOUT
            )
            response = wire.decode_message(wire.GetResponse, data)
        except (TransportError, CoreError) as e:
            log.info("get from %s failed: %s", peer, e)
            return ()
        return response.records if response.found else ()

    # -- publishing ------------------------------------------------------------------------

    def enqueue_new_records(self) -> int:
        """Queue the ops of records the chain gained since we last looked."""
        store = self.ledger.agent.store
        head = store.head()  # (one indexed read when nothing is new: polled 4 times a second)
        if head is None or head.seq == self._published_seq or self.own_chain.behind:
            return 0
        raw = store.get_meta(PUBLISHED_META)
        start = int(raw) + 1 if raw else 0
        if start > head.seq + 1:
            start = self._rolled_back_unseen(head.seq, start - 1)
        records = list(store.records(start=start))
        if not records:
            self._published_seq = head.seq
            return 0
        ops = [op for r in records for op in produce_ops(r)]
        self.queue.enqueue(ops, self.clock())
        store.set_meta(PUBLISHED_META, str(records[-1].action.seq).encode())
        self._published_seq = records[-1].action.seq
        self._wake_publish.set()
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

    def audit_published(self, limit: int = AUDIT_RECORDS) -> int:
        """Queue again our published ops none of whose validators is among their
        current authorities, nor ourselves: they all left at once, before gossip could
        pass the op on, and nobody holds it but our chain. (Fewer holders than R, or a
        node that just joined, are gossip's and hand-off's to heal.) `limit` records a
        call, going on round the chain call after call; a lap starts at most every
        AUDIT_LAP_US. Returns the ops queued."""
        store = self.ledger.agent.store
        raw = store.get_meta(PUBLISHED_META)
        if raw is None:
            return 0
        upto = int(raw)
        population = self._population()
        start = self._audit_seq if self._audit_seq <= upto else 0
        if start == 0:
            now = self.clock()
            if now - self._audit_lap_us < AUDIT_LAP_US:
                return 0
            self._audit_lap_us = now
        records: list[Record] = []
        for record in store.records(start=start):
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
            self._wake_publish.set()
        return queued

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
        needed = self.receipts_needed()
        addresses = [out.op.address for out in due]
        receipted = self.queue.validators(addresses)  # (not asked again)
        by_peer: dict[AgentId, list[Op]] = {}
        # receipts count from the op's current authorities only (a validator that left
        # holds it for nobody)
        counted: dict[Cid, set[bytes]] = {}
        for out in due:
            authorities = self.authorities(out.op.basis)
            counted[out.op.address] = {p.to_bytes() for p in authorities}
            for peer in authorities:
                if peer.to_bytes() not in receipted[out.op.address]:
                    by_peer.setdefault(peer, []).append(out.op)
        local = by_peer.pop(self.me, [])
        if local:  # we are an authority for these: our own receipts count
            self.take_ops(local)
            self.validate_now()
            self.workflow.outcomes([op.address for op in local])
        async with trio.open_nursery() as nursery:
            for peer, ops in by_peer.items():
                nursery.start_soon(self._publish_in_order, peer, ops)
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
        self._unsaid_caught_up |= bool(done)
        self._say_caught_up()
        return len(done)

    def _say_caught_up(self) -> None:
        """Say that every op published has its receipts, once it is so after a round that
        confirmed some: at most once a CAUGHT_UP_SAY_US (a node keeping up with its
        commits catches up every round), late rather than never (the publish loop asks
        again)."""
        now = self.clock()
        if now - self._said_caught_up_us < CAUGHT_UP_SAY_US or self.queue.pending():
            return
        self._said_caught_up_us, self._unsaid_caught_up = now, False
        log.info("publish caught up: %d ops published", self.stats.published_ops,
                 extra=log_event("publish_caught_up", published=self.stats.published_ops))

    async def _publish_in_order(self, peer: AgentId, ops: list[Op]) -> None:
        """A peer's batches one after another, and after those of rounds before: an
        authority given a chain's later ops first could not validate them yet (trio runs
        concurrent tasks in no fixed order) and they would wait for a retry."""
        lock = self._sending.setdefault(peer, trio.StrictFIFOLock())
        async with lock:
            for i in range(0, len(ops), BATCH):
                await self._publish_to(peer, ops[i:i + BATCH])

    async def _publish_to(self, peer: AgentId, ops: list[Op]) -> None:
        request = wire.PublishRequest(tuple(wire.RawOp.of(op) for op in ops))
        try:
            data = await self.transport.request(
                peer, "publish", wire.encode_message(request), timeout=self.request_timeout
            )
            response = wire.decode_message(wire.PublishResponse, data)
        except (TransportError, CoreError) as e:
            log.info("publish to %s failed: %s", peer, e)
            return
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
        warrants, self._warrants_out = self._warrants_out, []
        for warrant in warrants:
            sent = self.stats.warrants_sent
            data = wire.encode_message(wire.WarrantMessage((warrant.to_bytes(),)))
            targets = set(self.authorities(warrant.basis)) | set(self.transport.connected_peers())
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

    # -- gossip ------------------------------------------------------------------------------

    def _shared_with(self, peer: AgentId, redundancy: int, now_us: int) -> tuple[
            dict[Bucket, Fingerprint], Callable[[Iterable[Bucket]], list[Cid]]]:
        """Our fingerprints of the ops both we and `peer` are authorities for, by our own
        view of the population, and a way to list their addresses in some buckets. From
        the running sums (node/runtime/held.py) unless `peer` is not one we count or the
        request counts another redundancy (then from the store, O(ops held))."""
        population = self._population()
        if population.counts(peer) and redundancy == self.redundancy:
            shared = self.shared
            shared.refresh(population, len(self.blocked), self.clock())
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
            ops = self._decode_ops(wire.decode_message(wire.FetchResponse, answer).ops)
            ops = [op for op in ops if op.address in wanted]
            fetched += len(self.take_ops(ops))
        theirs_missing = missing(response.addresses, mine)
        if theirs_missing:
            ops = [op for op in (self.dht.get_op(a) for a in theirs_missing) if op is not None]
            for i in range(0, len(ops), BATCH):
                push = wire.PublishRequest(tuple(wire.RawOp.of(op) for op in ops[i:i + BATCH]))
                await self.transport.request(
                    peer, "publish", wire.encode_message(push), timeout=self.request_timeout
                )
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
            if waiting and await self.resolve_missing():
                self.validate_now()
            if waiting:
                self.retry_warrants()
            if self._warrants_out:
                await self.send_warrants()
            # while ops wait on missing dependencies, fetch again within a second
            longest = 1.0 if waiting else IDLE_WAKE
            with trio.move_on_after(self._seconds_until(self.dht.next_due_us(), longest)):
                await self._wake_validate.wait()
            self._wake_validate = trio.Event()

    async def _publish_loop(self) -> None:
        """Wakes on a commit or a warrant, when a round ends or the next op is due for a
        retry, and every STORE_POLL seconds to notice records another process wrote;
        rounds are at least `publish_interval` apart unless woken. Up to ROUNDS rounds
        are out at once, so that new commits need not wait for the slowest authority
        of the round before (under load, commits gather into fewer, larger rounds)."""
        out = [0]

        async def publish_round() -> None:
            try:
                await self.publish_once()
            finally:
                out[0] -= 1
                self._wake_publish.set()

        async with trio.open_nursery() as rounds:
            while True:
                self.enqueue_new_records()
                due_us = self.queue.next_due_us()
                if due_us is not None and due_us <= self.clock() and out[0] < ROUNDS:
                    out[0] += 1
                    rounds.start_soon(publish_round)
                if self._warrants_out:
                    await self.send_warrants()
                if self._unsaid_caught_up:
                    self._say_caught_up()
                wait = self._seconds_until(due_us, STORE_POLL)
                with trio.move_on_after(max(self.publish_interval, wait)):
                    await self._wake_publish.wait()
                self._wake_publish = trio.Event()

    async def _gossip_loop(self) -> None:
        rng = random.Random()
        while True:
            await trio.sleep(self.gossip_interval * (0.5 + rng.random()))
            await self.discover()
            try:
                await self.own_chain.maybe_check()
            except CoreError as e:
                log.warning("checking our chain against the network failed: %s", e)
            self.audit_published()
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
        population = self._population()
        self.shared.refresh(population, len(self.blocked), self.clock())
        fellows = self.shared.fellows()
        if fellows and rng.random() < 0.75:
            return rng.choice(fellows)
        # the peer nearest a random point of the keyspace (not O(peers) to pick)
        anyone = [p for p in population.nearest(rng.randbytes(32), 2) if p != self.me]
        return anyone[0] if anyone else None

    async def hand_off(self, limit: int = BATCH) -> int:
        """Push integrated ops we hold but are no longer an authority for (the network
        grew or a partition healed) to their authorities, once each."""
        population = self._population()
        self.shared.refresh(population, len(self.blocked), self.clock())
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
            request = wire.PublishRequest(tuple(wire.RawOp.of(op) for op in ops))
            try:
                await self.transport.request(peer, "publish", wire.encode_message(request),
                                             timeout=self.request_timeout)
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
            "behind": self.own_chain.status(),
            "stats": {
                k: (len(v) if isinstance(v, set) else v) for k, v in vars(self.stats).items()
            },
        }


def _longer(author: AgentId, records: list[Record], best: list[Record]) -> list[Record]:
    """`records`, verified as `author`'s chain from seq 0, if longer than `best`; else
    `best` (a shorter answer is not verified at all)."""
    if len(records) <= len(best):
        return best
    try:
        verified = list(verify_records(records))
    except CoreError:
        return best
    return verified if verified[0].action.author == author else best
