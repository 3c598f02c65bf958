"""Signed actions, entries and records: the units that are stored and published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core.actions import ActionBase, action_from_obj
from node.core.cid import Cid
from node.core.encoding import Value, decode, decode_unchecked, encode, encode_presorted
from node.core.errors import DecodeError, SignatureError
from node.core.identity import SIGNATURE_SIZE, AgentKey

MAX_ENTRY_SIZE = 4 * 1024 * 1024
MAX_ACTION_SIZE = 16 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry's canonical bytes and address; `value` decodes them."""

    data: bytes
    address: Cid

    @classmethod
    def of(cls, value: Value) -> Entry:
        data = encode(value)
        return cls(data, Cid.of(data))

    @classmethod
    def from_bytes(cls, data: bytes) -> Entry:
        """Check canonical form (DecodeError) and address the bytes."""
        decode(data)
        return cls(bytes(data), Cid.of(data))

    @property
    def value(self) -> Any:
        return decode(self.data)


@dataclass(frozen=True, slots=True)
class SignedAction:
    """An action with its canonical bytes, address and the author's signature."""

    action: ActionBase
    data: bytes
    address: Cid
    signature: bytes

    @classmethod
    def sign(cls, action: ActionBase, key: AgentKey) -> SignedAction:
        if action.author != key.agent_id:
            raise ValueError("an action must be signed by its own author")
        data = encode_presorted(action.to_encodable())
        return cls(action, data, Cid.of(data), key.sign(data))

    @classmethod
    def from_bytes(cls, data: bytes, signature: bytes) -> SignedAction:
        """Decode stored or received bytes; DecodeError if malformed (signature unchecked)."""
        if not isinstance(data, bytes | bytearray | memoryview) or not isinstance(
                signature, bytes | bytearray | memoryview):
            raise DecodeError("an action and its signature must be bytes")
        if len(data) > MAX_ACTION_SIZE:
            raise DecodeError(f"action of {len(data)} bytes exceeds {MAX_ACTION_SIZE}")
        data = bytes(data)
        action = _DECODED.get(data)
        if action is None:
            action = _action_if_canonical(data)
        if action is None:  # the strict path, for its errors (or a model that differs)
            action = action_from_obj(decode(data))
        return cls(action, bytes(data), Cid.of(data), bytes(signature))

    def verify_signature(self) -> None:
        """Raise SignatureError unless the author signed exactly these bytes."""
        if len(self.signature) != SIGNATURE_SIZE:
            raise SignatureError("signature must be 64 bytes")
        self.action.author.verify(self.data, self.signature)


# Actions `_action_if_canonical` found, by their bytes: those bytes are the canonical
# encoding of that very (frozen) model. A memo of a pure function, never stale; bounded,
# cleared when full. An op's action decoded on arrival is not decoded again when the
# validation queue reads it back, and the sys rule need not re-encode it.
_DECODED: dict[bytes, ActionBase] = {}
_DECODED_LIMIT = 4096


def _action_if_canonical(data: bytes) -> ActionBase | None:
    """The action in `data` if its model encodes back to exactly `data`, else None.

    Then the bytes are canonical (the presorted encoding is), so `decode` would accept
    them and give the same value: the strict path's result, without its re-encoding."""
    try:
        action = action_from_obj(decode_unchecked(data))
        same = encode_presorted(action.to_encodable()) == data
    except Exception:
        return None
    if not same:
        return None
    if len(_DECODED) >= _DECODED_LIMIT:
        _DECODED.clear()
    _DECODED[data] = action
    return action


def encodes_to(action: ActionBase, data: bytes) -> bool:
    """Whether `data` is the canonical encoding of `action` (no encoding for a model
    that `SignedAction.from_bytes` decoded from these very bytes)."""
    return _DECODED.get(data) is action or encode_presorted(action.to_encodable()) == data


@dataclass(frozen=True, slots=True)
class Record:
    """A signed action and, where the action has one, its entry."""

    signed: SignedAction
    entry: Entry | None = None

    @property
    def action(self) -> ActionBase:
        return self.signed.action

    @property
    def address(self) -> Cid:
        return self.signed.address
