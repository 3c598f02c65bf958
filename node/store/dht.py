"""The DHT side of the database: ops received as an authority, their validation
state, receipts, warrants and blocked agents. Lives in the home's SQLite file.

Op states (a table, not if-chains): pending -> sys_valid -> app_valid -> integrated,
or -> rejected from any of the first three. An op is stored once (its address is
the primary key), so it is integrated at most once. Actions and entries are kept
once each, shared by the ops that carry them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from node.core.chain import check_entry_address
from node.core.cid import Cid
from node.core.identity import AgentId
from node.core.ops import CARRIES_ENTRY, Op, OpType
from node.core.records import Entry, Record, SignedAction
from node.store.home import gc_paused
from node.store.sqlite import Store, _mapped

PENDING: Final = "pending"
SYS_VALID: Final = "sys_valid"
APP_VALID: Final = "app_valid"
INTEGRATED: Final = "integrated"
REJECTED: Final = "rejected"

# state -> the state a Valid outcome moves it to; rejected and integrated are final.
NEXT_STATE: Final[dict[str, str]] = {
    PENDING: SYS_VALID,
    SYS_VALID: APP_VALID,
    APP_VALID: INTEGRATED,
}
FINAL_STATES: Final = frozenset({INTEGRATED, REJECTED})
STATES: Final = (PENDING, SYS_VALID, APP_VALID, INTEGRATED, REJECTED)
_CHUNK: Final = 500  # bound parameters per `IN (...)` query, well under SQLite's limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dht_actions (
    address   BLOB PRIMARY KEY,
    author    BLOB NOT NULL,
    seq       INTEGER NOT NULL,
    prev      BLOB,
    action    BLOB NOT NULL,
    signature BLOB NOT NULL,
    entry_address BLOB
);
CREATE INDEX IF NOT EXISTS dht_actions_by_prev ON dht_actions(author, prev);
CREATE TABLE IF NOT EXISTS dht_entries (
    address BLOB PRIMARY KEY,
    entry   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS ops (
    address     BLOB PRIMARY KEY,
    op_type     TEXT NOT NULL,
    basis       BLOB NOT NULL,
    action      BLOB NOT NULL REFERENCES dht_actions(address),
    author      BLOB NOT NULL,
    time_us     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    rule        TEXT,
    reason      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_try_us INTEGER NOT NULL DEFAULT 0,
    received_us INTEGER NOT NULL,
    changed_us  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_by_state ON ops(state, next_try_us);
-- ops_by_action(action) and dht_actions_by_author(author, seq) served no query (EXPLAIN
-- QUERY PLAN of every statement here; author-prefixed lookups use dht_actions_by_prev)
-- and cost a random-order insert per op; older databases drop them on opening.
DROP INDEX IF EXISTS ops_by_action;
DROP INDEX IF EXISTS dht_actions_by_author;
CREATE INDEX IF NOT EXISTS ops_by_author ON ops(author);
CREATE INDEX IF NOT EXISTS ops_by_basis ON ops(basis);
CREATE TABLE IF NOT EXISTS op_waits (
    dep BLOB NOT NULL,
    op  BLOB NOT NULL,
    PRIMARY KEY (dep, op)
);
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


class OpOutcome(NamedTuple):
    """An op's state as held, and a validator's receipt for it if one is stored."""

    state: str
    reason: str | None
    changed_us: int
    """When it last changed state: for a final op, when it was integrated or rejected."""
    receipt: bytes | None


@dataclass(frozen=True, slots=True)
class QueuedOp:
    """An op waiting for its next validation stage."""

    op: Op
    state: str
    attempts: int
    address: Cid | None = None  # the op's address as stored (saves hashing it again)


FEED_LIMIT = 200_000
"""At most this many integrated ops are remembered for `take_integrated` between calls."""


class DhtStore:
    """Ops this node holds as an authority, and their validation queue."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._conn: sqlite3.Connection = store._conn
        # the addresses of ops integrated since `take_integrated` last asked (None: more
        # than FEED_LIMIT, or never asked: read everything)
        self._integrated_feed: list[bytes] | None = None
        self._depth = 0
        if not store.readonly:  # a read-only home has them from `init` (or cannot write them)
            with _mapped("creating the DHT tables"):
                self._conn.executescript(_SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around everything inside; nested uses join the outer one."""
        if self._depth == 0:
            self._conn.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._conn.execute("COMMIT")

    # -- receiving ---------------------------------------------------------------

    def add_ops(self, ops: Iterable[Op], now_us: int) -> list[Cid]:
        """Store new ops as pending (ignoring ones already held); return the new ones'
        addresses. Ops whose dependencies were waiting on them wake those up.

        One statement per table for the whole call (executemany), not one per op."""
        conn = self._conn
        with _mapped("storing ops"), gc_paused(), self.transaction():
            ops = list(ops)
            addresses = [op.address for op in ops]
            held = self._held_ops(addresses)
            added: list[Cid] = []
            op_rows: list[tuple[object, ...]] = []
            action_rows: list[tuple[object, ...]] = []
            entry_rows: list[tuple[bytes, bytes]] = []
            actions: set[Cid] = set()  # actions and entries written by this call: once each
            entries: set[Cid] = set()
            hashed: dict[bytes, Cid] = {}  # the ops of an action carry its entry: hash it once
            for op, address in zip(ops, addresses, strict=True):
                if address in held:
                    continue
                held.add(address)
                signed = op.signed
                action = signed.action
                entry = op.entry
                # The queue keeps actions and entries by address, not the op's own entry:
                # one that is not the entry its action names is judged now (and not kept).
                mismatch = None
                if entry is not None:
                    hashed_as = hashed.get(entry.data)
                    if hashed_as is None:
                        hashed_as = hashed[entry.data] = Cid.of(entry.data)
                    entry = Entry(entry.data, hashed_as)
                    mismatch = check_entry_address(action, entry)
                    if mismatch is not None:
                        entry = None
                op_rows.append(
                    (address.to_bytes(), op.type.value, op.basis, signed.address.to_bytes(),
                     action.author.to_bytes(), action.timestamp,
                     PENDING if mismatch is None else REJECTED,
                     None if mismatch is None else "check_entry_address", mismatch,
                     now_us, now_us)
                )
                added.append(address)
                if signed.address not in actions:
                    actions.add(signed.address)
                    entry_address = action.entry_address
                    action_rows.append(
                        (signed.address.to_bytes(), action.author.to_bytes(), action.seq,
                         action.prev_action.to_bytes() if action.prev_action else None,
                         signed.data, signed.signature,
                         entry_address.to_bytes() if entry_address else None)
                    )
                if entry is not None and entry.address not in entries:
                    entries.add(entry.address)
                    entry_rows.append((entry.address.to_bytes(), entry.data))
            conn.executemany(
                "INSERT OR IGNORE INTO ops(address, op_type, basis, action, author, time_us,"
                " state, rule, reason, received_us, changed_us)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                op_rows,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO dht_actions(address, author, seq, prev, action,"
                " signature, entry_address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                action_rows,
            )
            conn.executemany(
                "INSERT OR IGNORE INTO dht_entries(address, entry) VALUES (?, ?)", entry_rows
            )
            stored = actions | entries
            if stored and conn.execute("SELECT 1 FROM op_waits LIMIT 1").fetchone():
                for dep in stored:
                    self._wake(dep.to_bytes(), now_us)
        return added

    def _held_ops(self, addresses: Sequence[Cid]) -> set[Cid]:
        """Which of these op addresses are stored already (one query per chunk)."""
        rows = select_in(self._conn, "SELECT address FROM ops WHERE address IN ({})",
                         [a.to_bytes() for a in addresses])
        return {Cid(r[0]) for r in rows}

    def outcomes(self, addresses: Sequence[Cid], validator: AgentId) -> dict[Cid, OpOutcome]:
        """The state of each op held, with `validator`'s receipt for it when one is
        stored, in one query per chunk: what a publisher is answered."""
        rows = select_in(
            self._conn,
            "SELECT o.address, o.state, o.reason, o.changed_us, r.receipt FROM ops o"
            " LEFT JOIN receipts r ON r.op = o.address AND r.validator = ?"
            " WHERE o.address IN ({})",
            [a.to_bytes() for a in addresses], (validator.to_bytes(),),
        )
        return {Cid(a): OpOutcome(state, reason, changed, None if r is None else bytes(r))
                for a, state, reason, changed, r in rows}

    def _wake(self, dep: bytes, now_us: int) -> None:
        self._conn.execute(
            "UPDATE ops SET next_try_us = ?"
            " WHERE address IN (SELECT op FROM op_waits WHERE dep = ?)"
            " AND state NOT IN ('integrated', 'rejected')",
            (now_us, dep),
        )
        self._conn.execute("DELETE FROM op_waits WHERE dep = ?", (dep,))

    # -- the queue ---------------------------------------------------------------

    def due(self, now_us: int, limit: int = 1000) -> list[QueuedOp]:
        """Ops not yet final whose retry time has come: the oldest `limit`; those due and
        received at the same time (in one message, or woken by one dependency) in chain
        order for each author (a batch can arrive in any order; validating a chain
        forward lets each op's fold extend the previous action's memoized state
        instead of walking back to the last one seen)."""
        with _mapped("reading the validation queue"):
            rows = self._conn.execute(
                "SELECT o.op_type, a.action, a.signature, e.entry, o.state, o.attempts, o.address"
                " FROM ops o JOIN dht_actions a ON a.address = o.action"
                " LEFT JOIN dht_entries e ON e.address = a.entry_address"
                " WHERE o.state IN ('pending', 'sys_valid', 'app_valid') AND o.next_try_us <= ?"
                " ORDER BY o.next_try_us, o.received_us, o.author, a.seq LIMIT ?",
                (now_us, limit),
            ).fetchall()
        out: list[QueuedOp] = []
        decoded: dict[bytes, SignedAction] = {}  # the ops of one action share its decoding
        entries: dict[tuple[bytes, Cid], Entry] = {}  # ...and its entry
        for op_type, action, signature, entry, state, attempts, address in rows:
            op = _op(op_type, action, signature, entry, decoded, entries)
            out.append(QueuedOp(op, state, attempts, Cid(address)))
        return out

    def set_state(self, op_address: Cid, state: str, now_us: int, rule: str | None = None,
                  reason: str | None = None) -> None:
        with _mapped("updating an op"), self.transaction():
            self._conn.execute(
                "UPDATE ops SET state = ?, rule = ?, reason = ?, changed_us = ? WHERE address = ?",
                (state, rule, reason, now_us, op_address.to_bytes()),
            )
        if state == INTEGRATED:
            self._feed([op_address.to_bytes()])

    def _feed(self, addresses: list[bytes]) -> None:
        feed = self._integrated_feed
        if feed is not None:
            feed.extend(addresses)
            if len(feed) > FEED_LIMIT:
                self._integrated_feed = None  # nobody asks often enough: read all next time

    def take_integrated(self) -> list[tuple[bytes, bytes, int, bytes]] | None:
        """(address, basis, time_us, author) of the ops integrated since the last call, in
        this process (for one reader); None the first time (and after very many): then
        `integrated()` lists them all. For gossip's running sums
        (node/runtime/held.py): O(new ops), where a query by change time would scan
        every integrated op (an index on it costs validation a few per cent)."""
        feed, self._integrated_feed = self._integrated_feed, []
        if feed is None:
            return None
        with _mapped("listing held ops"):
            return select_in(
                self._conn,
                "SELECT address, basis, time_us, author FROM ops"
                " WHERE address IN ({}) AND +state = 'integrated'",  # (by address, not state)
                feed,
            )

    def finish_many(self, rows: Sequence[tuple[Cid, str, str | None, str | None]],
                    now_us: int) -> None:
        """Final states for many ops at once: (address, state, rule, reason). (Receipts
        are signed when someone asks for them: ValidationWorkflow.outcomes.)"""
        if not rows:
            return
        with _mapped("finishing ops"), self.transaction():
            self._conn.executemany(
                "UPDATE ops SET state = ?, rule = ?, reason = ?, changed_us = ? WHERE address = ?",
                [(state, rule, reason, now_us, a.to_bytes()) for a, state, rule, reason in rows],
            )
        self._feed([a.to_bytes() for a, state, _, _ in rows if state == INTEGRATED])

    def defer(self, op_address: Cid, missing: Sequence[Cid | bytes], retry_at_us: int) -> None:
        """An Unresolved op: wait for `missing` (or the retry time, whichever first)."""
        with _mapped("deferring an op"), self.transaction():
            self._conn.execute(
                "UPDATE ops SET attempts = attempts + 1, next_try_us = ? WHERE address = ?",
                (retry_at_us, op_address.to_bytes()),
            )
            self._conn.executemany(
                "INSERT OR IGNORE INTO op_waits(dep, op) VALUES (?, ?)",
                [(_raw(m), op_address.to_bytes()) for m in missing],
            )

    def waiting(self, limit: int = 64) -> list[tuple[AgentId, bytes]]:
        """(author of a waiting op, the dependency it waits for), for fetching them."""
        with _mapped("reading dependencies"):
            rows = self._conn.execute(
                "SELECT DISTINCT o.author, w.dep FROM op_waits w JOIN ops o ON o.address = w.op"
                " WHERE o.state NOT IN ('integrated', 'rejected') LIMIT ?",
                (limit,),
            ).fetchall()
        return [(AgentId(a), bytes(d)) for a, d in rows]

    def state_of(self, op_address: Cid) -> tuple[str, str | None, str | None] | None:
        with _mapped("reading an op"):
            row = self._conn.execute(
                "SELECT state, rule, reason FROM ops WHERE address = ?", (op_address.to_bytes(),)
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def counts(self) -> dict[str, int]:
        """Ops by state (every state present, zero where none)."""
        with _mapped("counting ops"):
            rows = self._conn.execute("SELECT state, count(*) FROM ops GROUP BY state").fetchall()
        counts = dict.fromkeys(STATES, 0)
        counts.update(dict(rows))
        return counts

    def reject_author(self, author: AgentId, now_us: int, reason: str) -> int:
        """Mark every op of `author` rejected (a blocked agent's data is invalid)."""
        with _mapped("rejecting an author's ops"), self.transaction():
            cur = self._conn.execute(
                "UPDATE ops SET state = 'rejected', rule = 'blocked', reason = ?, changed_us = ?"
                " WHERE author = ? AND state != 'rejected'",
                (reason, now_us, author.to_bytes()),
            )
        return cur.rowcount

    # -- reads for validation (must_get) -------------------------------------------

    def get_signed_action(self, address: Cid) -> SignedAction | None:
        with _mapped("reading an action"):
            row = self._conn.execute(
                "SELECT action, signature FROM dht_actions WHERE address = ?", (address.to_bytes(),)
            ).fetchone()
        return None if row is None else SignedAction.from_bytes(row[0], row[1])

    def get_entry(self, address: Cid) -> Entry | None:
        with _mapped("reading an entry"):
            row = self._conn.execute(
                "SELECT entry FROM dht_entries WHERE address = ?", (address.to_bytes(),)
            ).fetchone()
        return None if row is None else Entry(row[0], address)

    def get_record(self, address: Cid) -> Record | None:
        signed = self.get_signed_action(address)
        if signed is None:
            return None
        entry_address = signed.action.entry_address
        entry = self.get_entry(entry_address) if entry_address else None
        return Record(signed, entry)

    def record_by_entry(self, entry_address: Cid) -> Record | None:
        """A record whose entry is at `entry_address` (from a StoreEntry op held here)."""
        with _mapped("reading an entry's record"):
            row = self._conn.execute(
                "SELECT action FROM ops WHERE basis = ? AND op_type = 'StoreEntry' LIMIT 1",
                (entry_address.to_bytes(),),
            ).fetchone()
        return None if row is None else self.get_record(Cid(row[0]))

    def siblings(self, signed: SignedAction) -> list[SignedAction]:
        """Other actions of the same author with the same prev_action: fork evidence."""
        action = signed.action
        if action.prev_action is None:
            return []
        with _mapped("looking for forks"):
            rows = self._conn.execute(
                "SELECT action, signature FROM dht_actions"
                " WHERE author = ? AND prev = ? AND address != ?",
                (
                    action.author.to_bytes(),
                    action.prev_action.to_bytes(),
                    signed.address.to_bytes(),
                ),
            ).fetchall()
        return [SignedAction.from_bytes(a, s) for a, s in rows]

    def fork_points(self, signed: Iterable[SignedAction]) -> set[tuple[bytes, bytes]]:
        """(author, prev_action) bytes of these actions where we hold more than one action
        of that author on that prev: the ones whose `siblings` are not empty. One query
        per chunk, instead of one `siblings` query per action."""
        pairs = sorted({(s.action.author.to_bytes(), s.action.prev_action.to_bytes())
                        for s in signed if s.action.prev_action is not None})
        found: set[tuple[bytes, bytes]] = set()
        with _mapped("looking for forks"):
            for i in range(0, len(pairs), _CHUNK):
                chunk = pairs[i : i + _CHUNK]
                authors = sorted({a for a, _ in chunk})
                prevs = [p for _, p in chunk]
                rows = self._conn.execute(
                    "SELECT author, prev FROM dht_actions"
                    f" WHERE author IN ({','.join('?' * len(authors))})"
                    f" AND prev IN ({','.join('?' * len(prevs))})"
                    " GROUP BY author, prev HAVING count(*) > 1",
                    [*authors, *prevs],
                ).fetchall()
                found.update((bytes(a), bytes(p)) for a, p in rows)
        return found

    def integrated_ops(self, basis: bytes | None = None) -> Iterator[Op]:
        """Integrated ops (optionally at one basis), for serving gets and gossip."""
        sql = (
            "SELECT o.op_type, a.action, a.signature, e.entry FROM ops o"
            " JOIN dht_actions a ON a.address = o.action"
            " LEFT JOIN dht_entries e ON e.address = a.entry_address WHERE o.state = 'integrated'"
        )
        args: tuple[object, ...] = ()
        if basis is not None:
            sql += " AND o.basis = ?"
            args = (basis,)
        with _mapped("reading integrated ops"):
            for op_type, action, signature, entry in self._conn.execute(sql, args).fetchall():
                yield _op(op_type, action, signature, entry)

    def get_op(self, op_address: Cid, state: str = INTEGRATED) -> Op | None:
        """An op we hold in `state` (integrated by default: what we vouch for)."""
        with _mapped("reading an op"):
            row = self._conn.execute(
                "SELECT o.op_type, a.action, a.signature, e.entry FROM ops o"
                " JOIN dht_actions a ON a.address = o.action"
                " LEFT JOIN dht_entries e ON e.address = a.entry_address"
                " WHERE o.address = ? AND o.state = ?",
                (op_address.to_bytes(), state),
            ).fetchone()
        return None if row is None else _op(*row)

    def held_ops(self, scope: Callable[[bytes], bool]) -> list[tuple[Cid, int]]:
        """(address, action time) of integrated ops whose basis `scope` accepts (gossip)."""
        with _mapped("listing held ops"):
            rows = self._conn.execute(
                "SELECT address, basis, time_us FROM ops WHERE state = 'integrated'"
            ).fetchall()
        return [(Cid(a), t) for a, b, t in rows if scope(b)]

    def integrated(self) -> list[tuple[bytes, bytes, int, bytes]]:
        """(address, basis, time_us, author) of every integrated op (gossip's running
        sums start from these, then `take_integrated` hands over the new ones)."""
        with _mapped("listing held ops"):
            return self._conn.execute(
                "SELECT address, basis, time_us, author FROM ops WHERE state = 'integrated'"
            ).fetchall()

    def next_due_us(self) -> int | None:
        """When the next op not yet final is due for validation (None: there is none)."""
        with _mapped("reading the validation queue"):
            row = self._conn.execute(
                "SELECT min(next_try_us) FROM ops"
                " WHERE state IN ('pending', 'sys_valid', 'app_valid')"
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def activity(self, author: AgentId, since: int = 0) -> list[Record]:
        """The author's actions from seq `since` on that we hold through integrated
        agent-activity ops, by seq."""
        with _mapped("reading agent activity"):
            rows = self._conn.execute(
                "SELECT a.action, a.signature, e.entry FROM ops o"
                " JOIN dht_actions a ON a.address = o.action"
                " LEFT JOIN dht_entries e ON e.address = a.entry_address"
                " WHERE o.author = ? AND o.op_type = 'RegisterAgentActivity'"
                " AND o.state = 'integrated' AND a.seq >= ? ORDER BY a.seq",
                (author.to_bytes(), since),
            ).fetchall()
        out = []
        for action, signature, entry in rows:
            signed = SignedAction.from_bytes(action, signature)
            address = signed.action.entry_address
            out.append(
                Record(signed, Entry(entry, address) if entry is not None and address else None)
            )
        return out

    def activity_authors(self) -> list[AgentId]:
        """The authors of whom we hold integrated agent-activity ops (reports gather them)."""
        with _mapped("listing authors held"):
            rows = self._conn.execute(
                "SELECT DISTINCT author FROM ops WHERE op_type = 'RegisterAgentActivity'"
                " AND state = 'integrated'"
            ).fetchall()
        return sorted((AgentId(r[0]) for r in rows), key=str)

    # -- receipts, warrants, blocks ------------------------------------------------------

    def add_receipts(self, rows: Sequence[tuple[Cid, AgentId, bytes]]) -> None:
        """Store (op address, validator, receipt bytes) rows; ones held are kept."""
        with _mapped("storing receipts"), self.transaction():
            self._conn.executemany(
                "INSERT OR IGNORE INTO receipts(op, validator, receipt) VALUES (?, ?, ?)",
                [(a.to_bytes(), v.to_bytes(), r) for a, v, r in rows],
            )

    def receipts_for(self, op_address: Cid) -> list[bytes]:
        with _mapped("reading receipts"):
            rows = self._conn.execute(
                "SELECT receipt FROM receipts WHERE op = ?", (op_address.to_bytes(),)
            ).fetchall()
        return [r[0] for r in rows]

    def add_warrant(self, address: Cid, warrantee: AgentId, issuer: AgentId, data: bytes,
                    now_us: int) -> bool:
        with _mapped("storing a warrant"), self.transaction():
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO warrants(address, warrantee, issuer, warrant, received_us)"
                " VALUES (?, ?, ?, ?, ?)",
                (address.to_bytes(), warrantee.to_bytes(), issuer.to_bytes(), data, now_us),
            )
        return cur.rowcount > 0

    def warrants(self) -> list[bytes]:
        with _mapped("reading warrants"):
            rows = self._conn.execute("SELECT warrant FROM warrants ORDER BY received_us")
            return [r[0] for r in rows]

    def hold_undecided_warrant(self, address: Cid, warrantee: AgentId, issuer: AgentId,
                               data: bytes, now_us: int, limit: int, per_issuer: int) -> bool:
        """Keep a warrant this node cannot judge yet, to judge again once the warrantee's
        chain is fetched; False if `limit` are held already, or `per_issuer` of this
        issuer's (one member cannot crowd out the others' warrants), or this one is."""
        with _mapped("keeping an undecided warrant"), self.transaction():
            (held,) = self._conn.execute("SELECT count(*) FROM warrants_undecided").fetchone()
            (theirs,) = self._conn.execute(
                "SELECT count(*) FROM warrants_undecided WHERE issuer = ?", (issuer.to_bytes(),)
            ).fetchone()
            if held >= limit or theirs >= per_issuer:
                return False
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO warrants_undecided(address, warrantee, issuer, warrant,"
                " received_us, next_try_us) VALUES (?, ?, ?, ?, ?, ?)",
                (address.to_bytes(), warrantee.to_bytes(), issuer.to_bytes(), data, now_us,
                 now_us),
            )
        return cur.rowcount > 0

    def undecided_warrants(self, now_us: int, limit: int = 64) -> list[tuple[bytes, int, int]]:
        """(warrant bytes, received_us, attempts) of the undecided warrants due now."""
        with _mapped("reading undecided warrants"):
            rows = self._conn.execute(
                "SELECT warrant, received_us, attempts FROM warrants_undecided"
                " WHERE next_try_us <= ? ORDER BY next_try_us LIMIT ?", (now_us, limit),
            ).fetchall()
        return [(bytes(w), int(r), int(a)) for w, r, a in rows]

    def undecided_warrantees(self, limit: int = 64) -> list[AgentId]:
        """The agents undecided warrants accuse: their chains are to be fetched."""
        with _mapped("reading undecided warrants"):
            rows = self._conn.execute(
                "SELECT DISTINCT warrantee FROM warrants_undecided LIMIT ?", (limit,)
            ).fetchall()
        return [AgentId(r[0]) for r in rows]

    def defer_undecided_warrant(self, address: Cid, retry_at_us: int) -> None:
        with _mapped("deferring an undecided warrant"), self.transaction():
            self._conn.execute(
                "UPDATE warrants_undecided SET attempts = attempts + 1, next_try_us = ?"
                " WHERE address = ?", (retry_at_us, address.to_bytes()),
            )

    def drop_undecided_warrant(self, address: Cid) -> None:
        with _mapped("dropping an undecided warrant"), self.transaction():
            self._conn.execute(
                "DELETE FROM warrants_undecided WHERE address = ?", (address.to_bytes(),)
            )

    def block(self, agent: AgentId, reason: str, now_us: int, warrant: bytes | None) -> None:
        with _mapped("blocking an agent"), self.transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO blocked(agent, reason, since_us, warrant)"
                " VALUES (?, ?, ?, ?)",
                (agent.to_bytes(), reason, now_us, warrant),
            )

    def is_blocked(self, agent: AgentId) -> bool:
        with _mapped("checking blocks"):
            row = self._conn.execute(
                "SELECT 1 FROM blocked WHERE agent = ?", (agent.to_bytes(),)
            ).fetchone()
        return row is not None

    def blocked(self) -> dict[AgentId, str]:
        with _mapped("reading blocks"):
            rows = self._conn.execute("SELECT agent, reason FROM blocked").fetchall()
        return {AgentId(a): r for a, r in rows}


def select_in(conn: sqlite3.Connection, sql: str, keys: Sequence[bytes],
              before: tuple[object, ...] = ()) -> list[Any]:
    """The rows of `sql`, whose `{}` is an IN list, for every key: one query per chunk
    of keys (SQLite bounds the parameters of one statement). `before`: the parameters
    that come ahead of the IN list."""
    rows: list[Any] = []
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        rows += conn.execute(sql.format(",".join("?" * len(chunk))), (*before, *chunk)).fetchall()
    return rows


def _raw(address: Cid | bytes) -> bytes:
    return address.to_bytes() if isinstance(address, Cid) else bytes(address)


_OP_TYPES: Final[dict[str, OpType]] = {t.value: t for t in OpType}


def _op(op_type: str, action: bytes, signature: bytes, entry: bytes | None,
        decoded: dict[bytes, SignedAction] | None = None,
        entries: dict[tuple[bytes, Cid], Entry] | None = None) -> Op:
    """An op from its stored parts; `decoded` and `entries` let the ops of one action
    share its decoding and its entry."""
    if decoded is None:
        signed = SignedAction.from_bytes(action, signature)
    elif (signed := decoded.get(action)) is None or signed.signature != signature:
        signed = decoded[action] = SignedAction.from_bytes(action, signature)
    t = _OP_TYPES.get(op_type) or OpType(op_type)
    entry_address = signed.action.entry_address
    if entry is None or entry_address is None or t not in CARRIES_ENTRY:
        return Op(t, signed, None)
    if entries is None:
        return Op(t, signed, Entry(entry, entry_address))
    key = (entry, entry_address)
    carried = entries.get(key)
    if carried is None:
        carried = entries[key] = Entry(entry, entry_address)
    return Op(t, signed, carried)
