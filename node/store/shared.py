"""Gossip's running sums, kept in the DHT's SQLite file (node/runtime/held.py has the
logic): one row per held op, one per (fellow authority, op) and one count and XOR per
(fellow, hour). Kept in memory they grew by over a kilobyte an event, forever; here a
node's memory stays flat however many ops it holds.

The rows are derived data, filed anew by each process (the tables are made afresh when
it opens them; `clear` empties them). An op's basis is read from `ops`, and a fellow is
a number the process gave it, to keep the rows small (they add about half to the
ops' own size on disk otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from node.store.db import mapped
from node.store.dht import DhtStore

OURS: Final = 0
TO_HAND_OFF: Final = 1
HANDED_OFF: Final = 2
"""held_ops.not_ours: ours (or our own), not ours and not yet handed off, handed off."""

_SCHEMA = """
DROP TABLE IF EXISTS held_ops;
DROP TABLE IF EXISTS held_by_fellow;
DROP TABLE IF EXISTS held_sums;
CREATE TABLE held_ops (
    address  BLOB PRIMARY KEY,
    time_us  INTEGER NOT NULL,
    mine     INTEGER NOT NULL,
    fellows  INTEGER NOT NULL,
    not_ours INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX held_ops_not_ours ON held_ops(not_ours) WHERE not_ours != 0;
CREATE TABLE held_by_fellow (
    fellow  INTEGER NOT NULL,
    time_us INTEGER NOT NULL,
    address BLOB NOT NULL,
    PRIMARY KEY (fellow, time_us, address)
) WITHOUT ROWID;
CREATE TABLE held_sums (
    fellow INTEGER NOT NULL,
    hour   INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    xor    BLOB NOT NULL,
    PRIMARY KEY (fellow, hour)
) WITHOUT ROWID;
"""

HeldRow = tuple[bytes, bytes, int, int, int, int]
"""(address, basis, time_us, mine, fellow set id, not_ours) of a filed op."""
NewRow = tuple[bytes, int, int, int, int]
"""(address, time_us, mine, fellow set id, not_ours) of an op to file."""


class HeldStore:
    """The filed ops, by fellow and hour, in the DhtStore's database and transactions."""

    def __init__(self, dht: DhtStore) -> None:
        self._db = dht.db
        if not self._db.readonly:
            with mapped("creating the gossip tables"):
                self._db.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around a refresh's writes (joins an outer one). Its own commit
        does not wait for the disk (`durable=False`): what it writes is derived and filed
        anew by each process, and the next durable commit syncs it too. (An fsync a
        refresh cost gossip about 1.5 ms an op batch.)"""
        with self._db.transaction("writing gossip's sums", durable=False):
            yield

    def clear(self) -> None:
        with mapped("clearing gossip's sums"):
            for table in ("held_ops", "held_by_fellow", "held_sums"):
                self._db.execute(f"DELETE FROM {table}")

    # -- reading what is filed ---------------------------------------------------------

    def page(self, after: bytes, limit: int) -> list[tuple[bytes, bytes, int, int, int, int,
                                                             int]]:
        """Filed ops by address after `after`, each with whether it is still integrated."""
        with mapped("reading gossip's sums"):
            return self._db.execute(
                "SELECT h.address, o.basis, h.time_us, h.mine, h.fellows, h.not_ours,"
                " o.state IS 'integrated' FROM held_ops h LEFT JOIN ops o"
                " ON o.address = h.address WHERE h.address > ? ORDER BY h.address LIMIT ?",
                (after, limit),
            ).fetchall()

    def unfiled(self, after: bytes, limit: int) -> list[tuple[bytes, bytes, int, bytes]]:
        """(address, basis, time_us, author) of integrated ops not filed, by address."""
        with mapped("reading gossip's sums"):
            return self._db.execute(
                "SELECT address, basis, time_us, author FROM ops o WHERE address > ?"
                " AND +state = 'integrated'"  # (by address: no index on state, no sort)
                " AND NOT EXISTS (SELECT 1 FROM held_ops h WHERE h.address = o.address)"
                " ORDER BY address LIMIT ?",
                (after, limit),
            ).fetchall()

    def of_bases(self, bases: Sequence[bytes]) -> list[HeldRow]:
        with mapped("reading gossip's sums"):
            return self._db.select_in("SELECT h.address, o.basis, h.time_us, h.mine,"
                                      " h.fellows, h.not_ours FROM ops o JOIN held_ops h"
                                      " ON h.address = o.address WHERE o.basis IN ({})", bases)

    def filed(self, addresses: Sequence[bytes]) -> set[bytes]:
        """Those of `addresses` that are filed."""
        with mapped("reading gossip's sums"):
            rows = self._db.select_in("SELECT address FROM held_ops WHERE address IN ({})",
                                      addresses)
        return {a for (a,) in rows}

    # -- writing -----------------------------------------------------------------------

    def write(self, new: Sequence[NewRow], changed: Sequence[tuple[int, int, bytes]],
              gone: Sequence[bytes], unfile: Iterable[tuple[int, int, bytes]],
              file: Iterable[tuple[int, int, bytes]]) -> None:
        """Insert `new` ops, set (fellows, not_ours) of `changed` ones, drop `gone` ones;
        (fellow, time_us, address) rows to drop and to add."""
        with mapped("writing gossip's sums"):
            db = self._db
            db.executemany("INSERT INTO held_ops VALUES (?, ?, ?, ?, ?)", new)
            db.executemany("UPDATE held_ops SET fellows = ?, not_ours = ? WHERE address = ?",
                           changed)
            db.executemany("DELETE FROM held_ops WHERE address = ?", [(a,) for a in gone])
            db.executemany("DELETE FROM held_by_fellow WHERE fellow = ? AND time_us = ?"
                           " AND address = ?", unfile)
            db.executemany("INSERT OR IGNORE INTO held_by_fellow VALUES (?, ?, ?)", file)

    def add_sums(self, deltas: dict[tuple[int, int], tuple[int, int]]) -> None:
        """Add (count, XOR) to the sums of (fellow, hour); a sum that comes to 0 goes."""
        with mapped("writing gossip's sums"):
            db = self._db
            for (fellow, hour), (count, xor) in deltas.items():
                row = db.execute("SELECT count, xor FROM held_sums WHERE fellow = ?"
                                 " AND hour = ?", (fellow, hour)).fetchone()
                if row is not None:
                    count += row[0]
                    xor ^= int.from_bytes(row[1], "big")
                if count:
                    db.execute("INSERT OR REPLACE INTO held_sums VALUES (?, ?, ?, ?)",
                               (fellow, hour, count, xor.to_bytes(32, "big")))
                elif row is not None:
                    db.execute("DELETE FROM held_sums WHERE fellow = ? AND hour = ?",
                               (fellow, hour))

    def set_not_ours(self, addresses: Sequence[bytes], value: int) -> None:
        with mapped("writing gossip's sums"):
            self._db.executemany("UPDATE held_ops SET not_ours = ? WHERE address = ?",
                                 [(value, a) for a in addresses])

    # -- what gossip and hand-off ask --------------------------------------------------

    def sums(self, fellow: int) -> list[tuple[int, int, bytes]]:
        """(hour, count, XOR) of every hour with ops shared with `fellow`."""
        with mapped("reading gossip's sums"):
            return self._db.execute(
                "SELECT hour, count, xor FROM held_sums WHERE fellow = ?", (fellow,)
            ).fetchall()

    def shared_between(self, fellow: int, start_us: int, end_us: int) -> list[tuple[bytes,
                                                                                     int]]:
        """(address, time_us) of the ops shared with `fellow` timed in [start, end)."""
        with mapped("reading gossip's sums"):
            return self._db.execute(
                "SELECT address, time_us FROM held_by_fellow WHERE fellow = ?"
                " AND time_us >= ? AND time_us < ?", (fellow, start_us, end_us)
            ).fetchall()

    def to_hand_off(self, limit: int) -> list[bytes]:
        """Up to `limit` addresses of filed ops not ours and not handed off yet."""
        with mapped("reading gossip's sums"):
            return [a for (a,) in self._db.execute(
                "SELECT address FROM held_ops WHERE not_ours != 0 AND not_ours = ? LIMIT ?",
                (TO_HAND_OFF, limit))]  # (`!= 0`, as in the partial index: it is used)

    def not_ours_after(self, after: bytes, limit: int) -> list[bytes]:
        """Addresses of filed ops not ours (handed off or not), by address after `after`."""
        with mapped("reading gossip's sums"):
            return [a for (a,) in self._db.execute(
                "SELECT address FROM held_ops WHERE not_ours != 0 AND address > ?"
                " ORDER BY address LIMIT ?", (after, limit))]

    def count_not_ours(self) -> int:
        with mapped("reading gossip's sums"):
            return int(self._db.execute(
                "SELECT count(*) FROM held_ops WHERE not_ours != 0").fetchone()[0])

    def is_not_ours(self, address: bytes) -> bool:
        with mapped("reading gossip's sums"):
            return self._db.execute(
                "SELECT 1 FROM held_ops WHERE address = ? AND not_ours != 0", (address,)
            ).fetchone() is not None
