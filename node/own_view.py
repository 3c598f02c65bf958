"""This home's own ValueFlows view (the complete ChainView the ledger folds), kept folded
for the life of the process and keyed by the chain's head, so that the inventory and the
trace and track of one resource (Client.inventory, Client.flows) do not fold 100,000
events on every call: a read folds only the records written since the head it was last
folded at, with the fold the ledger uses (zomes/valueflows/chain_views.py). Sound across
writers: a head (seq, address) names its whole chain (each action names the one before),
so when the record at the kept seq is no longer the kept one (the chain was recovered or
replaced) the view is folded again from the start. What is derived from a view (the
inventory rows, the flow index) is kept beside it for the same head.

Shared by the node's socket side (node/in_node.py) and the front door's readers in any
thread: what is kept is never changed once kept (a fold extends a copy).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from node.core.chain import ChainHead
from node.core.cid import Cid
from node.core.errors import CoreError
from node.store.sqlite import Store
from zomes.valueflows import coordinator, ledger_calls
from zomes.valueflows.chain_views import CHAIN_VIEWS
from zomes.valueflows.zome import ChainView

T = TypeVar("T")

KEPT: Final = 4
"""Homes whose views one process keeps (a node has one; tests open many)."""

_lock = threading.Lock()
_views: dict[str, tuple[int, Cid, ChainView]] = {}
_derived: dict[tuple[str, str], tuple[int, Cid, Any]] = {}


def own_view(store: Store) -> ChainView:
    """The complete view of `store`'s chain at its head (the kept one: read it, never
    change it). A damaged chain is folded as the ledger folds it (what cannot be read is
    left out and noted on the store) and not kept."""
    return _folded(store)[1]


def _folded(store: Store) -> tuple[ChainHead | None, ChainView]:
    """(the head read, the view at that head)."""
    key = str(store.path)
    head = store.head()
    if head is None:
        return None, CHAIN_VIEWS.empty()
    with _lock:
        kept = _views.get(key)
    if kept is not None and (kept[0], kept[1]) == (head.seq, head.address):
        return head, kept[2]
    start, view = 0, CHAIN_VIEWS.empty()
    if kept is not None and kept[0] < head.seq:
        record = store.get_record_at(kept[0])
        if record is not None and record.address == kept[1]:  # still our chain's prefix
            start, view = kept[0] + 1, CHAIN_VIEWS.copy(kept[2])
    for record in store.records(entry_type_prefix=CHAIN_VIEWS.prefix, start=start):
        if record.action.seq > head.seq:  # written meanwhile: the next read folds it
            break
        try:
            CHAIN_VIEWS.step(view, record)
        except (CoreError, ValueError, LookupError):
            if store.damage is None:
                raise
            store.note_damage(f"seq {record.action.seq} cannot be folded")
    if store.damage is None:
        with _lock:
            _views.pop(key, None)
            _views[key] = (head.seq, head.address, view)
            while len(_views) > KEPT:
                del _views[next(iter(_views))]
    return head, view


def derived(store: Store, name: str, compute: Callable[[ChainView], T]) -> T:
    """`compute(view)` of this chain's view at its head, computed once per head (`name`
    tells one derivation from another; what it returns is shared: read it only)."""
    key = (str(store.path), name)
    head = store.head()
    with _lock:
        kept = _derived.get(key)
    if head is not None and kept is not None and (kept[0], kept[1]) == (head.seq,
                                                                          head.address):
        value: T = kept[2]
        return value
    head, view = _folded(store)
    value = compute(view)
    if head is not None and store.damage is None:
        with _lock:
            _derived.pop(key, None)
            _derived[key] = (head.seq, head.address, value)
            while len(_derived) > KEPT * 4:
                del _derived[next(iter(_derived))]
    return value


def inventory(store: Store) -> list[dict[str, Any]]:
    """Client.inventory of this chain (coordinator.inventory of its view), once per head."""
    return copy.deepcopy(derived(store, "inventory", coordinator.inventory))


def flows(store: Store, address: str, backwards: bool,
          limit: int | None = None) -> list[dict[str, Any]]:
    """Client.flows on this chain: the trace (backwards) or track of `address`, its first
    `limit` steps (None: all), over the flow index built once per head."""
    view, index = derived(store, "flow index", lambda v: (v, coordinator.flow_index(v)))
    return ledger_calls.walk(view, index, address, backwards, limit)


def forget() -> None:
    """Drop every kept view (tests: to compare a kept view with a fold from scratch)."""
    with _lock:
        _views.clear()
        _derived.clear()
