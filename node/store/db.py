"""The one owner of a home's SQLite connection: its statements, the mapping of sqlite3's
errors to StoreError, and the one atomic `transaction()`.

Every table's module (sqlite.py, sessions.py, the DHT's rooms, the publish queue, gossip's
sums) gets the `Db` and runs its SQL through it; none holds the connection. A transaction
is re-entrant, as py-evm's `eth/db/atomic.py` batches are: a nested use joins the outer
one, and an exception anywhere inside rolls back everything the outer one wrote.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from node.core.errors import LocalError, NotFound

CHUNK: Final = 500
"""Bound parameters per `IN (...)` query, well under SQLite's limit."""


class StoreError(LocalError):
    """The database could not be opened, read or written."""


@contextmanager
def mapped(what: str) -> Iterator[None]:
    """sqlite3's errors inside become StoreError, naming `what` was being done: they never
    leave node/store."""
    try:
        yield
    except sqlite3.Error as e:
        raise StoreError(f"database error while {what}: {e}") from None


class Db:
    """A home's open database: the connection (autocommit: `transaction` opens the only
    transactions), whether it may be written, and its path."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._depth = 0  # how many `transaction`s are open, one inside another
        self._wal: bool | None = None  # journal_mode is WAL (read when first needed)

    # -- statements ------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> sqlite3.Cursor:
        return self._conn.executemany(sql, rows)

    def executescript(self, script: str) -> None:
        self._conn.executescript(script)

    def select_in(self, sql: str, keys: Sequence[bytes],
                  before: tuple[object, ...] = ()) -> list[Any]:
        """The rows of `sql`, whose `{}` is an IN list, for every key: one query per chunk
        of keys (SQLite bounds the parameters of one statement). `before`: the parameters
        that come ahead of the IN list."""
        rows: list[Any] = []
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i : i + CHUNK]
            rows += self._conn.execute(sql.format(",".join("?" * len(chunk))),
                                       (*before, *chunk)).fetchall()
        return rows

    @property
    def total_changes(self) -> int:
        """Rows changed since the connection opened (a difference counts one statement's)."""
        return self._conn.total_changes

    def trace(self, callback: Callable[[str], object] | None) -> None:
        """Pass every statement run to `callback` (None: stop); for tests of query plans."""
        self._conn.set_trace_callback(callback)

    # -- transactions ------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def transaction(self, what: str = "writing", *, durable: bool = True) -> Iterator[None]:
        """One IMMEDIATE transaction around everything inside: committed when the outermost
        use ends, rolled back whole if an exception leaves the outermost (whichever use
        raised it). A nested use joins the outer one and takes its `durable`. sqlite3's
        errors inside are mapped, naming `what`.

        `durable=False`: the commit does not wait for the disk (WAL at synchronous=NORMAL:
        a power cut may lose it, never corrupts the file), for derived rows filed anew by
        each process; the next durable commit syncs them too."""
        try:
            if self._depth > 0:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            relaxed = not durable and self._is_wal()
            if relaxed:
                self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._depth = 1
                try:
                    yield
                except BaseException:
                    self._depth = 0
                    self._conn.execute("ROLLBACK")
                    raise
                self._depth = 0
                try:
                    self._conn.execute("COMMIT")
                except BaseException:  # (a commit that failed must not leave it open)
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            finally:
                if relaxed:
                    self._conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as e:
            raise StoreError(f"database error while {what}: {e}") from None

    def _is_wal(self) -> bool:
        if self._wal is None:
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            self._wal = str(mode).lower() == "wal"
        return self._wal

    def quick_check(self, tables: Sequence[str] | None) -> str | None:
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

    def close(self) -> None:
        with mapped("closing the database"):
            self._conn.close()


def open_db(path: Path, *, create: bool = False) -> Db:
    """The database at `path` (with `create`, made 0600 if missing), WAL and synchronous=
    FULL; opened read-only when it or its directory cannot be written (not with `create`)."""
    path = Path(path)
    if not create and not path.exists():
        raise NotFound(f"no database at {path}")
    if create and not path.exists():
        with mapped(f"creating {path}"):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            except OSError as e:
                raise StoreError(f"cannot create {path}: {e.strerror or e}") from None
    if not create and not _writable(path):
        return Db(_open_readonly(path), path, readonly=True)
    _make_private(path)
    with mapped(f"opening {path}"):
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
    return Db(conn, path)


def open_readonly(path: Path) -> Db:
    """The database at `path`, for reading only (see `_open_readonly`)."""
    return Db(_open_readonly(path), path, readonly=True)


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
    with mapped(f"opening {path} read-only"):
        conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn
