"""The ValueFlows 1.0 action-effects table, as data.

Each row restates one `vf:Action` individual of the VF 1.0 ontology (valueflows-1.0.ttl);
a test checks every cell against the TTL. Values are the TTL individuals' local names.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import Final, Literal, TypeGuard, get_args

NA: Final = "notApplicable"

ActionName = Literal[
    "produce", "consume", "use", "work", "cite", "deliverService", "pickup", "dropoff",
    "accept", "modify", "combine", "separate", "transferCustody", "transferAllRights",
    "transfer", "move", "copy", "raise", "lower",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ActionEffects:
    """What one VF action does: to processes, quantities and the inventoried resource."""

    input_output: str
    pairs_with: str
    event_quantity: str
    create_resource: str
    accounting_effect: str
    onhand_effect: str
    location_effect: str
    contained_effect: str
    accountable_effect: str
    stage_effect: str
    state_effect: str


# Columns in ActionEffects order:
#   inputOutput  pairsWith  eventQuantity  createResource  accountingEffect  onhandEffect
#   locationEffect  containedEffect  accountableEffect  stageEffect  stateEffect
_TABLE: Final[dict[str, tuple[str, ...]]] = {
    "produce":           ("output", NA, "resource", "optional", "increment", "increment",
                          "new", NA, "new", "update", "update"),
    "consume":           ("input", NA, "resource", NA, "decrement", "decrement",
                          NA, NA, NA, NA, "update"),
    "use":               ("input", NA, "both", NA, NA, NA,
                          NA, NA, NA, NA, "update"),
    "work":              ("input", NA, "effort", NA, NA, NA,
                          NA, NA, NA, NA, NA),
    "cite":              ("input", NA, "resource", NA, NA, NA,
                          NA, NA, NA, NA, "update"),
    "deliverService":    ("outputInput", NA, "resource", NA, NA, NA,
                          NA, NA, NA, NA, NA),
    "pickup":            ("input", "dropoff", "resource", NA, NA, "decrement",
                          "update", NA, NA, NA, "update"),
    "dropoff":           ("output", "pickup", "resource", NA, NA, "increment",
                          "update", NA, NA, "update", "update"),
    "accept":            ("input", "modify", "resource", NA, NA, "decrement",
                          "update", NA, NA, NA, "update"),
    "modify":            ("output", "accept", "resource", NA, NA, "increment",
                          "update", NA, NA, "update", "update"),
    "combine":           ("input", NA, "resource", NA, NA, "decrement",
                          NA, "update", NA, NA, "update"),
    "separate":          ("output", NA, "resource", NA, NA, "increment",
                          NA, "remove", NA, "update", "update"),
    "transferCustody":   (NA, NA, "resource", "optionalTo", NA, "decrementIncrement",
                          "updateTo", NA, NA, NA, "updateTo"),
    "transferAllRights": (NA, NA, "resource", "optionalTo", "decrementIncrement", NA,
                          NA, NA, "updateTo", NA, "updateTo"),
    "transfer":          (NA, NA, "resource", "optionalTo", "decrementIncrement",
                          "decrementIncrement", "updateTo", NA, "updateTo", NA, "updateTo"),
    "move":              (NA, NA, "resource", "optionalTo", "decrementIncrement",
                          "decrementIncrement", "updateTo", NA, NA, NA, "updateTo"),
    "copy":              (NA, NA, "resource", "optionalTo", "incrementTo", "incrementTo",
                          "new", NA, "new", NA, "updateTo"),
    "raise":             (NA, NA, "resource", "optional", "increment", "increment",
                          NA, NA, "new", NA, "update"),
    "lower":             (NA, NA, "resource", "optional", "decrement", "decrement",
                          NA, NA, "new", NA, "update"),
}  # fmt: skip

ACTIONS: Final[dict[str, ActionEffects]] = {
    name: ActionEffects(*row) for name, row in _TABLE.items()
}

# VF property name of each ActionEffects field, in field order.
VF_PROPERTIES: Final[tuple[str, ...]] = (
    "inputOutput", "pairsWith", "eventQuantity", "createResource", "accountingEffect",
    "onhandEffect", "locationEffect", "containedEffect", "accountableEffect", "stageEffect",
    "stateEffect",
)  # fmt: skip

assert len(VF_PROPERTIES) == len(fields(ActionEffects))
assert set(get_args(ActionName)) == set(ACTIONS)


def actions_as_json() -> list[dict[str, str]]:
    """The table as JSON objects keyed by VF property names, one per action, sorted by name."""
    return [
        {"action": name, **dict(zip(VF_PROPERTIES, astuple(ACTIONS[name]), strict=True))}
        for name in sorted(ACTIONS)
    ]


def is_action(name: str) -> TypeGuard[ActionName]:
    """Whether `name` is one of the 19 VF actions."""
    return name in ACTIONS
