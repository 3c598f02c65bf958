"""What the valueflows zome's entries are: their type names, and the typed entry parsed
from an entry's content (a countersigned entry through its envelope), memoized; the name a
thing goes by on the network.

Part of the zome's integrity (hashed into the DNA with zome.py, which re-exports these).
"""

from __future__ import annotations

from typing import Any, Final

from node.core.actions import ActionBase, Update
from node.core.cid import Cid
from node.core.countersign import Envelope, is_countersigned
from node.core.errors import CoreError
from node.core.records import Entry
from zomes.api import Memo, MemoSlot
from zomes.valueflows.agreements import COUNTERSIGNED_AGREEMENT
from zomes.valueflows.entries import ENTRY_TYPES, Agreement, EconomicEvent, VfEntry

NAME: Final = "valueflows"
VERSION: Final = "1"
PREFIX: Final = NAME + "."

# An EconomicEvent signed by its provider and receiver and written on both chains
# (node.core.countersign): the envelope holds the event, the session and both signatures.
COUNTERSIGNED_EVENT: Final = "CountersignedEvent"
COUNTERSIGNED_TYPE: Final = PREFIX + COUNTERSIGNED_EVENT
# The inner entry of each countersigned entry type (an Agreement's clauses: agreements.py).
_SIGNED_INNER: Final[dict[str, type[VfEntry]]] = {
    COUNTERSIGNED_EVENT: EconomicEvent, COUNTERSIGNED_AGREEMENT: Agreement}
# Parsed entries by (type, bytes), in deps.memo: see parse_entry.
_ENTRIES: MemoSlot[tuple[str, bytes], tuple[VfEntry, Envelope | None]] = MemoSlot(
    "valueflows entries")


def entry_type(cls: type[VfEntry]) -> str:
    return PREFIX + cls.__name__


def parse(entry_type_name: str, content: Any) -> VfEntry:
    """The typed entry; ValueError (pydantic's ValidationError is one) if malformed.
    A countersigned event parses to its inner EconomicEvent."""
    return parse_signed(entry_type_name, content)[0]


def parse_signed(entry_type_name: str, content: Any) -> tuple[VfEntry, Envelope | None]:
    """The typed entry and, for a countersigned entry (event, agreement), its envelope."""
    local = entry_type_name.removeprefix(PREFIX)
    inner = _SIGNED_INNER.get(local)
    if inner is not None and entry_type_name.startswith(PREFIX):
        try:
            envelope = Envelope.from_value(content)
        except CoreError as e:
            raise ValueError(str(e)) from None
        if not isinstance(envelope.inner, dict):
            raise ValueError("a countersigned entry's inner entry must be a map")
        return inner.from_content(envelope.inner), envelope
    return _parse_plain(entry_type_name, local, content), None


def parse_entry(
    memo: Memo, entry_type_name: str, entry: Entry
) -> tuple[VfEntry, Envelope | None]:
    """parse_signed of an entry's value, memoized in `memo` by type and bytes: the
    StoreRecord, StoreEntry and agent-activity ops of an action carry the same entry,
    and folding the chain reads it once more. Keyed by the bytes themselves, not by an
    address, so the memo holds whatever the bytes say; entries are frozen models, safe
    to share. A malformed entry is not memoized (its ValueError is raised each time)."""
    key = (entry_type_name, entry.data)
    parsed = memo.recall(_ENTRIES, key)
    if parsed is None:
        parsed = parse_signed(entry_type_name, entry.value)
        memo.remember(_ENTRIES, key, parsed)
    return parsed


def _parse_plain(entry_type_name: str, local: str, content: Any) -> VfEntry:
    cls = ENTRY_TYPES.get(local)
    if cls is None or not entry_type_name.startswith(PREFIX):
        raise ValueError(f"unknown entry type {entry_type_name}")
    if not isinstance(content, dict):
        raise ValueError(f"a {local} entry must be a map")
    return cls.from_content(content)


def thing_address(action: ActionBase, address: Cid) -> str:
    """A thing is named by the action that first created it; updates keep the name.
    A countersigned entry is named by its entry: the same on every party's chain."""
    if is_countersigned(getattr(action, "entry_type", None)):
        return str(action.entry_address)
    return str(action.original_action if isinstance(action, Update) else address)
