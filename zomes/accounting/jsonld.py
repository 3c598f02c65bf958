"""ValueFlows 1.0 as JSON-LD: export events, processes, resources, specifications and
agents (the import is jsonld_import.py).

Nodes are named `urn:coledger:<address>`, agents `urn:coledger:agent:<agent id>`. Every
property is the VF 1.0 one (vf:), units are OM2 IRIs (om2:), except for what VF 1.0 has no
term for, which is kept under `coledger:` so that nothing is lost: an event's atLocation
(VF 1.0 only has toLocation), a resource's unitOfResource, a specification's allowNegative.
Locations are vf:SpatialThing nodes named by their label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import ValidationError

from zomes.accounting.common import AccountingError
from zomes.accounting.formatting import iso_time
from zomes.valueflows.entries import (
    Agent,
    EconomicEvent,
    EconomicResource,
    Process,
    ResourceSpecification,
    VfEntry,
    is_member,
)
from zomes.valueflows.units import (
    OM2,
)

VF: Final = "https://w3id.org/valueflows/ont/vf#"
COLEDGER: Final = "urn:coledger:"
AGENT_PREFIX: Final = "urn:coledger:agent:"
XSD: Final = "http://www.w3.org/2001/XMLSchema#"
EXTENSIONS: Final = "https://coledger.org/ns#"
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
}
CONTEXT: Final[dict[str, Any]] = {
    "vf": VF,
    "om2": OM2,
    "xsd": XSD,
    "coledger": EXTENSIONS,
    "id": "@id",
    "type": "@type",
    **_TERMS,
}


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
    return f"om2:{unit}"


def measure_node(content: Mapping[str, str]) -> dict[str, Any]:
    """A measure's content as a vf:Measure node (its unit an OM2 IRI)."""
    return {
        "type": "vf:Measure",
        "hasNumericalValue": content["hasNumericalValue"],
        "hasUnit": _unit(content["hasUnit"]),
    }


def place_node(label: str) -> dict[str, Any]:
    """A location label as a vf:SpatialThing node named by it."""
    return {"type": "vf:SpatialThing", "name": label}


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


def _resource_node(address: str, resource: EconomicResource) -> dict[str, Any]:
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
    if resource.current_location:
        node["currentLocation"] = place_node(resource.current_location)
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


def to_vf_jsonld(
    events: Iterable[tuple[str, EconomicEvent]],
    processes: Mapping[str, Process],
    resources: Mapping[str, EconomicResource],
    specs: Mapping[str, ResourceSpecification],
    agents: Mapping[str, Agent],
) -> dict[str, Any]:
    """A VF 1.0 JSON-LD document: agents, specifications, resources, processes, then the
    events in the order given; each group but the events sorted by id."""
    graph: list[dict[str, Any]] = []
    graph += [agent_node(a, agents[a]) for a in sorted(agents)]
    graph += [spec_node(a, specs[a]) for a in sorted(specs)]
    graph += [_resource_node(a, resources[a]) for a in sorted(resources)]
    graph += [process_node(a, processes[a]) for a in sorted(processes)]
    graph += [_event_node(address, event) for address, event in events]
    return {"@context": CONTEXT, "@graph": graph}
