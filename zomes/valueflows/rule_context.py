"""What the accounting rules (rules.py) read and return: the context of the author's chain
before an event, a broken rule, dependencies still missing. Hashed by the DNA with them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final, NamedTuple

from zomes.valueflows.actions import ACTIONS, NA
from zomes.valueflows.entries import (
    Agent,
    EconomicEvent,
    EconomicResource,
    Process,
    ProcessSpecification,
    ResourceSpecification,
)
from zomes.valueflows.resources import ResourceState, fold


class Violation(NamedTuple):
    """A broken rule: its name and a one-line message."""

    rule: str
    message: str


@dataclass(frozen=True)
class Missing:
    """Dependencies not available yet: the event can be neither accepted nor rejected."""

    addresses: tuple[str, ...]


@dataclass(frozen=True)
class RuleContext:
    """What the rules may read: entries by address and the author's prior events, in chain
    order, with the resource states folded from them."""

    resources: Mapping[str, EconomicResource] = field(default_factory=dict)
    processes: Mapping[str, Process] = field(default_factory=dict)
    resource_specs: Mapping[str, ResourceSpecification] = field(default_factory=dict)
    process_specs: Mapping[str, ProcessSpecification] = field(default_factory=dict)
    events: Mapping[str, EconomicEvent] = field(default_factory=dict)
    states: Mapping[str, ResourceState] = field(default_factory=dict)
    # the parties who countersigned the event being judged (empty: the author alone);
    # the author's chain then holds only the author's side of the event
    cosigners: frozenset[str] = frozenset()
    # the states after the event being judged, when the caller has applied it already
    # (`states_after` of these same states and entries); None: check_balance applies it
    after: Mapping[str, ResourceState] | None = None
    # the timestamp of the action that records the event being judged (None: unknown)
    recorded_at_us: int | None = None
    # what the pairing and correction rules read of the prior events, kept as they are
    # folded (zome.ChainView): then `events` need only answer lookups by address.
    # None: derived from `events` (a context built from a list of events)
    pair_index: AbstractSet[Pair] | None = None
    correction_index: Mapping[str, Sequence[EconomicEvent]] | None = None
    # the Agent entries of the author's chain, by address (external agents: see Agent)
    agents: Mapping[str, Agent] = field(default_factory=dict)

    @classmethod
    def from_chain(
        cls,
        events: Iterable[tuple[str, EconomicEvent]],
        *,
        resources: Mapping[str, EconomicResource],
        processes: Mapping[str, Process],
        resource_specs: Mapping[str, ResourceSpecification],
        process_specs: Mapping[str, ProcessSpecification],
    ) -> RuleContext:
        """A context whose states are folded from the author's prior (address, event)s."""
        prior = dict(events)
        states = fold(prior.items(), resources=resources, processes=processes)
        return cls(resources, processes, resource_specs, process_specs, prior, states)

    @cached_property
    def pairs(self) -> AbstractSet[Pair]:
        """What prior events opened for a paired action to close (see `pair_of`)."""
        if self.pair_index is not None:
            return self.pair_index
        return {p for e in self.events.values() if (p := pair_of(e)) is not None}

    @cached_property
    def corrections(self) -> Mapping[str, Sequence[EconomicEvent]]:
        """Prior corrections, by the address of the event each one corrects."""
        if self.correction_index is not None:
            return self.correction_index
        index: dict[str, list[EconomicEvent]] = {}
        for event in self.events.values():
            if event.corrects is not None:
                index.setdefault(event.corrects, []).append(event)
        return index


Pair = tuple[str, str | None, str | None]
"""(action, resource, process) of an event a later paired action needs: a pickup or an
accept of a resource into a process, which a dropoff or a modify of it out of that
process must follow."""
_OPENS_PAIR: Final = frozenset(
    e.pairs_with for e in ACTIONS.values() if e.pairs_with != NA and e.input_output == "output")


def pair_of(event: EconomicEvent) -> Pair | None:
    """The pair `event` opens, if it is an action some other action pairs with."""
    if event.action not in _OPENS_PAIR:
        return None
    return (event.action, event.resource_inventoried_as, event.input_of)
