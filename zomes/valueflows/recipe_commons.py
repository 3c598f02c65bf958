"""Recipes read from the network, as the coordinator needs them: the listing of one base
(every recipe, or those making one specification; recipe_links.py), and the recipe book a
plan from another member's recipe needs: that recipe, its processes and flows (from its
author's chain) and the recipes it depends on (found through the base of each input it
consumes that no known recipe makes).

Pure: it reads only what its callables answer (a Client's links and get, the chains its
node fetches), leaves out anything malformed, and is bounded in what it asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from node.core.errors import CoreError
from node.core.records import Record
from zomes.valueflows.entries import Recipe, VfEntry
from zomes.valueflows.offers import MAX_PAGES, Fetch, LinksPage, fetched_entry
from zomes.valueflows.planning import RecipeBook
from zomes.valueflows.recipe_links import RECIPE_TYPE, recipe_base
from zomes.valueflows.recipe_rules import DEMANDING
from zomes.valueflows.recipes import recipe_entries

MAX_LISTED: Final = 500
"""Recipes a listing reads at most (the lowest addresses; each and its processes fetched)."""
MAX_PROCESSES: Final = 64
"""Processes of one recipe a listing names at most (each is fetched)."""
MAX_CHAINS: Final = 16
"""Authors' chains a plan from the network's recipes fetches at most."""
MAX_SPECS: Final = 64
"""Specifications whose recipes a plan from the network's recipes looks up at most."""

Chains = Callable[[list[str]], Iterable[Record]]
"""authors -> the records of their chains (fetched from the network, verified)."""


def _targets(base: str, links_page: LinksPage) -> dict[str, str]:
    """The targets of the links from `base`, each with the author of its first link."""
    targets: dict[str, str] = {}
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = links_page(base, after)
        for link in page.get("links", []):
            targets.setdefault(str(link["target"]), str(link["author"]))
        after = page.get("next")
        if after is None:
            break
    return targets


def _recipe(fetch: Fetch, address: str, author: str | None = None) -> Recipe | None:
    """The Recipe at `address` (by `author`, if given), or None."""
    entry = fetched_entry(fetch, address, RECIPE_TYPE, author)
    try:
        return None if entry is None else Recipe.from_content(entry)
    except ValueError:
        return None


def _name(fetch: Fetch, address: str) -> str:
    """A recipe process's name (its address when it cannot be read)."""
    try:
        found = fetch(address)
    except CoreError:
        return address
    entry = found.get("entry") if isinstance(found, dict) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) else address


def _once(fetch: Fetch) -> Fetch:
    """`fetch` asking for each address once (its answer, or its error, kept)."""
    seen: dict[str, dict[str, Any] | None | CoreError] = {}

    def once(address: str) -> dict[str, Any] | None:
        if address not in seen:
            try:
                seen[address] = fetch(address)
            except CoreError as e:
                seen[address] = e
        found = seen[address]
        if isinstance(found, CoreError):
            raise found
        return found

    return once


def list_network_recipes(spec: str | None, links_page: LinksPage,
                         fetch: Fetch) -> list[dict[str, Any]]:
    """The recipes the network lists under `spec`'s base (every recipe: None), by name, as
    `recipes.list_recipes` shows a book's: what each makes, of which processes, whose."""
    rows = []
    targets = _targets(str(recipe_base(spec)), links_page)
    for target in sorted(targets)[:MAX_LISTED]:
        author = targets[target]
        recipe = _recipe(fetch, target, author)
        if recipe is None or (spec is not None and recipe.primary_output != spec):
            continue
        rows.append({"address": target, "name": recipe.name,
                     "primaryOutput": recipe.primary_output, "author": author,
                     "processes": [_name(fetch, p)
                                   for p in recipe.recipe_includes[:MAX_PROCESSES]]})
    return sorted(rows, key=lambda r: (r["name"], r["address"]))


def _entries(records: Iterable[Record]) -> dict[str, VfEntry]:
    """The recipe entries of `records`, each record on its own (a malformed one left out)."""
    found: dict[str, VfEntry] = {}
    for record in records:
        try:
            found.update(recipe_entries([record]))
        except ValueError:
            continue
    return found


def _walk(book: RecipeBook, recipe: str, buy: frozenset[str]) -> tuple[list[str], list[str]]:
    """(the recipes a plan from `recipe` walks: it and the known recipes making what their
    processes consume, the specifications they consume that no known recipe makes: where
    to look on the network); what is in `buy` is sourced, never made."""
    todo, seen, missing = [recipe], [recipe], []
    while todo:
        processes = book.recipes[todo.pop()].recipe_includes
        for process in processes:
            for _, flow in book.inputs.get(process, ()):
                spec = flow.resource_conforms_to
                if flow.action not in DEMANDING or spec is None or spec in buy:
                    continue
                if book.maker(spec, processes) is not None:
                    continue
                maker = book.recipe_making(spec)
                if maker is None:
                    missing.append(spec)
                elif maker not in seen:
                    seen.append(maker)
                    todo.append(maker)
    return seen, list(dict.fromkeys(missing))


def network_book(recipe: str, known: Mapping[str, VfEntry], fetch: Fetch,
                 links_page: LinksPage, chains: Chains, buy: frozenset[str] = frozenset(),
                 whole: frozenset[str] = frozenset()) -> tuple[dict[str, VfEntry], list[Record]]:
    """The recipe entries a plan from `recipe` needs, beyond those `known` (a part of some
    chains, whole for the authors in `whole`): the chain of its author, and of the author of
    each known recipe the plan walks; then, for each input consumed that no known recipe
    makes (and is not in `buy`), the recipe the network lists under that specification
    (the lowest address), its author's chain fetched in turn, down to raw inputs.
    (entries, the records of the chains fetched: their footprints count.)"""
    fetch = _once(fetch)
    entries = dict(known)
    fetched: list[Record] = []
    authors: set[str] = set(whole)

    def add_chain_of(address: str) -> bool:
        """Fetch the chain of the author of the recipe at `address` (once, if a recipe)."""
        if _recipe(fetch, address) is None:
            return False
        found = fetch(address)
        action = found.get("action") if isinstance(found, dict) else None
        author = action.get("author") if isinstance(action, dict) else None
        if (not isinstance(author, str) or author in authors
                or len(authors) - len(whole) >= MAX_CHAINS):
            return False
        authors.add(author)
        records = list(chains([author]))
        fetched.extend(records)
        entries.update(_entries(records))
        return True

    add_chain_of(recipe)
    asked: set[str] = set()
    while recipe in (book := RecipeBook.of(entries)).recipes:
        walked, unmade = _walk(book, recipe, buy)
        if any([add_chain_of(r) for r in walked]):  # (each, then the book again)
            continue
        wanted = [s for s in unmade if s not in asked]
        if not wanted or len(asked) >= MAX_SPECS:
            break
        for spec in wanted[:MAX_SPECS - len(asked)]:
            asked.add(spec)
            listed = sorted(t for t, a in _targets(str(recipe_base(spec)), links_page).items()
                            if _recipe(fetch, t, a) is not None)
            if listed:
                add_chain_of(listed[0])
    return entries, fetched
