"""Validation never raises: whatever bytes a peer sends, decode_op + Validator.validate
return an outcome (Valid, Invalid or Unresolved), never an exception.

Inputs: random bytes, and random mutations (byte flips, truncations, insertions) of
the action, signature and entry bytes of a valid ValueFlows chain's ops, judged
against dependencies that hold the rest of that chain (no disk: staged records).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from node.api import make_validator
from node.core.identity import AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.outcome import Invalid, Unresolved, Valid
from node.store.deps import StoreDeps
from node.testing import MemoryAgent
from tests.vf_author import VfAuthor, network
from validation.sys import decode_op
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest

NOW = 1_800_000_000_000_000
P_KEY, A_KEY = AgentKey(b"\x70" * 32), AgentKey(b"\x71" * 32)
DNA = network("properties", P_KEY)
VALIDATOR = make_validator(DNA)


def _chain() -> MemoryAgent:
    author = VfAuthor.invited(DNA, P_KEY, A_KEY, NOW, b"n")  # events dated NOW - 1
    agent, commit = author.agent, author.commit
    spec = str(commit(lambda s, v: coordinator.create_spec(s, "oats", "kg", False, None)))
    mill = str(commit(lambda s, v: coordinator.create_process(s, "mill", None, None, 1)))

    def event(req: EventRequest) -> coordinator.Recorded:
        return author.event(req, NOW - 1)

    made = event(EventRequest("produce", resource="new:oats", quantity="5 kg",
                              conforms_to=spec, output_of=mill))
    oats = str(made.created_resources["oats"])
    event(EventRequest("consume", resource=oats, quantity="2 kg", input_of=mill))
    event(EventRequest("work", effort="2 h", input_of=mill))
    commit(lambda s, v: coordinator.finish_process(
        s, v, mill, agent.records[4].entry.address, NOW - 1))  # type: ignore[union-attr]
    return agent


AGENT = _chain()
OPS = [op for record in AGENT.records for op in produce_ops(record)]
OP_TYPES = [t.value for t in OpType] + ["Warrant", ""]


def judge(op_type: str, action: bytes, signature: bytes, entry: bytes | None) -> object:
    decoded = decode_op(op_type, action, signature, entry)
    if isinstance(decoded, Invalid):
        return decoded
    deps = StoreDeps(staged=AGENT.records)
    return VALIDATOR.validate(decoded, deps, NOW)


def mutate(data: bytes, how: tuple[str, int, int]) -> bytes:
    kind, at, value = how
    if not data:
        return bytes([value])
    at %= len(data)
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (value or 1)]) + data[at + 1 :]
    if kind == "cut":
        return data[:at]
    return data[:at] + bytes([value]) + data[at:]


MUTATION = st.tuples(st.sampled_from(["flip", "cut", "insert"]), st.integers(0, 1 << 16),
                     st.integers(0, 255))


def test_the_chain_is_valid_unmutated() -> None:
    for op in OPS:
        entry = op.entry.data if op.entry else None
        assert judge(op.type.value, op.signed.data, op.signed.signature, entry) == Valid()


@settings(max_examples=150)
@given(st.sampled_from(OP_TYPES), st.binary(max_size=200), st.binary(max_size=70),
       st.none() | st.binary(max_size=200))
def test_random_bytes_give_an_outcome(op_type: str, action: bytes, signature: bytes,
                                      entry: bytes | None) -> None:
    assert isinstance(judge(op_type, action, signature, entry), Valid | Invalid | Unresolved)


@settings(max_examples=300)
@given(st.sampled_from(OPS), st.sampled_from(["action", "signature", "entry"]), MUTATION,
       st.sampled_from(OP_TYPES))
def test_mutated_ops_give_an_outcome(op: Op, part: str, how: tuple[str, int, int],
                                     op_type: str) -> None:
    action, signature = op.signed.data, op.signed.signature
    entry = op.entry.data if op.entry else None
    if part == "action":
        action = mutate(action, how)
    elif part == "signature":
        signature = mutate(signature, how)
    else:
        entry = mutate(entry or b"", how)
    outcome = judge(op_type if how[2] < 16 else op.type.value, action, signature, entry)
    assert isinstance(outcome, Valid | Invalid | Unresolved)


@settings(max_examples=100)
@given(st.sampled_from([op for op in OPS if op.entry is not None]), st.data())
def test_reencoded_entries_with_odd_values_give_an_outcome(op: Op, data: st.DataObject) -> None:
    """Entries re-signed by their author with fields swapped for odd values: the
    valueflows zome must answer Invalid (or Valid), not crash on them."""
    content = op.entry.value  # type: ignore[union-attr]
    if not isinstance(content, dict) or not content:
        return
    key = data.draw(st.sampled_from(sorted(content)))
    odd = data.draw(st.sampled_from([
        None, -1, 2**63, "", "b" + "a" * 9, "baaaaaaaaaaaaa", "12D3KooW" + "1" * 44, [], {},
        {"hasNumericalValue": "1e9", "hasUnit": "kilogram"}, True, b"\x00",
    ]))
    content = {**content, key: odd}
    forged = AGENT.commit(lambda s: s.create(op.action.entry_type, content))  # type: ignore[attr-defined]
    record = AGENT.records.pop()
    assert record.address == forged
    for new_op in produce_ops(record):
        entry = new_op.entry.data if new_op.entry else None
        outcome = judge(new_op.type.value, new_op.signed.data, new_op.signed.signature, entry)
        assert isinstance(outcome, Valid | Invalid | Unresolved)
