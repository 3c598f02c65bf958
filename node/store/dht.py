"""The DHT side of a home's database, as one name for its callers: the op queue
(op_queue.py: ops and their validation state), the DHT records (dht_records.py: the
actions and entries held, what is integrated), the links held by base (links.py) and
trust (trust.py: receipts, warrants, blocked agents). Each room owns its tables; all
share the home's `Db` and its one transaction. Imports node/core and node/store only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from node.store.db import mapped
from node.store.dht_records import SCHEMA as RECORDS_SCHEMA
from node.store.dht_records import DhtRecords
from node.store.links import SCHEMA as LINKS_SCHEMA
from node.store.links import Links
from node.store.op_queue import (
    APP_VALID,
    FEED_LIMIT,
    FINAL_STATES,
    INTEGRATED,
    NEXT_STATE,
    PENDING,
    REJECTED,
    STATES,
    SYS_VALID,
    OpOutcome,
    OpQueue,
    QueuedOp,
)
from node.store.op_queue import SCHEMA as QUEUE_SCHEMA
from node.store.sqlite import Store
from node.store.trust import SCHEMA as TRUST_SCHEMA
from node.store.trust import Trust

__all__ = ["APP_VALID", "FEED_LIMIT", "FINAL_STATES", "INTEGRATED", "NEXT_STATE", "PENDING",
           "REJECTED", "STATES", "SYS_VALID", "DhtStore", "OpOutcome", "QueuedOp"]


class DhtStore:
    """Ops this node holds as an authority, their validation queue, and whom it trusts.

    `ops`, `records`, `links` and `trust` are the rooms; their methods are also this object's (the
    callers of one authority's store need not know which room answers)."""

    def __init__(self, store: Store) -> None:
        self.db = store.db
        if not store.readonly:  # a read-only home has them from `init` (or cannot write them)
            with mapped("creating the DHT tables"):
                self.db.executescript(RECORDS_SCHEMA + QUEUE_SCHEMA + TRUST_SCHEMA
                                      + LINKS_SCHEMA)
        self.records = records = DhtRecords(self.db)
        self.ops = ops = OpQueue(self.db, records)
        self.trust = trust = Trust(self.db)
        self.links = links = Links(self.db)
        # the op queue
        self.add_ops = ops.add_ops
        self.outcomes = ops.outcomes
        self.due = ops.due
        self.next_due_us = ops.next_due_us
        self.set_state = ops.set_state
        self.finish_many = ops.finish_many
        self.take_integrated = ops.take_integrated
        self.defer = ops.defer
        self.waiting = ops.waiting
        self.state_of = ops.state_of
        self.counts = ops.counts
        self.reject_author = ops.reject_author
        # the records held
        self.get_signed_action = records.get_signed_action
        self.get_entry = records.get_entry
        self.get_record = records.get_record
        self.record_by_entry = records.record_by_entry
        self.siblings = records.siblings
        self.fork_points = records.fork_points
        self.integrated_ops = records.integrated_ops
        self.get_op = records.get_op
        self.held_ops = records.held_ops
        self.integrated = records.integrated
        self.activity = records.activity
        self.activity_authors = records.activity_authors
        # the links held by base
        self.hold_link = links.hold
        self.get_links = links.links
        # trust
        self.add_receipts = trust.add_receipts
        self.receipts_for = trust.receipts_for
        self.add_warrant = trust.add_warrant
        self.warrants = trust.warrants
        self.hold_undecided_warrant = trust.hold_undecided_warrant
        self.undecided_warrants = trust.undecided_warrants
        self.undecided_warrantees = trust.undecided_warrantees
        self.defer_undecided_warrant = trust.defer_undecided_warrant
        self.drop_undecided_warrant = trust.drop_undecided_warrant
        self.block = trust.block
        self.is_blocked = trust.is_blocked
        self.blocked = trust.blocked
        self.blocked_agents = trust.blocked_agents

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The home's one transaction (Db.transaction): nested uses join the outer one."""
        with self.db.transaction("writing the DHT"):
            yield
