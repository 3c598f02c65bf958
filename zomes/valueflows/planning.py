"""Planning from a recipe: a Plan, its processes and their flows, scaled to a quantity.

`plan_from_recipe` is MRP's dependent demand over VF recipes, pure: the recipe's process
that makes its primary output is scaled to the quantity asked; each consumed input whose
specification some known recipe makes (a process of the same recipe first, else the
recipe whose primaryOutput it is) is made by that recipe's process, scaled in turn, down
to raw inputs. A process needed by several others is planned once, for the sum of their
demand (consumers are scaled before their producers: a topological order), so a shared
input is never counted twice. Processes are scheduled backwards from the due date by
their recipe's hasDuration: each ends when the first process needing it begins.

Every quantity is exact (Fractions; units converted through their dimension's base unit);
a quantity that is no finite decimal is rounded up at the sixth place when written, so a
plan never asks for less than it needs. The result is a `PlanDraft`: entry contents ready
to commit once the plan's and processes' addresses are known (`PlanDraft.bind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final, Literal, Protocol

from zomes.valueflows.entries import (
    Commitment,
    Intent,
    Plan,
    Process,
    Recipe,
    RecipeFlow,
    RecipeProcess,
    VfEntry,
)
from zomes.valueflows.recipe_rules import DEMANDING, MAKING, find_cycle
from zomes.valueflows.units import UNITS, Measure, UnitError, bounded, decimal_string, exact_decimal

PLACES: Final = 6  # where a quantity that is no finite decimal is rounded up
US: Final = 1_000_000  # microseconds per second

Vector = dict[str, Fraction]  # a footprint: "energy", "material:<kind>", ... -> amount


class PlanningError(ValueError):
    """A recipe that cannot be planned from (unknown, no primary output, a cycle, units of
    different dimensions); the message says which."""


class PerUnit(Protocol):
    """A footprint per one unit of a resource (accounting's SpecFootprint is one)."""

    def per_unit(self, unit: str) -> Mapping[str, Fraction]: ...


@dataclass(frozen=True)
class RecipeBook:
    """The recipes a planner knows, indexed: recipe entries by address (from chains, the
    network, an import)."""

    recipes: dict[str, Recipe]
    processes: dict[str, RecipeProcess]
    inputs: dict[str, list[tuple[str, RecipeFlow]]]  # recipe process -> its input flows
    outputs: dict[str, list[tuple[str, RecipeFlow]]]

    @classmethod
    def of(cls, entries: Mapping[str, VfEntry]) -> RecipeBook:
        """Index recipe entries by address (other entries are ignored)."""
        book = cls({}, {}, {}, {})
        for address in sorted(entries):
            entry = entries[address]
            if isinstance(entry, Recipe):
                book.recipes[address] = entry
            elif isinstance(entry, RecipeProcess):
                book.processes[address] = entry
            elif isinstance(entry, RecipeFlow):
                if entry.recipe_input_of is not None:
                    book.inputs.setdefault(entry.recipe_input_of, []).append((address, entry))
                if entry.recipe_output_of is not None:
                    book.outputs.setdefault(entry.recipe_output_of, []).append((address, entry))
        return book

    def maker(self, spec: str, processes: tuple[str, ...]) -> str | None:
        """The first of `processes` with an output that makes `spec`, or None."""
        for process in processes:
            if any(f.action in MAKING and f.resource_conforms_to == spec
                   for _, f in self.outputs.get(process, ())):
                return process
        return None

    def recipe_making(self, spec: str) -> str | None:
        """The recipe whose primaryOutput is `spec` (the lowest address of several)."""
        return min((a for a, r in self.recipes.items() if r.primary_output == spec), default=None)


@dataclass(frozen=True)
class PlannedProcess:
    """One process of the plan: the recipe process it follows, how many times over, when."""

    recipe_process: str
    scale: Fraction
    process: Process  # plannedWithin still unset: see PlanDraft.bind


@dataclass(frozen=True)
class PlannedFlowDraft:
    """One flow of a planned process: a commitment (made in the plan) or an intent (a raw
    input the plan needs from elsewhere), with its exact amount in the recipe flow's unit."""

    recipe_process: str
    recipe_flow: str
    kind: Literal["commitment", "intent"]
    direction: Literal["input", "output"]
    amount: Fraction
    unit: str
    rounded: bool
    entry: Commitment | Intent  # inputOf/outputOf and plannedWithin still unset


@dataclass(frozen=True)
class PlanDraft:
    """What plan_from_recipe builds: the plan, its processes (consumers before producers)
    and flows, and the footprint expected from the raw inputs consumed."""

    plan: Plan
    recipe: str
    processes: tuple[PlannedProcess, ...]
    flows: tuple[PlannedFlowDraft, ...]
    footprint: Vector
    no_footprint: tuple[str, ...]  # specifications of raw consumed inputs with no footprint
    output: str = field(default="")  # the recipe flow of the plan's independent demand

    def bind(self, plan: str, processes: Mapping[str, str]) -> list[Process | Commitment | Intent]:
        """The processes' and flows' entries once the plan and each process (by recipe
        process address) have their addresses: in the order to commit them."""
        out: list[Process | Commitment | Intent] = [
            p.process.model_copy(update={"planned_within": plan}) for p in self.processes]
        for f in self.flows:
            link = "input_of" if f.direction == "input" else "output_of"
            update: dict[str, Any] = {link: processes[f.recipe_process], "planned_within": plan}
            if f.recipe_flow == self.output:
                update["independent_demand_of"] = plan
            out.append(f.entry.model_copy(update=update))
        return out


def _base(measure: Measure) -> Fraction:
    return Fraction(measure.value) * Fraction(UNITS[measure.has_unit].factor)


def _dimension(unit: str) -> str:
    return UNITS[unit].dimension


def measure_of(amount: Fraction, unit: str) -> tuple[Measure, bool]:
    """The amount as a Measure, exact when it can be, else rounded up at PLACES."""
    exact = exact_decimal(amount)
    if exact is not None:
        try:
            return Measure.of(bounded(exact), unit), False
        except UnitError:
            pass
    scaled = amount * 10**PLACES
    rounded = Decimal(-((-scaled.numerator) // scaled.denominator)).scaleb(-PLACES)
    return Measure.of(decimal_string(rounded), unit), True


def _duration_us(process: RecipeProcess) -> int:
    """The recipe process's hasDuration in microseconds, rounded up (0 when it has none)."""
    duration = process.has_duration
    if duration is None:
        return 0
    if _dimension(duration.has_unit) != "time":
        raise PlanningError(f"{process.name!r} lasts {duration}: a duration is a time")
    us = _base(duration) * US
    return -((-us.numerator) // us.denominator)


class _Walk:
    """The processes reachable from the top one, and which feeds which input."""

    def __init__(self, book: RecipeBook, buy: frozenset[str]) -> None:
        self.book, self.buy = book, buy
        self.recipe_of: dict[str, str] = {}  # recipe process -> the recipe it was reached by
        self.feeds: dict[tuple[str, str], str] = {}  # (process, input flow) -> its maker

    def maker(self, spec: str, recipe: str) -> str | None:
        """The process that makes `spec` for a process of `recipe`, or None (a raw input)."""
        if spec in self.buy:
            return None
        own = self.book.maker(spec, self.book.recipes[recipe].recipe_includes)
        if own is not None:
            return own
        other = self.book.recipe_making(spec)
        if other is None:
            return None
        return self.book.maker(spec, self.book.recipes[other].recipe_includes)

    def run(self, top: str, recipe: str) -> dict[str, set[str]]:
        """Process -> the processes feeding it, over everything reachable from `top`."""
        edges: dict[str, set[str]] = {}
        todo = [(top, recipe)]
        self.recipe_of[top] = recipe
        while todo:
            process, within = todo.pop()
            if process in edges:
                continue
            edges[process] = set()
            for address, flow in self.book.inputs.get(process, ()):
                spec = flow.resource_conforms_to
                if flow.action not in DEMANDING or spec is None:
                    continue
                maker = self.maker(spec, within)
                if maker is None:
                    continue
                self.feeds[(process, address)] = maker
                edges[process].add(maker)
                reached = within if maker in self.book.recipes[within].recipe_includes \
                    else self.book.recipe_making(spec)
                assert reached is not None
                self.recipe_of.setdefault(maker, reached)
                todo.append((maker, self.recipe_of[maker]))
        return edges


def _order(edges: Mapping[str, set[str]], top: str) -> list[str]:
    """Consumers before their producers (reverse post-order of a depth-first walk)."""
    seen: set[str] = set()
    post: list[str] = []
    stack: list[tuple[str, list[str]]] = [(top, sorted(edges[top]))]
    seen.add(top)
    while stack:
        node, rest = stack[-1]
        if rest:
            nxt = rest.pop()
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, sorted(edges[nxt])))
        else:
            post.append(node)
            stack.pop()
    return post[::-1]


def _made(book: RecipeBook, process: str, spec: str) -> Fraction:
    """How much of `spec` one run of the recipe process makes (base unit, more than 0)."""
    made = sum((_base(f.resource_quantity) for _, f in book.outputs.get(process, ())
                if f.action in MAKING and f.resource_conforms_to == spec
                and f.resource_quantity is not None), Fraction(0))
    if made <= 0:
        raise PlanningError(f"{book.processes[process].name!r} makes no quantity of {spec}")
    return made


def _check_units(flow: RecipeFlow, maker: RecipeFlow | None, name: str) -> None:
    if flow.resource_quantity is None or maker is None or maker.resource_quantity is None:
        return
    a, b = flow.resource_quantity.has_unit, maker.resource_quantity.has_unit
    if _dimension(a) != _dimension(b):
        raise PlanningError(f"{name!r} needs {flow.resource_quantity} of what is made in {b}: "
                            "units of different dimensions")


def plan_from_recipe(
    book: RecipeBook, recipe: str, quantity: Measure, due: int, *,
    agent: str | None = None, name: str | None = None, buy: frozenset[str] = frozenset(),
    footprints: Mapping[str, PerUnit] | None = None,
) -> PlanDraft:
    """A plan to make `quantity` of `recipe`'s primary output by `due` (microseconds).
    `agent`: the planner, party to every commitment (it performs the processes) and the
    receiver of every intent (the raw inputs it needs); `buy`: specifications never made
    in the plan even when a recipe is known; `footprints`: per specification."""
    top_recipe = book.recipes.get(recipe)
    if top_recipe is None:
        raise PlanningError(f"{recipe} is not a recipe known here")
    primary = top_recipe.primary_output
    if primary is None:
        raise PlanningError(f"recipe {top_recipe.name!r} names no primaryOutput")
    top = book.maker(primary, top_recipe.recipe_includes)
    if top is None or top not in book.processes:
        raise PlanningError(f"no process of recipe {top_recipe.name!r} makes its primary output")
    walk = _Walk(book, buy)
    edges = walk.run(top, recipe)
    cycle = find_cycle(edges)
    if cycle is not None:
        names = " -> ".join(book.processes[p].name for p in cycle)
        raise PlanningError(f"the recipes need their own output: {names}")
    order = _order(edges, top)

    # dependent demand, in base units of each made specification
    demand: dict[str, dict[str, Fraction]] = {top: {primary: Fraction(0)}}
    made_unit = next(f.resource_quantity.has_unit for _, f in book.outputs[top]
                     if f.resource_conforms_to == primary and f.resource_quantity is not None)
    if _dimension(made_unit) != _dimension(quantity.has_unit):
        raise PlanningError(f"{top_recipe.name!r} makes {made_unit}, not {quantity.has_unit}")
    demand[top][primary] = _base(quantity)
    scale: dict[str, Fraction] = {}
    for process in order:
        needs = demand.get(process, {})
        scale[process] = max((amount / _made(book, process, spec)
                              for spec, amount in needs.items()), default=Fraction(0))
        for address, flow in book.inputs.get(process, ()):
            maker = walk.feeds.get((process, address))
            if maker is None or flow.resource_quantity is None:
                continue
            spec = flow.resource_conforms_to
            assert spec is not None
            made = next((f for _, f in book.outputs[maker] if f.resource_conforms_to == spec
                         and f.action in MAKING), None)
            _check_units(flow, made, book.processes[process].name)
            into = demand.setdefault(maker, {})
            into[spec] = into.get(spec, Fraction(0)) + scale[process] * _base(
                flow.resource_quantity)

    # backwards scheduling: a process ends when the first process it feeds begins
    end: dict[str, int] = {top: due}
    begin: dict[str, int] = {}
    for process in order:
        begin[process] = end[process] - _duration_us(book.processes[process])
        if begin[process] < 0:
            raise PlanningError(f"{book.processes[process].name!r} would begin before 1970")
        for maker in edges[process]:
            end[maker] = min(end.get(maker, begin[process]), begin[process])

    plan = Plan(name=name or f"{top_recipe.name}: {quantity}", due=due)
    processes = tuple(
        PlannedProcess(p, scale[p], Process(
            name=book.processes[p].name, based_on=book.processes[p].process_conforms_to,
            has_beginning=begin[p], has_end=end[p],
            classified_as=book.processes[p].process_classified_as))
        for p in order)
    flows: list[PlannedFlowDraft] = []
    output = ""
    footprint: Vector = {}
    no_footprint: set[str] = set()
    for process in order:
        sides: tuple[tuple[Literal["input", "output"], dict[str, Any]], ...] = (
            ("input", book.inputs), ("output", book.outputs))
        for direction, listed in sides:
            for address, flow in listed.get(process, ()):
                draft = _flow(process, address, flow, direction, scale[process],
                              (walk.feeds, agent, begin[process], end[process]))
                flows.append(draft)
                if process == top and direction == "output" and not output \
                        and flow.resource_conforms_to == primary and flow.action in MAKING:
                    output = address
                if draft.kind == "intent" and flow.action in DEMANDING:
                    _add_footprint(footprint, no_footprint, draft, flow, footprints or {})
    return PlanDraft(plan, recipe, processes, tuple(flows), footprint,
                     tuple(sorted(no_footprint)), output)


def _flow(
    process: str, address: str, flow: RecipeFlow, direction: Literal["input", "output"],
    scale: Fraction, context: tuple[dict[tuple[str, str], str], str | None, int, int],
) -> PlannedFlowDraft:
    """One recipe flow of a planned process, scaled: a commitment when the plan makes or
    uses it itself, an intent for a raw input."""
    feeds, agent, begin, end = context
    raw = direction == "input" and (process, address) not in feeds
    resource = effort = None
    rounded = False
    amount, unit = Fraction(0), ""
    if flow.resource_quantity is not None:
        unit = flow.resource_quantity.has_unit
        amount = scale * Fraction(flow.resource_quantity.value)
        resource, rounded = measure_of(amount, unit)
    if flow.effort_quantity is not None:
        effort_amount = scale * Fraction(flow.effort_quantity.value)
        effort, effort_rounded = measure_of(effort_amount, flow.effort_quantity.has_unit)
        rounded = rounded or effort_rounded
        if resource is None:
            amount, unit = effort_amount, flow.effort_quantity.has_unit
    fields: dict[str, Any] = dict(
        action=flow.action, resource_conforms_to=flow.resource_conforms_to,
        resource_classified_as=flow.resource_classified_as, resource_quantity=resource,
        effort_quantity=effort, due=begin if direction == "input" else end,
        stage=flow.stage, state=flow.state, note=flow.note)
    entry: Commitment | Intent
    if raw:
        entry = Intent(receiver=agent, **fields)
    else:
        entry = Commitment(provider=agent, receiver=agent, **fields)
    return PlannedFlowDraft(process, address, "intent" if raw else "commitment", direction,
                            amount, unit, rounded, entry)


def declared_footprint(spec: str | None, amount: Fraction, unit: str,
                       footprints: Mapping[str, PerUnit]) -> Vector | None:
    """`amount` `unit` of `spec` × its declared footprint per unit (None: none declared, or
    declared per a unit of another dimension)."""
    declared = footprints.get(spec) if spec is not None else None
    if declared is None or not unit:
        return None
    try:
        per_unit = declared.per_unit(unit)
    except ValueError:
        return None
    return {key: value * amount for key, value in per_unit.items()}


def _add_footprint(
    into: Vector, missing: set[str], draft: PlannedFlowDraft, flow: RecipeFlow,
    footprints: Mapping[str, PerUnit],
) -> None:
    """Add a raw consumed input's footprint: its amount × its specification's per unit."""
    spec = flow.resource_conforms_to
    found = declared_footprint(spec, draft.amount, draft.unit, footprints)
    if found is None:
        if spec is not None:
            missing.add(spec)
        return
    for key, amount in found.items():
        into[key] = into.get(key, Fraction(0)) + amount
