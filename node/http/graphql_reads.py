"""The GraphQL API's queries and the fields of its types (node/http/graphql.py serves them):
each a plain function over the query's `Context`, which asks the Door. A reference to
another thing (an event's resource, process, agent) is a stub holding its id; its other
fields are read only when asked for, each list once per query.
"""

from __future__ import annotations

from typing import Any, Final

from ariadne import InterfaceType, ObjectType, QueryType, UnionType

from node.http.graphql_common import (
    MAX_PAGE,
    connection,
    context_of,
    list_connection,
    page_size,
)

QUERY = QueryType()
EVENT = ObjectType("EconomicEvent")
RESOURCE = ObjectType("EconomicResource")
PROCESS = ObjectType("Process")
MEASURE = ObjectType("Measure")
FLOWS = [ObjectType(name) for name in ("Intent", "Commitment")]
PROPOSAL = ObjectType("Proposal")
RECIPE = ObjectType("Recipe")
SPEC = ObjectType("ResourceSpecification")
AGENT = InterfaceType("Agent")
ITEM = UnionType("TrackTraceItem")

THINGS: Final = {"ResourceSpecification": "ResourceSpecification",
                 "ProcessSpecification": "ProcessSpecification", "Process": "Process",
                 "Intent": "Intent", "Commitment": "Commitment", "Proposal": "Proposal",
                 "Plan": "Plan"}


# -- what a reference becomes ----------------------------------------------------------


def thing(info: Any, kind: str, address: Any) -> dict[str, Any] | None:
    """This chain's thing of `kind` at `address` (its content with `id`), or None."""
    if not isinstance(address, str):
        return None
    for row in context_of(info).call("things", kind):
        if row["address"] == address:
            return {**row, "id": address, "__typename": kind}
    return None


def things_of(info: Any, kind: str) -> list[dict[str, Any]]:
    return [{**row, "id": row["address"], "__typename": kind}
            for row in context_of(info).call("things", kind)]


def resource(info: Any, address: Any) -> dict[str, Any] | None:
    """The resource at `address` as the inventory shows it (a stub if not held here)."""
    if not isinstance(address, str):
        return None
    for row in context_of(info).call("inventory"):
        if row["address"] == address:
            return {**row, "id": address, "__typename": "EconomicResource"}
    return {"id": address, "__typename": "EconomicResource"}


def event_of(view: dict[str, Any] | None, address: str) -> dict[str, Any] | None:
    """The event in a record's (or entry's) view, with `id`; None if it holds none."""
    if view is None or not isinstance(view.get("entry"), dict):
        return None
    entry_type = view.get("action", {}).get("entry_type", "")
    content = view["entry"]
    if "session" in content and isinstance(content.get("entry"), dict):
        content = content["entry"]  # (a countersigned event's envelope)
    elif entry_type and entry_type != "valueflows.EconomicEvent":
        return None
    if "action" not in content or "provider" not in content:
        return None
    return {**content, "id": address, "__typename": "EconomicEvent"}


def event(info: Any, address: Any) -> dict[str, Any] | None:
    if not isinstance(address, str):
        return None
    found = context_of(info).found("get", address)
    return None if found is None else event_of(found.view, address)


def agent(info: Any, id_: Any) -> dict[str, Any] | None:
    """An agent by its id: this one with its name, another named if this chain names it."""
    if not isinstance(id_, str):
        return None
    me = context_of(info).call("whoami")
    if id_ == me["id"]:
        return {"id": id_, "name": me["name"]}
    if not id_.startswith("bafy") and ":" not in id_:  # a member: no Agent entry names it
        return {"id": id_, "name": None}
    for row in context_of(info).call("things", "Agent"):
        if row["address"] == id_ or row.get("sameAs") == id_:
            return {**row, "id": id_}
    return {"id": id_, "name": None}


def action(name: Any) -> dict[str, Any] | None:
    from zomes.valueflows.actions import ACTIONS

    effects = ACTIONS.get(name) if isinstance(name, str) else None
    if effects is None:
        return None
    return {"id": name, "label": name, "resourceEffect": effects.accounting_effect,
            "accountingEffect": effects.accounting_effect,
            "onhandEffect": effects.onhand_effect, "inputOutput": effects.input_output,
            "pairsWith": effects.pairs_with}


def unit(name: Any) -> dict[str, Any] | None:
    from zomes.valueflows.units import OM2, UNITS, canonical_unit

    try:
        known = canonical_unit(name) if isinstance(name, str) else None
    except ValueError:
        return None
    if known is None or known not in UNITS:
        return None
    return {"id": known, "label": known, "symbol": SYMBOLS.get(known, known),
            "omUnitIdentifier": OM2 + known, "classifiedAs": UNITS[known].dimension}


