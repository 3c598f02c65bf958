"""Recipes as a network commons: the `recipe` link rule (zomes.valueflows.recipe_links), kept
by a recipe listed under its own bases by its author and broken once each way; the
network's listing of a base and the recipe book a plan from another member's recipe
fetches (zomes.valueflows.recipe_commons), read through a Client's two callables."""

from __future__ import annotations

from typing import Any

from node.core.actions import CreateLink
from node.core.cid import Cid
from node.core.identity import AgentKey
from node.core.jsonview import record_json
from node.core.ops import OpType
from node.core.outcome import Invalid, Valid
from node.core.records import Record
from node.testing import MemoryAgent
from tests.two_members import TwoMembers
from zomes.valueflows.planning import RecipeBook, plan_from_recipe
from zomes.valueflows.recipe_commons import list_network_recipes, network_book
from zomes.valueflows.recipe_links import RECIPE_LINK, RULES, recipe_base, recipe_bases
from zomes.valueflows.units import parse_quantity

NOW = 1_800_000_000_000_000
NET = TwoMembers("recipe links", AgentKey(b"\x70" * 32), AgentKey(b"\x71" * 32), NOW)


def create(agent: MemoryAgent, local: str, content: dict[str, Any]) -> Record:
    agent.create(f"valueflows.{local}", content)
    return agent.records[-1]


def spec(agent: MemoryAgent, name: str, unit: str = "kilogram") -> str:
    return str(create(agent, "ResourceSpecification",
                      {"name": name, "defaultUnitOfResource": unit}).address)


def q(text: str) -> dict[str, str]:
    return parse_quantity(text).to_content()


def recipe(agent: MemoryAgent, name: str, makes: str, needs: list[tuple[str, str]],
           made: str) -> str:
    """A one-process recipe making `made` of `makes` from `needs`, listed by its author."""
    process = str(create(agent, "RecipeProcess", {"name": name + "ing"}).address)
    for what, how_much in needs:
        create(agent, "RecipeFlow", {"action": "consume", "resourceConformsTo": what,
                                     "resourceQuantity": q(how_much), "recipeInputOf": process})
    create(agent, "RecipeFlow", {"action": "produce", "resourceConformsTo": makes,
                                 "resourceQuantity": q(made), "recipeOutputOf": process})
    address = create(agent, "Recipe", {"name": name, "primaryOutput": makes,
                                       "recipeIncludes": [process]}).address
    for base in recipe_bases(_parsed(agent)):
        agent.commit(lambda s, b=base: s.create_link(b, address, "valueflows", RECIPE_LINK))
    return str(address)


def _parsed(agent: MemoryAgent) -> Any:
    from zomes.valueflows.entries import Recipe

    entry = agent.records[-1].entry
    assert entry is not None
    return Recipe.from_content(entry.value)


def link(agent: MemoryAgent, base: Cid, target: str) -> Record:
    agent.commit(lambda s: s.create_link(base, Cid.parse(target), "valueflows", RECIPE_LINK))
    return agent.records[-1]


def test_the_rule_is_listed_and_the_bases_are_well_known() -> None:
    assert RULES == ("check_recipe_link",)
    assert recipe_base("bafyspec") == Cid.of(b"coledger:recipes:spec:bafyspec")
    assert recipe_base() == Cid.of(b"coledger:recipes:all:")


def test_check_recipe_link_only_a_real_recipe_by_its_author_under_what_it_makes() -> None:
    mill, other = NET.members()
    wheat, flour = spec(mill, "wheat"), spec(mill, "flour")
    flour_recipe = recipe(mill, "flour", flour, [(wheat, "100 kg")], "80 kg")
    listed = [r for r in mill.records if isinstance(r.action, CreateLink)]
    assert [r.action.base for r in listed] == [recipe_base(), recipe_base(flour)]
    for record in listed:
        for op_type in (OpType.REGISTER_AGENT_ACTIVITY, OpType.REGISTER_ADD_LINK):
            assert NET.judge(record, mill, op_type=op_type) == Valid()

    def broken(record: Record) -> str:
        outcome = NET.judge(record, mill, other, op_type=OpType.REGISTER_ADD_LINK)
        assert isinstance(outcome, Invalid) and outcome.rule == "check_recipe_link", outcome
        return outcome.reason

    assert "listed only under" in broken(link(mill, recipe_base(wheat), flour_recipe))
    assert "listed only under" in broken(link(mill, Cid.of(b"anywhere"), flour_recipe))
    assert "points to a recipe" in broken(link(mill, recipe_base(flour), flour))
    assert "only a recipe's author" in broken(link(other, recipe_base(flour), flour_recipe))


