"""The cascade: reads that look locally first, then ask the authorities (Holochain's
cascade). A record by address, an agent's activity (its chain, verified), the links
from a base (a quorum of its authorities' answers merged, each link checked), and the
dependencies waiting ops miss; and the "get" and "links" handlers that answer other
nodes' reads.

Queue: the DHT store's `op_waits` (ops Unresolved on missing addresses) and its undecided
warrants' warrantees, fetched by `resolve_missing`, once a second per author at most.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet

import trio

from dht import link_wire, wire
from dht.transport import Transport, TransportError
from node.core.chain import verify_records
from node.core.cid import Cid
from node.core.errors import CoreError
from node.core.identity import AgentId
from node.core.links import MAX_LINKS, Link, LinkPage, merge_deletes
from node.core.ops import Op, OpType, produce_ops
from node.core.records import Record
from node.store.dht import DhtStore
from node.store.sqlite import Store

log = logging.getLogger("coledger.node")

GET_TIMEOUT = 8.0
# A read of links stops at READ_QUORUM answers from the base's authorities (our own store
# is one when we are one of them), asking one more each HEDGE seconds or failure until it
# has them: a link that reached one authority alone may be missed until gossip brings it
# to the others (`every=True` asks them all and merges every answer).
READ_QUORUM = 2
HEDGE = 0.25
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

    # -- links -------------------------------------------------------------------------

    async def on_links(self, peer: AgentId, data: bytes) -> bytes:
        """The "links" handler: a page of the links from a base held here (none of a
        blocked author), within a byte budget."""
        self.member(peer)
        request = link_wire.decode_links(link_wire.LinksRequest, data)
        held = self.dht.get_links(
            request.base, request.link_type, request.tag_prefix,
            include_deleted=request.include_deleted, after=request.after, limit=request.limit)
        more = len(held) >= request.limit
        raws: list[link_wire.RawLink] = []
        size = 0
        for link in held:
            if link.author in self.dht.blocked_agents:
                continue
            raw = link_wire.RawLink.of(link)
            size += raw.size
            if size > link_wire.RESPONSE_BUDGET:
                more = True
                break
            raws.append(raw)
        return link_wire.encode_links(link_wire.LinksResponse(tuple(raws), more))

    async def get_links(self, base: Cid, link_type: str | None = None, tag_prefix: bytes = b"",
                        *, include_deleted: bool = False, after: Cid | None = None,
                        limit: int = MAX_LINKS, every: bool = False) -> LinkPage:
        """The links from `base` (of `link_type`, any if None; tag starting with
        `tag_prefix`), in address order after `after`, at most `limit`: the union of what
        our own store and READ_QUORUM of the base's authorities hold (every authority if
        `every`), each link checked (its CreateLink signed by its author and naming `base`:
        a forged one is dropped), minus the links a checked delete removed (unless
        `include_deleted`)."""
        limit = max(1, min(limit, MAX_LINKS))
        found: dict[Cid, Link] = {}
        cutoff: bytes | None = None  # an answer with more: nothing is known past its end

        def take(links: Iterable[Link], more: bool) -> None:
            nonlocal cutoff
            kept = [x for x in links if x.matches(link_type, tag_prefix)
                    and (after is None or x.address.to_bytes() > after.to_bytes())]
            for link in kept:
                held = found.get(link.address)
                found[link.address] = link if held is None else merge_deletes(held, link)
            if more and kept:
                end = max(x.address.to_bytes() for x in kept)
                cutoff = end if cutoff is None else min(cutoff, end)

        local = self.dht.get_links(base, link_type, tag_prefix, include_deleted=True,
                                   after=after, limit=limit)
        take(local, len(local) >= limit)
        request = link_wire.LinksRequest(base, link_type, tag_prefix, True, after, limit)
        authorities = self.authorities(base.to_bytes())
        peers = [p for p in authorities if p != self.me]
        needed = len(peers) if every else READ_QUORUM - (self.me in authorities)
        # the same bytes are checked once, and not at all when our store holds them (it
        # holds only links it validated)
        verified: dict[link_wire.RawLink, Link | None] = {link_wire.RawLink.of(x): x for x in local}
        for peer, answer in await self._links_answers(peers, request, needed):
            for raw in answer.links:
                if raw not in verified:
                    verified[raw] = raw.checked(base)
            links = [x for x in (verified[raw] for raw in answer.links) if x is not None]
            if len(links) < len(answer.links):
                log.info("links from %s: %d forged, dropped", peer,
                         len(answer.links) - len(links))
            take(links, answer.more)
        known = sorted((x for x in found.values()
                        if cutoff is None or x.address.to_bytes() <= cutoff),
                       key=lambda x: x.address.to_bytes())
        page = known[:limit]
        more = cutoff is not None or len(known) > limit
        blocked = self.dht.blocked_agents
        return LinkPage(tuple(x for x in page if x.author not in blocked
                              and (include_deleted or not x.deleted)),
                        page[-1].address if more and page else None)

    async def _links_answers(self, peers: list[AgentId], request: link_wire.LinksRequest,
                             needed: int) -> list[tuple[AgentId, link_wire.LinksResponse]]:
        """The first `needed` answers of `peers` (nearest first) to `request`: `needed`
        asked at once, one more on each failure and each HEDGE seconds without enough
        answers (a slow or silent authority costs HEDGE, not GET_TIMEOUT); the rest
        cancelled once there are enough. Fewer when the peers run out."""
        answers: list[tuple[AgentId, link_wire.LinksResponse]] = []
        if needed <= 0 or not peers:
            return answers
        waiting = iter(peers)

        async with trio.open_nursery() as nursery:
            def ask_next() -> bool:
                peer = next(waiting, None)
                if peer is not None:
                    nursery.start_soon(ask, peer)
                return peer is not None

            async def ask(peer: AgentId) -> None:
                answer = await self._ask_links(peer, request)
                if answer is None:
                    ask_next()
                    return
                answers.append((peer, answer))
                if len(answers) >= needed:
                    nursery.cancel_scope.cancel()

            for _ in range(needed):
                ask_next()
            while True:  # (each ask bounded by GET_TIMEOUT)
                await trio.sleep(HEDGE)
                if not ask_next():
                    break
        return answers

    async def _ask_links(self, peer: AgentId,
                         request: link_wire.LinksRequest) -> link_wire.LinksResponse | None:
        """`peer`'s page of links, undecoded; None if the request fails (a line in the log)."""
        try:
            data = await self.transport.request(
                peer, "links", link_wire.encode_links(request), timeout=GET_TIMEOUT)
            return link_wire.decode_links(link_wire.LinksResponse, data)
        except (TransportError, CoreError) as e:
            log.info("links from %s failed: %s", peer, e)
            return None

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
