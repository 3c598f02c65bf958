"""Client.inventory and Client.flows on this home's own chain, over its ValueFlows view
kept folded for the process by its head (node/runtime/ledger.py kept_view, which the
ledger's view reads too), so that they do not fold 100,000 events on every call: a read
folds only the records written since. What is derived from the view (the inventory rows,
the flow index) is kept beside it for the same head. Shared by the node's socket side
(node/in_node.py) and the front door's readers in any thread: read it, never change it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

from node.core.cid import Cid
from node.runtime.ledger import forget_kept_views, kept_view
from node.store.sqlite import Store
from zomes.valueflows import coordinator, ledger_calls
from zomes.valueflows.chain_views import CHAIN_VIEWS
from zomes.valueflows.zome import ChainView

T = TypeVar("T")

KEPT: Final = 16
"""Derivations one process keeps (a few per home)."""

_lock = threading.Lock()
_derived: dict[tuple[str, str], tuple[int, Cid, Any]] = {}


def own_view(store: Store) -> ChainView:
    """The complete view of `store`'s chain at its head (the kept one: read it, never
    change it)."""
    return kept_view(store, CHAIN_VIEWS)[1]


def derived(store: Store, name: str, compute: Callable[[ChainView], T]) -> T:
    """`compute(view)` of this chain's view at its head, computed once per head (`name`
    tells one derivation from another; what it returns is shared: read it only)."""
    key = (str(Path(store.path).resolve()), name)
    head = store.head()
    with _lock:
        kept = _derived.get(key)
    if head is not None and kept is not None and (kept[0], kept[1]) == (head.seq,
                                                                          head.address):
        value: T = kept[2]
        return value
    head, view = kept_view(store, CHAIN_VIEWS)
    value = compute(view)
    if head is not None and store.damage is None:
        with _lock:
            _derived.pop(key, None)
            _derived[key] = (head.seq, head.address, value)
            while len(_derived) > KEPT:
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
    """Drop every kept view and what was derived from it (tests: to fold from scratch)."""
    forget_kept_views()
    with _lock:
        _derived.clear()
