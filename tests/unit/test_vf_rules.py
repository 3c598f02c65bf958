"""The accounting rules: valid events pass, and each rule has an event that breaks it.

Rules under test (zomes.valueflows.rules.RULES), each broken below:
dependencies, quantity kind / presence / sign, unit dimension, process link, process open,
time order, event not in future, transfer parties, author is party, external party, author is
provider,
conforms to, resource exists, pairing, countersigning, correction target, correction amount,
balance; quantity nonzero.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zomes.valueflows.actions import ACTIONS
from zomes.valueflows.entries import (
    EconomicEvent,
    EconomicResource,
    Process,
    ProcessSpecification,
    ResourceSpecification,
)
from zomes.valueflows.rules import RULES, Missing, RuleContext, Violation, check_event
from zomes.valueflows.units import Measure


def address(name: str) -> str:
    digest = hashlib.blake2b(name.encode(), digest_size=32).digest()
    return "bafy2bzace" + base64.b32encode(digest).decode().lower().rstrip("=")


ALICE, BOB = "12D3KooW" + "A" * 44, "12D3KooW" + "B" * 44
WHEAT_SPEC, FLOUR_SPEC, CREDIT_SPEC = address("wheat"), address("flour"), address("credit")
MILL_SPEC = address("milling spec")
WHEAT, WHEAT_2, FLOUR, CREDIT, CARGO, BIKE, SHARED = (
    address(f"resource {n}")
    for n in ("wheat", "wheat 2", "flour", "credit", "cargo", "bike", "shared")
)
MILLING, DONE, TRANSPORT, REPAIR = (
    address(f"process {n}") for n in ("milling", "done", "transport", "repair")
)

SPECS = {
    WHEAT_SPEC: ResourceSpecification(name="wheat", default_unit_of_resource="kilogram"),
    FLOUR_SPEC: ResourceSpecification(name="flour", default_unit_of_resource="kilogram"),
    CREDIT_SPEC: ResourceSpecification(name="credit", allow_negative=True),
}
RESOURCES = {
    WHEAT: EconomicResource(name="wheat", unit_of_resource="kilogram", conforms_to=WHEAT_SPEC),
    WHEAT_2: EconomicResource(name="wheat", unit_of_resource="kilogram", conforms_to=WHEAT_SPEC),
    FLOUR: EconomicResource(name="flour", unit_of_resource="kilogram", conforms_to=FLOUR_SPEC),
    CREDIT: EconomicResource(name="credit", unit_of_resource="euro", conforms_to=CREDIT_SPEC),
    CARGO: EconomicResource(name="cargo", unit_of_resource="kilogram"),
    BIKE: EconomicResource(name="bike", unit_of_resource="one"),
    SHARED: EconomicResource(name="shared silo", unit_of_resource="kilogram"),
}
PROCESSES = {
    MILLING: Process(name="milling", based_on=MILL_SPEC),
    DONE: Process(name="last year's milling", finished=True),
    TRANSPORT: Process(name="transport"),
    REPAIR: Process(name="repair"),
}


def event(action: str, quantity: str | None = None, **fields: Any) -> EconomicEvent:
    """An event by ALICE unless said otherwise; `quantity` like "3 kg"."""
    kind = "effort_quantity" if action == "work" else "resource_quantity"
    measure = {} if quantity is None else {kind: Measure.of(*quantity.split())}
    fields.setdefault("provider", ALICE)
    fields.setdefault("receiver", ALICE)
    return EconomicEvent(action=action, **measure, **fields)


CONSUMED = address("event consume wheat")
CHAIN = [
    (address("event raise wheat"), event("raise", "100 kg", resource_inventoried_as=WHEAT)),
    (address("event raise bike"), event("raise", "1 each", resource_inventoried_as=BIKE)),
    (address("event raise cargo"), event("raise", "50 kg", resource_inventoried_as=CARGO)),
    (address("event raise silo"), event("raise", "5 kg", resource_inventoried_as=SHARED,
                                        receiver=BOB)),
    (address("event pickup"), event("pickup", "50 kg", resource_inventoried_as=CARGO,
                                    input_of=TRANSPORT)),
    (address("event accept"), event("accept", "1 one", resource_inventoried_as=BIKE,
                                    input_of=REPAIR)),
    (CONSUMED, event("consume", "10 kg", resource_inventoried_as=WHEAT, input_of=MILLING)),
]  # fmt: skip


RECORDED_AT = 1_800_000_000_000_000  # the judged events' action timestamp (2027)
FIVE_MINUTES = 5 * 60 * 1_000_000


def context(*extra: tuple[str, EconomicEvent]) -> RuleContext:
    return replace(RuleContext.from_chain(
        [*CHAIN, *extra],
        resources=RESOURCES,
        processes=PROCESSES,
        resource_specs=SPECS,
        process_specs={MILL_SPEC: ProcessSpecification(name="milling")},
    ), recorded_at_us=RECORDED_AT)


CTX = context()

VALID = {
    "produce": event("produce", "20 kg", resource_inventoried_as=FLOUR, output_of=MILLING),
    "consume in grams": event("consume", "5000 g", resource_inventoried_as=WHEAT,
                              input_of=MILLING, resource_conforms_to=WHEAT_SPEC),
    "work": event("work", "3 h", input_of=MILLING, has_beginning=1, has_end=2),
    "work recorded by the receiver": event("work", "3 h", input_of=MILLING, provider=BOB),
    "cite": event("cite", resource_inventoried_as=WHEAT, input_of=MILLING),
    "use with effort": event("use", resource_inventoried_as=BIKE, input_of=REPAIR,
                             effort_quantity=Measure.of(2, "h")),
    "dropoff after pickup": event("dropoff", "50 kg", resource_inventoried_as=CARGO,
                                  output_of=TRANSPORT, at_location="port"),
    "modify after accept": event("modify", "1 one", resource_inventoried_as=BIKE,
                                 output_of=REPAIR),
    "move to a new resource": event("move", "10 kg", resource_inventoried_as=WHEAT,
                                    to_resource_inventoried_as=WHEAT_2),
    "dated at the edge of the clock skew": event("work", "1 h", input_of=MILLING,
                                                has_point_in_time=RECORDED_AT + FIVE_MINUTES),
    "correction": event("consume", "-4 kg", resource_inventoried_as=WHEAT, input_of=MILLING,
                        corrects=CONSUMED),
    "negative allowed": event("lower", "30 EUR", resource_inventoried_as=CREDIT),
    "service to another agent": event("deliverService", receiver=BOB),
    "consume everything": event("consume", "90 kg", resource_inventoried_as=WHEAT,
                                input_of=MILLING),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_events_pass(name: str) -> None:
    assert check_event(VALID[name], ALICE, CTX) == []


BROKEN: dict[str, tuple[EconomicEvent, set[str]]] = {
    "effort on consume": (
        event("consume", "1 kg", resource_inventoried_as=WHEAT, input_of=MILLING,
              effort_quantity=Measure.of(1, "h")),
        {"check_quantity_kind"},
    ),
    "resource quantity on work": (
        event("work", input_of=MILLING, resource_quantity=Measure.of(1, "kg"),
              effort_quantity=Measure.of(1, "h")),
        {"check_quantity_kind"},
    ),
    "consume without quantity": (
        event("consume", resource_inventoried_as=WHEAT, input_of=MILLING),
        {"check_quantity_present", "check_balance"},
    ),
    "work without effort": (event("work", input_of=MILLING), {"check_quantity_present"}),
    "negative without corrects": (
        event("consume", "-1 kg", resource_inventoried_as=WHEAT, input_of=MILLING),
        {"check_quantity_sign"},
    ),
    "zero quantity": (
        event("consume", "0 kg", resource_inventoried_as=WHEAT, input_of=MILLING),
        {"check_quantity_nonzero"},
    ),
    "zero effort": (event("work", "0 h", input_of=MILLING), {"check_quantity_nonzero"}),
    "kilograms of effort": (event("work", "3 kg", input_of=MILLING), {"check_unit_dimension"}),
    "dated in the future": (
        event("work", "1 h", input_of=MILLING, has_point_in_time=RECORDED_AT + FIVE_MINUTES + 1),
        {"check_event_not_in_future"},
    ),
    "ending in the future": (
        event("work", "1 h", input_of=MILLING, has_beginning=RECORDED_AT,
              has_end=RECORDED_AT + 86_400_000_000),
        {"check_event_not_in_future"},
    ),
    "transfer to oneself": (
        event("transfer", "10 kg", resource_inventoried_as=WHEAT,
              to_resource_inventoried_as=WHEAT_2),
        {"check_transfer_parties"},
    ),
    "transfer of custody to oneself": (
        event("transferCustody", "10 kg", resource_inventoried_as=WHEAT,
              to_resource_inventoried_as=WHEAT_2),
        {"check_transfer_parties"},
    ),
    "hours of wheat": (
        event("consume", "1 h", resource_inventoried_as=WHEAT, input_of=MILLING),
        {"check_unit_dimension", "check_balance"},
    ),
    "input without inputOf": (
        event("consume", "1 kg", resource_inventoried_as=WHEAT), {"check_process_link"}
    ),
    "output as input": (
        event("produce", "1 kg", resource_inventoried_as=FLOUR, input_of=MILLING),
        {"check_process_link"},
    ),
    "transfer into a process": (
        event("transfer", "1 kg", resource_inventoried_as=WHEAT,
              to_resource_inventoried_as=WHEAT_2, input_of=MILLING),
        {"check_process_link", "check_transfer_parties"},
    ),
    "finished process": (event("work", "1 h", input_of=DONE), {"check_process_open"}),
    "ends before it begins": (
        event("work", "1 h", input_of=MILLING, has_beginning=10, has_end=5),
        {"check_time_order"},
    ),
    "recorded by a third party": (
        event("work", "1 h", input_of=MILLING, provider=BOB, receiver=BOB),
        {"check_author_is_party"},
    ),
    "consuming as the receiver": (
        event("consume", "1 kg", resource_inventoried_as=WHEAT, input_of=MILLING, provider=BOB),
        {"check_author_is_provider"},
    ),
    "wrong specification": (
        event("consume", "1 kg", resource_inventoried_as=WHEAT, input_of=MILLING,
              resource_conforms_to=FLOUR_SPEC),
        {"check_conforms_to"},
    ),
    "consume before any produce": (
        event("consume", "1 kg", resource_inventoried_as=FLOUR, input_of=MILLING),
        {"check_resource_exists", "check_balance"},
    ),
    "dropoff without pickup": (
        event("dropoff", "1 one", resource_inventoried_as=BIKE, output_of=TRANSPORT),
        {"check_pairing"},
    ),
    "modify without accept": (
        event("modify", "1 kg", resource_inventoried_as=CARGO, output_of=REPAIR),
        {"check_pairing"},
    ),
    "transfer to another agent": (
        event("transfer", "1 kg", resource_inventoried_as=WHEAT,
              to_resource_inventoried_as=WHEAT_2, receiver=BOB),
        {"check_countersigning"},
    ),
    "produce for another agent": (
        event("produce", "1 kg", resource_inventoried_as=FLOUR, output_of=MILLING, receiver=BOB),
        {"check_countersigning"},
    ),
    "move into another agent's resource": (
        event("move", "1 kg", resource_inventoried_as=WHEAT, to_resource_inventoried_as=SHARED),
        {"check_countersigning"},
    ),
    "correcting nothing known": (
        event("consume", "-1 kg", resource_inventoried_as=WHEAT, input_of=MILLING,
              corrects=address("elsewhere")),
        {"check_correction_target"},
    ),
    "correcting another action": (
        event("lower", "-1 kg", resource_inventoried_as=WHEAT, corrects=CONSUMED),
        {"check_correction_target"},
    ),
    "correcting with other links": (
        event("consume", "-1 kg", resource_inventoried_as=WHEAT, input_of=DONE,
              corrects=CONSUMED),
        {"check_correction_target", "check_process_open"},
    ),
    "positive correction": (
        event("consume", "1 kg", resource_inventoried_as=WHEAT, input_of=MILLING,
              corrects=CONSUMED),
        {"check_quantity_sign"},
    ),
    "taking back too much": (
        event("consume", "-11 kg", resource_inventoried_as=WHEAT, input_of=MILLING,
              corrects=CONSUMED),
        {"check_correction_amount"},
    ),
    "overdraw": (
        event("consume", "100.5 kg", resource_inventoried_as=WHEAT, input_of=MILLING),
        {"check_balance"},
    ),
    "an external party that is no Agent entry of the chain": (
        event("work", "2 hour", input_of=MILLING, provider=address("no such agent")),
        {"check_external_party"},
    ),
    "give away more than held": (
        event("move", "91 kg", resource_inventoried_as=WHEAT, to_resource_inventoried_as=WHEAT_2),
        {"check_balance"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_event_breaks_exactly_its_rules(name: str) -> None:
    broken, expected = BROKEN[name]
    outcome = check_event(broken, ALICE, CTX)
    assert not isinstance(outcome, Missing)
    assert {violation.rule for violation in outcome} == expected, outcome
    assert all("\n" not in violation.message for violation in outcome)


def test_every_rule_is_broken_by_some_test() -> None:
    broken = set().union(*(rules for _, rules in BROKEN.values())) | {"check_dependencies"}
    assert broken == set(RULES)


def test_missing_dependencies_are_unresolved_not_invalid() -> None:
    unknown_resource, unknown_process = address("not yet here"), address("nor this")
    outcome = check_event(
        event(
            "consume", "1 kg", resource_inventoried_as=unknown_resource, input_of=unknown_process
        ),
        ALICE,
        CTX,
    )
    assert outcome == Missing(tuple(sorted([unknown_resource, unknown_process])))


def test_the_amount_taken_back_accumulates_over_corrections() -> None:
    first = (address("first correction"), VALID["correction"])  # -4 of 10
    again = event("consume", "-7 kg", resource_inventoried_as=WHEAT, input_of=MILLING,
                  corrects=CONSUMED)  # fmt: skip
    outcome = check_event(again, ALICE, context(first))
    assert [v.rule for v in outcome] == ["check_correction_amount"]  # type: ignore[union-attr]
    assert "leave -1 kilogram" in outcome[0].message  # type: ignore[index]


def test_messages_say_what_to_do() -> None:
    transfer, _ = BROKEN["transfer to another agent"]
    [violation] = check_event(transfer, ALICE, CTX)  # type: ignore[misc]
    assert violation == Violation("check_countersigning", violation.message)
    assert ("must be countersigned by both" in violation.message
            and f"--to {BOB}" in violation.message)


# Countersigned events: each party's chain is judged on its own side of the event.

TRANSFER = event("transfer", "40 kg", resource_inventoried_as=WHEAT,
                 to_resource_inventoried_as=WHEAT_2, receiver=BOB)  # fmt: skip
BOTH = frozenset({ALICE, BOB})


def cosigned(ctx: RuleContext, cosigners: frozenset[str] = BOTH) -> RuleContext:
    return RuleContext(ctx.resources, ctx.processes, ctx.resource_specs, ctx.process_specs,
                       ctx.events, ctx.states, cosigners)


def test_a_countersigned_transfer_is_valid_on_both_sides() -> None:
    assert check_event(TRANSFER, ALICE, cosigned(CTX)) == []
    bob = cosigned(RuleContext.from_chain([], resources=RESOURCES, processes=PROCESSES,
                                          resource_specs=SPECS, process_specs={}))
    assert check_event(TRANSFER, BOB, bob) == []


def test_each_side_folds_only_its_own_resource() -> None:
    from zomes.valueflows.resources import apply_event

    alice = apply_event(CTX.states, "t", TRANSFER, resources=RESOURCES, processes=PROCESSES,
                        side=ALICE)
    assert alice[WHEAT].accounting == CTX.states[WHEAT].accounting - 40
    assert WHEAT_2 not in alice  # the receiver's resource is on the receiver's chain
    bob = apply_event({}, "t", TRANSFER, resources=RESOURCES, processes=PROCESSES, side=BOB)
    assert set(bob) == {WHEAT_2} and bob[WHEAT_2].accounting == 40
    assert bob[WHEAT_2].primary_accountable == BOB
    grams = TRANSFER.model_copy(update={"resource_quantity": Measure.of(2500, "g")})
    again = apply_event(bob, "u", grams, resources=RESOURCES, processes=PROCESSES, side=BOB)
    assert again[WHEAT_2].accounting == Decimal("42.5")  # credited in its own unit


def test_the_provider_side_still_cannot_overdraw() -> None:
    too_much = TRANSFER.model_copy(update={"resource_quantity": Measure.of(500, "kg")})
    assert [v.rule for v in check_event(too_much, ALICE, cosigned(CTX))] == ["check_balance"]


def test_a_countersigned_event_is_signed_by_exactly_its_two_parties() -> None:
    carol = "12D3KooW" + "C" * 44
    wrong = check_event(TRANSFER, ALICE, cosigned(CTX, frozenset({ALICE, carol})))
    assert [v.rule for v in wrong] == ["check_countersigning"]  # type: ignore[union-attr]
    to_self = event("transfer", "1 kg", resource_inventoried_as=WHEAT,
                    to_resource_inventoried_as=WHEAT_2)  # fmt: skip
    assert [v.rule for v in check_event(to_self, ALICE, cosigned(CTX))] == [
        "check_transfer_parties", "check_countersigning"]


@given(
    action=st.sampled_from(sorted(ACTIONS)),
    provider=st.sampled_from([ALICE, BOB]),
    resource=st.sampled_from([None, *RESOURCES]),
    target=st.sampled_from([None, *RESOURCES]),
    process=st.sampled_from([None, *PROCESSES]),
    quantity=st.sampled_from([None, "1 kg", "-2 kg", "3 h", "4 EUR", "1 min"]),
    corrects=st.sampled_from([None, CONSUMED]),
)
def test_checking_never_raises(
    action: str,
    provider: str,
    resource: str | None,
    target: str | None,
    process: str | None,
    quantity: str | None,
    corrects: str | None,
) -> None:
    links = (
        {"input_of": process} if ACTIONS[action].input_output == "input" else {"output_of": process}
    )
    e = event(action, quantity, provider=provider, resource_inventoried_as=resource,
              to_resource_inventoried_as=target, corrects=corrects, **links)  # fmt: skip
    outcome = check_event(e, ALICE, CTX)
    assert isinstance(outcome, Missing | list)


def test_times_in_messages_are_iso_8601() -> None:
    late = event("work", "1 h", input_of=MILLING, has_beginning=RECORDED_AT,
                 has_end=RECORDED_AT - 1)
    future = event("work", "1 h", input_of=MILLING, has_point_in_time=RECORDED_AT * 2)
    for broken in (late, future):
        outcome = check_event(broken, ALICE, CTX)
        assert isinstance(outcome, list) and outcome
        assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", outcome[0].message), outcome
        assert str(RECORDED_AT) not in outcome[0].message
