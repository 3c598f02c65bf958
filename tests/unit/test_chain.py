"""Source-chain rules. Each rule of node.core.chain has a test that breaks it:

check_prev_address, check_prev_seq, check_prev_author, check_prev_timestamp,
check_not_after_close, check_signature, check_entry_address, check_genesis_shape.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.actions import Create, Dna
from node.core.chain import StoredRow, verify_chain
from node.core.cid import Cid
from node.core.encoding import encode
from node.core.errors import ChainError
from node.core.identity import AgentKey
from node.core.records import Entry, Record, SignedAction
from node.testing import MemoryAgent


def chain_of(n: int) -> MemoryAgent:
    a = MemoryAgent()
    a.genesis()
    for i in range(n):
        a.create("test.Note", {"n": i})
    return a


def resign(agent: MemoryAgent, seq: int, key: AgentKey | None = None, **changes) -> list[StoredRow]:
    """The agent's rows with the action at `seq` changed and re-signed
    (so only the change is wrong)."""
    rows = list(agent.rows())
    old = agent.records[seq]
    action = old.signed.action.model_copy(update=changes)
    signed = (
        SignedAction.sign(action, key or agent.key)
        if key is None or key.agent_id == action.author
        else _foreign(action, key)
    )
    rows[seq] = StoredRow(seq, signed.data, signed.signature, rows[seq].entry)
    return rows


def _foreign(action, key):
    data = encode(action.to_obj())
    return SignedAction(action, data, Cid.of(data), key.sign(data))


def test_valid_chain_verifies():
    a = chain_of(5)
    head = verify_chain(a.rows())
    assert head is not None and head.seq == 7 and head.address == a.records[-1].address


def test_empty_chain():
    assert verify_chain([]) is None


def test_check_prev_address():
    a = chain_of(3)
    with pytest.raises(ChainError, match="seq 4: prev_action"):
        verify_chain(resign(a, 4, prev_action=a.records[2].address))


def test_check_prev_seq_and_gaps():
    a = chain_of(3)
    rows = list(a.rows())
    del rows[3]
    with pytest.raises(ChainError, match="seq 3: missing"):
        verify_chain(rows)


def test_check_prev_author():
    a = chain_of(3)
    other = AgentKey.generate()
    with pytest.raises(ChainError, match="seq 4: author differs"):
        verify_chain(resign(a, 4, key=other, author=other.agent_id))


def test_check_prev_timestamp():
    a = chain_of(3)
    ts = a.records[3].signed.action.timestamp
    with pytest.raises(ChainError, match="seq 4: timestamp"):
        verify_chain(resign(a, 4, timestamp=ts))


def test_check_not_after_close():
    a = chain_of(1)
    a.commit(lambda s: s.close_chain())
    a.create("test.Note", {"n": 99})
    with pytest.raises(ChainError, match="seq 5: an action follows CloseChain"):
        verify_chain(a.rows())


def test_check_signature():
    a = chain_of(3)
    rows = list(a.rows())
    sig = bytearray(rows[3].signature)
    sig[0] ^= 1
    rows[3] = StoredRow(3, rows[3].action, bytes(sig), rows[3].entry)
    with pytest.raises(ChainError, match="seq 3: signature"):
        verify_chain(rows)


def test_check_entry_address():
    a = chain_of(3)
    rows = list(a.rows())
    rows[4] = StoredRow(4, rows[4].action, rows[4].signature, encode({"n": 12345}))
    with pytest.raises(ChainError, match="seq 4: entry address"):
        verify_chain(rows)


def test_check_genesis_shape():
    k = AgentKey.generate()
    e = Entry.of({"x": 1})
    bad = SignedAction.sign(
        Create(author=k.agent_id, timestamp=1, seq=0, entry_type="t.T", entry_hash=e.address), k
    )
    with pytest.raises(ChainError, match="seq 0 must be the Dna"):
        verify_chain([StoredRow(0, bad.data, bad.signature, e.data)])
    a = chain_of(2)
    dna_again = Dna(author=a.agent_id, timestamp=10**18, seq=5, prev_action=a.records[4].address,
                    dna_hash=Cid.of(b"x"))
    s = SignedAction.sign(dna_again, a.key)
    with pytest.raises(ChainError, match="seq 5: Dna may only appear in genesis"):
        verify_chain([*a.rows(), StoredRow(5, s.data, s.signature, None)])


@given(st.integers(min_value=0, max_value=5), st.data())
def test_any_flipped_byte_in_an_action_is_caught(seq, data):
    a = chain_of(3)
    rows = list(a.rows())
    raw = bytearray(rows[seq].action)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    rows[seq] = StoredRow(seq, bytes(raw), rows[seq].signature, rows[seq].entry)
    with pytest.raises(ChainError) as err:
        verify_chain(rows)
    assert err.value.seq in (seq, seq + 1)


def test_records_round_trip_through_bytes():
    a = chain_of(2)
    for r in a.records:
        again = SignedAction.from_bytes(r.signed.data, r.signed.signature)
        assert again == r.signed
        assert Record(again, r.entry).address == r.address


@given(st.integers(0, 2**40), st.binary(max_size=40))
def test_fast_action_encoding_is_canonical(timestamp, tag):
    from node.core.actions import CreateLink

    k = AgentKey.generate()
    for action in (
        Create(author=k.agent_id, timestamp=timestamp, seq=3, prev_action=Cid.of(tag),
               entry_type="a.B", entry_hash=Cid.of(b"e")),
        CreateLink(author=k.agent_id, timestamp=timestamp, seq=4, prev_action=Cid.of(b"p"),
                   base=Cid.of(tag), target=Cid.of(b"t"), zome="z", link_type="l", tag=tag),
        Dna(author=k.agent_id, timestamp=timestamp, seq=0, dna_hash=Cid.of(tag)),
    ):
        assert SignedAction.sign(action, k).data == encode(action.to_obj())
