"""The second round of validation fast paths give what the slow forms give (the first
round's are in test_fast_paths.py).

Each is compared with the plain form it replaces, over a ValueFlows chain that holds an
invalid (overdrawing) event among valid ones:

- the valueflows zome's parsed entries memoized by type and bytes (parse_entry), for
  the StoreRecord, StoreEntry and agent-activity ops of an action and its fold;
- the sys rules that do not read the op's type skipped for the other ops of an action
  object that passed them with the same entry at the same time (Validator.sys);
- an action model decoded by SignedAction.from_bytes taken as the encoding of its bytes
  without encoding it again (records.encodes_to), and not decoded twice;
- the chain fold moved one action on after a Valid event (zome._fold_forward) and the
  AgentValidationPkg memoized for the judged action (app.check_author_membership):
  every op's outcome equals a validation with a fresh cache, whose folds start over;
- the states after an event applied once, for check_balance and the fold forward
  (RuleContext.after, ChainView.step's `after`): the same verdicts and views as above;
- unit conversions memoized (units.convert): the plain computation's result or error.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from node.api import make_validator
from node.core.cid import Cid
from node.core.encoding import encode_presorted
from node.core.identity import AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.outcome import Invalid, Valid
from node.core.records import Entry, Record, SignedAction, encodes_to
from node.store.deps import BoundedMemo, StoreDeps
from node.testing import MemoryAgent
from tests.vf_author import VfAuthor, network
from validation.app import _AVPS
from validation.sys import sys_validate
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.units import UNITS, UnitError, _convert, convert
from zomes.valueflows.zome import (
    _VIEWS,
    COUNTERSIGNED_TYPE,
    ChainView,
    parse_entry,
    parse_signed,
)

NOW = 1_800_000_000_000_000
BEFORE = 1_600_000_000_000_000  # the chain's timestamps are in this clock's future
P_KEY, A_KEY = AgentKey(b"\x72" * 32), AgentKey(b"\x73" * 32)
DNA = network("memos", P_KEY)
VALIDATOR = make_validator(DNA)


def _chain() -> MemoryAgent:
    """Genesis, a spec, a process, a produce, then consumes, work and an overdraw."""
    author = VfAuthor.invited(DNA, P_KEY, A_KEY, NOW, b"m")  # events dated NOW - 1
    agent, commit = author.agent, author.commit
    spec = str(commit(lambda s, v: coordinator.create_spec(s, "rye", "kg", False, None)))
    mill = str(commit(lambda s, v: coordinator.create_process(s, "mill", None, None, 1)))

    def event(req: EventRequest) -> coordinator.Recorded:
        return author.event(req, NOW - 1)

    made = event(EventRequest("produce", resource="new:rye", quantity="10 kg",
                              conforms_to=spec, output_of=mill))
    rye = str(made.created_resources["rye"])
    event(EventRequest("consume", resource=rye, quantity="2 kg", input_of=mill))
    consume = agent.records[-1]
    event(EventRequest("work", effort="1 h", input_of=mill))
    # an overdraw, written past the coordinator's own check: its ops are Invalid
    content: dict[str, Any] = consume.entry.value  # type: ignore[union-attr]
    content["resourceQuantity"] = {**content["resourceQuantity"], "hasNumericalValue": "500"}
    agent.commit(lambda s: s.create(consume.action.entry_type, content))  # type: ignore[attr-defined]
    event(EventRequest("consume", resource=rye, quantity="3 kg", input_of=mill))
    event(EventRequest("produce", resource=rye, quantity="1 kg", output_of=mill))
    return agent


AGENT = _chain()
RECORDS = AGENT.records
OPS = [op for record in RECORDS for op in produce_ops(record)]
WITH_ENTRY = [r for r in RECORDS if r.entry is not None]
ENTRY_TYPES = sorted({getattr(r.action, "entry_type", "") for r in WITH_ENTRY}
                     | {COUNTERSIGNED_TYPE, "valueflows.Nothing", "notes.Note"})


def _staged() -> StoreDeps:
    return StoreDeps(staged=RECORDS, memo=BoundedMemo())


def _result(call: Any) -> object:
    try:
        return call()
    except Exception as e:  # the same error, or the same value
        return (type(e), str(e))


def test_the_chain_holds_valid_and_invalid_events() -> None:
    outcomes = [VALIDATOR.validate(op, _staged(), NOW) for op in OPS]
    assert any(isinstance(o, Invalid) and o.rule == "check_balance" for o in outcomes)
    assert sum(isinstance(o, Valid) for o in outcomes) > len(OPS) // 2


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(WITH_ENTRY), st.sampled_from(ENTRY_TYPES), st.integers(0, 1 << 12),
       st.integers(0, 255))
def test_a_memoized_parse_is_the_parse(record: Record, entry_type: str, at: int,
                                       xor: int) -> None:
    data = bytearray(record.entry.data)  # type: ignore[union-attr]
    data[at % len(data)] ^= xor  # xor 0: the entry as written
    entry = Entry(bytes(data), Cid.of(bytes(data)))
    memo = BoundedMemo()
    for _ in range(2):  # the second time from the memo
        for name in (entry_type, *ENTRY_TYPES):  # one memo for every type
            fast = _result(lambda name=name: parse_entry(memo, name, entry))
            assert fast == _result(lambda name=name: parse_signed(name, entry.value))


Variant = tuple[OpType, str, int, str]  # op type, which entry, the time, which object
VARIANTS: list[Variant] = [
    (t, which, now, obj) for t in OpType for which in ("own", "none", "other")
    for now in (NOW, BEFORE) for obj in ("same", "copy", "tampered")
]


def _sys_both_ways(record: Record, variants: list[Variant]) -> None:
    """Ops of one action object through one Validator (the memo), each compared with
    sys_validate under fresh dependencies (no memo)."""
    other = next(r.entry for r in WITH_ENTRY if r.entry != record.entry)
    deps = _staged()
    for op_type, which, now, obj in variants:
        entry = {"own": record.entry, "none": None, "other": other}[which]
        signed = record.signed
        if obj == "copy":  # an equal action, but another object: nothing may be skipped
            signed = SignedAction.from_bytes(signed.data, signed.signature)
        elif obj == "tampered":  # the same address and signature over another model
            action = signed.action.model_copy(update={"seq": signed.action.seq + 1})
            signed = replace(signed, action=action)
        op = Op(op_type, signed, entry)
        slow = sys_validate(op, network_id=VALIDATOR.network_id, now_us=now, deps=_staged(),
                            known_entry_types=VALIDATOR.known_entry_types)
        assert VALIDATOR.sys(op, deps, now) == slow, (op_type, which, now, obj)


def test_sys_rules_skipped_after_an_op_of_the_action_give_the_full_outcome() -> None:
    """Every first op that can leave a memo, then every kind of second op."""
    for record in RECORDS:
        for first in produce_ops(record):
            for which in ("own", "none"):
                for now in (NOW, BEFORE):
                    for second in VARIANTS:
                        _sys_both_ways(record, [(first.type, which, now, "same"), second])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(RECORDS), st.lists(st.sampled_from(VARIANTS), min_size=1, max_size=6))
def test_sys_rules_skipped_in_any_sequence_give_the_full_outcome(
    record: Record, variants: list[Variant]
) -> None:
    _sys_both_ways(record, variants)


def test_a_decoded_model_is_taken_as_the_encoding_of_its_bytes_only() -> None:
    for record in RECORDS:
        data = record.signed.data
        decoded = SignedAction.from_bytes(data, record.signed.signature)
        again = SignedAction.from_bytes(data, record.signed.signature)
        assert decoded.action == record.action == again.action
        tampered = decoded.action.model_copy(update={"seq": decoded.action.seq + 1})
        other = RECORDS[(record.action.seq + 1) % len(RECORDS)].signed.data
        for action, bytes_ in ((decoded.action, data), (tampered, data), (decoded.action, other),
                               (record.action, data)):
            slow = encode_presorted(action.to_encodable()) == bytes_
            assert encodes_to(action, bytes_) == slow


def test_folding_forward_gives_the_outcomes_and_view_of_fresh_folds() -> None:
    """In chain order (the memo's best case) and in reverse (its worst: nothing held
    yet), every op's outcome is that of a validation whose folds start from genesis."""
    for ops in (OPS, OPS[::-1], OPS[1::2] + OPS[::2]):
        deps = _staged()
        for op in ops:
            assert VALIDATOR.validate(op, deps, NOW) == VALIDATOR.validate(op, _staged(), NOW)
    deps = _staged()
    for op in OPS:
        VALIDATOR.validate(op, deps, NOW)
    last = RECORDS[-1]  # a Valid event: the view up to it was folded forward
    memo = deps.memo.recall(_VIEWS, last.address)
    fresh = ChainView(keep_events=False)  # (validation folds compact views)
    for record in RECORDS:
        fresh.step(record)
    assert memo is not None and vars(memo) == vars(fresh)
    # the AgentValidationPkg memoized for each judged action is its chain's (seq 1)
    avp = RECORDS[1].signed
    for record in RECORDS[2:]:
        assert deps.memo.recall(_AVPS, record.address) in (None, avp)
    assert deps.memo.recall(_AVPS, RECORDS[-1].address) is avp


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(
    st.decimals(allow_nan=False, allow_infinity=False, places=7, min_value=-(10**6),
                max_value=10**6),
    st.sampled_from(sorted(UNITS)), st.sampled_from(sorted(UNITS)),
    st.integers(0, 3)), min_size=1, max_size=8))
