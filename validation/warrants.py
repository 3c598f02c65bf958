"""Warrants: signed, checkable claims that an agent broke the rules.

An authority that finds an invalid op, or two actions of one author on the same
prev_action (a fork), signs a warrant carrying the evidence as raw bytes and sends it
to the warrantee's agent-activity authorities (the basis is the warrantee's id).
A receiver re-checks the evidence with `judge_warrant`: guilt needs evidence the
warrantee signed; a warrant whose evidence does not convict is false, and a false
warrant blocks its issuer instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from node.core.cid import Cid
from node.core.encoding import encode_trusted, lookup
from node.core.errors import CoreError, DecodeError, LocalError, SignatureError
from node.core.identity import SIGNATURE_SIZE, AgentId, AgentKey
from node.core.ops import CARRIES_ENTRY, Op, OpType
from node.core.outcome import Invalid, Outcome, Unresolved, Valid
from node.core.records import MAX_ACTION_SIZE, MAX_ENTRY_SIZE, SignedAction
from validation.signed import SignedShape
from validation.sys import decode_op, find_fork, op_types_of

WARRANT_TYPE: Final = "Warrant"
MAX_WARRANT_SIZE: Final = MAX_ENTRY_SIZE + 2 * MAX_ACTION_SIZE + 4096
SHAPE: Final = SignedShape(
    type_tag=WARRANT_TYPE,
    name="warrant",
    short="warrant",
    fields=frozenset({"type", "evidence", "issuer", "time_us", "signature"}),
    signer="issuer",
    max_size=MAX_WARRANT_SIZE,
    too_large=f"a warrant is bytes, at most {MAX_WARRANT_SIZE}",
)
TIME_DEPENDENT_RULES: Final = frozenset({"check_not_in_future"})
"""Rules whose verdict depends on the validator's clock: never grounds for a warrant."""

_MODEL = ConfigDict(frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True)


def _signed_action(data: bytes, signature: bytes) -> SignedAction:
    try:
        return SignedAction.from_bytes(data, signature)
    except CoreError as e:  # pydantic reports ValueError as a validation error
        raise ValueError(f"evidence action does not decode: {e}") from None


class InvalidOpEvidence(BaseModel):
    """An op as its raw parts, with the rule it breaks according to the issuer."""

    model_config = _MODEL
    op_type: str = Field(max_length=64)
    action: bytes = Field(max_length=MAX_ACTION_SIZE)
    signature: bytes = Field(max_length=2 * SIGNATURE_SIZE)
    entry: bytes | None = Field(default=None, max_length=MAX_ENTRY_SIZE)
    rule: str = Field(max_length=128)
    reason: str = Field(max_length=1024)
    _signed: SignedAction = PrivateAttr()

    @model_validator(mode="after")
    def _decodes(self) -> InvalidOpEvidence:
        self._signed = _signed_action(self.action, self.signature)
        return self

    @classmethod
    def of(cls, op: Op, invalid: Invalid) -> InvalidOpEvidence:
        return cls(
            op_type=op.type.value,
            action=op.signed.data,
            signature=op.signed.signature,
            entry=op.entry.data if op.entry is not None else None,
            rule=invalid.rule[:128],
            reason=invalid.reason[:1024],
        )

    @property
    def signed(self) -> SignedAction:
        return self._signed

    @property
    def warrantee(self) -> AgentId:
        return self._signed.action.author

    def to_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"kind": "invalid_op", **self.model_dump()}
        if obj["entry"] is None:
            del obj["entry"]
        return obj


