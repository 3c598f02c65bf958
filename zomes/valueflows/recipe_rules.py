"""The recipe rules of the valueflows zome: a recipe is a well-formed shared design.

Recipes (Recipe, RecipeProcess, RecipeFlow, RecipeExchange) are entries on their author's
chain like events; any member may plan from them, so a malformed one (a flow without a
quantity, one both input and output, a reference to the wrong kind of entry, an input
that needs its own output) would break every plan that uses it. One function per rule;
each returns None when the entry keeps it, else what is wrong. References are read
through deps (MissingDependency: Unresolved, never Invalid).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Final

from node.core.cid import Cid
from node.core.ops import Op, OpType
from node.core.outcome import VALID, Invalid, Outcome
from node.core.records import Record
from zomes.api import Deps, MemoSlot, fold_chain
from zomes.valueflows.actions import ACTIONS
from zomes.valueflows.entries import (
    ProcessSpecification,
    Recipe,
    RecipeExchange,
    RecipeFlow,
    RecipeProcess,
    ResourceSpecification,
    VfEntry,
)
from zomes.valueflows.units import UNITS

RECIPE_RULES: Final[tuple[str, ...]] = (
    "check_recipe_flow_quantity",  # a flow states a positive quantity of the kind its action says
    "check_recipe_flow_resource",  # a flow of a resource names its resource specification
    "check_recipe_flow_process",  # input or output of one recipe process (or an exchange clause)
    "check_recipe_references",  # what a recipe entry names exists and is of the right type
    "check_recipe_own_parts",  # a flow joins, a recipe includes, its own author's processes
    "check_recipe_no_cycle",  # no output of the author's recipe processes needs itself
)
# What the cycle rule follows: a consumed input needs the making of its specification
# (the planner's dependent demand); these outputs are what makes it.
DEMANDING: Final = frozenset({"consume"})
MAKING: Final = frozenset({"produce", "separate"})
# Ops whose authorities check references (StoreEntry authorities check the shape only).
REFERENCES_CHECKED: Final = frozenset({OpType.STORE_RECORD, OpType.REGISTER_AGENT_ACTIVITY})

Reader = Callable[[Record], VfEntry | None]
"""The valueflows entry a record holds (None when it holds none)."""


def check_recipe_flow_quantity(flow: RecipeFlow) -> str | None:
    """A flow says how much, as its action's eventQuantity asks: a resource quantity, an
    effort (a time), or for `use` either; quantities are more than zero."""
    kind = ACTIONS[flow.action].event_quantity
    resource, effort = flow.resource_quantity, flow.effort_quantity
    if kind == "resource" and (resource is None or effort is not None):
        return f"a {flow.action} flow states a resourceQuantity (and no effortQuantity)"
    if kind == "effort" and (effort is None or resource is not None):
        return f"a {flow.action} flow states an effortQuantity (and no resourceQuantity)"
    if resource is None and effort is None:
        return f"a {flow.action} flow states a resourceQuantity or an effortQuantity"
    for measure in (resource, effort):
        if measure is not None and measure.value <= 0:
            return f"a recipe flow's quantity is more than zero, not {measure}"
    if effort is not None and UNITS[effort.has_unit].dimension != "time":
        return f"an effortQuantity is a time, not {effort.has_unit}"
    return None


def check_recipe_flow_resource(flow: RecipeFlow) -> str | None:
    """A flow with a resource quantity names its resource specification: a plan needs to
    know what to make, find or buy."""
    if flow.resource_quantity is not None and flow.resource_conforms_to is None:
        return "a flow of a resource names its resourceConformsTo"
    return None


def check_recipe_flow_process(flow: RecipeFlow) -> str | None:
    """A flow is the input or the output of exactly one recipe process, as its action's
    inputOutput says, or else a clause (or reciprocal clause) of a recipe exchange."""
    direction = ACTIONS[flow.action].input_output
    into, out = flow.recipe_input_of, flow.recipe_output_of
    if into is not None and out is not None:
        return "a recipe flow is the input or the output of one recipe process, not both"
    if flow.recipe_clause_of is not None and flow.recipe_reciprocal_clause_of is not None:
        return "a recipe flow is a clause or a reciprocal clause of an exchange, not both"
    exchanged = flow.recipe_clause_of or flow.recipe_reciprocal_clause_of
    if into is None and out is None and exchanged is None:
        return "a recipe flow is the input or output of a recipe process, or an exchange's clause"
    if direction == "input" and out is not None:
        return f"{flow.action} is an input: recipeInputOf, not recipeOutputOf"
    if direction == "output" and into is not None:
        return f"{flow.action} is an output: recipeOutputOf, not recipeInputOf"
    if direction not in ("input", "output", "outputInput") and (into or out):
        return f"{flow.action} is no process's input or output: a recipe exchange's clause"
    return None


def _references(entry: VfEntry) -> list[tuple[str, type[VfEntry], str]]:
    """(address, expected type, property) of each reference an entry of a recipe makes."""
    if isinstance(entry, RecipeFlow):
        wanted: list[tuple[str | None, type[VfEntry], str]] = [
            (entry.recipe_input_of, RecipeProcess, "recipeInputOf"),
            (entry.recipe_output_of, RecipeProcess, "recipeOutputOf"),
            (entry.recipe_clause_of, RecipeExchange, "recipeClauseOf"),
            (entry.recipe_reciprocal_clause_of, RecipeExchange, "recipeReciprocalClauseOf"),
            (entry.resource_conforms_to, ResourceSpecification, "resourceConformsTo"),
            (entry.stage, ProcessSpecification, "stage"),
        ]
    elif isinstance(entry, RecipeProcess):
        wanted = [(entry.process_conforms_to, ProcessSpecification, "processConformsTo")]
    elif isinstance(entry, Recipe):
        wanted = [(entry.primary_output, ResourceSpecification, "primaryOutput")]
        wanted += [(a, RecipeProcess, "recipeIncludes") for a in entry.recipe_includes]
    else:
        wanted = []
    return [(a, cls, prop) for a, cls, prop in wanted if a is not None]


def check_recipe_references(entry: VfEntry, op: Op, deps: Deps, read: Reader) -> str | None:
    """Each address a recipe entry names is an entry of the type VF gives its property (a
    flow's recipeInputOf a RecipeProcess, a recipe's primaryOutput a ResourceSpecification)."""
    for address, cls, prop in _references(entry):
        found = read(deps.must_get_record(Cid.parse(address)))
        if not isinstance(found, cls):
            return f"{prop} {address} is not a {cls.__name__}"
    return None


def check_recipe_own_parts(entry: VfEntry, op: Op, deps: Deps, read: Reader) -> str | None:
    """A flow joins only its author's recipe processes and exchanges, and a recipe includes
    only its author's processes: nobody adds an input to another member's design."""
    author = op.action.author
    for address, cls, prop in _references(entry):
        theirs = cls in (RecipeProcess, RecipeExchange) and (
            deps.must_get_record(Cid.parse(address)).action.author != author)
        if theirs:
            return f"{prop} {address} is another agent's: a recipe is changed by its author"
    return None


class RecipeGraph:
    """What the cycle rule reads of a chain: the specifications each of its recipe
    processes consumes and makes (by recipe process address; mutable while folded)."""

    def __init__(self) -> None:
        self.needs: dict[str, set[str]] = {}
        self.makes: dict[str, set[str]] = {}

    def add(self, flow: RecipeFlow) -> None:
        spec = flow.resource_conforms_to
        if spec is None:
            return
        if flow.action in DEMANDING and flow.recipe_input_of is not None:
            self.needs.setdefault(flow.recipe_input_of, set()).add(spec)
        if flow.action in MAKING and flow.recipe_output_of is not None:
            self.makes.setdefault(flow.recipe_output_of, set()).add(spec)

    def with_flow(self, flow: RecipeFlow) -> RecipeGraph:
        """A copy with one more flow (this graph unchanged)."""
        other = RecipeGraph()
        other.needs = {k: set(v) for k, v in self.needs.items()}
        other.makes = {k: set(v) for k, v in self.makes.items()}
        other.add(flow)
        return other

    def spec_edges(self) -> dict[str, set[str]]:
        """Specification -> the specifications its making consumes."""
        edges: dict[str, set[str]] = {}
        for process, made in self.makes.items():
            for spec in made:
                edges.setdefault(spec, set()).update(self.needs.get(process, ()))
        return edges


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle of the directed graph as the nodes along it (first repeated last), or None.
    Iterative depth-first search, in sorted order so that every validator names the same."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in sorted(edges):
        if root in state:
            continue
        path: list[str] = [root]
        todo: list[list[str]] = [sorted(edges.get(root, ()), reverse=True)]
        state[root] = 1
        while path:
            if not todo[-1]:
                state[path.pop()] = 2
                todo.pop()
                continue
            nxt = todo[-1].pop()
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                todo.append(sorted(edges.get(nxt, ()), reverse=True))
    return None


_GRAPHS: MemoSlot[Cid, RecipeGraph] = MemoSlot("valueflows recipe graphs")


def check_recipe_no_cycle(flow: RecipeFlow, op: Op, deps: Deps, read: Reader) -> str | None:
    """No specification made by the author's recipe processes needs itself, directly or
    through the others (planning from it would never end). Judged on the author's chain
    (its agent-activity authorities); recipes of other authors are checked when planned."""
    if op.type is not OpType.REGISTER_AGENT_ACTIVITY:
        return None

    def step(graph: RecipeGraph, record: Record) -> RecipeGraph:
        name = getattr(record.action, "entry_type", None)
        if isinstance(name, str) and name.endswith(".RecipeFlow"):  # (read no other entry)
            entry = read(record)
            if isinstance(entry, RecipeFlow):
                graph.add(entry)
        return graph

    graph = fold_chain(deps, op.action.prev_action, _GRAPHS, RecipeGraph, step)
    cycle = find_cycle(graph.with_flow(flow).spec_edges())
    if cycle is None:
        return None
    return "the recipe needs its own output: " + " -> ".join(cycle)


_PURE: Final = (
    ("check_recipe_flow_quantity", check_recipe_flow_quantity),
    ("check_recipe_flow_resource", check_recipe_flow_resource),
    ("check_recipe_flow_process", check_recipe_flow_process),
)
_READING: Final = (
    ("check_recipe_references", check_recipe_references),
    ("check_recipe_own_parts", check_recipe_own_parts),
)


def validate_recipe(entry: VfEntry, op: Op, deps: Deps, read: Reader) -> Outcome:
    """The recipe rules for one op carrying a recipe entry (deterministic; reads deps)."""
    if isinstance(entry, RecipeFlow):
        for rule, pure in _PURE:
            problem = pure(entry)
            if problem is not None:
                return Invalid(rule, problem)
    if op.type not in REFERENCES_CHECKED:
        return VALID
    for rule, reading in _READING:
        problem = reading(entry, op, deps, read)
        if problem is not None:
            return Invalid(rule, problem)
    if isinstance(entry, RecipeFlow):
        problem = check_recipe_no_cycle(entry, op, deps, read)
        if problem is not None:
            return Invalid("check_recipe_no_cycle", problem)
    return VALID
