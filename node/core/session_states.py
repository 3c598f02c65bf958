"""The states of a countersigning session and every move between them, as data.

Like h11's `_state.py`: the table below is the whole state machine; `next_state` looks a
move up in it and an illegal move raises (`SessionClosed`), so no caller writes a state
by hand. Each role opens a session in its own state:

  initiator:    proposed -> committed | declined | expired
  counterparty: pending -> signed -> committed | abandoned
                pending -> declined | expired

A session locks its agent's chain while `proposed` (until it expires: the initiator never
commits after that) or `signed` (until resolved: the initiator may have committed).

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from node.core.errors import LocalError


class Role(StrEnum):
    """Which side of a session this agent is on."""

    INITIATOR = "initiator"
    COUNTERPARTY = "counterparty"


class SessionState(StrEnum):
    """Where a session stands (the text is what the sessions table and the API show)."""

    PROPOSED = "proposed"
    PENDING = "pending"
    SIGNED = "signed"
    COMMITTED = "committed"
    DECLINED = "declined"
    EXPIRED = "expired"
    ABANDONED = "abandoned"


class SessionEvent(StrEnum):
    """What happens to a session: each moves it along one row of TRANSITIONS."""

    SIGN = "sign"  # the counterparty signed its side and kept its signature
    COMMIT = "commit"  # the countersigned entry was written on this chain
    DECLINE = "decline"  # either party said no (or a check did)
    EXPIRE = "expire"  # the window ran out before anything was signed or written
    ABANDON = "abandon"  # the initiator did not commit: the counterparty unlocks


class SessionClosed(LocalError):
    """The session is no longer in a state that allows this step."""


OPENING: Final[Mapping[Role, SessionState]] = {
    Role.INITIATOR: SessionState.PROPOSED,
    Role.COUNTERPARTY: SessionState.PENDING,
}
"""The state a session starts in, by the role of the agent that keeps it."""

TRANSITIONS: Final[Mapping[tuple[SessionState, SessionEvent], SessionState]] = {
    (SessionState.PROPOSED, SessionEvent.COMMIT): SessionState.COMMITTED,
    (SessionState.PROPOSED, SessionEvent.DECLINE): SessionState.DECLINED,
    (SessionState.PROPOSED, SessionEvent.EXPIRE): SessionState.EXPIRED,
    (SessionState.PENDING, SessionEvent.SIGN): SessionState.SIGNED,
    (SessionState.PENDING, SessionEvent.DECLINE): SessionState.DECLINED,
    (SessionState.PENDING, SessionEvent.EXPIRE): SessionState.EXPIRED,
    (SessionState.SIGNED, SessionEvent.COMMIT): SessionState.COMMITTED,
    (SessionState.SIGNED, SessionEvent.ABANDON): SessionState.ABANDONED,
}
"""(state, event) -> the next state; a pair not in the table is an illegal move."""

OPEN_STATES: Final = frozenset(state for state, _ in TRANSITIONS)
"""The states a session can still leave; the others are final."""

LOCKING_STATES: Final = frozenset({SessionState.PROPOSED, SessionState.SIGNED})
"""The states in which a session holds its agent's chain."""


def next_state(state: SessionState | str, event: SessionEvent) -> SessionState:
    """The state `event` moves a session in `state` to; SessionClosed if it may not."""
    try:
        return TRANSITIONS[(SessionState(state), event)]
    except (KeyError, ValueError):
        raise SessionClosed(f"a {state} session cannot {event}") from None


def locks_chain(state: SessionState | str) -> bool:
    """Whether a session in `state` holds its agent's chain."""
    return state in LOCKING_STATES
