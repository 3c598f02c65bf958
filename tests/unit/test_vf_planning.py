"""Planning from recipes (zomes.valueflows.planning): dependent demand, scaled, scheduled
backwards, shared inputs counted once, cycles refused, the footprint rolled up.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.cid import Cid
from zomes.accounting.entries import Factor, SpecFootprint
from zomes.valueflows.entries import (
    Commitment,
    Intent,
    Process,
    Recipe,
    RecipeFlow,
    RecipeProcess,
    VfEntry,
)
from zomes.valueflows.planning import PlanningError, RecipeBook, plan_from_recipe
from zomes.valueflows.units import Measure

HOUR = 3600 * 1_000_000
DUE = 1_800_000_000_000_000
AGENT = "12D3KooWEpywxUQBRdxCvQkiYnYng8Jk299rKkmEuDfiAE2DZKjs"


def addr(name: str) -> str:
    return str(Cid.of(name.encode()))


FLOUR, WATER, BREAD, WHEAT, BRAN, CAKE, BOX = (
    addr(s) for s in ("flour", "water", "bread", "wheat", "bran", "cake", "box"))


class Book:
    """Recipe entries by address, written the way a chain holds them."""

    def __init__(self) -> None:
        self.entries: dict[str, VfEntry] = {}
        self.count = 0

    def put(self, entry: VfEntry) -> str:
        self.count += 1
        address = addr(f"entry {self.count}")
        self.entries[address] = entry
        return address

    def process(self, name: str, hours: int | None = None,
                inputs: tuple[tuple[str, str, str], ...] = (),
                outputs: tuple[tuple[str, str, str], ...] = ()) -> str:
        """A recipe process; flows as (action, spec, quantity) with quantity "50 kg"."""
        duration = Measure.of(hours, "hour") if hours is not None else None
        process = self.put(RecipeProcess(name=name, has_duration=duration))
        for action, spec, text in inputs:
            value, unit = text.split()
            quantity = Measure.of(value, unit)
            self.put(RecipeFlow(action=action, recipe_input_of=process, resource_conforms_to=spec,
                                **({"effort_quantity": quantity} if action == "work"
                                   else {"resource_quantity": quantity})))
        for action, spec, text in outputs:
            value, unit = text.split()
            self.put(RecipeFlow(action=action, recipe_output_of=process, resource_conforms_to=spec,
                                resource_quantity=Measure.of(value, unit)))
        return process

    def recipe(self, name: str, output: str, *processes: str) -> str:
        return self.put(Recipe(name=name, primary_output=output, recipe_includes=processes))

    def book(self) -> RecipeBook:
        return RecipeBook.of(self.entries)


def bakery_and_mill() -> tuple[Book, str, str, str]:
    b = Book()
    baking = b.process("baking", 3, inputs=(("consume", FLOUR, "50 kg"),
                                            ("consume", WATER, "30 l"),
                                            ("work", addr("baker"), "2 hour")),
                       outputs=(("produce", BREAD, "100 one"),))
    bread = b.recipe("bread", BREAD, baking)
    milling = b.process("milling", 2, inputs=(("consume", WHEAT, "0.1 t"),),
                        outputs=(("produce", FLOUR, "80 kg"), ("produce", BRAN, "20 kg")))
    b.recipe("flour", FLOUR, milling)
    return b, bread, baking, milling


def amounts(draft, kind: str | None = None) -> dict[tuple[str, str], Measure]:  # type: ignore[no-untyped-def]
    """(recipe process, action/spec) -> quantity of each planned flow."""
    out = {}
    for f in draft.flows:
        if kind is None or f.kind == kind:
            quantity = f.entry.resource_quantity or f.entry.effort_quantity
            out[(f.recipe_process, f"{f.entry.action} {f.entry.resource_conforms_to}")] = quantity
    return out


def test_a_plan_walks_dependent_recipes_down_to_raw_inputs() -> None:
    b, bread, baking, milling = bakery_and_mill()
    draft = plan_from_recipe(b.book(), bread, Measure.of(400, "one"), DUE, agent=AGENT)
    assert [p.recipe_process for p in draft.processes] == [baking, milling]
    assert [p.scale for p in draft.processes] == [4, Fraction(5, 2)]
    got = amounts(draft)
    assert got[(baking, f"consume {FLOUR}")] == Measure.of(200, "kg")
    assert got[(baking, f"consume {WATER}")] == Measure.of(120, "l")
    assert got[(baking, f"work {addr('baker')}")] == Measure.of(8, "hour")
    assert got[(baking, f"produce {BREAD}")] == Measure.of(400, "one")
    assert got[(milling, f"consume {WHEAT}")] == Measure.of("0.25", "t")
    assert got[(milling, f"produce {BRAN}")] == Measure.of(50, "kg")
    # raw inputs are intents (needs); what the plan makes and uses of its own, commitments
    assert set(amounts(draft, "intent")) == {
        (baking, f"consume {WATER}"), (baking, f"work {addr('baker')}"),
        (milling, f"consume {WHEAT}")}
    intent = next(f.entry for f in draft.flows if f.kind == "intent")
    assert isinstance(intent, Intent) and intent.receiver == AGENT and intent.provider is None


def test_processes_are_scheduled_backwards_from_the_due_date() -> None:
    b, bread, baking, milling = bakery_and_mill()
    draft = plan_from_recipe(b.book(), bread, Measure.of(400, "one"), DUE)
    times = {p.recipe_process: (p.process.has_beginning, p.process.has_end)
             for p in draft.processes}
    assert times[baking] == (DUE - 3 * HOUR, DUE)
    assert times[milling] == (DUE - 5 * HOUR, DUE - 3 * HOUR)
    flour_in = next(f.entry for f in draft.flows
                    if f.recipe_process == baking and f.entry.resource_conforms_to == FLOUR)
    assert flour_in.due == DUE - 3 * HOUR  # an input is due when its process begins
    assert draft.plan.due == DUE


def test_bind_links_the_entries_to_the_plan_and_its_processes() -> None:
    b, bread, baking, milling = bakery_and_mill()
    draft = plan_from_recipe(b.book(), bread, Measure.of(400, "one"), DUE, agent=AGENT)
    plan, addresses = addr("the plan"), {baking: addr("p1"), milling: addr("p2")}
    entries = draft.bind(plan, addresses)
    assert [type(e) for e in entries[:2]] == [Process, Process]
    assert all(e.planned_within == plan for e in entries)
    top = [e for e in entries if isinstance(e, Commitment) and e.independent_demand_of == plan]
    assert len(top) == 1 and top[0].resource_conforms_to == BREAD
    assert top[0].output_of == addresses[baking]
    assert top[0].provider == top[0].receiver == AGENT
    # every entry is content ready to commit: it parses back as itself
    for entry in entries:
        assert type(entry).from_content(entry.to_content()) == entry


def test_units_are_converted_and_inexact_amounts_rounded_up() -> None:
    b, bread, _, _ = bakery_and_mill()
    draft = plan_from_recipe(b.book(), bread, Measure.of("0.1", "one"), DUE)
    wheat = next(f for f in draft.flows if f.entry.resource_conforms_to == WHEAT)
    assert wheat.amount == Fraction(1, 16000) and not wheat.rounded  # t: 50 g of flour
    b2 = Book()
    p = b2.process("split", inputs=(("consume", WATER, "1 l"),),
                   outputs=(("produce", BOX, "3 one"),))
    r = b2.recipe("thirds", BOX, p)
    third = plan_from_recipe(b2.book(), r, Measure.of(1, "one"), DUE)
    water = next(f for f in third.flows if f.direction == "input")
    assert water.amount == Fraction(1, 3) and water.rounded
    assert water.entry.resource_quantity == Measure.of("0.333334", "l")


def test_a_buy_list_stops_the_walk() -> None:
    b, bread, baking, _ = bakery_and_mill()
    draft = plan_from_recipe(b.book(), bread, Measure.of(400, "one"), DUE, buy=frozenset({FLOUR}))
    assert [p.recipe_process for p in draft.processes] == [baking]
    assert (baking, f"consume {FLOUR}") in amounts(draft, "intent")


def test_a_shared_input_is_made_once_for_the_sum() -> None:
    b = Book()
    bread_p = b.process("bread", 1, inputs=(("consume", FLOUR, "0.5 kg"),),
                        outputs=(("produce", BREAD, "1 one"),))
    cake_p = b.process("cake", 2, inputs=(("consume", FLOUR, "200 g"),),
                       outputs=(("produce", CAKE, "1 one"),))
    box_p = b.process("box", 1, inputs=(("consume", BREAD, "2 one"), ("consume", CAKE, "1 one")),
                      outputs=(("produce", BOX, "1 one"),))
    box = b.recipe("breakfast box", BOX, box_p, bread_p, cake_p)
    milling = b.process("milling", 1, inputs=(("consume", WHEAT, "100 kg"),),
                        outputs=(("produce", FLOUR, "80 kg"),))
    b.recipe("flour", FLOUR, milling)
    draft = plan_from_recipe(b.book(), box, Measure.of(10, "one"), DUE)
    planned = [p.recipe_process for p in draft.processes]
    assert sorted(planned) == sorted([box_p, bread_p, cake_p, milling])  # milling once
    assert planned[0] == box_p and planned[-1] == milling
    made = amounts(draft)[(milling, f"produce {FLOUR}")]
    assert made == Measure.of(12, "kg")  # 10 for the bread, 2 for the cakes
    assert amounts(draft)[(milling, f"consume {WHEAT}")] == Measure.of(15, "kg")
    # milling ends when the first process needing flour (cake, 2 h) begins
    end = {p.recipe_process: p.process.has_end for p in draft.processes}
    assert end[milling] == DUE - 3 * HOUR


def test_a_cycle_across_recipes_is_refused() -> None:
    b, bread, _, milling = bakery_and_mill()
    b.put(RecipeFlow(action="consume", recipe_input_of=milling, resource_conforms_to=BREAD,
                     resource_quantity=Measure.of(1, "one")))
    with pytest.raises(PlanningError, match="need their own output: milling -> baking -> milling"):
        plan_from_recipe(b.book(), bread, Measure.of(400, "one"), DUE)


@pytest.mark.parametrize("quantity, message", [
    (Measure.of(4, "kg"), "makes one, not kilogram"),
])
def test_what_cannot_be_planned_says_why(quantity: Measure, message: str) -> None:
    b, bread, _, _ = bakery_and_mill()
    with pytest.raises(PlanningError, match=message):
        plan_from_recipe(b.book(), bread, quantity, DUE)
    with pytest.raises(PlanningError, match="not a recipe known here"):
        plan_from_recipe(b.book(), addr("nothing"), quantity, DUE)


def test_the_footprint_rolls_up_from_raw_consumed_inputs() -> None:
    b, bread, _, _ = bakery_and_mill()
    wheat = SpecFootprint(specification=WHEAT, per="tonne", factors=(
        Factor(kind="emissions", quantity=Measure.of(300, "kgCO2e")),
        Factor(kind="energy", quantity=Measure.of(1000, "MJ"))))
    draft = plan_from_recipe(b.book(), bread, Measure.of(400, "one"), DUE,
                             footprints={WHEAT: wheat})
    assert draft.footprint == {"emissions": Fraction(75), "energy": Fraction(250)}  # 0.25 t
    assert draft.no_footprint == (WATER,)  # flour is made in the plan: its wheat counts


# Properties over random recipe graphs: spec i is made by recipe i (one process), which
# consumes some specs j > i (a DAG) and raw specs, so spec 0 is the plan's output.

@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[int], list[dict[int, int]]]:
    n = draw(st.integers(1, 6))
    made = [draw(st.sampled_from([1, 2, 4, 5, 10])) for _ in range(n)]
    needs = [draw(st.dictionaries(st.integers(i + 1, n + 2), st.integers(1, 9), max_size=3))
             for i in range(n)]
    return n, made, needs


def build(n: int, made: list[int], needs: list[dict[int, int]]) -> tuple[RecipeBook, str]:
    b = Book()
    specs = [addr(f"spec {i}") for i in range(n + 3)]
    first = ""
    for i in range(n):
        p = b.process(f"make {i}", 1, inputs=tuple(
            ("consume", specs[j], f"{q} kg") for j, q in sorted(needs[i].items())),
            outputs=(("produce", specs[i], f"{made[i]} kg"),))
        r = b.recipe(f"recipe {i}", specs[i], p)
        first = first or r
    return b.book(), first


def naive(i: int, amount: Fraction, n: int, made: list[int], needs: list[dict[int, int]],
          raw: dict[int, Fraction], runs: dict[int, Fraction]) -> None:
    """The tree expansion: every path separately (a shared input expanded per consumer)."""
    times = amount / made[i]
    runs[i] = runs.get(i, Fraction(0)) + times
    for j, q in needs[i].items():
        if j < n:
            naive(j, times * q, n, made, needs, raw, runs)
        else:
            raw[j] = raw.get(j, Fraction(0)) + times * q


@given(graphs(), st.integers(1, 1000), st.integers(2, 7))
def test_scaling_is_linear(graph, quantity: int, factor: int) -> None:  # type: ignore[no-untyped-def]
    book, recipe = build(*graph)
    one = plan_from_recipe(book, recipe, Measure.of(quantity, "kg"), DUE)
    more = plan_from_recipe(book, recipe, Measure.of(quantity * factor, "kg"), DUE)
    assert [p.scale * factor for p in one.processes] == [p.scale for p in more.processes]
    assert [f.amount * factor for f in one.flows] == [f.amount for f in more.flows]


@given(graphs(), st.integers(1, 1000))
def test_shared_inputs_are_planned_once_and_counted_as_the_tree_counts_them(  # type: ignore[no-untyped-def]
    graph, quantity: int
) -> None:
    n, made, needs = graph
    book, recipe = build(n, made, needs)
    draft = plan_from_recipe(book, recipe, Measure.of(quantity, "kg"), DUE)
    processes = [p.recipe_process for p in draft.processes]
    assert len(processes) == len(set(processes))  # each recipe process once
    raw: dict[int, Fraction] = {}
    runs: dict[int, Fraction] = {}
    naive(0, Fraction(quantity), n, made, needs, raw, runs)
    assert sorted(p.scale for p in draft.processes) == sorted(runs.values())
    planned_raw: dict[str, Fraction] = {}
    for f in draft.flows:
        if f.kind == "intent":
            spec = f.entry.resource_conforms_to
            planned_raw[spec] = planned_raw.get(spec, Fraction(0)) + f.amount  # type: ignore[index]
    assert planned_raw == {addr(f"spec {j}"): amount for j, amount in raw.items()}


@given(graphs(), st.data())
def test_a_cycle_is_refused(graph, data) -> None:  # type: ignore[no-untyped-def]
    n, made, needs = graph
    book, recipe = build(n, made, needs)
    draft = plan_from_recipe(book, recipe, Measure.of(1, "kg"), DUE)
    reached = sorted(int(book.processes[p.recipe_process].name.split()[1])
                     for p in draft.processes)
    i = data.draw(st.sampled_from(reached))  # a planned process consumes spec 0: a loop
    needs = [dict(d) for d in needs]
    needs[i][0] = 1
    looped, recipe = build(n, made, needs)
    with pytest.raises(PlanningError, match="need their own output"):
        plan_from_recipe(looped, recipe, Measure.of(1, "kg"), DUE)
