"""Countersigned envelopes and session messages from peers: well-formed ones round-trip,
anything else is refused with a DecodeError / WireError and never raises otherwise."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dht.session_wire import Accept, Decision, Propose, decode_reply, decode_request, encode_session
from dht.wire import WireError
from node.core.cid import Cid
from node.core.countersign import (
    SESSION_ID_SIZE,
    Envelope,
    Party,
    Session,
    approval_message,
    approve,
    check_envelope,
    party_action,
)
from node.core.encoding import encode
from node.core.errors import DecodeError
from node.core.identity import AgentKey

KEYS = (AgentKey.generate(), AgentKey.generate())
TYPE = "test.CountersignedNote"


def sealed(inner: object = None) -> Envelope:
    inner = {"n": 1} if inner is None else inner
    parties = tuple(Party(k.agent_id, Cid.of(bytes([i])), 3 + i, 1_000 + i)
                    for i, k in enumerate(KEYS))
    session = Session(os.urandom(SESSION_ID_SIZE), 1_000, 61_000_000, parties)
    return Envelope(session, inner, tuple(approve(k, TYPE, session, inner) for k in KEYS))


def test_an_envelope_round_trips_and_checks_for_each_party():
    envelope = sealed()
    entry = envelope.entry()
    assert Envelope.from_value(entry.value) == envelope
    for party in envelope.session.parties:
        assert check_envelope(party_action(entry, TYPE, party), TYPE, envelope) is None


def test_approvals_bind_the_entry_type_the_session_and_the_entry():
    envelope = sealed()
    message = approval_message(TYPE, envelope.session, envelope.inner)
    assert message != approval_message("test.Other", envelope.session, envelope.inner)
    first = envelope.session.parties[0]
    moved = Session(envelope.session.id, 1_000, 61_000_000,
                    (Party(first.agent, first.prev_action, first.seq + 1, first.timestamp),
                     envelope.session.parties[1]))
    assert approval_message(TYPE, moved, envelope.inner) != message
    entry = envelope.entry()
    action = party_action(entry, "test.Other", envelope.session.parties[0])
    assert "does not verify" in check_envelope(action, "test.Other", envelope)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_random_values_are_never_envelopes_and_never_raise_otherwise(value):
    with pytest.raises(DecodeError):
        Envelope.from_value(value)


@settings(max_examples=200, deadline=None)
@given(session=st.fixed_dictionaries({
    "id": st.binary(min_size=0, max_size=20), "start": st.integers(-5, 2**64),
    "end": st.integers(-5, 2**64),
    "parties": st.lists(st.fixed_dictionaries({
        "agent": st.sampled_from([k.agent_id.to_bytes() for k in KEYS]) | st.binary(max_size=40),
        "prev": st.just(Cid.of(b"p")) | st.binary(max_size=4),
        "seq": st.integers(-2, 2**64), "time": st.integers(-2, 2**64)}), max_size=10)}))
def test_near_miss_sessions_decode_or_fail_cleanly(session):
    try:
        envelope = Envelope.from_value(
            {"session": session, "entry": {}, "approvals": [bytes(64)] * 2}
        )
    except DecodeError:
        return
    entry = envelope.entry()
    action = party_action(entry, TYPE, envelope.session.parties[0])
    assert isinstance(check_envelope(action, TYPE, envelope), str)  # zero signatures: refused


def test_session_messages_round_trip_and_garbage_is_refused():
    envelope = sealed()
    party = envelope.session.parties[0]
    propose = Propose(envelope.session.id, TYPE, {"action": "transfer"}, party, 1, 2, "grain", ())
    assert decode_request(encode_session(propose)) == propose
    accept = Accept(envelope.session.id, {"action": "transfer"}, party, bytes(64), ())
    assert decode_request(encode_session(accept)) == accept
    decision = Decision("committed", bytes(64), None)
    assert decode_reply(Decision, encode_session(decision)) == decision
    for garbage in (b"", b"\xff\x00", encode({"t": "cs-propose"}), encode({"t": "hello"}),
                    encode([1, 2]), encode({**propose.to_obj(), "id": b"short"}),
                    encode({**decision.to_obj(), "state": "maybe"})):
        with pytest.raises(WireError):
            if b"decision" not in garbage:
                decode_request(garbage)
            else:
                decode_reply(Decision, garbage)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_are_refused_as_wire_errors(data):
    for decode in (decode_request, lambda d: decode_reply(Decision, d)):
        with contextlib.suppress(WireError):
            decode(data)
