"""Agent identity: one Ed25519 key is both the ledger signing key and the libp2p identity.

An `AgentId` is the libp2p peer id of the key (identity multihash of the protobuf
PublicKey, printed base58btc `12D3KooW...`). It is encoded here without importing
libp2p (0.6 s); a test checks the bytes against py-libp2p's own `ID.from_pubkey`.
"""

from __future__ import annotations

from typing import Final

import base58
import nacl.bindings
import nacl.exceptions
import nacl.signing

from node.core.errors import AddressError, SignatureError

# multihash identity (0x00), length 36, then protobuf PublicKey{Type: Ed25519 (1), Data: 32 bytes}
_PEER_ID_PREFIX: Final = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
AGENT_ID_SIZE: Final = len(_PEER_ID_PREFIX) + 32
SIGNATURE_SIZE: Final = 64


class AgentId:
    """An agent's public identity: its libp2p peer id bytes (38 bytes)."""

    __slots__ = ("_bytes", "_verify_key", "_text")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != AGENT_ID_SIZE or not raw.startswith(_PEER_ID_PREFIX):
            raise AddressError("not an Ed25519 agent id (libp2p peer id)")
        self._bytes = bytes(raw)
        self._verify_key: nacl.signing.VerifyKey | None = None
        self._text: str | None = None  # the printed form, made once (base58 is slow)

    @classmethod
    def from_public_key(cls, public_key: bytes) -> AgentId:
        return cls(_PEER_ID_PREFIX + bytes(public_key))

    @classmethod
    def parse(cls, text: str) -> AgentId:
        """Parse the printed form `12D3KooW...`."""
        if not isinstance(text, str):
            raise AddressError(f"not an agent id: {text!r}")
        try:
            raw = base58.b58decode(text)
        except (ValueError, TypeError) as e:
            raise AddressError(f"not an agent id: {text!r}") from e
        try:
            return cls(raw)
        except AddressError:
            raise AddressError(f"not an agent id: {text!r}") from None

    @property
    def public_key(self) -> bytes:
        return self._bytes[len(_PEER_ID_PREFIX) :]

    def to_bytes(self) -> bytes:
        return self._bytes

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise SignatureError unless `signature` is this agent's over `message`."""
        if self._verify_key is None:
            self._verify_key = nacl.signing.VerifyKey(self.public_key)
        try:
            self._verify_key.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as e:
            raise SignatureError("signature does not verify for this author") from e

    def __str__(self) -> str:
        text = self._text
        if text is None:
            text = self._text = base58.b58encode(self._bytes).decode("ascii")
        return text

    def __repr__(self) -> str:
        return f"AgentId({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AgentId) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)


class AgentKey:
    """The private half: signs actions. Never encoded, never logged."""

    __slots__ = ("_signing_key", "_secret", "agent_id")

    def __init__(self, seed: bytes) -> None:
        self._signing_key = nacl.signing.SigningKey(seed)
        self._secret = self._signing_key._signing_key  # libsodium's 64-byte secret key
        self.agent_id = AgentId.from_public_key(bytes(self._signing_key.verify_key))

    @classmethod
    def generate(cls) -> AgentKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        return bytes(self._signing_key)

    def sign(self, message: bytes) -> bytes:
        # The binding directly: PyNaCl's wrapper objects cost a third of the signing time.
        return nacl.bindings.crypto_sign(message, self._secret)[:SIGNATURE_SIZE]

    def __repr__(self) -> str:
        return f"AgentKey({self.agent_id})"
