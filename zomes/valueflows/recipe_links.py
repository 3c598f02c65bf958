"""Recipes as a network commons: the well-known bases a recipe is listed under (links of
type `recipe` from them to the recipe) and the rule peers apply to those links
(docs/validation-rules.md).

A recipe is linked from `recipe_base()` (every recipe) and from `recipe_base(S)` where S is
its primaryOutput, so "the recipes that make bread" asks the authorities of one base, not
every node; any member can then fetch the recipe and plan from it.
"""

from __future__ import annotations

from typing import Final

from node.core.actions import Create, CreateLink
from node.core.cid import Cid
from node.core.outcome import VALID, Invalid, Outcome
from zomes.api import Deps
from zomes.valueflows.entries import Recipe

RECIPE_LINK: Final = "recipe"
"""The link type from a base to a recipe listed under it."""
RECIPE_TYPE: Final = "valueflows.Recipe"
RULES: Final = ("check_recipe_link",)


def recipe_base(spec: str | None = None) -> Cid:
    """The well-known base listing the recipes whose primaryOutput is `spec` (its address
    as text), or every recipe (None): the address of the bytes `coledger:recipes:spec:<spec>`
    or `coledger:recipes:all:` (UTF-8), which every node derives without asking anyone."""
    if spec is None:
        return Cid.of(b"coledger:recipes:all:")
    return Cid.of(b"coledger:recipes:spec:" + spec.encode())


def recipe_bases(recipe: Recipe) -> list[Cid]:
    """Every base a recipe is listed under: all, then its primary output's (if it has one)."""
    bases = [recipe_base()]
    if recipe.primary_output is not None:
        bases.append(recipe_base(recipe.primary_output))
    return bases


def check_recipe_link(link: CreateLink, deps: Deps) -> Outcome:
    """A `recipe` link points to a recipe by the link's author, from the base of every
    recipe or from that of the specification the recipe makes (its primaryOutput)."""
    record = deps.must_get_record(link.target)
    action = record.action
    if (not isinstance(action, Create) or action.entry_type != RECIPE_TYPE
            or record.entry is None):
        return Invalid("check_recipe_link", "a recipe link points to a recipe")
    if action.author != link.author:
        return Invalid("check_recipe_link", "only a recipe's author lists it")
    try:
        recipe = Recipe.from_content(record.entry.value)
    except ValueError:
        return Invalid("check_recipe_link", "a recipe link points to a recipe")
    if link.base not in recipe_bases(recipe):
        return Invalid("check_recipe_link",
                       "a recipe is listed only under all recipes and the specification it "
                       "makes")
    return VALID
