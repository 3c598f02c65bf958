"""Deterministic DAG-CBOR: the one byte form of every entry, action and message.

Rules (a strict subset of DAG-CBOR): map keys are text, sorted length-first then
bytewise; integers and lengths take their shortest form; no indefinite lengths; no
floats at all (quantities are decimal strings); the only tag is 42, a CID link.
`decode` accepts exactly the bytes `encode` would produce and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any, TypeAlias, TypeVar

import cbor2

from node.core.cid import Cid
from node.core.errors import DecodeError, NonCanonicalError

CID_TAG = 42
MAX_DEPTH = 64

# What may be encoded: plain data plus Cid links.
Value: TypeAlias = (
    None | bool | int | str | bytes | Cid | list["Value"] | tuple["Value", ...] | dict[str, "Value"]
)


def link_tag(cid: Cid) -> cbor2.CBORTag:
    """The tag-42 form of a link, made once per Cid object."""
    tag = cid._tag
    if tag is None:
        tag = cid._tag = cbor2.CBORTag(CID_TAG, b"\x00" + cid.to_bytes())
    return tag  # type: ignore[return-value]


def _default(encoder: Any, value: Any) -> None:
    if isinstance(value, Cid):
        encoder.encode(link_tag(value))
        return
    raise TypeError(f"cannot encode {type(value).__name__} as DAG-CBOR")


_LEAVES = frozenset({str, bytes, bool, type(None), Cid})
_INT_MIN, _INT_MAX = -(2**64), 2**64


def _check_encodable(value: Any, depth: int = 0) -> None:
    """Reject what DAG-CBOR or our rules forbid before cbor2 would accept it."""
    t = type(value)
    if t in _LEAVES:
        return
    if t is int:
        if not _INT_MIN <= value < _INT_MAX:
            raise TypeError("integer out of the 64-bit range")
        return
    if depth >= MAX_DEPTH:
        raise TypeError("value nested too deeply")
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError("map keys must be text")
            _check_encodable(v, depth + 1)
    elif t is list or t is tuple:
        for v in value:
            _check_encodable(v, depth + 1)
    elif t is float:
        raise TypeError("floats are not allowed: use a decimal string")
    else:
        raise TypeError(f"cannot encode {t.__name__} as DAG-CBOR")


def encode(value: Value) -> bytes:
    """Encode a value to its canonical DAG-CBOR bytes (TypeError on forbidden values)."""
    _check_encodable(value)
    return cbor2.dumps(value, canonical=True, default=_default)


def encode_trusted(value: Value) -> bytes:
    """`encode` without the pre-check, for values our own code built from typed models."""
    return cbor2.dumps(value, canonical=True, default=_default)


def encode_presorted(value: dict[str, Any]) -> bytes:
    """Encode a flat map whose keys are already in canonical order (no nested maps)."""
    return cbor2.dumps(value)


def _tag_hook(tag: cbor2.CBORTag, immutable: bool) -> Cid:
    if tag.tag != CID_TAG:
        raise DecodeError(f"CBOR tag {tag.tag} is not allowed (only 42, a link)")
    raw = tag.value
    if not isinstance(raw, bytes) or not raw.startswith(b"\x00"):
        raise DecodeError("a link (tag 42) must hold 0x00 + CID bytes")
    try:
        return Cid(raw[1:])
    except Exception as e:
        raise DecodeError(str(e)) from e


# Bytes that `decode` has found canonical already: decoding them again needs no re-encoding
# (half of the cost; validators decode the same entry for each op that carries it). Small
# values only, a bounded number, cleared when full: a memo of a pure function, never stale.
_KNOWN_CANONICAL: dict[bytes, None] = {}
_KNOWN_CANONICAL_LIMIT = 2048
_KNOWN_CANONICAL_MAX_SIZE = 4 * 1024


def decode(data: bytes) -> Value:
    """Decode canonical DAG-CBOR; DecodeError / NonCanonicalError on anything else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("expected bytes")
    data = bytes(data)
    if data in _KNOWN_CANONICAL:
        # decoded and checked before: the same bytes decode the same way (a fresh value)
        return cbor2.loads(data, tag_hook=_tag_hook, max_depth=MAX_DEPTH)  # type: ignore[no-any-return]
    try:
        value: Value = cbor2.loads(data, tag_hook=_tag_hook, max_depth=MAX_DEPTH)
        _check_encodable(value)
        again = encode_trusted(value)
    except DecodeError:
        raise
    except Exception as e:  # cbor2 raises many types on garbage; all mean "not ours"
        raise DecodeError(f"not DAG-CBOR: {e}") from e
    if again != data:
        raise NonCanonicalError("bytes are not in canonical DAG-CBOR form")
    if len(data) <= _KNOWN_CANONICAL_MAX_SIZE:
        if len(_KNOWN_CANONICAL) >= _KNOWN_CANONICAL_LIMIT:
            _KNOWN_CANONICAL.clear()
        _KNOWN_CANONICAL[data] = None
    return value


def decode_unchecked(data: bytes) -> Any:
    """cbor2's reading of `data` with our tag rules but no canonical-form check: only for
    callers that then check the value encodes back to exactly `data`. Raises anything."""
    return cbor2.loads(data, tag_hook=_tag_hook, max_depth=MAX_DEPTH)


T = TypeVar("T")


def lookup(table: Mapping[str, T], key: object) -> T | None:
    """`table[key]` for a key read from a peer's data; None if absent or not text (a list
    or a map is unhashable: `table.get` would raise TypeError instead of missing)."""
    return table.get(key) if isinstance(key, str) else None


def one_of(key: object, names: Set[str]) -> bool:
    """Whether a value read from a peer's data is one of `names` (False for a list or a
    map, which `in` would raise TypeError on)."""
    return isinstance(key, str) and key in names


def address_of(value: Value) -> tuple[Cid, bytes]:
    """Encode a value and return (its address, its bytes)."""
    data = encode(value)
    return Cid.of(data), data
