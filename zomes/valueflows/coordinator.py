"""The valueflows zome's coordinator: what the CLI and API ask of it.

Writes go through a `Scratch` (pure: it chains and signs in memory); reads use the
author's `ChainView`. Nothing here touches a disk or a network: node/vf_ledger.py
opens the home, runs these, validates the result and flushes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from node.core.cid import Cid
from node.core.errors import AddressError, Field, LocalError
from node.core.refusals import (
    BadQuantity,
    NewNotAllowed,
    NotAnAddress,
    UnknownAction,
    UnknownUnit,
)
from node.core.scratch import Scratch
from zomes.valueflows.actions import is_action
from zomes.valueflows.commitments import FLOW_LINKS
from zomes.valueflows.entries import (
    EconomicEvent,
    EconomicResource,
    Process,
    ProcessSpecification,
    ResourceSpecification,
    SpatialThing,
)
from zomes.valueflows.messages import describe_error
from zomes.valueflows.units import Measure, UnitError, canonical_unit, parse_quantity
from zomes.valueflows.zome import NAME as ZOME_NAME
from zomes.valueflows.zome import ChainView, entry_type

if TYPE_CHECKING:  # (the trace is imported by what traces: a write needs none)
    from zomes.valueflows.trace import FlowIndex

NEW_PREFIX = "new:"


@dataclass(frozen=True)
class EventRequest:
    """One `coledger record ACTION ...` as given on the command line (text, unparsed)."""

    action: str
    resource: str | None = None
    to_resource: str | None = None
    conforms_to: str | None = None
    quantity: str | None = None
    effort: str | None = None
    provider: str | None = None
    receiver: str | None = None
    input_of: str | None = None
    output_of: str | None = None
    at_us: int | None = None
    location: str | None = None
    to_location: str | None = None
    state: str | None = None
    note: str | None = None
    corrects: str | None = None
    fulfills: str | None = None  # a commitment (an agreement's clause: with realization_of)
    satisfies: str | None = None  # an intent
    settles: str | None = None  # a claim
    realization_of: str | None = None  # an agreement (found for a clause we hold if not given)
    classified_as: tuple[str, ...] = ()  # the resource's (resourceClassifiedAs): byproduct...


@dataclass(frozen=True)
class Recorded:
    event: Cid
    created_resources: dict[str, Cid]


def field_address(text: str | None, field: str) -> str | None:
    """The address the request's `field` holds (NotAnAddress, naming the field, if none)."""
    if text is None:
        return None
    try:
        return str(Cid.parse(text))
    except AddressError:
        raise NotAnAddress(Field(field, field), f" {text!r} is not an address (bafy...)") from None


def field_measure(text: str | None, field: str) -> Measure | None:
    """The quantity the request's `field` holds (BadQuantity, naming the field, if none)."""
    if text is None:
        return None
    try:
        return parse_quantity(text)
    except UnitError as e:
        raise BadQuantity(Field(field, field), f": {e}") from None


def _new_resource(
    scratch: Scratch, view: ChainView, name: str, quantity: Measure | None, spec: str | None,
    location: str | None, classes: tuple[str, ...] = (),
) -> Cid:
    """An EconomicResource entry for `new:NAME`, classified as `classes`; its unit is the
    spec's default or the event's."""
    unit = None
    if spec is not None and spec in view.resource_specs:
        unit = view.resource_specs[spec].default_unit_of_resource
    if unit is None and quantity is not None:
        unit = quantity.has_unit
    if unit is None:
        raise UnknownUnit(f"new resource {name!r} needs a unit: give ",
                          Field("quantity", "a quantity"), " or ",
                          Field("conforms_to", "conforms_to"), " a spec")
    try:
        resource = EconomicResource(
            name=name, unit_of_resource=unit, conforms_to=spec, current_location=location,
            classified_as=classes)
    except ValueError as e:
        raise LocalError(f"bad resource: {describe_error(e)}") from None
    return scratch.create(entry_type(EconomicResource), resource.to_content())


def create_resource(
    scratch: Scratch, view: ChainView, name: str, unit: str, spec: str | None
) -> Cid:
    """An EconomicResource of ours named `name`, counted in `unit`."""
    try:
        resource = EconomicResource(
            name=name, unit_of_resource=canonical_unit(unit), conforms_to=spec)
    except ValueError as e:  # UnitError is one
        raise LocalError(f"bad resource: {describe_error(e)}") from None
    return scratch.create(entry_type(EconomicResource), resource.to_content())


