"""ValueFlows 1.0 as JSON-LD: export events, processes, resources, specifications and
agents (the import is jsonld_import.py).

Nodes are named `urn:coledger:<address>`, agents `urn:coledger:agent:<agent id>`. Every
property is the VF 1.0 one (vf:), units are OM 2.0 units (om2:, `unit_iri`), except
for what VF 1.0 or OM has no term for, which is kept under `coledger:` so that nothing is
lost: an event's atLocation (VF 1.0 only has toLocation), a resource's unitOfResource, a
specification's allowNegative, and units OM lacks (each defined in the export as an OM unit
multiplication: `unit_definition`). Resources carry their quantities and accountable agent
as the events leave them (`resource_states`). Locations are places (vf:SpatialThing, a
geo:SpatialThing) named by their label, with the coordinates a SpatialThing entry of that
name gives (`completed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote

from pydantic import ValidationError

from node.core.cid import Cid
from node.core.errors import CoreError
from zomes.accounting.common import AccountingError
from zomes.accounting.formatting import iso_time
from zomes.valueflows.entries import (
    Agent,
    EconomicEvent,
    EconomicResource,
    Process,
    ResourceSpecification,
    SpatialThing,
    VfEntry,
    is_member,
)
from zomes.valueflows.resources import ResourceError, ResourceState, apply_in_place
from zomes.valueflows.units import OM2, UNITS, UnitError, canonical_unit

VF: Final = "https://w3id.org/valueflows/ont/vf#"
COLEDGER: Final = "urn:coledger:"
AGENT_PREFIX: Final = "urn:coledger:agent:"
XSD: Final = "http://www.w3.org/2001/XMLSchema#"
EXTENSIONS: Final = "https://coledger.org/ns#"
RDFS: Final = "http://www.w3.org/2000/01/rdf-schema#"
PLACE_PREFIX: Final = "urn:coledger:place:"
IRI_SCHEMES: Final = frozenset({"urn", "https", "http", "geo", "tag"})  # a label kept as is
# RFC 3986: a scheme, a colon, and no whitespace or characters a URI never holds
URI: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*$")
UNIT_KEYS: Final = ("hasUnit", "unitOfResource", "unitOfEffort", "defaultUnitOfResource",
                    "defaultUnitOfEffort")
COORDINATES: Final = ("lat", "long", "alt")
SAME_AS: Final = "http://www.w3.org/2002/07/owl#sameAs"
"""The foreign IRI a record was imported with (jsonld_identities.py, jsonld_import.py)."""

# Event properties by kind of value (VF names; atLocation is the one extension).
REFERENCES: Final = (
    "resourceInventoriedAs", "toResourceInventoriedAs", "resourceConformsTo", "inputOf",
    "outputOf", "stage", "corrects", "realizationOf", "reciprocalRealizationOf", "fulfills",
    "satisfies", "settles",
)  # fmt: skip
AGENTS: Final = ("provider", "receiver")
MEASURES: Final = ("resourceQuantity", "effortQuantity")
TIMES: Final = ("hasBeginning", "hasEnd", "hasPointInTime")
STRINGS: Final = ("state", "image", "note")
LOCATIONS: Final = ("toLocation", "atLocation")

_TERMS: Final[dict[str, Any]] = {
    **{name: {"@id": f"vf:{name}", "@type": "@id"} for name in (*REFERENCES, *AGENTS)},
    **{name: f"vf:{name}" for name in (*MEASURES, *STRINGS)},
    **{name: {"@id": f"vf:{name}", "@type": "xsd:dateTimeStamp"} for name in TIMES},
    "action": {"@id": "vf:action", "@type": "@id"},
    "toLocation": "vf:toLocation",
    "atLocation": "coledger:atLocation",
    "resourceClassifiedAs": {"@id": "vf:resourceClassifiedAs", "@container": "@set"},
    "classifiedAs": {"@id": "vf:classifiedAs", "@container": "@set"},
    "hasNumericalValue": {"@id": "vf:hasNumericalValue", "@type": "xsd:decimal"},
    "hasUnit": {"@id": "vf:hasUnit", "@type": "@id"},
    "name": "vf:name",
    "basedOn": {"@id": "vf:basedOn", "@type": "@id"},
    "plannedWithin": {"@id": "vf:plannedWithin", "@type": "@id"},
    "inScopeOf": {"@id": "vf:inScopeOf", "@type": "@id", "@container": "@set"},
    "finished": {"@id": "vf:finished", "@type": "xsd:boolean"},
    "conformsTo": {"@id": "vf:conformsTo", "@type": "@id"},
    "trackingIdentifier": "vf:trackingIdentifier",
    "currentLocation": "vf:currentLocation",
    "primaryLocation": "vf:primaryLocation",
    "defaultUnitOfResource": {"@id": "vf:defaultUnitOfResource", "@type": "@id"},
    "defaultUnitOfEffort": {"@id": "vf:defaultUnitOfEffort", "@type": "@id"},
    "unitOfEffort": {"@id": "vf:unitOfEffort", "@type": "@id"},
    "substitutable": {"@id": "vf:substitutable", "@type": "xsd:boolean"},
    "mediumOfExchange": {"@id": "vf:mediumOfExchange", "@type": "xsd:boolean"},
    "unitOfResource": {"@id": "coledger:unitOfResource", "@type": "@id"},
    "allowNegative": {"@id": "coledger:allowNegative", "@type": "xsd:boolean"},
    "accountingQuantity": "vf:accountingQuantity",
    "onhandQuantity": "vf:onhandQuantity",
    "primaryAccountable": {"@id": "vf:primaryAccountable", "@type": "@id"},
    **{name: {"@id": f"vf:{name}", "@type": "xsd:decimal"} for name in COORDINATES},
    "mappableAddress": "vf:mappableAddress",
}
CONTEXT: Final[dict[str, Any]] = {
    "vf": VF,
    "om2": OM2,
    "xsd": XSD,
    "coledger": EXTENSIONS,
    "rdfs": RDFS,
    "id": "@id",
    "type": "@type",
    **_TERMS,
}


# Units. The canonical unit ids (units.py, kept in entries) are mostly OM 2.0 names, not
# all; a unit is written as its OM 2.0 unit, named as OM names it (OM_NAMES, checked against
# OM's own RDF by tests/unit/test_om_units.py), or where OM has none as coledger's own
# (OWN_UNITS: an OM unit multiplication of two OM units, defined in each export using it).
OWN_UNITS: Final[dict[str, tuple[str, str, str, str]]] = {
    # id: (term 1, term 2 as canonical ids, symbol, label)
    "tonneKilometre": ("tonne", "kilometre", "t km", "tonne kilometre"),
}
OM_NAMES: Final[dict[str, str]] = {
    **{unit: unit for unit in UNITS if unit not in OWN_UNITS},
    "second": "second-Time", "minute": "minute-Time",  # (OM's minute-Angle is another)
    "gramCO2e": "gramOfCarbonDioxideEquivalent",
    "kilogramCO2e": "kilogramOfCarbonDioxideEquivalent",
    "tonneCO2e": "tonneOfCarbonDioxideEquivalent",
}  # fmt: skip
_BY_OM_NAME: Final = {name: unit for unit, name in OM_NAMES.items()}


def unit_iri(unit: str) -> str:
    """The IRI a canonical unit id is written as: its OM 2.0 unit, or coledger's own
    (OWN_UNITS) where OM has none. `unit_of_iri` reads it back."""
    if unit in OWN_UNITS:
        return EXTENSIONS + unit
    try:
        return OM2 + OM_NAMES[unit]
    except KeyError:
        raise UnitError(f"unknown unit {unit!r}; known units: {', '.join(UNITS)}") from None


def unit_of_iri(iri: str) -> str:
    """The canonical unit id of a unit IRI as `unit_iri` writes it (full or `om2:` /
    `coledger:` compact), or of anything `canonical_unit` reads (what older exports wrote,
    om2:minute for om2:minute-Time; names; symbols); else UnitError."""
    for prefix in (OM2, "om2:"):
        if iri.startswith(prefix) and iri.removeprefix(prefix) in _BY_OM_NAME:
            return _BY_OM_NAME[iri.removeprefix(prefix)]
    for prefix in (EXTENSIONS, "coledger:"):
        if iri.startswith(prefix) and iri.removeprefix(prefix) in OWN_UNITS:
            return iri.removeprefix(prefix)
    return canonical_unit(iri)


class MalformedDocument(AccountingError):
    """A JSON-LD document that cannot be imported as ValueFlows events."""


def validated(cls: type[VfEntry], content: Mapping[str, Any], where: str,
              whole: str) -> dict[str, Any]:
    """`content` as the entry type checks it; else MalformedDocument naming `where` (the
    node) and the field at fault (`whole` when the fault is no one field's)."""
    try:
        return dict(cls.from_content(content).to_content())
    except ValidationError as error:
        first = error.errors()[0]
        at = ".".join(str(part) for part in first["loc"]) or whole
        raise MalformedDocument(f"{where}: {at}: {first['msg']}") from None


def dereferenced(values: list[Any], by_id: Mapping[str, Any]) -> list[Any]:
    """Values that are references to nodes (a flattened document's measures and places)
    replaced by those nodes."""
    return [by_id.get(str(v.get("@id")), v) if isinstance(v, dict) else v for v in values]


def node_id(address: str) -> str:
    return COLEDGER + address


def agent_iri(agent: str) -> str:
    """A member as urn:coledger:agent:<agent id>; an external agent (an event's party named
    by its Agent entry's address) as that entry, urn:coledger:<address>."""
    return AGENT_PREFIX + agent if is_member(agent) else node_id(agent)


def _unit(unit: str) -> str:
    """A canonical unit id as the compact IRI of its OM 2.0 unit (or coledger's own)."""
    return unit_iri(unit).replace(OM2, "om2:").replace(EXTENSIONS, "coledger:")


def unit_definition(unit: str) -> dict[str, Any]:
    """One of coledger's own units (OWN_UNITS: OM 2.0 has no term for it) as an OM unit
    multiplication of two OM units, so that a reader of OM knows what it is."""
    term1, term2, symbol, label = OWN_UNITS[unit]
    return {
        "id": _unit(unit), "type": "om2:UnitMultiplication", "rdfs:label": label,
        "om2:symbol": symbol, "om2:hasTerm1": {"id": _unit(term1)},
        "om2:hasTerm2": {"id": _unit(term2)},
    }  # fmt: skip


def measure_node(content: Mapping[str, str]) -> dict[str, Any]:
    """A measure's content as a vf:Measure node (its unit an OM2 IRI)."""
    return {
        "type": "vf:Measure",
        "hasNumericalValue": content["hasNumericalValue"],
        "hasUnit": _unit(content["hasUnit"]),
    }


def place_iri(label: str) -> str:
    """A place's IRI, the same in every export (VF JSON-LD, EPCIS readPoint/bizLocation):
    a label that is an IRI (urn, https, http, geo, tag) as it is; a coledger address (a
    SpatialThing entry) as its urn; any other label (the same label is the same place)
    percent-encoded after `urn:coledger:place:`."""
    if URI.match(label) is not None and label.split(":", 1)[0].lower() in IRI_SCHEMES:
        return label
    try:
        return node_id(str(Cid.parse(label)))
    except CoreError:
        return PLACE_PREFIX + quote(label, safe="")


def place_node(label: str) -> dict[str, Any]:
    """A location label as a place named by it: a vf:SpatialThing (which the VF ontology
    makes a geo:SpatialThing; other types are refused by the exports' tests); `completed`
    adds what a SpatialThing entry of that name says of it."""
    return {"id": place_iri(label), "type": "vf:SpatialThing", "name": label}


def _event_node(address: str, event: EconomicEvent) -> dict[str, Any]:
    content = event.to_content()
    node: dict[str, Any] = {"id": node_id(address), "type": "vf:EconomicEvent"}
    for key, value in content.items():
        if key == "action":
            node[key] = f"vf:{value}"
        elif key in AGENTS:
            node[key] = agent_iri(value)
        elif key in REFERENCES:
            node[key] = node_id(value)
        elif key in MEASURES:
            node[key] = measure_node(value)
        elif key in TIMES:
            node[key] = iso_time(value)
        elif key in LOCATIONS:
            node[key] = place_node(value)
        else:  # resourceClassifiedAs, state, image, note
            node[key] = value
    return node


def process_node(address: str, process: Process) -> dict[str, Any]:
    """A process as a vf:Process node."""
    node: dict[str, Any] = {"id": node_id(address), "type": "vf:Process", "name": process.name}
    if process.based_on:
        node["basedOn"] = node_id(process.based_on)
    if process.planned_within:
        node["plannedWithin"] = node_id(process.planned_within)
    for key, time in (("hasBeginning", process.has_beginning), ("hasEnd", process.has_end)):
        if time is not None:
            node[key] = iso_time(time)
    node["finished"] = process.finished
    if process.classified_as:
        node["classifiedAs"] = list(process.classified_as)
    if process.in_scope_of:
        node["inScopeOf"] = [agent_iri(agent) for agent in process.in_scope_of]
    if process.note:
        node["note"] = process.note
    return node


def _resource_node(address: str, resource: EconomicResource,
                   state: ResourceState | None) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id(address),
        "type": "vf:EconomicResource",
        "name": resource.name,
        "unitOfResource": _unit(resource.unit_of_resource),
    }
    if resource.unit_of_effort:
        node["unitOfEffort"] = _unit(resource.unit_of_effort)
    if resource.conforms_to:
        node["conformsTo"] = node_id(resource.conforms_to)
    if resource.tracking_identifier:
        node["trackingIdentifier"] = resource.tracking_identifier
    if state is not None:
        node["accountingQuantity"] = measure_node(state.accounting_quantity.to_content())
        node["onhandQuantity"] = measure_node(state.onhand_quantity.to_content())
        if state.primary_accountable:
            node["primaryAccountable"] = agent_iri(state.primary_accountable)
    location = state.current_location if state is not None else resource.current_location
    if location:
        node["currentLocation"] = place_node(location)
    if resource.classified_as:
        node["classifiedAs"] = list(resource.classified_as)
    for key in ("image", "note"):
        if getattr(resource, key):
            node[key] = getattr(resource, key)
    return node


