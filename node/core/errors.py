"""Errors of the pure core, named by cause.

`LocalError` subclasses are our own caller's mistakes (raised to the caller);
`RemoteError` subclasses describe bad data that came from outside (a peer, a file,
a tampered database) and are turned into rejections by validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


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


class Field(NamedTuple):
    """A field of the caller's request named inside an error's message: `name` as the
    request spells it, `words` as the message says it to any caller."""

    name: str
    words: str


Part = str | Field


class Phrased(LocalError):
    """A caller's mistake whose message names fields of the request (`parts`: text or
    `Field`s). `str(e)` says each field in its words; a front end may name them its own
    way (`phrase`: the CLI names its flags). Every subclass is named by cause."""

    def __init__(self, *parts: Part) -> None:
        self.parts = tuple(p if isinstance(p, str) else Field(*p) for p in parts)
        super().__init__(self.phrase(lambda field: field.words))

    def phrase(self, name: Callable[[Field], str]) -> str:
        """The message with each field named by `name` (`str(e)`: in its words)."""
        return "".join(p if isinstance(p, str) else name(p) for p in self.parts)

    @property
    def fields(self) -> tuple[str, ...]:
        """The request's fields the message names."""
        return tuple(p.name for p in self.parts if isinstance(p, Field))


def phrased_type(name: str) -> type[Phrased]:
    """The imported `Phrased` subclass of this name (for an error that crossed a socket
    by name and parts), else `Phrased` itself."""
    todo: list[type[Phrased]] = [Phrased]
    while todo:
        cls = todo.pop()
        if cls.__name__ == name:
            return cls
        todo.extend(cls.__subclasses__())
    return Phrased
