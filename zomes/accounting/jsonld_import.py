"""ValueFlows 1.0 JSON-LD read back for `coledger import`: the events, and the resources,
processes, specifications and agents they name, as other VF systems write them.

pyld expands the document (jsonld_expand.py); this module reads the VF nodes. Things keep
the IRIs the document names them by: a content's references (resources, processes,
specifications, agents) are IRIs, which node/imports.py resolves to this chain's records
(`urn:coledger:<address>` by address, any other IRI by the `sameAs` of a record imported
before, else a copy). A reference given as a plain string (no `@type: @id` in the
context) is read as an IRI. A VF 1.0 term coledger does not record and a term outside VF
are counted in `unread` (reported), never fatal; a value of the wrong kind for a property
coledger reads is one MalformedDocument naming the node and the property.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final, get_args

from zomes.accounting.common import AccountingError
from zomes.accounting.formatting import parse_iso_time
from zomes.accounting.jsonld import (
    AGENT_PREFIX,
    COLEDGER,
    EXTENSIONS,
    SAME_AS,
    VF,
    MalformedDocument,
    dereferenced,
    unit_of_iri,
    validated,
)
from zomes.accounting.jsonld_expand import expand, node_objects, vf_iri
from zomes.accounting.jsonld_planning import CLASSES, COUNTERSIGNED, PROPERTIES, WITHDRAWN
from zomes.accounting.jsonld_planning import read_planning as _read_planning
from zomes.valueflows.actions import ActionName
from zomes.valueflows.entries import EconomicEvent
from zomes.valueflows.units import UnitError, bounded, decimal_string, to_decimal

# property IRI -> (content field, kind of value), for each kind of node read here
EVENT_FIELDS: Final[dict[str, tuple[str, str]]] = {
    VF + "action": ("action", "action"),
    VF + "provider": ("provider", "agent"), VF + "receiver": ("receiver", "agent"),
    VF + "resourceInventoriedAs": ("resourceInventoriedAs", "resource"),
    VF + "toResourceInventoriedAs": ("toResourceInventoriedAs", "resource"),
    VF + "resourceConformsTo": ("resourceConformsTo", "spec"),
    VF + "inputOf": ("inputOf", "process"), VF + "outputOf": ("outputOf", "process"),
    VF + "resourceQuantity": ("resourceQuantity", "measure"),
    VF + "effortQuantity": ("effortQuantity", "measure"),
    VF + "hasBeginning": ("hasBeginning", "time"), VF + "hasEnd": ("hasEnd", "time"),
    VF + "hasPointInTime": ("hasPointInTime", "time"),
    EXTENSIONS + "atLocation": ("atLocation", "place"), VF + "toLocation": ("toLocation", "place"),
    VF + "resourceClassifiedAs": ("resourceClassifiedAs", "labels"),
    VF + "stage": ("stage", "ref"), VF + "corrects": ("corrects", "event"),
    VF + "realizationOf": ("realizationOf", "ref"),
    VF + "reciprocalRealizationOf": ("reciprocalRealizationOf", "ref"),
    VF + "fulfills": ("fulfills", "ref"), VF + "satisfies": ("satisfies", "ref"),
    VF + "settles": ("settles", "ref"),
    VF + "state": ("state", "literal"), VF + "image": ("image", "literal"),
    VF + "note": ("note", "literal"),
}  # fmt: skip
RESOURCE_FIELDS: Final[dict[str, tuple[str, str]]] = {
    VF + "name": ("name", "literal"), EXTENSIONS + "unitOfResource": ("unitOfResource", "unit"),
    VF + "unitOfEffort": ("unitOfEffort", "unit"), VF + "conformsTo": ("conformsTo", "spec"),
    VF + "trackingIdentifier": ("trackingIdentifier", "literal"),
    VF + "currentLocation": ("currentLocation", "place"),
    VF + "classifiedAs": ("classifiedAs", "labels"), VF + "image": ("image", "literal"),
    VF + "note": ("note", "literal"),
    VF + "accountingQuantity": ("accountingQuantity", "measure"),
    VF + "onhandQuantity": ("onhandQuantity", "measure"),
    VF + "primaryAccountable": ("primaryAccountable", "agent"),
}  # fmt: skip
PROCESS_FIELDS: Final[dict[str, tuple[str, str]]] = {
    VF + "name": ("name", "literal"), VF + "basedOn": ("basedOn", "ref"),
    VF + "plannedWithin": ("plannedWithin", "ref"),
    VF + "hasBeginning": ("hasBeginning", "time"), VF + "hasEnd": ("hasEnd", "time"),
    VF + "finished": ("finished", "bool"), VF + "classifiedAs": ("classifiedAs", "labels"),
    VF + "inScopeOf": ("inScopeOf", "agents"), VF + "note": ("note", "literal"),
}  # fmt: skip
SPEC_FIELDS: Final[dict[str, tuple[str, str]]] = {
    VF + "name": ("name", "literal"), VF + "substitutable": ("substitutable", "bool"),
    VF + "mediumOfExchange": ("mediumOfExchange", "bool"),
    VF + "defaultUnitOfResource": ("defaultUnitOfResource", "unit"),
    VF + "defaultUnitOfEffort": ("defaultUnitOfEffort", "unit"),
    VF + "resourceClassifiedAs": ("resourceClassifiedAs", "labels"),
    VF + "classifiedAs": ("resourceClassifiedAs", "labels"),  # VF 1.0 allows it on a spec
    EXTENSIONS + "allowNegative": ("allowNegative", "bool"),
    VF + "image": ("image", "literal"), VF + "note": ("note", "literal"),
}  # fmt: skip
AGENT_FIELDS: Final[dict[str, tuple[str, str]]] = {
    VF + "name": ("name", "literal"), VF + "primaryLocation": ("primaryLocation", "place"),
    VF + "classifiedAs": ("classifiedAs", "labels"), VF + "image": ("image", "literal"),
    VF + "note": ("note", "literal"),
}  # fmt: skip
KINDS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "EconomicEvent": EVENT_FIELDS, "EconomicResource": RESOURCE_FIELDS,
    "Process": PROCESS_FIELDS, "ResourceSpecification": SPEC_FIELDS, "Agent": AGENT_FIELDS,
}  # fmt: skip
AGENT_CLASSES: Final = ("Person", "Organization", "EcologicalAgent", "Agent")
NESTED_FLOWS: Final = {VF + "hasInput": "inputOf", VF + "hasOutput": "outputOf"}
"""A process's hasInput/hasOutput: the events nested there are its inputs/outputs."""
_READ_ELSEWHERE: Final = frozenset({*NESTED_FLOWS, SAME_AS})


