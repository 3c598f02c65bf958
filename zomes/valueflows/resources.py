"""Resource state derived purely from events, by folding them over the action-effects table.

A resource exists, with zero quantities, from the first event whose action may create it
(`createResource` optional / optionalTo); later events shift its accounting and onhand
quantities (converted exactly to the resource's unit) and update who is accountable for it,
where it is, what contains it, its stage and its state, as the table says.

Corrections follow VF: a correcting event has the corrected event's action and negative
quantities, so folding it through the same effects takes back what the corrected event
added or removed; it changes quantities only (no location, stage or state updates).
Implied transfers: when an event's provider and receiver differ, the resource it creates is
the receiver's (the `new`/`updateTo` accountable effects name the receiver).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final

from zomes.valueflows.actions import ACTIONS, ActionEffects
from zomes.valueflows.entries import (
    EconomicEvent,
    EconomicResource,
    Process,
    external_party,
    is_member,
)
from zomes.valueflows.units import Measure, UnitError, convert, decimal_string

ZERO: Final = Decimal(0)

# Sign of an accounting/onhand effect on the event's resource and on its to-resource.
FROM_SIGN: Final[dict[str, int]] = {"increment": 1, "decrement": -1, "decrementIncrement": -1}
TO_SIGN: Final[dict[str, int]] = {"decrementIncrement": 1, "incrementTo": 1}


class ResourceError(ValueError):
    """An event that cannot apply to the resources as they stand (the rules catch these
    first; the fold raising means a caller folded events that were never validated)."""


@dataclass(frozen=True, slots=True)
class ResourceState:
    """What the events say about one resource now."""

    address: str
    unit: str
    conforms_to: str | None = None
    accounting: Decimal = ZERO
    onhand: Decimal = ZERO
    primary_accountable: str | None = None
    current_location: str | None = None
    contained_in: str | None = None
    stage: str | None = None
    state: str | None = None
    previous_event: str | None = None

    @property
    def accounting_quantity(self) -> Measure:
        """vf:accountingQuantity, in the resource's unit."""
        return _measure(self.accounting, self.unit)

    @property
    def onhand_quantity(self) -> Measure:
        """vf:onhandQuantity, in the resource's unit."""
        return _measure(self.onhand, self.unit)

    def to_content(self) -> dict[str, Any]:
        """JSON form with VF property names; absent properties omitted."""
        content = {
            "address": self.address,
            "conformsTo": self.conforms_to,
            "accountingQuantity": self.accounting_quantity.to_content(),
            "onhandQuantity": self.onhand_quantity.to_content(),
            "primaryAccountable": self.primary_accountable,
            "currentLocation": self.current_location,
            "containedIn": self.contained_in,
            "stage": self.stage,
            "state": self.state,
            "previousEvent": self.previous_event,
        }
        return {key: value for key, value in content.items() if value is not None}


def _measure(value: Decimal, unit: str) -> Measure:
    return Measure.model_construct(has_numerical_value=decimal_string(value), has_unit=unit)


def apply_event(
    states: Mapping[str, ResourceState],
    event_address: str,
    event: EconomicEvent,
    *,
    resources: Mapping[str, EconomicResource],
    processes: Mapping[str, Process],
    side: str | None = None,
) -> dict[str, ResourceState]:
    """The resource states after `event`; `states` is left as it was."""
    new_states = dict(states)
    apply_in_place(new_states, event_address, event, resources, processes, side)
    return new_states


def fold(
    events: Iterable[tuple[str, EconomicEvent]],
    *,
    resources: Mapping[str, EconomicResource],
    processes: Mapping[str, Process],
) -> dict[str, ResourceState]:
    """The resource states after (address, event) pairs, applied in order."""
    states: dict[str, ResourceState] = {}
    for address, event in events:
        apply_in_place(states, address, event, resources, processes)
    return states


def apply_in_place(
    states: dict[str, ResourceState],
    address: str,
    event: EconomicEvent,
    resources: Mapping[str, EconomicResource],
    processes: Mapping[str, Process],
    side: str | None = None,
) -> None:
    """Apply one event to `states` in place (for incremental folds that own `states`).

    `side` is set for a countersigned event folded into one party's chain: only that
    party's resources change there (the provider's source, the receiver's target);
    the other party's chain folds the other side of the same event. An event with an
    external party is folded as the member's side (the external agent's resources are
    on no chain).
    """
    if side is None and external_party(event) is not None:
        side = event.provider if is_member(event.provider) else event.receiver
    effects = ACTIONS[event.action]
    source, target = event.resource_inventoried_as, event.to_resource_inventoried_as
    if event.corrects is None and (
        side is None or _first_accountable(states, event, effects) == side
    ):
        _create(states, resources, event, effects)
    if side is not None and not (source in states or target in states):
        return  # neither resource is this party's: nothing changes on its chain
    _shift_quantities(states, address, event, effects, side is not None)
    if event.corrects is None:
        _update_source(states, event, effects, processes)
        _update_target(states, event, effects)
    for touched in (source, target):
        if touched is not None and touched in states:
            states[touched] = replace(states[touched], previous_event=address)


