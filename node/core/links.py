"""DHT links as their base's authorities hold them: the signed CreateLink and the signed
DeleteLinks of it, and the checks a reader applies to a link a peer sent (Holochain's
get_links). Pure: values in, values out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from node.core.actions import CreateLink, DeleteLink
from node.core.cid import Cid
from node.core.errors import CoreError
from node.core.identity import AgentId
from node.core.records import SignedAction

MAX_LINKS: Final = 1_000
"""At most this many links one query or answer holds (page on from the last address)."""
MAX_DELETES: Final = 8
"""At most this many deletes of one link an answer carries (one is enough to delete it)."""


@dataclass(frozen=True, slots=True)
class Link:
    """A link from `base` to `target`: its create action and the deletes of it (a link
    with one delete or more is deleted). Build it with `checked_link` from peer data."""

    create: SignedAction
    deletes: tuple[SignedAction, ...] = ()

    @property
    def action(self) -> CreateLink:
        action = self.create.action
        assert isinstance(action, CreateLink)
        return action

    @property
    def address(self) -> Cid:
        """The CreateLink's address: what names the link (and what a DeleteLink deletes)."""
        return self.create.address

    @property
    def base(self) -> Cid:
        return self.action.base

    @property
    def target(self) -> Cid:
        return self.action.target

    @property
    def zome(self) -> str:
        return self.action.zome

    @property
    def link_type(self) -> str:
        return self.action.link_type

    @property
    def tag(self) -> bytes:
        return self.action.tag

    @property
    def author(self) -> AgentId:
        return self.action.author

    @property
    def timestamp(self) -> int:
        return self.action.timestamp

    @property
    def deleted(self) -> bool:
        return bool(self.deletes)

    def matches(self, link_type: str | None, tag_prefix: bytes) -> bool:
        """Of this link type (any if None), its tag starting with `tag_prefix`."""
        return (link_type is None or self.link_type == link_type) and self.tag.startswith(
            tag_prefix)

    def to_json(self) -> dict[str, Any]:
        """The link as the front door shows it (the tag as hex: it is bytes)."""
        return {
            "address": str(self.address), "base": str(self.base), "target": str(self.target),
            "zome": self.zome, "link_type": self.link_type, "tag": self.tag.hex(),
            "author": str(self.author), "timestamp": self.timestamp,
            "deleted_by": [str(d.address) for d in self.deletes],
        }


@dataclass(frozen=True, slots=True)
class LinkPage:
    """A page of links in address order, and where the next page starts (ask again with
    `after=next`; None: this is the last page). A page may hold fewer links than asked
    for and still have a next one (deleted links count towards its size)."""

    links: tuple[Link, ...]
    next: Cid | None = None


def merge_deletes(a: Link, b: Link) -> Link:
    """One link's two copies (from two authorities) with the deletes of both."""
    known = {d.address for d in a.deletes}
    extra = tuple(d for d in b.deletes if d.address not in known)
    return Link(a.create, (a.deletes + extra)[:MAX_DELETES]) if extra else a


def forged_create(create: SignedAction, base: Cid) -> str | None:
    """Why `create` is no link from `base` its author made, or None: it must be a
    CreateLink naming `base`, signed by its author."""
    action = create.action
    if not isinstance(action, CreateLink):
        return f"a {action.TYPE}, not a CreateLink"
    if action.base != base:
        return f"a link from {action.base}, not from {base}"
    return _bad_signature(create)


def forged_delete(delete: SignedAction, create: SignedAction) -> str | None:
    """Why `delete` cannot delete the link `create` made, or None: a DeleteLink of that
    link, on its base, by the link's author (check_link_delete), signed."""
    action, link = delete.action, create.action
    if not isinstance(action, DeleteLink) or not isinstance(link, CreateLink):
        return f"a {action.TYPE}, not a DeleteLink"
    if action.link_add != create.address or action.base != link.base:
        return "it deletes another link"
    if action.author != link.author:
        return "only the link's author may delete it"
    return _bad_signature(delete)


def checked_link(create: SignedAction, deletes: tuple[SignedAction, ...],
                 base: Cid) -> Link | None:
    """The link from a peer's answer, if its create action checks out (`forged_create`);
    deletes that do not (`forged_delete`) are dropped. None for a forged link."""
    if forged_create(create, base) is not None:
        return None
    return Link(create, tuple(d for d in deletes if forged_delete(d, create) is None))


def _bad_signature(signed: SignedAction) -> str | None:
    try:
        signed.verify_signature()
    except CoreError as e:
        return f"bad signature: {e}"
    return None
