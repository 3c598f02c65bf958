"""Wire messages of the coledger protocols, as canonical DAG-CBOR.

Every message is a map with a type tag `t`; ops and records travel as raw parts
(op type, action bytes, signature, entry bytes or null) that validation decodes and
judges, so a peer's bad op is a validation outcome, not a wire error. Decoding is
defensive: `decode_message` returns the typed message or raises `WireError` on
anything else (wrong types, unknown or missing fields, lists over their bounds,
oversized fields). Messages are frozen slotted dataclasses rather than pydantic
models: a publish batch holds hundreds of ops and is decoded on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, TypeVar, cast, get_args, overload

from dht.gossip import Bucket, Fingerprint
from dht.transport import MAX_MESSAGE
from dht.wire_fields import (
    WireError,
    check_agent,
    check_bytes,
    check_cid,
    check_list,
    check_map,
    check_text,
    check_uint,
)
from node.core.chain import check_entry_address
from node.core.cid import Cid
from node.core.encoding import decode, encode_trusted, one_of
from node.core.errors import CoreError
from node.core.identity import AgentId
from node.core.ops import Op
from node.core.records import MAX_ACTION_SIZE, MAX_ENTRY_SIZE, Entry, Record, SignedAction

MAX_OPS: Final = 2_000
"""Ops in one publish or fetch message (the 8 MiB frame limit binds first for big ones)."""
MAX_ADDRESSES: Final = 20_000
MAX_RECORDS: Final = 5_000
MAX_BUCKETS: Final = 4_096
MAX_WARRANTS: Final = 64
MAX_SIGNATURE: Final = 128
MAX_OP_TYPE: Final = 64
MAX_RECEIPT: Final = 512
MAX_WARRANT: Final = MAX_ENTRY_SIZE + 2 * MAX_ACTION_SIZE + 4096
MAX_REASON: Final = 256

OpStatus = Literal["integrated", "pending", "rejected", "not_authority"]
OP_STATUSES: Final = frozenset(get_args(OpStatus))
GetKind = Literal["record", "entry", "agent_activity"]
GET_KINDS: Final = frozenset(get_args(GetKind))


# --- parts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawOp:
    """An op as its raw parts; `validation.sys.decode_op` turns it into an Op."""

    op_type: str
    action: bytes
    signature: bytes
    entry: bytes | None = None

    @classmethod
    def of(cls, op: Op) -> RawOp:
        data = op.entry.data if op.entry else None
        return cls(op.type.value, op.signed.data, op.signed.signature, data)

    def to_obj(self) -> list[Any]:
        return [self.op_type, self.action, self.signature, self.entry]

    @classmethod
    def from_obj(cls, obj: Any) -> RawOp:
        if not isinstance(obj, list) or len(obj) != 4:
            raise WireError("an op is a list [op_type, action, signature, entry]")
        op_type, action, signature, entry = obj
        return cls(
            check_text(op_type, "op type", MAX_OP_TYPE),
            check_bytes(action, "action", MAX_ACTION_SIZE),
            check_bytes(signature, "signature", MAX_SIGNATURE),
            None if entry is None else check_bytes(entry, "entry", MAX_ENTRY_SIZE),
        )


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as its raw parts: action bytes, signature, entry bytes or None."""

    action: bytes
    signature: bytes
    entry: bytes | None = None

    def to_obj(self) -> list[Any]:
        return [self.action, self.signature, self.entry]

    @classmethod
    def of(cls, record: Record) -> RawRecord:
        data = record.entry.data if record.entry else None
        return cls(record.signed.data, record.signed.signature, data)

    def decoded(self) -> Record | None:
        """The record, decoded but not verified (None if it does not decode)."""
        try:
            signed = SignedAction.from_bytes(self.action, self.signature)
            entry = Entry.from_bytes(self.entry) if self.entry is not None else None
        except CoreError:
            return None
        return Record(signed, entry)

    def checked(self) -> Record | None:
        """The record if its signature verifies and its entry is its action's, else None."""
        record = self.decoded()
        if record is None or check_entry_address(record.action, record.entry) is not None:
            return None
        try:
            record.signed.verify_signature()
        except CoreError:
            return None
        return record

    @classmethod
    def from_obj(cls, obj: Any) -> RawRecord:
        if not isinstance(obj, list) or len(obj) != 3:
            raise WireError("a record is a list [action, signature, entry]")
        action, signature, entry = obj
        return cls(
            check_bytes(action, "action", MAX_ACTION_SIZE),
            check_bytes(signature, "signature", MAX_SIGNATURE),
            None if entry is None else check_bytes(entry, "entry", MAX_ENTRY_SIZE),
        )


