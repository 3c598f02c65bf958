"""The schema version of a home's database and its migrations.

The version is SQLite's `PRAGMA user_version` (a home written before it was kept has 0,
which is schema 1's layout). Opening an older home migrates it in one transaction, step
by step (MIGRATIONS: from N to N+1), so a failed step leaves the file as it was; a home
newer than this code is refused, since this code cannot know what its tables mean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from node.store.db import Db, StoreError, mapped

SCHEMA_VERSION = 1
"""The schema this code writes (read at each open: a test may raise it)."""
READS_FROM: Final = 0
"""The oldest schema this code reads without migrating it (a home it cannot write)."""

Migration = Callable[[Db], None]


def _v0_to_v1(db: Db) -> None:
    """Schema 1 is the layout of the homes written before the version was kept: nothing
    to change but the version itself."""


MIGRATIONS: Mapping[int, Migration] = {0: _v0_to_v1}
"""Each step, by the version it migrates from; it runs inside the migration's transaction
and must use only `db.execute` (a script would commit). Read at each open."""


class SchemaTooNew(StoreError):
    """The home was written by a newer coledger, with a schema this code does not know."""


class MigrationFailed(StoreError):
    """A step of a migration failed: the transaction was rolled back, the home is as it was."""


def stored_version(db: Db) -> int:
    with mapped("reading the schema version"):
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def is_fresh(db: Db) -> bool:
    """Whether the database holds no table yet (a home being created)."""
    with mapped("reading the schema"):
        return db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None


def refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(f"this home was written by a newer coledger (schema {version});"
                           " upgrade coledger")


def check_readable(db: Db) -> None:
    """For a home opened read-only: refuse a schema this code cannot read as it is."""
    version = stored_version(db)
    refuse_newer(version)
    if version < READS_FROM:
        raise StoreError(f"{db.path} has schema {version}, older than this coledger reads"
                         " without upgrading it: make the home writable once and run a"
                         " command")


def migrate(db: Db) -> int | None:
    """Bring an existing database up to SCHEMA_VERSION in one transaction; the version it
    had when migrated, or None when there was nothing to do. SchemaTooNew for a newer one;
    MigrationFailed (nothing changed) if a step fails."""
    current = SCHEMA_VERSION
    refuse_newer(stored_version(db))
    if stored_version(db) == current:
        return None
    with db.transaction("upgrading the database"):
        start = stored_version(db)  # (again, in the transaction: another process may have)
        refuse_newer(start)
        for version in range(start, current):
            try:
                MIGRATIONS[version](db)
            except Exception as e:  # any failure: the transaction rolls back whole
                raise MigrationFailed(
                    f"upgrading {db.path} from schema {start} to {current} failed at the"
                    f" step from {version} to {version + 1} ({e}); the home is as it was:"
                    " please report it") from None
        db.execute(f"PRAGMA user_version = {int(current)}")
    return None if start == current else start


def stamp_fresh(db: Db) -> None:
    """Mark a database whose tables were just created as the current schema."""
    with db.transaction("writing the schema version"):
        db.execute(f"PRAGMA user_version = {int(SCHEMA_VERSION)}")
