"""Sys validation: an adversarial corpus. Each rule of validation.sys.SYS_RULES has a
test that breaks it (valid chains from MemoryAgent, then forged or mutated):

check_op_type, check_action_size, check_action_canonical, check_signature,
check_entry_size, check_entry_canonical, check_entry_present, check_entry_address,
check_genesis_shape, check_agent_entry, check_entry_type, check_countersignatures,
check_dna_hash,
check_not_in_future, check_prev_address, check_prev_seq, check_prev_author,
check_prev_timestamp, check_not_after_close.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cbor2
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from node.core.actions import AgentValidationPkg, Create
from node.core.chain import ChainHead
from node.core.cid import Cid
from node.core.encoding import encode
from node.core.identity import AgentId, AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome, Unresolved, Valid
from node.core.records import MAX_ACTION_SIZE, MAX_ENTRY_SIZE, Entry, Record, SignedAction
from node.core.scratch import Scratch
from node.testing import MemoryAgent, step_clock
from validation.sys import (
    MAX_CLOCK_DRIFT_US,
    OP_CHECKS,
    PREV_CHECKS,
    SYS_RULES,
    counterfeit,
    decode_op,
    find_fork,
    sys_validate,
)

NETWORK = Cid.of(b"test dna")  # MemoryAgent's default DNA
KNOWN = frozenset({"test.Note", "test.Tag", "test.CountersignedNote"})


class DictDeps:
    """Deps backed by a dict of records; anything absent raises MissingDependency."""

    def __init__(self, records: Sequence[Record] = ()) -> None:
        self.records = {r.address: r for r in records}

    def must_get_record(self, address: Cid) -> Record:
        if address not in self.records:
            raise MissingDependency(address)
        return self.records[address]

    def must_get_entry(self, address: Cid) -> Entry:
        for r in self.records.values():
            if r.entry is not None and r.entry.address == address:
                return r.entry
        raise MissingDependency(address)

    def must_get_agent_activity(self, author: AgentId, chain_top: Cid) -> Sequence[Record]:
        out = [self.must_get_record(chain_top)]
        while out[-1].action.prev_action is not None:
            out.append(self.must_get_record(out[-1].action.prev_action))
        return out[::-1]


def chain_of(n: int, key: AgentKey | None = None) -> MemoryAgent:
    a = MemoryAgent(key or AgentKey.generate())
    a.genesis()
    for i in range(n):
        a.create("test.Note", {"n": i})
    return a


def check(
    op: Op, agent: MemoryAgent | None = None, *, now_us: int | None = None, deps: Any = None
) -> Outcome:
    return sys_validate(
        op,
        network_id=NETWORK,
        known_entry_types=KNOWN,
        now_us=op.action.timestamp if now_us is None else now_us,
        deps=deps if deps is not None else DictDeps(agent.records if agent else ()),
    )


def op_of(record: Record, op_type: OpType) -> Op:
    return next(op for op in produce_ops(record) if op.type is op_type)


def activity(record: Record) -> Op:
    return op_of(record, OpType.REGISTER_AGENT_ACTIVITY)


def resign(agent: MemoryAgent, at: int, key: AgentKey | None = None, **changes: Any) -> Record:
    """The record at seq `at` with its action changed and re-signed (only the change is wrong)."""
    old = agent.records[at]
    action = old.signed.action.model_copy(update=changes)
    return Record(signed_by(action, key or agent.key), old.entry)


def signed_by(action: Any, key: AgentKey, data: bytes | None = None) -> SignedAction:
    """Sign `data` (default: the canonical bytes) with any key, even not the author's."""
    data = encode(action.to_obj()) if data is None else data
    return SignedAction(action, data, Cid.of(data), key.sign(data))


def rule_of(outcome: Outcome) -> str:
    assert isinstance(outcome, Invalid), outcome
    return outcome.rule


