"""Errors of the pure core, named by cause.

`LocalError` subclasses are our own caller's mistakes (raised to the caller);
`RemoteError` subclasses describe bad data that came from outside (a peer, a file,
a tampered database) and are turned into rejections by validation.
"""

from __future__ import annotations


class CoreError(Exception):
    """Base of every coledger error; `str(e)` is one line meant for a person."""


class LocalError(CoreError):
    """The caller asked for something impossible (bad argument, wrong passphrase...)."""


class RemoteError(CoreError):
    """Data from outside this process is malformed or dishonest."""


class DecodeError(RemoteError):
    """Bytes are not valid DAG-CBOR of the expected shape."""


class NonCanonicalError(DecodeError):
    """Bytes decode, but are not the one canonical DAG-CBOR encoding of their value."""


class AddressError(DecodeError):
    """A string or bytes are not a valid CID / agent id (a decoding error: addresses come
    in peers' messages and users' arguments)."""


class SignatureError(RemoteError):
    """A signature does not verify against the claimed author."""


class ChainError(RemoteError):
    """A source chain breaks a structural rule at a given seq."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class HeadMoved(LocalError):
    """The chain head changed between the start of a commit and its flush."""


class NotFound(LocalError):
    """No record, entry or home at the given address or path."""


class WrongPassphrase(LocalError):
    """The key file could not be decrypted with the given passphrase."""
