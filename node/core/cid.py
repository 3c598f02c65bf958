"""Content addresses: CIDv1, codec dag-cbor, multihash blake2b-256, printed base32.

Written out by hand (it is 40 lines) so the hot path pays no import; a test checks
the bytes against the standard multiformats libraries.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

from node.core.errors import AddressError

CID_VERSION: Final = 1
DAG_CBOR: Final = 0x71
BLAKE2B_256: Final = 0xB220
DIGEST_SIZE: Final = 32


def encode_varint(n: int) -> bytes:
    """n as a multiformats unsigned varint: 7 bits a byte, low first, high bit = more."""
    if n < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


PREFIX: Final = b"".join(map(encode_varint, (CID_VERSION, DAG_CBOR, BLAKE2B_256, DIGEST_SIZE)))


class Cid:
    """An immutable, hashable CIDv1 (dag-cbor, blake2b-256)."""

    __slots__ = ("_bytes", "_tag", "_text")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != len(PREFIX) + DIGEST_SIZE or not raw.startswith(PREFIX):
            raise AddressError("not a coledger address (CIDv1 dag-cbor blake2b-256)")
        self._bytes = bytes(raw)
        self._tag: object = None
        self._text: str | None = None  # the printed form, made once

    @classmethod
    def of(cls, data: bytes) -> Cid:
        """The address of `data`, which should be canonical DAG-CBOR bytes."""
        digest = hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()
        cid = object.__new__(cls)
        cid._bytes = PREFIX + digest
        cid._tag = None
        cid._text = None
        return cid

    @classmethod
    def parse(cls, text: str) -> Cid:
        """Parse the base32 form `b...` exactly as `str` writes it: lowercase, unpadded,
        its unused last bits zero. AddressError on anything else: another spelling is
        refused, never read as some address (a flipped unused bit would be the same)."""
        if not isinstance(text, str) or not text.startswith("b") or len(text) < 10:
            raise AddressError(f"not an address: {_shown(text)}")
        body = text[1:].upper()
        try:
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
        except ValueError:
            raise AddressError(f"not an address: {_shown(text)}") from None
        cid = cls(raw)
        canonical = str(cid)
        if canonical != text:
            if canonical == text.lower():
                raise AddressError(f"addresses are written in lowercase: {canonical}")
            raise AddressError(f"not an address: {_shown(text)} (not its one base32 spelling)")
        return cid

    @property
    def digest(self) -> bytes:
        return self._bytes[len(PREFIX) :]

    def to_bytes(self) -> bytes:
        return self._bytes

    def __str__(self) -> str:
        text = self._text
        if text is None:
            body = base64.b32encode(self._bytes).decode("ascii").lower().rstrip("=")
            text = self._text = "b" + body
        return text

    def __repr__(self) -> str:
        return f"Cid({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cid) and other._bytes == self._bytes

    def __lt__(self, other: Cid) -> bool:
        return self._bytes < other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)


def _shown(text: object) -> str:
    """Text given as an address, quoted and cut short for a one-line message."""
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:76] + "...'"
