"""Validation dependencies served from the local database (the network adds a cascade later).

`StoreDeps` answers must_get_* from the DHT op store, then from the agent's own
chain, then from records staged in a scratch (author-side validation). A miss
raises MissingDependency, which validation turns into Unresolved.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from node.core.cid import Cid
from node.core.identity import AgentId
from node.core.outcome import MissingDependency
from node.core.records import Entry, Record
from node.store.dht import DhtStore
from node.store.sqlite import Store
from zomes.api import K, MemoSlot, V

_MISSING: Any = object()
_get = OrderedDict.get
_set = OrderedDict.__setitem__

# complete records read from the DHT store (content-addressed: never stale once complete)
RECORDS: MemoSlot[Cid, Record] = MemoSlot("records")


class BoundedMemo(OrderedDict[Any, Any]):
    """The Memo of validation: one LRU over every slot, keyed by (slot, key), bounded.

    As a dict it is an LRU of its own (what tests of the bound use); validation reaches
    it only through the typed Memo methods."""

    def __init__(self, limit: int = 4096) -> None:
        super().__init__()
        self.limit = limit

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def get(self, key: Any, default: Any = None) -> Any:
        # one lookup and no Python-level __getitem__: validation asks this for every op
        value = _get(self, key, _MISSING)
        if value is _MISSING:
            return default
        self.move_to_end(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self:
            self.move_to_end(key)
        _set(self, key, value)  # a new key goes to the end anyway
        if len(self) > self.limit:
            self.popitem(last=False)

    # -- Memo (each does its work inline: validation calls these for every op) --

    def recall(self, slot: MemoSlot[K, V], key: K) -> V | None:
        """The value remembered under `key` in `slot` (now the most recent), or None."""
        both = (slot, key)
        value = _get(self, both, _MISSING)
        if value is _MISSING:
            return None
        self.move_to_end(both)
        return value  # type: ignore[no-any-return]

    def holds(self, slot: MemoSlot[K, V], key: K) -> bool:
        return (slot, key) in self

    def remember(self, slot: MemoSlot[K, V], key: K, value: V) -> None:
        both = (slot, key)
        if both in self:
            self.move_to_end(both)
        _set(self, both, value)
        if len(self) > self.limit:
            self.popitem(last=False)

    def forget(self, slot: MemoSlot[K, V], key: K) -> None:
        self.pop((slot, key), None)


class StoreDeps:
    """must_get_* over local data: staged records, our chain, then DHT ops held."""

    def __init__(
        self,
        dht: DhtStore | None = None,
        own: Store | None = None,
        staged: Iterable[Record] = (),
        memo: BoundedMemo | None = None,
    ) -> None:
        self._dht = dht
        self._own = own
        self._staged = {r.address: r for r in staged}
        self.memo = memo if memo is not None else BoundedMemo()

    def stage(self, records: Iterable[Record]) -> None:
        for r in records:
            self._staged[r.address] = r

    def hold(self, record: Record) -> None:
        """Remember a complete record just read from the DHT store (say, an op's), so
        that validating the ops after it does not read it back."""
        if record.entry is not None or record.action.entry_address is None:
            self.memo.remember(RECORDS, record.address, record)

    def find_record(self, address: Cid) -> Record | None:
        record = self._staged.get(address)
        if record is None and self._own is not None:
            record = self._own.get_record(address)
        if record is None and self._dht is not None:
            record = self.memo.recall(RECORDS, address)
            if record is None:
                record = self._dht.get_record(address)
                # content-addressed, so never stale once complete (an entry may come later)
                if record is not None and (record.entry or not record.action.entry_address):
                    self.memo.remember(RECORDS, address, record)
        return record

    def must_get_record(self, address: Cid) -> Record:
        """The record with its entry: an action held without its entry is not enough
        (folding a chain over it would silently skip the entry), so it waits for it."""
        record = self.find_record(address)
        if record is None:
            raise MissingDependency(address)
        entry_address = record.action.entry_address
        if entry_address is not None and record.entry is None:
            raise MissingDependency(entry_address)
        return record

    def must_get_entry(self, address: Cid) -> Entry:
        for r in self._staged.values():
            if r.entry is not None and r.entry.address == address:
                return r.entry
        for source in (self._own, self._dht):
            entry = source.get_entry(address) if source is not None else None
            if entry is not None:
                return entry
        raise MissingDependency(address)

    def must_get_agent_activity(self, author: AgentId, chain_top: Cid) -> Sequence[Record]:
        records: list[Record] = []
        address: Cid | None = chain_top
        while address is not None:
            record = self.must_get_record(address)
            if record.action.author != author:
                raise ValueError("the chain holds an action of another author")
            records.append(record)
            address = record.action.prev_action
        records.reverse()
        return records
