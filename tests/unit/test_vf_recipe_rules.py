"""The recipe rules (zomes.valueflows.recipe_rules), judged as a validator judges a peer's
ops: each kept by a well-formed recipe and broken once.

A bakery's recipe: baking consumes flour and water (and 2 hours of work), produces bread.
"""

from __future__ import annotations

from typing import Any

import pytest

from node.core.identity import AgentKey
from node.core.ops import OpType
from node.core.outcome import Invalid, Unresolved, Valid
from node.core.records import Record
from node.testing import MemoryAgent
from tests.two_members import TwoMembers
from zomes.valueflows.recipe_rules import RECIPE_RULES, find_cycle

NOW = 1_800_000_000_000_000
P_KEY, A_KEY = AgentKey(b"\x60" * 32), AgentKey(b"\x61" * 32)
NET = TwoMembers("recipes", P_KEY, A_KEY, NOW)
members, judge = NET.members, NET.judge


def create(agent: MemoryAgent, local: str, content: dict[str, Any]) -> Record:
    agent.create(f"valueflows.{local}", content)
    return agent.records[-1]


def q(value: str, unit: str) -> dict[str, str]:
    return {"hasNumericalValue": value, "hasUnit": unit}


def spec(agent: MemoryAgent, name: str, unit: str = "kilogram") -> str:
    return str(create(agent, "ResourceSpecification",
                      {"name": name, "defaultUnitOfResource": unit}).address)


def flow(action: str, spec_: str | None, quantity: dict[str, str] | None, **links: str
         ) -> dict[str, Any]:
    content: dict[str, Any] = {"action": action, **links}
    if spec_ is not None:
        content["resourceConformsTo"] = spec_
    if quantity is not None:
        content["effortQuantity" if action == "work" else "resourceQuantity"] = quantity
    return content


class Bakery:
    """The bakery's specifications and its baking recipe process, on its chain."""

    def __init__(self, agent: MemoryAgent) -> None:
        self.agent = agent
        self.flour, self.water, self.bread = (spec(agent, "flour"), spec(agent, "water", "litre"),
                                              spec(agent, "bread", "one"))
        self.baking = str(create(agent, "RecipeProcess", {
            "name": "baking", "hasDuration": q("3", "hour")}).address)

    def add(self, content: dict[str, Any]) -> Record:
        return create(self.agent, "RecipeFlow", content)


def test_the_rules_are_listed() -> None:
    assert RECIPE_RULES == (
        "check_recipe_flow_quantity", "check_recipe_flow_resource", "check_recipe_flow_process",
        "check_recipe_references", "check_recipe_own_parts", "check_recipe_no_cycle",
    )


def test_a_well_formed_recipe_is_valid_on_every_op() -> None:
    progenitor, _ = members()
    b = Bakery(progenitor)
    records = [
        b.add(flow("consume", b.flour, q("50", "kilogram"), recipeInputOf=b.baking)),
        b.add(flow("consume", b.water, q("30", "litre"), recipeInputOf=b.baking)),
        b.add(flow("work", None, q("2", "hour"), recipeInputOf=b.baking)),
        b.add(flow("produce", b.bread, q("100", "one"), recipeOutputOf=b.baking)),
        create(progenitor, "Recipe", {"name": "bread", "primaryOutput": b.bread,
                                      "recipeIncludes": [b.baking]}),
    ]
    for record in records:
        for op_type in (OpType.REGISTER_AGENT_ACTIVITY, OpType.STORE_RECORD, OpType.STORE_ENTRY):
            assert judge(record, progenitor, op_type=op_type) == Valid(), record.entry


@pytest.mark.parametrize("content, reason", [
    (lambda b: flow("consume", b.flour, None, recipeInputOf=b.baking), "states a resourceQuantity"),
    (lambda b: flow("consume", b.flour, q("0", "kilogram"), recipeInputOf=b.baking),
     "more than zero"),
    (lambda b: flow("work", None, q("2", "kilogram"), recipeInputOf=b.baking),
     "an effortQuantity is a time"),
    (lambda b: {**flow("use", b.flour, None, recipeInputOf=b.baking)},
     "a resourceQuantity or an effortQuantity"),
])
def test_a_flow_states_a_positive_quantity_of_its_kind(content: Any, reason: str) -> None:
    progenitor, _ = members()
    b = Bakery(progenitor)
    outcome = judge(b.add(content(b)), progenitor, op_type=OpType.STORE_ENTRY)
    assert isinstance(outcome, Invalid) and outcome.rule == "check_recipe_flow_quantity"
    assert reason in outcome.reason


def test_a_flow_of_a_resource_names_its_specification() -> None:
    progenitor, _ = members()
    b = Bakery(progenitor)
    outcome = judge(b.add(flow("consume", None, q("5", "kilogram"), recipeInputOf=b.baking)),
                    progenitor)
    assert outcome == Invalid("check_recipe_flow_resource",
                              "a flow of a resource names its resourceConformsTo")


@pytest.mark.parametrize("links, reason", [
    (lambda b: {"recipeInputOf": b.baking, "recipeOutputOf": b.baking}, "not both"),
    (lambda b: {}, "or an exchange's clause"),
    (lambda b: {"recipeOutputOf": b.baking}, "consume is an input"),
])
def test_a_flow_is_the_input_or_output_of_one_recipe_process(links: Any, reason: str) -> None:
    progenitor, _ = members()
    b = Bakery(progenitor)
    outcome = judge(b.add(flow("consume", b.flour, q("5", "kilogram"), **links(b))), progenitor)
    assert isinstance(outcome, Invalid) and outcome.rule == "check_recipe_flow_process"
    assert reason in outcome.reason


