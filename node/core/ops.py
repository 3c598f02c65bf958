"""DHT ops: how one record is split among the authorities that validate and hold it.

Holochain's split: each op names a basis address; the peers closest to the basis
are its authorities. An op's address hashes (op type, action address), so the same
record always yields the same ops and an op is integrated at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final

from node.core.actions import ActionBase, CreateLink, Delete, DeleteLink, Update
from node.core.cid import Cid
from node.core.encoding import encode_trusted
from node.core.records import Entry, Record, SignedAction


class OpType(StrEnum):
    STORE_RECORD = "StoreRecord"
    STORE_ENTRY = "StoreEntry"
    REGISTER_AGENT_ACTIVITY = "RegisterAgentActivity"
    REGISTER_UPDATED_CONTENT = "RegisterUpdatedContent"
    REGISTER_UPDATED_RECORD = "RegisterUpdatedRecord"
    REGISTER_DELETED_BY = "RegisterDeletedBy"
    REGISTER_DELETED_ENTRY_ACTION = "RegisterDeletedEntryAction"
    REGISTER_ADD_LINK = "RegisterAddLink"
    REGISTER_REMOVE_LINK = "RegisterRemoveLink"


# Which ops carry the entry along with the action. Unlike Holochain, agent activity
# carries it too: its authorities replay the author's chain to check balances.
CARRIES_ENTRY: Final = frozenset(
    {
        OpType.STORE_RECORD,
        OpType.STORE_ENTRY,
        OpType.REGISTER_AGENT_ACTIVITY,
        OpType.REGISTER_UPDATED_CONTENT,
        OpType.REGISTER_UPDATED_RECORD,
    }
)


@dataclass(frozen=True, slots=True)
class Op:
    """One op: a type, the signed action, the entry where the op carries one."""

    type: OpType
    signed: SignedAction
    entry: Entry | None = None

    @property
    def action(self) -> ActionBase:
        return self.signed.action

    @property
    def address(self) -> Cid:
        return op_address(self.type, self.signed.address)

    @property
    def basis(self) -> bytes:
        """The DHT location this op is sent to: CID bytes, or the author's id bytes."""
        return op_basis(self.type, self.signed)


# The canonical encoding of {"op": <type>, "action": <link>} up to the link's CID bytes
# ("op" sorts first: shorter key); every CID has the same length, so the head is fixed.
_OP_HEADS: Final[dict[OpType, bytes]] = {
    t: encode_trusted({"op": t.value, "action": Cid.of(b"")})[: -len(Cid.of(b"").to_bytes())]
    for t in OpType
}


@lru_cache(maxsize=1 << 13)  # (a validation batch is at most 2,000 ops)
def op_address(op_type: OpType, action_address: Cid) -> Cid:
    """The op's address: the hash of `encode({"op": type, "action": action address})`,
    spelled out from a fixed head (memoized: the workflow asks for it at every stage)."""
    return Cid.of(_OP_HEADS[op_type] + action_address.to_bytes())


def op_basis(op_type: OpType, signed: SignedAction) -> bytes:
    action = signed.action
    match op_type:
        case OpType.STORE_RECORD:
            return signed.address.to_bytes()
        case OpType.STORE_ENTRY:
            assert action.entry_address is not None
            return action.entry_address.to_bytes()
        case OpType.REGISTER_AGENT_ACTIVITY:
            return action.author.to_bytes()
        case OpType.REGISTER_UPDATED_CONTENT:
            assert isinstance(action, Update)
            return action.original_entry.to_bytes()
        case OpType.REGISTER_UPDATED_RECORD:
            assert isinstance(action, Update)
            return action.original_action.to_bytes()
        case OpType.REGISTER_DELETED_BY:
            assert isinstance(action, Delete)
            return action.deletes_action.to_bytes()
        case OpType.REGISTER_DELETED_ENTRY_ACTION:
            assert isinstance(action, Delete)
            return action.deletes_entry.to_bytes()
        case OpType.REGISTER_ADD_LINK:
            assert isinstance(action, CreateLink)
            return action.base.to_bytes()
        case OpType.REGISTER_REMOVE_LINK:
            assert isinstance(action, DeleteLink)
            return action.base.to_bytes()
    raise ValueError(f"unknown op type {op_type}")


_EXTRA_OPS: Final[dict[str, tuple[OpType, ...]]] = {
    "Create": (OpType.STORE_ENTRY,),
    "Update": (OpType.STORE_ENTRY, OpType.REGISTER_UPDATED_CONTENT, OpType.REGISTER_UPDATED_RECORD),
    "Delete": (OpType.REGISTER_DELETED_BY, OpType.REGISTER_DELETED_ENTRY_ACTION),
    "CreateLink": (OpType.REGISTER_ADD_LINK,),
    "DeleteLink": (OpType.REGISTER_REMOVE_LINK,),
}


@lru_cache(maxsize=64)
def op_types(action_type: str) -> frozenset[OpType]:
    """The op types a record whose action has this TYPE is split into (see produce_ops)."""
    return frozenset((OpType.STORE_RECORD, OpType.REGISTER_AGENT_ACTIVITY)
                     + _EXTRA_OPS.get(action_type, ()))


def produce_ops(record: Record) -> list[Op]:
    """Split a record into its ops: every action gives StoreRecord and
    RegisterAgentActivity; entry, update, delete and link actions give more."""
    signed = record.signed
    types = (OpType.STORE_RECORD, OpType.REGISTER_AGENT_ACTIVITY) + _EXTRA_OPS.get(
        signed.action.TYPE, ()
    )
    return [
        Op(t, signed, record.entry if t in CARRIES_ENTRY else None) for t in types
    ]
