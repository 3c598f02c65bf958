"""The identities other systems gave coledger's records, written back into a VF JSON-LD
export: each record imported with a foreign IRI (its `sameAs`: a resource, process,
specification or external agent) carries `owl:sameAs` that IRI, so the next system reading
the export (coledger's import included) knows it as the same thing. A copy of another
coledger home's record keeps that home's `urn:coledger:<address>` too (a second import finds
it), which the export leaves out: it names a record, not a thing of the world."""

from __future__ import annotations

from typing import Any, Final

from zomes.accounting.dataset import Dataset
from zomes.accounting.jsonld import COLEDGER, SAME_AS, agent_iri, node_id

SAME_AS_TERM: Final = {"sameAs": {"@id": SAME_AS, "@type": "@id"}}


def _foreign(iri: str) -> bool:
    """Another system's IRI: a copy of another home's record (`urn:coledger:<address>`,
    kept so that importing that home's export again adds nothing) says nothing new."""
    return not iri.startswith(COLEDGER + "b")


def with_identities(doc: dict[str, Any], ds: Dataset) -> dict[str, Any]:
    """`doc` with `sameAs` on the nodes of records that have one (the context gains the
    term); `doc` itself when none has."""
    named: dict[str, str | None] = {}
    for records in (ds.resources, ds.processes, ds.specs):
        named |= {node_id(a): e.same_as for a, e in records.items()}
    named |= {agent_iri(a): e.same_as for a, e in ds.external_agents().items()}
    same = {node: iri for node, iri in named.items() if iri is not None and _foreign(iri)}
    nodes = doc["@graph"]
    if not any(node.get("id") in same for node in nodes):
        return doc
    graph = [{**node, "sameAs": same[node["id"]]} if node.get("id") in same else node
             for node in nodes]
    return {"@context": {**doc["@context"], **SAME_AS_TERM}, "@graph": graph}
