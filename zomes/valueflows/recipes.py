"""The recipes' coordinator: a recipe written from its JSON form, the recipes a chain
holds, and a plan built from one (planning.py) written to the chain.

A recipe document (`coledger recipe create FILE`):

    {"name": "bread", "primaryOutput": SPEC, "note": "...",
     "processes": [{"name": "baking", "hasDuration": "3 hour",
                    "inputs": [{"action": "consume", "resourceConformsTo": SPEC,
                                "resourceQuantity": "50 kg"}, ...],
                    "outputs": [{"action": "produce", "resourceConformsTo": SPEC,
                                 "resourceQuantity": "100 one"}]}],
     "exchanges": [{"name": "buy flour", "clauses": [FLOW...], "reciprocal": [FLOW...]}]}

Quantities are text ("50 kg") or VF measures; the other keys are VF's. Everything goes
in one commit: the processes, their flows, the exchanges, then the Recipe and its links
from the bases it is listed under on the network (recipe_links.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any, Final

from node.core.errors import LocalError
from node.core.records import Record
from node.core.scratch import Scratch
from zomes.valueflows.coordinator import field_measure
from zomes.valueflows.entries import (
    Plan,
    Recipe,
    RecipeExchange,
    RecipeFlow,
    RecipeProcess,
    VfEntry,
)
from zomes.valueflows.messages import describe_error
from zomes.valueflows.offers import ZOME
from zomes.valueflows.planning import (
    PerUnit,
    PlanDraft,
    PlanningError,
    RecipeBook,
    measure_of,
    plan_from_recipe,
)
from zomes.valueflows.recipe_links import RECIPE_LINK, recipe_bases
from zomes.valueflows.units import Measure, UnitError, decimal_string, parse_quantity
from zomes.valueflows.zome import PREFIX, entry_type, parse

RECIPE_NAMES: Final = frozenset(PREFIX + cls.__name__ for cls in (
    Recipe, RecipeProcess, RecipeExchange, RecipeFlow))
_QUANTITIES: Final = ("resourceQuantity", "effortQuantity", "hasDuration")


def _measures(content: Mapping[str, Any], what: str) -> dict[str, Any]:
    """`content` with its quantities given as text ("50 kg") made VF measures."""
    out = dict(content)
    for key in _QUANTITIES:
        if isinstance(out.get(key), str):
            try:
                out[key] = parse_quantity(out[key]).to_content()
            except UnitError as e:
                raise LocalError(f"{what}: {key}: {e}") from None
    return out


def _build(cls: type[VfEntry], content: Any, what: str) -> VfEntry:
    if not isinstance(content, dict):
        raise LocalError(f"{what} is a JSON object")
    try:
        return cls.from_content(_measures(content, what))
    except ValueError as e:
        raise LocalError(f"{what}: {describe_error(e)}") from None


def _list(document: Mapping[str, Any], key: str, what: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise LocalError(f"{what}: {key} is a list")
    return value


# the parts of a recipe document: (its key, the entry type, what to call one, and the
# lists of flows each holds: key, the property linking a flow to it, what to call one)
_PARTS: Final = (
    ("processes", RecipeProcess, "process",
     (("inputs", "recipeInputOf", "input"), ("outputs", "recipeOutputOf", "output"))),
    ("exchanges", RecipeExchange, "exchange",
     (("clauses", "recipeClauseOf", "clause"),
      ("reciprocal", "recipeReciprocalClauseOf", "reciprocal"))),
)


def create_recipe(scratch: Scratch, document: Any) -> dict[str, Any]:
    """Write a recipe document's entries (see the module's docstring); what was written."""
    if not isinstance(document, dict):
        raise LocalError("a recipe is a JSON object with a name, primaryOutput and processes")
    written: dict[str, list[str]] = {"processes": [], "exchanges": [], "flows": []}
    for key, cls, called, lists in _PARTS:
        for n, given in enumerate(_list(document, key, "the recipe"), 1):
            what = f"{called} {n}"
            if not isinstance(given, dict):
                raise LocalError(f"{what} is a JSON object")
            own = {k: v for k, v in given.items() if k not in {k for k, _, _ in lists}}
            part = _build(cls, own, what)
            address = str(scratch.create(entry_type(cls), part.to_content()))
            written[key].append(address)
            for flows_key, link, one in lists:
                for m, content in enumerate(_list(given, flows_key, what), 1):
                    merged = dict(content, **{link: address}) if isinstance(content, dict) \
                        else content
                    flow = _build(RecipeFlow, merged, f"{what}, {one} {m}")
                    written["flows"].append(
                        str(scratch.create(entry_type(RecipeFlow), flow.to_content())))
    head = {k: v for k, v in document.items() if k not in ("processes", "exchanges")}
    recipe = _build(Recipe, dict(head, recipeIncludes=written["processes"]), "the recipe")
    assert isinstance(recipe, Recipe)
    made = scratch.create(entry_type(Recipe), recipe.to_content())
    # listed on the network (recipe_links.py): a shared design any member can plan from
    links = [str(scratch.create_link(base, made, ZOME, RECIPE_LINK))
             for base in recipe_bases(recipe)]
    return {"address": str(made), "name": document.get("name"), **written, "links": links}


def recipe_entries(records: Iterable[Record]) -> dict[str, VfEntry]:
    """The recipe entries among `records` (validated ones: a chain, a DHT store), by the
    address that names each."""
    found: dict[str, VfEntry] = {}
    for record in records:
        name = getattr(record.action, "entry_type", None)
        if name in RECIPE_NAMES and record.entry is not None:
            found[str(record.address)] = parse(name, record.entry.value)
    return found


def list_recipes(book: RecipeBook, authors: Mapping[str, str]) -> list[dict[str, Any]]:
    """The recipes of a book, by name: what each makes and of which processes."""
    return [
        {"address": address, "name": recipe.name, "primaryOutput": recipe.primary_output,
         "author": authors.get(address),
         "processes": [book.processes[p].name if p in book.processes else p
                       for p in recipe.recipe_includes]}
        for address, recipe in sorted(book.recipes.items(), key=lambda i: (i[1].name, i[0]))
    ]


def commit_plan(
    scratch: Scratch, book: RecipeBook, recipe: str, quantity: str, due_us: int, agent: str,
    name: str | None, buy: Iterable[str], footprints: Mapping[str, PerUnit],
) -> tuple[PlanDraft, dict[str, Any]]:
    """`coledger plan from-recipe`: the plan, its processes and flows written in one go;
    the draft and what was written (plan_json; its footprint as numbers in the units the
    caller's footprints use)."""
    measure = field_measure(quantity, "quantity")
    assert measure is not None  # (a text was given)
    try:
        draft = plan_from_recipe(book, recipe, measure, due_us, agent=agent, name=name,
                                 buy=frozenset(buy), footprints=footprints)
    except PlanningError as e:
        raise LocalError(str(e)) from None
    plan = scratch.create(entry_type(Plan), draft.plan.to_content())
    processes: dict[str, str] = {}
    for planned in draft.processes:
        bound = planned.process.model_copy(update={"planned_within": str(plan)})
        processes[planned.recipe_process] = str(
            scratch.create(entry_type(type(bound)), bound.to_content()))
    flows = draft.bind(str(plan), processes)[len(draft.processes):]
    written = [str(scratch.create(entry_type(type(e)), e.to_content())) for e in flows]
    return draft, plan_json(draft, str(plan), processes, written)


def plan_json(draft: PlanDraft, plan: str, processes: Mapping[str, str],
              flows: list[str]) -> dict[str, Any]:
    """A plan as `--json` shows it: its processes and flows with their addresses."""
    return {
        "address": plan,
        "name": draft.plan.name,
        "due": draft.plan.due,
        "recipe": draft.recipe,
        "processes": [
            {"address": processes[p.recipe_process], "name": p.process.name,
             "recipeProcess": p.recipe_process, "scale": _number(p.scale),
             "hasBeginning": p.process.has_beginning, "hasEnd": p.process.has_end}
            for p in draft.processes],
        "flows": [
            {"address": address, "kind": f.kind, "direction": f.direction,
             "process": processes[f.recipe_process], "action": f.entry.action,
             "resourceConformsTo": f.entry.resource_conforms_to,
             "quantity": (f.entry.resource_quantity or f.entry.effort_quantity or
                          Measure.of(0, "one")).to_content(),
             "rounded": f.rounded, "due": f.entry.due}
            for address, f in zip(flows, draft.flows, strict=True)],
        "footprint": {key: _number(value) for key, value in sorted(draft.footprint.items())},
        "noFootprint": list(draft.no_footprint),
    }


def _number(value: Fraction) -> str:
    """An exact Fraction as decimal text (rounded up at 6 places when it does not end)."""
    return decimal_string(measure_of(value, "one")[0].value)
