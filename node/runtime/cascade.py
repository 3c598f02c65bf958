"""The cascade: reads that look locally first, then ask the authorities (Holochain's
cascade). A record by address, an agent's activity (its chain, verified), and the
dependencies waiting ops miss; and the "get" handler that answers other nodes' reads.

Queue: the DHT store's `op_waits` (ops Unresolved on missing addresses) and its undecided
warrants' warrantees, fetched by `resolve_missing`, once a second per author at most.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet

from dht import wire
from dht.transport import Transport, TransportError
from node.core.chain import verify_records
from node.core.cid import Cid
from node.core.errors import CoreError
from node.core.identity import AgentId
from node.core.ops import Op, OpType, produce_ops
from node.core.records import Record
from node.store.dht import DhtStore
from node.store.sqlite import Store

log = logging.getLogger("coledger.node")

GET_TIMEOUT = 8.0
_CHAIN_OPS = frozenset({OpType.REGISTER_AGENT_ACTIVITY})


class Cascade:
    """Reads of records and chains, from our chain, the DHT store, then the authorities."""

    def __init__(self, me: AgentId, chain: Store, dht: DhtStore, transport: Transport,
                 clock: Callable[[], int], *, members: AbstractSet[AgentId],
                 authorities: Callable[[bytes], list[AgentId]],
                 member: Callable[[AgentId], None],
                 take_ops: Callable[[Iterable[Op]], list[Cid]]) -> None:
        self.me = me
        self.chain = chain
        self.dht = dht
        self.transport = transport
        self.clock = clock
        self.members = members
        self.authorities = authorities
        self.member = member  # raises unless the peer is a member we talk to
        self.take_ops = take_ops  # stores ops from peers, to be validated
        self._fetched_at: dict[AgentId, int] = {}

    # -- local -------------------------------------------------------------------------

    def local_record(self, address: Cid) -> Record | None:
        """The record at an action address, or one whose entry is at `address`."""
        chain = self.chain
        return (chain.get_record(address) or self.dht.get_record(address)
                or chain.record_by_entry(address) or self.dht.record_by_entry(address))

    def activity_held(self, author: AgentId, since: int = 0) -> list[Record]:
        if author == self.me:
            return list(self.chain.records(start=since))
        return self.dht.activity(author, since)

    async def on_get(self, peer: AgentId, data: bytes) -> bytes:
        """The "get" handler: a record, or an agent's activity, as we hold it."""
        self.member(peer)
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

    # -- from the network --------------------------------------------------------------

    async def get(self, address: Cid) -> Record | None:
        """Local store first, then the address's authorities; a found record is checked
        (signature, address) and cached as ops to validate."""
        found = self.local_record(address)
        if found is not None:
            return found
        for peer in self.authorities(address.to_bytes()):
            if peer == self.me:
                continue
            records = await self.ask(peer, wire.GetRequest(address, "record"))
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
            raws = await self.ask(peer, wire.GetRequest(author, "agent_activity"))
            records = [r for r in (x.decoded() for x in raws) if r is not None]
            best = _longer(author, records, best)
            if first and best:
                break
        return best

    async def ask(self, peer: AgentId, request: wire.GetRequest) -> tuple[wire.RawRecord, ...]:
        """`peer`'s answer to a get, undecoded; none if it fails (a line in the log)."""
        try:
            data = await self.transport.request(
                peer, "get", wire.encode_message(request), timeout=GET_TIMEOUT
            )
            response = wire.decode_message(wire.GetResponse, data)
        except (TransportError, CoreError) as e:
            log.info("get from %s failed: %s", peer, e)
            return ()
        return response.records if response.found else ()

    # -- missing dependencies ----------------------------------------------------------

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