SYMBOLS: Final = {"gram": "g", "kilogram": "kg", "tonne": "t", "millilitre": "mL",
                  "litre": "L", "cubicMetre": "m3", "joule": "J", "kilojoule": "kJ",
                  "megajoule": "MJ", "wattHour": "Wh", "kilowattHour": "kWh",
                  "megawattHour": "MWh", "second": "s", "minute": "min", "hour": "h",
                  "day": "d", "metre": "m", "kilometre": "km", "squareMetre": "m2"}


# -- queries ---------------------------------------------------------------------------


@QUERY.field("myAgent")
def resolve_my_agent(_: Any, info: Any) -> dict[str, Any] | None:
    return agent(info, context_of(info).call("whoami")["id"])


@QUERY.field("agent")
def resolve_agent(_: Any, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002
    return agent(info, id)


@QUERY.field("agents")
def resolve_agents(_: Any, info: Any, **page: Any) -> dict[str, Any]:
    me = context_of(info).call("whoami")
    others = [{**row, "id": row["address"]} for row in context_of(info).call("things", "Agent")]
    return list_connection([{"id": me["id"], "name": me["name"]}, *others], **page)


@QUERY.field("action")
def resolve_action(_: Any, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002
    return action(id)


@QUERY.field("actions")
def resolve_actions(_: Any, info: Any) -> list[dict[str, Any]]:
    from zomes.valueflows.actions import ACTIONS

    return [a for a in map(action, ACTIONS) if a is not None]


@QUERY.field("unit")
def resolve_unit(_: Any, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002
    return unit(id)


@QUERY.field("units")
def resolve_units(_: Any, info: Any, **page: Any) -> dict[str, Any]:
    from zomes.valueflows.units import UNITS

    return list_connection([u for u in map(unit, UNITS) if u is not None], **page)


@QUERY.field("economicEvent")
def resolve_event(_: Any, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002
    return event(info, id)


@QUERY.field("economicEvents")
def resolve_events(_: Any, info: Any, first: int | None = None, after: str | None = None,
                   last: int | None = None, before: str | None = None,
                   filter: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: A002
    size = page_size(first, last, before)
    where = filter or {}
    page = context_of(info).call(
        "events", action=where.get("action"), resource=where.get("resourceInventoriedAs"),
        process=where.get("process"), since_us=where.get("startDate"),
        until_us=where.get("endDate"), after=after, limit=size)
    rows = [{**row, "id": row["address"], "__typename": "EconomicEvent"}
            for row in page["events"]]
    return connection(rows, [str(r["seq"]) for r in rows], page["next"] is not None,
                      after is not None, size)


@QUERY.field("economicResource")
def resolve_resource(_: Any, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002
    found = resource(info, id)
    return found if found is not None and "name" in found else None


@QUERY.field("economicResources")
def resolve_resources(_: Any, info: Any, **page: Any) -> dict[str, Any]:
    rows = [{**row, "id": row["address"], "__typename": "EconomicResource"}
            for row in context_of(info).call("inventory")]
    return list_connection(rows, **page)


def _bind_things() -> None:
    """`resourceSpecification(id)`, `resourceSpecifications` ... for each kind of thing
    this chain lists (its entries of that type, latest versions, oldest first)."""
    for one, kind in (("resourceSpecification", "ResourceSpecification"),
                      ("processSpecification", "ProcessSpecification"),
                      ("process", "Process"), ("intent", "Intent"),
                      ("commitment", "Commitment"), ("proposal", "Proposal"),
                      ("plan", "Plan")):
        def get_one(_: Any, info: Any, id: str, kind: str = kind) -> Any:  # noqa: A002
            return thing(info, kind, id)

        def get_all(_: Any, info: Any, kind: str = kind, **page: Any) -> Any:
            return list_connection(things_of(info, kind), **page)

        QUERY.set_field(one, get_one)
        QUERY.set_field(PLURALS[one], get_all)


PLURALS: Final = {"resourceSpecification": "resourceSpecifications",
                  "processSpecification": "processSpecifications", "process": "processes",
                  "intent": "intents", "commitment": "commitments", "proposal": "proposals",
                  "plan": "plans"}
_bind_things()


def _proposals_of(purpose: str) -> Any:
    def resolve(_: Any, info: Any, **page: Any) -> Any:
        rows = [p for p in things_of(info, "Proposal") if p.get("purpose") == purpose]
        return list_connection(rows, **page)

    return resolve


QUERY.set_field("offers", _proposals_of("offer"))
QUERY.set_field("requests", _proposals_of("request"))


@QUERY.field("recipes")
def resolve_recipes(_: Any, info: Any, **page: Any) -> dict[str, Any]:
    rows = [{**r, "id": r["address"]} for r in context_of(info).call("recipes")]
    return list_connection(rows, **page)


# -- fields ----------------------------------------------------------------------------


def _references(object_type: ObjectType, fields: dict[str, str]) -> None:
    """Resolve each of `fields` (a VF property holding an address) to that kind of thing."""
    for field, kind in fields.items():
        def resolve(obj: dict[str, Any], info: Any, field: str = field,
                    kind: str = kind) -> Any:
            value = obj.get(field)
            if kind == "EconomicResource":
                return resource(info, value)
            if kind == "EconomicEvent":
                return event(info, value)
            if kind == "Agent":
                return agent(info, value)
            return thing(info, kind, value)

        object_type.set_field(field, resolve)


for _type in (EVENT, *FLOWS):
    _type.set_field("action", lambda obj, info: action(obj.get("action")))
    _references(_type, {"provider": "Agent", "receiver": "Agent",
                        "resourceInventoriedAs": "EconomicResource",
                        "resourceConformsTo": "ResourceSpecification",
                        "inputOf": "Process", "outputOf": "Process"})
_references(EVENT, {"toResourceInventoriedAs": "EconomicResource",
                    "corrects": "EconomicEvent"})
_references(FLOWS[1], {"plannedWithin": "Plan", "satisfies": "Intent"})
_references(RESOURCE, {"conformsTo": "ResourceSpecification", "primaryAccountable": "Agent"})
_references(PROCESS, {"basedOn": "ProcessSpecification", "plannedWithin": "Plan"})
_references(RECIPE, {"primaryOutput": "ResourceSpecification"})
EVENT.set_field("fulfills", lambda obj, info: [c for c in [thing(info, "Commitment",
                                                                 obj.get("fulfills"))] if c])
EVENT.set_field("satisfies", lambda obj, info: [c for c in [thing(info, "Intent",
                                                                  obj.get("satisfies"))] if c])
MEASURE.set_field("hasUnit", lambda obj, info: unit(obj.get("hasUnit")))
SPEC.set_field("defaultUnitOfResource", lambda obj, info: unit(obj.get("defaultUnitOfResource")))
SPEC.set_field("defaultUnitOfEffort", lambda obj, info: unit(obj.get("defaultUnitOfEffort")))
AGENT.set_type_resolver(lambda obj, *_: "Organization")
ITEM.set_type_resolver(lambda obj, *_: obj.get("__typename"))


def flow_items(info: Any, address: str, backwards: bool) -> list[dict[str, Any]]:
    """The trace (backwards) or track of `address`, each node the thing it names."""
    out = []
    for node in context_of(info).call("flows", address, backwards):
        kind, at = node.get("kind"), node.get("address")
        found = (event(info, at) if kind == "EconomicEvent" else resource(info, at)
                 if kind == "EconomicResource" else thing(info, "Process", at))
        if found is not None:
            out.append(found)
    return out


for _type in (EVENT, RESOURCE):
    _type.set_field("trace", lambda obj, info: flow_items(info, obj["id"], True))
    _type.set_field("track", lambda obj, info: flow_items(info, obj["id"], False))


def process_events(info: Any, process: str, side: str,
                   action_name: str | None = None) -> list[dict[str, Any]]:
    """The events of this chain into (`inputOf`) or out of (`outputOf`) a process."""
    rows, after = [], None
    for _ in range(100):  # (at most 100,000 events: the page size times this)
        page = context_of(info).call("events", process=process, action=action_name,
                                     after=after, limit=MAX_PAGE)
        rows += [r for r in page["events"] if r.get(side) == process]
        after = page["next"]
        if after is None:
            break
    return [{**r, "id": r["address"], "__typename": "EconomicEvent"} for r in rows]


for _name, _side in (("inputs", "inputOf"), ("outputs", "outputOf"),
                     ("observedInputs", "inputOf"), ("observedOutputs", "outputOf")):
    PROCESS.set_field(_name, lambda obj, info, side=_side, action=None: process_events(
        info, obj["id"], side, action))


def _intents(field: str) -> Any:
    return lambda obj, info: [i for i in (thing(info, "Intent", a)
                                          for a in obj.get(field) or ()) if i]


PROPOSAL.set_field("publishes", _intents("publishes"))
PROPOSAL.set_field("reciprocal", _intents("reciprocal"))

BINDABLES: Final = [QUERY, EVENT, RESOURCE, PROCESS, MEASURE, *FLOWS, PROPOSAL, RECIPE, SPEC,
                    AGENT, ITEM]
