"""The author's publish queue: own ops waiting for enough validation receipts.

Survives restarts (it is a table in the home's database). An op leaves the queue
when distinct validators' receipts reach the target; until then it is retried
with a doubling backoff.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from node.core.cid import Cid
from node.core.ops import Op
from node.store.db import mapped
from node.store.dht_records import op_from_row
from node.store.sqlite import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS publish_queue (
    op          BLOB PRIMARY KEY,
    op_type     TEXT NOT NULL,
    action      BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_us INTEGER NOT NULL,
    added_us    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS publish_due ON publish_queue(next_try_us);
"""


@dataclass(frozen=True, slots=True)
class Outgoing:
    op: Op
    attempts: int
    added_us: int  # when it was queued (for lag figures)


class PublishQueue:
    """Own ops to publish, in the same database as the chain they come from."""

    def __init__(self, store: Store) -> None:
        self._db = store.db
        with mapped("creating the publish queue"):
            self._db.executescript(_SCHEMA)

    def enqueue(self, ops: Iterable[Op], now_us: int) -> int:
        rows = [
            (op.address.to_bytes(), op.type.value, op.signed.address.to_bytes(), now_us, now_us)
            for op in ops
        ]
        with self._db.transaction("queueing ops to publish"):
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO publish_queue(op, op_type, action, next_try_us, added_us)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            return self._db.total_changes - before

    def due(self, now_us: int, limit: int = 2000) -> list[Outgoing]:
        """Queued ops whose retry time has come; their records come from our own chain."""
        with mapped("reading the publish queue"):
            rows = self._db.execute(
                "SELECT q.op_type, c.action, c.signature, e.entry, q.attempts, q.added_us"
                " FROM publish_queue q"
                " JOIN chain c ON c.address = q.action"
                " LEFT JOIN entries e ON e.address = c.entry_address"
                " WHERE q.next_try_us <= ? ORDER BY q.next_try_us LIMIT ?",
                (now_us, limit),
            ).fetchall()
        return [Outgoing(op_from_row(t, a, s, e), n, added) for t, a, s, e, n, added in rows]

    def hold(self, op_addresses: Iterable[Cid], until_us: int) -> None:
        """Not due before `until_us` (a round has them out), attempts unchanged."""
        with self._db.transaction("holding ops to publish"):
            self._db.executemany(
                "UPDATE publish_queue SET next_try_us = ? WHERE op = ?",
                [(until_us, a.to_bytes()) for a in op_addresses],
            )

    def settle(self, done: Iterable[Cid], retry: Iterable[tuple[Cid, int]]) -> None:
        """Remove the confirmed ops; the others are tried again at their given time
        (µs), one attempt more."""
        with self._db.transaction("finishing a publish round"):
            self._db.executemany(
                "DELETE FROM publish_queue WHERE op = ?", [(a.to_bytes(),) for a in done]
            )
            self._db.executemany(
                "UPDATE publish_queue SET attempts = attempts + 1, next_try_us = ? WHERE op = ?",
                [(at, a.to_bytes()) for a, at in retry],
            )

    def next_due_us(self) -> int | None:
        """When the next queued op is due (None: the queue is empty)."""
        with mapped("reading the publish queue"):
            row = self._db.execute("SELECT min(next_try_us) FROM publish_queue").fetchone()
        return None if row[0] is None else int(row[0])

    def pending(self) -> int:
        with mapped("counting the publish queue"):
            return int(self._db.execute("SELECT count(*) FROM publish_queue").fetchone()[0])

    def validators(self, op_addresses: Sequence[Cid]) -> dict[Cid, set[bytes]]:
        """The agents (id bytes) whose receipts we hold, for each of these ops (one query
        per chunk)."""
        found: dict[Cid, set[bytes]] = {a: set() for a in op_addresses}
        with mapped("reading receipts"):
            rows = self._db.select_in("SELECT op, validator FROM receipts WHERE op IN ({})",
                                      [a.to_bytes() for a in op_addresses])
        for op, validator in rows:
            found[Cid(op)].add(bytes(validator))
        return found
