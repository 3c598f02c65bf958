"""ValueFlows 1.0 JSON-LD read back into entry contents (for `coledger import`): events,
and the resources, processes and specifications they refer to (names as jsonld.py writes
them).

The importer expands JSON-LD itself for the forms such a document takes (inline contexts
with prefixes, terms, type coercion and @vocab; compact or full IRIs; @graph or nested
nodes): it never fetches a remote context, so it stays pure and refuses documents that
need one.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, get_args

from zomes.accounting.common import AccountingError
from zomes.accounting.formatting import parse_iso_time
from zomes.accounting.jsonld import (
    AGENT_PREFIX,
    AGENTS,
    COLEDGER,
    EXTENSIONS,
    LOCATIONS,
    MEASURES,
    REFERENCES,
    STRINGS,
    TIMES,
    VF,
    MalformedDocument,
    dereferenced,
    unit_of_iri,
    validated,
)
from zomes.accounting.jsonld_planning import read_planning
from zomes.valueflows.actions import ActionName
from zomes.valueflows.entries import (
    EconomicEvent,
    EconomicResource,
    Process,
    ResourceSpecification,
)
from zomes.valueflows.units import (
    UnitError,
    bounded,
    decimal_string,
    to_decimal,
)

# Import: a small JSON-LD expansion, then VF nodes to entry contents.


class _Context:
    """An active context: term definitions, prefixes and @vocab of inline contexts."""

    def __init__(self) -> None:
        self.terms: dict[str, dict[str, Any]] = {}
        self.vocab: str | None = None

    def extended(self, local: Any) -> _Context:
        context = _Context()
        context.terms, context.vocab = dict(self.terms), self.vocab
        for item in local if isinstance(local, list) else [local]:
            if item is None:
                context.terms, context.vocab = {}, None
            elif isinstance(item, str):
                raise MalformedDocument(
                    f"remote @context {item!r} is not fetched: inline the context in the document"
                )
            elif isinstance(item, dict):
                context._define(item)
            else:
                raise MalformedDocument(f"@context entries are objects, not {item!r}")
        return context

    def _define(self, definitions: dict[str, Any]) -> None:
        if "@vocab" in definitions:
            self.vocab = definitions["@vocab"]
        for term, definition in definitions.items():
            if term.startswith("@"):
                continue
            if isinstance(definition, str):
                self.terms[term] = {"@id": definition}
            elif isinstance(definition, dict):
                self.terms[term] = dict(definition)
            elif definition is None:
                self.terms.pop(term, None)
            else:
                raise MalformedDocument(f"@context term {term!r} has a bad definition")
        for term in list(self.terms):  # resolve compact IRIs now that prefixes are known
            definition = self.terms[term]
            if "@id" in definition and not definition["@id"].startswith("@"):
                definition["@id"] = self.iri(definition["@id"], vocab=True, resolving=term)
            if "@type" in definition and not definition["@type"].startswith("@"):
                definition["@type"] = self.iri(definition["@type"], vocab=True, resolving=term)

    def iri(self, value: str, *, vocab: bool, resolving: str | None = None) -> str:
        """Expand a term, a compact IRI (prefix:suffix) or an absolute IRI."""
        if value.startswith("@"):
            return value
        if vocab and value in self.terms and value != resolving:
            return str(self.terms[value].get("@id", value))
        prefix, colon, suffix = value.partition(":")
        if colon and not suffix.startswith("//"):
            definition = self.terms.get(prefix)
            if definition is not None and prefix != resolving:
                return str(definition.get("@id", "")) + suffix
        if colon:
            return value  # an absolute IRI (urn:..., https://...)
        if vocab and self.vocab:
            return self.vocab + value
        return value


def _expand(element: Any, context: _Context, key_definition: dict[str, Any] | None) -> Any:
    """The JSON-LD expansion of an element, enough for VF documents."""
    if isinstance(element, list):
        return [_expand(item, context, key_definition) for item in element]
    if not isinstance(element, dict):
        return _expand_value(element, context, key_definition or {})
    if "@context" in element:
        context = context.extended(element["@context"])
    node: dict[str, Any] = {}
    for key, value in element.items():
        if key == "@context":
            continue
        expanded_key = context.iri(key, vocab=True)
        if expanded_key == "@type":
            types = value if isinstance(value, list) else [value]
            node["@type"] = [context.iri(t, vocab=True) for t in types]
        elif expanded_key == "@id":
            node["@id"] = context.iri(value, vocab=False)
        elif expanded_key in ("@value", "@language"):
            node[expanded_key] = value
        elif expanded_key == "@graph":
            node["@graph"] = _as_list(_expand(value, context, None))
        elif ":" in expanded_key:
            definition = context.terms.get(key, {})
            node[expanded_key] = _as_list(_expand(value, context, definition))
        # keys that map to no IRI are dropped, as JSON-LD does
    return node


def _expand_value(value: Any, context: _Context, definition: dict[str, Any]) -> dict[str, Any]:
    kind = definition.get("@type")
    if kind == "@id" and isinstance(value, str):
        return {"@id": context.iri(value, vocab=False)}
    if kind == "@vocab" and isinstance(value, str):
        return {"@id": context.iri(value, vocab=True)}
    if kind is not None and not str(kind).startswith("@"):
        return {"@value": value, "@type": kind}
    return {"@value": value}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _nodes(expanded: Any) -> list[dict[str, Any]]:
    """Every node object, nested ones included, in document order."""
    found: list[dict[str, Any]] = []
    stack = list(reversed(_as_list(expanded)))
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "@value" not in item:
                found.append(item)
            children = [v for k, v in item.items() if not k.startswith("@") or k == "@graph"]
            for child in reversed(children):
                stack.extend(reversed(_as_list(child)))
    return found


def from_vf_jsonld(document: Any) -> list[dict[str, Any]]:
    """The contents of the vf:EconomicEvent nodes of a VF JSON-LD document, in document
    order, each validated as an EconomicEvent; raises MalformedDocument (one line)."""
    contents = _events(*_expanded_nodes(document))
    if not contents:
        raise MalformedDocument("the document has no vf:EconomicEvent")
    return contents


def _expanded_nodes(document: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The document's node objects, expanded, and those with properties by @id."""
    if not isinstance(document, dict | list):
        raise MalformedDocument("a JSON-LD document is an object or an array")
    nodes = _nodes(_expand(document, _Context(), None))
    return nodes, {node["@id"]: node for node in nodes if "@id" in node and len(node) > 1}


