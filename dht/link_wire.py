"""Wire messages of the "links" protocol: ask a base's authority for the links from it.

  links_req   base, link type (or null: any), tag prefix, include deleted, after (the
              last link address of the page before, or null), limit
  links_resp  links (each: the CreateLink's bytes and signature, and the DeleteLinks of
              it as [bytes, signature] pairs), more (the authority holds more after these)

Links are ordered by their create address, so pages from several authorities merge.
Decoded as defensively as dht.wire's messages (same helpers, same WireError); the reader
checks each link's signatures and base (`RawLink.checked`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

from dht.transport import MAX_MESSAGE
from dht.wire import MAX_SIGNATURE
from dht.wire_fields import (
    WireError,
    check_bytes,
    check_cid,
    check_list,
    check_map,
    check_text,
    check_uint,
)
from node.core.actions import MAX_TAG_LEN
from node.core.cid import Cid
from node.core.encoding import decode, encode_trusted
from node.core.errors import CoreError
from node.core.links import MAX_DELETES, MAX_LINKS, Link, checked_link
from node.core.records import MAX_ACTION_SIZE, SignedAction

MAX_LINK_TYPE: Final = 64
RESPONSE_BUDGET: Final = MAX_MESSAGE // 2
"""An answer's links stop (with `more`) once their bytes pass this: well inside a frame."""


def _signed(value: Any, name: str) -> tuple[bytes, bytes]:
    if not isinstance(value, list) or len(value) != 2:
        raise WireError(f"{name} is a list [action, signature]")
    return (check_bytes(value[0], f"{name} action", MAX_ACTION_SIZE),
            check_bytes(value[1], f"{name} signature", MAX_SIGNATURE))


@dataclass(frozen=True, slots=True)
class RawLink:
    """A link as its raw parts: the CreateLink's bytes and signature, and its deletes."""

    action: bytes
    signature: bytes
    deletes: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def of(cls, link: Link) -> RawLink:
        return cls(link.create.data, link.create.signature,
                   tuple((d.data, d.signature) for d in link.deletes[:MAX_DELETES]))

    @property
    def size(self) -> int:
        """About its encoded size (for the answer's budget)."""
        return len(self.action) + 80 + sum(len(a) + 80 for a, _ in self.deletes)

    def to_obj(self) -> list[Any]:
        return [self.action, self.signature, [list(d) for d in self.deletes]]

    @classmethod
    def from_obj(cls, obj: Any) -> RawLink:
        if not isinstance(obj, list) or len(obj) != 3:
            raise WireError("a link is a list [action, signature, deletes]")
        action, signature = _signed(obj[:2], "link")
        deletes = check_list(obj[2], "deletes", MAX_DELETES)
        return cls(action, signature, tuple(_signed(d, "delete") for d in deletes))

    def checked(self, base: Cid) -> Link | None:
        """The link if it decodes and is a CreateLink from `base` signed by its author
        (deletes that are not its author's, signed, are dropped); None otherwise."""
        try:
            create = SignedAction.from_bytes(self.action, self.signature)
            deletes = tuple(SignedAction.from_bytes(a, s) for a, s in self.deletes)
        except CoreError:
            return None
        return checked_link(create, deletes, base)


@dataclass(frozen=True, slots=True)
class LinksRequest:
    """The links from `base` an authority holds, a page at a time."""

    KIND: ClassVar[str] = "links_req"
    base: Cid
    link_type: str | None = None
    tag_prefix: bytes = b""
    include_deleted: bool = True
    after: Cid | None = None
    limit: int = MAX_LINKS

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "base": self.base, "link_type": self.link_type,
                "tag_prefix": self.tag_prefix, "include_deleted": self.include_deleted,
                "after": self.after, "limit": self.limit}

    @classmethod
    def from_obj(cls, obj: Any) -> LinksRequest:
        m = check_map(obj, cls.KIND, frozenset(
            {"t", "base", "link_type", "tag_prefix", "include_deleted", "after", "limit"}))
        link_type = m["link_type"]
        if link_type is not None:
            link_type = check_text(link_type, "link type", MAX_LINK_TYPE)
        if not isinstance(m["include_deleted"], bool):
            raise WireError("include_deleted must be a boolean")
        limit = check_uint(m["limit"], "limit")
        if not 1 <= limit <= MAX_LINKS:
            raise WireError(f"limit must be in [1, {MAX_LINKS}]")
        after = m["after"]
        return cls(check_cid(m["base"], "base"), link_type,
                   check_bytes(m["tag_prefix"], "tag prefix", MAX_TAG_LEN),
                   m["include_deleted"], None if after is None else check_cid(after, "after"),
                   limit)


@dataclass(frozen=True, slots=True)
class LinksResponse:
    """A page of links, in address order; `more`: the authority holds more after them."""

    KIND: ClassVar[str] = "links_resp"
    links: tuple[RawLink, ...] = ()
    more: bool = False

    def to_obj(self) -> dict[str, Any]:
        return {"t": self.KIND, "links": [x.to_obj() for x in self.links], "more": self.more}

    @classmethod
    def from_obj(cls, obj: Any) -> LinksResponse:
        m = check_map(obj, cls.KIND, frozenset({"t", "links", "more"}))
        if not isinstance(m["more"], bool):
            raise WireError("more must be a boolean")
        items = check_list(m["links"], "links", MAX_LINKS)
        return cls(tuple(RawLink.from_obj(x) for x in items), m["more"])


LinksMessage = LinksRequest | LinksResponse
M = TypeVar("M", LinksRequest, LinksResponse)


def encode_links(message: LinksMessage) -> bytes:
    """The canonical DAG-CBOR bytes of a links message (built by our own code)."""
    data = encode_trusted(message.to_obj())
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"{message.KIND} message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    return data


def decode_links(kind: type[M], data: bytes) -> M:
    """The links message of type `kind` in `data`; WireError on anything else."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) > MAX_MESSAGE:
        raise WireError("a links message must be bytes within the size limit")
    try:
        return kind.from_obj(decode(bytes(data)))
    except WireError:
        raise
    except (CoreError, ValueError, TypeError) as e:
        raise WireError(f"{kind.KIND}: {e}") from None
