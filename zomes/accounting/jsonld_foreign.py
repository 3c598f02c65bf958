"""Another VF system's planning and recipe records (intents, proposals, commitments, plans,
agreements, recipes, process specifications named by their own IRIs) read from an
expanded document for `coledger import` (node/imports_planning.py copies them).

Unlike coledger's own records (jsonld_planning.read_planning: addresses, validated), such
a record's references stay IRIs (the document's own records, resources, processes,
specifications and agents), resolved by the importer, which validates the copy once they
are rewritten; its own IRI becomes the copy's `sameAs`. A property no coledger record of
its class has is counted in `unread` (reported), never fatal; a value of the wrong kind for
a property coledger reads is one MalformedDocument naming the node and the property.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from zomes.accounting.common import AccountingError
from zomes.accounting.jsonld import SAME_AS, VF, MalformedDocument, dereferenced
from zomes.accounting.jsonld_planning import CLASSES, PROPERTIES
from zomes.valueflows.units import UnitError

BY_IRI: Final = {iri: (key, kind) for key, (iri, kind) in PROPERTIES.items()}
NAMING: Final = frozenset(iri for iri, kind in PROPERTIES.values()
                          if kind.startswith(("ref", "agent", "purpose", "iri")))
"""The planning properties whose plain-string values are IRIs (a context without `@id`)."""


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def read_foreign_planning(
    nodes: Iterable[dict[str, Any]], by_id: Mapping[str, Any],
    iri: Callable[[Any], str], read: Callable[[str, list[Any]], Any],
    unread: Callable[[str], None],
) -> dict[str, dict[str, dict[str, Any]]]:
    """The records of `nodes` (each once, complete: `by_id`'s) by class, then IRI: contents
    with references as IRIs, `sameAs` the node's IRI (its own sameAs if it gives one).
    `iri` reads one value as an IRI, `read(kind, values)` any other value (jsonld_import's);
    `unread` counts a property no record of its class has."""
    found: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in CLASSES}
    for node in nodes:
        types = node.get("@type", [])
        name = next((n for n in CLASSES if VF + n in types), None)
        if name is None or not isinstance(node.get("@id"), str):
            continue
        if name == "ProcessSpecification" and len(node) <= 2:
            continue  # a mere reference
        found[name][node["@id"]] = _content(name, node, by_id, iri, read, unread)
    return found


def _content(name: str, node: Mapping[str, Any], by_id: Mapping[str, Any],
             iri: Callable[[Any], str], read: Callable[[str, list[Any]], Any],
             unread: Callable[[str], None]) -> dict[str, Any]:
    where = f"{name} {node['@id']}"
    fields = CLASSES[name].model_fields
    content: dict[str, Any] = {}
    for key, values in node.items():
        if key.startswith("@") or key == SAME_AS:
            continue
        field, kind = BY_IRI.get(key, (None, ""))
        if field is None or _snake(field) not in fields:
            unread(key)
            continue
        if kind in ("measure", "place"):  # flattened documents refer to nodes
            values = dereferenced(values, by_id)
        try:
            content[field] = _value(kind, values, iri, read)
        except (AccountingError, UnitError, MalformedDocument) as error:
            raise MalformedDocument(f"{where}: {field}: {error}") from None
    same = node.get(SAME_AS)
    content["sameAs"] = iri(same[0]) if same else node["@id"]
    return content


def _value(kind: str, values: list[Any], iri: Callable[[Any], str],
           read: Callable[[str, list[Any]], Any]) -> Any:
    if kind.startswith("refs:") or kind == "agents":
        return [iri(v) for v in values]
    if kind.startswith("ref:") or kind in ("agent", "iri"):
        if len(values) != 1:
            raise MalformedDocument(f"expected one value, found {len(values)}")
        return iri(values[0])
    return read(kind, values)  # a purpose, action, measure, place, time, literal...