def spec_node(address: str, spec: ResourceSpecification) -> dict[str, Any]:
    """A resource specification as a vf:ResourceSpecification node."""
    node: dict[str, Any] = {
        "id": node_id(address),
        "type": "vf:ResourceSpecification",
        "name": spec.name,
        "substitutable": spec.substitutable,
        "mediumOfExchange": spec.medium_of_exchange,
    }
    if spec.default_unit_of_resource:
        node["defaultUnitOfResource"] = _unit(spec.default_unit_of_resource)
    if spec.default_unit_of_effort:
        node["defaultUnitOfEffort"] = _unit(spec.default_unit_of_effort)
    if spec.resource_classified_as:
        node["resourceClassifiedAs"] = list(spec.resource_classified_as)
    if spec.allow_negative:
        node["allowNegative"] = True
    for key in ("image", "note"):
        if getattr(spec, key):
            node[key] = getattr(spec, key)
    return node


def agent_node(agent_id: str, agent: Agent) -> dict[str, Any]:
    """An agent as a node of its VF class (vf:Organization, vf:Person...)."""
    node: dict[str, Any] = {
        "id": agent_iri(agent_id),
        "type": f"vf:{agent.agent_type}",
        "name": agent.name,
    }
    if agent.primary_location:
        node["primaryLocation"] = place_node(agent.primary_location)
    if agent.classified_as:
        node["classifiedAs"] = list(agent.classified_as)
    for key in ("image", "note"):
        if getattr(agent, key):
            node[key] = getattr(agent, key)
    return node


