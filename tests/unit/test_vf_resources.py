"""Resource state folded from events: scenarios, and the fold against a slow reference."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zomes.valueflows.actions import ACTIONS
from zomes.valueflows.entries import EconomicEvent, EconomicResource, Process
from zomes.valueflows.resources import ResourceError, ResourceState, apply_event, fold
from zomes.valueflows.units import Measure, UnitError, convert

D = Decimal


def address(name: str) -> str:
    digest = hashlib.blake2b(name.encode(), digest_size=32).digest()
    return "bafy2bzace" + base64.b32encode(digest).decode().lower().rstrip("=")


ALICE, BOB = "12D3KooW" + "A" * 44, "12D3KooW" + "B" * 44
FLOUR, BAG, TOOL, CREDIT = (address(n) for n in ("flour", "bag", "tool", "credit"))
MILLING, TESTING = address("milling process"), address("testing process")
MILL_SPEC = address("milling spec")
RESOURCES = {
    FLOUR: EconomicResource(name="flour", unit_of_resource="kilogram", conforms_to=address("f")),
    BAG: EconomicResource(name="bag", unit_of_resource="kilogram", current_location="shed"),
    TOOL: EconomicResource(name="tool", unit_of_resource="one", unit_of_effort="hour"),
    CREDIT: EconomicResource(name="credit", unit_of_resource="euro"),
}
PROCESSES = {
    MILLING: Process(name="milling", based_on=MILL_SPEC),
    TESTING: Process(name="testing"),
}


def event(action: str, quantity: str | None = None, **fields: Any) -> EconomicEvent:
    measure = {} if quantity is None else {"resource_quantity": Measure.of(*quantity.split())}
    return EconomicEvent(
        action=action,
        provider=fields.pop("provider", ALICE),
        receiver=fields.pop("receiver", ALICE),
        **measure,
        **fields,
    )


def run(*events: EconomicEvent) -> dict[str, ResourceState]:
    pairs = [(address(f"event {i}"), e) for i, e in enumerate(events)]
    return fold(pairs, resources=RESOURCES, processes=PROCESSES)


def test_produce_creates_then_consume_decrements_in_the_resource_unit() -> None:
    states = run(
        event("produce", "40 kg", resource_inventoried_as=FLOUR, output_of=MILLING,
              at_location="mill", provider=ALICE, receiver=BOB),
        event("consume", "2500 g", resource_inventoried_as=FLOUR, input_of=TESTING),
    )  # fmt: skip
    flour = states[FLOUR]
    assert flour.accounting_quantity == Measure.of("37.5", "kilogram")
    assert flour.onhand_quantity == Measure.of("37.5", "kilogram")
    assert flour.primary_accountable == BOB  # implied transfer: produced for the receiver
    assert flour.current_location == "mill"
    assert flour.stage == MILL_SPEC
    assert flour.conforms_to == RESOURCES[FLOUR].conforms_to
    assert flour.previous_event == address("event 1")
    assert flour.to_content()["accountingQuantity"] == {
        "hasNumericalValue": "37.5",
        "hasUnit": "kilogram",
    }


def test_events_on_a_resource_nobody_created_are_refused() -> None:
    with pytest.raises(ResourceError, match="no earlier event created"):
        run(event("consume", "1 kg", resource_inventoried_as=FLOUR, input_of=TESTING))


def test_transfer_moves_quantities_and_rights_to_a_new_resource() -> None:
    states = run(
        event("raise", "10 kg", resource_inventoried_as=FLOUR),
        event("transfer", "4 kg", resource_inventoried_as=FLOUR, to_resource_inventoried_as=BAG,
              receiver=BOB, to_location="warehouse", state="sealed"),
    )  # fmt: skip
    assert states[FLOUR].accounting == D(6) and states[FLOUR].onhand == D(6)
    assert states[BAG].accounting == D(4) and states[BAG].onhand == D(4)
    assert states[BAG].primary_accountable == BOB
    assert states[BAG].current_location == "warehouse"
    assert states[BAG].state == "sealed"
    assert states[FLOUR].state is None


def test_transfer_custody_keeps_rights_with_the_provider() -> None:
    states = run(
        event("raise", "10 kg", resource_inventoried_as=FLOUR),
        event("transferCustody", "4 kg", resource_inventoried_as=FLOUR,
              to_resource_inventoried_as=BAG, receiver=BOB),
    )  # fmt: skip
    assert states[FLOUR].accounting == D(10) and states[FLOUR].onhand == D(6)
    assert states[BAG].accounting == D(0) and states[BAG].onhand == D(4)
    assert states[BAG].primary_accountable == ALICE
    assert states[BAG].current_location == "shed"  # the entry's initial location


def test_combine_and_separate_set_and_clear_the_container() -> None:
    states = run(
        event("raise", "10 kg", resource_inventoried_as=FLOUR),
        event("raise", "1 kg", resource_inventoried_as=BAG),
        event("combine", "10 kg", resource_inventoried_as=FLOUR, to_resource_inventoried_as=BAG,
              input_of=TESTING),
    )  # fmt: skip
    assert states[FLOUR].contained_in == BAG and states[FLOUR].onhand == D(0)
    assert states[FLOUR].accounting == D(10)
    later = apply_event(
        states,
        address("sep"),
        event("separate", "10 kg", resource_inventoried_as=FLOUR, output_of=TESTING),
        resources=RESOURCES,
        processes=PROCESSES,
    )
    assert later[FLOUR].contained_in is None and later[FLOUR].onhand == D(10)
    assert states[FLOUR].contained_in == BAG  # apply_event left its input alone


def test_a_correction_takes_back_the_corrected_quantity_only() -> None:
    produce = event("produce", "40 kg", resource_inventoried_as=FLOUR, output_of=MILLING,
                    at_location="mill")  # fmt: skip
    correction = event("produce", "-15 kg", resource_inventoried_as=FLOUR, output_of=TESTING,
                       at_location="elsewhere", corrects=address("event 0"))  # fmt: skip
    states = run(produce, correction)
    assert states[FLOUR].accounting == D(25) and states[FLOUR].onhand == D(25)
    assert states[FLOUR].current_location == "mill"
    assert states[FLOUR].stage == MILL_SPEC


def test_incompatible_units_are_refused() -> None:
    with pytest.raises(ResourceError, match="incompatible dimensions"):
        run(event("raise", "3 hour", resource_inventoried_as=FLOUR))


# --- the fold against a slow reference ---------------------------------------------------


def reference_fold(
    events: Sequence[tuple[str, EconomicEvent]],
    resources: Mapping[str, EconomicResource],
    processes: Mapping[str, Process],
) -> dict[str, ResourceState]:
    """VF's action descriptions, written out action by action, on plain dicts."""
    states: dict[str, dict[str, Any]] = {}
    for name, e in events:
        reference_apply(states, name, e, resources, processes)
    return {a: ResourceState(**s) for a, s in states.items()}