class ForkEvidence(BaseModel):
    """Two signed actions of one author on the same prev_action (ordered by address)."""

    model_config = _MODEL
    action_a: bytes = Field(max_length=MAX_ACTION_SIZE)
    signature_a: bytes = Field(max_length=2 * SIGNATURE_SIZE)
    action_b: bytes = Field(max_length=MAX_ACTION_SIZE)
    signature_b: bytes = Field(max_length=2 * SIGNATURE_SIZE)
    _a: SignedAction = PrivateAttr()
    _b: SignedAction = PrivateAttr()

    @model_validator(mode="after")
    def _decodes(self) -> ForkEvidence:
        self._a = _signed_action(self.action_a, self.signature_a)
        self._b = _signed_action(self.action_b, self.signature_b)
        return self

    @classmethod
    def of(cls, a: SignedAction, b: SignedAction) -> ForkEvidence:
        a, b = sorted((a, b), key=lambda s: s.address.to_bytes())
        return cls(
            action_a=a.data, signature_a=a.signature, action_b=b.data, signature_b=b.signature
        )

    @property
    def pair(self) -> tuple[SignedAction, SignedAction]:
        return self._a, self._b

    @property
    def warrantee(self) -> AgentId:
        return self._a.action.author

    def to_obj(self) -> dict[str, Any]:
        return {"kind": "fork", **self.model_dump()}


Evidence = InvalidOpEvidence | ForkEvidence
_EVIDENCE_KINDS: Final[dict[str, type[InvalidOpEvidence] | type[ForkEvidence]]] = {
    "invalid_op": InvalidOpEvidence,
    "fork": ForkEvidence,
}


class Warrant(BaseModel):
    """`issuer` claims, with `evidence`, that the evidence's author broke the rules."""

    model_config = _MODEL
    evidence: Evidence
    issuer: AgentId
    time_us: int = Field(ge=0, lt=2**63)
    signature: bytes = Field(min_length=SIGNATURE_SIZE, max_length=SIGNATURE_SIZE)

    @property
    def warrantee(self) -> AgentId:
        return self.evidence.warrantee

    @property
    def basis(self) -> bytes:
        """Where the warrant goes: the warrantee's agent-activity authorities."""
        return self.warrantee.to_bytes()

    def signed_bytes(self) -> bytes:
        return encode_trusted(_signed_obj(self.evidence, self.issuer, self.time_us))

    def to_obj(self) -> dict[str, Any]:
        return {
            **_signed_obj(self.evidence, self.issuer, self.time_us),
            "signature": self.signature,
        }

    def to_bytes(self) -> bytes:
        return encode_trusted(self.to_obj())

    @classmethod
    def from_obj(cls, obj: Any) -> Warrant:
        """Build from a decoded value; DecodeError if malformed (signature unchecked)."""
        fields = SHAPE.fields_of(obj)
        ev = fields["evidence"]
        kind = lookup(_EVIDENCE_KINDS, ev.get("kind")) if isinstance(ev, dict) else None
        if kind is None:
            raise DecodeError("a warrant's evidence is an invalid op or a fork")
        issuer = SHAPE.signer_bytes(fields)
        with SHAPE.building():
            evidence = kind(**{k: v for k, v in ev.items() if k != "kind"})
            warrant = cls(
                evidence=evidence,
                issuer=AgentId(issuer),
                time_us=fields["time_us"],
                signature=fields["signature"],
            )
        return warrant

    @classmethod
    def from_bytes(cls, data: bytes) -> Warrant:
        """Decode wire bytes; DecodeError on anything but a canonical warrant."""
        warrant = cls.from_obj(SHAPE.decode(data))
        if warrant.to_bytes() != data:
            raise DecodeError("warrant bytes are not the encoding of the warrant")
        return warrant


def _signed_obj(evidence: Evidence, issuer: AgentId, time_us: int) -> dict[str, Any]:
    return {
        "type": WARRANT_TYPE,
        "evidence": evidence.to_obj(),
        "issuer": issuer.to_bytes(),
        "time_us": time_us,
    }


def issue_warrant(key: AgentKey, evidence: Evidence, time_us: int) -> Warrant:
    """Sign a warrant; LocalError if the evidence could never convict (own-goal guard)."""
    if isinstance(evidence, InvalidOpEvidence) and evidence.rule in TIME_DEPENDENT_RULES:
        raise LocalError(f"{evidence.rule} depends on the clock and is no ground for a warrant")
    if evidence.warrantee == key.agent_id:
        raise LocalError("an agent cannot warrant itself")
    signature = key.sign(encode_trusted(_signed_obj(evidence, key.agent_id, time_us)))
    return Warrant(evidence=evidence, issuer=key.agent_id, time_us=time_us, signature=signature)


