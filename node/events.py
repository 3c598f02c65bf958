"""A page of this agent's economic events, newest first, filtered and with a cursor to the
next page (Client.events): read with a seek in the chain's event index (node/store/
event_index.py), which is brought up to date first with the events committed since, so
that a page costs the same on a chain of 100 events or 100,000. Never folds the chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from node.core.encoding import decode
from node.core.errors import CoreError, LocalError
from node.core.records import Record
from node.store.event_index import (
    BATCH,
    EventFilter,
    EventIndex,
    Indexed,
    Unindexed,
    typed_records,
)
from node.store.home import HomePaths, open_home_store
from node.store.integrity import head_problem
from node.store.keyfile import read_key_info
from node.store.sqlite import Store

MAX_LIMIT: Final = 1000
"""The most events one page holds."""


@contextmanager
def open_chain(home: Path, warn: Callable[[str], None]) -> Iterator[Store]:
    """The home's own chain for reading pages of it: its head checked (a problem passed to
    `warn`), not SQLite's quick_check of the whole file as every open_agent runs (150 ms
    on 100,000 events: more than the page); each record read is checked as it is read."""
    with open_home_store(home, head_problem) as (_, _, store):
        yield store
        if store.damage is not None:  # (as Agent.warning says it)
            warn(f"this chain is damaged ({store.damage}): what is shown may be incomplete")


def events_page(store: Store, where: EventFilter, after: str | None,
                limit: int) -> dict[str, Any]:
    """{"events": up to `limit` rows (see `event_row`), newest first (by chain order),
    "next": the cursor of the page after this one, or None at the end}. `after`: a cursor
    a previous page gave (opaque to callers)."""
    from zomes.valueflows.commitments import EVENT_TYPES

    if not 1 <= limit <= MAX_LIMIT:
        raise LocalError(f"a page holds 1 to {MAX_LIMIT} events, not {limit}")
    before = None if after is None else cursor_seq(after)
    index = EventIndex(store, sorted(EVENT_TYPES))
    catch_up(index)
    seqs = index.page(where, before, limit + 1)
    rows = [event_row(r) for r in index.records_at(seqs[:limit])]
    return {"events": rows, "next": str(seqs[limit - 1]) if len(seqs) > limit else None}


def cursor_seq(cursor: str) -> int:
    """The seq a cursor names; LocalError for anything else."""
    if not cursor.isdigit() or len(cursor) > 18:
        raise LocalError(f"{cursor!r} is not a cursor of this list of events")
    return int(cursor)


def catch_up(index: EventIndex) -> None:
    """File the events the chain gained since the index was last brought up to date."""
    start, end = index.stale_from(), index.chain_end()
    for low in range(start, end, BATCH):
        high = min(low + BATCH, end)
        index.file([indexed(r) for r in index.unindexed(low, high)], high)


def _event(record: Record) -> Any:
    """The record's EconomicEvent (a countersigned one's inner event)."""
    from zomes.valueflows.parsing import parse

    name = getattr(record.action, "entry_type", "")
    if record.entry is None:
        raise LocalError(f"event record {record.address} has no entry stored")
    return parse(name, record.entry.value)


def indexed(row: Unindexed) -> Indexed:
    """What the index files of an event's row: read from its content as stored (parsing
    100,000 events would take seconds), a countersigned one's from its envelope."""
    from zomes.valueflows.parsing import parse

    try:
        content = None if row.entry is None else decode(row.entry)
        if row.entry_type.endswith("CountersignedEvent"):
            content = parse(row.entry_type, content).to_content()
    except (CoreError, ValueError):  # (never on our own chain: it was validated)
        content = None
    if not isinstance(content, dict):
        return Indexed(row.seq, row.address, "", None, None, None, None, row.timestamp)
    time = next((t for t in (content.get(k) for k in ("hasPointInTime", "hasEnd",
                                                       "hasBeginning")) if isinstance(t, int)),
                row.timestamp)
    text = [v if isinstance(v, str) else None for v in (
        content.get(k) for k in ("action", "resourceInventoriedAs", "toResourceInventoriedAs",
                                 "inputOf", "outputOf"))]
    return Indexed(row.seq, row.address, text[0] or "", text[1], text[2], text[3], text[4],
                   time)


def event_row(record: Record) -> dict[str, Any]:
    """One event as the lists show it: `address` (the event's, as everything names it: a
    countersigned event's is its entry's), `record` (the action's address), `seq`,
    `timestamp` (when it was recorded, µs), `countersigned`, then the event's own fields
    by their ValueFlows names (action, provider, resourceQuantity ...)."""
    from zomes.valueflows.parsing import thing_address

    action = record.action
    name = getattr(action, "entry_type", "")
    return {"address": thing_address(action, record.address), "record": str(record.address),
            "seq": action.seq, "timestamp": action.timestamp,
            "countersigned": name.endswith("CountersignedEvent"),
            **_event(record).to_content()}


THING_KINDS: Final = frozenset({
    "ResourceSpecification", "ProcessSpecification", "Process", "EconomicResource", "Agent",
    "SpatialThing", "Intent", "Commitment", "Proposal", "Plan", "Agreement", "Claim", "Recipe",
})
"""The ValueFlows entry types `things` lists."""


def things(store: Store, kind: str) -> list[dict[str, Any]]:
    """This chain's entries of the ValueFlows type `kind` (THING_KINDS), in the order they
    were made, each as its latest version: {"address": its name (the action that created
    it), "record": the latest action's address, "timestamp": when that was written, **its
    content}. Read by the chain's entry-type index, not by folding the chain."""
    from zomes.valueflows.parsing import thing_address

    if kind not in THING_KINDS:
        raise LocalError(f"{kind!r} is not a kind of thing listed here")
    found: dict[str, dict[str, Any]] = {}
    name = f"valueflows.{kind}"
    for record in typed_records(store, name):
        if record.entry is None:
            continue
        try:
            content = record.entry.value
        except CoreError:
            continue
        if isinstance(content, dict):
            address = thing_address(record.action, record.address)
            found[address] = {"address": address, "record": str(record.address),
                              "timestamp": record.action.timestamp, **content}
    return list(found.values())


def whoami(home: Path) -> dict[str, Any]:
    """This home's agent: {"id", "name"} (its key file's public part: no passphrase)."""
    info = read_key_info(HomePaths(Path(home)).key)
    return {"id": str(info.agent_id), "name": info.name}