def reference_apply(
    states: dict[str, dict[str, Any]],
    name: str,
    e: EconomicEvent,
    resources: Mapping[str, EconomicResource],
    processes: Mapping[str, Process],
) -> None:
    source, target, act = e.resource_inventoried_as, e.to_resource_inventoried_as, e.action
    correcting = e.corrects is not None

    def create(resource: str | None, accountable: str, location: str | None = None) -> None:
        if correcting or resource is None or resource in states:
            return
        if resource not in resources:
            raise ResourceError("unknown resource")
        entry = resources[resource]
        states[resource] = dict(
            address=resource, unit=entry.unit_of_resource, conforms_to=entry.conforms_to,
            accounting=D(0), onhand=D(0), primary_accountable=accountable,
            current_location=location or entry.current_location, contained_in=None,
            stage=None, state=None, previous_event=None,
        )  # fmt: skip

    def add(resource: str | None, accounting: int, onhand: int) -> None:
        if resource is None:
            return
        if resource not in states or e.resource_quantity is None:
            raise ResourceError("cannot change")
        state = states[resource]
        q = e.resource_quantity
        try:
            amount = convert(q.value, q.has_unit, state["unit"])
        except UnitError:
            raise ResourceError("units") from None
        state["accounting"] += accounting * amount
        state["onhand"] += onhand * amount

    def update(resource: str | None, key: str, value: str | None) -> None:
        if not correcting and resource in states and value is not None:
            states[resource][key] = value

    def output_stage() -> str | None:
        if e.output_of is None:
            return e.stage
        return processes[e.output_of].based_on or e.stage

    def source_accountable() -> str:
        if source in states and states[source]["primary_accountable"]:
            return str(states[source]["primary_accountable"])
        return e.provider

    if act == "produce":
        create(source, e.receiver, e.at_location)
        add(source, 1, 1)
        update(source, "stage", output_stage())
    elif act in ("raise", "lower"):
        create(source, e.receiver)
        add(source, 1 if act == "raise" else -1, 1 if act == "raise" else -1)
    elif act == "consume":
        add(source, -1, -1)
    elif act in ("pickup", "accept"):
        add(source, 0, -1)
        update(source, "current_location", e.at_location)
    elif act in ("dropoff", "modify"):
        add(source, 0, 1)
        update(source, "current_location", e.at_location)
        update(source, "stage", output_stage())
    elif act == "combine":
        add(source, 0, -1)
        update(source, "contained_in", target)
    elif act == "separate":
        add(source, 0, 1)
        if not correcting and source in states:
            states[source]["contained_in"] = None
        update(source, "stage", output_stage())
    elif act == "transfer":
        create(target, e.receiver)
        add(source, -1, -1)
        add(target, 1, 1)
        update(target, "current_location", e.to_location)
        update(target, "primary_accountable", e.receiver)
    elif act == "transferAllRights":
        create(target, e.receiver)
        add(source, -1, 0)
        add(target, 1, 0)
        update(target, "primary_accountable", e.receiver)
    elif act in ("transferCustody", "move"):
        create(target, source_accountable())
        add(source, -1 if act == "move" else 0, -1)
        add(target, 1 if act == "move" else 0, 1)
        update(target, "current_location", e.to_location)
    elif act == "copy":
        create(target, e.receiver, e.to_location or e.at_location)
        add(target, 1, 1)
    # state: every action but work and deliverService sets it, on the to-resource for the
    # five that have one
    if act in ("transfer", "transferAllRights", "transferCustody", "move", "copy"):
        update(target, "state", e.state)
    elif act not in ("work", "deliverService"):
        update(source, "state", e.state)
    for touched in (source, target):
        if touched is not None and touched in states:
            states[touched]["previous_event"] = name


