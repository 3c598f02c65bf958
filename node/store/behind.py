"""The "behind" mark of a home: the network holds actions of ours that our chain lacks
(it was rolled back: a restored backup, a damaged WAL). While marked, every write is
refused (a write would fork the chain); `coledger chain recover` restores the missing
records in one transaction and clears the mark. The mark is a row of the database's
meta table, so it commits (and clears) atomically with the chain.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass

from node.core.chain import ChainHead
from node.core.cid import Cid
from node.core.errors import CoreError, HeadMoved
from node.core.records import Record
from node.core.refusals import ChainBehind
from node.store.db import Db, mapped
from node.store.sqlite import (
    BEHIND_META,
    RESTORED_META,
    Store,
    behind_message,
    insert_records,
)

__all__ = ["BEHIND_META", "BehindMark", "ChainBehind", "behind_message", "mark_behind",
           "read_mark", "restore_chain"]

SET_ASIDE_META = "chain_set_aside"
"""Addresses of network-held actions of ours a recovery set aside (a shorter branch)."""
PUBLISHED_META = "published_upto_seq"  # (node.runtime.node's; a recovery lowers it)


@dataclass(frozen=True, slots=True)
class BehindMark:
    local_seq: int
    network_seq: int
    reason: str
    since_us: int


def read_mark(store: Store) -> BehindMark | None:
    """The home's behind mark, if any (a mark that does not parse still counts)."""
    raw = store.get_meta(BEHIND_META)
    return None if raw is None else _parse(raw)


def _parse(raw: bytes) -> BehindMark:
    try:
        return BehindMark(**json.loads(raw))
    except (ValueError, TypeError):
        return BehindMark(-1, -1, "unreadable mark", 0)


def mark_behind(store: Store, mark: BehindMark) -> None:
    """Persist the mark; one already there keeps its reason (the first evidence) and
    takes the higher of the two network seqs."""
    held = read_mark(store)
    if held is not None:
        if held.network_seq >= mark.network_seq:
            return
        mark = BehindMark(mark.local_seq, mark.network_seq, held.reason, held.since_us)
    store.set_meta(BEHIND_META, json.dumps(asdict(mark)).encode())


def restored_unchecked(store: Store) -> bool:
    """Whether this home was restored from a backup and not yet checked against the
    network (node/store/backup.py marks it)."""
    return store.get_meta(RESTORED_META) is not None


def clear_unchecked(store: Store) -> None:
    """The restored chain was compared with the network's and lacks nothing: writes may
    resume."""
    store.writable()
    with store.db.transaction("writing metadata"):
        store.db.execute("DELETE FROM meta WHERE key = ?", (RESTORED_META,))


def set_aside(store: Store) -> frozenset[Cid]:
    raw = store.get_meta(SET_ASIDE_META)
    if raw is None:
        return frozenset()
    try:
        return frozenset(Cid.parse(a) for a in json.loads(raw))
    except (ValueError, TypeError, CoreError):  # (a damaged list loses what it set aside)
        return frozenset()


def addresses_at(store: Store, seqs: Collection[int]) -> dict[int, Cid]:
    """Our chain's action addresses at `seqs` (what `own_chain.divergence` compares)."""
    with mapped("reading the chain"):
        if len(seqs) > 500:
            rows = store.db.execute("SELECT seq, address FROM chain").fetchall()
        else:
            marks = ", ".join("?" * len(seqs))
            rows = store.db.execute(
                f"SELECT seq, address FROM chain WHERE seq IN ({marks})", tuple(seqs)
            ).fetchall()
    return {seq: Cid(address) for seq, address in rows}


def restore_chain(store: Store, expected_head: ChainHead | None, base_seq: int,
                  records: Sequence[Record], aside: Iterable[Cid] = ()) -> None:
    """In one transaction: drop our records after `base_seq`, append `records`, clear
    the behind mark, remember the `aside` addresses, and publish from the restored head
    on. HeadMoved (nothing written) if the chain changed since the plan was made."""
    db = store.db
    with db.transaction("restoring the chain"):
        if store.head() != expected_head:
            raise HeadMoved("the chain head moved during the recovery; nothing was"
                            " written, try again")
        dropped = [r[0] for r in db.execute(
            "SELECT address FROM chain WHERE seq > ?", (base_seq,))]
        db.execute("DELETE FROM chain WHERE seq > ?", (base_seq,))
        insert_records(db, records)
        db.execute("DELETE FROM meta WHERE key IN (?, ?)", (BEHIND_META, RESTORED_META))
        kept = {str(a) for a in set_aside(store)} | {str(a) for a in aside}
        if kept:
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key)"
                " DO UPDATE SET value = excluded.value",
                (SET_ASIDE_META, json.dumps(sorted(kept)).encode()),
            )
        _forget_dropped(db, base_seq, dropped)


def _forget_dropped(db: Db, base_seq: int, dropped: Sequence[bytes]) -> None:
    """Publish from the restored chain: the dropped actions' ops leave the publish queue,
    and records after `base_seq` are queued again (the network holds most already; the
    mark of what was queued may point past actions a rollback lost)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (PUBLISHED_META,)).fetchone()
    if row is not None and int(bytes(row[0])) > base_seq:
        db.execute("UPDATE meta SET value = ? WHERE key = ?",
                     (str(base_seq).encode(), PUBLISHED_META))
    queue = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'publish_queue'"
    ).fetchone()
    if queue is not None and dropped:
        db.executemany("DELETE FROM publish_queue WHERE action = ?", [(a,) for a in dropped])
