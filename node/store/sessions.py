"""Countersigning sessions of this agent, in its own database, next to its chain.

A session row is written before any message about it leaves the node, and its state
changes in the same transaction as the chain write it allows (`Store.flush` with a
`SessionCommit`), so a crash leaves a session either committed with its record or
not committed without it: never one without the other.

The states and every move between them are a table in `node/core/session_states.py`:
this module stores what it allows (`move` takes an event, never a state). A session
*locks* the chain while it is `proposed` or `signed`; `ChainLocked` is what any other
commit gets meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from node.core.encoding import Value, decode, encode
from node.core.errors import DecodeError, LocalError
from node.core.identity import AgentId
from node.core.session_states import (
    OPEN_STATES,
    OPENING,
    Role,
    SessionClosed,
    SessionEvent,
    SessionState,
    locks_chain,
    next_state,
)
from node.store.db import Db

if TYPE_CHECKING:
    from dht.wire import RawRecord
    from node.core.countersign import Party

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

INITIATOR: Final = Role.INITIATOR
COUNTERPARTY: Final = Role.COUNTERPARTY


class ChainLocked(LocalError):
    """A countersigning session holds the chain: nothing else may be written now."""


@dataclass(frozen=True, slots=True)
class SessionDetail:
    """What a session keeps besides its columns: the proposal as it came (both roles), the
    records sent with it and, once the counterparty signed, what it signed."""

    entry_type: str
    event: dict[str, Any]
    """The entry as the initiator drafted it."""
    start_us: int
    end_us: int
    to_new: str | None
    """The name of what the counterparty creates and fills in (e.g. the receiving resource)."""
    party: Party | None = None
    """This agent's place on its chain: the initiator's from the start, the
    counterparty's once it signed."""
    initiator: Party | None = None
    """The counterparty's copy of the initiator's place (None on the initiator's side)."""
    records: tuple[RawRecord, ...] = ()
    """The counterparty's copy of the initiator's records sent with the proposal."""
    final: dict[str, Any] | None = None
    """The counterparty's entry as signed (with what it filled in)."""
    approval: bytes | None = None
    """The counterparty's signature over the session."""

    def to_obj(self) -> dict[str, Value]:
        """The stored map (the keys the table has always held)."""
        obj: dict[str, Value] = {"entry_type": self.entry_type, "event": self.event,
                                 "start": self.start_us, "end": self.end_us,
                                 "to_new": self.to_new}
        if self.initiator is not None:
            obj["initiator"] = self.initiator.to_obj()
            obj["records"] = [r.to_obj() for r in self.records]
        if self.party is not None:
            obj["party"] = self.party.to_obj()
        if self.final is not None:
            obj["final"] = self.final
        if self.approval is not None:
            obj["approval"] = self.approval
        return obj

    @classmethod
    def from_obj(cls, obj: Value) -> SessionDetail:
        """The detail as `to_obj` stored it (DecodeError on anything else)."""
        if not isinstance(obj, dict):
            raise DecodeError("a session's detail is a map")
        entry_type, to_new = obj.get("entry_type"), obj.get("to_new")
        start, end, approval = obj.get("start"), obj.get("end"), obj.get("approval")
        initiator, party, records = obj.get("initiator"), obj.get("party"), obj.get("records")
        if (not isinstance(entry_type, str) or type(start) is not int or type(end) is not int
                or not isinstance(to_new, str | None) or not isinstance(approval, bytes | None)
                or not isinstance(records, list | None)):
            raise DecodeError("a session's detail is malformed")
        from dht.wire import RawRecord  # (the wire codecs: only for a session's records)
        from node.core.countersign import Party  # (not for a home that only opens)

        return cls(
            entry_type, _map(obj.get("event")), start, end, to_new,
            party=None if party is None else Party.from_obj(party),
            initiator=None if initiator is None else Party.from_obj(initiator),
            records=tuple(RawRecord.from_obj(r) for r in records or ()),
            final=None if obj.get("final") is None else _map(obj.get("final")),
            approval=approval,
        )