def resource_states(
    events: Iterable[tuple[str, EconomicEvent]], resources: Mapping[str, EconomicResource],
    processes: Mapping[str, Process],
) -> dict[str, ResourceState]:
    """The resources as the events (in order) leave them; an event that cannot apply (a
    partial set of chains) is passed over, leaving its resources as they were."""
    states: dict[str, ResourceState] = {}
    for address, event in events:
        touched = {r: states.get(r) for r in (event.resource_inventoried_as,
                                              event.to_resource_inventoried_as) if r}
        try:
            apply_in_place(states, address, event, resources, processes)
        except (ResourceError, UnitError):
            for resource, before in touched.items():
                if before is None:
                    states.pop(resource, None)
                else:
                    states[resource] = before
    return states


def places_by_name(places: Iterable[SpatialThing]) -> dict[str, SpatialThing]:
    """SpatialThing entries by name (the last given of a name wins)."""
    return {place.name: place for place in places if place.name}


def completed(graph: list[Any], places: Mapping[str, SpatialThing]) -> list[Any]:
    """`graph` with the coordinates and address of each place a SpatialThing entry of its
    name gives, and the definition of each of coledger's own units it uses."""
    own = {_unit(unit): unit for unit in OWN_UNITS}
    used: set[str] = set()
    stack: list[Any] = list(graph)
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack += item
        elif isinstance(item, dict):
            stack += item.values()
            used |= {str(item[k]) for k in UNIT_KEYS if str(item.get(k)) in own}
            place = places.get(str(item.get("name"))) if item.get(
                "type") == "vf:SpatialThing" else None
            if place is not None:
                item |= {k: v for k, v in place.to_content().items()
                         if k in (*COORDINATES, "mappableAddress")}
    present = {node.get("id") for node in graph if isinstance(node, dict)}
    return graph + [unit_definition(own[iri]) for iri in sorted(used - present)]


