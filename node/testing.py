"""Public test helpers (like trio.testing): build agents and chains in memory.

`MemoryAgent` signs and chains actions with a deterministic clock, without disk,
so tests and benchmarks can make valid chains (and then break them on purpose).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from node.core.chain import ChainHead, StoredRow
from node.core.cid import Cid
from node.core.countersign import (
    SESSION_ID_SIZE,
    Envelope,
    Party,
    Session,
    approve,
    next_party,
)
from node.core.encoding import Value
from node.core.identity import AgentKey
from node.core.records import Entry, Record
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

    def countersign_with(
        self, others: list[MemoryAgent], entry_type: str, inner: Value, window_us: int = 60_000_000
    ) -> Entry:
        """Write one countersigned envelope of `inner` on this chain and the others'."""
        agents = [self, *others]
        parties = []
        for a in agents:
            assert a.head is not None, "genesis first"
            parties.append(next_party(a.agent_id, a.head, a.clock()))
        start = min(p.timestamp for p in parties)
        session = Session(os.urandom(SESSION_ID_SIZE), start, start + window_us, tuple(parties))
        approvals = tuple(approve(a.key, entry_type, session, inner) for a in agents)
        envelope = Envelope(session, inner, approvals).entry()
        for a, party in zip(agents, parties, strict=True):
            def write(s: Scratch, party: Party = party) -> Cid:
                return s.countersigned(entry_type, envelope, party)

            a.commit(write)
        return envelope

    def rows(self) -> Iterator[StoredRow]:
        for r in self.records:
            yield StoredRow(
                r.signed.action.seq, r.signed.data, r.signed.signature,
                r.entry.data if r.entry else None,
            )


# -- homes for simulations ------------------------------------------------------------------

SIM_PASSPHRASE = "simulation"


def fast_home(root, name: str, key: AgentKey | None = None):  # type: ignore[no-untyped-def]
    """A home whose key file uses argon2id's minimum cost: for simulations of many
    nodes only (a real home uses node.api.init_home)."""
    import nacl.pwhash

    from node.store.home import HomePaths
    from node.store.keyfile import write_key_file
    from node.store.sqlite import open_store

    key = key or AgentKey.generate()
    paths = HomePaths(root / name)
    paths.root.mkdir(parents=True, exist_ok=True)
    write_key_file(paths.key, key, SIM_PASSPHRASE, name,
                   opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN,
                   memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN)
    with open_store(paths.db, create=True):
        pass
    return paths.root, key


def simulated_network(root, n: int, redundancy: int = 5):  # type: ignore[no-untyped-def]
    """`n` fast homes in one network: the first is the progenitor and invites the rest."""
    from node.membership import create_network, join
    from node.store.home import open_agent
    from zomes.membrane.invitations import issue_invitation, token_of

    homes, keys = [], []
    for i in range(n):
        home, key = fast_home(root, f"n{i:04d}")
        homes.append(home)
        keys.append(key)
    network_file = root / "sim.network.json"
    with open_agent(homes[0], lambda: SIM_PASSPHRASE) as progenitor:
        dna = create_network(
            progenitor, "simulation", {"redundancy": str(redundancy)}, network_file
        )
    far = 2**62
    for home, key in zip(homes[1:], keys[1:], strict=True):
        proof = issue_invitation(
            keys[0], None, dna.address, key.agent_id, far, key.agent_id.to_bytes()[-16:]
        )
        with open_agent(home, lambda: SIM_PASSPHRASE) as agent:
            join(agent, network_file, token_of(proof))
    return homes, keys, dna


def append_events(home, key: AgentKey, contents: Iterator[dict[str, Any]],  # type: ignore[no-untyped-def]
                  passphrase: Callable[[], str] = lambda: SIM_PASSPHRASE) -> int:
    """Sign EconomicEvents (each the content of one) onto the home's chain, one flush, not
    validated: a long chain in seconds, for tests and benchmarks of reading it. How many."""
    from node.store.home import open_agent
    from zomes.valueflows.entries import EconomicEvent
    from zomes.valueflows.zome import entry_type

    name = entry_type(EconomicEvent)
    with open_agent(home, passphrase) as agent:
        head = agent.store.head()
        assert head is not None, "genesis first"
        scratch = Scratch(head, key, step_clock(head.timestamp + 1, 1))
        for content in contents:
            scratch.create(name, content)
        agent.store.flush(head, scratch.records)
    return len(scratch.records)
