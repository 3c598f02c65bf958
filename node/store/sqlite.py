"""The agent's SQLite database: its own source chain, entries, and small metadata.

One file per home, WAL mode with synchronous=FULL: a commit that returned is on disk
(the WAL is fsynced at every commit), so a power loss cannot take it back. Writes happen
only in `flush`, one IMMEDIATE transaction that first checks the head has not moved: a
commit is all or nothing. The file (and SQLite's -wal and -shm, which take its mode) is
created 0600. A home that cannot be written (read-only directory or file) is opened
read-only. sqlite3 errors are mapped to coledger errors here and never leave this package.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from node.core.chain import ChainHead, StoredRow
from node.core.cid import Cid
from node.core.errors import CoreError, HeadMoved, LocalError, NotFound
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


class ReadOnlyHome(StoreError):
    """A write was asked of a home opened read-only."""


# What a command checks at every open (the tables this agent's own chain lives in, ~5 ms
# for a 100 MB file); a node checks the whole file when it starts (~110 ms per 100 MB).
CHAIN_TABLES = ("meta", "chain", "entries", "sessions")


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

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        # The first damage found in the stored chain (by the check at open or by a read
        # that met a record whose bytes no longer match its address), or None.
        self.damage: str | None = None

    def note_damage(self, problem: str) -> None:
        """Remember the first damage seen; reads go on, writes are refused (home.py)."""
        if self.damage is None:
            self.damage = problem

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
            "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c "
            "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.seq >= ?"
        )
        args: tuple[object, ...] = (start,)
        if entry_type_prefix is not None:
            sql += " AND c.entry_type >= ? AND c.entry_type < ?"
            args += (entry_type_prefix, entry_type_prefix + "\U0010ffff")
        with _mapped("reading records"):
            for row in self._conn.execute(sql + " ORDER BY c.seq", args):
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
        with _mapped("reading a record"):
            row = self._conn.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c "
                "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.address = ?",
                (address.to_bytes(),),
            ).fetchone()
        return None if row is None else self._checked(*row)

    def get_record_at(self, seq: int) -> Record | None:
        """Our own record at `seq`."""
        with _mapped("reading a record"):
            row = self._conn.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c "
                "LEFT JOIN entries e ON e.address = c.entry_address WHERE c.seq = ?",
                (seq,),
            ).fetchone()
        return None if row is None else self._checked(*row)

    def record_by_entry(self, entry_address: Cid) -> Record | None:
        """Our record whose entry is at `entry_address` (a countersigned event's name)."""
        with _mapped("reading the chain"):
            row = self._conn.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry FROM chain c"
                " LEFT JOIN entries e ON e.address = c.entry_address"
                " WHERE c.entry_address = ? ORDER BY c.seq LIMIT 1",
                (entry_address.to_bytes(),),
            ).fetchone()
        return None if row is None else self._checked(*row)

    def get_entry(self, address: Cid) -> Entry | None:
        with _mapped("reading an entry"):
            row = self._conn.execute(
                "SELECT entry FROM entries WHERE address = ?", (address.to_bytes(),)
            ).fetchone()
        return None if row is None else Entry(row[0], address)

    def tail(self, count: int) -> tuple[list[tuple[bytes, StoredRow]], int]:
        """The last `count` rows of the chain, oldest first, each with its stored address,
        and how many rows the chain holds: one statement, so one snapshot of a chain that
        other processes may be writing."""
        with _mapped("reading the chain head"):
            rows = self._conn.execute(
                "SELECT c.seq, c.address, c.action, c.signature, e.entry,"
                " (SELECT count(*) FROM chain) FROM chain c"
                " LEFT JOIN entries e ON e.address = c.entry_address ORDER BY c.seq DESC LIMIT ?",
                (count,),
            ).fetchall()
        length = int(rows[0][5]) if rows else 0
        tail = [(bytes(a), StoredRow(seq, act, sig, ent)) for seq, a, act, sig, ent, _ in rows]
        return tail[::-1], length

    def quick_check(self, tables: Sequence[str] | None = CHAIN_TABLES) -> str | None:
        """SQLite's own check of the file's structure (PRAGMA quick_check) over `tables` and
        their indexes (None: the whole file): its first complaint, or None when sound."""
        rows: list[tuple[object, ...]] = []
        try:
            if tables is not None:  # an older home may lack one
                existing = {r[0] for r in self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                tables = [t for t in tables if t in existing]
            for table in tables if tables is not None else [None]:
                pragma = f"PRAGMA quick_check({table or 1})"
                rows = [r for r in self._conn.execute(pragma).fetchall() if r[0] != "ok"]
                if rows:
                    break
        except sqlite3.DatabaseError as e:  # a file too damaged to check at all
            return f"SQLite cannot read the database ({e})"
        if not rows:
            return None
        problem = str(rows[0][0])
        lines = [line for line in problem.splitlines() if not line.startswith("***")]
        return "SQLite's quick_check: " + "; ".join(lines or [problem])

    def get_meta(self, key: str) -> bytes | None:
        with _mapped("reading metadata"):
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    # -- writing -----------------------------------------------------------------

    def writable(self) -> None:
        """Raise ReadOnlyHome unless this store may be written."""
        if self.readonly:
            raise ReadOnlyHome(f"{self.path.parent} is read-only: this command cannot write")

    def set_meta(self, key: str, value: bytes) -> None:
        self.writable()
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
        self.writable()
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
                insert_records(conn, records)
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


def insert_records(conn: sqlite3.Connection, records: Sequence[Record]) -> None:
    """Append `records` to the chain table and their entries, in the caller's transaction."""
    conn.executemany(
        "INSERT INTO chain(seq, address, action, signature, timestamp, action_type,"
        " entry_type, entry_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [_chain_row(r) for r in records],
    )
    conn.executemany(
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
    home that cannot be written is opened read-only: reads work, writes raise ReadOnlyHome."""
    path = Path(path)
    if not create and not path.exists():
        raise NotFound(f"no database at {path}")
    if create and not path.exists():
        with _mapped(f"creating {path}"):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            except OSError as e:
                raise StoreError(f"cannot create {path}: {e.strerror or e}") from None
    if not create and not _writable(path):
        conn = _open_readonly(path)
        store = Store(conn, path, readonly=True)
    else:
        _make_private(path)
        with _mapped(f"opening {path}"):
            conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL fsyncs the WAL at every commit, so an acknowledged commit survives a power
            # loss (NORMAL syncs only at checkpoints: a power loss may take the last commits).
            conn.execute("PRAGMA synchronous=FULL")
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


def _writable(path: Path) -> bool:
    """Whether SQLite can write the database and create its -wal and -shm beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _make_private(path: Path) -> None:
    """Take group and other access from the database and its -wal/-shm (older homes were
    created 0644); SQLite creates -wal and -shm with the database's mode."""
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = file.stat().st_mode
            if mode & 0o077 and file.stat().st_uid == os.geteuid():
                os.chmod(file, mode & 0o700)
        except OSError:
            continue


def _open_readonly(path: Path) -> sqlite3.Connection:
    """Open for reading only. SQLite reads a WAL database read-only if its -shm exists;
    when it cannot (no -shm, directory read-only) and no WAL content is waiting, the file
    alone is the whole database and is opened immutable."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = None
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10.0)
        conn.execute("PRAGMA synchronous=FULL")  # writes nothing; every connection says FULL
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error as e:
        if conn is not None:
            conn.close()
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"cannot read {path} read-only ({e}): its write-ahead log holds commits that"
                " need a writable home; make the home writable once and run a command"
            ) from None
    with _mapped(f"opening {path} read-only"):
        conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def chain_length(path: Path) -> int:
    """How many actions the chain in the database at `path` holds, read without writing
    (0 if the database has no chain table); StoreError if it is not a database."""
    conn = _open_readonly(path)
    try:
        with _mapped(f"reading {path}"):
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chain'"
            ).fetchone():
                return 0
            return int(conn.execute("SELECT count(*) FROM chain").fetchone()[0])
    finally:
        conn.close()
