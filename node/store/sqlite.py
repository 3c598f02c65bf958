"""The agent's SQLite database: its own source chain, entries, and small metadata.

One file per home, WAL mode. Writes happen only in `flush`, one IMMEDIATE
transaction that first checks the head has not moved: a commit is all or nothing.
sqlite3 errors are mapped to coledger errors here and never leave this package.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from node.core.chain import ChainHead, StoredRow
from node.core.cid import Cid
from node.core.errors import HeadMoved, LocalError, NotFound
from node.core.records import Entry, Record, SignedAction
from node.store import sessions
from node.store.sessions import SessionCommit

SCHEMA_VERSION = 1

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


class StoreError(LocalError):
    """The database could not be opened, read or written."""


BEHIND_META = "chain_behind"
"""A meta row: the network holds actions of ours this chain lacks (node/store/behind.py)."""


class ChainBehind(LocalError):
    """Our chain is behind what the network holds of it: a write would fork it."""


def behind_message(local_seq: int, network_seq: int) -> str:
    return (f"your chain is behind the network (local head seq {local_seq}, network has seq"
            f" {network_seq}): run `coledger chain recover`")


def refuse_if_behind(conn: sqlite3.Connection) -> None:
    """ChainBehind if the home is marked behind (inside the write's transaction)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (BEHIND_META,)).fetchone()
    if row is None:
        return
    try:
        network_seq = int(json.loads(row[0])["network_seq"])
    except (ValueError, TypeError, KeyError):
        network_seq = -1
    head = conn.execute("SELECT MAX(seq) FROM chain").fetchone()[0]
    raise ChainBehind(behind_message(-1 if head is None else head, network_seq))


@contextmanager
def _mapped(what: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as e:
        raise StoreError(f"database error while {what}: {e}") from None


class Store:
    """A home's database. Use `open_store(path)`; not shared between threads."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    # -- reading -----------------------------------------------------------------

    def head(self) -> ChainHead | None:
        with _mapped("reading the chain head"):
            row = self._conn.execute(
                "SELECT seq, address, timestamp FROM chain ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else ChainHead(row[0], Cid(row[1]), row[2])

    def rows(self, start: int = 0) -> Iterator[StoredRow]:
        """The stored chain from `start`, raw and untrusted (for verify_chain)."""
        with _mapped("reading the chain"):
            cur = self._conn.execute(
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
            "SELECT c.action, c.signature, e.entry FROM chain c "
            "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.seq >= ?"
        )
        args: tuple[object, ...] = (start,)
        if entry_type_prefix is not None:
            sql += " AND c.entry_type >= ? AND c.entry_type < ?"
            args += (entry_type_prefix, entry_type_prefix + "\U0010ffff")
        with _mapped("reading records"):
            for action, signature, entry in self._conn.execute(sql + " ORDER BY c.seq", args):
                yield _record(action, signature, entry)

    def get_record(self, address: Cid) -> Record | None:
        """The record whose action has this address."""
        with _mapped("reading a record"):
            row = self._conn.execute(
                "SELECT c.action, c.signature, e.entry FROM chain c "
                "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.address = ?",
                (address.to_bytes(),),
            ).fetchone()
        return None if row is None else _record(*row)

    def get_record_at(self, seq: int) -> Record | None:
        """Our own record at `seq`."""
        with _mapped("reading a record"):
            row = self._conn.execute(
                "SELECT c.action, c.signature, e.entry FROM chain c "
                "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.seq = ?",
                (seq,),
            ).fetchone()
        return None if row is None else _record(*row)

    def record_by_entry(self, entry_address: Cid) -> Record | None:
        """Our record whose entry is at `entry_address` (a countersigned event's name)."""
        with _mapped("reading the chain"):
            row = self._conn.execute(
                "SELECT c.action, c.signature, e.entry FROM chain c LEFT JOIN entries e"
                " ON e.address = c.entry_address WHERE c.entry_address = ? ORDER BY c.seq LIMIT 1",
                (entry_address.to_bytes(),),
            ).fetchone()
        return None if row is None else _record(*row)

    def get_entry(self, address: Cid) -> Entry | None:
        with _mapped("reading an entry"):
            row = self._conn.execute(
                "SELECT entry FROM entries WHERE address = ?", (address.to_bytes(),)
            ).fetchone()
        return None if row is None else Entry(row[0], address)

    def get_meta(self, key: str) -> bytes | None:
        with _mapped("reading metadata"):
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    # -- writing -----------------------------------------------------------------

    def set_meta(self, key: str, value: bytes) -> None:
        with _mapped("writing metadata"), self._conn:
            self._conn.execute(
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
        conn = self._conn
        now = time.time_ns() // 1000 if now_us is None else now_us
        with _mapped("writing the chain"):
            conn.execute("BEGIN IMMEDIATE")
            try:
                refuse_if_behind(conn)
                head = self.head()
                if head != expected_head:
                    raise HeadMoved(
                        "the chain head moved during this commit (another command wrote first);"
                        " nothing was written, try again"
                    )
                lock = sessions.active_lock(conn, now)
                if lock is not None and (session is None or lock.id != session.id):
                    raise sessions.ChainLocked(sessions.locked_message(lock))
                if session is not None:
                    sessions.apply_commit(conn, session, now)
                conn.executemany(
                    "INSERT INTO chain(seq, address, action, signature, timestamp, action_type,"
                    " entry_type, entry_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [_chain_row(r) for r in records],
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO entries(address, entry) VALUES (?, ?)",
                    [(r.entry.address.to_bytes(), r.entry.data) for r in records if r.entry],
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def sessions(self) -> sessions.SessionStore:
        """This agent's countersigning sessions (same database: they commit with the chain)."""
        return sessions.SessionStore(self._conn)

    def close(self) -> None:
        with _mapped("closing the database"):
            self._conn.close()


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


def _record(action: bytes, signature: bytes, entry: bytes | None) -> Record:
    signed = SignedAction.from_bytes(action, signature)
    address = signed.action.entry_address
    return Record(signed, Entry(entry, address) if entry is not None and address else None)


@contextmanager
def open_store(path: Path, *, create: bool = False) -> Iterator[Store]:
    """Open (or with `create`, create) a home's database; closed on exit."""
    path = Path(path)
    if not create and not path.exists():
        raise NotFound(f"no database at {path}")
    with _mapped(f"opening {path}"):
        conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every ~40 MB of WAL (10,000 pages), not SQLite's ~4 MB: validation
        # rewrites the same index pages batch after batch, and a checkpoint copies each
        # page once and syncs twice, so fewer of them write less (bench/validate, 40,000
        # ops with the checkpoint at close counted: ~10% less time). Costs WAL disk space.
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        conn.executescript(_SCHEMA)
        conn.executescript(sessions.SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION).encode(),),
        )
    store = Store(conn, path)
    try:
        yield store
    finally:
        store.close()