def verify_warrant_signature(warrant: Warrant) -> None:
    """Raise SignatureError unless the named issuer signed this warrant."""
    warrant.issuer.verify(warrant.signed_bytes(), warrant.signature)


# -- judging ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WarranteeGuilty:
    """The evidence, signed by the warrantee, breaks `rule`: block the warrantee."""

    warrantee: AgentId
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class IssuerFalse:
    """The evidence does not convict: the warrant is false, block its issuer."""

    issuer: AgentId
    reason: str


@dataclass(frozen=True, slots=True)
class Undecided:
    """Cannot judge yet (missing dependencies, or a clock-dependent rule): retry later."""

    reason: str
    missing: tuple[Cid | bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class BadWarrant:
    """The warrant's own signature does not verify: nobody is judged, drop it."""

    reason: str


Verdict = WarranteeGuilty | IssuerFalse | Undecided | BadWarrant


def judge_warrant(warrant: Warrant, revalidate: Callable[[Op], Outcome]) -> Verdict:
    """Re-check a warrant's evidence; `revalidate` is this node's full validation of an op."""
    try:
        verify_warrant_signature(warrant)
    except SignatureError as e:
        return BadWarrant(str(e))
    evidence = warrant.evidence
    if isinstance(evidence, ForkEvidence):
        return _judge_fork(warrant, evidence)
    return _judge_invalid_op(warrant, evidence, revalidate)


def _judge_fork(warrant: Warrant, evidence: ForkEvidence) -> Verdict:
    a, b = evidence.pair
    for signed in (a, b):
        try:
            signed.verify_signature()
        except SignatureError:
            return IssuerFalse(warrant.issuer, "fork evidence is not signed by its author")
    if not find_fork(a, b):
        return IssuerFalse(warrant.issuer, "the two actions are not a fork")
    reason = f"two actions at seq {a.action.seq}/{b.action.seq} follow {a.action.prev_action}"
    return WarranteeGuilty(evidence.warrantee, "find_fork", reason)


def _unattributable(evidence: InvalidOpEvidence) -> str | None:
    """Why the evidence does not bind its author, or None: the author signed the action,
    the op type is one the action gives, and the entry is the one the action names."""
    signed = evidence.signed
    try:
        signed.verify_signature()
    except SignatureError:
        return "the op is not signed by its author"
    action = signed.action
    if evidence.op_type not in {t.value for t in op_types_of(action)}:
        return f"a {action.TYPE} action gives no {evidence.op_type!r} op"
    if evidence.entry is not None and Cid.of(evidence.entry) != action.entry_address:
        return "the entry is not the one the action names"
    if evidence.entry is None and action.HAS_ENTRY and OpType(evidence.op_type) in CARRIES_ENTRY:
        return "the evidence omits the op's entry"
    return None


def _judge_invalid_op(
    warrant: Warrant, evidence: InvalidOpEvidence, revalidate: Callable[[Op], Outcome]
) -> Verdict:
    problem = _unattributable(evidence)
    if problem is not None:
        return IssuerFalse(warrant.issuer, problem)
    op = decode_op(evidence.op_type, evidence.action, evidence.signature, evidence.entry)
    outcome = op if isinstance(op, Invalid) else revalidate(op)
    match outcome:
        case Invalid(rule, reason) if rule in TIME_DEPENDENT_RULES:
            return Undecided(f"{rule} depends on the clock: {reason}")
        case Invalid(rule, reason):
            return WarranteeGuilty(evidence.warrantee, rule, reason)
        case Unresolved(missing):
            return Undecided("the op's dependencies are missing here", tuple(missing))
        case Valid():
            return IssuerFalse(warrant.issuer, "the op is valid")
    raise TypeError(f"revalidate returned {outcome!r}, not an outcome")
