"""Entry types: VF names when encoded, strict parsing, content round trips (hypothesis)."""

from __future__ import annotations

import base64
import hashlib
import types
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import StrictBool, ValidationError

from zomes.valueflows import entries
from zomes.valueflows.entries import ENTRY_TYPES, EconomicEvent, ResourceSpecification, VfEntry
from zomes.valueflows.units import UNITS, Measure

ALPHABET58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def address(name: str) -> str:
    digest = hashlib.blake2b(name.encode(), digest_size=32).digest()
    return "bafy2bzace" + base64.b32encode(digest).decode().lower().rstrip("=")


AGENT = "12D3KooW" + "A" * 44

addresses = st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=9, max_size=60).map(
    lambda s: "b" + s
)
agents = st.text(ALPHABET58, min_size=44, max_size=44).map(lambda s: "12D3KooW" + s)
labels = st.text(min_size=1, max_size=20)
decimal_texts = st.decimals(allow_nan=False, allow_infinity=False, places=4).map(
    lambda d: Measure.of(d, "one").has_numerical_value
)
numbers = st.decimals(
    allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=1000
)
measures = st.builds(Measure.of, numbers, st.sampled_from(sorted(UNITS)))

ALIASES: dict[Any, st.SearchStrategy[Any]] = {
    entries.Address: addresses,
    entries.AgentId: agents,
    entries.Party: st.one_of(agents, addresses),
    entries.Iri: st.sampled_from(["https://farm.example/lot/7", "urn:coledger:bafyx",
                                  "http://www.wikidata.org/entity/Q15645384"]),
    entries.Name: labels,
    entries.Label: labels,
    entries.Text: st.text(max_size=40),
    entries.DecimalText: decimal_texts,
    entries.UnitId: st.sampled_from(sorted(UNITS)),
    entries.Timestamp: st.integers(min_value=0, max_value=2**62),
    StrictBool: st.booleans(),
    Measure: measures,
    entries.Mass: st.builds(
        Measure.of, st.decimals(min_value=Decimal("0.001"), max_value=1000, places=3),
        st.sampled_from(sorted(u for u in UNITS if UNITS[u].dimension == "mass")),
    ),
}


def strategy_for(hint: Any) -> st.SearchStrategy[Any]:
    """A strategy for one field's type hint, from the entry module's own type aliases."""
    for alias, strategy in ALIASES.items():
        if hint is alias:
            return strategy
    origin = get_origin(hint)
    if origin is Literal:
        return st.sampled_from(get_args(hint))
    if origin in (Union, types.UnionType):
        return st.one_of(*(strategy_for(arg) for arg in get_args(hint)))
    if hint is type(None):
        return st.none()
    if origin is tuple:
        return st.lists(strategy_for(get_args(hint)[0]), max_size=3).map(tuple)
    if origin is Annotated:
        raise AssertionError(f"no strategy for {hint}: add its alias to ALIASES")
    if isinstance(hint, type) and issubclass(hint, VfEntry):  # an entry inline (a clause)
        return entries_of(hint)
    raise AssertionError(f"no strategy for {hint}")


def entries_of(cls: type[VfEntry]) -> st.SearchStrategy[VfEntry]:
    hints = get_type_hints(cls, include_extras=True)
    fields = {name: strategy_for(hints[name]) for name in cls.model_fields}
    return st.fixed_dictionaries(fields).map(lambda values: cls(**values))


any_entry = st.sampled_from(sorted(ENTRY_TYPES)).flatmap(lambda name: entries_of(ENTRY_TYPES[name]))


@given(any_entry)
def test_content_round_trips(entry: VfEntry) -> None:
    content = entry.to_content()
    assert type(entry).from_content(content) == entry
    assert type(entry).from_content(content).to_content() == content
    assert _only_plain_values(content)


def _only_plain_values(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _only_plain_values(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_plain_values(v) for v in value)
    return value is None or isinstance(value, str | int | bool) and not isinstance(value, float)


def test_encoded_names_are_vf_camel_case_and_defaults_are_omitted() -> None:
    event = EconomicEvent(
        action="transfer",
        provider=AGENT,
        receiver=AGENT,
        resource_inventoried_as=address("a"),
        to_resource_inventoried_as=address("b"),
        resource_quantity=Measure.of(Decimal("2.5"), "kg"),
        has_point_in_time=1_700_000_000_000_000,
    )
    assert event.to_content() == {
        "action": "transfer",
        "provider": AGENT,
        "receiver": AGENT,
        "resourceInventoriedAs": address("a"),
        "toResourceInventoriedAs": address("b"),
        "resourceQuantity": {"hasNumericalValue": "2.5", "hasUnit": "kilogram"},
        "hasPointInTime": 1_700_000_000_000_000,
    }
    spec = ResourceSpecification(name="Mutual credit", allow_negative=True)
    assert spec.to_content() == {"name": "Mutual credit", "allowNegative": True}


def test_registry_names_every_entry_type_by_its_class() -> None:
    assert set(ENTRY_TYPES) == {
        "Agent", "ResourceSpecification", "ProcessSpecification", "SpatialThing",
        "EconomicResource", "EconomicEvent", "Process", "Plan", "Intent", "Commitment",
        "Agreement", "Proposal", "Claim", "Recipe", "RecipeProcess", "RecipeExchange",
        "RecipeFlow",
    }  # fmt: skip
    assert all(cls.__name__ == name for name, cls in ENTRY_TYPES.items())


GOOD_EVENT = {"action": "work", "provider": AGENT, "receiver": AGENT}


@pytest.mark.parametrize(
    "change",
    [
        {"colour": "red"},  # unknown field
        {"action": "steal"},
        {"provider": "alice"},
        {"inputOf": "not-an-address"},
        {"inputOf": "BAFYUPPERCASE234"},
        {"hasPointInTime": 1.5},
        {"hasPointInTime": "1"},
        {"hasPointInTime": True},
        {"hasPointInTime": -1},
        {"effortQuantity": {"hasNumericalValue": 3.0, "hasUnit": "hour"}},
        {"effortQuantity": {"hasNumericalValue": "3.0", "hasUnit": "hour"}},
        {"effortQuantity": {"hasNumericalValue": "3", "hasUnit": "h"}},
        {"effortQuantity": {"hasNumericalValue": "NaN", "hasUnit": "hour"}},
        {"resourceClassifiedAs": [1]},
    ],
)
def test_malformed_content_is_rejected(change: dict[str, Any]) -> None:
    assert EconomicEvent.from_content(GOOD_EVENT) == EconomicEvent(**GOOD_EVENT)
    with pytest.raises(ValidationError):
        EconomicEvent.from_content({**GOOD_EVENT, **change})


def test_entries_are_frozen() -> None:
    event = EconomicEvent.from_content(GOOD_EVENT)
    with pytest.raises(ValidationError):
        event.action = "consume"  # type: ignore[misc]
