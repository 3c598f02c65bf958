"""What the initiator's chain on the network says about a signed session whose decision
the counterparty missed: the initiator committed it (settle), moved on without it, or
never wrote it (abandon), or the network does not tell yet (wait).

Pure: the records of the initiator's chain in, a verdict out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from dht.session_wire import Decision
from node.core.countersign import MAX_WINDOW_US, Envelope, Party
from node.core.errors import CoreError
from node.core.records import Record

LAST_RESORT_US: Final = MAX_WINDOW_US
"""After the window, how long a counterparty waits at most for the network to show the
initiator's chain up to the session's place at all: then it unlocks anyway."""


@dataclass(frozen=True, slots=True)
class Abandon:
    """The initiator did not commit the session: unlock with this reason."""

    reason: str
    window_out: str | None = None
    """Why the network shows that the window ran out with nothing written (for the log)."""


Verdict = Decision | Abandon | None
"""Settle on the initiator's decision, abandon, or None: keep waiting."""


def read_activity(sid: bytes, entry_type: str, initiator: Party, records: Sequence[Record],
                  *, now_us: int, end_us: int, grace_us: int) -> Verdict:
    """The verdict of the initiator's chain (`records`, from its authorities) on session
    `sid`, whose initiator took `initiator`'s place and whose window ended at `end_us`."""
    at = next((r for r in records if r.action.seq == initiator.seq), None)
    if at is None:
        return never_written(initiator, records, now_us=now_us, end_us=end_us,
                             grace_us=grace_us)
    if at.action.prev_action == initiator.prev_action and at.entry is not None \
            and getattr(at.action, "entry_type", None) == entry_type:
        try:
            envelope = Envelope.from_value(at.entry.value)
        except CoreError:
            envelope = None
        if envelope is not None and envelope.session.id == sid and envelope.approvals:
            return Decision("committed", approval=envelope.approvals[0])
    return Abandon("the initiator's chain moved on without this session")


def never_written(initiator: Party, records: Sequence[Record], *, now_us: int, end_us: int,
                  grace_us: int) -> Abandon | None:
    """Past the window and the grace, an initiator's chain that the network holds up
    to the session's place with nothing there says it never committed: the initiator
    commits only before the window's end (SessionCommit.before_us) and publishes at
    once. Abandon (nothing written); keep waiting while the network shows less of that
    chain, up to LAST_RESORT_US."""
    if now_us < end_us + grace_us:
        return None
    reached = any(r.action.seq == initiator.seq - 1 and r.address == initiator.prev_action
                  for r in records)
    if not reached and now_us < end_us + LAST_RESORT_US:
        return None
    why = ("its chain on the network ends before the session's place" if reached
           else "the network does not show its chain up to the session's place")
    return Abandon(f"the initiator did not commit it within the window ({why})", why)
