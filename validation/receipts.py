"""Validation receipts: an authority's signed word that it validated an op.

An authority that integrates (or rejects) an op returns a receipt; the author
republishes until it holds enough receipts from distinct validators. The validator
signs the canonical encoding of everything but the signature, tagged with its type.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from node.core.cid import Cid
from node.core.encoding import encode_trusted
from node.core.errors import SignatureError
from node.core.identity import SIGNATURE_SIZE, AgentId, AgentKey
from validation.signed import SignedShape

ReceiptOutcome = Literal["valid", "rejected"]
RECEIPT_TYPE: Final = "ValidationReceipt"
MAX_RECEIPT_SIZE: Final = 512
# The CBOR head of a signature: a byte string of SIGNATURE_SIZE bytes (every one has it).
_SIGNATURE_HEAD: Final = encode_trusted(bytes(SIGNATURE_SIZE))[:-SIGNATURE_SIZE]
SHAPE: Final = SignedShape(
    type_tag=RECEIPT_TYPE,
    name="validation receipt",
    short="receipt",
    fields=frozenset({"type", "op", "outcome", "validator", "time_us", "signature"}),
    signer="validator",
    max_size=MAX_RECEIPT_SIZE,
    too_large=f"a validation receipt is at most {MAX_RECEIPT_SIZE} bytes",
)


class ValidationReceipt(BaseModel):
    """`validator` judged the op at `op_address` `outcome` at `time_us`, and signed it."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True
    )
    op_address: Cid
    outcome: ReceiptOutcome
    validator: AgentId
    time_us: int = Field(ge=0, lt=2**63)
    signature: bytes = Field(min_length=SIGNATURE_SIZE, max_length=SIGNATURE_SIZE)

    def signed_bytes(self) -> bytes:
        """What the validator signs: the canonical encoding without the signature."""
        return encode_trusted(
            _signed_obj(self.op_address, self.outcome, self.validator, self.time_us)
        )

    def to_obj(self) -> dict[str, Any]:
        obj = _signed_obj(self.op_address, self.outcome, self.validator, self.time_us)
        obj["signature"] = self.signature
        return obj

    @classmethod
    def from_obj(cls, obj: Any) -> ValidationReceipt:
        """Build from a decoded value; DecodeError if the shape is wrong (signature unchecked)."""
        fields = SHAPE.fields_of(obj)
        validator = SHAPE.signer_bytes(fields)
        with SHAPE.building():
            receipt = cls(
                op_address=fields["op"],
                outcome=fields["outcome"],
                validator=AgentId(validator),
                time_us=fields["time_us"],
                signature=fields["signature"],
            )
        return receipt

    def to_bytes(self) -> bytes:
        return encode_trusted(self.to_obj())

    @classmethod
    def from_bytes(cls, data: bytes) -> ValidationReceipt:
        """Decode wire bytes; DecodeError on anything but a canonical receipt."""
        return cls.from_obj(SHAPE.decode(data))


def _signed_obj(op: Cid, outcome: str, validator: AgentId, time_us: int) -> dict[str, Any]:
    return {
        "type": RECEIPT_TYPE,
        "op": op,
        "outcome": outcome,
        "validator": validator.to_bytes(),
        "time_us": time_us,
    }


def sign_receipt(
    key: AgentKey, op_address: Cid, outcome: ReceiptOutcome, time_us: int
) -> ValidationReceipt:
    """A receipt for `op_address`, signed by `key` as the validator."""
    signature = key.sign(encode_trusted(_signed_obj(op_address, outcome, key.agent_id, time_us)))
    return ValidationReceipt(
        op_address=op_address,
        outcome=outcome,
        validator=key.agent_id,
        time_us=time_us,
        signature=signature,
    )


def receipt_bytes(key: AgentKey, op_address: Cid, outcome: ReceiptOutcome, time_us: int) -> bytes:
    """`sign_receipt(...).to_bytes()` without building the model (the validator's hot path).

    A CBOR map is its header then each key and value in order, so the canonical bytes are
    fixed parts (made once per validator, outcome and time) around the op's CID and the
    signature; a test compares them with the model's bytes."""
    head, signed_tail, full_head, full_mid, full_tail = _receipt_parts(
        key.agent_id.to_bytes(), outcome, time_us
    )
    op = op_address.to_bytes()
    signature = key.sign(head + op + signed_tail)
    return full_head + op + full_mid + _SIGNATURE_HEAD + signature + full_tail


@lru_cache(maxsize=16)
def _receipt_parts(
    validator: bytes, outcome: str, time_us: int
) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """The encoded pieces of a receipt around its op address and signature, keys in
    canonical order (op, type, outcome, time_us, [signature,] validator)."""
    e = encode_trusted
    probe = Cid.of(b"")
    link_head = e(probe)[: -len(probe.to_bytes())]  # tag 42, byte string header, 0x00
    middle = e("type") + e(RECEIPT_TYPE) + e("outcome") + e(outcome) + e("time_us") + e(time_us)
    tail = e("validator") + e(validator)
    return (
        b"\xa5" + e("op") + link_head,  # a map of 5 pairs
        middle + tail,
        b"\xa6" + e("op") + link_head,  # ...of 6, with the signature
        middle + e("signature"),
        tail,
    )


def verify_receipt(receipt: ValidationReceipt) -> None:
    """Raise SignatureError unless the named validator signed this receipt."""
    receipt.validator.verify(receipt.signed_bytes(), receipt.signature)


def confirming_validators(
    op_address: Cid, receipts: Iterable[ValidationReceipt]
) -> frozenset[AgentId]:
    """The distinct validators whose verified receipts say the op at `op_address` is valid."""
    out: set[AgentId] = set()
    for receipt in receipts:
        if receipt.op_address != op_address or receipt.outcome != "valid":
            continue
        try:
            verify_receipt(receipt)
        except SignatureError:
            continue
        out.add(receipt.validator)
    return frozenset(out)