def _events(nodes: list[dict[str, Any]], by_id: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [_event_content(node, by_id) for node in nodes
            if VF + "EconomicEvent" in node.get("@type", [])]


_VF_KEYS: Final = {
    VF + name: name
    for name in (*REFERENCES, *AGENTS, *MEASURES, *TIMES, *STRINGS, "action", "toLocation",
                 "resourceClassifiedAs")
}  # fmt: skip
_VF_KEYS[EXTENSIONS + "atLocation"] = "atLocation"


def _event_content(node: dict[str, Any], by_id: Mapping[str, Any]) -> dict[str, Any]:
    name = node.get("@id", "(an event without @id)")
    content: dict[str, Any] = {}
    for key, values in node.items():
        if key.startswith("@"):
            continue
        field = _VF_KEYS.get(key)
        if field is None:
            raise MalformedDocument(f"event {name}: property {key} is not supported")
        if field in MEASURES or field in LOCATIONS:  # flattened documents refer to nodes
            values = dereferenced(values, by_id)
        try:
            content[field] = _field(field, values)
        except (AccountingError, UnitError) as error:
            raise MalformedDocument(f"event {name}: {field}: {error}") from None
    return validated(EconomicEvent, content, f"event {name}", "event")


def _single(values: list[Any]) -> Any:
    if len(values) != 1:
        raise MalformedDocument(f"expected one value, found {len(values)}")
    return values[0]


def _iri(value: Any) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("@id"), str):
        raise MalformedDocument(f"expected an IRI, found {value!r}")
    return str(value["@id"])