class Network:
    """links_page, fetch and chains over members' records, as a Client answers them."""

    def __init__(self, *agents: MemoryAgent) -> None:
        self.agents = agents
        self.records = {str(r.address): r for a in agents for r in a.records}
        self.fetched: list[str] = []
        self.chains_asked: list[str] = []

    def links_page(self, base: str, after: str | None) -> dict[str, Any]:
        found = [{"target": str(r.action.target), "author": str(r.action.author)}
                 for r in self.records.values()
                 if isinstance(r.action, CreateLink) and str(r.action.base) == base]
        return {"links": found, "next": None}

    def fetch(self, address: str) -> dict[str, Any] | None:
        self.fetched.append(address)
        record = self.records.get(address)
        return None if record is None else record_json(record)

    def chains(self, authors: list[str]) -> list[Record]:
        self.chains_asked += authors
        return [r for a in self.agents if str(a.agent_id) in authors for r in a.records]


def test_the_network_lists_a_specifications_recipes_and_every_recipe() -> None:
    mill, bakery = NET.members()
    wheat, flour = spec(mill, "wheat"), spec(mill, "flour")
    made = recipe(mill, "flour", flour, [(wheat, "100 kg")], "80 kg")
    bread = spec(bakery, "bread", "one")
    loaves = recipe(bakery, "bread", bread, [(flour, "50 kg")], "100 one")
    net = Network(mill, bakery)
    rows = list_network_recipes(flour, net.links_page, net.fetch)
    assert [(r["address"], r["name"], r["primaryOutput"], r["author"], r["processes"])
            for r in rows] == [(made, "flour", flour, str(mill.agent_id), ["flouring"])]
    assert [r["address"] for r in list_network_recipes(None, net.links_page, net.fetch)] == [
        loaves, made]
    assert list_network_recipes(wheat, net.links_page, net.fetch) == []


def test_a_plan_from_another_members_recipe_fetches_it_and_the_recipes_it_depends_on() -> None:
    mill, bakery = NET.members()
    wheat, flour = spec(mill, "wheat"), spec(mill, "flour")
    recipe(mill, "flour", flour, [(wheat, "100 kg")], "80 kg")
    bread = spec(bakery, "bread", "one")
    loaves = recipe(bakery, "bread", bread, [(flour, "40 kg")], "100 one")
    net = Network(mill, bakery)
    entries, fetched = network_book(loaves, {}, net.fetch, net.links_page, net.chains)
    assert net.chains_asked == [str(bakery.agent_id), str(mill.agent_id)]
    assert len(fetched) == len(bakery.records) + len(mill.records)
    assert sorted(set(net.fetched)) == sorted(net.fetched)  # each record fetched once
    draft = plan_from_recipe(RecipeBook.of(entries), loaves, parse_quantity("400 one"),
                             NOW, agent="12D3KooW" + "C" * 44)
    assert [p.process.name for p in draft.processes] == ["breading", "flouring"]
    assert [(f.entry.resource_conforms_to, f.amount) for f in draft.flows
            if f.kind == "intent"] == [(wheat, 200)]
    # to source flour instead: the mill's chain is not fetched
    net = Network(mill, bakery)
    entries, _ = network_book(loaves, {}, net.fetch, net.links_page, net.chains,
                              buy=frozenset({flour}))
    assert net.chains_asked == [str(bakery.agent_id)]
    # an unknown address: nothing fetched, nothing known
    assert network_book(flour, {}, net.fetch, net.links_page, net.chains)[0] == {}


def test_a_recipe_known_in_part_is_completed_from_its_authors_chain() -> None:
    from zomes.valueflows.recipes import recipe_entries

    mill, bakery = NET.members()
    wheat, flour = spec(mill, "wheat"), spec(mill, "flour")
    recipe(mill, "flour", flour, [(wheat, "100 kg")], "80 kg")
    bread = spec(bakery, "bread", "one")
    loaves = recipe(bakery, "bread", bread, [(flour, "40 kg")], "100 one")
    held = recipe_entries([r for r in bakery.records if str(r.address) == loaves])
    assert list(held) == [loaves]  # (the bread recipe without its process)
    net = Network(mill, bakery)
    entries, _ = network_book(loaves, held, net.fetch, net.links_page, net.chains)
    assert net.chains_asked == [str(bakery.agent_id), str(mill.agent_id)]
    draft = plan_from_recipe(RecipeBook.of(entries), loaves, parse_quantity("100 one"),
                             NOW, agent="12D3KooW" + "C" * 44)
    assert [p.process.name for p in draft.processes] == ["breading", "flouring"]
    # the chains of the authors in `whole` are known whole: never fetched
    net = Network(mill, bakery)
    whole = recipe_entries([*mill.records, *bakery.records])
    network_book(loaves, whole, net.fetch, net.links_page, net.chains,
                 whole=frozenset({str(bakery.agent_id), str(mill.agent_id)}))
    assert net.chains_asked == []
