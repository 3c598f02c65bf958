"""The DHT op queue: ops received as an authority and their validation state (tables ops
and op_waits). An op is stored once (its address is the primary key), so it is
integrated at most once; its action and entry go to the DHT records (dht_records.py).

Op states (a table, not if-chains): pending -> sys_valid -> app_valid -> integrated,
or -> rejected from any of the first three. An op that waits for a dependency is woken
when an op carrying it arrives. Imports node/core and node/store's db, home and
dht_records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from node.core.chain import check_entry_address
from node.core.cid import Cid
from node.core.identity import AgentId
from node.core.ops import Op
from node.core.records import Entry, SignedAction
from node.store.db import Db, mapped
from node.store.dht_records import DhtRecords, op_from_row
from node.store.home import gc_paused

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

SCHEMA: Final = """
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


class OpQueue:
    """The ops held as an authority, and their validation queue."""

    def __init__(self, db: Db, records: DhtRecords) -> None:
        self._db = db
        self._records = records
        # the addresses of ops integrated since `take_integrated` last asked (None: more
        # than FEED_LIMIT, or never asked: read everything)
        self._integrated_feed: list[bytes] | None = None

    # -- receiving ---------------------------------------------------------------

    def add_ops(self, ops: Iterable[Op], now_us: int) -> list[Cid]:
        """Store new ops as pending (ignoring ones already held); return the new ones'
        addresses. Ops whose dependencies were waiting on them wake those up.

        One statement per table for the whole call (executemany), not one per op."""
        db = self._db
        with gc_paused(), db.transaction("storing ops"):
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
            db.executemany(
                "INSERT OR IGNORE INTO ops(address, op_type, basis, action, author, time_us,"
                " state, rule, reason, received_us, changed_us)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                op_rows,
            )
            self._records.insert(action_rows, entry_rows)
            stored = actions | entries
            if stored and db.execute("SELECT 1 FROM op_waits LIMIT 1").fetchone():
                for dep in stored:
                    self._wake(dep.to_bytes(), now_us)
        return added

    def _held_ops(self, addresses: Sequence[Cid]) -> set[Cid]:
        """Which of these op addresses are stored already (one query per chunk)."""
        rows = self._db.select_in("SELECT address FROM ops WHERE address IN ({})",
                                  [a.to_bytes() for a in addresses])
        return {Cid(r[0]) for r in rows}

    def outcomes(self, addresses: Sequence[Cid], validator: AgentId) -> dict[Cid, OpOutcome]:
        """The state of each op held, with `validator`'s receipt for it when one is
        stored, in one query per chunk: what a publisher is answered."""
        rows = self._db.select_in(
            "SELECT o.address, o.state, o.reason, o.changed_us, r.receipt FROM ops o"
            " LEFT JOIN receipts r ON r.op = o.address AND r.validator = ?"
            " WHERE o.address IN ({})",
            [a.to_bytes() for a in addresses], (validator.to_bytes(),),
        )
        return {Cid(a): OpOutcome(state, reason, changed, None if r is None else bytes(r))
                for a, state, reason, changed, r in rows}

    def _wake(self, dep: bytes, now_us: int) -> None:
        self._db.execute(
            "UPDATE ops SET next_try_us = ?"
            " WHERE address IN (SELECT op FROM op_waits WHERE dep = ?)"
            " AND state NOT IN ('integrated', 'rejected')",
            (now_us, dep),
        )
        self._db.execute("DELETE FROM op_waits WHERE dep = ?", (dep,))

    # -- the queue ---------------------------------------------------------------

    def due(self, now_us: int, limit: int = 1000) -> list[QueuedOp]:
        """Ops not yet final whose retry time has come: the oldest `limit`; those due and
        received at the same time (in one message, or woken by one dependency) in chain
        order for each author (a batch can arrive in any order; validating a chain
        forward lets each op's fold extend the previous action's memoized state
        instead of walking back to the last one seen)."""
        with mapped("reading the validation queue"):
            rows = self._db.execute(
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
            op = op_from_row(op_type, action, signature, entry, decoded, entries)
            out.append(QueuedOp(op, state, attempts, Cid(address)))
        return out

    def set_state(self, op_address: Cid, state: str, now_us: int, rule: str | None = None,
                  reason: str | None = None) -> None:
        with self._db.transaction("updating an op"):
            self._db.execute(
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
        with mapped("listing held ops"):
            return self._db.select_in(
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
        with self._db.transaction("finishing ops"):
            self._db.executemany(
                "UPDATE ops SET state = ?, rule = ?, reason = ?, changed_us = ? WHERE address = ?",
                [(state, rule, reason, now_us, a.to_bytes()) for a, state, rule, reason in rows],
            )
        self._feed([a.to_bytes() for a, state, _, _ in rows if state == INTEGRATED])

    def defer(self, op_address: Cid, missing: Sequence[Cid | bytes], retry_at_us: int) -> None:
        """An Unresolved op: wait for `missing` (or the retry time, whichever first)."""
        with self._db.transaction("deferring an op"):
            self._db.execute(
                "UPDATE ops SET attempts = attempts + 1, next_try_us = ? WHERE address = ?",
                (retry_at_us, op_address.to_bytes()),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO op_waits(dep, op) VALUES (?, ?)",
                [(_raw(m), op_address.to_bytes()) for m in missing],
            )

    def waiting(self, limit: int = 64) -> list[tuple[AgentId, bytes]]:
        """(author of a waiting op, the dependency it waits for), for fetching them."""
        with mapped("reading dependencies"):
            rows = self._db.execute(
                "SELECT DISTINCT o.author, w.dep FROM op_waits w JOIN ops o ON o.address = w.op"
                " WHERE o.state NOT IN ('integrated', 'rejected') LIMIT ?",
                (limit,),
            ).fetchall()
        return [(AgentId(a), bytes(d)) for a, d in rows]

    def state_of(self, op_address: Cid) -> tuple[str, str | None, str | None] | None:
        with mapped("reading an op"):
            row = self._db.execute(
                "SELECT state, rule, reason FROM ops WHERE address = ?", (op_address.to_bytes(),)
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def counts(self) -> dict[str, int]:
        """Ops by state (every state present, zero where none)."""
        with mapped("counting ops"):
            rows = self._db.execute("SELECT state, count(*) FROM ops GROUP BY state").fetchall()
        counts = dict.fromkeys(STATES, 0)
        counts.update(dict(rows))
        return counts

    def reject_author(self, author: AgentId, now_us: int, reason: str) -> int:
        """Mark every op of `author` rejected (a blocked agent's data is invalid)."""
        with self._db.transaction("rejecting an author's ops"):
            cur = self._db.execute(
                "UPDATE ops SET state = 'rejected', rule = 'blocked', reason = ?, changed_us = ?"
                " WHERE author = ? AND state != 'rejected'",
                (reason, now_us, author.to_bytes()),
            )
        return cur.rowcount

    def next_due_us(self) -> int | None:
        """When the next op not yet final is due for validation (None: there is none)."""
        with mapped("reading the validation queue"):
            row = self._db.execute(
                "SELECT min(next_try_us) FROM ops"
                " WHERE state IN ('pending', 'sys_valid', 'app_valid')"
            ).fetchone()
        return None if row[0] is None else int(row[0])


def _raw(address: Cid | bytes) -> bytes:
    return address.to_bytes() if isinstance(address, Cid) else bytes(address)