def _map(value: Value) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DecodeError("a session's entry is a map")
    return value


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: bytes
    role: Role
    state: SessionState
    peer: AgentId
    locks: bool
    created_us: int
    expires_us: int
    detail: SessionDetail
    event: str | None
    reason: str | None

    @property
    def hex_id(self) -> str:
        return self.id.hex()

    def to_json(self) -> dict[str, object]:
        return {"id": self.hex_id, "role": self.role.value, "state": self.state.value,
                "peer": str(self.peer),
                "expires_us": self.expires_us, "event": self.event, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class SessionCommit:
    """Flush records only if the session `id` may commit now (and, for the initiator,
    still before `before_us`); mark it committed with `event` meanwhile."""

    id: bytes
    event: str
    before_us: int | None = None


_COLUMNS: Final = "id, role, state, peer, locks, created_us, expires_us, detail, event, reason"


def _row(values: tuple[object, ...]) -> SessionRow:
    sid, role, state, peer, locks, created, expires, detail, event, reason = values
    return SessionRow(sid, Role(role), SessionState(state), AgentId(peer), bool(locks),  # type: ignore[arg-type]
                      created, expires, SessionDetail.from_obj(decode(detail)),  # type: ignore[arg-type]
                      event, reason)  # type: ignore[arg-type]


def active_lock(db: Db, now_us: int) -> SessionRow | None:
    """The session holding the chain now, if any."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM sessions WHERE locks = 1 AND (state = ? OR expires_us > ?)"
        " ORDER BY created_us LIMIT 1", (SessionState.SIGNED.value, now_us)).fetchone()
    return None if row is None else _row(row)


def locked_message(lock: SessionRow) -> str:
    if lock.state == SessionState.SIGNED:
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
    state = _moved(commit.id, row[0], SessionEvent.COMMIT)
    if commit.before_us is not None and now_us >= commit.before_us:
        raise SessionClosed(f"countersigning session {commit.id.hex()} expired")
    db.execute("UPDATE sessions SET state = ?, locks = ?, event = ?, reason = NULL"
               " WHERE id = ?", (state.value, int(locks_chain(state)), commit.event, commit.id))


def _moved(sid: bytes, state: str, event: SessionEvent) -> SessionState:
    """The table's next state, or SessionClosed naming the session and where it stands."""
    try:
        return next_state(state, event)
    except SessionClosed:
        raise SessionClosed(f"countersigning session {sid.hex()} is {state}") from None


class SessionStore:
    """The sessions table of one agent database (the Store's `Db`)."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def add(self, sid: bytes, role: Role, peer: AgentId, *, created_us: int, expires_us: int,
            detail: SessionDetail, now_us: int, expect_head: bytes | None = None) -> None:
        """A new session, in its role's opening state; a locking one fails with ChainLocked
        if another holds the chain or the chain no longer ends at `expect_head`."""
        db = self._db
        state = OPENING[role]
        locks = locks_chain(state)
        with db.transaction("adding a countersigning session"):
            if locks and (lock := active_lock(db, now_us)) is not None:
                raise ChainLocked(locked_message(lock))
            check_head(db, expect_head)
            db.execute(f"INSERT INTO sessions({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,NULL,NULL)",
                       (sid, role.value, state.value, peer.to_bytes(), int(locks), created_us,
                        expires_us, encode(detail.to_obj())))

    def move(self, sid: bytes, event: SessionEvent, *, now_us: int,
             detail: SessionDetail | None = None, reason: str | None = None,
             expect_head: bytes | None = None) -> SessionRow:
        """Move a session as the table says `event` does (SessionClosed if it may not);
        taking the lock fails with ChainLocked if another session holds the chain."""
        db = self._db
        with db.transaction("moving a countersigning session"):
            row = self.get(sid)
            if row is None:
                raise SessionClosed(f"no countersigning session {sid.hex()}")
            state = _moved(sid, row.state, event)
            locks = locks_chain(state)
            if locks and not row.locks and (lock := active_lock(db, now_us)) is not None:
                raise ChainLocked(locked_message(lock))
            check_head(db, expect_head)
            kept = row.detail if detail is None else detail
            db.execute(
                "UPDATE sessions SET state = ?, locks = ?, detail = ?, reason = ? WHERE id = ?",
                (state.value, int(locks), encode(kept.to_obj()), reason, sid))
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

    def all(self, states: frozenset[SessionState] | frozenset[str] | None = None
            ) -> list[SessionRow]:
        if states is None:
            found = self._db.execute(f"SELECT {_COLUMNS} FROM sessions ORDER BY created_us")
        else:  # only the rows asked for are decoded (a sweep asks for the few open ones)
            marks = ",".join("?" * len(states))
            found = self._db.execute(
                f"SELECT {_COLUMNS} FROM sessions WHERE state IN ({marks}) ORDER BY created_us",
                [str(s) for s in states])
        return [_row(r) for r in found]

    def lock(self, now_us: int) -> SessionRow | None:
        return active_lock(self._db, now_us)


__all__ = ["COUNTERPARTY", "INITIATOR", "OPEN_STATES", "ChainLocked", "SessionClosed",
           "SessionCommit", "SessionDetail", "SessionRow", "SessionStore"]
