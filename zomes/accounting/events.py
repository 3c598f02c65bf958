"""What reports read off an economic event: its time, whether it falls in a time window,
and the quantity that measures its flow. Not hashed into the DNA."""

from __future__ import annotations

from zomes.valueflows.actions import ACTIONS
from zomes.valueflows.entries import EconomicEvent
from zomes.valueflows.units import Measure


def event_time(event: EconomicEvent) -> int | None:
    """When the event happened: hasPointInTime, else hasEnd, else hasBeginning (µs)."""
    for time in (event.has_point_in_time, event.has_end, event.has_beginning):
        if time is not None:
            return time
    return None


def in_window(event: EconomicEvent, since_us: int | None, until_us: int | None) -> bool:
    """Whether the event falls in [since_us, until_us); an event without a time only
    passes when there is no window."""
    if since_us is None and until_us is None:
        return True
    time = event_time(event)
    if time is None:
        return False
    return (since_us is None or time >= since_us) and (until_us is None or time < until_us)


def flow_quantity(event: EconomicEvent) -> Measure | None:
    """The quantity that measures the flow: effort for `work`, the resource quantity for
    resource actions, and for `use` (both) the effort when given, else the resource."""
    kind = ACTIONS[event.action].event_quantity
    if kind == "effort":
        return event.effort_quantity
    if kind == "both":
        return event.effort_quantity or event.resource_quantity
    return event.resource_quantity