def test_rules_table_matches_the_functions_applied():
    names = [c.__name__ for c in OP_CHECKS] + [c.__name__ for c in PREV_CHECKS]
    assert names == list(SYS_RULES)
    assert all(c.__doc__ and "\n" not in c.__doc__.strip() for c in OP_CHECKS)


def test_every_op_of_a_valid_chain_is_valid():
    a = chain_of(2)
    note = a.records[-1]
    a.commit(lambda s: s.update(note.address, note.entry.address, "test.Note", {"n": 9}))
    link = a.commit(lambda s: s.create_link(note.address, a.records[-1].address, "test", "Next"))
    a.commit(lambda s: s.delete_link(link, note.address))
    a.commit(lambda s: s.delete(note.address, note.entry.address))
    a.commit(lambda s: s.close_chain())
    for record in a.records:
        for op in produce_ops(record):
            assert check(op, a) == VALID, (op.type, record.action.TYPE)


# -- signature and bytes ----------------------------------------------------------


def test_forged_signature():
    a = chain_of(2)
    r = a.records[3]
    sig = bytearray(r.signed.signature)
    sig[5] ^= 0x40
    forged = Record(SignedAction(r.signed.action, r.signed.data, r.address, bytes(sig)), r.entry)
    assert rule_of(check(activity(forged), a)) == "check_signature"
    other = signed_by(r.signed.action, AgentKey.generate())
    assert (
        rule_of(check(op_of(Record(other, r.entry), OpType.STORE_RECORD), a)) == "check_signature"
    )


def test_counterfeits_are_told_apart_from_genuine_ops():
    a = chain_of(2)
    r = a.records[3]
    genuine = op_of(r, OpType.STORE_RECORD)
    forged = op_of(Record(signed_by(r.signed.action, AgentKey.generate()), r.entry),
                   OpType.STORE_RECORD)
    swapped = op_of(Record(r.signed, Entry.of({"not": "the entry"})), OpType.STORE_RECORD)
    assert counterfeit(genuine) is None
    assert counterfeit(forged) is not None and counterfeit(swapped) is not None
    # with the action's signature known good, only the entry is checked
    assert counterfeit(forged, signature_known_good=True) is None
    assert counterfeit(swapped, signature_known_good=True) is not None


def _noncanonical(obj: dict[str, Any]) -> bytes:
    """The same value in CBOR that is not canonical: map keys in reverse order."""

    def plain(v: Any) -> Any:
        return cbor2.CBORTag(42, b"\x00" + v.to_bytes()) if isinstance(v, Cid) else v

    return cbor2.dumps({k: plain(obj[k]) for k in sorted(obj, reverse=True)})


def test_non_canonical_action_bytes():
    a = chain_of(2)
    r = a.records[3]
    data = _noncanonical(r.signed.action.to_obj())
    assert data != r.signed.data
    sig = a.key.sign(data)  # the author really signed these bytes
    out = decode_op("StoreRecord", data, sig, r.entry.data)
    assert rule_of(out) == "check_action_canonical"
    # The same bytes smuggled into an Op built in memory are caught too.
    op = Op(OpType.STORE_RECORD, SignedAction(r.signed.action, data, Cid.of(data), sig), r.entry)
    assert rule_of(check(op, a)) == "check_action_canonical"
    # A model changed after signing no longer matches its bytes.
    changed = r.signed.action.model_copy(update={"timestamp": 5})
    op = Op(
        OpType.STORE_RECORD,
        SignedAction(changed, r.signed.data, r.address, r.signed.signature),
        r.entry,
    )
    assert rule_of(check(op, a)) == "check_action_canonical"