class Unread:
    """The properties a document holds that coledger does not record, by IRI (counts)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, iri: str) -> None:
        self.counts[iri] = self.counts.get(iri, 0) + 1


def _kind_of(node: Mapping[str, Any]) -> str | None:
    types = node.get("@type", [])
    for name in KINDS:
        if VF + name in types:
            return name
    if any(VF + name in types for name in AGENT_CLASSES):
        return "Agent"
    return None


def _merged(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Node objects with properties, by @id; a node given twice (a resource before and
    after the events) is one, the later values of a property standing."""
    by_id: dict[str, dict[str, Any]] = {}
    for node in nodes:
        iri = node.get("@id")
        if isinstance(iri, str) and len(node) > 1:
            by_id.setdefault(iri, {}).update(node)
    return by_id


def read_vf_graph(document: Any, *, strict: bool = False) -> dict[str, Any]:
    """Everything `coledger import` needs from a VF JSON-LD document (see the module):
    `events` [(IRI or None, content)] in document order; `resources`, `processes`,
    `specs`, `agents` {IRI: content}; `quantities` {resource IRI: its stated quantity};
    `places` {location label: SpatialThing content} for the places it gives more than a
    name (coordinates, address);
    the planning and recipe records (validated; coledger IRIs only) with the withdrawn
    proposals and the countersigned agreements left out; `unread` {property IRI: count}.
    `strict`: a property coledger does not read is an error. Raises MalformedDocument."""
    expanded, iri_of = expand(document)
    nodes = list(node_objects(expanded))
    for node in nodes:
        _coerce(node, iri_of)
    by_id = _merged(nodes)
    unread = Unread()
    found: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in KINDS}
    events: list[tuple[str | None, dict[str, Any]]] = []
    implied: dict[int, dict[str, str]] = {}  # id(event node) -> inputOf/outputOf by nesting
    for node in nodes:
        if _kind_of(node) != "Process":
            continue
        for key, field in NESTED_FLOWS.items():
            for child in node.get(key, []):
                if isinstance(child, dict):
                    target = by_id.get(str(child.get("@id")), child)
                    implied.setdefault(id(target), {})[field] = str(node.get("@id", ""))
    seen: set[str] = set()
    for node in nodes:
        kind = _kind_of(node)
        iri = node.get("@id")
        if kind is None or (isinstance(iri, str) and iri in seen):
            continue
        if isinstance(iri, str):
            seen.add(iri)
            node = by_id.get(iri, node)
        content = _content(kind, node, by_id, unread, strict)
        if kind == "EconomicEvent":
            for field, process in implied.get(id(node), {}).items():
                content.setdefault(field, process)
            events.append((iri if isinstance(iri, str) else None, content))
        elif isinstance(iri, str):
            found[kind][iri] = content
    planning = _read_planning(_planning_nodes(nodes, by_id, unread), by_id, _address_of,
                              _planning_value)
    if not events and not any(planning.records.values()) and not planning.countersigned:
        raise MalformedDocument(
            "the document has no vf:EconomicEvent and no planning or recipe record")
    resources = found["EconomicResource"]
    places = {_location(node): node for node in (by_id.get(str(n.get("@id")), n) for n in nodes)
              if VF + "SpatialThing" in node.get("@type", [])}
    return {
        "events": events,
        "resources": {iri: {k: v for k, v in c.items() if not k.endswith("Quantity")}
                      for iri, c in resources.items()},
        "quantities": {iri: c.get("accountingQuantity") or c["onhandQuantity"]
                       for iri, c in resources.items()
                       if "accountingQuantity" in c or "onhandQuantity" in c},
        "processes": found["Process"], "specs": found["ResourceSpecification"],
        "agents": found["Agent"],
        "places": {label: _place(label, node) for label, node in places.items()
                   if any(key in node for key in PLACE_FIELDS)},
        "planning": planning.records, "withdrawn": planning.withdrawn,
        "countersigned": planning.countersigned, "unread": unread.counts,
    }