def _create(
    states: dict[str, ResourceState],
    resources: Mapping[str, EconomicResource],
    event: EconomicEvent,
    effects: ActionEffects,
) -> None:
    """Bring into existence the resource this event may create, if it does not exist yet."""
    if effects.create_resource == "optional":
        address, location = event.resource_inventoried_as, event.at_location
    elif effects.create_resource == "optionalTo":
        address, location = event.to_resource_inventoried_as, event.to_location or event.at_location
    else:
        return
    if address is None or address in states:
        return
    entry = resources.get(address)
    if entry is None:
        raise ResourceError(f"{event.action} names resource {address}, which is not known")
    states[address] = ResourceState(
        address=address,
        unit=entry.unit_of_resource,
        conforms_to=entry.conforms_to,
        primary_accountable=_first_accountable(states, event, effects),
        current_location=(location if effects.location_effect == "new" else None)
        or entry.current_location,
    )


def _first_accountable(
    states: Mapping[str, ResourceState], event: EconomicEvent, effects: ActionEffects
) -> str:
    """Who is accountable for a resource the event creates: the receiver when the action
    gives rights (`new`, `updateTo`), else whoever was accountable for the source."""
    if effects.accountable_effect in ("new", "updateTo"):
        return event.receiver
    source = states.get(event.resource_inventoried_as or "")
    return source.primary_accountable or event.provider if source else event.provider


def _shift_quantities(
    states: dict[str, ResourceState],
    address: str,
    event: EconomicEvent,
    effects: ActionEffects,
    own_only: bool = False,
) -> None:
    """Add or subtract the event's resource quantity as the accounting/onhand effects say."""
    quantity_effects = (
        ("accounting", effects.accounting_effect),
        ("onhand", effects.onhand_effect),
    )
    for field, effect in quantity_effects:
        for resource, sign in (
            (event.resource_inventoried_as, FROM_SIGN.get(effect)),
            (event.to_resource_inventoried_as, TO_SIGN.get(effect)),
        ):
            if resource is None or sign is None or (own_only and resource not in states):
                continue
            state = _existing(states, resource, address, event)
            delta = sign * _quantity_in(event, state.unit, address)
            states[resource] = replace(state, **{field: getattr(state, field) + delta})


def _existing(
    states: Mapping[str, ResourceState], resource: str, address: str, event: EconomicEvent
) -> ResourceState:
    state = states.get(resource)
    if state is None:
        raise ResourceError(
            f"{event.action} event {address} changes resource {resource}, which no earlier "
            "event created (record it first with produce or raise)"
        )
    return state


def _quantity_in(event: EconomicEvent, unit: str, address: str) -> Decimal:
    """The event's resource quantity, converted exactly to `unit`."""
    quantity = event.resource_quantity
    if quantity is None:
        raise ResourceError(f"{event.action} event {address} has no resourceQuantity")
    try:
        return convert(quantity.value, quantity.has_unit, unit)
    except UnitError as error:
        raise ResourceError(f"{event.action} event {address}: {error}") from None


def _update_source(
    states: dict[str, ResourceState],
    event: EconomicEvent,
    effects: ActionEffects,
    processes: Mapping[str, Process],
) -> None:
    """Location, container, stage and state effects on the event's own resource."""
    resource = event.resource_inventoried_as
    if resource is None or resource not in states:
        return
    changes: dict[str, Any] = {}
    if effects.location_effect == "update" and event.at_location is not None:
        changes["current_location"] = event.at_location
    if effects.contained_effect == "update" and event.to_resource_inventoried_as is not None:
        changes["contained_in"] = event.to_resource_inventoried_as  # the container
    elif effects.contained_effect == "remove":
        changes["contained_in"] = None
    if effects.stage_effect == "update" and (stage := _stage(event, processes)) is not None:
        changes["stage"] = stage
    if effects.state_effect == "update" and event.state is not None:
        changes["state"] = event.state
    if changes:
        states[resource] = replace(states[resource], **changes)


def _stage(event: EconomicEvent, processes: Mapping[str, Process]) -> str | None:
    """The stage an output event gives its resource: the process's specification."""
    if event.output_of is None:
        return event.stage
    process = processes.get(event.output_of)
    if process is None:
        raise ResourceError(f"{event.action} is output of process {event.output_of}, not known")
    return process.based_on or event.stage


def _update_target(
    states: dict[str, ResourceState], event: EconomicEvent, effects: ActionEffects
) -> None:
    """Location, accountable and state effects on the event's to-resource."""
    resource = event.to_resource_inventoried_as
    if resource is None or resource not in states:
        return
    changes: dict[str, Any] = {}
    if effects.location_effect == "updateTo" and event.to_location is not None:
        changes["current_location"] = event.to_location
    if effects.accountable_effect == "updateTo":
        changes["primary_accountable"] = event.receiver
    if effects.state_effect == "updateTo" and event.state is not None:
        changes["state"] = event.state
    if changes:
        states[resource] = replace(states[resource], **changes)
