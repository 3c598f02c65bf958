"""Warrants: true warrants convict the warrantee, false ones their issuer, and evidence
the warrantee did not sign never convicts it."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.chain import ChainHead
from node.core.cid import Cid
from node.core.encoding import encode
from node.core.errors import DecodeError, LocalError, SignatureError
from node.core.identity import AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome, Unresolved
from node.core.records import Entry, Record, SignedAction
from node.core.scratch import Scratch
from node.testing import MemoryAgent, step_clock
from validation.sys import sys_validate
from validation.warrants import (
    BadWarrant,
    ForkEvidence,
    InvalidOpEvidence,
    IssuerFalse,
    Undecided,
    Warrant,
    WarranteeGuilty,
    issue_warrant,
    judge_warrant,
    verify_warrant_signature,
)

NETWORK = Cid.of(b"test dna")
KNOWN = frozenset({"test.Note"})
T = 1_800_000_000_000_000
AUTHORITY = AgentKey(b"\x31" * 32)


class DictDeps:
    def __init__(self, records: list[Record]) -> None:
        self.records = {r.address: r for r in records}

    def must_get_record(self, address: Cid) -> Record:
        if address not in self.records:
            raise MissingDependency(address)
        return self.records[address]

    def must_get_entry(self, address: Cid) -> Entry:
        raise MissingDependency(address)

    def must_get_agent_activity(self, author: Any, chain_top: Cid) -> list[Record]:
        raise MissingDependency(chain_top)


def revalidator(records: list[Record]):
    def revalidate(op: Op) -> Outcome:
        return sys_validate(
            op, network_id=NETWORK, known_entry_types=KNOWN, now_us=T, deps=DictDeps(records)
        )

    return revalidate


def author_with(entry_type: str = "test.Note") -> MemoryAgent:
    a = MemoryAgent(AgentKey(b"\x32" * 32))
    a.genesis()
    a.create("test.Note", {"n": 1})
    a.create(entry_type, {"n": 2})
    return a


def op_of(record: Record, op_type: OpType) -> Op:
    return next(op for op in produce_ops(record) if op.type is op_type)


def evidence_of(op: Op, rule: str = "check_entry_type", **changes: Any) -> InvalidOpEvidence:
    ev = InvalidOpEvidence.of(op, Invalid(rule, "the issuer says so"))
    return ev.model_copy(update=changes) if changes else ev


def round_trip(w: Warrant) -> Warrant:
    again = Warrant.from_bytes(w.to_bytes())
    assert again == w and again.to_obj() == w.to_obj()
    return again


def test_a_true_invalid_op_warrant_convicts_the_warrantee():
    a = author_with("evil.Thing")
    op = op_of(a.records[-1], OpType.STORE_ENTRY)
    found = revalidator(a.records)(op)
    assert isinstance(found, Invalid) and found.rule == "check_entry_type"
    warrant = round_trip(issue_warrant(AUTHORITY, InvalidOpEvidence.of(op, found), T))
    assert warrant.warrantee == a.agent_id and warrant.basis == a.agent_id.to_bytes()
    verify_warrant_signature(warrant)
    verdict = judge_warrant(warrant, revalidator(a.records))
    assert verdict == WarranteeGuilty(a.agent_id, "check_entry_type", found.reason)


def test_a_warrant_against_a_valid_op_convicts_the_issuer():
    a = author_with()
    for op in produce_ops(a.records[-1]):
        assert revalidator(a.records)(op) == VALID
        warrant = round_trip(issue_warrant(AUTHORITY, evidence_of(op), T))
        assert judge_warrant(warrant, revalidator(a.records)) == IssuerFalse(
            AUTHORITY.agent_id, "the op is valid"
        )


def test_evidence_the_warrantee_did_not_sign_convicts_the_issuer():
    a = author_with()
    op = op_of(a.records[-1], OpType.STORE_ENTRY)
    other_entry = encode({"n": "swapped"})
    sig = bytearray(op.signed.signature)
    sig[0] ^= 1
    for ev in [
        evidence_of(op, entry=other_entry),  # swapped entry: would fail check_entry_address
        evidence_of(op, entry=None),  # dropped entry: would fail check_entry_present
        evidence_of(op, op_type="RegisterAddLink"),  # an op this action never gives
        evidence_of(op, op_type="Bogus"),
        evidence_of(op, signature=bytes(sig)),  # not the author's signature
    ]:
        verdict = judge_warrant(issue_warrant(AUTHORITY, ev, T), revalidator(a.records))
        assert isinstance(verdict, IssuerFalse), (ev, verdict)


def test_an_entry_the_author_really_hashed_convicts_even_if_non_canonical():
    a = author_with()
    bad = cbor2.dumps({"b": 1, "a": 2})  # keys out of canonical order
    r = a.records[-1]
    action = r.signed.action.model_copy(update={"entry_hash": Cid.of(bad)})
    signed = SignedAction.sign(action, a.key)
    op = Op(OpType.STORE_ENTRY, signed, Entry(bad, Cid.of(bad)))
    warrant = issue_warrant(AUTHORITY, evidence_of(op, "check_entry_canonical"), T)
    verdict = judge_warrant(round_trip(warrant), revalidator(a.records))
    assert isinstance(verdict, WarranteeGuilty) and verdict.rule == "check_entry_canonical"


def _fork(a: MemoryAgent) -> tuple[SignedAction, SignedAction]:
    base = a.records[3].signed
    head = ChainHead(base.action.seq, base.address, base.action.timestamp)
    s = Scratch(head, a.key, step_clock(base.action.timestamp + 7))
    s.create("test.Note", {"n": "the other branch"})
    return a.records[4].signed, s.records[0].signed


def test_a_real_fork_convicts():
    a = author_with()
    left, right = _fork(a)
    warrant = round_trip(issue_warrant(AUTHORITY, ForkEvidence.of(left, right), T))
    assert warrant.warrantee == a.agent_id
    verdict = judge_warrant(warrant, revalidator([]))
    assert isinstance(verdict, WarranteeGuilty) and verdict.rule == "find_fork"
    assert ForkEvidence.of(left, right) == ForkEvidence.of(right, left)


def test_a_fake_fork_convicts_the_issuer():
    a = author_with()
    b = MemoryAgent(AgentKey(b"\x33" * 32))
    b.genesis()
    b.create("test.Note", {"n": 1})
    left, right = _fork(a)
    forged_right = SignedAction(right.action, right.data, right.address, AUTHORITY.sign(right.data))
    for x, y in [
        (a.records[3].signed, a.records[4].signed),  # consecutive actions
        (left, left),  # one action twice
        (a.records[3].signed, b.records[3].signed),  # two authors
        (left, forged_right),  # the "other branch" is not signed by the author
    ]:
        ev = ForkEvidence(
            action_a=x.data, signature_a=x.signature, action_b=y.data, signature_b=y.signature
        )
        verdict = judge_warrant(issue_warrant(AUTHORITY, ev, T), revalidator([]))
        assert isinstance(verdict, IssuerFalse) and verdict.issuer == AUTHORITY.agent_id


def test_a_forged_warrant_signature_is_detected():
    a = author_with("evil.Thing")
    op = op_of(a.records[-1], OpType.STORE_ENTRY)
    warrant = issue_warrant(AUTHORITY, evidence_of(op), T)
    mallory = AgentKey(b"\x34" * 32)
    tampered = [
        warrant.model_copy(update={"time_us": T + 1}),
        warrant.model_copy(update={"issuer": mallory.agent_id}),  # framing someone else
        warrant.model_copy(update={"signature": mallory.sign(warrant.signed_bytes())}),
    ]
    for w in tampered:
        with pytest.raises(SignatureError):
            verify_warrant_signature(Warrant.from_bytes(w.to_bytes()))
        assert isinstance(judge_warrant(w, revalidator(a.records)), BadWarrant)


def test_unresolved_and_clock_dependent_rules_are_undecided():
    a = author_with("evil.Thing")
    op = op_of(a.records[-1], OpType.STORE_ENTRY)
    warrant = issue_warrant(AUTHORITY, evidence_of(op), T)
    missing = Cid.of(b"somewhere")
    verdict = judge_warrant(warrant, lambda _: Unresolved((missing,)))
    assert isinstance(verdict, Undecided) and verdict.missing == (missing,)
    future = judge_warrant(warrant, lambda _: Invalid("check_not_in_future", "1 h ahead"))
    assert isinstance(future, Undecided)
    with pytest.raises(LocalError, match="clock"):
        issue_warrant(AUTHORITY, evidence_of(op, "check_not_in_future"), T)
    with pytest.raises(LocalError, match="itself"):
        issue_warrant(a.key, evidence_of(op), T)


def test_bad_shapes_are_decode_errors():
    a = author_with("evil.Thing")
    op = op_of(a.records[-1], OpType.STORE_ENTRY)
    obj = issue_warrant(AUTHORITY, evidence_of(op), T).to_obj()
    ev = obj["evidence"]
    for bad in [
        {**obj, "extra": 1},
        {**obj, "type": "ValidationReceipt"},
        {**obj, "issuer": b"\x00" * 38},
        {**obj, "evidence": {**ev, "kind": "gossip"}},
        {**obj, "evidence": {**ev, "action": b"\xa0"}},  # no author: no warrantee
        {**obj, "evidence": {**ev, "rule": 7}},
        {**obj, "evidence": {**ev, "surprise": b""}},
        {**obj, "signature": b""},
    ]:
        with pytest.raises(DecodeError):
            Warrant.from_bytes(encode(bad))


@given(st.binary(max_size=500))
def test_garbage_bytes_are_decode_errors(data):
    with pytest.raises(DecodeError):
        Warrant.from_bytes(data)


_WIRE = issue_warrant(AUTHORITY, ForkEvidence.of(*_fork(author_with())), T).to_bytes()


@given(st.data())
def test_mutated_warrants_never_pass_as_signed(data):
    raw = bytearray(_WIRE)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        warrant = Warrant.from_bytes(bytes(raw))
    except DecodeError:
        return
    with pytest.raises(SignatureError):
        verify_warrant_signature(warrant)
