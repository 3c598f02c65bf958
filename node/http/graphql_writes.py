"""The GraphQL API's mutations, each one write of the front door (node/http/graphql.py serves
them): vf-graphql's input shapes turned into the requests the CLI makes (EventRequest,
ProposalRequest), refused by the ledger's rules as the CLI's are (a GraphQL error naming
the rule; nothing written).
"""

from __future__ import annotations

from typing import Any

from ariadne import MutationType
from graphql import GraphQLError

from node.http.graphql_common import context_of
from node.http.graphql_reads import event, resource, thing

MUTATION = MutationType()


def quantity(measure: dict[str, Any] | None) -> str | None:
    """An IMeasure as the CLI's quantity text ("10 kg")."""
    if measure is None:
        return None
    unit = measure.get("hasUnit")
    if not unit:
        raise GraphQLError("a quantity needs its unit (hasUnit)", extensions={"kind": "refused"})
    return f"{measure['hasNumericalValue']} {unit}"


@MUTATION.field("createEconomicEvent")
def resolve_create_event(_: Any, info: Any, event: dict[str, Any],  # noqa: F811
                         newInventoriedResource: dict[str, Any] | None = None,  # noqa: N803
                         ) -> dict[str, Any]:
    """Record the event; `newInventoriedResource` names the resource it brings into being
    (its `conformsTo`, or the event's `resourceConformsTo`)."""
    from zomes.valueflows.coordinator import EventRequest

    made = newInventoriedResource
    if made is not None and event.get("resourceInventoriedAs"):
        raise GraphQLError("give resourceInventoriedAs or newInventoriedResource, not both",
                           extensions={"kind": "refused"})
    request = EventRequest(
        action=event["action"],
        resource=f"new:{made['name']}" if made else event.get("resourceInventoriedAs"),
        to_resource=event.get("toResourceInventoriedAs"),
        conforms_to=(made or {}).get("conformsTo") or event.get("resourceConformsTo"),
        quantity=quantity(event.get("resourceQuantity")),
        effort=quantity(event.get("effortQuantity")),
        provider=event.get("provider"), receiver=event.get("receiver"),
        input_of=event.get("inputOf"), output_of=event.get("outputOf"),
        at_us=event.get("hasPointInTime"), location=event.get("atLocation"),
        to_location=event.get("toLocation"), state=event.get("state"),
        note=event.get("note") if made is None else event.get("note") or made.get("note"),
        corrects=event.get("corrects"), fulfills=event.get("fulfills"),
        satisfies=event.get("satisfies"), settles=event.get("settles"),
        realization_of=event.get("realizationOf"),
        classified_as=tuple(event.get("resourceClassifiedAs") or ()))
    done = context_of(info).call("record", request, detail=True)
    created = done.get("created_resources") or {}
    context_of(info).answers.clear()  # (what was read before this write is stale)
    recorded = _recorded_event(info, done)
    new = next(iter(created.values()), None)
    return {"economicEvent": recorded, "economicResource": resource(info, new) if new else None}


def _recorded_event(info: Any, done: dict[str, Any]) -> dict[str, Any]:
    """The event just recorded, from what `record` answered (no second read)."""
    found = event(info, done["address"])
    if found is not None:
        return found
    return {**done["event"], "id": done["address"], "__typename": "EconomicEvent"}


@MUTATION.field("createResourceSpecification")
def resolve_create_spec(_: Any, info: Any, resourceSpecification: dict[str, Any],  # noqa: N803
                        ) -> dict[str, Any]:
    spec = resourceSpecification
    address = context_of(info).call(
        "create_spec", spec["name"], spec["defaultUnitOfResource"], False, spec.get("note"),
        tuple(spec.get("resourceClassifiedAs") or ()))
    context_of(info).answers.clear()
    return {"resourceSpecification": thing(info, "ResourceSpecification", address)}


@MUTATION.field("createProcessSpecification")
def resolve_create_process_spec(_: Any, info: Any,
                                processSpecification: dict[str, Any],  # noqa: N803
                                ) -> dict[str, Any]:
    spec = processSpecification
    address = context_of(info).call("create_process_spec", spec["name"], spec.get("note"))
    context_of(info).answers.clear()
    return {"processSpecification": thing(info, "ProcessSpecification", address)}


@MUTATION.field("createProcess")
def resolve_create_process(_: Any, info: Any, process: dict[str, Any]) -> dict[str, Any]:
    address = context_of(info).call("create_process", process["name"],
                                    process.get("basedOn"), process.get("note"))
    context_of(info).answers.clear()
    return {"process": thing(info, "Process", address)}


def _propose(purpose: str) -> Any:
    """createOffer / createRequest: the Client's `propose` (one intent, its reciprocal)."""

    def resolve(_: Any, info: Any, intent: dict[str, Any],
                reciprocal: dict[str, Any] | None = None,
                proposal: dict[str, Any] | None = None) -> dict[str, Any]:
        from zomes.valueflows.offers import ProposalRequest

        about = proposal or {}
        request = ProposalRequest(
            purpose=purpose, spec=intent["resourceConformsTo"],
            quantity=quantity(intent.get("resourceQuantity")),
            available=quantity(intent.get("availableQuantity")),
            minimum=quantity(intent.get("minimumQuantity")),
            action=intent.get("action") or "transfer",
            reciprocal=quantity((reciprocal or {}).get("resourceQuantity")),
            reciprocal_spec=(reciprocal or {}).get("resourceConformsTo"),
            unit_based=bool(about.get("unitBased")),
            begins_us=about.get("hasBeginning") or intent.get("hasBeginning"),
            ends_us=about.get("hasEnd") or intent.get("hasEnd"),
            location=about.get("eligibleLocation") or intent.get("atLocation"),
            classes=tuple(intent.get("resourceClassifiedAs") or ()),
            name=about.get("name") or intent.get("name"),
            note=about.get("note") or intent.get("note"))
        done = context_of(info).call("propose", request)
        context_of(info).answers.clear()
        return {"proposal": thing(info, "Proposal", done["proposal"])}

    return resolve


MUTATION.set_field("createOffer", _propose("offer"))
MUTATION.set_field("createRequest", _propose("request"))