@dataclass(frozen=True, slots=True)
class OpResult:
    """What an authority did with one published op."""

    op_address: Cid
    status: OpStatus
    reason: str | None = None

    def to_obj(self) -> list[Any]:
        return [self.op_address, self.status, self.reason]

    @classmethod
    def from_obj(cls, obj: Any) -> OpResult:
        if not isinstance(obj, list) or len(obj) != 3:
            raise WireError("an op result is a list [op, status, reason]")
        address, status, reason = obj
        if not one_of(status, OP_STATUSES):
            raise WireError(f"unknown op status {status!r}")
        return cls(
            check_cid(address, "op address"),
            cast(OpStatus, status),
            None if reason is None else check_text(reason, "reason", MAX_REASON),
        )


def _bucket_fp_obj(bucket: Bucket, fp: Fingerprint) -> list[Any]:
    return [bucket.start_us, bucket.span_us, fp.count, fp.to_bytes()]


def _bucket_fp(obj: Any) -> tuple[Bucket, Fingerprint]:
    if not isinstance(obj, list) or len(obj) != 4:
        raise WireError("a fingerprint is a list [start_us, span_us, count, xor]")
    start, span, count, xor = obj
    if not isinstance(xor, bytes) or len(xor) != 32:
        raise WireError("a fingerprint's xor is 32 bytes")
    bucket = Bucket(check_uint(start, "bucket start"), check_uint(span, "bucket span"))
    return bucket, Fingerprint(check_uint(count, "count"), int.from_bytes(xor, "big"))


def _addresses(obj: Any) -> tuple[Cid, ...]:
    return tuple(check_cid(a, "address") for a in check_list(obj, "addresses", MAX_ADDRESSES))


def _bucket(obj: Any) -> Bucket:
    if not isinstance(obj, list) or len(obj) != 2:
        raise WireError("a bucket is a list [start_us, span_us]")
    return Bucket(check_uint(obj[0], "bucket start"), check_uint(obj[1], "bucket span"))


# --- messages ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """An author (or a gossiping peer) pushes ops to an authority."""

    KIND: ClassVar[str] = "publish_req"
    ops: tuple[RawOp, ...]

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "ops": [op.to_obj() for op in self.ops]}

    @classmethod
    def from_obj(cls, obj: Any) -> PublishRequest:
        m = check_map(obj, cls.KIND, frozenset({"t", "ops"}))
        return cls(tuple(RawOp.from_obj(o) for o in check_list(m["ops"], "ops", MAX_OPS)))


@dataclass(frozen=True, slots=True)
class PublishResponse:
    """Per-op outcomes, and signed validation receipts (ValidationReceipt bytes)."""

    KIND: ClassVar[str] = "publish_resp"
    results: tuple[OpResult, ...]
    receipts: tuple[bytes, ...] = ()

    def to_obj(self) -> dict[str, Any]:
        return {
            "t": self.KIND,
            "results": [r.to_obj() for r in self.results],
            "receipts": list(self.receipts),
        }

    @classmethod
    def from_obj(cls, obj: Any) -> PublishResponse:
        m = check_map(obj, cls.KIND, frozenset({"t", "results", "receipts"}))
        results = tuple(OpResult.from_obj(r) for r in check_list(m["results"], "results", MAX_OPS))
        receipts = tuple(check_bytes(r, "receipt", MAX_RECEIPT)
                         for r in check_list(m["receipts"], "receipts", MAX_OPS))
        return cls(results, receipts)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """Ask a peer for ops by address (after gossip found them missing)."""

    KIND: ClassVar[str] = "fetch_req"
    addresses: tuple[Cid, ...]

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "addresses": list(self.addresses)}

    @classmethod
    def from_obj(cls, obj: Any) -> FetchRequest:
        m = check_map(obj, cls.KIND, frozenset({"t", "addresses"}))
        items = check_list(m["addresses"], "addresses", MAX_ADDRESSES)
        return cls(tuple(check_cid(a, "address") for a in items))


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """The ops a peer holds of those asked for (missing ones are left out)."""

    KIND: ClassVar[str] = "fetch_resp"
    ops: tuple[RawOp, ...]

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "ops": [op.to_obj() for op in self.ops]}

    @classmethod
    def from_obj(cls, obj: Any) -> FetchResponse:
        m = check_map(obj, cls.KIND, frozenset({"t", "ops"}))
        return cls(tuple(RawOp.from_obj(o) for o in check_list(m["ops"], "ops", MAX_OPS)))


