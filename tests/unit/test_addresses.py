"""Addresses are read only in their one canonical spelling (issue #11, item 21): another
spelling of the same bytes (uppercase, padding, a set unused bit) is refused, never
resolved to an address, the same or another."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.cid import Cid
from node.core.errors import AddressError
from node.core.identity import AgentId

ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
cids = st.binary(max_size=32).map(Cid.of)


@given(cids)
def test_the_canonical_spelling_is_read(cid: Cid) -> None:
    assert Cid.parse(str(cid)) == cid


@given(cids, st.data())
def test_a_set_unused_bit_is_refused(cid: Cid, data: st.DataObject) -> None:
    text = str(cid)
    unused = len(text[1:]) * 5 - len(cid.to_bytes()) * 8  # bits the last letter carries spare
    assert unused > 0
    flip = data.draw(st.integers(1, 2**unused - 1))
    last = ALPHABET[ALPHABET.index(text[-1]) ^ flip]
    with pytest.raises(AddressError, match="not an address"):
        Cid.parse(text[:-1] + last)


@given(cids, st.data())
def test_uppercase_and_mixed_case_are_refused(cid: Cid, data: st.DataObject) -> None:
    text = str(cid)
    letters = [i for i, c in enumerate(text) if c.isalpha() and i > 0]
    chosen = data.draw(st.sets(st.sampled_from(letters), min_size=1))
    spelled = "".join(c.upper() if i in chosen else c for i, c in enumerate(text))
    with pytest.raises(AddressError, match=f"written in lowercase: {text}"):
        Cid.parse(spelled)


@pytest.mark.parametrize("variant", [
    lambda t: t + "=", lambda t: t + "===", lambda t: t + " ", lambda t: " " + t,
    lambda t: t + "\n", lambda t: "B" + t[1:].upper(), lambda t: t[:-1], lambda t: t + "a",
    lambda t: "b" + t, lambda t: t[:-1] + "1",
])
def test_other_spellings_are_refused(variant) -> None:
    text = str(Cid.of(b"x"))
    with pytest.raises(AddressError):
        Cid.parse(variant(text))


def test_a_long_input_is_cut_short_in_the_message() -> None:
    with pytest.raises(AddressError) as e:
        Cid.parse("bafy" + "a" * 5000)
    assert len(str(e.value)) < 120


@given(st.binary(min_size=32, max_size=32))
def test_agent_ids_have_one_spelling_too(public_key: bytes) -> None:
    """base58 has no padding or spare bits: only a leading "1" (a zero byte) could spell
    the same number another way, and it makes an id of the wrong length."""
    agent = AgentId.from_public_key(public_key)
    text = str(agent)
    assert AgentId.parse(text) == agent
    for other in ("1" + text, text + "1", text.lower(), text.upper(), " " + text, text[:-1]):
        if other != text:
            with pytest.raises(AddressError):
                AgentId.parse(other)