def test_undecodable_parts_from_peers():
    a = chain_of(1)
    r = a.records[3]
    assert rule_of(decode_op("Bogus", r.signed.data, r.signed.signature, None)) == "check_op_type"
    assert rule_of(decode_op("StoreRecord", b"\xff", b"", None)) == "check_action_canonical"
    bad_entry = _noncanonical({"b": 1, "a": 2})
    assert rule_of(decode_op("StoreRecord", r.signed.data, r.signed.signature, bad_entry)) == (
        "check_entry_canonical"
    )
    op = decode_op("StoreEntry", r.signed.data, r.signed.signature, r.entry.data)
    assert isinstance(op, Op) and op == op_of(r, OpType.STORE_ENTRY)
    assert check(op, a) == VALID


def test_action_size():
    a = chain_of(0)
    big = AgentValidationPkg(
        author=a.agent_id,
        timestamp=1,
        seq=1,
        prev_action=a.records[0].address,
        membrane_proof=b"p" * MAX_ACTION_SIZE,
    )
    s = SignedAction.sign(big, a.key)
    assert rule_of(check(Op(OpType.STORE_RECORD, s), a)) == "check_action_size"
    assert rule_of(decode_op("StoreRecord", s.data, s.signature, None)) == "check_action_size"


def test_entry_size():
    a = chain_of(0)
    a.create("test.Note", {"blob": b"\0" * MAX_ENTRY_SIZE})
    r = a.records[-1]
    assert rule_of(check(op_of(r, OpType.STORE_ENTRY), a)) == "check_entry_size"
    assert rule_of(decode_op("StoreEntry", r.signed.data, r.signed.signature, r.entry.data)) == (
        "check_entry_size"
    )


# -- op shape and entries -------------------------------------------------------------


def test_op_type_must_fit_the_action():
    a = chain_of(1)
    link = a.commit(
        lambda s: s.create_link(a.records[3].address, a.records[2].address, "test", "L")
    )
    r = a.records[-1]
    assert r.address == link
    assert rule_of(check(Op(OpType.STORE_ENTRY, r.signed), a)) == "check_op_type"
    assert rule_of(check(Op(OpType.REGISTER_DELETED_BY, r.signed), a)) == "check_op_type"


def test_entry_must_be_carried_and_only_where_it_belongs():
    a = chain_of(1)
    r = a.records[3]
    assert rule_of(check(Op(OpType.STORE_ENTRY, r.signed, None), a)) == "check_entry_present"
    assert rule_of(check(Op(OpType.STORE_RECORD, r.signed, None), a)) == "check_entry_present"
    # agent activity carries the entry too (its authorities replay balances) ...
    assert rule_of(check(Op(OpType.REGISTER_AGENT_ACTIVITY, r.signed, None), a)) == (
        "check_entry_present"
    )
    # ... but ops about links never do
    link = a.commit(lambda s: s.create_link(r.address, r.address, "test", "rel"))
    link_record = a.records[-1]
    assert link_record.address == link
    assert rule_of(check(Op(OpType.REGISTER_ADD_LINK, link_record.signed, r.entry), a)) == (
        "check_entry_present"
    )


def test_entry_address_mismatch():
    a = chain_of(1)
    r = a.records[3]
    other = Entry.of({"n": 12345})
    assert rule_of(check(Op(OpType.STORE_ENTRY, r.signed, other), a)) == "check_entry_address"
    lying = Entry(other.data, r.entry.address)  # claims the right address for the wrong bytes
    assert rule_of(check(Op(OpType.STORE_ENTRY, r.signed, lying), a)) == "check_entry_canonical"


def test_unknown_entry_type():
    a = chain_of(0)
    a.create("other.Thing", {"x": 1})
    a.create("test.Unknown", {"x": 1})
    for r in a.records[3:]:
        assert rule_of(check(op_of(r, OpType.STORE_ENTRY), a)) == "check_entry_type"
        assert rule_of(check(activity(r), a)) == "check_entry_type"


# -- genesis ----------------------------------------------------------------------------


