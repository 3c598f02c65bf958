"""External agents (no members of the network) as the other party of events their author
records alone: check_external_party, and the rules and the fold that let an event with an
external party change only the author's resources.

An external agent is an Agent entry with sameAs on the author's chain; events name it by
that entry's address (Party: an agent id or an address).
"""

from __future__ import annotations

from dataclasses import replace

from tests.unit.test_vf_rules import (
    ALICE,
    BOB,
    CTX,
    MILLING,
    PROCESSES,
    RESOURCES,
    WHEAT,
    WHEAT_2,
    address,
    event,
)
from zomes.valueflows.entries import Agent, EconomicResource, external_party, is_member
from zomes.valueflows.resources import apply_event
from zomes.valueflows.rules import check_event

FARM = address("an external farm's Agent entry")
FARM_LOT = address("the farm's lot, recorded on Alice's chain")
OUTSIDER = Agent(name="Valley Farm", agent_type="Organization", same_as="https://farm.example/")
RESOURCES_HERE = {**RESOURCES, FARM_LOT: EconomicResource(name="farm lot",
                                                          unit_of_resource="kilogram")}
HERE = replace(CTX, agents={FARM: OUTSIDER}, resources=RESOURCES_HERE, after=None)
BUY = event("transfer", "30 kg", provider=FARM, resource_inventoried_as=FARM_LOT,
            to_resource_inventoried_as=WHEAT)
SELL = event("transfer", "30 kg", receiver=FARM, resource_inventoried_as=WHEAT)


def rules_broken(outcome: object) -> set[str]:
    assert isinstance(outcome, list), outcome
    return {violation.rule for violation in outcome}


def test_parties_are_members_or_external_agents() -> None:
    assert is_member(ALICE) and not is_member(FARM)
    assert external_party(BUY) == FARM and external_party(event("work", "1 h")) is None


def test_a_purchase_from_and_a_sale_to_an_external_agent_are_the_authors_own_records() -> None:
    assert check_event(BUY, ALICE, HERE) == []
    assert check_event(SELL, ALICE, HERE) == []
    work = event("work", "2 h", input_of=MILLING, provider=FARM)
    assert check_event(work, ALICE, HERE) == []


def test_only_the_authors_resource_changes() -> None:
    after = apply_event(HERE.states, "buy", BUY, resources=RESOURCES_HERE, processes=PROCESSES)
    assert after[WHEAT].accounting == HERE.states[WHEAT].accounting + 30
    assert FARM_LOT not in after  # the farm's lot is on no chain of the network
    after = apply_event(HERE.states, "sell", SELL, resources=RESOURCES_HERE, processes=PROCESSES)
    assert after[WHEAT].accounting == HERE.states[WHEAT].accounting - 30


def test_an_external_party_is_never_countersigned() -> None:
    cosigned = replace(HERE, cosigners=frozenset({ALICE, FARM}))
    assert "check_external_party" in rules_broken(check_event(SELL, ALICE, cosigned))


def test_an_external_party_must_be_an_external_agent_of_the_authors_chain() -> None:
    unknown = event("work", "2 h", input_of=MILLING, provider=address("nobody"))
    assert rules_broken(check_event(unknown, ALICE, HERE)) == {"check_external_party"}
    member_profile = replace(HERE, agents={FARM: OUTSIDER.model_copy(update={"same_as": None})})
    assert rules_broken(check_event(BUY, ALICE, member_profile)) == {"check_external_party"}


def test_an_event_has_at_most_one_external_party() -> None:
    both = event("transfer", "1 kg", provider=FARM, receiver=address("another outsider"),
                 resource_inventoried_as=WHEAT_2)
    assert "check_external_party" in rules_broken(check_event(both, ALICE, HERE))


def test_a_member_counterparty_still_needs_countersigning() -> None:
    to_bob = event("transfer", "30 kg", receiver=BOB, resource_inventoried_as=WHEAT)
    assert "check_countersigning" in rules_broken(check_event(to_bob, ALICE, HERE))
