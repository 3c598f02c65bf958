"""Countersigned entries: one entry written on several agents' chains, signed by all.

A countersigned entry is an *envelope*: the inner entry (say, an EconomicEvent), the
session (an id, a time window, and for each party the exact place its action takes on
its chain: seq, prev_action, timestamp), and one approval per party. An approval is
the party's signature over everything but the approvals (domain-separated), so it
binds the inner entry, the window and every party's chain position at once: it cannot
be moved to another event, another chain position or another session.

Each party then writes a `Create` of the envelope at exactly the position its party
record names; that action is fully determined by the envelope, so a validator of one
party's record can check everything without the other's chain (`check_envelope`).

Entry types whose local name starts with "Countersigned" (e.g.
`valueflows.CountersignedEvent`) are envelopes: that naming rule is part of the DNA.

Pure: values in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from node.core.actions import ActionBase, Create
from node.core.chain import ChainHead
from node.core.cid import Cid
from node.core.encoding import Value, encode
from node.core.errors import CoreError, DecodeError
from node.core.identity import SIGNATURE_SIZE, AgentId, AgentKey
from node.core.records import Entry

COUNTERSIGNED_PREFIX: Final = "Countersigned"
DOMAIN: Final = b"coledger/countersign/v1\x00"
SESSION_ID_SIZE: Final = 16
MAX_PARTIES: Final = 8
MAX_WINDOW_US: Final = 60 * 60 * 1_000_000
"""A session lasts at most an hour: chains stay locked no longer than that."""


def is_countersigned(entry_type: str | None) -> bool:
    """Whether records of this entry type carry a countersigned envelope."""
    return entry_type is not None and entry_type.partition(".")[2].startswith(COUNTERSIGNED_PREFIX)


@dataclass(frozen=True, slots=True)
class Party:
    """Where one party's action goes: the action after `prev_action`, at `seq`, `timestamp`."""

    agent: AgentId
    prev_action: Cid
    seq: int
    timestamp: int

    def to_obj(self) -> dict[str, Value]:
        return {"agent": self.agent.to_bytes(), "prev": self.prev_action, "seq": self.seq,
                "time": self.timestamp}

    @classmethod
    def from_obj(cls, obj: Any) -> Party:
        if not isinstance(obj, dict) or set(obj) != {"agent", "prev", "seq", "time"}:
            raise DecodeError("a party is a map of agent, prev, seq, time")
        agent, prev, seq, time = obj["agent"], obj["prev"], obj["seq"], obj["time"]
        if not isinstance(agent, bytes) or not isinstance(prev, Cid):
            raise DecodeError("a party's agent must be bytes and prev a link")
        if (
            type(seq) is not int or type(time) is not int
            or not 0 < seq < 2**63 or not 0 <= time < 2**63
        ):
            raise DecodeError("a party's seq and time must be non-negative integers")
        try:
            return cls(AgentId(agent), prev, seq, time)
        except CoreError as e:
            raise DecodeError(f"a party's agent id is malformed: {e}") from None


def next_party(agent: AgentId, head: ChainHead, now_us: int) -> Party:
    """The place after `head` for an action at about `now_us` (timestamps increase)."""
    return Party(agent, head.address, head.seq + 1, max(now_us, head.timestamp + 1))


@dataclass(frozen=True, slots=True)
class Session:
    """A countersigning session: who signs, where on their chains, and until when."""

    id: bytes
    start_us: int
    end_us: int
    parties: tuple[Party, ...]

    def to_obj(self) -> dict[str, Value]:
        return {"id": self.id, "start": self.start_us, "end": self.end_us,
                "parties": [p.to_obj() for p in self.parties]}

    @classmethod
    def from_obj(cls, obj: Any) -> Session:
        if not isinstance(obj, dict) or set(obj) != {"id", "start", "end", "parties"}:
            raise DecodeError("a session is a map of id, start, end, parties")
        sid, start, end, parties = obj["id"], obj["start"], obj["end"], obj["parties"]
        if not isinstance(sid, bytes) or len(sid) != SESSION_ID_SIZE:
            raise DecodeError(f"a session id is {SESSION_ID_SIZE} bytes")
        if type(start) is not int or type(end) is not int or not 0 <= start <= end < 2**63:
            raise DecodeError("a session's start and end must be integers, start <= end")
        if not isinstance(parties, list) or not 2 <= len(parties) <= MAX_PARTIES:
            raise DecodeError(f"a session has 2 to {MAX_PARTIES} parties")
        return cls(sid, start, end, tuple(Party.from_obj(p) for p in parties))

    def party(self, agent: AgentId) -> Party | None:
        return next((p for p in self.parties if p.agent == agent), None)

    @property
    def hex_id(self) -> str:
        return self.id.hex()


