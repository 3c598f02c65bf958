"""Events as a GS1 EPCIS 2.0 JSON-LD document.

A process becomes one TransformationEvent: what it consumed is its inputQuantityList, what
it produced its outputQuantityList, at the time of its latest event. A transfer (of rights,
custody or both) becomes a TransactionEvent between the owning / possessing parties, a move
a TransactionEvent with bizStep transporting. Other events (work, use, cite, raise ...)
have no EPCIS counterpart and are left out, as are payments (transfers of money: EPCIS
tracks goods, not money). Quantities carry UN/CEFACT Recommendation 20
unit codes; they are Decimals (EPCIS quantities are JSON numbers): write the document with
`formatting.dumps_json`, which keeps them exact. CBV values are written as web URIs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from zomes.accounting.common import AccountingError
from zomes.accounting.events import event_time
from zomes.accounting.formatting import iso_time
from zomes.accounting.jsonld import agent_iri, node_id
from zomes.valueflows.entries import EconomicEvent, EconomicResource, Process
from zomes.valueflows.units import UNITS

EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CBV: Final = "https://ref.gs1.org/cbv/"

# UN/CEFACT Recommendation 20 common codes for coledger's units.
REC20: Final[dict[str, str]] = {
    "one": "C62", "gram": "GRM", "kilogram": "KGM", "tonne": "TNE", "millilitre": "MLT",
    "litre": "LTR", "cubicMetre": "MTQ", "joule": "JOU", "kilojoule": "KJO", "megajoule": "3B",
    "wattHour": "WHR", "kilowattHour": "KWH", "megawattHour": "MWH", "second": "SEC",
    "minute": "MIN", "hour": "HUR", "day": "DAY", "metre": "MTR", "kilometre": "KMT",
    "squareMetre": "MTK", "hectare": "HAR", "tonneKilometre": "TKM",
}  # fmt: skip

INPUTS: Final = frozenset({"consume"})
OUTPUTS: Final = frozenset({"produce"})
# action: (bizStep, disposition, party type of sourceList/destinationList)
TRANSACTIONS: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "transfer": ("accepting", "in_progress", ("owning_party", "possessing_party")),
    "transferAllRights": ("accepting", "in_progress", ("owning_party",)),
    "transferCustody": ("accepting", "in_progress", ("possessing_party",)),
    "move": ("transporting", "in_progress", ("possessing_party",)),
}


def uom(unit: str) -> str:
    """The Recommendation 20 code of a coledger unit."""
    code = REC20.get(unit)
    if code is None:
        raise AccountingError(f"unit {unit} has no UN/CEFACT Recommendation 20 code for EPCIS")
    return code


def _quantity_element(
    address: str, event: EconomicEvent, resources: Mapping[str, EconomicResource]
) -> dict[str, Any]:
    quantity = event.resource_quantity
    if quantity is None:
        raise AccountingError(f"{event.action} event {address} has no resourceQuantity")
    thing = event.resource_inventoried_as or event.resource_conforms_to
    if thing is None:
        raise AccountingError(f"{event.action} event {address} names no resource")
    return {"epcClass": node_id(thing), "quantity": quantity.value, "uom": uom(quantity.has_unit)}


def _is_payment(event: EconomicEvent) -> bool:
    quantity = event.resource_quantity
    unit = UNITS.get(quantity.has_unit) if quantity is not None else None
    return unit is not None and unit.dimension.startswith("currency")


def _times(moment: int, offset: str) -> dict[str, str]:
    return {"eventTime": iso_time(moment), "eventTimeZoneOffset": offset}


def to_epcis(
    events: Iterable[tuple[str, EconomicEvent]],
    *,
    processes: Mapping[str, Process],
    resources: Mapping[str, EconomicResource],
    created_us: int,
    time_zone_offset: str = "+00:00",
) -> dict[str, Any]:
    """An EPCISDocument of the events: one TransformationEvent per process (in order of
    the process's first event), a TransactionEvent per transfer or move."""
    pairs = list(events)
    body: list[tuple[int, int, dict[str, Any]]] = []  # (time, order, EPCIS event)
    by_process: dict[str, list[tuple[str, EconomicEvent]]] = {}
    for address, event in pairs:
        process = event.input_of if event.action in INPUTS else None
        process = event.output_of if event.action in OUTPUTS else process
        if process is not None:
            by_process.setdefault(process, []).append((address, event))
        elif event.action in TRANSACTIONS and not _is_payment(event):
            moment, epcis_event = _transaction(address, event, resources, time_zone_offset)
            body.append((moment, len(body), epcis_event))
    for process, flows in by_process.items():
        moment, epcis_event = _transformation(
            process, flows, processes, resources, time_zone_offset
        )
        body.append((moment, len(body), epcis_event))
    ordered = sorted(body, key=lambda item: item[:2])
    return {
        "@context": [EPCIS_CONTEXT, {"coledger": "urn:coledger:"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_time(created_us),
        "epcisBody": {"eventList": [event for _, _, event in ordered]},
    }


def _transformation(
    process: str,
    flows: list[tuple[str, EconomicEvent]],
    processes: Mapping[str, Process],
    resources: Mapping[str, EconomicResource],
    offset: str,
) -> tuple[int, dict[str, Any]]:
    times = [t for _, e in flows if (t := event_time(e)) is not None]
    entry = processes.get(process)
    if not times and entry is not None:
        times = [t for t in (entry.has_end, entry.has_beginning) if t is not None]
    if not times:
        raise AccountingError(f"process {process} and its events have no time for EPCIS")
    result: dict[str, Any] = {
        "type": "TransformationEvent",
        **_times(max(times), offset),
        "eventID": node_id(f"epcis:{process}"),
        "transformationID": node_id(process),
    }
    inputs = [_quantity_element(a, e, resources) for a, e in flows if e.action in INPUTS]
    outputs = [_quantity_element(a, e, resources) for a, e in flows if e.action in OUTPUTS]
    if inputs:
        result["inputQuantityList"] = inputs
    if outputs:
        result["outputQuantityList"] = outputs
    result["bizStep"] = CBV + "BizStep-commissioning"
    result["disposition"] = CBV + "Disp-active"
    return max(times), result


def _transaction(
    address: str,
    event: EconomicEvent,
    resources: Mapping[str, EconomicResource],
    offset: str,
) -> tuple[int, dict[str, Any]]:
    moment = event_time(event)
    if moment is None:
        raise AccountingError(f"{event.action} event {address} has no time for EPCIS")
    step, disposition, parties = TRANSACTIONS[event.action]
    transaction: dict[str, Any] = {"bizTransaction": node_id(event.realization_of or address)}
    if event.realization_of is not None:
        transaction["type"] = CBV + "BTT-po"
    return moment, {
        "type": "TransactionEvent",
        **_times(moment, offset),
        "eventID": node_id(f"epcis:{address}"),
        "action": "ADD",
        "bizStep": CBV + f"BizStep-{step}",
        "disposition": CBV + f"Disp-{disposition}",
        "bizTransactionList": [transaction],
        "quantityList": [_quantity_element(address, event, resources)],
        "sourceList": [
            {"type": CBV + f"SDT-{party}", "source": agent_iri(event.provider)} for party in parties
        ],
        "destinationList": [
            {"type": CBV + f"SDT-{party}", "destination": agent_iri(event.receiver)}
            for party in parties
        ],
    }


def quantities(document: Mapping[str, Any]) -> list[Decimal]:
    """Every quantity in an EPCIS document built here, in order (for checks and tests)."""
    found: list[Decimal] = []
    for event in document["epcisBody"]["eventList"]:
        for key in ("inputQuantityList", "outputQuantityList", "quantityList"):
            found += [element["quantity"] for element in event.get(key, [])]
    return found
