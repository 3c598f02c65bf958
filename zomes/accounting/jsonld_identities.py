"""The identities other systems gave coledger's records, written back into a VF JSON-LD
export: each record imported with a foreign IRI (its `sameAs`: a resource, process,
specification or external agent) carries `owl:sameAs` that IRI, so the next system reading
the export (coledger's import included) knows it as the same thing."""

from __future__ import annotations

from typing import Any, Final

from zomes.accounting.dataset import Dataset
from zomes.accounting.jsonld import SAME_AS, agent_iri, node_id

SAME_AS_TERM: Final = {"sameAs": {"@id": SAME_AS, "@type": "@id"}}


def with_identities(doc: dict[str, Any], ds: Dataset) -> dict[str, Any]:
    """`doc` with `sameAs` on the nodes of records that have one (the context gains the
    term); `doc` itself when none has."""
    same: dict[str, str] = {}
    for records in (ds.resources, ds.processes, ds.specs):
        same |= {node_id(a): e.same_as for a, e in records.items() if e.same_as is not None}
    same |= {agent_iri(a): e.same_as for a, e in ds.external_agents().items()
             if e.same_as is not None}
    nodes = doc["@graph"]
    if not any(node.get("id") in same for node in nodes):
        return doc
    graph = [{**node, "sameAs": same[node["id"]]} if node.get("id") in same else node
             for node in nodes]
    return {"@context": {**doc["@context"], **SAME_AS_TERM}, "@graph": graph}
