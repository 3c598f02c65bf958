"""The dashboard's forms: record an event (the action chosen first, then the fields that
action takes), create a specification or a process, and countersigned transfers (propose
one; accept or decline those waiting). A refusal shows the rule's message; nothing is
written (the front door checks every rule before it commits)."""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from node.http.door import Refused
from node.http.render import door_of, quantity, render, when

FIELDS: Final = ("resource", "new_resource", "to_resource", "conforms_to", "quantity",
                 "effort", "provider", "receiver", "input_of", "output_of", "at", "location",
                 "to_location", "state", "note", "classified_as", "fulfills", "satisfies")


def fields_for(action: str) -> set[str]:
    """The form fields `action` takes (from the VF action table): its quantities, whether
    it is a process's input or output, whether it moves to another resource or place."""
    from zomes.valueflows.actions import ACTIONS, NA

    effects = ACTIONS[action]
    shown = {"conforms_to", "provider", "receiver", "at", "location", "note", "fulfills",
             "satisfies"}
    if effects.event_quantity != "effort":
        shown |= {"resource", "quantity", "classified_as"}
    if effects.create_resource in ("optional", "optionalTo"):
        shown.add("new_resource")
    if effects.event_quantity in ("effort", "both"):
        shown.add("effort")
    if effects.input_output in ("input", "outputInput"):
        shown.add("input_of")
    if effects.input_output in ("output", "outputInput"):
        shown.add("output_of")
    if effects.create_resource == "optionalTo" or effects.accounting_effect.endswith("To"):
        shown.add("to_resource")
    if effects.location_effect == "updateTo":
        shown.add("to_location")
    if effects.state_effect != NA:
        shown.add("state")
    return shown


async def choices(request: Request) -> dict[str, Any]:
    """What the selects offer: this cooperative's resources, specifications, processes."""
    def read(c: Any) -> dict[str, Any]:
        ds, _ = c.gather(1, network=False)
        return {
            "resources": [(r["address"], r.get("name") or r["address"],
                           quantity(r.get("accountingQuantity"))) for r in c.inventory()],
            "specs": sorted(((a, s.name) for a, s in ds.specs.items()), key=lambda p: p[1]),
            "process_specs": sorted(((a, s.name) for a, s in ds.process_specs.items()),
                                    key=lambda p: p[1]),
            "processes": sorted(((a, p.name) for a, p in ds.processes.items()
                                 if not getattr(p, "finished", False)), key=lambda p: p[1]),
        }

    found: dict[str, Any] = await door_of(request).run(read)
    return found