@dataclass(frozen=True, slots=True)
class GetRequest:
    """Ask an authority for a record, an entry, or an agent's activity (its chain)."""

    KIND: ClassVar[str] = "get_req"
    target: Cid | AgentId
    kind: GetKind
    since: int = 0
    """agent_activity: only the actions from this seq on (a node checking its own chain
    against the network asks for the end of it, not the whole chain every minute)."""

    def __post_init__(self) -> None:
        want = AgentId if self.kind == "agent_activity" else Cid
        if self.kind not in GET_KINDS or not isinstance(self.target, want):
            raise ValueError(f"a {self.kind!r} get needs a {want.__name__} target")
        if self.since and self.kind != "agent_activity":
            raise ValueError("only an agent_activity get starts at a seq")

    def to_obj(self) -> dict[str, Any]:
        target = self.target.to_bytes() if isinstance(self.target, AgentId) else self.target
        return {"t": self.KIND, "target": target, "kind": self.kind, "since": self.since}

    @classmethod
    def from_obj(cls, obj: Any) -> GetRequest:
        m = check_map(obj, cls.KIND, frozenset({"t", "target", "kind", "since"}))
        kind = m["kind"]
        if not one_of(kind, GET_KINDS):
            raise WireError(f"unknown get kind {kind!r}")
        since = check_uint(m["since"], "since")
        target: Cid | AgentId
        if kind == "agent_activity":
            target = check_agent(m["target"], "target")
        elif since:
            raise WireError("only an agent_activity get starts at a seq")
        else:
            target = check_cid(m["target"], "target")
        return cls(target, cast(GetKind, kind), since)


@dataclass(frozen=True, slots=True)
class GetResponse:
    """Records found (for agent_activity: the chain in seq order), or not found."""

    KIND: ClassVar[str] = "get_resp"
    found: bool
    records: tuple[RawRecord, ...] = ()

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "found": self.found, "records": [r.to_obj() for r in self.records]}

    @classmethod
    def from_obj(cls, obj: Any) -> GetResponse:
        m = check_map(obj, cls.KIND, frozenset({"t", "found", "records"}))
        if not isinstance(m["found"], bool):
            raise WireError("found must be a boolean")
        items = check_list(m["records"], "records", MAX_RECORDS)
        return cls(m["found"], tuple(RawRecord.from_obj(r) for r in items))


