"""The planning and knowledge layers in VF 1.0 JSON-LD: plans, intents, proposals,
agreements, commitments, claims, recipes (process, flow, exchange) and process
specifications, written beside the events (jsonld.py) and read back (jsonld_import.py).

One table, PROPERTIES, says for every entry field its VF 1.0 property and its kind of
value; the writer, the reader, the @context terms and the importer's reference rewriting
all follow it. VF 1.0 has no term for an intent's atLocation (kept as `coledger:atLocation`,
as for events), for a withdrawn proposal (`coledger:withdrawn true`: its listing links
were deleted, so an import must not list it again) nor for a countersigned agreement
(`coledger:countersigned true`: its clauses, held inline, are written as vf:Commitment
nodes with vf:clauseOf; an import leaves it out, as only its parties' signatures make it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from node.core.records import Entry
from zomes.accounting.common import AccountingError
from zomes.accounting.dataset import Dataset
from zomes.accounting.formatting import iso_time
from zomes.accounting.jsonld import (
    CONTEXT,
    EXTENSIONS,
    SAME_AS,
    VF,
    MalformedDocument,
    agent_iri,
    agent_node,
    completed,
    dereferenced,
    measure_node,
    node_id,
    place_node,
    places_by_name,
    process_node,
    resource_states,
    spec_node,
    validated,
)
from zomes.valueflows.entries import (
    Agreement,
    Claim,
    Commitment,
    Intent,
    Plan,
    ProcessSpecification,
    Proposal,
    Recipe,
    RecipeExchange,
    RecipeFlow,
    RecipeProcess,
    SpatialThing,
    VfEntry,
)
from zomes.valueflows.resources import ResourceState
from zomes.valueflows.units import UnitError

# The classes, in the order an importer writes them (what a record names comes first).
CLASSES: Final[dict[str, type[VfEntry]]] = {
    cls.__name__: cls
    for cls in (ProcessSpecification, RecipeProcess, RecipeExchange, RecipeFlow, Recipe, Plan,
                Intent, Proposal, Agreement, Commitment, Claim)
}  # fmt: skip

# entry field -> (property IRI, kind of value). A kind "ref:K" / "refs:K" names one / a
# list of records of kind K (the importer rewrites those the document holds); "agent(s)"
# are agent ids, "place" a label written as a vf:SpatialThing, "bool" a boolean literal.
PROPERTIES: Final[dict[str, tuple[str, str]]] = {
    "name": (VF + "name", "literal"), "note": (VF + "note", "literal"),
    "image": (VF + "image", "literal"), "state": (VF + "state", "literal"),
    "action": (VF + "action", "action"), "purpose": (VF + "purpose", "purpose"),
    "provider": (VF + "provider", "agent"), "receiver": (VF + "receiver", "agent"),
    "proposedTo": (VF + "proposedTo", "agents"),
    "resourceInventoriedAs": (VF + "resourceInventoriedAs", "ref:resource"),
    "resourceConformsTo": (VF + "resourceConformsTo", "ref:spec"),
    "primaryOutput": (VF + "primaryOutput", "ref:spec"),
    "resourceClassifiedAs": (VF + "resourceClassifiedAs", "labels"),
    "processClassifiedAs": (VF + "processClassifiedAs", "labels"),
    "resourceQuantity": (VF + "resourceQuantity", "measure"),
    "effortQuantity": (VF + "effortQuantity", "measure"),
    "availableQuantity": (VF + "availableQuantity", "measure"),
    "minimumQuantity": (VF + "minimumQuantity", "measure"),
    "hasDuration": (VF + "hasDuration", "measure"),
    "inputOf": (VF + "inputOf", "ref:process"), "outputOf": (VF + "outputOf", "ref:process"),
    "hasBeginning": (VF + "hasBeginning", "time"), "hasEnd": (VF + "hasEnd", "time"),
    "hasPointInTime": (VF + "hasPointInTime", "time"), "due": (VF + "due", "time"),
    "created": (VF + "created", "time"),
    "atLocation": (EXTENSIONS + "atLocation", "place"),
    "eligibleLocation": (VF + "eligibleLocation", "place"),
    "stage": (VF + "stage", "ref:ProcessSpecification"),
    "processConformsTo": (VF + "processConformsTo", "ref:ProcessSpecification"),
    "finished": (VF + "finished", "bool"), "unitBased": (VF + "unitBased", "bool"),
    "plannedWithin": (VF + "plannedWithin", "ref:Plan"),
    "independentDemandOf": (VF + "independentDemandOf", "ref:Plan"),
    "satisfies": (VF + "satisfies", "ref:Intent"),
    "clauseOf": (VF + "clauseOf", "ref:Agreement"),
    "reciprocalClauseOf": (VF + "reciprocalClauseOf", "ref:Agreement"),
    "bundledIn": (VF + "bundledIn", "ref:AgreementBundle"),
    "publishes": (VF + "publishes", "refs:Intent"),
    "reciprocal": (VF + "reciprocal", "refs:Intent"),
    "listedIn": (VF + "listedIn", "ref:ProposalList"),
    "triggeredBy": (VF + "triggeredBy", "ref:event"),
    "recipeIncludes": (VF + "recipeIncludes", "refs:RecipeProcess"),
    "recipeInputOf": (VF + "recipeInputOf", "ref:RecipeProcess"),
    "recipeOutputOf": (VF + "recipeOutputOf", "ref:RecipeProcess"),
    "recipeClauseOf": (VF + "recipeClauseOf", "ref:RecipeExchange"),
    "recipeReciprocalClauseOf": (VF + "recipeReciprocalClauseOf", "ref:RecipeExchange"),
    "sameAs": (SAME_AS, "iri"),  # the IRI another system named an imported record by
}  # fmt: skip
OWL: Final = SAME_AS.removesuffix("sameAs")
WITHDRAWN: Final = EXTENSIONS + "withdrawn"
"""A proposal whose listing links its author deleted (a coledger extension)."""
PURPOSES: Final = ("offer", "request")
COUNTERSIGNED: Final = EXTENSIONS + "countersigned"
"""An agreement its parties countersigned, its clauses inline (a coledger extension): only
their two signatures make one, so an import leaves it and its clauses out."""
INLINE_CLAUSES: Final = "clauses"
"""An agreement's commitments held in the Agreement entry itself (countersigned
agreements): each written as a vf:Commitment node, vf:clauseOf the agreement, named by the
address its content would have as a Commitment entry (`inline_clauses`)."""


def _term(iri: str, kind: str) -> Any:
    compact = iri.replace(VF, "vf:").replace(EXTENSIONS, "coledger:").replace(OWL, "owl:")
    if kind.startswith(("ref", "agent", "action", "purpose", "iri")):
        term: dict[str, Any] = {"@id": compact, "@type": "@id"}
    elif kind == "time":
        term = {"@id": compact, "@type": "xsd:dateTimeStamp"}
    elif kind == "bool":
        term = {"@id": compact, "@type": "xsd:boolean"}
    else:
        term = {"@id": compact}
    if kind.startswith("refs:") or kind in ("labels", "agents"):
        term["@container"] = "@set"
    return term


PLANNING_CONTEXT: Final[dict[str, Any]] = {
    "owl": OWL,
    **{key: _term(iri, kind) for key, (iri, kind) in PROPERTIES.items()},
    "withdrawn": {"@id": "coledger:withdrawn", "@type": "xsd:boolean"},
    "countersigned": {"@id": "coledger:countersigned", "@type": "xsd:boolean"},
    **CONTEXT,  # the events' terms stand (the same IRIs: a unit test checks)
}


# -- writing ------------------------------------------------------------------------------


def _value(kind: str, value: Any) -> Any:
    if kind.startswith("ref:"):
        return node_id(value)
    if kind.startswith("refs:"):
        return [node_id(v) for v in value]
    if kind == "agent":
        return agent_iri(value)
    if kind == "agents":
        return [agent_iri(v) for v in value]
    if kind in ("action", "purpose"):
        return f"vf:{value}"
    if kind == "measure":
        return measure_node(value)
    if kind == "time":
        return iso_time(value)
    if kind == "place":
        return place_node(value)
    return list(value) if kind == "labels" else value


def planning_node(address: str, entry: VfEntry, *, withdrawn: bool = False,
                  countersigned: bool = False) -> dict[str, Any]:
    """One planning or knowledge record as a JSON-LD node of its VF class."""
    node: dict[str, Any] = {"id": node_id(address), "type": f"vf:{type(entry).__name__}"}
    for key, value in entry.to_content().items():
        if key != INLINE_CLAUSES:  # (written as commitments of their own: inline_clauses)
            node[key] = _value(PROPERTIES[key][1], value)
    if withdrawn:
        node["withdrawn"] = True
    if countersigned:
        node["countersigned"] = True
    return node


def inline_clauses(address: str, agreement: Agreement) -> dict[str, Commitment]:
    """The commitments an agreement holds inline (a countersigned agreement's clauses), by
    the address each would have as a Commitment entry (as the agreement rules name a
    clause), each a clause of the agreement (clauseOf)."""
    clauses: tuple[Any, ...] = getattr(agreement, INLINE_CLAUSES, None) or ()
    return {str(Entry.of(c.to_content()).address):
            c if c.clause_of or c.reciprocal_clause_of else c.model_copy(
                update={"clause_of": address})
            for c in clauses if isinstance(c, Commitment)}


def planning_nodes(records: Mapping[str, VfEntry], withdrawn: Iterable[str] = (),
                   countersigned: Iterable[str] = ()) -> list[Any]:
    """The records as nodes, by class (CLASSES' order), then by address."""
    gone, signed = set(withdrawn), set(countersigned)
    return [planning_node(address, records[address], withdrawn=address in gone,
                          countersigned=address in signed)
            for cls in CLASSES.values()
            for address in sorted(a for a, e in records.items() if type(e) is cls)]


# -- reading ------------------------------------------------------------------------------

_BY_IRI: Final = {iri: (key, kind) for key, (iri, kind) in PROPERTIES.items()}


@dataclass
class PlanningRead:
    """What a document holds of the planning and knowledge layers: records by class, then
    address (contents, validated); the withdrawn proposals; and the countersigned
    agreements and their clauses, read but left out of `records`."""

    records: dict[str, dict[str, dict[str, Any]]]
    withdrawn: set[str]
    countersigned: set[str]


def read_planning(
    nodes: Iterable[dict[str, Any]], by_id: Mapping[str, Any], address_of: Callable[[str], str],
    read: Callable[[str, list[Any]], Any],
) -> PlanningRead:
    """The planning and knowledge records of expanded nodes. `address_of` reads a node's
    address from its IRI, `read(kind, values)` one property's values (jsonld_import's);
    raises MalformedDocument naming the node and the property."""
    found: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in CLASSES}
    marked: dict[str, set[str]] = {WITHDRAWN: set(), COUNTERSIGNED: set()}
    for node in nodes:
        types = node.get("@type", [])
        for name, cls in CLASSES.items():
            if VF + name in types and "@id" in node:
                if name == "ProcessSpecification" and len(node) <= 2:
                    continue  # a mere reference
                address = address_of(node["@id"])
                found[name][address], marks = _content(name, cls, node, by_id, read)
                for mark in marks:
                    marked[mark].add(address)
    signed = marked[COUNTERSIGNED] & set(found["Agreement"])
    clauses = {a for a, c in found["Commitment"].items()
               if {c.get("clauseOf"), c.get("reciprocalClauseOf")} & signed}
    for address in signed | clauses:
        found["Agreement"].pop(address, None)
        found["Commitment"].pop(address, None)
    return PlanningRead(found, marked[WITHDRAWN], signed | clauses)


_MARKS: Final = {WITHDRAWN: "Proposal", COUNTERSIGNED: "Agreement"}
"""The extensions that mark a record, and the class each marks."""


def _content(name: str, cls: type[VfEntry], node: dict[str, Any], by_id: Mapping[str, Any],
             read: Callable[[str, list[Any]], Any]) -> tuple[dict[str, Any], set[str]]:
    where = f"{name} {node['@id']}"
    content: dict[str, Any] = {}
    marks: set[str] = set()
    for key, values in node.items():
        if key.startswith("@"):
            continue
        if _MARKS.get(key) == name:
            if read("bool", values):
                marks.add(key)
            continue
        field, kind = _BY_IRI.get(key, (None, ""))
        if field is None or _snake(field) not in cls.model_fields:
            raise MalformedDocument(f"{where}: property {key} is not supported")
        if kind in ("measure", "place"):  # flattened documents refer to nodes
            values = dereferenced(values, by_id)
        try:
            content[field] = read(kind, values)
        except (AccountingError, UnitError) as error:
            raise MalformedDocument(f"{where}: {field}: {error}") from None
    return validated(cls, content, where, name), marks


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


# -- exporting a dataset's ----------------------------------------------------------------


def dataset_places(ds: Dataset) -> dict[str, SpatialThing]:
    """The dataset's SpatialThing entries by name (of one name, the latest created)."""
    return places_by_name(ds.places[a] for a in sorted(ds.places,
                                                        key=lambda a: (ds.created_at[a], a)))


def dataset_states(ds: Dataset) -> dict[str, ResourceState]:
    """Every resource as all the dataset's events leave it (not one agent's events only:
    a transfer's receiver goes on changing the resource it received)."""
    return resource_states(ds.ordered_events(), ds.resources, ds.processes)


def _mine(ds: Dataset, address: str, entry: VfEntry, me: str) -> bool:
    """Authored by `me`, or countersigned by both parties, `me` one of them (an
    agreement's parties are those of its inline clauses)."""
    if ds.authors.get(address) == me:
        return True
    flows = inline_clauses(address, entry).values() if isinstance(entry, Agreement) else ()
    parties = {p for flow in (entry, *flows)
               for p in (getattr(flow, "provider", None), getattr(flow, "receiver", None))}
    return (address in ds.cosigned or bool(flows)) and me in parties


@dataclass
class Chosen:
    """What an export carries of the planning and knowledge layers."""

    records: dict[str, VfEntry]  # with the countersigned agreements' clauses, by address
    withdrawn: set[str]  # proposals whose listing links were deleted
    countersigned: set[str]  # agreements holding their clauses inline


def chosen(ds: Dataset, *, me: str, everyone: bool) -> Chosen:
    """The planning and recipe records of `me` (every gathered one with `everyone`), an
    agreement's inline clauses as commitments of their own."""
    records = {a: e for a, e in ds.planning.items() if everyone or _mine(ds, a, e, me)}
    listed = ds.listed_proposals()
    withdrawn = {a for a, e in records.items()
                 if isinstance(e, Proposal) and e.purpose is not None and a not in listed}
    countersigned = set()
    for address, entry in list(records.items()):
        if isinstance(entry, Agreement) and (clauses := inline_clauses(address, entry)):
            countersigned.add(address)
            records |= clauses
    return Chosen(records, withdrawn, countersigned)


def with_planning(doc: dict[str, Any], ds: Dataset, *, me: str, everyone: bool) -> dict[str, Any]:
    """`doc` (to_vf_jsonld's) with the planning and recipe records `chosen` picks, and the
    processes, specifications and agents they name that it lacks; `doc` itself when there
    are none (an events-only export stays as it was)."""
    picked = chosen(ds, me=me, everyone=everyone)
    records = picked.records
    if not records:
        return doc
    plans = {a for a, e in records.items() if isinstance(e, Plan)}
    processes = {a for a, p in ds.processes.items() if p.planned_within in plans}
    specs: set[str] = set()
    process_specs: set[str] = set()
    agents: set[str] = set()
    for entry in records.values():
        for key, value in entry.to_content().items():
            kind = PROPERTIES[key][1]
            target = {"ref:spec": specs, "ref:process": processes,
                      "ref:ProcessSpecification": process_specs}.get(kind)
            if target is not None:
                target.add(value)
            elif kind in ("agent", "agents"):
                agents |= {value} if kind == "agent" else set(value)
    for address in processes & set(ds.processes):
        process = ds.processes[address]
        process_specs |= {process.based_on} if process.based_on else set()
        agents |= set(process.in_scope_of)
    present = {node.get("id") for node in doc["@graph"]}
    vf_agents = ds.vf_agents()
    graph = list(doc["@graph"])
    graph += [agent_node(a, vf_agents[a]) for a in sorted(agents)
              if a in vf_agents and agent_iri(a) not in present]
    graph += [spec_node(a, ds.specs[a]) for a in sorted(specs)
              if a in ds.specs and node_id(a) not in present]
    graph += [process_node(a, ds.processes[a]) for a in sorted(processes)
              if a in ds.processes and node_id(a) not in present]
    records |= {a: ds.process_specs[a] for a in process_specs if a in ds.process_specs}
    graph += planning_nodes(records, picked.withdrawn, picked.countersigned)
    return {"@context": PLANNING_CONTEXT, "@graph": completed(graph, dataset_places(ds))}
