"""The running node's side of gathering what reports read (the `chains` RPC method):
chains fetched from their agents' activity authorities (`Node.agent_activity`, verified),
a few at a time, and packed as JSON-safe text.

The command line's side, which asks for them in batches and reads them into the
accounting zome's Dataset, is node/gather.py; the reports themselves are pure
(zomes/accounting/reports.py).
"""

from __future__ import annotations

import base64
from typing import Any, Final, Protocol

from node.core.errors import CoreError
from node.core.identity import AgentId
from node.core.records import Entry, Record, SignedAction

CONCURRENCY: Final = 8  # chains the node fetches at once


def pack(record: Record) -> list[str | None]:
    """A record as JSON-safe text: [action, signature, entry] in base64."""
    entry = record.entry
    return [
        base64.b64encode(record.signed.data).decode("ascii"),
        base64.b64encode(record.signed.signature).decode("ascii"),
        base64.b64encode(entry.data).decode("ascii") if entry is not None else None,
    ]


def unpack(packed: list[str | None]) -> Record:
    action, signature, entry = packed
    data, sig = base64.b64decode(action or ""), base64.b64decode(signature or "")
    signed = SignedAction.from_bytes(data, sig)
    address = signed.action.entry_address
    if entry is None or address is None:
        return Record(signed, None)
    return Record(signed, Entry(base64.b64decode(entry), address))


# -- in the node (the RPC method) --------------------------------------------------------


class ActivityAuthors(Protocol):
    """The authors whose chains this node's DHT store holds (as their authority)."""

    def activity_authors(self) -> list[AgentId]: ...


class ChainSource(Protocol):
    """The running node as `fetch_chains` reads it."""

    @property
    def me(self) -> AgentId: ...

    @property
    def dht(self) -> ActivityAuthors: ...

    def peers(self) -> list[AgentId]: ...

    async def agent_activity(self, author: AgentId, first: bool = False) -> list[Record]: ...


async def fetch_chains(node: ChainSource, agents: list[str] | None = None) -> dict[str, Any]:
    """The chains of `agents`, each from its authorities, fetched a few at a time. Without
    `agents`: where to start, this node's own agent, its peers and the authors its store
    holds (`start`), and no chains yet."""
    import trio

    if agents is None:
        start = [node.me, *node.peers(), *node.dht.activity_authors()]
        return {"me": str(node.me), "start": [str(a) for a in dict.fromkeys(start)], "chains": {}}
    wanted = []
    for text in agents:
        try:
            wanted.append(AgentId.parse(text))
        except CoreError:
            continue
    chains: dict[str, list[list[str | None]]] = {}
    limiter = trio.CapacityLimiter(CONCURRENCY)

    async def one(agent: AgentId) -> None:
        async with limiter:
            records = await node.agent_activity(agent)
        chains[str(agent)] = [pack(r) for r in records]

    async with trio.open_nursery() as nursery:
        for agent in dict.fromkeys(wanted):  # once each, in order
            nursery.start_soon(one, agent)
    return {"me": str(node.me), "chains": chains}