_AS_IRIS: Final = frozenset(
    key for fields in KINDS.values() for key, (_, kind) in fields.items()
    if kind in ("agent", "agents", "resource", "process", "spec", "ref", "event", "unit")
) | {VF + "hasUnit"}
"""Properties whose plain-string values are IRIs (where the context does not say so)."""


def _coerce(node: dict[str, Any], iri_of: Callable[[str], str]) -> None:
    """A node's plain strings that name things, as IRIs (compact ones expanded by the
    document's context): a context without `@type: @id` leaves them literals."""
    for key, values in node.items():
        if key in _AS_IRIS and isinstance(values, list):
            node[key] = [{"@id": iri_of(v["@value"])}
                         if isinstance(v, dict) and set(v) == {"@value"}
                         and isinstance(v["@value"], str) and ":" in v["@value"] else v
                         for v in values]


def _content(kind: str, node: Mapping[str, Any], by_id: Mapping[str, Any], unread: Unread,
             strict: bool) -> dict[str, Any]:
    """One node's content: entry fields, references as IRIs; its sameAs (foreign IRI)."""
    fields = KINDS[kind]
    where = f"{'agent' if kind == 'Agent' else kind} {node.get('@id', '(no @id)')}"
    if kind == "EconomicEvent":
        where = f"event {node.get('@id', '(an event without @id)')}"
    content: dict[str, Any] = {}
    for key, values in node.items():
        if key.startswith("@") or key in _READ_ELSEWHERE:
            continue
        if key not in fields:
            if strict:
                raise MalformedDocument(f"{where}: property {key} is not supported")
            unread.add(key)
            continue
        field, value_kind = fields[key]
        if value_kind in ("measure", "place"):  # flattened documents refer to nodes
            values = dereferenced(values, by_id)
        try:
            content[field] = read_value(value_kind, values)
        except (AccountingError, UnitError) as error:
            raise MalformedDocument(f"{where}: {field}: {error}") from None
    same = node.get(SAME_AS)
    if same:
        content["sameAs"] = _iri(same[0])
    if kind == "Agent":
        types = node.get("@type", [])
        content["agentType"] = next((n for n in AGENT_CLASSES[:3] if VF + n in types),
                                    "Organization")
    return content


def _single(values: list[Any]) -> Any:
    if len(values) != 1:
        raise MalformedDocument(f"expected one value, found {len(values)}")
    return values[0]


