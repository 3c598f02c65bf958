"""How a countersigning session reads to a person (`coledger pending`, the RPC): its ids,
parties, event and state, and what an open one waits for, until when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from node.core.clock import now_us
from node.core.session_states import OPEN_STATES, SessionState
from node.store.sessions import SessionRow

RESOLVE_GRACE_US: Final = 30_000_000
"""After a signed session's window, how long the counterparty waits for the initiator's
commit (made before the window's end, then published at once) to reach its authorities
before it takes their word that there is none, and unlocks."""


def session_json(row: SessionRow, at_us: int | None = None,
                 grace_us: int = RESOLVE_GRACE_US) -> dict[str, object]:
    """A session for `coledger pending` and the RPC: ids, parties, the event, state, and
    what an open one waits for (`waiting_for`)."""
    detail = row.detail
    out = row.to_json()
    out["entry_type"] = detail.entry_type
    out["event_draft"] = detail.final or detail.event
    out["to_new"] = detail.to_new
    out["open"] = row.state in OPEN_STATES
    out["waiting_for"] = waiting_for(row, at_us if at_us is not None else now_us(), grace_us)
    return out


def waiting_for(row: SessionRow, at_us: int, grace_us: int = RESOLVE_GRACE_US) -> str | None:
    """What an open session waits for at `at_us`, and until when (ISO 8601, UTC); None
    once closed."""
    end = row.expires_us
    if row.state == SessionState.PROPOSED:
        return f"waiting for the counterparty's signature until {_iso(end)}"
    if row.state == SessionState.PENDING:
        return f"waiting for you to accept or decline until {_iso(end)}"
    if row.state != SessionState.SIGNED:
        return None
    if at_us < end + grace_us:
        return (f"signed; waiting for the initiator's decision until {_iso(end + grace_us)},"
                " then asking the network")
    return ("signed; the initiator's window is over: asking its agent-activity authorities"
            " whether it wrote the event (unlocks once they show it did not)")


def _iso(time_us: int) -> str:
    return datetime.fromtimestamp(time_us / 1e6, UTC).isoformat(timespec="seconds")
