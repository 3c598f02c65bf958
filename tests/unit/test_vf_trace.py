"""Track and trace: a bread supply chain, pairing through shared processes, depth."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from zomes.valueflows.entries import EconomicEvent
from zomes.valueflows.trace import FlowIndex, FlowNode, NotInIndex
from zomes.valueflows.units import Measure


def address(name: str) -> str:
    digest = hashlib.blake2b(name.encode(), digest_size=32).digest()
    return "bafy2bzace" + base64.b32encode(digest).decode().lower().rstrip("=")


AGENT = "12D3KooW" + "A" * 44
NAMES: dict[str, str] = {}


def a(name: str) -> str:
    """The address of a named thing; remembered so that failures print names."""
    NAMES[address(name)] = name
    return address(name)


def event(action: str, **links: str) -> EconomicEvent:
    quantity: dict[str, Any] = (
        {"effort_quantity": Measure.of(1, "hour")}
        if action == "work"
        else {"resource_quantity": Measure.of(1, "kilogram")}
    )
    fields = {key: a(value) for key, value in links.items()}
    return EconomicEvent(action=action, provider=AGENT, receiver=AGENT, **quantity, **fields)


BREAD_CHAIN = [
    ("work on farm", event("work", input_of="farming")),
    ("produce wheat", event("produce", resource_inventoried_as="wheat", output_of="farming")),
    ("raise electricity", event("raise", resource_inventoried_as="electricity")),
    ("consume wheat", event("consume", resource_inventoried_as="wheat", input_of="milling")),
    ("work milling", event("work", input_of="milling")),
    ("consume electricity", event("consume", resource_inventoried_as="electricity",
                                  input_of="milling")),
    ("produce flour", event("produce", resource_inventoried_as="flour", output_of="milling")),
    ("consume flour", event("consume", resource_inventoried_as="flour", input_of="baking")),
    ("produce bread", event("produce", resource_inventoried_as="bread", output_of="baking")),
]  # fmt: skip


def index_of(chain: list[tuple[str, EconomicEvent]]) -> FlowIndex:
    return FlowIndex([(a(name), e) for name, e in chain])


def named(flow: list[FlowNode]) -> list[tuple[str, str, int]]:
    return [(node.kind, NAMES[node.address], node.distance) for node in flow]


R, E, P = "EconomicResource", "EconomicEvent", "Process"


def test_trace_bread_back_to_wheat() -> None:
    assert named(index_of(BREAD_CHAIN).trace(a("bread"))) == [
        (R, "bread", 0),
        (E, "produce bread", 1),
        (P, "baking", 2),
        (E, "consume flour", 3),
        (R, "flour", 4),
        (E, "produce flour", 5),
        (P, "milling", 6),
        (E, "consume electricity", 7),  # inputs latest first
        (R, "electricity", 8),
        (E, "raise electricity", 9),
        (E, "work milling", 7),
        (E, "consume wheat", 7),
        (R, "wheat", 8),
        (E, "produce wheat", 9),
        (P, "farming", 10),
        (E, "work on farm", 11),
    ]


def test_track_wheat_forward_to_bread() -> None:
    assert named(index_of(BREAD_CHAIN).track(a("wheat"))) == [
        (R, "wheat", 0),
        (E, "consume wheat", 1),
        (P, "milling", 2),
        (E, "produce flour", 3),
        (R, "flour", 4),
        (E, "consume flour", 5),
        (P, "baking", 6),
        (E, "produce bread", 7),
        (R, "bread", 8),
    ]


def test_walks_start_from_events_and_processes_too() -> None:
    index = index_of(BREAD_CHAIN)
    assert [n for _, n, _ in named(index.trace(a("produce flour")))][:3] == [
        "produce flour", "milling", "consume electricity"
    ]  # fmt: skip
    assert [n for _, n, _ in named(index.track(a("milling")))] == [
        "milling", "produce flour", "flour", "consume flour", "baking", "produce bread", "bread"
    ]  # fmt: skip
    assert index.kind(a("milling")) == P
    assert index.previous(a("milling")) == [
        a("consume electricity"), a("work milling"), a("consume wheat")
    ]  # fmt: skip
    assert index.next(a("wheat")) == [a("consume wheat")]


def test_unknown_start_is_reported() -> None:
    with pytest.raises(NotInIndex):
        index_of(BREAD_CHAIN).trace(a("cake"))


def test_transfers_are_followed_between_resources() -> None:
    chain = [
        *BREAD_CHAIN,
        ("sell bread", event("transfer", resource_inventoried_as="bread",
                             to_resource_inventoried_as="shop bread")),
    ]  # fmt: skip
    index = index_of(chain)
    assert named(index.trace(a("shop bread")))[:3] == [
        (R, "shop bread", 0), (E, "sell bread", 1), (R, "bread", 2)
    ]  # fmt: skip
    assert named(index.track(a("flour")))[-2:] == [(E, "sell bread", 5), (R, "shop bread", 6)]


@pytest.mark.parametrize(
    ("into", "out_of"), [("pickup", "dropoff"), ("accept", "modify"), ("combine", "separate")]
)
def test_a_shared_process_is_left_through_the_resource_it_was_entered_with(
    into: str, out_of: str
) -> None:
    chain = [
        ("raise parcel", event("raise", resource_inventoried_as="parcel")),
        ("raise crate", event("raise", resource_inventoried_as="crate")),
        (f"{into} parcel", event(into, resource_inventoried_as="parcel", input_of="truck")),
        (f"{into} crate", event(into, resource_inventoried_as="crate", input_of="truck")),
        (f"{out_of} parcel", event(out_of, resource_inventoried_as="parcel", output_of="truck")),
        (f"{out_of} crate", event(out_of, resource_inventoried_as="crate", output_of="truck")),
    ]  # fmt: skip
    index = index_of(chain)
    assert named(index.trace(a("parcel"))) == [
        (R, "parcel", 0),
        (E, f"{out_of} parcel", 1),
        (P, "truck", 2),
        (E, f"{into} parcel", 3),  # not the crate's
        (E, "raise parcel", 1),
    ]
    assert named(index.track(a("crate"))) == [
        (R, "crate", 0),
        (E, f"{into} crate", 1),
        (P, "truck", 2),
        (E, f"{out_of} crate", 3),  # not the parcel's
    ]
    # starting at the pairing event itself opens its stack too
    assert [n for _, n, _ in named(index.trace(a(f"{out_of} crate")))] == [
        f"{out_of} crate", "truck", f"{into} crate", "crate", "raise crate"
    ]  # fmt: skip


def test_deep_chains_do_not_recurse() -> None:
    depth = 3000  # processes; far past Python's recursion limit
    chain = [("raise 0", event("raise", resource_inventoried_as="r 0"))]
    for level in range(depth):
        chain.append((f"consume {level}", event("consume", resource_inventoried_as=f"r {level}",
                                                input_of=f"p {level}")))  # fmt: skip
        chain.append((f"produce {level}", event("produce", resource_inventoried_as=f"r {level + 1}",
                                                output_of=f"p {level}")))  # fmt: skip
    index = index_of(chain)
    trace = index.trace(a(f"r {depth}"))
    assert len(trace) == 4 * depth + 2
    assert trace[-1] == FlowNode(E, a("raise 0"), 4 * depth + 1)
    track = index.track(a("r 0"))
    assert len(track) == 4 * depth + 1 and track[-1].distance == 4 * depth


def test_an_address_cannot_be_two_kinds() -> None:
    with pytest.raises(ValueError, match="used as Process and as EconomicResource"):
        FlowIndex([(a("x"), event("consume", resource_inventoried_as="wheat", input_of="wheat"))])