def _iri(value: Any) -> str:
    """An IRI: a node reference, or a string (a context without `@type: @id`)."""
    if isinstance(value, dict) and isinstance(value.get("@id"), str):
        return vf_iri(str(value["@id"]))
    if isinstance(value, dict) and isinstance(value.get("@value"), str) and (
            ":" in value["@value"]):
        return vf_iri(str(value["@value"]))
    raise MalformedDocument(f"expected an IRI, found {_shown(value)}")


def _shown(value: Any) -> str:
    if isinstance(value, dict) and "@value" in value:
        return repr(value["@value"])
    if isinstance(value, dict) and "@id" in value:
        return str(value["@id"])
    return "a node" if isinstance(value, dict) else repr(value)


def _literal(value: Any) -> Any:
    if not isinstance(value, dict) or "@value" not in value:
        raise MalformedDocument(f"expected a literal, found {_shown(value)}")
    return value["@value"]


def read_value(kind: str, values: list[Any]) -> Any:
    """One property's values as content (references as IRIs); MalformedDocument or
    AccountingError/UnitError when they are not of that kind."""
    values = [v for value in values for v in (
        value["@list"] if isinstance(value, dict) and isinstance(value.get("@list"), list)
        else [value])]  # an ordered list (@list) is its items
    if kind == "labels":
        return [str(v["@id"]) if isinstance(v, dict) and "@id" in v else str(_literal(v))
                for v in values]
    if kind == "agents":
        return [_iri(v) for v in values]
    value = _single(values)
    if kind == "action":
        text = str(value.get("@id") or value.get("@value")) if isinstance(value, dict) else ""
        action = vf_iri(text).removeprefix(VF).removeprefix("vf:")
        if action not in get_args(ActionName):
            raise MalformedDocument(f"{text or _shown(value)} is not a ValueFlows action")
        return action
    if kind in ("agent", "resource", "process", "spec", "ref", "event"):
        return _iri(value)
    if kind == "measure":
        return _measure(value)
    if kind == "unit":
        return unit_of_iri(_unit_text(value))
    if kind == "time":
        time = _literal(value)
        if not isinstance(time, str):
            raise MalformedDocument(f"expected an ISO 8601 date-time, found {time!r}")
        return parse_iso_time(time)
    if kind == "place":
        return _location(value)
    if kind == "bool":
        flag = _literal(value)
        if not isinstance(flag, bool):
            raise MalformedDocument(f"expected true or false, found {flag!r}")
        return flag
    return _literal(value)


def _unit_text(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("@id"), str):
        return str(value["@id"])
    text = _literal(value)
    if not isinstance(text, str):
        raise MalformedDocument(f"expected a unit, found {text!r}")
    return text


