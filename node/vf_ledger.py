"""A home's ledger as the front door hands it out (node.api.open_ledger): the commit
workflow of node.runtime.ledger (where the running node uses it too) with the ValueFlows
calls (zomes/valueflows/ledger_calls.py) as its methods."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from node.core.cid import Cid
from node.runtime import ledger as runtime
from node.runtime.ledger import RuleBroken, make_validator
from node.store.home import PassphraseSource
from zomes.valueflows import ledger_calls as vf
from zomes.valueflows.coordinator import EventRequest, Recorded
from zomes.valueflows.ledger_calls import describe_node
from zomes.valueflows.zome import ChainView

__all__ = ["Ledger", "RuleBroken", "describe_node", "make_validator", "open_ledger"]


class Ledger(runtime.Ledger):
    """A home's ledger, its view a ValueFlows ChainView, its writes ValueFlows calls."""

    def view(self) -> ChainView:
        view: ChainView = super().view()
        return view

    def record(self, req: EventRequest) -> Recorded:
        return vf.record(self, req)

    def create_spec(self, name: str, unit: str, allow_negative: bool, note: str | None,
                    classified_as: tuple[str, ...] = (), mass: str | None = None) -> Cid:
        return vf.create_spec(self, name, unit, allow_negative, note, classified_as, mass)

    def create_process_spec(self, name: str, note: str | None) -> Cid:
        return vf.create_process_spec(self, name, note)

    def create_place(self, place: dict[str, Any]) -> Cid:
        return vf.create_place(self, place)

    def create_process(self, name: str, based_on: str | None, note: str | None) -> Cid:
        return vf.create_process(self, name, based_on, note)

    def finish_process(self, process: str) -> Cid:
        return vf.finish_process(self, process)

    def inventory(self) -> list[dict[str, Any]]:
        return vf.inventory(self)

    def flows(self, address: str, backwards: bool) -> list[dict[str, Any]]:
        """The VF trace (backwards) or track (forwards) from `address`, as an ordered list."""
        return vf.flows(self, address, backwards)


@contextmanager
def open_ledger(home: Path, passphrase: PassphraseSource) -> Iterator[Ledger]:
    """The ledger of the home at `home`, its agent opened with `passphrase`."""
    with runtime.open_ledger_as(Ledger, home, passphrase) as ledger:
        yield ledger
