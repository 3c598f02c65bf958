"""The agent's own source chain in its home's database: the chain, entries, and small
metadata (tables chain, entries, meta; sessions.py keeps the sessions table beside them).

The database is opened by node/store/db.py (one file per home, WAL with synchronous=FULL:
a commit that returned is on disk; created 0600; opened read-only when it cannot be
written), which owns the connection, maps sqlite3's errors and keeps the one transaction.
The chain is written only in `flush`, one transaction that first checks the head has not
moved: a commit is all or nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from node.core.chain import ChainHead, StoredRow
from node.core.cid import Cid
from node.core.errors import CoreError, HeadMoved
from node.core.records import Entry, Record, SignedAction
from node.core.refusals import ChainBehind, ChainUnchecked
from node.store import schema, sessions
from node.store.db import Db, StoreError, mapped, open_db, open_readonly
from node.store.schema import SCHEMA_VERSION
from node.store.sessions import SessionCommit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS chain (
    seq          INTEGER PRIMARY KEY,
    address      BLOB NOT NULL UNIQUE,
    action       BLOB NOT NULL,
    signature    BLOB NOT NULL,
    timestamp    INTEGER NOT NULL,
    action_type  TEXT NOT NULL,
    entry_type   TEXT,
    entry_address BLOB
);
CREATE INDEX IF NOT EXISTS chain_by_entry_type ON chain(entry_type);
CREATE TABLE IF NOT EXISTS entries (
    address BLOB PRIMARY KEY,
    entry   BLOB NOT NULL
);
"""


class ReadOnlyHome(StoreError):
    """A write was asked of a home opened read-only."""


# What a command checks at every open (the tables this agent's own chain lives in, ~5 ms
# for a 100 MB file); a node checks the whole file when it starts (~110 ms per 100 MB).
CHAIN_TABLES = ("meta", "chain", "entries", "sessions")


BEHIND_META = "chain_behind"
"""A meta row: the network holds actions of ours this chain lacks (node/store/behind.py)."""


def behind_message(local_seq: int, network_seq: int) -> str:
    return (f"your chain is behind the network (local head seq {local_seq}, network has seq"
            f" {network_seq})")


RESTORED_META = "chain_unchecked"
"""A meta row: this home was restored from a backup (node/store/backup.py) and has not yet
compared its chain with the network's (node/runtime/recovery.py clears it)."""


def refuse_if_unchecked(db: Db) -> None:
    """ChainUnchecked if the home was restored and not yet checked against the network."""
    with mapped("reading metadata"):
        row = db.execute("SELECT 1 FROM meta WHERE key = ?", (RESTORED_META,)).fetchone()
        if row is None:
            return
        head = db.execute("SELECT MAX(seq) FROM chain").fetchone()[0]
    raise ChainUnchecked(
        f"this home was restored from a backup (head seq {-1 if head is None else head}) and"
        " has not yet compared its chain with the network's, which may hold later actions"
        " of this agent: nothing was written")


