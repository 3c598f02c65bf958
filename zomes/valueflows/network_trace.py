"""Trace and track across chains (`coledger trace`/`track` with a running node): start
from our own chain, fetch the chains of the agents its events name (and theirs, breadth
first) through the node's get cascade, and walk the flows of all of them joined.

Over `zomes.api.Cascade`, which the running node (node/runtime/node.py) satisfies.
"""

from __future__ import annotations

from collections.abc import Callable

from node.core.cid import Cid
from node.core.errors import CoreError
from node.core.identity import AgentId
from zomes.api import Cascade
from zomes.valueflows.chain_views import chain_view_of
from zomes.valueflows.coordinator import flow_index, merged_view
from zomes.valueflows.ledger_calls import describe_node
from zomes.valueflows.trace import FlowIndex, NotInIndex
from zomes.valueflows.zome import ChainView

Joined = tuple[ChainView, FlowIndex]
"""The views walked as one (merged_view) and their flow index."""


def joined(views: list[ChainView]) -> Joined:
    """The views as one and its flow index (what the walk reads)."""
    view = merged_view(views)
    return view, flow_index(view)


async def network_flows(
    cascade: Cascade, me: AgentId, own: ChainView, address: str, backwards: bool,
    max_agents: int = 64, *, limit: int | None = None,
    own_joined: Callable[[], Joined] | None = None,
) -> list[dict[str, object]]:
    """The trace (backwards) or track (forwards) from `address` over our chain (`own`, our
    view) and the chains of up to `max_agents` agents reached from it: its first `limit`
    steps (None: all). `own_joined`, when given, is `joined([own])` (kept by the caller
    for our chain's head): what is walked when no other chain is reached."""
    views = {me: own}
    frontier = list(views)
    tried: set[AgentId] = set(views)
    if address not in own.events and address not in own.resources \
            and address not in own.processes:
        start = await cascade.get(Cid.parse(address))  # whose chain is it on?
        author = start.action.author if start is not None else None
        if author is not None and author != me:
            records = await cascade.agent_activity(author)
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
            records = await cascade.agent_activity(other_id)
            if records:
                views[other_id] = chain_view_of(records)
                frontier.append(other_id)
    if own_joined is not None and list(views) == [me]:
        view, index = own_joined()
    else:
        view, index = joined(list(views.values()))
    try:
        nodes = index.trace(address, limit) if backwards else index.track(address, limit)
    except NotInIndex:
        raise CoreError(
            f"{address} is not a resource, event or process known here"
            " or to the chains it names"
        ) from None
    return [describe_node(n, view) for n in nodes]