def test_genesis_shape():
    k = AgentKey.generate()
    e = Entry.of({"x": 1})
    first = Create(
        author=k.agent_id, timestamp=1, seq=0, entry_type="test.Note", entry_hash=e.address
    )
    s = SignedAction.sign(first, k)
    assert rule_of(check(Op(OpType.STORE_RECORD, s, e))) == "check_genesis_shape"
    a = chain_of(1)
    r = resign(a, 3, entry_type="agent")  # the agent entry again, after genesis
    assert rule_of(check(op_of(r, OpType.STORE_ENTRY), a)) == "check_genesis_shape"


def test_agent_entry_names_its_author():
    a = MemoryAgent()
    stranger = AgentKey.generate().agent_id.to_bytes()
    a.commit(lambda s: s.genesis(NETWORK, None, {"agent": stranger}))
    assert rule_of(check(op_of(a.records[2], OpType.STORE_ENTRY), a)) == "check_agent_entry"
    assert rule_of(check(activity(a.records[2]), a)) == "check_agent_entry"


def _countersigned_pair() -> tuple[MemoryAgent, MemoryAgent, Entry]:
    a, b = chain_of(1), chain_of(2)
    envelope = a.countersign_with([b], "test.CountersignedNote", {"n": 7})
    return a, b, envelope


def _with_envelope(agent: MemoryAgent, value: Any, **changes: Any) -> Op:
    """The agent's last record carrying another envelope (re-signed: only that is wrong)."""
    entry = Entry.of(value)
    action = agent.records[-1].signed.action.model_copy(
        update={"entry_hash": entry.address, "entry_type": "test.CountersignedNote", **changes}
    )
    return activity(Record(signed_by(action, agent.key), entry))


def test_countersigned_records_of_both_parties_are_valid():
    a, b, envelope = _countersigned_pair()
    for agent in (a, b):
        record = agent.records[-1]
        assert record.entry == envelope
        for op in produce_ops(record):
            assert check(op, agent) == VALID


def test_countersignatures_forged_replayed_moved_or_missing():
    from node.core.countersign import Envelope, Session, approve

    a, b, envelope = _countersigned_pair()
    env = Envelope.from_value(envelope.value)
    mallory = AgentKey.generate()
    forged = Envelope(env.session, env.inner, (env.approvals[0], mallory.sign(b"x" * 40)))
    assert rule_of(check(_with_envelope(a, forged.to_value()), a)) == "check_countersignatures"
    # b's real signature over another event: it does not verify
    other = Envelope(env.session, {"n": 8}, env.approvals)
    assert rule_of(check(_with_envelope(a, other.to_value()), a)) == "check_countersignatures"
    # a whole old envelope replayed at a later place on a's chain
    a.create("test.Note", {"n": 99})
    replay = a.commit(lambda s: s.create("test.CountersignedNote", envelope.value))
    out = check(activity(a.records[-1]), a)
    assert rule_of(out) == "check_countersignatures" and "replayed" in out.reason, (replay, out)
    # one signature only
    one = Envelope(env.session, env.inner, env.approvals[:1])
    assert "signatures" in check(_with_envelope(b, one.to_value()), b).reason
    # a session that does not name the author
    c = chain_of(1)
    stranger = Session(env.session.id, env.session.start_us, env.session.end_us,
                       (env.session.parties[0], env.session.parties[0]))
    bad = Envelope(stranger, env.inner, env.approvals)
    assert "twice" in check(_with_envelope(c, bad.to_value()), c).reason
    outsider = Session(env.session.id, env.session.start_us, env.session.end_us,
                       env.session.parties)
    out = check(_with_envelope(c, Envelope(outsider, env.inner, env.approvals).to_value()), c)
    assert rule_of(out) == "check_countersignatures" and "not a party" in out.reason
    # a window longer than an hour, even if everyone signed it
    long = Session(env.session.id, env.session.start_us, env.session.start_us + 2 * 3600 * 10**6,
                   env.session.parties)
    keys = (a.key, b.key)
    signed_long = Envelope(
        long, env.inner, tuple(approve(k, "test.CountersignedNote", long, env.inner) for k in keys)
    )
    assert "hour" in check(_with_envelope(b, signed_long.to_value()), b).reason
    # not an envelope at all
    assert "not a countersigned entry" in check(_with_envelope(b, {"n": 1}), b).reason