def record_event(
    scratch: Scratch, view: ChainView, author: str, req: EventRequest, now_us: int
) -> Recorded:
    """Write one EconomicEvent (and the resources it names as `new:NAME`) to `scratch`."""
    created: dict[str, Cid] = {}

    def new_resource(option: str, name: str, quantity: Measure | None, spec: str | None,
                     location: str | None) -> str:
        address = _new_resource(scratch, view, name, quantity, spec, location,
                                tuple(dict.fromkeys(req.classified_as)))
        created[name] = address
        return str(address)

    event = build_event(view, author, req, now_us, new_resource)
    address = scratch.create(entry_type(EconomicEvent), event.to_content())
    link_flows(scratch, event, address)
    return Recorded(address, created)


def link_flows(scratch: Scratch, event: EconomicEvent, address: Cid) -> list[Cid]:
    """Link the event at `address` from the commitment, intent and claim it fulfils,
    satisfies and settles (commitments.FLOW_LINKS): what either party asks to see it."""
    links = []
    for link_type, name in FLOW_LINKS.items():
        base = getattr(event, name)
        if base is not None:
            links.append(scratch.create_link(Cid.parse(base), address, ZOME_NAME, link_type))
    return links


def clause_agreement(view: ChainView, commitment: str) -> str | None:
    """The agreement of ours that holds `commitment` as a clause, if any: an event
    fulfilling a clause names it in realization_of.
    LEAD: wire agree's lookup of the author's agreements (their clauses' entry addresses)
    here at merge; until then no commitment is a clause."""
    return None


NewResource = Callable[[str, str, "Measure | None", "str | None", "str | None"], "str | None"]


def build_event(
    view: ChainView, author: str, req: EventRequest, now_us: int, new_resource: NewResource
) -> EconomicEvent:
    """The EconomicEvent a request describes; `new_resource(option, name, quantity, spec,
    location)` gives the address for a `new:NAME` resource (or None to leave it out)."""
    action = req.action
    if not is_action(action):
        raise UnknownAction(f"unknown action {req.action!r}")
    quantity = field_measure(req.quantity, "quantity")
    effort = field_measure(req.effort, "effort")
    spec = field_address(req.conforms_to, "conforms_to")
    fulfills = field_address(req.fulfills, "fulfills")
    realization = field_address(req.realization_of, "realization_of")
    if fulfills is not None and realization is None:
        realization = clause_agreement(view, fulfills)
    resolved: dict[str, str | None] = {}
    for option, text, location in (
        ("resource", req.resource, req.location),
        ("to-resource", req.to_resource, req.to_location or req.location),
    ):
        field = option.replace("-", "_")
        if text is not None and text.startswith(NEW_PREFIX):
            name = text[len(NEW_PREFIX):].strip()
            if not name:
                raise NewNotAllowed(Field(field, field), " new:NAME needs a name")
            resolved[option] = new_resource(option, name, quantity, spec, location)
        else:
            resolved[option] = field_address(text, field)
    try:
        return EconomicEvent(
            action=action,
            provider=req.provider or author,
            receiver=req.receiver or author,
            resource_inventoried_as=resolved["resource"],
            to_resource_inventoried_as=resolved["to-resource"],
            resource_conforms_to=spec if resolved["resource"] is None else None,
            resource_classified_as=tuple(dict.fromkeys(req.classified_as)),
            resource_quantity=quantity,
            effort_quantity=effort,
            input_of=field_address(req.input_of, "input_of"),
            output_of=field_address(req.output_of, "output_of"),
            has_point_in_time=req.at_us if req.at_us is not None else now_us,
            at_location=req.location,
            to_location=req.to_location,
            state=req.state,
            note=req.note,
            corrects=field_address(req.corrects, "corrects"),
            fulfills=fulfills,
            satisfies=field_address(req.satisfies, "satisfies"),
            settles=field_address(req.settles, "settles"),
            realization_of=realization,
        )
    except ValueError as e:
        raise LocalError(f"bad event: {describe_error(e)}") from None


