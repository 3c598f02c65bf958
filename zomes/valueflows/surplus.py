"""What a cooperative holds or will produce that has no planned use, as offer rows for
matching (zomes/valueflows/matching.py pairs them with the network's requests):

- what it holds classified byproduct or waste (its own or its specification's labels);
- the outputs of its processes that nothing of its own uses: a specification its
  processes produce (a produce or separate event) or that it plans to (an open output
  commitment), which no process of its own takes as an input (an event inputOf), and no
  open commitment or intent of its own names otherwise (an input planned, a delivery
  committed, an offer or a request published and not withdrawn). Of such a
  specification it offers what it holds on hand (`held`) and what its open output
  commitments will make (`planned`, available from when they are due).

Pure: the cooperative's own chain and inventory in, rows out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from node.core.actions import Create, CreateLink, DeleteLink, Update
from node.core.records import Record
from zomes.valueflows.entries import (
    Commitment,
    EconomicEvent,
    EconomicResource,
    Intent,
    Proposal,
    ResourceSpecification,
    VfEntry,
)
from zomes.valueflows.matching import SURPLUS, held_row
from zomes.valueflows.proposals import PROPOSAL_LINK
from zomes.valueflows.recipe_rules import MAKING
from zomes.valueflows.zome import PREFIX, parse

UNUSED: Final = "an output nothing of its own uses"
"""Why a row is offered when no classification says so."""


@dataclass
class OwnChain:
    """What the surplus reads of one chain: its entries by the address of the action that
    created each (the latest update wins), and its open `proposal` links' targets."""

    entries: dict[str, VfEntry] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # proposal link -> its proposal

    @classmethod
    def of(cls, records: Iterable[Record]) -> OwnChain:
        """Fold `records` (one chain, in order); entries that do not parse are left out."""
        chain = cls()
        for record in records:
            action = record.action
            if isinstance(action, CreateLink) and action.link_type == PROPOSAL_LINK:
                chain.links[str(record.address)] = str(action.target)
            elif isinstance(action, DeleteLink):
                chain.links.pop(str(action.link_add), None)
            elif isinstance(action, Create | Update) and record.entry is not None \
                    and action.entry_type.startswith(PREFIX):
                try:
                    entry = parse(action.entry_type, record.entry.value)
                except ValueError:
                    continue
                name = action.original_action if isinstance(action, Update) else record.address
                chain.entries[str(name)] = entry
        return chain

    def of_type(self, cls: type[Any]) -> dict[str, Any]:
        return {a: e for a, e in self.entries.items() if isinstance(e, cls)}


def _spec_of(event: EconomicEvent, resources: Mapping[str, EconomicResource]) -> str | None:
    """The specification an event's resource conforms to (its own, else its resource's)."""
    if event.resource_conforms_to is not None:
        return event.resource_conforms_to
    resource = resources.get(event.resource_inventoried_as or "")
    return resource.conforms_to if resource is not None else None


def _withdrawn_intents(chain: OwnChain) -> set[str]:
    """Intents published only by proposals none of whose links is still open."""
    open_proposals = set(chain.links.values())
    published: dict[str, bool] = {}
    for address, proposal in chain.of_type(Proposal).items():
        for intent in (*proposal.publishes, *proposal.reciprocal):
            published[intent] = published.get(intent, False) or address in open_proposals
    return {intent for intent, still in published.items() if not still}


def unused_outputs(chain: OwnChain) -> tuple[set[str], dict[str, Commitment]]:
    """(the specifications made or planned that nothing of its own uses, the open output
    commitments planning them, by address)."""
    resources = chain.of_type(EconomicResource)
    events: dict[str, EconomicEvent] = chain.of_type(EconomicEvent)
    commitments: dict[str, Commitment] = {
        a: c for a, c in chain.of_type(Commitment).items() if not c.finished}
    withdrawn = _withdrawn_intents(chain)
    intents: dict[str, Intent] = {a: i for a, i in chain.of_type(Intent).items()
                                  if not i.finished and a not in withdrawn}
    made = {_spec_of(e, resources) for e in events.values() if e.action in MAKING}
    outputs = {a: c for a, c in commitments.items()
               if c.output_of is not None and c.action in MAKING}
    made |= {c.resource_conforms_to for c in outputs.values()}
    used = {_spec_of(e, resources) for e in events.values() if e.input_of is not None}
    used |= {c.resource_conforms_to for a, c in commitments.items() if a not in outputs}
    used |= {i.resource_conforms_to for i in intents.values() if i.output_of is None}
    unused = {s for s in made - used if s is not None}
    return unused, {a: c for a, c in outputs.items() if c.resource_conforms_to in unused}


def _planned_row(me: str, address: str, commitment: Commitment,
                 specs: Mapping[str, ResourceSpecification]) -> dict[str, Any] | None:
    """An open output commitment as an offer row: what it will make, from when it is due."""
    measure = commitment.resource_quantity
    if measure is None or measure.value <= 0:
        return None
    spec = specs.get(commitment.resource_conforms_to or "")
    labels = (*commitment.resource_classified_as,
              *(spec.resource_classified_as if spec is not None else ()))
    ready = (commitment.due or commitment.has_end or commitment.has_point_in_time
             or commitment.has_beginning)
    return {
        "proposal": address, "purpose": "offer", "author": me, "held": False, "planned": True,
        "surplus": UNUSED, "name": spec.name if spec is not None else None,
        "spec": commitment.resource_conforms_to, "quantity": str(measure),
        "available": str(measure), "minimum": None, "unit_based": False,
        "classes": sorted(set(labels)), "location": commitment.at_location,
        "has_beginning": ready, "has_end": None}


def surplus_rows(me: str, records: Iterable[Record],
                 inventory: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`me`'s surplus as offer rows: held byproducts and waste, then what it holds of its
    unused outputs (each resource once), then its open output commitments of them.
    `records`: its own chain; `inventory`: as the coordinator's inventory answers it."""
    chain = OwnChain.of(records)
    unused, planned = unused_outputs(chain)
    rows = []
    for resource in inventory:
        labels = resource.get("classifiedAs") or ()
        why = ", ".join(c for c in SURPLUS if c in labels)
        if not why and resource.get("conformsTo") in unused:
            why = UNUSED
        row = held_row(me, resource, labels) if why else None
        if row is not None:
            rows.append({**row, "surplus": why})
    specs = chain.of_type(ResourceSpecification)
    for address in sorted(planned):
        found = _planned_row(me, address, planned[address], specs)
        if found is not None:
            rows.append(found)
    return rows

