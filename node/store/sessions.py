"""Countersigning sessions of this agent, in its own database, next to its chain.

A session row is written before any message about it leaves the node, and its state
changes in the same transaction as the chain write it allows (`Store.flush` with a
`SessionCommit`), so a crash leaves a session either committed with its record or
not committed without it: never one without the other.

States, by role:
  initiator:    proposed -> committed | declined | expired
  counterparty: pending -> signed -> committed | abandoned
                pending -> declined | expired
A session *locks* the chain while it is `proposed` (until it expires: the initiator
never commits after that) or `signed` (until resolved: the initiator may have
committed, so this side must not write anything else first). `ChainLocked` is what
any other commit gets meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from node.core.encoding import decode, encode
from node.core.errors import LocalError
from node.core.identity import AgentId
from node.store.db import Db

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sessions (
    id          BLOB PRIMARY KEY,
    role        TEXT NOT NULL,
    state       TEXT NOT NULL,
    peer        BLOB NOT NULL,
    locks       INTEGER NOT NULL,
    created_us  INTEGER NOT NULL,
    expires_us  INTEGER NOT NULL,
    detail      BLOB NOT NULL,
    event       TEXT,
    reason      TEXT
);
CREATE INDEX IF NOT EXISTS sessions_locking ON sessions(locks) WHERE locks = 1;
"""

INITIATOR: Final = "initiator"
COUNTERPARTY: Final = "counterparty"
OPEN_STATES: Final = frozenset({"proposed", "pending", "signed"})


class ChainLocked(LocalError):
    """A countersigning session holds the chain: nothing else may be written now."""


class SessionClosed(LocalError):
    """The session is no longer in a state that allows this step."""


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: bytes
    role: str
    state: str
    peer: AgentId
    locks: bool
    created_us: int
    expires_us: int
    detail: dict[str, object]
    event: str | None
    reason: str | None

    @property
    def hex_id(self) -> str:
        return self.id.hex()

    def to_json(self) -> dict[str, object]:
        return {"id": self.hex_id, "role": self.role, "state": self.state, "peer": str(self.peer),
                "expires_us": self.expires_us, "event": self.event, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class SessionCommit:
    """Flush records only if the session `id` is in one of `from_states` (and, for the
    initiator, still before `before_us`); mark it committed with `event` meanwhile."""

    id: bytes
    from_states: frozenset[str]
    event: str
    before_us: int | None = None


_COLUMNS: Final = "id, role, state, peer, locks, created_us, expires_us, detail, event, reason"


def _row(values: tuple[object, ...]) -> SessionRow:
    sid, role, state, peer, locks, created, expires, detail, event, reason = values
    return SessionRow(sid, role, state, AgentId(peer), bool(locks), created, expires,  # type: ignore[arg-type]
                      decode(detail), event, reason)  # type: ignore[arg-type]


def active_lock(db: Db, now_us: int) -> SessionRow | None:
    """The session holding the chain now, if any."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM sessions WHERE locks = 1 AND (state = 'signed' OR expires_us > ?)"
        " ORDER BY created_us LIMIT 1", (now_us,)).fetchone()
    return None if row is None else _row(row)


def locked_message(lock: SessionRow) -> str:
    if lock.state == "signed":
        return (f"the chain is locked by countersigning session {lock.hex_id} with {lock.peer}, "
                "which is being resolved (the node asks the other party); nothing was written")
    return (f"the chain is locked by countersigning session {lock.hex_id} with {lock.peer} "
            "until it completes or expires; nothing was written, try again then")


def check_head(db: Db, expect_head: bytes | None) -> None:
    """Inside a transaction: the chain still ends at `expect_head` (None: don't care)."""
    if expect_head is None:
        return
    row = db.execute("SELECT address FROM chain ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None or row[0] != expect_head:
        raise ChainLocked("the chain moved while the session was being set up; nothing was done")


def apply_commit(db: Db, commit: SessionCommit, now_us: int) -> None:
    """Inside the flush transaction: check the session may commit, then mark it."""
    row = db.execute(
        "SELECT state, expires_us FROM sessions WHERE id = ?", (commit.id,)
    ).fetchone()
    if row is None:
        raise SessionClosed(f"no countersigning session {commit.id.hex()}")
    state, _expires = row
    if state not in commit.from_states:
        raise SessionClosed(f"countersigning session {commit.id.hex()} is {state}")
    if commit.before_us is not None and now_us >= commit.before_us:
        raise SessionClosed(f"countersigning session {commit.id.hex()} expired")
    db.execute("UPDATE sessions SET state = 'committed', locks = 0, event = ?, reason = NULL"
                 " WHERE id = ?", (commit.event, commit.id))


class SessionStore:
    """The sessions table of one agent database (the Store's `Db`)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def add(self, sid: bytes, role: str, state: str, peer: AgentId, *, locks: bool,
            created_us: int, expires_us: int, detail: dict[str, object], now_us: int,
            expect_head: bytes | None = None) -> None:
        """A new session; a locking one fails with ChainLocked if another holds the chain
        or the chain no longer ends at `expect_head`."""
        db = self._db
        with db.transaction("adding a countersigning session"):
            if locks and (lock := active_lock(db, now_us)) is not None:
                raise ChainLocked(locked_message(lock))
            check_head(db, expect_head)
            db.execute(f"INSERT INTO sessions({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,NULL,NULL)",
                       (sid, role, state, peer.to_bytes(), int(locks), created_us, expires_us,
                        encode(detail)))  # type: ignore[arg-type]

    def move(self, sid: bytes, from_states: frozenset[str], state: str, *, now_us: int,
             locks: bool | None = None, detail: dict[str, object] | None = None,
             reason: str | None = None, expect_head: bytes | None = None) -> SessionRow:
        """Change a session's state if it is in `from_states` (SessionClosed otherwise);
        taking the lock fails with ChainLocked if another session holds the chain."""
        db = self._db
        with db.transaction("moving a countersigning session"):
            row = self.get(sid)
            if row is None:
                raise SessionClosed(f"no countersigning session {sid.hex()}")
            if row.state not in from_states:
                raise SessionClosed(f"countersigning session {sid.hex()} is {row.state}")
            if locks and not row.locks and (lock := active_lock(db, now_us)) is not None:
                raise ChainLocked(locked_message(lock))
            check_head(db, expect_head)
            db.execute(
                "UPDATE sessions SET state = ?, locks = ?, detail = ?, reason = ? WHERE id = ?",
                (state, int(row.locks if locks is None else locks),
                 encode(row.detail if detail is None else detail), reason, sid))  # type: ignore[arg-type]
        moved = self.get(sid)
        assert moved is not None
        return moved

    def get(self, sid: bytes) -> SessionRow | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM sessions WHERE id = ?", (sid,)).fetchone()
        return None if row is None else _row(row)

    def find(self, prefix: str) -> SessionRow | None:
        """A session by its hex id or a unique prefix of it (as `accept ID` takes it)."""
        rows = [r for r in self.all() if r.hex_id.startswith(prefix.lower())]
        return rows[0] if len(rows) == 1 else None

    def all(self, states: frozenset[str] | None = None) -> list[SessionRow]:
        rows = [_row(r) for r in self._db.execute(
            f"SELECT {_COLUMNS} FROM sessions ORDER BY created_us")]
        return [r for r in rows if states is None or r.state in states]

    def lock(self, now_us: int) -> SessionRow | None:
        return active_lock(self._db, now_us)
