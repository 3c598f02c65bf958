"""The DHT's records: the actions and entries of the ops this node holds as an authority
(tables dht_actions and dht_entries, each kept once, shared by the ops that carry them),
and the reads of what it holds integrated: records for validation's must_get, fork
evidence, agent activity, ops for gets and gossip. The op queue (node/store/op_queue.py)
writes the rows; this room reads them. Imports node/core and node/store/db only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

from node.core.cid import Cid
from node.core.identity import AgentId
from node.core.ops import CARRIES_ENTRY, Op, OpType
from node.core.records import Entry, Record, SignedAction
from node.store.db import CHUNK, Db, mapped

SCHEMA: Final = """
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
"""


class DhtRecords:
    """Actions and entries held as an authority, and the integrated ops that carry them."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def insert(self, actions: Sequence[Sequence[object]],
               entries: Sequence[tuple[bytes, bytes]]) -> None:
        """Keep (address, author, seq, prev, action, signature, entry address) action rows
        and (address, entry) entry rows, in the caller's transaction; held ones stay."""
        self._db.executemany(
            "INSERT OR IGNORE INTO dht_actions(address, author, seq, prev, action,"
            " signature, entry_address) VALUES (?, ?, ?, ?, ?, ?, ?)",
            actions,
        )
        self._db.executemany(
            "INSERT OR IGNORE INTO dht_entries(address, entry) VALUES (?, ?)", entries
        )

    def get_signed_action(self, address: Cid) -> SignedAction | None:
        with mapped("reading an action"):
            row = self._db.execute(
                "SELECT action, signature FROM dht_actions WHERE address = ?", (address.to_bytes(),)
            ).fetchone()
        return None if row is None else SignedAction.from_bytes(row[0], row[1])

    def get_entry(self, address: Cid) -> Entry | None:
        with mapped("reading an entry"):
            row = self._db.execute(
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
        with mapped("reading an entry's record"):
            row = self._db.execute(
                "SELECT action FROM ops WHERE basis = ? AND op_type = 'StoreEntry' LIMIT 1",
                (entry_address.to_bytes(),),
            ).fetchone()
        return None if row is None else self.get_record(Cid(row[0]))

    def siblings(self, signed: SignedAction) -> list[SignedAction]:
        """Other actions of the same author with the same prev_action: fork evidence."""
        action = signed.action
        if action.prev_action is None:
            return []
        with mapped("looking for forks"):
            rows = self._db.execute(
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
        with mapped("looking for forks"):
            for i in range(0, len(pairs), CHUNK):
                chunk = pairs[i : i + CHUNK]
                authors = sorted({a for a, _ in chunk})
                prevs = [p for _, p in chunk]
                rows = self._db.execute(
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
        with mapped("reading integrated ops"):
            for op_type, action, signature, entry in self._db.execute(sql, args).fetchall():
                yield op_from_row(op_type, action, signature, entry)

    def get_op(self, op_address: Cid, state: str = "integrated") -> Op | None:
        """An op we hold in `state` (integrated by default: what we vouch for)."""
        with mapped("reading an op"):
            row = self._db.execute(
                "SELECT o.op_type, a.action, a.signature, e.entry FROM ops o"
                " JOIN dht_actions a ON a.address = o.action"
                " LEFT JOIN dht_entries e ON e.address = a.entry_address"
                " WHERE o.address = ? AND o.state = ?",
                (op_address.to_bytes(), state),
            ).fetchone()
        return None if row is None else op_from_row(*row)

    def held_ops(self, scope: Callable[[bytes], bool]) -> list[tuple[Cid, int]]:
        """(address, action time) of integrated ops whose basis `scope` accepts (gossip)."""
        with mapped("listing held ops"):
            rows = self._db.execute(
                "SELECT address, basis, time_us FROM ops WHERE state = 'integrated'"
            ).fetchall()
        return [(Cid(a), t) for a, b, t in rows if scope(b)]

    def integrated(self) -> list[tuple[bytes, bytes, int, bytes]]:
        """(address, basis, time_us, author) of every integrated op (gossip's running
        sums start from these, then `take_integrated` hands over the new ones)."""
        with mapped("listing held ops"):
            return self._db.execute(
                "SELECT address, basis, time_us, author FROM ops WHERE state = 'integrated'"
            ).fetchall()

    def activity(self, author: AgentId, since: int = 0) -> list[Record]:
        """The author's actions from seq `since` on that we hold through integrated
        agent-activity ops, by seq."""
        with mapped("reading agent activity"):
            rows = self._db.execute(
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
        with mapped("listing authors held"):
            rows = self._db.execute(
                "SELECT DISTINCT author FROM ops WHERE op_type = 'RegisterAgentActivity'"
                " AND state = 'integrated'"
            ).fetchall()
        return sorted((AgentId(r[0]) for r in rows), key=str)


_OP_TYPES: Final[dict[str, OpType]] = {t.value: t for t in OpType}


def op_from_row(op_type: str, action: bytes, signature: bytes, entry: bytes | None,
                decoded: dict[bytes, SignedAction] | None = None,
                entries: dict[tuple[bytes, Cid], Entry] | None = None) -> Op:
    """An op from its stored parts; `decoded` and `entries` let the ops of one action
    share its decoding and its entry."""
    if decoded is None:
        signed = SignedAction.from_bytes(action, signature)
    else:
        cached = decoded.get(action)
        if cached is None or cached.signature != signature:
            cached = decoded[action] = SignedAction.from_bytes(action, signature)
        signed = cached
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
