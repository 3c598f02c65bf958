"""The scratch space of one commit: actions built and signed in memory, flushed at once.

Pure: given the head the commit started from, a key and a clock value, it chains
new actions (seq, prev_action, strictly increasing timestamps). The store flushes
`records` in one transaction only if the head is still `base`.
"""

from __future__ import annotations

from collections.abc import Callable

from node.core.actions import (
    ActionBase,
    AgentValidationPkg,
    CloseChain,
    Create,
    CreateLink,
    Delete,
    DeleteLink,
    Dna,
    Update,
)
from node.core.chain import AGENT_ENTRY_TYPE, ChainHead
from node.core.cid import Cid
from node.core.countersign import Party, party_action
from node.core.encoding import Value
from node.core.errors import LocalError
from node.core.identity import AgentKey
from node.core.records import Entry, Record, SignedAction


class Scratch:
    """Writes of one call, chained after `base`; nothing is stored until flushed."""

    def __init__(self, base: ChainHead | None, key: AgentKey, now_us: Callable[[], int]) -> None:
        self.base = base
        self._key = key
        self._now_us = now_us
        self.records: list[Record] = []
        self._head = base

    @property
    def head(self) -> ChainHead | None:
        """Where the chain would end if this scratch were flushed now."""
        return self._head

    def _append(self, cls: type[ActionBase], entry: Entry | None = None, **fields: object) -> Cid:
        head = self._head
        if head is None and cls is not Dna:
            raise LocalError("this agent has no chain yet: create or join a network first")
        timestamp = self._now_us() if head is None else max(self._now_us(), head.timestamp + 1)
        action = cls(
            author=self._key.agent_id,
            timestamp=timestamp,
            seq=0 if head is None else head.seq + 1,
            prev_action=None if head is None else head.address,
            **fields,
        )
        signed = SignedAction.sign(action, self._key)
        self.records.append(Record(signed, entry))
        self._head = ChainHead(action.seq, signed.address, timestamp)
        return signed.address

    # -- genesis -----------------------------------------------------------------

    def genesis(self, dna_hash: Cid, membrane_proof: bytes | None, agent_entry: Value) -> Cid:
        """Dna, AgentValidationPkg and the agent entry: the first three actions."""
        if self._head is not None:
            raise LocalError("this agent already has a chain")
        self._append(Dna, dna_hash=dna_hash)
        self._append(AgentValidationPkg, membrane_proof=membrane_proof)
        return self.create(AGENT_ENTRY_TYPE, agent_entry)

    # -- the generic entry API zomes use -------------------------------------------

    def create(self, entry_type: str, content: Value) -> Cid:
        """Create an entry; returns the action address that names it from now on."""
        entry = Entry.of(content)
        return self._append(Create, entry, entry_type=entry_type, entry_hash=entry.address)

    def update(
        self, original_action: Cid, original_entry: Cid, entry_type: str, content: Value
    ) -> Cid:
        entry = Entry.of(content)
        return self._append(
            Update,
            entry,
            entry_type=entry_type,
            entry_hash=entry.address,
            original_action=original_action,
            original_entry=original_entry,
        )

    def delete(self, deletes_action: Cid, deletes_entry: Cid) -> Cid:
        return self._append(Delete, deletes_action=deletes_action, deletes_entry=deletes_entry)

    def create_link(
        self, base: Cid, target: Cid, zome: str, link_type: str, tag: bytes = b""
    ) -> Cid:
        return self._append(
            CreateLink, base=base, target=target, zome=zome, link_type=link_type, tag=tag
        )

    def delete_link(self, link_add: Cid, base: Cid) -> Cid:
        return self._append(DeleteLink, link_add=link_add, base=base)

    def countersigned(self, entry_type: str, envelope: Entry, party: Party) -> Cid:
        """Write a countersigned envelope exactly where its session places this agent."""
        head = self._head
        if party.agent != self._key.agent_id:
            raise LocalError("this session places another agent, not this one")
        if head is None or (party.seq, party.prev_action) != (head.seq + 1, head.address) \
                or party.timestamp <= head.timestamp:
            raise LocalError(
                "the chain moved since the countersigning session began: nothing written")
        signed = SignedAction.sign(party_action(envelope, entry_type, party), self._key)
        self.records.append(Record(signed, envelope))
        self._head = ChainHead(party.seq, signed.address, party.timestamp)
        return signed.address

    def close_chain(self, new_dna: Cid | None = None) -> Cid:
        return self._append(CloseChain, new_dna=new_dna)
