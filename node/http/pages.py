"""The dashboard's pages at `/` (`routes(door)`, which `coledger run` adds to node/http/app.py's
app): the overview, inventory, a resource with its trace and track, the events. The forms
are node/http/forms.py's, the reports, board and plans node/http/report_pages.py's. Every
page reads through the front door (`request.app.state.door`), one worker thread a call."""

from __future__ import annotations

from typing import Any, Final

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from node.http import forms, report_pages
from node.http.door import Door, Refused
from node.http.graph import MAX_NODES, flows_svg
from node.http.render import day_us, door_of, quantity, render, when

PAGE: Final = 50  # events a page


async def overview(request: Request) -> Response:
    """This cooperative: its agent, network, peers, ops waiting, receipts, warrants, sync."""
    door = door_of(request)
    try:
        status, peers = await door.run(lambda c: (c.status(), c.peers()))
        error = None
    except Refused as e:
        status, peers, error = {}, [], e.message
    stats = status.get("stats") or {}
    ops = status.get("ops") or {}
    return render(request, "overview.html", status=status, peers=peers, error=error,
                  stats=sorted(stats.items()), ops=sorted(ops.items()) if isinstance(ops, dict)
                  else [], waiting=status.get("publish_pending"),
                  last_sync=when(status["last_sync_us"]) if status.get("last_sync_us") else None)


async def inventory(request: Request) -> Response:
    """Every resource of this cooperative with its accounting and onhand quantities."""
    rows = await door_of(request).call("inventory")
    return render(request, "inventory.html", rows=rows, quantity=quantity)


async def resource(request: Request) -> Response:
    """A resource: its quantities, the events that changed it, its trace and track as SVG."""
    address = request.path_params["address"]
    door = door_of(request)

    def read(c: Any) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]], Any]:
        found = c.get(address)
        held = [r for r in c.inventory() if r.get("address") == address]
        page = c.events(resource=address, limit=PAGE)
        walks = [c.flows(address, way, limit=MAX_NODES + 1) for way in (True, False)]
        return found, walks[0], walks[1], (held, page)

    found, trace, track, (held, page) = await door.run(read)
    entry = found.view.get("entry") if isinstance(found.view, dict) else None
    name = (held[0].get("name") if held else None) or (entry or {}).get("name") or address
    return render(request, "resource.html", address=address, name=name,
                  row=held[0] if held else None, entry=entry or {}, events=page["events"],
                  more=page.get("next"),
                  trace=Markup(flows_svg(trace, backwards=True)),  # noqa: S704 (escaped)
                  track=Markup(flows_svg(track, backwards=False)),  # noqa: S704 (escaped)
                  steps=(len(trace), len(track)), cut=MAX_NODES, quantity=quantity, when=when)


async def events(request: Request) -> Response:
    """This cooperative's events, newest first, filtered by action, resource, process and
    date, a page at a time (Client.events' cursor)."""
    q = request.query_params
    from zomes.valueflows.actions import ACTIONS

    action = q.get("action") or None
    if action is not None and action not in ACTIONS:
        raise Refused(400, "refused", f"{action!r} is not one of the 19 ValueFlows actions")
    filters = {"action": action, "resource": q.get("resource") or None,
               "process": q.get("process") or None,
               "since_us": day_us(q["from"]) if q.get("from") else None,
               "until_us": day_us(q["to"], end=True) if q.get("to") else None}
    after = q.get("after") or None
    page = await door_of(request).call("events", **filters, after=after, limit=PAGE)
    shown = {k: q.get(k, "") for k in ("action", "resource", "process", "from", "to")}
    return render(request, "events.html", rows=page["events"], next=page.get("next"),
                  shown=shown, actions=sorted(ACTIONS), quantity=quantity, when=when)


def routes(door: Door | object) -> list[BaseRoute]:
    """The dashboard's routes. The handlers reach the front door as the app's
    (`request.app.state.door`, the same `door`), so that one app serves any door."""
    return [
        Route("/", overview, methods=["GET"]),
        Route("/inventory", inventory, methods=["GET"]),
        Route("/resources/{address}", resource, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        *forms.routes(),
        *report_pages.routes(),
    ]
