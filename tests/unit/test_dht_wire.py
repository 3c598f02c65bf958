"""Wire codecs: round trips, bounds, and "random bytes only ever raise WireError"."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dht.gossip import Bucket, Fingerprint
from dht.wire import (
    MAX_OPS,
    MESSAGE_TYPES,
    FetchRequest,
    FetchResponse,
    GetRequest,
    GetResponse,
    GossipRequest,
    GossipResponse,
    OpResult,
    PublishRequest,
    PublishResponse,
    RawOp,
    RawRecord,
    WarrantMessage,
    WireError,
    decode_message,
    encode_message,
)
from node.core.cid import Cid
from node.core.encoding import encode
from node.core.errors import DecodeError
from node.core.identity import AgentId, AgentKey

cids = st.binary(max_size=16).map(Cid.of)
agents = st.binary(min_size=32, max_size=32).map(AgentId.from_public_key)
small = st.binary(max_size=64)
raw_ops = st.builds(
    RawOp,
    st.sampled_from(["StoreRecord", "StoreEntry", "RegisterAgentActivity"]),
    small,
    st.binary(min_size=64, max_size=64),
    st.none() | small,
)
raw_records = st.builds(RawRecord, small, st.binary(min_size=64, max_size=64), st.none() | small)
buckets = st.builds(Bucket, st.integers(0, 2**62), st.integers(1, 2**40))
fps = st.builds(Fingerprint, st.integers(0, 10**6), st.integers(0, 2**256 - 1))
messages = st.one_of(
    st.builds(PublishRequest, st.lists(raw_ops, max_size=20).map(tuple)),
    st.builds(
        PublishResponse,
        st.lists(
            st.builds(
                OpResult,
                cids,
                st.sampled_from(["integrated", "pending", "rejected", "not_authority"]),
                st.none() | st.text(max_size=20),
            ),
            max_size=20,
        ).map(tuple),
        st.lists(st.binary(max_size=200), max_size=5).map(tuple),
    ),
    st.builds(FetchRequest, st.lists(cids, max_size=30).map(tuple)),
    st.builds(FetchResponse, st.lists(raw_ops, max_size=20).map(tuple)),
    st.builds(GetRequest, cids, st.sampled_from(["record", "entry"])),
    st.builds(GetRequest, agents, st.just("agent_activity"), st.integers(0, 2**63 - 1)),
    st.builds(GetResponse, st.booleans(), st.lists(raw_records, max_size=10).map(tuple)),
    st.builds(
        GossipRequest,
        st.integers(0, 2**62),
        st.integers(1, 64),
        st.lists(st.tuples(buckets, fps), max_size=10).map(tuple),
        st.lists(cids, max_size=10).map(tuple),
    ),
    st.builds(
        GossipResponse, st.lists(buckets, max_size=10).map(tuple), st.lists(cids).map(tuple)
    ),
    st.builds(WarrantMessage, st.lists(st.binary(max_size=100), max_size=5).map(tuple)),
)


@given(messages)
def test_round_trip(message: object) -> None:
    data = encode_message(message)  # type: ignore[arg-type]
    assert decode_message(type(message), data) == message  # type: ignore[arg-type]
    assert decode_message(message.KIND, data) == message  # type: ignore[attr-defined]


@given(messages)
def test_a_message_is_only_its_own_kind(message: object) -> None:
    data = encode_message(message)  # type: ignore[arg-type]
    for cls in MESSAGE_TYPES.values():
        if cls is not type(message):
            with pytest.raises(WireError):
                decode_message(cls, data)


@given(st.binary(max_size=300), st.sampled_from(sorted(MESSAGE_TYPES)))
def test_random_bytes_only_raise_wire_error(data: bytes, kind: str) -> None:
    with contextlib.suppress(WireError):
        decode_message(kind, data)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.text(max_size=10) | small
    | cids,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(st.sampled_from(sorted(MESSAGE_TYPES)), st.dictionaries(
    st.sampled_from(["t", "ops", "results", "receipts", "addresses", "target", "kind", "found",
                     "records", "now_us", "redundancy", "peers", "fingerprints", "differing",
                     "warrants"]),
    values,
))
def test_wrong_shapes_only_raise_wire_error(kind: str, obj: dict) -> None:
    """Well-formed DAG-CBOR of the wrong shape: WireError, never anything else."""
    obj = dict(obj, t=kind) if obj.get("t") is None else obj
    with contextlib.suppress(WireError):
        decode_message(kind, encode(obj))


@given(messages, st.data())
def test_mutated_messages_only_raise_wire_error(message: object, data: st.DataObject) -> None:
    raw = bytearray(encode_message(message))  # type: ignore[arg-type]
    if raw:
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    with contextlib.suppress(WireError):
        decode_message(type(message), bytes(raw))  # type: ignore[arg-type]


def test_wire_error_is_a_decode_error() -> None:
    assert issubclass(WireError, DecodeError)


def test_bounds() -> None:
    op = RawOp("StoreRecord", b"a", bytes(64), None)
    too_many = {"t": "publish_req", "ops": [op.to_obj()] * (MAX_OPS + 1)}
    with pytest.raises(WireError, match="more than"):
        decode_message(PublishRequest, encode(too_many))
    big_sig = {"t": "publish_req", "ops": [["StoreRecord", b"a", bytes(129), None]]}
    with pytest.raises(WireError, match="signature"):
        decode_message(PublishRequest, encode(big_sig))
    extra = {"t": "fetch_req", "addresses": [], "more": 1}
    with pytest.raises(WireError, match="exactly"):
        decode_message(FetchRequest, encode(extra))
    with pytest.raises(WireError):
        decode_message(GetRequest, encode({"t": "get_req", "target": b"x", "kind": "record"}))
    with pytest.raises(WireError):
        decode_message(FetchRequest, b"\xa0" * (9 * 1024 * 1024))
    bad_status = {"t": "publish_resp", "results": [[Cid.of(b""), "great", None]], "receipts": []}
    with pytest.raises(WireError, match="status"):
        decode_message(PublishResponse, encode(bad_status))


def test_a_batch_of_500_real_ops_is_well_under_the_frame_limit() -> None:
    key = AgentKey.generate()
    ops = tuple(
        RawOp("StoreRecord", os.urandom(250), key.sign(b"x"), os.urandom(80)) for _ in range(500)
    )
    data = encode_message(PublishRequest(ops))
    assert 190_000 < len(data) < 220_000
    assert decode_message(PublishRequest, data).ops == ops
    with pytest.raises(ValueError):
        GetRequest(Cid.of(b""), "agent_activity")


def test_only_an_agent_activity_get_starts_at_a_seq() -> None:
    agent = AgentKey.generate().agent_id
    asked = decode_message(GetRequest, encode_message(GetRequest(agent, "agent_activity", 40)))
    assert asked.since == 40
    with pytest.raises(ValueError):
        GetRequest(Cid.of(b""), "record", 3)
    forged = {"t": "get_req", "target": Cid.of(b""), "kind": "record", "since": 3}
    with pytest.raises(WireError, match="seq"):
        decode_message(GetRequest, encode(forged))
    negative = {"t": "get_req", "target": agent.to_bytes(), "kind": "agent_activity",
                "since": -1}
    with pytest.raises(WireError, match="since"):
        decode_message(GetRequest, encode(negative))
