"""The validator's fast paths give what the slow, obviously correct forms give.

Each shortcut taken for validation throughput (bench/validate.py) is compared with the
plain form it replaces: op addresses and receipts spelled out from fixed heads, actions
decoded without re-encoding the value, decoding memoized for bytes found canonical, op
types memoized per action type, and sys rules skipped for the very object that passed
them before.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from node.api import make_validator, new_dna
from node.core.actions import ACTION_TYPES, Create, action_from_obj
from node.core.cid import Cid
from node.core.encoding import decode, encode, encode_trusted
from node.core.errors import DecodeError, NonCanonicalError
from node.core.identity import AgentKey
from node.core.ops import OpType, op_address, op_types, produce_ops
from node.core.outcome import Invalid, Valid
from node.core.records import Record, SignedAction
from node.membership import zome_refs
from node.store.deps import BoundedMemo, StoreDeps
from node.testing import MemoryAgent
from validation.receipts import receipt_bytes, sign_receipt
from validation.sys import op_types_of
from zomes.registry import installed_zomes

KEY = AgentKey(b"\x21" * 32)
NOW = 1_800_000_000_000_000


def _agent() -> MemoryAgent:
    agent = MemoryAgent(KEY)
    agent.genesis()
    agent.create("test.Note", {"n": 1})
    agent.create("test.Note", {"n": 2, "text": "two"})
    return agent


AGENT = _agent()
SIGNED = [r.signed for r in AGENT.records]


@given(st.sampled_from(list(OpType)), st.binary(max_size=64))
def test_op_address_is_the_hash_of_the_encoded_op(op_type, seed):
    action = Cid.of(seed)
    slow = Cid.of(encode_trusted({"op": op_type.value, "action": action}))
    assert op_address(op_type, action) == slow


@given(st.sampled_from(["valid", "rejected"]), st.integers(0, 2**63 - 1), st.binary(max_size=8))
def test_receipt_bytes_are_the_models_bytes(outcome, time_us, seed):
    op = Cid.of(seed)
    fast = receipt_bytes(KEY, op, outcome, time_us)
    assert fast == sign_receipt(KEY, op, outcome, time_us).to_bytes()
    assert fast == encode(decode(fast))  # canonical


def test_op_types_per_action_type_are_the_split_of_a_record():
    for name, cls in ACTION_TYPES.items():
        probe = SignedAction(cls.model_construct(), b"", Cid.of(b""), b"")
        assert op_types(name) == {op.type for op in produce_ops(Record(probe))}
        assert op_types(name) == op_types_of(cls.model_construct())


def _strict(data: bytes) -> object:
    try:
        return action_from_obj(decode(data))
    except DecodeError as e:
        return type(e)


def _fast(data: bytes) -> object:
    try:
        return SignedAction.from_bytes(data, b"s" * 64).action
    except DecodeError as e:
        return type(e)


@given(st.sampled_from(SIGNED), st.integers(0, 10**6), st.integers(1, 255), st.booleans(),
       st.binary(max_size=3))
def test_from_bytes_decodes_as_strictly_as_decode(signed, at, xor, cut, tail):
    assert _fast(signed.data) == signed.action
    raw = bytearray(signed.data)
    raw[at % len(raw)] ^= xor
    if cut:
        raw = raw[: at % len(raw)] + tail
    assert _fast(bytes(raw)) == _strict(bytes(raw))


def test_from_bytes_takes_the_strict_path_for_a_model_that_encodes_differently():
    create = SIGNED[-1].action
    assert isinstance(create, Create)
    # a map whose value is canonical but names a default explicitly (null prev_action
    # would be dropped on encoding): decode accepts the bytes, the model re-encodes shorter
    obj = {**create.to_obj(), "prev_action": None}
    data = encode(obj)
    signed = SignedAction.from_bytes(data, b"s" * 64)
    assert signed.action == action_from_obj(decode(data))
    with_tag = encode({**create.to_obj(), "tag": b""})
    assert _fast(with_tag) == _strict(with_tag)


def test_decoding_twice_gives_equal_fresh_values_and_never_admits_bad_bytes():
    data = encode({"a": [1, 2, {"b": b"x"}], "link": Cid.of(b"l")})
    first, second = decode(data), decode(data)
    assert first == second and first is not second
    assert first["a"] is not second["a"]  # type: ignore[index]
    unsorted = bytes.fromhex("a2616202616101")  # {"b": 2, "a": 1}
    for _ in range(2):
        try:
            decode(unsorted)
        except NonCanonicalError:
            continue
        raise AssertionError("non-canonical bytes were decoded")


def test_the_validator_skips_rules_only_for_the_object_that_passed_them():
    dna = new_dna("fast", KEY.agent_id, zome_refs(installed_zomes()), {})
    validator = make_validator(dna)
    deps = StoreDeps(staged=AGENT.records, memo=BoundedMemo())
    record = AGENT.records[2]  # the agent entry: valid on any network
    store_record, *others = produce_ops(record)
    assert isinstance(validator.sys(store_record, deps, NOW), Valid)
    for op in others:  # the same SignedAction object: memoized, still valid
        assert isinstance(validator.sys(op, deps, NOW), Valid)
    # another object with the same address and signature but a different model
    action = record.signed.action
    tampered = replace(record.signed, action=action.model_copy(update={"seq": action.seq + 1}))
    outcome = validator.sys(replace(store_record, signed=tampered), deps, NOW)
    assert isinstance(outcome, Invalid) and outcome.rule == "check_action_canonical"


def test_bounded_cache_is_an_lru():
    cache = BoundedMemo(limit=3)
    for k in "abc":
        cache[k] = k
    assert cache.get("a") == "a"  # a is now the most recent
    cache["d"] = "d"
    assert list(cache) == ["c", "a", "d"]
    cache["c"] = "C"
    cache["e"] = "e"
    assert list(cache) == ["d", "c", "e"] and cache.get("c") == "C"
    assert cache.get("zz") is None and cache.get("zz", 1) == 1
