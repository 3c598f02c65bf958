"""An index of this agent's own economic events (table event_index), so that a page of
them, filtered by action, resource, process or time, is one seek: a list of 100,000 events
is never folded to show 50. Derived from the chain (rebuilt whenever it no longer matches
it), filled by the caller with the fields it reads from each event (node/events.py: the
store does not know ValueFlows). Imports node/core and node/store only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from node.core.records import Record
from node.store.db import Db, mapped
from node.store.sqlite import Store

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS {db}.event_index (
    seq          INTEGER PRIMARY KEY,
    address      BLOB NOT NULL,
    action       TEXT NOT NULL,
    resource     TEXT,
    to_resource  TEXT,
    input_of     TEXT,
    output_of    TEXT,
    time         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS {db}.event_index_action ON event_index(action, seq);
CREATE INDEX IF NOT EXISTS {db}.event_index_resource ON event_index(resource, seq);
CREATE INDEX IF NOT EXISTS {db}.event_index_to_resource ON event_index(to_resource, seq);
CREATE INDEX IF NOT EXISTS {db}.event_index_input ON event_index(input_of, seq);
CREATE INDEX IF NOT EXISTS {db}.event_index_output ON event_index(output_of, seq);
"""

BATCH: Final = 5000
"""Records read and filed per statement while catching up."""


class Indexed(NamedTuple):
    """What the index keeps of one event: the record's seq and action address, the event's
    action, resources, processes and time (microseconds)."""

    seq: int
    address: bytes
    action: str
    resource: str | None
    to_resource: str | None
    input_of: str | None
    output_of: str | None
    time: int


class Unindexed(NamedTuple):
    """An event's row of the chain as stored: seq, action address, timestamp, entry type
    and the entry's bytes (None if missing)."""

    seq: int
    address: bytes
    timestamp: int
    entry_type: str
    entry: bytes | None


@dataclass(frozen=True)
class EventFilter:
    """Which events a page holds (None: any): `resource` matches either resource of an
    event, `process` either side; times are inclusive bounds on the event's time."""

    action: str | None = None
    resource: str | None = None
    process: str | None = None
    since_us: int | None = None
    until_us: int | None = None