def approval_message(entry_type: str, session: Session, inner: Value) -> bytes:
    """The bytes every party signs: entry type, session and inner entry, domain-separated."""
    return DOMAIN + encode({"entry_type": entry_type, "session": session.to_obj(), "entry": inner})


def approve(key: AgentKey, entry_type: str, session: Session, inner: Value) -> bytes:
    return key.sign(approval_message(entry_type, session, inner))


@dataclass(frozen=True, slots=True)
class Envelope:
    """The countersigned entry: session, inner entry, one approval per party (same order)."""

    session: Session
    inner: Any
    approvals: tuple[bytes, ...]

    def to_value(self) -> dict[str, Value]:
        return {"session": self.session.to_obj(), "entry": self.inner,
                "approvals": list(self.approvals)}

    def entry(self) -> Entry:
        return Entry.of(self.to_value())

    @classmethod
    def from_value(cls, value: Any) -> Envelope:
        """DecodeError unless `value` has the envelope's shape (signatures unchecked)."""
        if not isinstance(value, dict) or set(value) != {"session", "entry", "approvals"}:
            raise DecodeError("a countersigned entry is a map of session, entry, approvals")
        session = Session.from_obj(value["session"])
        approvals = value["approvals"]
        if not isinstance(approvals, list) or not all(isinstance(a, bytes) for a in approvals):
            raise DecodeError("approvals must be a list of signatures")
        return cls(session, value["entry"], tuple(approvals))


def party_action(envelope_entry: Entry, entry_type: str, party: Party) -> Create:
    """The one action `party` may write for this envelope: fully determined by it."""
    return Create(author=party.agent, timestamp=party.timestamp, seq=party.seq,
                  prev_action=party.prev_action, entry_type=entry_type,
                  entry_hash=envelope_entry.address)


def check_envelope(action: ActionBase, entry_type: str, envelope: Envelope) -> str | None:
    """Why `action` (a Create of `envelope`) is not a properly countersigned write, or None."""
    session = envelope.session
    agents = [p.agent for p in session.parties]
    if len(set(agents)) != len(agents):
        return "a countersigning session names a party twice"
    if session.end_us - session.start_us > MAX_WINDOW_US:
        return "a countersigning session may last at most an hour"
    party = session.party(action.author)
    if party is None:
        return f"the author {action.author} is not a party to the countersigning session"
    if not isinstance(action, Create):
        return "a countersigned entry is written by a Create action"
    placed = (party.seq, party.prev_action, party.timestamp)
    if (action.seq, action.prev_action, action.timestamp) != placed:
        return (
            f"the action is at seq {action.seq} after {action.prev_action}, but the session "
            f"places it at seq {party.seq} after {party.prev_action} (replayed or moved)"
        )
    for p in session.parties:
        if not session.start_us <= p.timestamp <= session.end_us:
            return f"{p.agent}'s action time is outside the session window"
    if len(envelope.approvals) != len(session.parties):
        return f"{len(session.parties)} parties but {len(envelope.approvals)} signatures"
    message = approval_message(entry_type, session, envelope.inner)
    for p, signature in zip(session.parties, envelope.approvals, strict=True):
        if len(signature) != SIGNATURE_SIZE:
            return f"{p.agent}'s countersignature is not 64 bytes"
        try:
            p.agent.verify(message, signature)
        except CoreError:
            return f"{p.agent}'s countersignature does not verify (forged, or over other data)"
    return None
