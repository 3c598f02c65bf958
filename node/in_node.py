"""The front door inside a running node: the Client's network operations done on the `Node`
itself, which its socket serves (node/runtime/rpc.py checks each request against the
method's signature; node/client.py's SocketClient calls them). The method names, their
parameters and the JSON they answer are the socket's protocol: keep them as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import trio

from node.core.cid import Cid
from node.core.errors import LocalError
from node.core.identity import AgentId
from node.core.jsonview import record_json
from node.core.links import MAX_LINKS
from node.in_node_writes import request_of, write_methods
from node.own_view import derived, own_view
from node.runtime.node import Node
from node.runtime.socket_client import MAX_GET_MANY
from zomes.valueflows.agreement_hook import AgreementRequest
from zomes.valueflows.agreements import AGREEMENT_TYPE
from zomes.valueflows.chain_views import chain_view_of
from zomes.valueflows.coordinator import EventRequest, inventory
from zomes.valueflows.network_trace import joined, network_flows
from zomes.valueflows.offers import (
    MAX_PAGES,
    Listed,
    first_reads,
    later_reads,
    listing_base,
    own_listed,
    proposal_rows,
    take_links,
)
from zomes.valueflows.proposals import PROPOSAL_LINK

OPEN_SESSIONS = frozenset({"pending", "signed", "proposed"})
GET_MANY_READERS = 16  # records `get_many` reads from the network at once, at most
LISTING_TIMEOUT = 50.0  # seconds a `proposals` listing may take (the socket waits 60)


class InNodeClient:
    """The operations a running node answers for its socket's callers."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def status(self) -> dict[str, object]:
        return self.node.status()

    async def peers(self) -> list[dict[str, object]]:
        node = self.node
        return [{"agent_id": str(p), "addresses": list(node.addresses.get(p, ()))}
                for p in node.peers() if p != node.me]

    async def connect(self, address: str) -> dict[str, object]:
        """Dial a member's `address` now and greet it: its agent id, or None when it could
        not be reached or is no member (the node's log says why)."""
        peer = await self.node.connect(address)
        return {"agent_id": None if peer is None else str(peer)}

    async def get(self, address: str) -> dict[str, Any]:
        record = await self.node.get(Cid.parse(address))
        if record is None:
            raise LocalError(f"nothing at {address} locally or at its authorities")
        return record_json(record)

    async def get_many(self, addresses: list[str]) -> list[dict[str, Any] | None]:
        """Each address's record (None where neither here nor its authorities have one):
        those held here read first, the others at once (GET_MANY_READERS at a time; each
        read bounded as `get`'s)."""
        if len(addresses) > MAX_GET_MANY:
            raise LocalError(f"at most {MAX_GET_MANY} addresses at once")
        cids = [Cid.parse(a) for a in addresses]
        held = [self.node.cascade.local_record(cid) for cid in cids]  # (no task for these)
        found = [None if r is None else record_json(r) for r in held]
        readers = trio.CapacityLimiter(GET_MANY_READERS)

        async def one(i: int, cid: Cid) -> None:
            async with readers:
                record = await self.node.get(cid)
            found[i] = None if record is None else record_json(record)

        async with trio.open_nursery() as nursery:
            for i, cid in enumerate(cids):
                if held[i] is None:
                    nursery.start_soon(one, i, cid)
        return found

    async def proposals(self, purpose: str, spec: str | None = None, label: str | None = None,
                        location: str | None = None, at_us: int | None = None,
                        author: str | None = None) -> list[dict[str, Any]]:
        """The network's open proposals listed under one base, as offers.list_proposals
        answers them, read here: its links, then the proposals with the intents their
        tags name in one batch (then any intent a tag did not name), no socket round trip
        between them; this node's own listings (`author` itself) from its own chain.
        Bounded: MAX_PAGES pages, LISTING_TIMEOUT in all."""
        try:
            base = listing_base(purpose, spec, label)
        except ValueError as e:
            raise LocalError(str(e)) from None
        listed: Listed = {}
        got: dict[str, dict[str, Any] | None] = {}

        async def read(addresses: list[str]) -> None:
            wanted = [a for a in dict.fromkeys(addresses) if a not in got]
            for start in range(0, len(wanted), MAX_GET_MANY):
                chunk = wanted[start:start + MAX_GET_MANY]
                got.update(zip(chunk, await self.get_many(chunk), strict=True))

        mine = author == str(self.node.me)
        if mine:  # (its own chain holds every link it made and deleted: no one to ask)
            listed = own_listed(self.node.cascade.chain.records(), base)
        with trio.move_on_after(LISTING_TIMEOUT) as scope:
            after: Cid | None = None
            for _ in range(0 if mine else MAX_PAGES):
                page = await self.node.get_links(base, PROPOSAL_LINK, after=after)
                take_links({"links": [link.to_json() for link in page.links]}, author, listed)
                if (after := page.next) is None:
                    break
            await read(first_reads(listed))
            await read(later_reads(listed, got))
        if scope.cancelled_caught:
            raise LocalError(f"the listing took over {LISTING_TIMEOUT:.0f} s")
        return proposal_rows(purpose, label, listed, lambda a: got.get(a), location, at_us)

    async def activity(self, agent: str) -> list[dict[str, Any]]:
        records = await self.node.agent_activity(AgentId.parse(agent))
        return [record_json(r) for r in records]

    async def inventory(self, agent: str) -> list[dict[str, Any]]:
        records = await self.node.agent_activity(AgentId.parse(agent))
        if not records:
            raise LocalError(f"no chain found for {agent} on the network")
        return inventory(chain_view_of(records))

    async def flows(self, address: str, backwards: bool,
                    limit: int | None = None) -> list[dict[str, object]]:
        """Across chains: its first `limit` steps (None: all). Our chain's view and, when no
        other chain is reached, the flow index are the ones kept for its head (own_view)."""
        node = self.node
        store = node.ledger.agent.store
        return await network_flows(
            node, node.me, own_view(store), address, backwards, limit=limit,
            own_joined=lambda: derived(store, "joined flows", lambda v: joined([v])))

    async def sync(self) -> dict[str, object]:
        node = self.node
        node.enqueue_new_records()
        done = await node.publish_once()
        return {"published": done, **node.publish_state()}

    async def chains(self, agents: list[str] | None = None) -> dict[str, Any]:
        """Reports gather chains through this (node/runtime/reports.py)."""
        from node.runtime.reports import fetch_chains

        return await fetch_chains(self.node, agents)

    # -- countersigning: start (initiator), list, show, accept and decline sessions ------

    async def cs_start(self, event: dict[str, Any], to: str, wait_s: float) -> dict[str, object]:
        from node.runtime.countersign import TransferRequest, session_json

        request = request_of(EventRequest, event, "cs_start's event")
        row = await self.node.countersigner.start(TransferRequest(request, to, wait_s))
        return session_json(row)

    async def cs_agree(self, agreement: dict[str, Any], to: str,
                       wait_s: float) -> dict[str, object]:
        """Propose a countersigned agreement (an AgreementRequest's JSON) to `to`."""
        from node.runtime.countersign import TransferRequest, session_json

        row = await self.node.countersigner.start(TransferRequest(
            AgreementRequest.of(agreement), to, wait_s, AGREEMENT_TYPE))
        return session_json(row)

    async def cs_session(self, id: str) -> dict[str, object]:  # noqa: A002 - the JSON name
        from node.runtime.countersign import session_json

        return session_json(self.node.countersigner.find(id))

    async def cs_list(self, everything: bool = False) -> list[dict[str, object]]:
        from node.runtime.countersign import session_json

        rows = self.node.countersigner.sessions.all(None if everything else OPEN_SESSIONS)
        return [session_json(r) for r in rows]

    async def cs_accept(self, id: str) -> dict[str, object]:  # noqa: A002
        from node.runtime.countersign import session_json

        signer = self.node.countersigner
        return session_json(await signer.accept(signer.find(id).id))

    async def cs_decline(self, id: str, reason: str | None = None) -> dict[str, object]:  # noqa: A002
        from node.runtime.countersign import session_json

        signer = self.node.countersigner
        return session_json(await signer.decline(signer.find(id).id, reason))

    async def links(self, base: str, link_type: str | None = None, tag_prefix: str = "",
                    include_deleted: bool = False, after: str | None = None,
                    limit: int = MAX_LINKS) -> dict[str, Any]:
        """A page of the links from `base` across the network (`tag_prefix` in hex), and
        where the next page starts (`after` for the next call; null on the last)."""
        try:
            prefix = bytes.fromhex(tag_prefix)
        except ValueError:
            raise LocalError(f"tag prefix {tag_prefix!r} is not hex") from None
        page = await self.node.get_links(
            Cid.parse(base), link_type, prefix, include_deleted=include_deleted,
            after=None if after is None else Cid.parse(after), limit=limit)
        return {"links": [link.to_json() for link in page.links],
                "next": None if page.next is None else str(page.next)}

    async def recover(self, force: bool = False) -> dict[str, Any]:
        """`coledger chain recover` on the running node (node/runtime/recovery.py)."""
        return await self.node.own_chain.recover(force)


METHODS = ("status", "peers", "get", "get_many", "activity", "sync", "inventory", "flows",
           "chains", "cs_start", "cs_agree", "cs_session", "cs_list", "cs_accept", "cs_decline",
           "recover", "links", "proposals", "connect")


def rpc_methods(node: Node) -> dict[str, Callable[..., Awaitable[object]]]:
    """The socket's method table: each name to its operation on `node`, the writes
    (node/in_node_writes.py) with them."""
    client = InNodeClient(node)
    methods: dict[str, Callable[..., Awaitable[object]]] = {
        name: getattr(client, name) for name in METHODS}
    return {**methods, **write_methods(node)}