class EventIndex:
    """The index in `store`'s database (in a temporary table when the home is read-only:
    then it is built anew for each use)."""

    def __init__(self, store: Store, entry_types: Sequence[str]) -> None:
        self.store = store
        self.db: Db = store.db
        self.entry_types = tuple(entry_types)
        self.schema = "temp" if store.readonly else "main"
        with mapped("opening the event index"):
            self.db.executescript(SCHEMA.format(db=self.schema))

    def stale_from(self) -> int:
        """The first seq of the chain not yet indexed (0 after the index was dropped as no
        longer matching the chain, e.g. after a recovery replaced part of it)."""
        with mapped("reading the event index"):
            last = self.db.execute(f"SELECT seq, address FROM {self.schema}.event_index"
                                   " WHERE seq >= 0 ORDER BY seq DESC LIMIT 1").fetchone()
            row = None if last is None else self.db.execute(
                "SELECT address FROM chain WHERE seq = ?", (last[0],)).fetchone()
        mark = self._mark() or 0
        moved = last is not None and (row is None or bytes(row[0]) != bytes(last[1]))
        if moved or mark > self.chain_end():
            self.clear()
            return 0
        return mark if last is None else max(last[0] + 1, mark)

    def _mark(self) -> int | None:
        """The first seq past the last record looked at (events or not), kept beside it."""
        with mapped("reading the event index"):
            row = self.db.execute(
                f"SELECT time FROM {self.schema}.event_index WHERE seq = -1").fetchone()
        return None if row is None else int(row[0])

    def unindexed(self, start: int, stop: int) -> list[Unindexed]:
        """This chain's event rows from `start` up to (not including) `stop`, in order, as
        stored (their actions not decoded: a page's records are checked when read)."""
        marks = ",".join("?" * len(self.entry_types))
        sql = ("SELECT c.seq, c.address, c.timestamp, c.entry_type, e.entry FROM chain c"
               " LEFT JOIN entries e ON e.address = c.entry_address"
               f" WHERE c.seq >= ? AND c.seq < ? AND c.entry_type IN ({marks}) ORDER BY c.seq")
        with mapped("reading records"):
            return [Unindexed(seq, bytes(address), timestamp, entry_type,
                              None if entry is None else bytes(entry))
                    for seq, address, timestamp, entry_type, entry in self.db.execute(
                        sql, (start, stop, *self.entry_types))]

    def chain_end(self) -> int:
        """One past the chain's last seq."""
        head = self.store.head()
        return 0 if head is None else head.seq + 1

    def file(self, rows: Sequence[Indexed], end: int) -> None:
        """Add `rows`, the events read up to `end` (one past the last seq looked at)."""
        table = f"{self.schema}.event_index"
        with self.db.transaction("filing the event index", durable=False):
            self.db.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?,?,?,?,?,?,?,?)",
                                rows)
            self.db.execute(f"INSERT OR REPLACE INTO {table} VALUES (-1, x'', '', NULL,"
                            " NULL, NULL, NULL, ?)", (end,))

    def clear(self) -> None:
        with self.db.transaction("clearing the event index", durable=False):
            self.db.execute(f"DELETE FROM {self.schema}.event_index")

    def page(self, where: EventFilter, before_seq: int | None, limit: int) -> list[int]:
        """The seqs of up to `limit` matching events, newest first, below `before_seq`."""
        clauses, args = ["seq >= 0"], list[object]()
        if before_seq is not None:
            clauses.append("seq < ?")
            args.append(before_seq)
        if where.action is not None:
            clauses.append("action = ?")
            args.append(where.action)
        if where.since_us is not None:
            clauses.append("time >= ?")
            args.append(where.since_us)
        if where.until_us is not None:
            clauses.append("time <= ?")
            args.append(where.until_us)
        base = " AND ".join(clauses)
        table = f"{self.schema}.event_index"
        # Either side of a resource or a process: one seek down each side's index, merged.
        sides = (("resource", "to_resource") if where.resource is not None
                 else ("input_of", "output_of") if where.process is not None else ())
        if where.resource is not None and where.process is not None:
            base += " AND (input_of = ? OR output_of = ?)"
            args += [where.process, where.process]
        if not sides:
            sql = f"SELECT seq FROM {table} WHERE {base} ORDER BY seq DESC LIMIT ?"
        else:
            value = where.resource if where.resource is not None else where.process
            one = f"SELECT seq FROM {table} WHERE {{}} = ? AND {base} ORDER BY seq DESC LIMIT ?"
            sql = (f"SELECT seq FROM (SELECT * FROM ({one.format(sides[0])}) UNION"
                   f" SELECT * FROM ({one.format(sides[1])})) ORDER BY seq DESC LIMIT ?")
            args = [value, *args, limit, value, *args, limit]
        with mapped("reading the event index"):
            return [int(r[0]) for r in self.db.execute(sql, (*args, limit))]

    def records_at(self, seqs: Sequence[int]) -> list[Record]:
        """Our records at `seqs`, in that order (a damaged one left out)."""
        if not seqs:
            return []
        with mapped("reading records"):
            rows = self.db.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c"
                " LEFT JOIN entries e ON e.address = c.entry_address"
                f" WHERE c.seq IN ({','.join('?' * len(seqs))})", tuple(seqs)).fetchall()
        by_seq = {row[0]: row for row in rows}
        out = []
        for seq in seqs:
            if seq in by_seq:
                record = self.store._checked(*by_seq[seq])  # noqa: SLF001
                if record is not None:
                    out.append(record)
        return out



def typed_records(store: Store, entry_type: str) -> list[Record]:
    """Our records whose entry is of `entry_type`, in chain order: a seek in the chain's
    entry-type index (Store.records' prefix range sorts by seq: a scan of the chain)."""
    with mapped("reading records"):
        rows = store.db.execute(
            "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c"
            " INDEXED BY chain_by_entry_type"
            " LEFT JOIN entries e ON e.address = c.entry_address WHERE c.entry_type = ?"
            " ORDER BY c.seq", (entry_type,)).fetchall()
    return [r for r in (store._checked(*row) for row in rows) if r is not None]  # noqa: SLF001