def _measure(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or "@value" in value:
        raise MalformedDocument(f"expected a vf:Measure, found {_shown(value)}")
    number = _literal(_single(value.get(VF + "hasNumericalValue", [])))
    unit = _unit_text(_single(value.get(VF + "hasUnit", [])))
    if isinstance(number, float):
        raise MalformedDocument(
            f"hasNumericalValue {number!r} is a float: write it as a decimal string "
            "(or load the JSON with parse_float=Decimal)"
        )
    if not isinstance(number, str | int | Decimal) or isinstance(number, bool):
        raise MalformedDocument(f"hasNumericalValue must be a decimal string, not {number!r}")
    return {
        "hasNumericalValue": decimal_string(bounded(to_decimal(number))),
        "hasUnit": unit_of_iri(unit),
    }


PLACE_FIELDS: Final = {VF + name: name for name in ("mappableAddress", "lat", "long", "alt",
                                                    "note")}
"""What a vf:SpatialThing node may say of a place beyond its name (a SpatialThing entry)."""


def _place(label: str, node: Mapping[str, Any]) -> dict[str, str]:
    """A place node as a SpatialThing entry's content, named by the label events and
    resources know it by (`_location`)."""
    where = f"place {node.get('@id', label)}"
    try:
        return {"name": label, **{field: str(_literal(_single(node[key])))
                                  for key, field in PLACE_FIELDS.items() if key in node}}
    except MalformedDocument as error:
        raise MalformedDocument(f"{where}: {error}") from None


def _location(value: Any) -> str:
    if isinstance(value, dict) and "@value" in value:
        return str(value["@value"])
    if not isinstance(value, dict):
        raise MalformedDocument("a location is a vf:SpatialThing with a vf:name")
    for key in (VF + "name", VF + "mappableAddress"):
        if value.get(key):
            return str(_literal(_single(value[key])))
    if isinstance(value.get("@id"), str):
        return str(value["@id"])  # a place named only by its IRI
    raise MalformedDocument("a location is a vf:SpatialThing with a vf:name")


# -- coledger's own IRIs: events as entry contents, planning records ----------------------


def address_in(iri: str) -> str | None:
    """The address a `urn:coledger:<address>` IRI names (None for any other IRI)."""
    if iri.startswith(COLEDGER) and not iri.startswith(AGENT_PREFIX):
        return iri.removeprefix(COLEDGER)
    return None


def _address_of(iri: str) -> str:
    address = address_in(iri)
    if address is None:
        raise MalformedDocument(f"{iri} is not a {COLEDGER}<address> IRI")
    return address


def _member(iri: str) -> str:
    if not iri.startswith(AGENT_PREFIX):
        raise MalformedDocument(f"agent {iri} is not an {AGENT_PREFIX}<agent id> IRI")
    return iri.removeprefix(AGENT_PREFIX)


_REFERENCE_KINDS: Final = ("resource", "process", "spec", "ref", "event")


def from_vf_jsonld(document: Any) -> list[dict[str, Any]]:
    """The contents of the vf:EconomicEvent nodes of a document coledger wrote (its own
    IRIs: addresses and agent ids), in document order, each validated as an
    EconomicEvent; a property it does not read is refused; raises MalformedDocument."""
    graph = read_vf_graph(document, strict=True)
    if not graph["events"]:
        raise MalformedDocument("the document has no vf:EconomicEvent")
    contents = []
    for iri, event in graph["events"]:
        where = f"event {iri or '(an event without @id)'}"
        content = dict(event)
        for field, kind in EVENT_FIELDS.values():
            if field in content and kind in _REFERENCE_KINDS:
                content[field] = _in(where, field, _address_of, content[field])
            elif field in content and kind == "agent":
                content[field] = _in(where, field, _member, content[field])
        contents.append(validated(EconomicEvent, content, where, "event"))
    return contents


def _in(where: str, field: str, convert: Any, value: str) -> str:
    try:
        return str(convert(value))
    except MalformedDocument as error:
        raise MalformedDocument(f"{where}: {field}: {error}") from None


_PLANNING_IRIS: Final = frozenset({iri for iri, _ in PROPERTIES.values()}
                                  | {WITHDRAWN, COUNTERSIGNED})


def _planning_nodes(nodes: list[dict[str, Any]], by_id: Mapping[str, Any],
                    unread: Unread) -> list[dict[str, Any]]:
    """coledger's planning and recipe nodes, each once, without the properties no planning
    record has (counted in `unread`, as are other systems' records, by class); a property
    of another class is refused by read_planning."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for node in nodes:
        types = node.get("@type", [])
        iri = node.get("@id")
        kinds = [VF + name for name in CLASSES if VF + name in types]
        if not kinds or not isinstance(iri, str) or iri in seen:
            continue
        seen.add(iri)
        if address_in(iri) is None:  # another system's: coledger copies only its own
            unread.add(kinds[0])
            continue
        full = by_id.get(iri, node)
        kept = {}
        for key, value in full.items():
            if key.startswith("@") or key in _PLANNING_IRIS:
                kept[key] = value
            else:
                unread.add(key)
        out.append(kept)
    return out


def _planning_value(kind: str, values: list[Any]) -> Any:
    """One property of a planning or recipe record (kinds as jsonld_planning names them):
    coledger's own IRIs, read as addresses and agent ids."""
    if kind.startswith("refs:"):
        return [_address_of(_iri(v)) for v in values]
    if kind.startswith("ref:"):
        return _address_of(_iri(_single(values)))
    if kind == "purpose":
        purpose = _iri(_single(values)).removeprefix(VF)
        if purpose not in ("offer", "request"):
            raise MalformedDocument(
                f"a proposal's purpose is vf:offer or vf:request, not {purpose}")
        return purpose
    if kind == "agents":
        return [_member(_iri(v)) for v in values]
    if kind == "agent":
        return _member(_iri(_single(values)))
    return read_value(kind, values)  # action, measure, place, bool, literal, labels, time