@dataclass(frozen=True, slots=True)
class GossipRequest:
    """One gossip stage. Scope: ops whose basis has both peers among its `redundancy`
    authorities (see `dht.gossip.shared_scope`), each side judging by its own view of
    the population (sending ours would cost O(peers) per round); buckets cut at
    `now_us`. Stage 1 sends `fingerprints`; stage 2 sends `addresses` held in differing
    buckets."""

    KIND: ClassVar[str] = "gossip_req"
    now_us: int
    redundancy: int
    fingerprints: tuple[tuple[Bucket, Fingerprint], ...] = ()
    addresses: tuple[Cid, ...] = ()

    def to_obj(self) -> dict[str, Any]:
        return {
            "t": self.KIND,
            "now_us": self.now_us,
            "redundancy": self.redundancy,
            "fingerprints": [_bucket_fp_obj(b, f) for b, f in self.fingerprints],
            "addresses": list(self.addresses),
        }

    @classmethod
    def from_obj(cls, obj: Any) -> GossipRequest:
        fields = frozenset({"t", "now_us", "redundancy", "fingerprints", "addresses"})
        m = check_map(obj, cls.KIND, fields)
        redundancy = check_uint(m["redundancy"], "redundancy")
        if not 1 <= redundancy <= 64:
            raise WireError("redundancy must be in 1..64")
        return cls(
            check_uint(m["now_us"], "now_us"),
            redundancy,
            tuple(_bucket_fp(f)
                  for f in check_list(m["fingerprints"], "fingerprints", MAX_BUCKETS)),
            _addresses(m["addresses"]),
        )


@dataclass(frozen=True, slots=True)
class GossipResponse:
    """The buckets whose fingerprints differ and the responder's addresses in them."""

    KIND: ClassVar[str] = "gossip_resp"
    differing: tuple[Bucket, ...]
    addresses: tuple[Cid, ...] = ()

    def to_obj(self) -> dict[str, Any]:
        return {
            "t": self.KIND,
            "differing": [[b.start_us, b.span_us] for b in self.differing],
            "addresses": list(self.addresses),
        }

    @classmethod
    def from_obj(cls, obj: Any) -> GossipResponse:
        m = check_map(obj, cls.KIND, frozenset({"t", "differing", "addresses"}))
        return cls(
            tuple(_bucket(b) for b in check_list(m["differing"], "differing", MAX_BUCKETS)),
            _addresses(m["addresses"]),
        )


@dataclass(frozen=True, slots=True)
class WarrantMessage:
    """Warrants (validation.warrants.Warrant bytes) sent to the warrantee's authorities."""

    KIND: ClassVar[str] = "warrant"
    warrants: tuple[bytes, ...]

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "warrants": list(self.warrants)}

    @classmethod
    def from_obj(cls, obj: Any) -> WarrantMessage:
        m = check_map(obj, cls.KIND, frozenset({"t", "warrants"}))
        items = check_list(m["warrants"], "warrants", MAX_WARRANTS)
        return cls(tuple(check_bytes(w, "warrant", MAX_WARRANT) for w in items))


Message = (
    PublishRequest
    | PublishResponse
    | FetchRequest
    | FetchResponse
    | GetRequest
    | GetResponse
    | GossipRequest
    | GossipResponse
    | WarrantMessage
)
MESSAGE_TYPES: Final[dict[str, Any]] = {
    cls.KIND: cls
    for cls in (
        PublishRequest,
        PublishResponse,
        FetchRequest,
        FetchResponse,
        GetRequest,
        GetResponse,
        GossipRequest,
        GossipResponse,
        WarrantMessage,
    )
}
M = TypeVar("M", bound=Message)


def encode_message(message: Message) -> bytes:
    """The canonical DAG-CBOR bytes of a message (built by our own code: no pre-check)."""
    data = encode_trusted(message.to_obj())
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"{message.KIND} message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    return data


@overload
def decode_message(kind: type[M], data: bytes) -> M: ...
@overload
def decode_message(kind: str, data: bytes) -> Message: ...
def decode_message(kind: type[M] | str, data: bytes) -> M | Message:
    """The message of type `kind` (a class or its KIND) in `data`; WireError otherwise."""
    cls = MESSAGE_TYPES.get(kind) if isinstance(kind, str) else kind
    if cls is None:
        raise ValueError(f"unknown message kind {kind!r}")
    from_obj = cast(Callable[[Any], Message], cls.from_obj)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("expected bytes")
    if len(data) > MAX_MESSAGE:
        raise WireError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    try:
        obj = decode(bytes(data))
    except CoreError as e:
        raise WireError(f"{cls.KIND}: {e}") from None
    try:
        return from_obj(obj)
    except WireError:
        raise
    except (CoreError, ValueError, TypeError) as e:  # belt and braces: never anything else
        raise WireError(f"{cls.KIND}: {e}") from None
