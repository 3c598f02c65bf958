"""Trust: what this node holds about whom to believe. Validators' receipts for ops
(ours, counted by the publish queue), warrants against agents (decided, and undecided
ones kept to judge again once the warrantee's chain is fetched), and the agents blocked.
Imports node/core and node/store/db only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Final, TypeVar

from node.core.cid import Cid
from node.core.identity import AgentId
from node.store.db import Db, mapped

_T = TypeVar("_T")

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS receipts (
    op        BLOB NOT NULL,
    validator BLOB NOT NULL,
    receipt   BLOB NOT NULL,
    PRIMARY KEY (op, validator)
);
CREATE TABLE IF NOT EXISTS warrants (
    address   BLOB PRIMARY KEY,
    warrantee BLOB NOT NULL,
    issuer    BLOB NOT NULL,
    warrant   BLOB NOT NULL,
    received_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS warrants_undecided (
    address   BLOB PRIMARY KEY,
    warrantee BLOB NOT NULL,
    issuer    BLOB NOT NULL,
    warrant   BLOB NOT NULL,
    received_us INTEGER NOT NULL,
    next_try_us INTEGER NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS blocked (
    agent    BLOB PRIMARY KEY,
    reason   TEXT NOT NULL,
    since_us INTEGER NOT NULL,
    warrant  BLOB
);
"""


class Blocked(AbstractSet[AgentId]):
    """The agents blocked, as the `blocked` table holds them: the one copy in memory (it is
    asked about every message and op), read on first use and again on `reload`, and kept
    up to date by `Trust.block`, the one way to block. A block inside a transaction shows
    at once; once that transaction is over (committed or rolled back) the table is read
    again, so that the copy never holds a block the table does not."""

    def __init__(self, read: Callable[[], Iterable[AgentId]],
                 in_transaction: Callable[[], bool]) -> None:
        self._read = read
        self._in_transaction = in_transaction
        self._agents: set[AgentId] | None = None
        self._unsure = False  # a block was added inside a transaction not yet over

    def reload(self) -> None:
        """Read the table again."""
        self._agents = set(self._read())
        self._unsure = False

    def _held(self) -> set[AgentId]:
        if self._agents is None or (self._unsure and not self._in_transaction()):
            self.reload()
            assert self._agents is not None
        return self._agents

    def added(self, agent: AgentId) -> None:
        """`agent` was blocked just now (by `Trust.block`)."""
        self._held().add(agent)
        self._unsure = self._unsure or self._in_transaction()

    def __contains__(self, agent: object) -> bool:
        return agent in self._held()

    def __iter__(self) -> Iterator[AgentId]:
        return iter(self._held())

    def __len__(self) -> int:
        return len(self._held())

    @classmethod
    def _from_iterable(cls, it: Iterable[_T]) -> frozenset[_T]:
        return frozenset(it)  # (what `|`, `&` and `-` of this set and another make)


