"""Validation receipts: signed by the validator, checkable by the author, defensive on
the wire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.cid import Cid
from node.core.encoding import decode, encode
from node.core.errors import DecodeError, SignatureError
from node.core.identity import AgentKey
from node.core.ops import produce_ops
from node.testing import MemoryAgent
from validation.receipts import (
    ValidationReceipt,
    confirming_validators,
    sign_receipt,
    verify_receipt,
)

VALIDATOR = AgentKey(b"\x11" * 32)
T = 1_700_000_000_000_000


def _an_op_address() -> Cid:
    author = MemoryAgent(AgentKey(b"\x12" * 32))
    author.genesis()
    return produce_ops(author.records[-1])[0].address


def test_the_author_can_check_a_receipt():
    op = _an_op_address()
    receipt = sign_receipt(VALIDATOR, op, "valid", T)
    wire = receipt.to_bytes()
    received = ValidationReceipt.from_bytes(wire)  # what the author gets back
    assert received == receipt
    verify_receipt(received)
    assert received.op_address == op and received.validator == VALIDATOR.agent_id
    assert ValidationReceipt.from_obj(receipt.to_obj()) == receipt


@pytest.mark.parametrize(
    "change",
    [
        {"outcome": "rejected"},
        {"time_us": T + 1},
        {"op_address": Cid.of(b"another op")},
        {"validator": AgentKey(b"\x13" * 32).agent_id},
    ],
)
def test_a_tampered_receipt_fails(change):
    receipt = sign_receipt(VALIDATOR, _an_op_address(), "valid", T)
    tampered = receipt.model_copy(update=change)
    with pytest.raises(SignatureError):
        verify_receipt(tampered)
    # ...also after a trip over the wire
    with pytest.raises(SignatureError):
        verify_receipt(ValidationReceipt.from_bytes(tampered.to_bytes()))


def test_flipped_signature_fails():
    receipt = sign_receipt(VALIDATOR, _an_op_address(), "rejected", T)
    sig = bytearray(receipt.signature)
    sig[0] ^= 1
    with pytest.raises(SignatureError):
        verify_receipt(receipt.model_copy(update={"signature": bytes(sig)}))


def test_confirming_validators_counts_distinct_verified_valid_receipts():
    op = _an_op_address()
    others = [AgentKey(bytes([0x20 + i]) * 32) for i in range(3)]
    good = [sign_receipt(k, op, "valid", T + i) for i, k in enumerate(others)]
    again = sign_receipt(others[0], op, "valid", T + 99)
    rejected = sign_receipt(VALIDATOR, op, "rejected", T)
    elsewhere = sign_receipt(VALIDATOR, Cid.of(b"x"), "valid", T)
    forged = sign_receipt(VALIDATOR, op, "valid", T).model_copy(update={"time_us": 1})
    got = confirming_validators(op, [*good, again, rejected, elsewhere, forged])
    assert got == frozenset(k.agent_id for k in others)


def test_bad_shapes_are_decode_errors():
    receipt = sign_receipt(VALIDATOR, _an_op_address(), "valid", T)
    obj = receipt.to_obj()
    for bad in [
        {**obj, "outcome": "maybe"},
        {**obj, "extra": 1},
        {**obj, "validator": b"\x00" * 38},
        {**obj, "op": b"not a cid"},
        {**obj, "time_us": -1},
        {**obj, "signature": b"short"},
        {**obj, "type": "Warrant"},
        [obj],
    ]:
        with pytest.raises(DecodeError):
            ValidationReceipt.from_bytes(encode(bad))
    with pytest.raises(DecodeError):
        ValidationReceipt.from_bytes(b"\x00" * 600)
    assert decode(receipt.to_bytes()) == obj


@given(st.binary(max_size=600))
def test_garbage_is_a_decode_error(data):
    with pytest.raises(DecodeError):
        ValidationReceipt.from_bytes(data)
