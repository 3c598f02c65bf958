"""A network of two members for judging one record as its authorities would: the
progenitor and one invited member, each a chain in memory, and the network's validator."""

from __future__ import annotations

from node.api import make_validator, new_dna
from node.core.identity import AgentKey
from node.core.ops import Op, OpType
from node.core.outcome import Outcome
from node.core.records import Record
from node.membership import zome_refs
from node.store.deps import StoreDeps
from node.testing import MemoryAgent
from zomes.membrane.invitations import issue_invitation
from zomes.registry import installed_zomes

NOW = 1_800_000_000_000_000


class TwoMembers:
    """The network `name` of `progenitor` and `member` (keys), judged at time `now`."""

    def __init__(self, name: str, progenitor: AgentKey, member: AgentKey,
                 now: int = NOW) -> None:
        self.progenitor_key, self.member_key, self.now = progenitor, member, now
        self.dna = new_dna(name, progenitor.agent_id, zome_refs(installed_zomes()), {})
        self.validator = make_validator(self.dna)

    def members(self) -> tuple[MemoryAgent, MemoryAgent]:
        """Both chains after genesis: the progenitor's, and the member's with its invitation."""
        progenitor = MemoryAgent(self.progenitor_key)
        progenitor.genesis(self.dna.address, None)
        member = MemoryAgent(self.member_key)
        proof = issue_invitation(self.progenitor_key, None, self.dna.address,
                                 self.member_key.agent_id, 2 * self.now, b"a")
        member.genesis(self.dna.address, proof)
        return progenitor, member

    def judge(self, record: Record, *chains: MemoryAgent,
              op_type: OpType = OpType.REGISTER_AGENT_ACTIVITY) -> Outcome:
        """The verdict on `record`'s op of `op_type`, the `chains` given as dependencies."""
        deps = StoreDeps(staged=[r for chain in chains for r in chain.records])
        return self.validator.validate(Op(op_type, record.signed, record.entry), deps, self.now)
