"""The edges of countersigning: what it needs of the node (each a narrow protocol or
callable that the node wires: the transport's requests, the membership check, the
ledger's commit, the own chain, agent activity), what a caller asks (`TransferRequest`)
and refuses (`SessionRefused`), and the failpoints crash tests stop a session at."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from dht.session_wire import Propose
from dht.wire import RawRecord
from node.core.chain import ChainHead
from node.core.cid import Cid
from node.core.countersign import MAX_WINDOW_US
from node.core.errors import LocalError
from node.core.identity import AgentId
from node.core.records import Entry, Record
from node.core.scratch import Scratch
from node.store.sessions import SessionCommit
from zomes.api import CountersignHook

log = logging.getLogger("coledger.countersign")

FAILPOINT_ENV: Final = "COLEDGER_FAILPOINT"
T = TypeVar("T")


def failpoint(name: str) -> None:
    """Crash here, at once and uncleanly, when the tests ask for it (COLEDGER_FAILPOINT):
    how the crash-recovery tests stop a node at an exact step of a session."""
    if os.environ.get(FAILPOINT_ENV) == name:
        log.warning("failpoint %s: exiting", name)
        os._exit(75)


class SessionRefused(LocalError):
    """A countersigning request that this node will not take part in."""


@dataclass(frozen=True)
class TransferRequest:
    """`coledger record ACTION ... --to AGENT`: what the initiator proposes (`event`: the
    app's request, drafted by its hook)."""

    event: object
    to: str
    wait_s: float
    entry_type: str | None = None
    """The envelope entry type (which hook drafts it); None: the app's first, transfers."""


class Requests(Protocol):
    """Asks a peer over one protocol and waits for its answer (the node's transport)."""

    async def request(self, peer: AgentId, name: str, payload: bytes, *,
                      timeout: float) -> bytes: ...


class SessionLedger(Protocol):
    """Writes the countersigned entry: built at the chain's head, checked as a validator
    would, flushed in the transaction that marks the session committed."""

    def commit(self, build: Callable[[Scratch, Any], T], *,
               session: SessionCommit | None = None, staged: Sequence[Record] = ()) -> T: ...


class OwnChain(Protocol):
    """Reads of this agent's own chain."""

    def head(self) -> ChainHead | None: ...

    def get_entry(self, address: Cid) -> Entry | None: ...


MemberCheck = Callable[[AgentId], None]
"""Raises unless the peer is a member we talk to (not a stranger, not blocked)."""
ActivityReader = Callable[[AgentId], Awaitable[Sequence[Record]]]
"""An agent's chain as its agent-activity authorities hold it, verified."""
Clock = Callable[[], int]


def checked_records(raws: Iterable[RawRecord]) -> list[Record]:
    """The records sent with a session, each verified (SessionRefused if one is not)."""
    out = []
    for raw in raws:
        record = raw.checked()
        if record is None:
            raise SessionRefused("a record sent with the session does not verify")
        out.append(record)
    return out


def hook_for(apps: Mapping[str, CountersignHook], entry_type: str) -> CountersignHook:
    """The app's hook for sessions of `entry_type` (LocalError if it has none)."""
    hook = apps.get(entry_type)
    if hook is None:
        raise LocalError(f"entry type {entry_type[:100]!r} cannot be countersigned here")
    return hook


def proposal_problem(app: CountersignHook | None, msg: Propose, peer: AgentId, me: AgentId,
                     now_us: int) -> str | None:
    """Why a peer's proposal is refused as it arrives (`app`: the hook of its entry type,
    None if the app countersigns no such entries); None if it may wait for an answer."""
    if app is None:
        return f"entry type {msg.entry_type[:100]!r} cannot be countersigned here"
    parties = app.parties(msg.event)
    if parties is None:
        return f"the proposed {app.noun} is malformed"
    if msg.to_new is not None and not app.new_field:
        return f"the {app.noun} has nothing for the counterparty to create"
    if msg.party.agent != peer or parties != (str(peer), str(me)):
        return f"the proposal must come from the {app.noun}'s {app.initiator_is}"
    if (
        not msg.start_us <= msg.party.timestamp <= msg.end_us
        or msg.end_us - msg.start_us > MAX_WINDOW_US
    ):
        return "the session window is malformed"
    if msg.end_us <= now_us:
        return "the session has already expired"
    return None
