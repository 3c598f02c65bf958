"""ValueFlows' view of a chain as the ledger keeps it (the `ViewHook` of zomes/api.py):
the author's complete `ChainView`, folded from its `vf.` records.

Not hashed into the DNA: the fold itself (`ChainView.step`) is zome.py's.
"""

from __future__ import annotations

from collections.abc import Iterable

from node.core.cid import Cid
from node.core.records import Record
from zomes.api import Deps
from zomes.valueflows.zome import PREFIX, ChainView, seed_view


class ChainViews:
    """Complete ChainViews, folded in place (a `ViewHook[ChainView]`)."""

    prefix: str = PREFIX

    def empty(self) -> ChainView:
        return ChainView()

    def step(self, view: ChainView, record: Record) -> None:
        view.step(record)

    def copy(self, view: ChainView) -> ChainView:
        return view.copy()

    def seed(self, deps: Deps, top: Cid, view: ChainView) -> None:
        seed_view(deps, top, view)


CHAIN_VIEWS = ChainViews()


def chain_view_of(records: Iterable[Record]) -> ChainView:
    """The complete view of a chain given in order (another agent's, fetched whole)."""
    view = ChainView()
    for record in records:
        view.step(record)
    return view
