"""The valueflows coordinator's calls as a ledger runs them: each builds its records in a
scratch at the chain's head, with the author's `ChainView`, and the ledger checks them as
a validator would and flushes them (node/runtime/ledger.py); the views read the
ChainView the ledger keeps folded.

Over the `Ledger` protocol below, which node/runtime/ledger.py's `Ledger` satisfies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from node.core.cid import Cid
from node.core.errors import LocalError
from node.core.identity import AgentId
from zomes.api import AppLedger, OwnRecords
from zomes.valueflows import coordinator
from zomes.valueflows.externals import MARK
from zomes.valueflows.zome import ChainView

if TYPE_CHECKING:  # (imported by `flows`: a write needs no trace)
    from zomes.valueflows.trace import FlowIndex, FlowNode


class Author(Protocol):
    """The agent whose chain the ledger writes: who, what time it is, its records."""

    @property
    def agent_id(self) -> AgentId: ...

    @property
    def clock(self) -> Callable[[], int]: ...

    @property
    def store(self) -> OwnRecords: ...


class Ledger(AppLedger, Protocol):
    """A ledger (its view is a complete ChainView) and the agent it writes for."""

    @property
    def agent(self) -> Author: ...


def record(ledger: Ledger, req: coordinator.EventRequest) -> coordinator.Recorded:
    """`coledger record`: one economic event by this agent."""
    author = str(ledger.agent.agent_id)
    now = ledger.agent.clock()
    return ledger.commit(lambda s, v: coordinator.record_event(s, v, author, req, now))


def create_spec(ledger: Ledger, name: str, unit: str, allow_negative: bool,
                note: str | None, classified_as: tuple[str, ...] = (),
                mass: str | None = None) -> Cid:
    return ledger.commit(lambda s, v: coordinator.create_spec(
        s, name, unit, allow_negative, note, classified_as, mass))


def create_process_spec(ledger: Ledger, name: str, note: str | None) -> Cid:
    return ledger.commit(lambda s, v: coordinator.create_process_spec(s, name, note))


def create_place(ledger: Ledger, place: dict[str, Any]) -> Cid:
    return ledger.commit(lambda s, v: coordinator.create_place(s, place))


def create_process(ledger: Ledger, name: str, based_on: str | None, note: str | None) -> Cid:
    now = ledger.agent.clock()
    return ledger.commit(lambda s, v: coordinator.create_process(s, name, based_on, note, now))


def finish_process(ledger: Ledger, process: str) -> Cid:
    try:
        original = ledger.agent.store.get_record(Cid.parse(process))
    except Exception:
        original = None
    if original is None or original.entry is None:
        raise LocalError(f"{process} is not a process on this chain")
    now, entry = ledger.agent.clock(), original.entry.address
    return ledger.commit(lambda s, v: coordinator.finish_process(s, v, process, entry, now))


def inventory(ledger: Ledger) -> list[dict[str, Any]]:
    return coordinator.inventory(ledger.view())


def flows(ledger: Ledger, address: str, backwards: bool) -> list[dict[str, Any]]:
    """The VF trace (backwards) or track (forwards) from `address`, as an ordered list."""
    view: ChainView = ledger.view()
    return walk(view, coordinator.flow_index(view), address, backwards)


def walk(view: ChainView, index: FlowIndex, address: str, backwards: bool,
         limit: int | None = None) -> list[dict[str, Any]]:
    """The trace or track from `address` over `index` (`view`'s), its first `limit` steps
    (None: all), each step described (describe_node)."""
    from zomes.valueflows.trace import NotInIndex

    try:
        nodes = (index.trace(address, limit) if backwards else index.track(address, limit))
    except NotInIndex:
        raise LocalError(f"{address} is not a resource, event or process known here") from None
    return [describe_node(n, view) for n in nodes]


def describe_node(node: FlowNode, view: ChainView) -> dict[str, Any]:
    """A flow node with what a person needs to read it: names, actions, quantities; an
    event's external party (`external`, `externalName`: externals.py)."""
    out: dict[str, Any] = {"kind": node.kind, "address": node.address, "distance": node.distance}
    if node.kind == "EconomicEvent":
        event = view.events.get(node.address)
        if event is not None:
            out["action"] = event.action
            if event.resource_quantity is not None:
                out["quantity"] = event.resource_quantity.to_content()
            if event.effort_quantity is not None:
                out["effort"] = event.effort_quantity.to_content()
            out["provider"] = event.provider
            out["receiver"] = event.receiver
            for party in (event.provider, event.receiver):  # an external agent says so
                agent = view.agent_entries.get(party)
                if agent is not None and agent.same_as is not None:
                    out["external"] = True
                    out["externalName"] = agent.name + MARK
    elif node.kind == "Process":
        process = view.processes.get(node.address)
        if process is not None:
            out["name"] = process.name
    elif node.kind == "EconomicResource":
        resource = view.resources.get(node.address)
        if resource is not None:
            out["name"] = resource.name
    return out
