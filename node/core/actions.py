"""Source-chain actions (Holochain's action types) as frozen models, with their encoding.

An action's canonical DAG-CBOR bytes are what its author signs and what its address
hashes. `to_obj` / `action_from_obj` are the only bridge between models and bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from node.core.cid import Cid
from node.core.encoding import link_tag, lookup
from node.core.errors import DecodeError
from node.core.identity import AgentId

EntryKind = Literal["app", "agent", "membrane"]

MAX_ENTRY_TYPE_LEN: Final = 128
MAX_TAG_LEN: Final = 1024


class ActionBase(BaseModel):
    """Fields every action has. `prev_action` is None only on Dna (seq 0)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, arbitrary_types_allowed=True, defer_build=True
    )
    TYPE: ClassVar[str] = ""
    HAS_ENTRY: ClassVar[bool] = False

    author: AgentId
    timestamp: int = Field(ge=0, lt=2**63)
    seq: int = Field(ge=0, lt=2**63)
    prev_action: Cid | None = None

    def to_obj(self) -> dict[str, Any]:
        """The plain value that is encoded: every set field, plus "type"."""
        obj: dict[str, Any] = {"type": self.TYPE}
        for name, value in self.__dict__.items():
            if value is not None:
                obj[name] = value
        obj["author"] = self.author.to_bytes()
        return obj

    def to_encodable(self) -> dict[str, Any]:
        """`to_obj` with links in tag form and keys already in canonical order.

        cbor2 then needs no canonical sort (half the encoding time); a property test
        checks the bytes equal `encode(to_obj())`.
        """
        values = self.__dict__
        obj: dict[str, Any] = {}
        for name in _canonical_order(type(self)):
            value = self.TYPE if name == "type" else values[name]
            if value is None:
                continue
            if name == "author":
                value = self.author.to_bytes()
            elif type(value) is Cid:
                value = link_tag(value)
            obj[name] = value
        return obj

    @property
    def entry_address(self) -> Cid | None:
        return None


class Dna(ActionBase):
    """seq 0: names the network (DNA) this chain belongs to."""

    TYPE: ClassVar[str] = "Dna"
    dna_hash: Cid


class AgentValidationPkg(ActionBase):
    """seq 1: carries the membrane proof that lets this agent join the network."""

    TYPE: ClassVar[str] = "AgentValidationPkg"
    membrane_proof: bytes | None = None


class _EntryAction(ActionBase):
    HAS_ENTRY: ClassVar[bool] = True
    entry_type: str = Field(min_length=1, max_length=MAX_ENTRY_TYPE_LEN)
    entry_hash: Cid

    @property
    def entry_address(self) -> Cid | None:
        return self.entry_hash


class Create(_EntryAction):
    """Creates an entry; the action's address becomes the thing's lasting name."""

    TYPE: ClassVar[str] = "Create"


class Update(_EntryAction):
    """Replaces an earlier entry; the original action's address stays the name."""

    TYPE: ClassVar[str] = "Update"
    original_action: Cid
    original_entry: Cid


class Delete(ActionBase):
    """Marks an earlier entry-creating action as deleted."""

    TYPE: ClassVar[str] = "Delete"
    deletes_action: Cid
    deletes_entry: Cid


class CreateLink(ActionBase):
    """A typed, tagged link from a base address to a target address."""

    TYPE: ClassVar[str] = "CreateLink"
    base: Cid
    target: Cid
    zome: str = Field(min_length=1, max_length=64)
    link_type: str = Field(min_length=1, max_length=64)
    tag: bytes = Field(default=b"", max_length=MAX_TAG_LEN)


class DeleteLink(ActionBase):
    """Removes a link made by an earlier CreateLink."""

    TYPE: ClassVar[str] = "DeleteLink"
    link_add: Cid
    base: Cid


class CloseChain(ActionBase):
    """Ends the chain; nothing may follow it. May name the DNA the agent moves to."""

    TYPE: ClassVar[str] = "CloseChain"
    new_dna: Cid | None = None


_ORDER: dict[type[ActionBase], tuple[str, ...]] = {}


def _canonical_order(cls: type[ActionBase]) -> tuple[str, ...]:
    """Field names plus "type", sorted as DAG-CBOR sorts map keys (length, then bytes)."""
    order = _ORDER.get(cls)
    if order is None:
        names = ["type", *cls.model_fields]
        order = _ORDER[cls] = tuple(sorted(names, key=lambda n: (len(n.encode()), n.encode())))
    return order


Action = Dna | AgentValidationPkg | Create | Update | Delete | CreateLink | DeleteLink | CloseChain

ACTION_TYPES: Final[dict[str, type[ActionBase]]] = {
    cls.TYPE: cls
    for cls in (Dna, AgentValidationPkg, Create, Update, Delete, CreateLink, DeleteLink, CloseChain)
}


# Authors decoded lately, shared: an AgentId keeps its verify key and printed form, which
# each of an author's actions would otherwise build again. Bounded; cleared when full.
_AUTHORS: dict[bytes, AgentId] = {}
_AUTHORS_LIMIT: Final = 1024


def _author(raw: bytes) -> AgentId:
    agent = _AUTHORS.get(raw)
    if agent is None:
        agent = AgentId(raw)
        if len(_AUTHORS) >= _AUTHORS_LIMIT:
            _AUTHORS.clear()
        _AUTHORS[agent.to_bytes()] = agent
    return agent


def action_from_obj(obj: Any) -> ActionBase:
    """Build an action from its decoded value; DecodeError if the shape is wrong."""
    if not isinstance(obj, dict):
        raise DecodeError("an action must be a map")
    fields = dict(obj)
    cls = lookup(ACTION_TYPES, fields.pop("type", None))
    if cls is None:
        raise DecodeError(f"unknown action type {obj.get('type')!r}")
    author = fields.get("author")
    if not isinstance(author, bytes):
        raise DecodeError("action author must be agent id bytes")
    try:
        fields["author"] = _author(author)
        return cls.model_validate(fields)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DecodeError(f"bad {cls.TYPE} action: {where}: {first['msg']}") from None
    except Exception as e:
        raise DecodeError(f"bad {cls.TYPE} action: {e}") from None