def text(form: FormData, name: str) -> str | None:
    """A form field's text, stripped; None when empty or missing."""
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def time_us(value: str | None) -> int | None:
    """A `datetime-local` field (UTC) in µs."""
    if value is None:
        return None
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(400, "refused", f"{value!r} is not a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def event_fields(action: str, form: FormData) -> dict[str, Any]:
    """The EventRequest's fields from a posted form: only those `action` takes."""
    shown = fields_for(action)
    got: dict[str, Any] = {name: text(form, name) for name in FIELDS if name in shown}
    new = got.pop("new_resource", None)
    if new is not None:
        if got.get("resource"):
            raise Refused(400, "refused", "choose a resource or name a new one, not both")
        got["resource"] = f"new:{new}"
    labels = got.pop("classified_as", None)
    got["classified_as"] = tuple(x.strip() for x in (labels or "").split(",") if x.strip())
    got["at_us"] = time_us(got.pop("at", None))
    return got


async def record_form(request: Request) -> Response:
    """Choose an action (a select that reloads the page), then its fields."""
    from zomes.valueflows.actions import ACTIONS

    action = request.query_params.get("action") or None
    if action is not None and action not in ACTIONS:
        action = None
    return await _record_page(request, action, {}, None)


async def _record_page(request: Request, action: str | None, values: dict[str, Any],
                       error: Refused | None) -> Response:
    from zomes.valueflows.actions import ACTIONS

    found = await choices(request) if action else {}
    return render(request, "record.html", status_code=422 if error else 200,
                  actions=sorted(ACTIONS), action=action,
                  shown=fields_for(action) if action else set(), values=values, error=error,
                  **found)


async def record(request: Request) -> Response:
    """Record one event; a refusal shows the form again with the rule's message."""
    from zomes.valueflows.actions import ACTIONS
    from zomes.valueflows.coordinator import EventRequest

    form = await request.form()
    action = text(form, "action")
    if action is None or action not in ACTIONS:
        raise Refused(400, "refused", "choose one of the 19 ValueFlows actions")
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    try:
        done = await door_of(request).call(
            "record", EventRequest(action=action, **event_fields(action, form)), detail=True)
    except Refused as error:
        return await _record_page(request, action, values, error)
    created = done.get("created_resources") or {}
    to = (f"/resources/{next(iter(created.values()))}" if len(created) == 1
          else "/inventory")
    return RedirectResponse(f"{to}?recorded={done['address']}", status_code=303)


async def spec_form(request: Request) -> Response:
    return render(request, "spec.html", values={}, error=None)


async def create_spec(request: Request) -> Response:
    """A resource specification (a name and a unit) or, as `kind`, a process one."""
    form = await request.form()
    name, kind = text(form, "name"), text(form, "kind") or "resource"
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    door = door_of(request)
    try:
        if name is None:
            raise Refused(400, "refused", "a specification needs a name")
        if kind == "process":
            await door.call("create_process_spec", name, text(form, "note"))
        else:
            unit = text(form, "unit")
            if unit is None:
                raise Refused(400, "refused", "a resource specification needs a unit")
            labels = [x.strip() for x in (text(form, "classified_as") or "").split(",")
                      if x.strip()]
            await door.call("create_spec", name, unit, form.get("allow_negative") == "on",
                            text(form, "note"), labels, text(form, "mass"))
    except Refused as error:
        return render(request, "spec.html", status_code=422, values=values, error=error)
    return RedirectResponse(f"/record?created={name}", status_code=303)


async def process_form(request: Request) -> Response:
    return render(request, "process.html", values={}, error=None, **await choices(request))


async def create_process(request: Request) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    try:
        name = text(form, "name")
        if name is None:
            raise Refused(400, "refused", "a process needs a name")
        await door_of(request).call("create_process", name, text(form, "based_on"),
                                    text(form, "note"))
    except Refused as error:
        return render(request, "process.html", status_code=422, values=values, error=error,
                      **await choices(request))
    return RedirectResponse("/record", status_code=303)


async def transfers(request: Request) -> Response:
    """Countersigning sessions (waiting first), and the form to propose a transfer."""
    door = door_of(request)
    everything = request.query_params.get("all") == "1"
    sessions, found = await door.call("sessions", everything), await choices(request)
    peers = await door.call("peers")
    return render(request, "transfers.html", sessions=sessions, peers=peers, values={},
                  error=None, everything=everything, quantity=quantity, when=when, **found)


WAIT_S: Final = 120.0  # how long the counterparty has to accept a transfer proposed here


async def propose(request: Request) -> Response:
    """Propose a countersigned transfer (or another action) to a peer; the page shows the
    session, which the other node's page accepts or declines."""
    form = await request.form()
    door = door_of(request)
    to, action = text(form, "to"), text(form, "action") or "transfer"
    try:
        if to is None:
            raise Refused(400, "refused", "choose the agent to transfer to")
        from zomes.valueflows.actions import ACTIONS

        if action not in ACTIONS:
            raise Refused(400, "refused", f"{action!r} is not a ValueFlows action")
        event = {"action": action, "resource": text(form, "resource"),
                 "to_resource": text(form, "to_resource"), "quantity": text(form, "quantity"),
                 "note": text(form, "note")}
        session = await door.call("countersign", event, to, WAIT_S)
    except Refused as error:
        found = await choices(request)
        return render(request, "transfers.html", status_code=422,
                      sessions=await door.call("sessions"), peers=await door.call("peers"),
                      values={k: v for k, v in form.items() if k != "csrf_token"},
                      error=error, everything=False, quantity=quantity, when=when, **found)
    return RedirectResponse(f"/transfers?proposed={session['id']}", status_code=303)


async def answer(request: Request) -> Response:
    """Accept or decline the session in the path."""
    session, verb = request.path_params["session"], request.path_params["verb"]
    door = door_of(request)
    if verb == "accept":
        done = await door.call("accept", session)
    elif verb == "decline":
        form = await request.form()
        done = await door.call("decline", session, text(form, "reason"))
    else:
        raise Refused(404, "not_found", f"no such answer: {verb}")
    return RedirectResponse(f"/transfers?{verb}ed={done['id']}&state={done['state']}",
                            status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/record", record_form, methods=["GET"]),
        Route("/record", record, methods=["POST"]),
        Route("/specs/new", spec_form, methods=["GET"]),
        Route("/specs/new", create_spec, methods=["POST"]),
        Route("/processes/new", process_form, methods=["GET"]),
        Route("/processes/new", create_process, methods=["POST"]),
        Route("/transfers", transfers, methods=["GET"]),
        Route("/transfers", propose, methods=["POST"]),
        Route("/transfers/{session}/{verb}", answer, methods=["POST"]),
    ]