def test_a_transfer_is_an_exchanges_clause_not_a_process_flow() -> None:
    progenitor, _ = members()
    b = Bakery(progenitor)
    exchange = str(create(progenitor, "RecipeExchange", {"name": "buy flour"}).address)
    clause = b.add(flow("transfer", b.flour, q("50", "kilogram"), recipeClauseOf=exchange))
    assert judge(clause, progenitor) == Valid()
    outcome = judge(b.add(flow("transfer", b.flour, q("5", "kilogram"), recipeInputOf=b.baking)),
                    progenitor)
    assert isinstance(outcome, Invalid) and "no process's input or output" in outcome.reason


def test_references_name_entries_of_the_right_type() -> None:
    progenitor, _ = members()
    b = Bakery(progenitor)
    wrong = b.add(flow("consume", b.flour, q("5", "kilogram"), recipeInputOf=b.flour))
    assert judge(wrong, progenitor) == Invalid(
        "check_recipe_references", f"recipeInputOf {b.flour} is not a RecipeProcess")
    recipe = create(progenitor, "Recipe", {"name": "bread", "primaryOutput": b.baking})
    assert judge(recipe, progenitor, op_type=OpType.STORE_RECORD) == Invalid(
        "check_recipe_references", f"primaryOutput {b.baking} is not a ResourceSpecification")
    # the StoreEntry authorities check the shape only
    assert judge(wrong, progenitor, op_type=OpType.STORE_ENTRY) == Valid()


def test_a_reference_not_held_yet_is_waited_for() -> None:
    progenitor, member = members()
    b = Bakery(progenitor)
    theirs = create(member, "RecipeFlow",
                    flow("consume", b.flour, q("5", "kilogram"), recipeInputOf=b.baking))
    assert isinstance(judge(theirs, member), Unresolved)


def test_nobody_adds_a_flow_to_another_members_recipe() -> None:
    progenitor, member = members()
    b = Bakery(progenitor)
    theirs = create(member, "RecipeFlow",
                    flow("consume", b.flour, q("5", "kilogram"), recipeInputOf=b.baking))
    outcome = judge(theirs, progenitor, member)
    assert isinstance(outcome, Invalid) and outcome.rule == "check_recipe_own_parts"
    recipe = create(member, "Recipe", {"name": "my bread", "recipeIncludes": [b.baking]})
    outcome = judge(recipe, progenitor, member)
    assert isinstance(outcome, Invalid) and outcome.rule == "check_recipe_own_parts"
    # a member's flow may use another member's specification: specifications are shared
    own = str(create(member, "RecipeProcess", {"name": "cake baking"}).address)
    mine = create(member, "RecipeFlow",
                  flow("consume", b.flour, q("5", "kilogram"), recipeInputOf=own))
    assert judge(mine, progenitor, member) == Valid()


def test_no_recipe_needs_its_own_output() -> None:
    progenitor, _ = members()
    b = Bakery(progenitor)
    milling = str(create(progenitor, "RecipeProcess", {"name": "milling"}).address)
    steps = [
        b.add(flow("consume", b.flour, q("50", "kilogram"), recipeInputOf=b.baking)),
        b.add(flow("produce", b.bread, q("100", "one"), recipeOutputOf=b.baking)),
        b.add(flow("produce", b.flour, q("80", "kilogram"), recipeOutputOf=milling)),
    ]
    # a tool used, not consumed, is no demand: no cycle
    steps.append(b.add(flow("use", b.bread, q("1", "one"), recipeInputOf=milling)))
    for record in steps:
        assert judge(record, progenitor) == Valid()
    # milling that consumes bread: bread needs flour needs bread
    loop = b.add(flow("consume", b.bread, q("1", "one"), recipeInputOf=milling))
    outcome = judge(loop, progenitor)
    assert isinstance(outcome, Invalid) and outcome.rule == "check_recipe_no_cycle"
    assert b.bread in outcome.reason and b.flour in outcome.reason
    # judged on the author's chain: the record's authorities check the rest
    assert judge(loop, progenitor, op_type=OpType.STORE_RECORD) == Valid()


def test_a_process_consuming_what_it_makes_is_a_cycle() -> None:
    progenitor, _ = members()
    b = Bakery(progenitor)
    assert judge(b.add(flow("produce", b.bread, q("100", "one"), recipeOutputOf=b.baking)),
                 progenitor) == Valid()
    outcome = judge(b.add(flow("consume", b.bread, q("1", "one"), recipeInputOf=b.baking)),
                    progenitor)
    assert outcome == Invalid("check_recipe_no_cycle",
                              f"the recipe needs its own output: {b.bread} -> {b.bread}")


def test_find_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]
    assert find_cycle({"x": {"a", "b"}, "a": {"c"}, "b": {"c"}, "c": set()}) is None  # a diamond


def test_recipe_entries_encode_with_vf_names() -> None:
    from zomes.valueflows.entries import Recipe, RecipeFlow, RecipeProcess
    from zomes.valueflows.units import Measure

    a = "bafy2bzacebkffmki3jtffdnsh57wvypjenyd2uvmqz7erg4y2b3o3bbnnxkkc"
    assert RecipeProcess(name="baking", has_duration=Measure.of(3, "h"),
                         process_conforms_to=a).to_content() == {
        "name": "baking", "hasDuration": q("3", "hour"), "processConformsTo": a}
    assert RecipeFlow(action="consume", recipe_input_of=a, resource_conforms_to=a,
                      resource_quantity=Measure.of(50, "kg")).to_content() == {
        "action": "consume", "recipeInputOf": a, "resourceConformsTo": a,
        "resourceQuantity": q("50", "kilogram")}
    assert Recipe(name="bread", primary_output=a, recipe_includes=(a,)).to_content() == {
        "name": "bread", "primaryOutput": a, "recipeIncludes": [a]}
