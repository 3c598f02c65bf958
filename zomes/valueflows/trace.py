"""ValueFlows track (forwards) and trace (backwards) over an index of events.

Follows the VF algorithm (valueflo.ws/algorithms/track): a depth-first walk over
`previous` (trace) or `next` (track) steps, never revisiting a node, with pairing stacks so
that a walk that entered a transport, repair or container process through one resource
leaves it through that same resource: tracing back through a dropoff / modify / separate of
resource R follows only the pickup / accept / combine of R (track: the other way round).
The walk is iterative (an explicit stack), so depth is bounded by memory, not recursion.
Siblings are visited latest-first when tracing and earliest-first when tracking, in the
order the events were given; `distance` is the depth in the walk's tree (start = 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple, Protocol

from node.core.collector import gc_paused
from zomes.valueflows.actions import ACTIONS

RESOURCE, EVENT, PROCESS = 0, 1, 2
KIND_NAMES: Final = ("EconomicResource", "EconomicEvent", "Process")

# action: (pairing stack, whether it pushes onto the stack when tracing; else it pops);
# tracking swaps pushing and popping
PAIRINGS: Final[dict[str, tuple[int, bool]]] = {
    "dropoff": (0, True),
    "pickup": (0, False),
    "modify": (1, True),
    "accept": (1, False),
    "separate": (2, True),
    "combine": (2, False),
}


class FlowEvent(Protocol):
    """What the index reads from an event (EconomicEvent has it)."""

    @property
    def action(self) -> str: ...
    @property
    def resource_inventoried_as(self) -> str | None: ...
    @property
    def to_resource_inventoried_as(self) -> str | None: ...
    @property
    def input_of(self) -> str | None: ...
    @property
    def output_of(self) -> str | None: ...


class FlowNode(NamedTuple):
    """One element of a track or trace."""

    kind: str  # "EconomicResource" | "EconomicEvent" | "Process"
    address: str
    distance: int


class NotInIndex(LookupError):
    """The address is not a resource, event or process of this index."""


class FlowIndex:
    """Read-only flow graph of events, processes and resources, built once in O(n).

    Events must be given in a deterministic order (chain order, or time then address):
    it is the order siblings are walked in.
    """

    def __init__(
        self,
        events: Iterable[tuple[str, FlowEvent]],
        processes: Iterable[str] = (),
        resources: Iterable[str] = (),
    ) -> None:
        self._ids: dict[str, int] = {}
        self._addresses: list[str] = []
        self._kinds: list[int] = []
        self._previous: list[list[int]] = []  # in the order events were given
        self._next: list[list[int]] = []
        self._pairs: dict[int, tuple[int, bool]] = {}  # event id -> (stack key, pushes on trace)
        for address in processes:
            self._node(address, PROCESS)
        for address in resources:
            self._node(address, RESOURCE)
        for address, event in events:
            self._add_event(address, event)

    def _node(self, address: str, kind: int) -> int:
        node = self._ids.get(address)
        if node is None:
            node = self._ids[address] = len(self._addresses)
            self._addresses.append(address)
            self._kinds.append(kind)
            self._previous.append([])
            self._next.append([])
        elif self._kinds[node] != kind:
            raise ValueError(
                f"{address} is used as {KIND_NAMES[kind]} and as {KIND_NAMES[self._kinds[node]]}"
            )
        return node

    def _add_event(self, address: str, event: FlowEvent) -> None:
        effects = ACTIONS.get(event.action)
        if effects is None:
            raise ValueError(f"event {address} has unknown action {event.action!r}")
        node = self._node(address, EVENT)
        source = self._optional(event.resource_inventoried_as, RESOURCE)
        target = self._optional(event.to_resource_inventoried_as, RESOURCE)
        into = self._optional(event.input_of, PROCESS)
        out_of = self._optional(event.output_of, PROCESS)
        if event.action == "lower":  # a dead end both ways: the resource just went down
            if source is not None:
                self._previous[source].append(node)
                self._next[source].append(node)
            return
        # before it: the process it came out of, else the resource it took from
        if out_of is not None:
            self._link(out_of, node)
        elif source is not None and event.action != "raise":
            self._link(source, node)
        # after it: the process it went into, else the resource it added to or moved into
        if into is not None:
            self._link(node, into)
        elif source is not None and (out_of is not None or event.action == "raise"):
            self._link(node, source)
        elif target is not None and effects.create_resource == "optionalTo":
            self._link(node, target)
        if source is not None and event.action in PAIRINGS:
            stack, pushes = PAIRINGS[event.action]
            self._pairs[node] = (source * 3 + stack, pushes)

    def _optional(self, address: str | None, kind: int) -> int | None:
        return None if address is None else self._node(address, kind)

    def _link(self, earlier: int, later: int) -> None:
        self._next[earlier].append(later)
        self._previous[later].append(earlier)

    def __len__(self) -> int:
        return len(self._addresses)

    def __contains__(self, address: object) -> bool:
        return address in self._ids

    def kind(self, address: str) -> str:
        """ "EconomicResource", "EconomicEvent" or "Process"."""
        return KIND_NAMES[self._kinds[self._id(address)]]

    def previous(self, address: str) -> list[str]:
        """The elements one flow step back, latest first."""
        return [self._addresses[n] for n in reversed(self._previous[self._id(address)])]

    def next(self, address: str) -> list[str]:
        """The elements one flow step forward, earliest first."""
        return [self._addresses[n] for n in self._next[self._id(address)]]

    def trace(self, start: str, limit: int | None = None) -> list[FlowNode]:
        """Everything `start` came from, walking backwards (its first `limit` steps)."""
        return self._walk(self._id(start), backwards=True, limit=limit)

    def track(self, start: str, limit: int | None = None) -> list[FlowNode]:
        """Everything that came of `start`, walking forwards (its first `limit` steps)."""
        return self._walk(self._id(start), backwards=False, limit=limit)

    def _id(self, address: str) -> int:
        try:
            return self._ids[address]
        except KeyError:
            raise NotInIndex(f"{address} is not a resource, event or process here") from None

    def _walk(self, start: int, backwards: bool, limit: int | None = None) -> list[FlowNode]:
        """Depth-first walk from `start`, as the VF pseudocode's recursion but with a stack
        of sibling iterators; a node's distance is the depth of the stack that reached it.
        Stopped after `limit` nodes (a prefix of the whole walk: the order is the same)."""
        if limit is not None and limit < 1:
            return []
        steps = self._previous if backwards else self._next
        siblings = reversed if backwards else iter  # latest first when tracing
        pairs, held = self._pairs, dict[int, int]()
        addresses, kinds = self._addresses, self._kinds
        seen = bytearray(len(addresses))
        seen[start] = 1
        flow = [FlowNode(KIND_NAMES[kinds[start]], addresses[start], 0)]
        pair = pairs.get(start)
        if pair is not None and pair[1] == backwards:
            held[pair[0]] = 1
        stack: list[Iterator[int]] = [siblings(steps[start])]
        if limit is not None and limit <= 1:
            stack.clear()
        pair_of, visit, enter, leave = pairs.get, flow.append, stack.append, stack.pop
        with gc_paused():
            while stack:
                for node in stack[-1]:
                    if seen[node]:
                        continue
                    pair = pair_of(node)
                    if pair is not None:
                        key, pushes = pair
                        if pushes == backwards:
                            held[key] = held.get(key, 0) + 1
                        elif held.get(key):
                            held[key] -= 1
                        else:
                            continue  # not the resource the walk came in with
                    seen[node] = 1
                    # tuple.__new__ skips NamedTuple's Python-level __new__: a third faster
                    visit(_new(FlowNode, (KIND_NAMES[kinds[node]], addresses[node], len(stack))))
                    enter(siblings(steps[node]))
                    if limit is not None and len(flow) >= limit:
                        stack.clear()
                    break
                else:
                    leave()
        return flow


_new = tuple.__new__
