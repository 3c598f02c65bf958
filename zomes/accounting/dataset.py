"""What the reports read: the ValueFlows and accounting entries of many agents' chains,
gathered into one set, with who authored each and when.

Pure: records in (from the local chain, the DHT store or the network), entries out. A thing
is named by the action that first created it (updates keep the name, the latest update
wins); a record seen twice (from two sources) counts once. No resource states are folded:
reports need the flows, not balances, and a partial chain must not stop them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from node.core.actions import CreateLink, DeleteLink
from node.core.chain import AGENT_ENTRY_TYPE
from node.core.collector import gc_paused
from node.core.records import Record
from zomes.accounting.entries import Allocation, Budget, SpecFootprint, ValueEquation
from zomes.accounting.zome import PREFIX as ACCOUNTING_PREFIX
from zomes.accounting.zome import parse as parse_accounting
from zomes.valueflows.entries import (
    RECIPE_TYPES,
    Agent,
    Agreement,
    Claim,
    Commitment,
    EconomicEvent,
    EconomicResource,
    Intent,
    Plan,
    Process,
    ProcessSpecification,
    Proposal,
    ResourceSpecification,
    SpatialThing,
    VfEntry,
)
from zomes.valueflows.proposals import PROPOSAL_LINK
from zomes.valueflows.trace import FlowIndex
from zomes.valueflows.zome import COUNTERSIGNED_TYPE, thing_address
from zomes.valueflows.zome import PREFIX as VF_PREFIX
from zomes.valueflows.zome import parse as parse_vf

PLANNING_TYPES = (Plan, Intent, Commitment, Agreement, Proposal, Claim, *RECIPE_TYPES)
"""The planning and recipe entries a Dataset keeps in `planning` (exports carry them)."""


def event_time(event: EconomicEvent) -> int:
    return event.has_point_in_time or event.has_end or event.has_beginning or 0


@dataclass
class Dataset:
    """Entries by address (the address of the action that created each thing)."""

    events: dict[str, EconomicEvent] = field(default_factory=dict)
    resources: dict[str, EconomicResource] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    specs: dict[str, ResourceSpecification] = field(default_factory=dict)
    process_specs: dict[str, ProcessSpecification] = field(default_factory=dict)
    equations: dict[str, ValueEquation] = field(default_factory=dict)
    footprints: dict[str, SpecFootprint] = field(default_factory=dict)
    allocations: dict[str, Allocation] = field(default_factory=dict)
    budgets: dict[str, Budget] = field(default_factory=dict)
    authors: dict[str, str] = field(default_factory=dict)  # thing -> its author's agent id
    created_at: dict[str, int] = field(default_factory=dict)  # thing -> action timestamp
    names: dict[str, str] = field(default_factory=dict)  # agent id -> the name it gave
    chains: set[str] = field(default_factory=set)  # agents some of whose records are here
    malformed: int = 0  # entries left out because they do not parse
    _versions: dict[str, int] = field(default_factory=dict)  # thing -> timestamp of its entry
    _seen: set[bytes] = field(default_factory=set)
    cosigned: set[str] = field(default_factory=set)
    planning: dict[str, VfEntry] = field(default_factory=dict)  # PLANNING_TYPES' entries
    places: dict[str, SpatialThing] = field(default_factory=dict)  # where exports find places
    agent_entries: dict[str, Agent] = field(default_factory=dict)  # external agents' among them
    _listings: dict[str, str] = field(default_factory=dict)  # proposal link -> its proposal
    _unlisted: set[str] = field(default_factory=set)  # proposal links deleted
    _ordered: list[tuple[str, EconomicEvent]] | None = None
    _index: FlowIndex | None = None

    # -- building ------------------------------------------------------------------

    def add_records(self, records: Iterable[Record]) -> int:
        """Add records (any order, any source); returns how many were new."""
        added = 0
        self._ordered = self._index = None
        # many long-lived objects, no cycles: collections would only rescan them
        with gc_paused():
            for record in records:
                key = record.address.to_bytes()
                if key in self._seen:
                    continue
                self._seen.add(key)
                self._add(record)
                added += 1
        return added

    def _add(self, record: Record) -> None:
        action = record.action
        author = str(action.author)
        self.chains.add(author)
        if isinstance(action, CreateLink) and action.link_type == PROPOSAL_LINK:
            self._listings[str(record.address)] = str(action.target)
        elif isinstance(action, DeleteLink):
            self._unlisted.add(str(action.link_add))
        name = getattr(action, "entry_type", None)
        if name is None or record.entry is None:
            return
        if name == AGENT_ENTRY_TYPE:
            value = record.entry.value
            if isinstance(value, dict) and isinstance(value.get("name"), str):
                self.names.setdefault(author, value["name"])
            return
        try:
            if name.startswith(VF_PREFIX):
                entry: Any = parse_vf(name, record.entry.value)
            elif name.startswith(ACCOUNTING_PREFIX):
                entry = parse_accounting(name, record.entry.value)
            else:
                return
        except ValueError:  # not validated yet (fetched, not held): leave it out, say so
            self.malformed += 1
            return
        thing = thing_address(action, record.address)  # a countersigned event: once, by its entry
        if name == COUNTERSIGNED_TYPE:
            self.cosigned.add(thing)  # on both parties' chains: each counts it as its own
        if self._versions.get(thing, -1) > action.timestamp:
            return  # an older version of something we hold a later update of
        self._versions[thing] = action.timestamp
        self.authors.setdefault(thing, author)
        self.created_at[thing] = min(self.created_at.get(thing, action.timestamp), action.timestamp)
        target = self._target(entry)
        if target is not None:
            target[thing] = entry

    def _target(self, entry: Any) -> dict[str, Any] | None:
        targets: dict[type, dict[str, Any]] = {
            EconomicEvent: self.events, EconomicResource: self.resources,
            Process: self.processes, ResourceSpecification: self.specs,
            ProcessSpecification: self.process_specs, ValueEquation: self.equations,
            SpatialThing: self.places,
            Agent: self.agent_entries,
            SpecFootprint: self.footprints, Allocation: self.allocations, Budget: self.budgets,
        }  # fmt: skip
        if isinstance(entry, PLANNING_TYPES):
            return self.planning
        return targets.get(type(entry))

    # -- reading -------------------------------------------------------------------

    def agents_named(self) -> set[str]:
        """Every agent an event names as provider or receiver, or a budget names."""
        named = {a for e in self.events.values() for a in (e.provider, e.receiver)}
        named |= {b.agent for b in self.budgets.values() if b.agent}
        return named

    def ordered_events(self, author: str | None = None) -> list[tuple[str, EconomicEvent]]:
        """(address, event) by time, then address: deterministic whatever the sources."""
        if self._ordered is None:
            pairs = list(self.events.items())
            pairs.sort(key=lambda pair: (event_time(pair[1]), pair[0]))
            self._ordered = pairs
        if author is None:
            return list(self._ordered)
        return [(a, e) for a, e in self._ordered if self.authors[a] == author
                or (a in self.cosigned and author in (e.provider, e.receiver))]

    def listed_proposals(self) -> set[str]:
        """The proposals with a listing link not deleted (open offers and requests)."""
        return {p for link, p in self._listings.items() if link not in self._unlisted}

    def flow_index(self) -> FlowIndex:
        """The flow graph of every event (built once; read-only)."""
        if self._index is None:
            self._index = FlowIndex(
                self.ordered_events(), processes=self.processes, resources=self.resources
            )
        return self._index

    def spec_footprints(self) -> dict[str, SpecFootprint]:
        """One footprint per specification: the latest its author declared, else the latest
        anyone declared."""
        return {spec: self.footprints[at] for spec, at in self.spec_footprint_addresses().items()}

    def spec_footprint_addresses(self) -> dict[str, str]:
        """The address of each specification's chosen footprint (see spec_footprints)."""
        chosen: dict[str, tuple[bool, int, str]] = {}
        for address, declared in self.footprints.items():
            spec = declared.specification
            rank = (self.authors[address] == self.authors.get(spec), self.created_at[address],
                    address)  # fmt: skip
            if spec not in chosen or rank > chosen[spec]:
                chosen[spec] = rank
        return {spec: rank[2] for spec, rank in chosen.items()}

    def process_allocations(self) -> dict[str, Allocation]:
        """The latest allocation of each process (only its author may declare one)."""
        latest: dict[str, str] = {}
        for address, allocation in self.allocations.items():
            current = latest.get(allocation.process)
            if current is None or (self.created_at[address], address) > (
                self.created_at[current], current
            ):
                latest[allocation.process] = address
        return {process: self.allocations[address] for process, address in latest.items()}

    def vf_agents(self) -> dict[str, Agent]:
        """A VF Agent for each member with a name (as it named itself at genesis), and for
        each external agent (its Agent entry, by address)."""
        return {
            **{agent: Agent(name=name, agent_type="Organization")
               for agent, name in self.names.items() if name.strip()},
            **self.external_agents(),
        }

    def external_agents(self) -> dict[str, Agent]:
        """The external agents (Agent entries with sameAs: no members), by address."""
        return {a: e for a, e in self.agent_entries.items() if e.same_as is not None}

    def external_name(self, agent: str) -> str | None:
        """An external agent's name, marked as such (None for anyone else)."""
        external = self.agent_entries.get(agent)
        return None if external is None or external.same_as is None else (
            f"{external.name} (external)")

    def name_of(self, agent: str) -> str:
        """An agent's name for people: an external agent's says so (it never signs)."""
        return (self.external_name(agent) or self.names.get(agent)
                or agent[:12] + "…" + agent[-4:])