def create_spec(
    scratch: Scratch, name: str, unit: str, allow_negative: bool, note: str | None,
    classified_as: tuple[str, ...] = (), mass: str | None = None,
) -> Cid:
    """A ResourceSpecification; `classified_as`: what its resources are (byproduct...);
    `mass`: the mass of one `unit` of it ("0.5 kg" a loaf counted in pieces)."""
    mass_per_unit = field_measure(mass, "mass")
    try:
        spec = ResourceSpecification(
            name=name,
            default_unit_of_resource=canonical_unit(unit),
            resource_classified_as=tuple(dict.fromkeys(classified_as)),
            allow_negative=allow_negative,
            note=note,
            mass_per_unit=mass_per_unit,
        )
    except ValueError as e:
        raise LocalError(f"bad resource specification: {describe_error(e)}") from None
    return scratch.create(entry_type(ResourceSpecification), spec.to_content())


def create_process_spec(scratch: Scratch, name: str, note: str | None) -> Cid:
    try:
        spec = ProcessSpecification(name=name, note=note)
    except ValueError as e:
        raise LocalError(f"bad process specification: {describe_error(e)}") from None
    return scratch.create(entry_type(ProcessSpecification), spec.to_content())


def create_place(scratch: Scratch, place: dict[str, Any]) -> Cid:
    """A place (SpatialThing: name, mappableAddress, lat, long, alt, note), which exports
    give the locations of that name (coordinates as decimal strings, WGS84)."""
    try:
        entry = SpatialThing.from_content({k: v for k, v in place.items() if v is not None})
    except ValueError as e:
        raise LocalError(f"bad place: {describe_error(e)}") from None
    return scratch.create(entry_type(SpatialThing), entry.to_content())


def create_process(
    scratch: Scratch, name: str, based_on: str | None, note: str | None, now_us: int
) -> Cid:
    try:
        process = Process(
            name=name, based_on=field_address(based_on, "based_on"), has_beginning=now_us, note=note
        )
    except ValueError as e:
        raise LocalError(f"bad process: {describe_error(e)}") from None
    return scratch.create(entry_type(Process), process.to_content())


def finish_process(
    scratch: Scratch, view: ChainView, process: str, original_entry: Cid, now_us: int
) -> Cid:
    """Update the process entry with finished = true and an end time."""
    current = view.processes.get(process)
    if current is None:
        raise LocalError(f"{process} is not a process of yours")
    if current.finished:
        raise LocalError(f"process {current.name!r} is already finished")
    finished = current.model_copy(update={"finished": True, "has_end": now_us})
    return scratch.update(
        Cid.parse(process), original_entry, entry_type(Process), finished.to_content()
    )


def inventory(view: ChainView) -> list[dict[str, Any]]:
    """Every resource with both quantities, its unit and what the events say of it, and
    its classifications (its own, those events gave it, its specification's)."""
    labelled: dict[str, list[str]] = {}
    for event in view.events.values():
        for named in (event.resource_inventoried_as, event.to_resource_inventoried_as):
            if named is not None and event.resource_classified_as:
                labelled.setdefault(named, []).extend(event.resource_classified_as)
    rows = []
    for address, state in view.states.items():
        resource = view.resources.get(address)
        row = state.to_content()
        row["name"] = resource.name if resource else None
        row["classifiedAs"] = resource_classes(view, address, labelled.get(address, ()))
        rows.append(row)
    rows.sort(key=lambda r: (r["name"] or "", r["address"]))
    return rows


def resource_classes(view: ChainView, address: str, given: Iterable[str] = ()) -> list[str]:
    """A resource's classifications: its entry's, then those `given` by the events naming
    it (their resourceClassifiedAs), then its specification's (when the view holds that
    specification), each once."""
    resource = view.resources.get(address)
    if resource is None:
        return []
    spec = view.resource_specs.get(resource.conforms_to or "")
    kinds = spec.resource_classified_as if spec is not None else ()
    return list(dict.fromkeys((*resource.classified_as, *given, *kinds)))


def merged_view(views: list[ChainView]) -> ChainView:
    """Several agents' views as one, events ordered by time then address (deterministic)."""
    merged = ChainView()
    for view in views:
        for name in (
            "resources", "processes", "resource_specs", "process_specs", "events", "states"
        ):
            getattr(merged, name).update(getattr(view, name))
    merged.order = sorted(merged.events, key=lambda a: (_event_time(merged.events[a]), a))
    return merged


def _event_time(event: EconomicEvent) -> int:
    return event.has_point_in_time or event.has_end or event.has_beginning or 0


def flow_index(view: ChainView) -> FlowIndex:
    from zomes.valueflows.trace import FlowIndex

    return FlowIndex(
        ((a, view.events[a]) for a in view.order),
        processes=view.processes,
        resources=view.resources,
    )