def refuse_if_behind(db: Db) -> None:
    """ChainBehind if the home is marked behind (inside the write's transaction)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (BEHIND_META,)).fetchone()
    if row is None:
        return
    try:
        network_seq = int(json.loads(row[0])["network_seq"])
    except (ValueError, TypeError, KeyError):
        network_seq = -1
    head = db.execute("SELECT MAX(seq) FROM chain").fetchone()[0]
    raise ChainBehind(behind_message(-1 if head is None else head, network_seq))


class Store:
    """A home's own chain, in its database (`db`, which the DHT's rooms, the publish queue
    and the sessions share). Use `open_store(path)`; not shared between threads."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.path = db.path
        self.readonly = db.readonly
        # The first damage found in the stored chain (by the check at open or by a read
        # that met a record whose bytes no longer match its address), or None.
        self.damage: str | None = None

    def note_damage(self, problem: str) -> None:
        """Remember the first damage seen; reads go on, writes are refused (home.py)."""
        if self.damage is None:
            self.damage = problem

    # -- reading -----------------------------------------------------------------

    def head(self) -> ChainHead | None:
        with mapped("reading the chain head"):
            row = self.db.execute(
                "SELECT seq, address, timestamp FROM chain ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else ChainHead(row[0], Cid(row[1]), row[2])

    def rows(self, start: int = 0) -> Iterator[StoredRow]:
        """The stored chain from `start`, raw and untrusted (for verify_chain)."""
        with mapped("reading the chain"):
            cur = self.db.execute(
                "SELECT c.seq, c.action, c.signature, e.entry FROM chain c "
                "LEFT JOIN entries e ON e.address = c.entry_address "
                "WHERE c.seq >= ? ORDER BY c.seq",
                (start,),
            )
            for seq, action, signature, entry in cur:
                yield StoredRow(seq, action, signature, entry)

    def records(
        self, *, entry_type_prefix: str | None = None, start: int = 0
    ) -> Iterator[Record]:
        """Decoded records of our own chain (trusted: we wrote and verified them)."""
        sql = (
            "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c "
            "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.seq >= ?"
        )
        args: tuple[object, ...] = (start,)
        if entry_type_prefix is not None:
            sql += " AND c.entry_type >= ? AND c.entry_type < ?"
            args += (entry_type_prefix, entry_type_prefix + "\U0010ffff")
        with mapped("reading records"):
            for row in self.db.execute(sql + " ORDER BY c.seq", args):
                record = self._checked(*row)
                if record is not None:
                    yield record

    def _checked(
        self, seq: int, address: bytes, action: bytes, signature: bytes, entry: bytes | None
    ) -> Record | None:
        """The stored record, or None (and the damage noted) if its bytes no longer match
        the addresses they were stored under: a damaged record is left out, never shown."""
        try:
            record = _record(action, signature, entry)
        except CoreError as e:
            self.note_damage(f"seq {seq} is undecodable ({e})")
            return None
        problem = stored_mismatch(record, Cid(address))
        if problem is not None:
            self.note_damage(f"seq {seq}: {problem}")
            return None
        return record

    def get_record(self, address: Cid) -> Record | None:
        """The record whose action has this address."""
        with mapped("reading a record"):
            row = self.db.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c "
                "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.address = ?",
                (address.to_bytes(),),
            ).fetchone()
        return None if row is None else self._checked(*row)

    def get_record_at(self, seq: int) -> Record | None:
        """Our own record at `seq`."""
        with mapped("reading a record"):
            row = self.db.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c "
                "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.seq = ?",
                (seq,),
            ).fetchone()
        return None if row is None else self._checked(*row)

    def record_by_entry(self, entry_address: Cid) -> Record | None:
        """Our record whose entry is at `entry_address` (a countersigned event's name)."""
        with mapped("reading the chain"):
            row = self.db.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c"
                " LEFT JOIN entries e ON e.address = c.entry_address"
                " WHERE c.entry_address = ? ORDER BY c.seq LIMIT 1",
                (entry_address.to_bytes(),),
            ).fetchone()
        return None if row is None else self._checked(*row)

    def get_entry(self, address: Cid) -> Entry | None:
        with mapped("reading an entry"):
            row = self.db.execute(
                "SELECT entry FROM entries WHERE address = ?", (address.to_bytes(),)
            ).fetchone()
        return None if row is None else Entry(row[0], address)

    def tail(self, count: int) -> tuple[list[tuple[bytes, StoredRow]], int]:
        """The last `count` rows of the chain, oldest first, each with its stored address,
        and how many rows the chain holds: one statement, so one snapshot of a chain that
        other processes may be writing."""
        with mapped("reading the chain head"):
            rows = self.db.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry,"
                " (SELECT count(*) FROM chain) FROM chain c"
                " LEFT JOIN entries e ON e.address = c.entry_address ORDER BY c.seq DESC LIMIT ?",
                (count,),
            ).fetchall()
        length = int(rows[0][5]) if rows else 0
        tail = [(bytes(a), StoredRow(seq, act, sig, ent)) for seq, a, act, sig, ent, _ in rows]
        return tail[::-1], length

    def quick_check(self, tables: Sequence[str] | None = CHAIN_TABLES) -> str | None:
        """SQLite's check of `tables` and their indexes (None: the whole file): its first
        complaint, or None when sound (Db.quick_check)."""
        return self.db.quick_check(tables)

    def get_meta(self, key: str) -> bytes | None:
        with mapped("reading metadata"):
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    # -- writing -----------------------------------------------------------------

    def writable(self) -> None:
        """Raise ReadOnlyHome unless this store may be written."""
        if self.readonly:
            raise ReadOnlyHome(f"{self.path.parent} is read-only: this command cannot write")

    def set_meta(self, key: str, value: bytes) -> None:
        self.writable()
        with self.db.transaction("writing metadata"):
            self.db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def flush(
        self,
        expected_head: ChainHead | None,
        records: Sequence[Record],
        *,
        now_us: int | None = None,
        session: SessionCommit | None = None,
    ) -> None:
        """Append records in one transaction, or raise and write nothing: HeadMoved if
        the head moved, ChainLocked if a countersigning session holds the chain (other
        than `session`, whose commit this is and which is marked committed with it)."""
        self.writable()
        db = self.db
        now = time.time_ns() // 1000 if now_us is None else now_us
        with db.transaction("writing the chain"):
            refuse_if_behind(db)
            refuse_if_unchecked(db)
            head = self.head()
            if head != expected_head:
                raise HeadMoved(
                    "the chain head moved during this commit (another command wrote first);"
                    " nothing was written, try again"
                )
            lock = sessions.active_lock(db, now)
            if lock is not None and (session is None or lock.id != session.id):
                raise sessions.ChainLocked(sessions.locked_message(lock))
            if session is not None:
                sessions.apply_commit(db, session, now)
            insert_records(db, records)

    @property
    def sessions(self) -> sessions.SessionStore:
        """This agent's countersigning sessions (same database: they commit with the chain)."""
        return sessions.SessionStore(self.db)

    def close(self) -> None:
        self.db.close()