def test_a_memoized_conversion_is_the_conversion(
    cases: list[tuple[Decimal, str, str, int]]
) -> None:
    """Each twice (the second from the memo), and with trailing zeros: equal Decimals
    share a memo entry, so their results must agree in value and in sign."""
    for value, source, target, zeros in cases:
        for number in (value, value, value.quantize(Decimal(1).scaleb(-7 - zeros))):
            fast = _result(lambda n=number, a=source, b=target: convert(n, a, b))
            slow = (number if source == target
                    else _result(lambda n=number, a=source, b=target: _convert(n, a, b)))
            assert fast == slow and str(fast) == str(slow)
            if isinstance(fast, tuple):
                assert fast[0] is UnitError


def test_the_states_after_an_event_are_shared_only_where_they_are_the_fold() -> None:
    """check_balance with RuleContext.after gives what it gives applying the event."""
    from zomes.valueflows.entries import EconomicEvent
    from zomes.valueflows.rules import check_balance, states_after

    view = ChainView()
    for record in RECORDS:
        entry = record.entry
        name = getattr(record.action, "entry_type", "")
        if entry is not None and name.startswith("valueflows."):
            event = parse_signed(name, entry.value)[0]
            if isinstance(event, EconomicEvent):
                author = str(record.action.author)
                plain = check_balance(event, author, view.context())
                try:
                    after = view.states_after(str(record.address), event)
                except ValueError:
                    after = None
                shared = check_balance(event, author, view.context(after=after))
                assert shared == plain
                if after is not None:
                    assert after == states_after(event, author, view.context(),
                                                 str(record.address))
                    assert view.context({"x": event}, after=after).after is None
        view.step(record)