def _literal(value: Any) -> Any:
    if not isinstance(value, dict) or "@value" not in value:
        raise MalformedDocument(f"expected a literal, found {value!r}")
    return value["@value"]


def _field(field: str, values: list[Any]) -> Any:
    if field == "resourceClassifiedAs":
        return [_literal(v) for v in values]
    value = _single(values)
    if field == "action":
        action = _iri(value).removeprefix(VF)
        if action not in get_args(ActionName):
            raise MalformedDocument(f"{_iri(value)} is not a ValueFlows action")
        return action
    if field in AGENTS:
        iri = _iri(value)
        if not iri.startswith(AGENT_PREFIX):
            raise MalformedDocument(f"agent {iri} is not an {AGENT_PREFIX}<agent id> IRI")
        return iri.removeprefix(AGENT_PREFIX)
    if field in REFERENCES:
        iri = _iri(value)
        if not iri.startswith(COLEDGER) or iri.startswith(AGENT_PREFIX):
            raise MalformedDocument(f"{iri} is not a {COLEDGER}<address> IRI")
        return iri.removeprefix(COLEDGER)
    if field in MEASURES:
        return _measure_content(value)
    if field in TIMES:
        time = _literal(value)
        if not isinstance(time, str):
            raise MalformedDocument(f"expected an ISO 8601 date-time, found {time!r}")
        return parse_iso_time(time)
    if field in LOCATIONS:
        return _location(value)
    return _literal(value)


def _measure_content(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise MalformedDocument(f"expected a vf:Measure, found {value!r}")
    number = _literal(_single(value.get(VF + "hasNumericalValue", [])))
    unit = _iri(_single(value.get(VF + "hasUnit", [])))
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


def _location(value: Any) -> str:
    if isinstance(value, dict) and "@value" in value:
        return str(value["@value"])
    names = value.get(VF + "name") if isinstance(value, dict) else None
    if not names:
        raise MalformedDocument("a location is a vf:SpatialThing with a vf:name")
    return str(_literal(_single(names)))


# Import of the things events refer to: resources, processes, resource specifications.

_THING_FIELDS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    # VF class: {property IRI: (entry field, kind of value)}
    "EconomicResource": {
        VF + "name": ("name", "literal"), EXTENSIONS + "unitOfResource": ("unitOfResource", "unit"),
        VF + "unitOfEffort": ("unitOfEffort", "unit"), VF + "conformsTo": ("conformsTo", "ref"),
        VF + "trackingIdentifier": ("trackingIdentifier", "literal"),
        VF + "currentLocation": ("currentLocation", "place"),
        VF + "classifiedAs": ("classifiedAs", "labels"), VF + "image": ("image", "literal"),
        VF + "note": ("note", "literal"),
        # what the events leave the resource with (the export writes it; the events say it)
        **{VF + name: ("", "derived")
           for name in ("accountingQuantity", "onhandQuantity", "primaryAccountable")},
    },
    "Process": {
        VF + "name": ("name", "literal"), VF + "basedOn": ("basedOn", "ref"),
        VF + "plannedWithin": ("plannedWithin", "ref"),
        VF + "hasBeginning": ("hasBeginning", "time"),
        VF + "hasEnd": ("hasEnd", "time"), VF + "finished": ("finished", "literal"),
        VF + "classifiedAs": ("classifiedAs", "labels"), VF + "inScopeOf": ("inScopeOf", "agents"),
        VF + "note": ("note", "literal"),
    },
    "ResourceSpecification": {
        VF + "name": ("name", "literal"), VF + "substitutable": ("substitutable", "literal"),
        VF + "mediumOfExchange": ("mediumOfExchange", "literal"),
        VF + "defaultUnitOfResource": ("defaultUnitOfResource", "unit"),
        VF + "defaultUnitOfEffort": ("defaultUnitOfEffort", "unit"),
        VF + "resourceClassifiedAs": ("resourceClassifiedAs", "labels"),
        EXTENSIONS + "allowNegative": ("allowNegative", "literal"),
        VF + "image": ("image", "literal"),
        VF + "note": ("note", "literal"),
    },
}  # fmt: skip
_THING_CLASSES: Final[dict[str, type[Any]]] = {
    "EconomicResource": EconomicResource, "Process": Process,
    "ResourceSpecification": ResourceSpecification,
}  # fmt: skip