def _chain_row(record: Record) -> tuple[object, ...]:
    signed = record.signed
    action = signed.action
    entry_address = action.entry_address
    return (
        action.seq,
        signed.address.to_bytes(),
        signed.data,
        signed.signature,
        action.timestamp,
        action.TYPE,
        getattr(action, "entry_type", None),
        entry_address.to_bytes() if entry_address else None,
    )


def insert_records(db: Db, records: Sequence[Record]) -> None:
    """Append `records` to the chain table and their entries, in the caller's transaction."""
    db.executemany(
        "INSERT INTO chain(seq, address, action, signature, timestamp, action_type,"
        " entry_type, entry_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [_chain_row(r) for r in records],
    )
    db.executemany(
        "INSERT OR IGNORE INTO entries(address, entry) VALUES (?, ?)",
        [(r.entry.address.to_bytes(), r.entry.data) for r in records if r.entry],
    )


def stored_mismatch(record: Record, stored_address: Cid) -> str | None:
    """Why a stored record's bytes do not match its addresses (a damaged file), or None."""
    if record.address != stored_address:
        return "the action's bytes no longer match its address"
    if record.entry is not None and Cid.of(record.entry.data) != record.entry.address:
        return "the entry's bytes no longer match its address"
    return None


def _record(action: bytes, signature: bytes, entry: bytes | None) -> Record:
    signed = SignedAction.from_bytes(action, signature)
    address = signed.action.entry_address
    return Record(signed, Entry(entry, address) if entry is not None and address else None)


@contextmanager
def open_store(path: Path, *, create: bool = False) -> Iterator[Store]:
    """Open (or with `create`, create) a home's database; closed on exit. A database or
    home that cannot be written is opened read-only: reads work, writes raise ReadOnlyHome.
    An older database is migrated first (node/store/schema.py), a newer one refused."""
    db = open_db(path, create=create)
    try:
        if db.readonly:
            schema.check_readable(db)
        else:
            fresh = schema.is_fresh(db)
            if not fresh:
                schema.migrate(db)
            with mapped(f"opening {db.path}"):
                db.executescript(_SCHEMA)
                db.executescript(sessions.SCHEMA)
                db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION).encode(),),
                )
            if fresh:
                schema.stamp_fresh(db)
    except BaseException:
        db.close()
        raise
    store = Store(db)
    try:
        yield store
    finally:
        store.close()


def chain_length(path: Path) -> int:
    """How many actions the chain in the database at `path` holds, read without writing
    (0 if the database has no chain table); StoreError if it is not a database."""
    db = open_readonly(path)
    try:
        with mapped(f"reading {path}"):
            if not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chain'"
            ).fetchone():
                return 0
            return int(db.execute("SELECT count(*) FROM chain").fetchone()[0])
    finally:
        db.close()