def test_dna_of_another_network():
    a = MemoryAgent()
    a.genesis(Cid.of(b"another network"))
    assert rule_of(check(op_of(a.records[0], OpType.STORE_RECORD), a)) == "check_dna_hash"
    assert rule_of(check(activity(a.records[0]), a)) == "check_dna_hash"


# -- time -----------------------------------------------------------------------------------


def test_timestamp_in_the_future():
    a = chain_of(1)
    op = activity(a.records[3])
    ts = op.action.timestamp
    assert rule_of(check(op, a, now_us=ts - 3_600_000_000)) == "check_not_in_future"
    assert check(op, a, now_us=ts - MAX_CLOCK_DRIFT_US) == VALID
    assert check(op, a, now_us=ts - 4 * 60 * 1_000_000) == VALID


# -- links to the previous action (RegisterAgentActivity) ----------------------------------


def test_wrong_seq():
    a = chain_of(3)
    r = resign(a, 4, seq=5)
    assert rule_of(check(activity(r), a)) == "check_prev_seq"
    assert check(op_of(r, OpType.STORE_RECORD), a) == VALID  # only agent activity sees links


def test_wrong_prev():
    a = chain_of(3)
    # Pointing back past the previous action breaks the seq rule against what it names...
    r = resign(a, 4, prev_action=a.records[2].address)
    assert rule_of(check(activity(r), a)) == "check_prev_seq"
    # ...and a Deps that answers with another record than the one asked for is caught.
    deps = DictDeps(a.records)
    deps.records[a.records[3].address] = a.records[2]
    assert rule_of(check(activity(a.records[4]), deps=deps)) == "check_prev_address"


def test_wrong_author():
    a = chain_of(2)
    other = AgentKey.generate()
    r = resign(a, 4, key=other, author=other.agent_id)
    assert rule_of(check(activity(r), a)) == "check_prev_author"


def test_timestamp_going_back():
    a = chain_of(3)
    prev_ts = a.records[3].action.timestamp
    assert (
        rule_of(check(activity(resign(a, 4, timestamp=prev_ts - 1)), a)) == "check_prev_timestamp"
    )
    assert rule_of(check(activity(resign(a, 4, timestamp=prev_ts)), a)) == "check_prev_timestamp"


def test_action_after_close_chain():
    a = chain_of(1)
    a.commit(lambda s: s.close_chain())
    a.create("test.Note", {"n": 99})
    assert rule_of(check(activity(a.records[-1]), a)) == "check_not_after_close"


def test_missing_previous_action_is_unresolved():
    a = chain_of(2)
    r = a.records[4]
    deps = DictDeps([x for x in a.records if x.address != r.action.prev_action])
    assert check(activity(r), deps=deps) == Unresolved((r.action.prev_action,))
    assert check(op_of(r, OpType.STORE_RECORD), deps=deps) == VALID


# -- forks ---------------------------------------------------------------------------------


def test_find_fork():
    a = chain_of(2)
    base = a.records[3].signed
    head = ChainHead(base.action.seq, base.address, base.action.timestamp)
    s = Scratch(head, a.key, step_clock(base.action.timestamp + 7))
    s.create("test.Note", {"n": "the other branch"})
    branch = s.records[0].signed
    original = a.records[4].signed
    assert find_fork(original, branch) and find_fork(branch, original)
    assert not find_fork(original, original)
    assert not find_fork(base, original)  # consecutive, not a fork
    b = chain_of(2)
    assert not find_fork(original, b.records[4].signed)  # different authors


# -- properties ----------------------------------------------------------------------------

