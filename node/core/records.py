"""Signed actions, entries and records: the units that are stored and published."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core.actions import ActionBase, action_from_obj
from node.core.cid import Cid
from node.core.encoding import Value, decode, encode, encode_presorted
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
        if len(data) > MAX_ACTION_SIZE:
            raise DecodeError(f"action of {len(data)} bytes exceeds {MAX_ACTION_SIZE}")
        action = action_from_obj(decode(data))
        return cls(action, bytes(data), Cid.of(data), bytes(signature))

    def verify_signature(self) -> None:
        """Raise SignatureError unless the author signed exactly these bytes."""
        if len(self.signature) != SIGNATURE_SIZE:
            raise SignatureError("signature must be 64 bytes")
        self.action.author.verify(self.data, self.signature)


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