def _address_of(iri: str) -> str:
    if not iri.startswith(COLEDGER) or iri.startswith(AGENT_PREFIX):
        raise MalformedDocument(f"{iri} is not a {COLEDGER}<address> IRI")
    return iri.removeprefix(COLEDGER)


def _thing_value(kind: str, values: list[Any]) -> Any:
    if kind == "labels":
        return [_literal(v) for v in values]
    if kind == "agents":
        return [_field("provider", [v]) for v in values]
    value = _single(values)
    if kind == "unit":
        return unit_of_iri(_iri(value))
    if kind == "ref":
        return _address_of(_iri(value))
    if kind == "time":
        return _field("hasPointInTime", [value])
    if kind == "place":
        return _location(value)
    return _literal(value)


def _thing_content(vf_class: str, node: dict[str, Any], by_id: Mapping[str, Any]) -> dict[str, Any]:
    name = node.get("@id", f"(a {vf_class} without @id)")
    fields = _THING_FIELDS[vf_class]
    content: dict[str, Any] = {}
    for key, values in node.items():
        if key.startswith("@"):
            continue
        if key not in fields:
            raise MalformedDocument(f"{vf_class} {name}: property {key} is not supported")
        field, kind = fields[key]
        if kind == "derived":
            continue
        if kind == "place":
            values = dereferenced(values, by_id)
        try:
            content[field] = _thing_value(kind, values)
        except (AccountingError, UnitError) as error:
            raise MalformedDocument(f"{vf_class} {name}: {field}: {error}") from None
    return validated(_THING_CLASSES[vf_class], content, f"{vf_class} {name}", vf_class)


def read_vf_graph(document: Any) -> dict[str, Any]:
    """Everything `coledger import` needs from a VF JSON-LD document: the events in document
    order as (address or None, content), the resources, processes and resource
    specifications by address, the planning and recipe records by class and address
    (contents, validated) and the withdrawn proposals; raises MalformedDocument."""
    nodes, by_id = _expanded_nodes(document)
    events = _events(nodes, by_id)
    planning = read_planning(nodes, by_id, _address_of, _planning_value)
    if not events and not any(planning.records.values()) and not planning.countersigned:
        raise MalformedDocument(
            "the document has no vf:EconomicEvent and no planning or recipe record")
    event_ids: list[str | None] = []
    things: dict[str, dict[str, Any]] = {name: {} for name in _THING_FIELDS}
    for node in nodes:
        types = node.get("@type", [])
        if VF + "EconomicEvent" in types:
            iri = node.get("@id")
            event_ids.append(_address_of(iri) if isinstance(iri, str) else None)
            continue
        for vf_class in _THING_FIELDS:
            if VF + vf_class in types and "@id" in node:
                things[vf_class][_address_of(node["@id"])] = _thing_content(vf_class, node, by_id)
    return {
        "events": list(zip(event_ids, events, strict=True)),
        "resources": things["EconomicResource"],
        "processes": things["Process"],
        "specs": things["ResourceSpecification"],
        "planning": planning.records,
        "withdrawn": planning.withdrawn,
        "countersigned": planning.countersigned,
    }


def _planning_value(kind: str, values: list[Any]) -> Any:
    """One property of a planning or recipe record (kinds as jsonld_planning names them)."""
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
    if kind in ("action", "measure", "place"):
        return _field({"action": "action", "measure": "resourceQuantity",
                       "place": "atLocation"}[kind], values)
    if kind in ("agent", "agents"):
        agents = _thing_value("agents", values)
        return agents if kind == "agents" else _single(agents)
    if kind == "bool":
        value = _literal(_single(values))
        if not isinstance(value, bool):
            raise MalformedDocument(f"expected true or false, found {value!r}")
        return value
    return _thing_value(kind, values)  # literal, labels, time
