"""Wire messages of countersigning sessions (`/coledger/<network>/countersign/1`).

  propose  initiator -> counterparty: the draft event, the initiator's chain position,
           the window, the records the counterparty needs to check it    -> ack
  accept   counterparty -> initiator: the final event, the counterparty's chain
           position and its signature over the session                   -> decision
  decline  counterparty -> initiator                                     -> decision
  status   counterparty -> initiator: how did session X end?             -> decision

Decoded as defensively as dht.wire's messages (same helpers, same WireError).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

from dht.transport import MAX_MESSAGE
from dht.wire import MAX_REASON, MAX_SIGNATURE, RawRecord
from dht.wire_fields import WireError, check_bytes, check_list, check_map, check_text, check_uint
from node.core.countersign import SESSION_ID_SIZE, Party
from node.core.encoding import decode, encode_trusted, lookup
from node.core.errors import CoreError

MAX_CONTEXT_RECORDS: Final = 16
MAX_NAME: Final = 500
MAX_ENTRY_TYPE: Final = 128
DECISIONS: Final = frozenset({"committed", "abandoned", "open"})
ACKS: Final = frozenset({"pending", "declined"})


def _sid(value: Any) -> bytes:
    sid = check_bytes(value, "session id", SESSION_ID_SIZE)
    if len(sid) != SESSION_ID_SIZE:
        raise WireError(f"a session id is {SESSION_ID_SIZE} bytes")
    return sid


def _event(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WireError("event must be a map")
    return value


def _party(value: Any) -> Party:
    try:
        return Party.from_obj(value)
    except CoreError as e:
        raise WireError(f"party: {e}") from None


def _records(value: Any) -> tuple[RawRecord, ...]:
    return tuple(RawRecord.from_obj(r) for r in check_list(value, "records", MAX_CONTEXT_RECORDS))


def _opt_text(value: Any, name: str, bound: int) -> str | None:
    return None if value is None else check_text(value, name, bound)


@dataclass(frozen=True, slots=True)
class Propose:
    KIND: ClassVar[str] = "cs-propose"
    id: bytes
    entry_type: str
    event: dict[str, Any]
    party: Party
    start_us: int
    end_us: int
    to_new: str | None
    records: tuple[RawRecord, ...]

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "id": self.id, "entry_type": self.entry_type, "event": self.event,
                "party": self.party.to_obj(), "start": self.start_us, "end": self.end_us,
                "to_new": self.to_new, "records": [r.to_obj() for r in self.records]}

    @classmethod
    def from_obj(cls, obj: Any) -> Propose:
        m = check_map(obj, cls.KIND, frozenset(
            {"t", "id", "entry_type", "event", "party", "start", "end", "to_new", "records"}))
        if m["to_new"] == "":
            raise WireError("to_new, the receiving resource's name, is empty")
        return cls(_sid(m["id"]), check_text(m["entry_type"], "entry type", MAX_ENTRY_TYPE),
                   _event(m["event"]), _party(m["party"]), check_uint(m["start"], "start"),
                   check_uint(m["end"], "end"), _opt_text(m["to_new"], "to_new", MAX_NAME),
                   _records(m["records"]))


@dataclass(frozen=True, slots=True)
class Ack:
    KIND: ClassVar[str] = "cs-ack"
    state: str
    reason: str | None = None

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "state": self.state, "reason": self.reason}

    @classmethod
    def from_obj(cls, obj: Any) -> Ack:
        m = check_map(obj, cls.KIND, frozenset({"t", "state", "reason"}))
        state = check_text(m["state"], "state", 16)
        if state not in ACKS:
            raise WireError(f"unknown ack state {state!r}")
        return cls(state, _opt_text(m["reason"], "reason", MAX_REASON))


@dataclass(frozen=True, slots=True)
class Accept:
    KIND: ClassVar[str] = "cs-accept"
    id: bytes
    event: dict[str, Any]
    party: Party
    approval: bytes
    records: tuple[RawRecord, ...]

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "id": self.id, "event": self.event, "party": self.party.to_obj(),
                "approval": self.approval, "records": [r.to_obj() for r in self.records]}

    @classmethod
    def from_obj(cls, obj: Any) -> Accept:
        m = check_map(obj, cls.KIND,
                      frozenset({"t", "id", "event", "party", "approval", "records"}))
        return cls(_sid(m["id"]), _event(m["event"]), _party(m["party"]),
                   check_bytes(m["approval"], "approval", MAX_SIGNATURE), _records(m["records"]))


@dataclass(frozen=True, slots=True)
class Decline:
    KIND: ClassVar[str] = "cs-decline"
    id: bytes
    reason: str | None = None

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "id": self.id, "reason": self.reason}

    @classmethod
    def from_obj(cls, obj: Any) -> Decline:
        m = check_map(obj, cls.KIND, frozenset({"t", "id", "reason"}))
        return cls(_sid(m["id"]), _opt_text(m["reason"], "reason", MAX_REASON))


@dataclass(frozen=True, slots=True)
class Status:
    KIND: ClassVar[str] = "cs-status"
    id: bytes

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "id": self.id}

    @classmethod
    def from_obj(cls, obj: Any) -> Status:
        return cls(_sid(check_map(obj, cls.KIND, frozenset({"t", "id"}))["id"]))


@dataclass(frozen=True, slots=True)
class Decision:
    KIND: ClassVar[str] = "cs-decision"
    state: str
    approval: bytes | None = None
    reason: str | None = None

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "state": self.state, "approval": self.approval,
                "reason": self.reason}

    @classmethod
    def from_obj(cls, obj: Any) -> Decision:
        m = check_map(obj, cls.KIND, frozenset({"t", "state", "approval", "reason"}))
        state = check_text(m["state"], "state", 16)
        if state not in DECISIONS:
            raise WireError(f"unknown decision {state!r}")
        approval = (
            None if m["approval"] is None else check_bytes(m["approval"], "approval", MAX_SIGNATURE)
        )
        return cls(state, approval, _opt_text(m["reason"], "reason", MAX_REASON))


SessionMessage = Propose | Ack | Accept | Decline | Status | Decision
REQUESTS: Final[dict[str, Any]] = {c.KIND: c for c in (Propose, Accept, Decline, Status)}


def encode_session(message: SessionMessage) -> bytes:
    data = encode_trusted(message.to_obj())
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"{message.KIND} message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    return data


def _decoded(data: bytes) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) > MAX_MESSAGE:
        raise WireError("a session message must be bytes within the size limit")
    try:
        return decode(bytes(data))
    except CoreError as e:
        raise WireError(f"session message: {e}") from None


def decode_request(data: bytes) -> Propose | Accept | Decline | Status:
    """One of the four requests; WireError on anything else."""
    obj = _decoded(data)
    cls = lookup(REQUESTS, obj.get("t")) if isinstance(obj, dict) else None
    if cls is None:
        raise WireError("not a countersigning request")
    try:
        return cls.from_obj(obj)  # type: ignore[no-any-return]
    except WireError:
        raise
    except (CoreError, ValueError, TypeError) as e:
        raise WireError(f"{cls.KIND}: {e}") from None


def decode_reply(kind: type[Ack] | type[Decision], data: bytes) -> Ack | Decision:
    obj = _decoded(data)
    try:
        return kind.from_obj(obj)
    except WireError:
        raise
    except (CoreError, ValueError, TypeError) as e:
        raise WireError(f"{kind.KIND}: {e}") from None