def to_vf_jsonld(
    events: Iterable[tuple[str, EconomicEvent]],
    processes: Mapping[str, Process],
    resources: Mapping[str, EconomicResource],
    specs: Mapping[str, ResourceSpecification],
    agents: Mapping[str, Agent],
    *,
    states: Mapping[str, ResourceState] | None = None,
    places: Mapping[str, SpatialThing] | None = None,
) -> dict[str, Any]:
    """A VF 1.0 JSON-LD document: agents, specifications, resources (with `states`: their
    quantities and accountable agent; the given events' `resource_states` by default),
    processes, then the events in the order given; each group but the events sorted by id;
    then the definitions of the own units it uses. `places` are SpatialThing entries by
    name (`places_by_name`)."""
    events = list(events)
    if states is None:
        states = resource_states(events, resources, processes)
    graph: list[dict[str, Any]] = []
    graph += [agent_node(a, agents[a]) for a in sorted(agents)]
    graph += [spec_node(a, specs[a]) for a in sorted(specs)]
    graph += [_resource_node(a, resources[a], states.get(a)) for a in sorted(resources)]
    graph += [process_node(a, processes[a]) for a in sorted(processes)]
    graph += [_event_node(address, event) for address, event in events]
    return {"@context": CONTEXT, "@graph": completed(graph, places or {})}
