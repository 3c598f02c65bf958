"""The DHT's links: what a base's authority holds of the links from that base (tables
links and link_deletes). A RegisterAddLink op integrated here adds a link row; a
RegisterRemoveLink op adds a delete row, kept apart so that the two may integrate in
either order. The signed actions themselves stay in dht_actions (dht_records.py), read
back with the rows. Imports node/core and node/store/db only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from node.core.actions import CreateLink, DeleteLink
from node.core.cid import Cid
from node.core.links import MAX_DELETES, MAX_LINKS, Link
from node.core.ops import Op, OpType
from node.core.records import SignedAction
from node.store.db import Db, mapped

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS links (
    address   BLOB PRIMARY KEY,
    base      BLOB NOT NULL,
    zome      TEXT NOT NULL,
    link_type TEXT NOT NULL,
    tag       BLOB NOT NULL,
    target    BLOB NOT NULL,
    author    BLOB NOT NULL,
    timestamp INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS links_by_base ON links(base, address);
CREATE TABLE IF NOT EXISTS link_deletes (
    link    BLOB NOT NULL,
    address BLOB NOT NULL,
    PRIMARY KEY (link, address)
);
"""

LINK_OPS: Final = frozenset({OpType.REGISTER_ADD_LINK, OpType.REGISTER_REMOVE_LINK})


class Links:
    """The links held as the authority of their bases."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def hold(self, op: Op) -> None:
        """Keep the link an integrated RegisterAddLink op adds, or the delete a
        RegisterRemoveLink op makes (other ops are ignored), in the caller's transaction."""
        action, address = op.action, op.signed.address.to_bytes()
        if op.type is OpType.REGISTER_ADD_LINK and isinstance(action, CreateLink):
            self._db.execute(
                "INSERT OR IGNORE INTO links(address, base, zome, link_type, tag, target,"
                " author, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (address, action.base.to_bytes(), action.zome, action.link_type, action.tag,
                 action.target.to_bytes(), action.author.to_bytes(), action.timestamp),
            )
        elif op.type is OpType.REGISTER_REMOVE_LINK and isinstance(action, DeleteLink):
            self._db.execute(
                "INSERT OR IGNORE INTO link_deletes(link, address) VALUES (?, ?)",
                (action.link_add.to_bytes(), address),
            )

    def links(self, base: Cid, link_type: str | None = None, tag_prefix: bytes = b"", *,
              include_deleted: bool = False, after: Cid | None = None,
              limit: int = MAX_LINKS) -> list[Link]:
        """The links from `base` held here, in address order, after `after` (exclusive),
        at most `limit` (and MAX_LINKS); of `link_type` (any if None), their tag starting
        with `tag_prefix`; deleted ones only if `include_deleted` (with their deletes)."""
        sql = ["SELECT a.action, a.signature FROM links l"
               " JOIN dht_actions a ON a.address = l.address WHERE l.base = ?"]
        params: list[object] = [base.to_bytes()]
        if link_type is not None:
            sql.append("AND l.link_type = ?")
            params.append(link_type)
        if tag_prefix:
            sql.append("AND substr(l.tag, 1, ?) = ?")
            params += [len(tag_prefix), tag_prefix]
        if after is not None:
            sql.append("AND l.address > ?")
            params.append(after.to_bytes())
        if not include_deleted:
            sql.append("AND NOT EXISTS (SELECT 1 FROM link_deletes d WHERE d.link = l.address)")
        sql.append("ORDER BY l.address LIMIT ?")
        params.append(max(0, min(limit, MAX_LINKS)))
        with mapped("reading links"):
            rows = self._db.execute(" ".join(sql), params).fetchall()
        creates = [SignedAction.from_bytes(row[0], row[1]) for row in rows]
        deletes = self._deletes([c.address.to_bytes() for c in creates]) if include_deleted else {}
        return [Link(c, tuple(deletes.get(c.address, ()))) for c in creates]

    def _deletes(self, links: Sequence[bytes]) -> dict[Cid, list[SignedAction]]:
        """The signed deletes of each of these links held here."""
        out: dict[Cid, list[SignedAction]] = {}
        if not links:
            return out
        with mapped("reading link deletes"):
            rows = self._db.select_in(
                "SELECT d.link, a.action, a.signature FROM link_deletes d"
                " JOIN dht_actions a ON a.address = d.address WHERE d.link IN ({})"
                " ORDER BY d.link, d.address", links)
        for link, action, signature in rows:
            held = out.setdefault(Cid(bytes(link)), [])
            if len(held) < MAX_DELETES:
                held.append(SignedAction.from_bytes(action, signature))
        return out