class Trust:
    """Receipts, warrants and blocks, in the home's database."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.blocked_agents = Blocked(self.blocked, lambda: db.in_transaction)
        """The agents blocked, in memory (the table is the truth; `block` updates both)."""

    def add_receipts(self, rows: Sequence[tuple[Cid, AgentId, bytes]]) -> None:
        """Store (op address, validator, receipt bytes) rows; ones held are kept."""
        with self._db.transaction("storing receipts"):
            self._db.executemany(
                "INSERT OR IGNORE INTO receipts(op, validator, receipt) VALUES (?, ?, ?)",
                [(a.to_bytes(), v.to_bytes(), r) for a, v, r in rows],
            )

    def receipts_for(self, op_address: Cid) -> list[bytes]:
        with mapped("reading receipts"):
            rows = self._db.execute(
                "SELECT receipt FROM receipts WHERE op = ?", (op_address.to_bytes(),)
            ).fetchall()
        return [r[0] for r in rows]

    def add_warrant(self, address: Cid, warrantee: AgentId, issuer: AgentId, data: bytes,
                    now_us: int) -> bool:
        with self._db.transaction("storing a warrant"):
            cur = self._db.execute(
                "INSERT OR IGNORE INTO warrants(address, warrantee, issuer, warrant, received_us)"
                " VALUES (?, ?, ?, ?, ?)",
                (address.to_bytes(), warrantee.to_bytes(), issuer.to_bytes(), data, now_us),
            )
        return cur.rowcount > 0

    def warrants(self) -> list[bytes]:
        with mapped("reading warrants"):
            rows = self._db.execute("SELECT warrant FROM warrants ORDER BY received_us")
            return [r[0] for r in rows]

    def hold_undecided_warrant(self, address: Cid, warrantee: AgentId, issuer: AgentId,
                               data: bytes, now_us: int, limit: int, per_issuer: int) -> bool:
        """Keep a warrant this node cannot judge yet, to judge again once the warrantee's
        chain is fetched; False if `limit` are held already, or `per_issuer` of this
        issuer's (one member cannot crowd out the others' warrants), or this one is."""
        with self._db.transaction("keeping an undecided warrant"):
            (held,) = self._db.execute("SELECT count(*) FROM warrants_undecided").fetchone()
            (theirs,) = self._db.execute(
                "SELECT count(*) FROM warrants_undecided WHERE issuer = ?", (issuer.to_bytes(),)
            ).fetchone()
            if held >= limit or theirs >= per_issuer:
                return False
            cur = self._db.execute(
                "INSERT OR IGNORE INTO warrants_undecided(address, warrantee, issuer, warrant,"
                " received_us, next_try_us) VALUES (?, ?, ?, ?, ?, ?)",
                (address.to_bytes(), warrantee.to_bytes(), issuer.to_bytes(), data, now_us,
                 now_us),
            )
        return cur.rowcount > 0

    def undecided_warrants(self, now_us: int, limit: int = 64) -> list[tuple[bytes, int, int]]:
        """(warrant bytes, received_us, attempts) of the undecided warrants due now."""
        with mapped("reading undecided warrants"):
            rows = self._db.execute(
                "SELECT warrant, received_us, attempts FROM warrants_undecided"
                " WHERE next_try_us <= ? ORDER BY next_try_us LIMIT ?", (now_us, limit),
            ).fetchall()
        return [(bytes(w), int(r), int(a)) for w, r, a in rows]

    def undecided_warrantees(self, limit: int = 64) -> list[AgentId]:
        """The agents undecided warrants accuse: their chains are to be fetched."""
        with mapped("reading undecided warrants"):
            rows = self._db.execute(
                "SELECT DISTINCT warrantee FROM warrants_undecided LIMIT ?", (limit,)
            ).fetchall()
        return [AgentId(r[0]) for r in rows]

    def defer_undecided_warrant(self, address: Cid, retry_at_us: int) -> None:
        with self._db.transaction("deferring an undecided warrant"):
            self._db.execute(
                "UPDATE warrants_undecided SET attempts = attempts + 1, next_try_us = ?"
                " WHERE address = ?", (retry_at_us, address.to_bytes()),
            )

    def drop_undecided_warrant(self, address: Cid) -> None:
        with self._db.transaction("dropping an undecided warrant"):
            self._db.execute(
                "DELETE FROM warrants_undecided WHERE address = ?", (address.to_bytes(),)
            )

    def block(self, agent: AgentId, reason: str, now_us: int, warrant: bytes | None) -> None:
        with self._db.transaction("blocking an agent"):
            self._db.execute(
                "INSERT OR IGNORE INTO blocked(agent, reason, since_us, warrant)"
                " VALUES (?, ?, ?, ?)",
                (agent.to_bytes(), reason, now_us, warrant),
            )
        self.blocked_agents.added(agent)

    def is_blocked(self, agent: AgentId) -> bool:
        with mapped("checking blocks"):
            row = self._db.execute(
                "SELECT 1 FROM blocked WHERE agent = ?", (agent.to_bytes(),)
            ).fetchone()
        return row is not None

    def blocked(self) -> dict[AgentId, str]:
        with mapped("reading blocks"):
            rows = self._db.execute("SELECT agent, reason FROM blocked").fetchall()
        return {AgentId(a): r for a, r in rows}
