"""The outer shape of a signed payload on the wire, decoded one way for all of them.

A validation receipt and a warrant are each a CBOR map tagged with its `type`, holding
exactly its fields, one of which names the signer by agent id bytes. `SignedShape`
checks that shape and maps a model's errors to DecodeError, naming the payload.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from node.core.encoding import decode
from node.core.errors import CoreError, DecodeError

_COUNT = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True, slots=True)
class SignedShape:
    """A signed payload's tag, fields and signer, and how its errors name it."""

    type_tag: str
    name: str  # "validation receipt": what errors call the payload
    short: str  # "receipt": what errors call it before its signer ("a receipt's validator")
    fields: frozenset[str]
    signer: str  # the field that holds the signer's agent id bytes
    max_size: int
    too_large: str  # the error for anything but bytes of at most `max_size`

    def decode(self, data: Any) -> Any:
        """The decoded value of wire bytes; DecodeError if not bytes, too large or malformed."""
        if not isinstance(data, bytes) or len(data) > self.max_size:
            raise DecodeError(self.too_large)
        return decode(data)

    def fields_of(self, obj: Any) -> dict[Any, Any]:
        """`obj` if it is a map with this tag and exactly these fields; DecodeError if not."""
        if not isinstance(obj, dict) or obj.get("type") != self.type_tag:
            raise DecodeError(f"not a {self.name}")
        if set(obj) != self.fields:
            raise DecodeError(f"a {self.name} has exactly its {_COUNT[len(self.fields)]} fields")
        return obj

    def signer_bytes(self, obj: dict[Any, Any]) -> bytes:
        """The signer's agent id bytes; DecodeError if the field holds anything else."""
        signer = obj[self.signer]
        if not isinstance(signer, bytes):
            raise DecodeError(f"a {self.short}'s {self.signer} must be agent id bytes")
        return signer

    @contextmanager
    def building(self) -> Iterator[None]:
        """Map a model's ValidationError or CoreError to DecodeError("bad <name>: ...")."""
        try:
            yield
        except ValidationError as e:
            raise DecodeError(f"bad {self.name}: {e.errors()[0]['msg']}") from None
        except CoreError as e:
            raise DecodeError(f"bad {self.name}: {e}") from None
