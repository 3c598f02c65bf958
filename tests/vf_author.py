"""The validator tests' harness: an agent writing a ValueFlows chain through the
coordinator, its ChainView kept in step as its node's ledger keeps it.

The coordinator checks what the ledger would, given the view; `commit` writes straight
to the chain, so a test may also write what no honest node would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from node.api import new_dna
from node.core.dna import DnaDef
from node.core.identity import AgentKey
from node.core.scratch import Scratch
from node.membership import zome_refs
from node.testing import MemoryAgent, step_clock
from zomes.membrane.invitations import issue_invitation
from zomes.registry import installed_zomes
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.zome import ChainView

T = TypeVar("T")


def network(name: str, progenitor: AgentKey) -> DnaDef:
    """A fresh network of the installed zomes, `progenitor` its progenitor."""
    return new_dna(name, progenitor.agent_id, zome_refs(installed_zomes()), {})


class VfAuthor:
    """A MemoryAgent past genesis, writing ValueFlows entries; `view` is its chain's view."""

    def __init__(self, agent: MemoryAgent) -> None:
        self.agent = agent
        self.view = ChainView()

    @classmethod
    def invited(
        cls, dna: DnaDef, progenitor: AgentKey, key: AgentKey, now: int, nonce: bytes
    ) -> VfAuthor:
        """A member the progenitor invited (the invitation good until 2 * now) whose clock
        steps on from a second before `now`."""
        proof = issue_invitation(progenitor, None, dna.address, key.agent_id, 2 * now, nonce)
        agent = MemoryAgent(key, clock=step_clock(now - 1_000_000))
        agent.genesis(dna.address, proof)
        return cls(agent)

    @property
    def id(self) -> str:
        return str(self.agent.agent_id)

    def commit(self, build: Callable[[Scratch, ChainView], T]) -> T:
        """Commit what `build` writes given the view, then fold the new records into it."""
        start = len(self.agent.records)
        result = self.agent.commit(lambda s: build(s, self.view))
        for record in self.agent.records[start:]:
            self.view.step(record)
        return result

    def event(self, request: EventRequest, time_us: int | None = None) -> coordinator.Recorded:
        """Record an economic event at `time_us` (else the agent's clock, read now)."""
        when = self.agent.clock() if time_us is None else time_us
        return self.commit(lambda s, v: coordinator.record_event(s, v, self.id, request, when))