RESOURCE_NAMES = sorted(RESOURCES) + [address("unknown")]
COMPATIBLE = {"kilogram": ["kilogram", "gram"], "one": ["one"], "euro": ["euro"]}


@st.composite
def random_events(draw: st.DrawFn) -> EconomicEvent:
    """Mostly applicable events: units usually fit the resource, corrections are rare."""
    source = draw(st.sampled_from([None] + RESOURCE_NAMES * 3))
    target = draw(st.sampled_from([None] + RESOURCE_NAMES * 3))
    some = source or target
    fitting = COMPATIBLE[RESOURCES[some].unit_of_resource] if some in RESOURCES else ["one"]
    unit = draw(st.sampled_from(fitting * 8 + ["kilogram", "hour", "euro"]))
    halves = draw(st.integers(min_value=-3, max_value=20))
    quantity = draw(st.sampled_from([Measure.of(D(halves) / 2, unit)] * 9 + [None]))
    optional = st.sampled_from
    return EconomicEvent(
        action=draw(st.sampled_from(sorted(ACTIONS))),
        provider=draw(st.sampled_from([ALICE, BOB])),
        receiver=draw(st.sampled_from([ALICE, BOB])),
        resource_inventoried_as=source,
        to_resource_inventoried_as=target,
        resource_quantity=quantity,
        input_of=draw(optional([None, *PROCESSES])),
        output_of=draw(optional([None, *PROCESSES])),
        at_location=draw(optional([None, "here", "there"])),
        to_location=draw(optional([None, "port", "shop"])),
        stage=draw(optional([None, address("stage")])),
        state=draw(optional([None, "pass", "fail"])),
        corrects=draw(optional([None] * 5 + [address("some event")])),
    )


# every sequence starts from stock, so that most events apply
OPENING = [
    EconomicEvent(action="raise", provider=ALICE, receiver=ALICE, resource_inventoried_as=r,
                  resource_quantity=Measure.of(20, RESOURCES[r].unit_of_resource))
    for r in sorted(RESOURCES)
]  # fmt: skip


def outcome(step: Any, events: Sequence[tuple[str, EconomicEvent]]) -> list[Any]:
    """The states after each event, ending with "error" where an event cannot apply."""
    results: list[Any] = []
    for i in range(len(events)):
        try:
            results.append(step(events[: i + 1]))
        except ResourceError:
            results.append("error")
            break
    return results


@settings(max_examples=300)
@given(st.lists(random_events(), max_size=12))
def test_fold_matches_the_reference(events: list[EconomicEvent]) -> None:
    named = [(address(f"event {i}"), e) for i, e in enumerate(OPENING + events)]
    fast = outcome(lambda es: fold(es, resources=RESOURCES, processes=PROCESSES), named)
    slow = outcome(lambda es: reference_fold(es, RESOURCES, PROCESSES), named)
    assert fast == slow


@given(st.lists(random_events(), max_size=8))
def test_apply_event_agrees_with_fold(events: list[EconomicEvent]) -> None:
    named = [(address(f"event {i}"), e) for i, e in enumerate(events)]
    states: dict[str, ResourceState] = {}
    try:
        for name, e in named:
            states = apply_event(states, name, e, resources=RESOURCES, processes=PROCESSES)
    except ResourceError:
        with pytest.raises(ResourceError):
            fold(named, resources=RESOURCES, processes=PROCESSES)
        return
    assert states == fold(named, resources=RESOURCES, processes=PROCESSES)
