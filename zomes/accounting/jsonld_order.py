"""The order a document's events are recorded in, whatever the order of its @graph, and
the opening balances of resources it gives with their quantities (for
node/imports.py; pure: events as jsonld_import reads them, references as IRIs).

Events are applied in time order (hasPointInTime, else hasEnd, else hasBeginning; none:
first), then document order, except that an event comes after every event it depends on:
one that creates or adds to a resource it takes from or changes, the event it corrects,
and the pickup (accept) a dropoff (modify) of that resource in that process closes.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from zomes.accounting.common import AccountingError
from zomes.valueflows.actions import ACTIONS, NA
from zomes.valueflows.resources import FROM_SIGN, TO_SIGN
from zomes.valueflows.units import UnitError, convert, decimal_string

Event = tuple[str | None, Mapping[str, Any]]
_PAIRS: Final = {name: e.pairs_with for name, e in ACTIONS.items()
                 if e.pairs_with != NA and e.input_output == "output"}


def _time(event: Mapping[str, Any]) -> int:
    for key in ("hasPointInTime", "hasEnd", "hasBeginning"):
        if isinstance(event.get(key), int):
            return int(event[key])
    return -1


def creates(event: Mapping[str, Any]) -> str | None:
    """The resource an event may bring into existence (VF's createResource)."""
    if event.get("corrects"):
        return None
    effect = ACTIONS[event["action"]].create_resource
    key = {"optional": "resourceInventoriedAs", "optionalTo": "toResourceInventoriedAs"}
    return event.get(key[effect]) if effect in key else None


def _adds(event: Mapping[str, Any]) -> set[str]:
    """The resources an event creates or adds to."""
    effects = ACTIONS[event["action"]]
    found = {creates(event)} - {None}
    for effect in (effects.accounting_effect, effects.onhand_effect):
        if FROM_SIGN.get(effect, 0) > 0 and event.get("resourceInventoriedAs"):
            found.add(event["resourceInventoriedAs"])
        if TO_SIGN.get(effect) and event.get("toResourceInventoriedAs"):
            found.add(event["toResourceInventoriedAs"])
    return {str(r) for r in found}


def _names(event: Mapping[str, Any]) -> set[str]:
    return {str(event[k]) for k in ("resourceInventoriedAs", "toResourceInventoriedAs")
            if event.get(k)}


def dependency_order(events: Sequence[Event]) -> list[int]:
    """The indexes of `events` in the order to record them (see the module)."""
    keys = [(_time(e), n) for n, (_, e) in enumerate(events)]
    by_iri = {iri: n for n, (iri, _) in enumerate(events) if iri is not None}
    suppliers: dict[str, list[int]] = {}
    for n, (_, event) in enumerate(events):
        for resource in _adds(event):
            suppliers.setdefault(resource, []).append(n)
    needs: list[set[int]] = []
    for n, (_, event) in enumerate(events):
        before: set[int] = set()
        for resource in _names(event) - _adds(event):
            before |= {s for s in suppliers.get(resource, []) if keys[s][0] <= keys[n][0]
                       or keys[n][0] < 0 or keys[s][0] < 0}
        if event.get("corrects") in by_iri:
            before.add(by_iri[event["corrects"]])
        opener = _PAIRS.get(event["action"])
        if opener is not None:
            before |= {m for m, (_, other) in enumerate(events) if other["action"] == opener
                       and other.get("resourceInventoriedAs") == event.get("resourceInventoriedAs")
                       and other.get("inputOf") == event.get("outputOf")}
        needs.append(before - {n})
    return _kahn(keys, needs)


def _kahn(keys: list[tuple[int, int]], needs: list[set[int]]) -> list[int]:
    """Topological order, the smallest key first among those ready; a cycle (which
    well-formed documents do not have) is broken at its smallest key."""
    waiting = {n: set(before) for n, before in enumerate(needs)}
    dependents: dict[int, list[int]] = {}
    for n, before in waiting.items():
        for m in before:
            dependents.setdefault(m, []).append(n)
    ready = [keys[n] for n, before in waiting.items() if not before]
    heapq.heapify(ready)
    order: list[int] = []
    done: set[int] = set()
    while len(order) < len(keys):
        if not ready:  # a cycle: take the smallest of what is left
            heapq.heappush(ready, min(keys[n] for n in waiting if n not in done))
        _, n = heapq.heappop(ready)
        if n in done:
            continue
        done.add(n)
        order.append(n)
        for m in dependents.get(n, []):
            waiting[m].discard(n)
            if not waiting[m] and m not in done:
                heapq.heappush(ready, keys[m])
    return order


def opening_balance(iri: str, stated: Mapping[str, str], events: Sequence[Event]) -> str | None:
    """What a resource the document gives with its quantity (`stated`, as it stands after
    the document's events) held before them, in the stated unit: the stated quantity less
    what the events put in, plus what they took out (accounting effects); None when that
    is nothing (the events made it all: coledger's own exports); AccountingError when the
    events take out more than it holds."""
    unit = stated["hasUnit"]
    total = Decimal(stated["hasNumericalValue"])
    for _, event in events:
        effects, quantity = ACTIONS[event["action"]], event.get("resourceQuantity")
        if quantity is None:
            continue
        for key, signs in (("resourceInventoriedAs", FROM_SIGN), ("toResourceInventoriedAs",
                                                                 TO_SIGN)):
            sign = signs.get(effects.accounting_effect) if event.get(key) == iri else None
            if sign:
                try:
                    moved = convert(Decimal(quantity["hasNumericalValue"]), quantity["hasUnit"],
                                    unit)
                except UnitError as error:
                    raise AccountingError(f"resource {iri}: {error}") from None
                total -= sign * moved
    if total < 0:
        raise AccountingError(
            f"resource {iri}: the document's events take out more than its stated quantity "
            f"({stated['hasNumericalValue']} {unit}) and what they put in")
    return decimal_string(total) if total else None
