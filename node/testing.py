"""Public test helpers (like trio.testing): build agents and chains in memory.

`MemoryAgent` signs and chains actions with a deterministic clock, without disk,
so tests and benchmarks can make valid chains (and then break them on purpose).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from node.core.chain import ChainHead, StoredRow
from node.core.cid import Cid
from node.core.encoding import Value
from node.core.identity import AgentKey
from node.core.records import Record
from node.core.scratch import Scratch


def step_clock(start: int = 1_700_000_000_000_000, step: int = 1_000) -> Callable[[], int]:
    """A clock that advances `step` microseconds on every call."""
    state = [start - step]

    def now() -> int:
        state[0] += step
        return state[0]

    return now


@dataclass
class MemoryAgent:
    """An agent whose chain lives in a list; `commit` mirrors Agent.commit."""

    key: AgentKey = field(default_factory=AgentKey.generate)
    clock: Callable[[], int] = field(default_factory=step_clock)
    records: list[Record] = field(default_factory=list)

    @property
    def agent_id(self):  # type: ignore[no-untyped-def]
        return self.key.agent_id

    @property
    def head(self) -> ChainHead | None:
        if not self.records:
            return None
        a = self.records[-1].signed
        return ChainHead(a.action.seq, a.address, a.action.timestamp)

    def commit(self, build: Callable[[Scratch], Any]) -> Any:
        scratch = Scratch(self.head, self.key, self.clock)
        result = build(scratch)
        self.records.extend(scratch.records)
        return result

    def genesis(self, dna_hash: Cid | None = None, membrane_proof: bytes | None = None) -> None:
        dna = dna_hash or Cid.of(b"test dna")
        self.commit(lambda s: s.genesis(dna, membrane_proof, {"agent": self.agent_id.to_bytes()}))

    def create(self, entry_type: str, content: Value) -> Cid:
        return self.commit(lambda s: s.create(entry_type, content))  # type: ignore[no-any-return]

    def rows(self) -> Iterator[StoredRow]:
        for r in self.records:
            yield StoredRow(
                r.signed.action.seq, r.signed.data, r.signed.signature, r.entry.data if r.entry else None
            )