step = st.one_of(
    st.tuples(
        st.just("create"),
        st.dictionaries(
            st.text(max_size=4),
            st.one_of(
                st.integers(-(2**63), 2**63 - 1),
                st.text(max_size=8),
                st.binary(max_size=8),
                st.none(),
                st.booleans(),
            ),
            max_size=3,
        ),
    ),
    st.tuples(st.just("update"), st.integers(0, 100)),
    st.tuples(st.just("delete"), st.integers(0, 100)),
    st.tuples(st.just("link"), st.integers(0, 100)),
)


def random_chain(seed: bytes, steps: list[tuple[str, Any]], close: bool) -> MemoryAgent:
    a = MemoryAgent(AgentKey(seed))
    a.genesis()
    s = Scratch(a.head, a.key, a.clock)  # one commit of many writes, as a zome call makes
    creates: list[Record] = []
    for kind, arg in steps:
        if kind == "create" or not creates:
            s.create("test.Note", arg if kind == "create" else {"n": arg})
            creates.append(s.records[-1])
            continue
        t = creates[arg % len(creates)]
        if kind == "update":
            s.update(t.address, t.entry.address, "test.Tag", {"u": arg})
        elif kind == "delete":
            s.delete(t.address, t.entry.address)
        else:
            s.create_link(t.address, s.records[-1].address, "test", "L")
    if close:
        s.close_chain()
    a.records.extend(s.records)
    return a


chains = st.builds(
    random_chain, st.binary(min_size=32, max_size=32), st.lists(step, max_size=8), st.booleans()
)


@settings(max_examples=40)
@given(chains)
def test_valid_chains_are_always_valid(a):
    deps = DictDeps(a.records)
    now = a.records[-1].action.timestamp
    for record in a.records:
        for op in produce_ops(record):
            assert check(op, now_us=now, deps=deps) == VALID
            raw = decode_op(
                op.type.value,
                op.signed.data,
                op.signed.signature,
                op.entry.data if op.entry else None,
            )
            assert raw == op


def _outcome_of_raw(
    op_type: str, action: bytes, sig: bytes, entry: bytes | None, deps: DictDeps, now: int
) -> Outcome:
    op = decode_op(op_type, action, sig, entry)
    if isinstance(op, Invalid):
        return op
    return sys_validate(op, network_id=NETWORK, known_entry_types=KNOWN, now_us=now, deps=deps)


@given(
    st.sampled_from([t.value for t in OpType] + ["", "Warrant"]),
    st.binary(max_size=300),
    st.binary(max_size=80),
    st.one_of(st.none(), st.binary(max_size=50)),
)
def test_random_bytes_never_raise(op_type, action, sig, entry):
    out = _outcome_of_raw(op_type, action, sig, entry, DictDeps(), 10**18)
    assert isinstance(out, Valid | Invalid | Unresolved)
    assert isinstance(out, Invalid)


_CHAIN = chain_of(2, AgentKey(b"\x07" * 32))
_OPS = [op for r in _CHAIN.records for op in produce_ops(r)]


@given(st.sampled_from(_OPS), st.data())
def test_mutated_action_bytes_are_always_invalid(op, data):
    raw = bytearray(op.signed.data)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))] + data.draw(st.binary(max_size=4))
    # cutting at the flipped byte and appending the original one gives the bytes back
    assume(bytes(raw) != op.signed.data)
    out = _outcome_of_raw(
        op.type.value,
        bytes(raw),
        op.signed.signature,
        op.entry.data if op.entry else None,
        DictDeps(_CHAIN.records),
        10**18,
    )
    assert isinstance(out, Invalid), out


@pytest.mark.parametrize("rule", SYS_RULES)
def test_every_rule_is_listed_and_tested_here(rule):
    assert rule in (__doc__ or "")
    with open(__file__) as f:
        assert f'"{rule}"' in f.read()  # an assertion below names it (the docstring does not quote)
