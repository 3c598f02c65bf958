"""Events as a GS1 EPCIS 2.0 JSON-LD document, in the event types and CBV 2.0 values the
EPCIS 2.0 standard gives for each kind of step (docs/formats.md says why for each).

- A process is one TransformationEvent: consume, accept and pickup are its inputs; produce,
  modify and dropoff its outputs (goods accepted and given back modified, or picked up and
  dropped off, are one lot in both lists), at the time of its latest event.
- transfer, transferAllRights, transferCustody: a TransactionEvent (bizStep accepting)
  between the owning and / or possessing parties.
- move: an ObjectEvent OBSERVE (transporting) from its location to its new one.
- raise: an ObjectEvent ADD (creating_class_instance); lower, and a consume in no process,
  an ObjectEvent DELETE (destroying).
- combine / separate: an AggregationEvent ADD / DELETE (packing / unpacking), the container
  as parentID.
work, use, cite, deliverService and copy have none, nor do payments (transfers of money):
EPCIS tracks goods. Goods are named by lot (epcis_identity.Lots), places by the events'
location labels (readPoint where the event was seen, bizLocation where the goods are after
it). Quantities carry UN/CEFACT Recommendation 20 unit codes; they are Decimals (EPCIS
quantities are JSON numbers): write the document with `formatting.dumps_json`, which keeps
them exact. CBV values are written as their web URIs (https://ref.gs1.org/cbv/...), which
the EPCIS context gives for the bare names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from zomes.accounting.common import AccountingError
from zomes.accounting.epcis_identity import Lots, place
from zomes.accounting.events import event_time
from zomes.accounting.formatting import iso_time
from zomes.accounting.jsonld import agent_iri, node_id, place_iri
from zomes.valueflows.entries import EconomicEvent, EconomicResource, Process
from zomes.valueflows.units import UNITS, Measure

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

INPUTS: Final = frozenset({"consume", "accept", "pickup"})
OUTPUTS: Final = frozenset({"produce", "modify", "dropoff"})
# what a process does, by the first of these actions among its events: (bizStep, disposition)
PROCESS_STEPS: Final[tuple[tuple[str, str, str], ...]] = (
    ("produce", "commissioning", "active"),
    ("modify", "repairing", "active"),
    ("accept", "repairing", "in_progress"),
    ("dropoff", "transporting", "active"),
    ("pickup", "transporting", "in_transit"),
    ("consume", "other", "in_progress"),
)
# action: (bizStep, disposition, party types of sourceList/destinationList)
TRANSACTIONS: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "transfer": ("accepting", "in_progress", ("owning_party", "possessing_party")),
    "transferAllRights": ("accepting", "in_progress", ("owning_party",)),
    "transferCustody": ("accepting", "in_progress", ("possessing_party",)),
}
# action outside a process: (EPCIS action, bizStep, disposition)
OBJECT_EVENTS: Final[dict[str, tuple[str, str, str]]] = {
    "raise": ("ADD", "creating_class_instance", "active"),
    "produce": ("ADD", "commissioning", "active"),
    "lower": ("DELETE", "destroying", "destroyed"),
    "consume": ("DELETE", "destroying", "destroyed"),
    "move": ("OBSERVE", "transporting", "in_progress"),
}
AGGREGATIONS: Final[dict[str, tuple[str, str]]] = {
    "combine": ("ADD", "packing"), "separate": ("DELETE", "unpacking"),
}  # fmt: skip


def uom(unit: str) -> str:
    """The Recommendation 20 code of a coledger unit."""
    code = REC20.get(unit)
    if code is None:
        raise AccountingError(f"unit {unit} has no UN/CEFACT Recommendation 20 code for EPCIS")
    return code


def _is_payment(event: EconomicEvent) -> bool:
    quantity = event.resource_quantity
    unit = UNITS.get(quantity.has_unit) if quantity is not None else None
    return unit is not None and unit.dimension.startswith("currency")


def _times(moment: int, offset: str) -> dict[str, str]:
    return {"eventTime": iso_time(moment), "eventTimeZoneOffset": offset}


class _Writer:
    """The EPCIS events of one document: lots to name goods, a time zone offset."""

    def __init__(self, lots: Lots, offset: str, parties: Mapping[str, str]) -> None:
        self.lots, self.offset, self.parties = lots, offset, parties
        self.containers: dict[str, str] = {}  # resource -> the container combined into

    def party(self, agent: str) -> str:
        """A source or destination: a member's agent IRI, an external agent's own IRI."""
        return self.parties.get(agent) or agent_iri(agent)

    def quantity(self, address: str, event: EconomicEvent) -> dict[str, Any]:
        quantity = event.resource_quantity
        if quantity is None:
            raise AccountingError(f"{event.action} event {address} has no resourceQuantity")
        if event.resource_inventoried_as is None and event.resource_conforms_to is None:
            raise AccountingError(f"{event.action} event {address} names no resource")
        return {
            "epcClass": self.lots.epc_class(event.resource_inventoried_as,
                                            event.resource_conforms_to),
            "quantity": quantity.value, "uom": uom(quantity.has_unit),
        }  # fmt: skip

    def head(self, kind: str, address: str, event: EconomicEvent) -> tuple[int, dict[str, Any]]:
        moment = event_time(event)
        if moment is None:
            raise AccountingError(f"{event.action} event {address} has no time for EPCIS")
        return moment, {"type": kind, **_times(moment, self.offset),
                        "eventID": node_id(f"epcis:{address}")}

    def places(self, out: dict[str, Any], seen: str | None, after: str | None) -> None:
        """readPoint where the event was seen, bizLocation where the goods are after it."""
        if (read_point := place(seen)) is not None:
            out["readPoint"] = read_point
        if (biz_location := place(after)) is not None:
            out["bizLocation"] = biz_location

    def transaction(self, address: str, event: EconomicEvent) -> tuple[int, dict[str, Any]]:
        moment, out = self.head("TransactionEvent", address, event)
        step, disposition, parties = TRANSACTIONS[event.action]
        transaction: dict[str, Any] = {"bizTransaction": node_id(event.realization_of or address)}
        if event.realization_of is not None:
            transaction["type"] = CBV + "BTT-po"
        out |= {"action": "ADD", "bizStep": CBV + f"BizStep-{step}",
                "disposition": CBV + f"Disp-{disposition}"}
        self.places(out, event.at_location, event.to_location or event.at_location)
        out |= {
            "bizTransactionList": [transaction],
            "quantityList": [self.quantity(address, event)],
            "sourceList": [{"type": CBV + f"SDT-{party}", "source": self.party(event.provider)}
                           for party in parties],
            "destinationList": [
                {"type": CBV + f"SDT-{party}", "destination": self.party(event.receiver)}
                for party in parties
            ],
        }
        return moment, out

    def object_event(self, address: str, event: EconomicEvent) -> tuple[int, dict[str, Any]]:
        moment, out = self.head("ObjectEvent", address, event)
        action, step, disposition = OBJECT_EVENTS[event.action]
        out |= {"quantityList": [self.quantity(address, event)], "action": action,
                "bizStep": CBV + f"BizStep-{step}", "disposition": CBV + f"Disp-{disposition}"}
        after = None if action == "DELETE" else event.to_location or event.at_location
        self.places(out, event.at_location, after)
        if event.action == "move" and event.at_location and event.to_location:
            out["sourceList"] = [{"type": CBV + "SDT-location",
                                  "source": place_iri(event.at_location)}]
            out["destinationList"] = [{"type": CBV + "SDT-location",
                                       "destination": place_iri(event.to_location)}]
        return moment, out

    def aggregation(self, address: str, event: EconomicEvent) -> tuple[int, dict[str, Any]] | None:
        item = event.resource_inventoried_as
        container = event.to_resource_inventoried_as if event.action == "combine" else None
        if item is not None and container is not None:
            self.containers[item] = container
        elif item is not None:
            container = self.containers.get(item)
        if container is None:
            return None  # a separate from a container this document never saw filled
        moment, out = self.head("AggregationEvent", address, event)
        action, step = AGGREGATIONS[event.action]
        out |= {"parentID": node_id(container),
                "childQuantityList": [self.quantity(address, event)], "action": action,
                "bizStep": CBV + f"BizStep-{step}"}
        self.places(out, event.at_location, event.to_location or event.at_location)
        return moment, out

    def transformation(
        self, process: str, flows: list[tuple[str, EconomicEvent]], entry: Process | None
    ) -> tuple[int, dict[str, Any]]:
        times = [t for _, e in flows if (t := event_time(e)) is not None]
        if not times and entry is not None:
            times = [t for t in (entry.has_end, entry.has_beginning) if t is not None]
        if not times:
            raise AccountingError(f"process {process} and its events have no time for EPCIS")
        out: dict[str, Any] = {
            "type": "TransformationEvent", **_times(max(times), self.offset),
            "eventID": node_id(f"epcis:{process}"), "transformationID": node_id(process),
        }  # fmt: skip
        inputs = [self.quantity(a, e) for a, e in flows if e.action in INPUTS]
        outputs = [self.quantity(a, e) for a, e in flows if e.action in OUTPUTS]
        if inputs:
            out["inputQuantityList"] = inputs
        if outputs:
            out["outputQuantityList"] = outputs
        actions = {e.action for _, e in flows}
        step, disposition = next((s, d) for a, s, d in PROCESS_STEPS if a in actions)
        out["bizStep"] = CBV + f"BizStep-{step}"
        out["disposition"] = CBV + f"Disp-{disposition}"
        made = [e for _, e in flows if e.action in OUTPUTS] or [e for _, e in flows]
        seen = next((e.at_location for e in reversed(made) if e.at_location), None)
        after = next((e.to_location or e.at_location for e in reversed(made)
                      if e.action in OUTPUTS and (e.to_location or e.at_location)), None)
        self.places(out, seen, after)
        return max(times), out


def _process_of(event: EconomicEvent) -> str | None:
    if event.action in INPUTS:
        return event.input_of
    return event.output_of if event.action in OUTPUTS else None


def _corrected(pairs: list[tuple[str, EconomicEvent]]) -> list[tuple[str, EconomicEvent]]:
    """The events with their corrections applied: EPCIS says what happened, so a corrected
    event carries what is left of its quantity (none at all: no event) and a correction
    (negative quantities in the corrected event's unit) is no event of its own."""
    taken: dict[str, Decimal] = {}
    for _, event in pairs:
        if event.corrects is not None and event.resource_quantity is not None:
            taken[event.corrects] = taken.get(event.corrects, Decimal(0)) + (
                event.resource_quantity.value)
    kept: list[tuple[str, EconomicEvent]] = []
    for address, event in pairs:
        quantity = event.resource_quantity
        if event.corrects is not None or quantity is None or address not in taken:
            if event.corrects is None:
                kept.append((address, event))
            continue
        left = quantity.value + taken[address]
        if left > 0:
            update = {"resource_quantity": Measure.of(left, quantity.has_unit)}
            kept.append((address, event.model_copy(update=update)))
    return kept


def to_epcis(
    events: Iterable[tuple[str, EconomicEvent]],
    *,
    processes: Mapping[str, Process],
    resources: Mapping[str, EconomicResource],
    created_us: int,
    time_zone_offset: str = "+00:00",
    history: Iterable[tuple[str, EconomicEvent]] | None = None,
    parties: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An EPCISDocument of the events (see the module), in time order. `history` (every
    event held here, the events by default) tells which resources are one lot. The tests
    check documents against the EPCIS 2.0 JSON schema (`validate_epcis`); an export does
    not, as the schema takes about a millisecond an event (a minute for a large network).
    `parties`: the IRI an external agent is named by (its sameAs), by its address."""
    pairs = _corrected(list(events))
    writer = _Writer(Lots(pairs if history is None else history, resources), time_zone_offset,
                     parties or {})
    body: list[tuple[int, int, dict[str, Any]]] = []  # (time, order, EPCIS event)
    by_process: dict[str, list[tuple[str, EconomicEvent]]] = {}
    for address, event in pairs:
        if _is_payment(event):
            continue
        process = _process_of(event)
        made: tuple[int, dict[str, Any]] | None = None
        if process is not None:
            by_process.setdefault(process, []).append((address, event))
        elif event.action in TRANSACTIONS:
            made = writer.transaction(address, event)
        elif event.action in OBJECT_EVENTS:
            made = writer.object_event(address, event)
        elif event.action in AGGREGATIONS:
            made = writer.aggregation(address, event)
        if made is not None:
            body.append((made[0], len(body), made[1]))
    for process, flows in by_process.items():
        moment, epcis_event = writer.transformation(process, flows, processes.get(process))
        body.append((moment, len(body), epcis_event))
    ordered = sorted(body, key=lambda item: item[:2])
    document = {
        "@context": [EPCIS_CONTEXT, {"coledger": "urn:coledger:"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso_time(created_us),
        "epcisBody": {"eventList": [event for _, _, event in ordered]},
    }
    return document


def quantities(document: Mapping[str, Any]) -> list[Decimal]:
    """Every quantity in an EPCIS document built here, in order (for checks and tests)."""
    found: list[Decimal] = []
    for event in document["epcisBody"]["eventList"]:
        for key in ("inputQuantityList", "outputQuantityList", "quantityList",
                    "childQuantityList"):
            found += [element["quantity"] for element in event.get(key, [])]
    return found
