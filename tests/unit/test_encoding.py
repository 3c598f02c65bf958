"""Canonical DAG-CBOR: round trips, uniqueness, and rejection of every non-canonical form."""

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.cid import Cid
from node.core.encoding import decode, encode
from node.core.errors import DecodeError, NonCanonicalError

cids = st.binary(max_size=16).map(Cid.of)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | cids
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@given(values)
def test_round_trip(value):
    assert decode(encode(value)) == value


@given(values, values)
def test_canonical_bytes_are_unique_per_value(a, b):
    if encode(a) == encode(b):
        assert a == b
    if a != b:
        assert encode(a) != encode(b)


@given(st.dictionaries(st.text(max_size=8), st.integers(-1000, 1000), min_size=2, max_size=6))
def test_unsorted_map_is_rejected(d):
    keys = sorted(d, key=lambda k: (len(k.encode()), k.encode()), reverse=True)
    raw = cbor2.dumps({k: d[k] for k in keys})
    if raw != encode(d):
        with pytest.raises(NonCanonicalError):
            decode(raw)


@pytest.mark.parametrize(
    "hexbytes, error",
    [
        ("1900ff", NonCanonicalError),  # 255 in a 2-byte form
        ("9f01ff", NonCanonicalError),  # indefinite-length array
        ("7f6161ff", NonCanonicalError),  # indefinite-length text
        ("fb3ff0000000000000", DecodeError),  # a float
        ("d90101a0", DecodeError),  # an unknown tag
        ("d82a4101", DecodeError),  # tag 42 without the 0x00 prefix
        ("a10102", DecodeError),  # integer map key
        ("0100", NonCanonicalError),  # trailing bytes
        ("", DecodeError),
        ("ff", DecodeError),
    ],
)
def test_rejects_non_canonical_and_foreign_forms(hexbytes, error):
    with pytest.raises(error):
        decode(bytes.fromhex(hexbytes))


@given(st.binary(max_size=64))
def test_garbage_never_raises_anything_but_decode_error(data):
    try:
        value = decode(data)
    except DecodeError:
        return
    assert encode(value) == data


def test_floats_cannot_be_encoded():
    with pytest.raises(TypeError):
        encode({"quantity": 1.5})
