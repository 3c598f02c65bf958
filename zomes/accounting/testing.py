"""A small supply chain as values, for tests and demos: a farm grows wheat with diesel and
irrigation water, sells it to a mill that grinds it with electricity into flour and bran,
which sells the flour to a bakery that bakes bread (from a cited recipe).

Names stand for addresses and agent ids: `chain.at("flour")` is the flour's address,
`chain.agent("mill")` the mill's agent id; both are derived from the name, deterministically.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

from zomes.accounting.entries import SpecFootprint
from zomes.accounting.footprint import Factor
from zomes.valueflows.entries import (
    Agent,
    EconomicEvent,
    EconomicResource,
    Process,
    ResourceSpecification,
)
from zomes.valueflows.trace import FlowIndex
from zomes.valueflows.units import Measure

BASE58: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
DAY: Final = 86_400_000_000
START: Final = 1_717_200_000_000_000  # 2024-06-01T00:00:00Z


def address(name: str) -> str:
    """A well-formed address derived from a name."""
    digest = hashlib.blake2b(name.encode(), digest_size=32).digest()
    return "bafy2bzace" + base64.b32encode(digest).decode().lower().rstrip("=")


def spec_address(name: str) -> str:
    """The address of the resource specification called `name`."""
    return address(f"specification {name}")


def agent_id(name: str) -> str:
    """A well-formed agent id (libp2p peer id shape) derived from a name."""
    digest = hashlib.blake2b(name.encode(), digest_size=44).digest()
    return "12D3KooW" + "".join(BASE58[byte % 58] for byte in digest)


@dataclass
class Chain:
    """Events in chain order, and the entries they refer to, keyed by address."""

    events: list[tuple[str, EconomicEvent]] = field(default_factory=list)
    processes: dict[str, Process] = field(default_factory=dict)
    resources: dict[str, EconomicResource] = field(default_factory=dict)
    specs: dict[str, ResourceSpecification] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    authors: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # agent id -> display name
    clock: int = START

    def at(self, name: str) -> str:
        return address(name)

    def spec_at(self, name: str) -> str:
        return spec_address(name)

    def agent(self, name: str) -> str:
        return agent_id(name)

    def add_agent(self, name: str, kind: str = "Organization") -> str:
        self.agents[agent_id(name)] = Agent(name=name.title(), agent_type=kind)  # type: ignore[arg-type]
        self.names[agent_id(name)] = name.title()
        return agent_id(name)

    def spec(self, name: str, unit: str, effort: str | None = None) -> str:
        self.specs[spec_address(name)] = ResourceSpecification(
            name=name, default_unit_of_resource=unit, default_unit_of_effort=effort
        )
        return spec_address(name)

    def resource(self, name: str, spec: str, unit: str) -> str:
        self.resources[address(name)] = EconomicResource(
            name=name, unit_of_resource=unit, conforms_to=spec_address(spec)
        )
        return address(name)

    def process(self, name: str) -> str:
        self.processes[address(name)] = Process(name=name)
        return address(name)

    def event(self, name: str, action: str, by: str, to: str | None = None, **fields: Any) -> str:
        """Record an event authored by `by`; `quantity="12 litre"`-style measures are given
        as (number, unit) tuples; names of things are turned into addresses."""
        content: dict[str, Any] = {"has_point_in_time": self.clock}
        for key, value in fields.items():
            if key in ("resource_quantity", "effort_quantity"):
                content[key] = Measure.of(*value)
            elif key == "resource_classified_as":
                content[key] = tuple(value)
            elif key == "resource_conforms_to":
                content[key] = spec_address(value)
            else:
                content[key] = address(value)
        self.clock += DAY
        event = EconomicEvent.model_validate(
            {"action": action, "provider": agent_id(by), "receiver": agent_id(to or by), **content}
        )
        self.events.append((address(name), event))
        self.authors[address(name)] = agent_id(by if to is None else to)
        return address(name)

    def index(self) -> FlowIndex:
        return FlowIndex(self.events, self.processes, self.resources)


def bread_chain() -> Chain:
    """farm → mill → bakery, with the quantities the tests work out by hand."""
    c = Chain()
    for name in ("farm", "mill", "bakery"):
        c.add_agent(name)
    for name in ("ana", "ben", "cleo"):  # the farmer, the miller, the baker
        c.add_agent(name, "Person")
    for name, unit in (
        ("diesel", "litre"), ("water", "cubicMetre"), ("electricity", "kilowattHour"),
        ("wheat", "kilogram"), ("flour", "kilogram"), ("bran", "kilogram"),
        ("bread", "kilogram"), ("recipe", "one"),
    ):  # fmt: skip
        c.spec(name, unit)
    c.spec("labour", "hour", "hour")
    for name, spec, unit in (
        ("farm diesel", "diesel", "litre"), ("farm water", "water", "cubicMetre"),
        ("farm wheat", "wheat", "kilogram"), ("mill wheat", "wheat", "kilogram"),
        ("mill electricity", "electricity", "kilowattHour"), ("flour", "flour", "kilogram"),
        ("bran", "bran", "kilogram"), ("bakery flour", "flour", "kilogram"),
        ("bread", "bread", "kilogram"), ("recipe", "recipe", "one"),
    ):  # fmt: skip
        c.resource(name, spec, unit)
    for name in ("farming", "milling", "baking"):
        c.process(name)
    c.event(
        "raise diesel",
        "raise",
        "farm",
        resource_quantity=(100, "l"),
        resource_inventoried_as="farm diesel",
    )
    c.event(
        "raise water",
        "raise",
        "farm",
        resource_quantity=(500, "m3"),
        resource_inventoried_as="farm water",
    )
    c.event(
        "consume diesel",
        "consume",
        "farm",
        resource_quantity=(12, "l"),
        resource_inventoried_as="farm diesel",
        input_of="farming",
    )
    c.event(
        "consume water",
        "consume",
        "farm",
        resource_quantity=(50, "m3"),
        resource_inventoried_as="farm water",
        input_of="farming",
    )
    c.event(
        "ana works",
        "work",
        "ana",
        "farm",
        effort_quantity=(10, "hour"),
        resource_conforms_to="labour",
        input_of="farming",
    )
    c.event(
        "produce wheat",
        "produce",
        "farm",
        resource_quantity=(1000, "kg"),
        resource_inventoried_as="farm wheat",
        output_of="farming",
    )
    c.event(
        "sell wheat",
        "transfer",
        "farm",
        "mill",
        resource_quantity=(1000, "kg"),
        resource_inventoried_as="farm wheat",
        to_resource_inventoried_as="mill wheat",
    )
    c.event(
        "raise electricity",
        "raise",
        "mill",
        resource_quantity=(500, "kWh"),
        resource_inventoried_as="mill electricity",
    )
    c.event(
        "consume wheat",
        "consume",
        "mill",
        resource_quantity=(1000, "kg"),
        resource_inventoried_as="mill wheat",
        input_of="milling",
    )
    c.event(
        "consume electricity",
        "consume",
        "mill",
        resource_quantity=(40, "kWh"),
        resource_inventoried_as="mill electricity",
        input_of="milling",
    )
    c.event(
        "ben works",
        "work",
        "ben",
        "mill",
        effort_quantity=(8, "hour"),
        resource_conforms_to="labour",
        input_of="milling",
    )
    c.event(
        "produce flour",
        "produce",
        "mill",
        resource_quantity=(800, "kg"),
        resource_inventoried_as="flour",
        output_of="milling",
    )
    c.event(
        "produce bran",
        "produce",
        "mill",
        resource_quantity=(200, "kg"),
        resource_inventoried_as="bran",
        output_of="milling",
    )
    c.event(
        "sell flour",
        "transfer",
        "mill",
        "bakery",
        resource_quantity=(800, "kg"),
        resource_inventoried_as="flour",
        to_resource_inventoried_as="bakery flour",
    )
    c.event(
        "raise recipe",
        "raise",
        "ana",
        resource_quantity=(1, "one"),
        resource_inventoried_as="recipe",
    )
    c.event(
        "consume flour",
        "consume",
        "bakery",
        resource_quantity=(800, "kg"),
        resource_inventoried_as="bakery flour",
        input_of="baking",
    )
    c.event(
        "cite recipe",
        "cite",
        "ana",
        "bakery",
        resource_quantity=(1, "one"),
        resource_inventoried_as="recipe",
        input_of="baking",
    )
    c.event(
        "cleo bakes",
        "work",
        "cleo",
        "bakery",
        effort_quantity=(20, "hour"),
        resource_conforms_to="labour",
        resource_classified_as=["baking"],
        input_of="baking",
    )
    c.event("produce bread", "produce", "bakery", resource_quantity=(1200, "kg"),
            resource_inventoried_as="bread", output_of="baking")  # fmt: skip
    return c


def bread_footprints() -> dict[str, SpecFootprint]:
    """Diesel: 38.6 MJ, 2.68 kgCO2e and 0.832 kg of diesel per litre; electricity: 3.6 MJ
    and 0.25 kgCO2e per kWh; irrigation water: 1 m³ of water per m³."""

    def factor(kind: str, number: str, unit: str, material: str | None = None) -> Factor:
        return Factor(kind=kind, quantity=Measure.of(number, unit), material=material)  # type: ignore[arg-type]

    return {
        spec_address("diesel"): SpecFootprint(
            specification=spec_address("diesel"), per="litre",
            factors=(factor("energy", "38.6", "MJ"), factor("emissions", "2.68", "kgCO2e"),
                     factor("material", "0.832", "kg", "diesel")),
        ),
        spec_address("electricity"): SpecFootprint(
            specification=spec_address("electricity"), per="kilowattHour",
            factors=(factor("energy", "3.6", "MJ"), factor("emissions", "0.25", "kgCO2e")),
        ),
        spec_address("water"): SpecFootprint(
            specification=spec_address("water"), per="cubicMetre",
            factors=(factor("water", "1", "m3"),),
        ),
    }  # fmt: skip
