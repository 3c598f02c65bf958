"""The dashboard's reports as pages, made through the front door as `coledger report` makes
them (clicmd/reports.py): the flows Sankey (SVG), contributions, the footprint with its
budgets; and the planning pages: the offers and needs board with its matches, and plans
beside what was recorded (Client.plan_status)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from node.http.door import Refused
from node.http.render import day_us, door_of, quantity, render, when

T = TypeVar("T")
MAX_AGENTS: Final = 256  # chains a report gathers, as the CLI's default
READERS: Final = 8  # listings the matches read at once through the node's socket
_FONT_STYLE: Final = "style=\"font-family:system-ui,-apple-system,'Segoe UI',sans-serif\""


def accounting(fn: Callable[[], T]) -> T:
    """Pure accounting code; its errors (bad input, not bugs) as a one-line refusal."""
    from zomes.accounting.common import AccountingError
    from zomes.valueflows.units import UnitError

    try:
        return fn()
    except (AccountingError, UnitError) as e:
        raise Refused(400, "refused", " ".join(str(e).split())) from None


async def flows(request: Request) -> Response:
    """Who provided how much of what to whom, as a Sankey diagram (and its table)."""
    from zomes.accounting import reports

    q = request.query_params
    since = day_us(q["from"]) if q.get("from") else None
    until = day_us(q["to"], end=True) if q.get("to") else None
    spec = q.get("spec") or None

    def make(c: Any) -> tuple[str, str, list[tuple[str, str]]]:
        ds, _ = c.gather(MAX_AGENTS)
        matrix = accounting(lambda: reports.flow_report(ds, since_us=since, until_us=until,
                                                        spec=spec))
        svg = "" if not matrix.rows else reports.flow_diagram(matrix, ds, "svg")
        specs = sorted(((a, s.name) for a, s in ds.specs.items()), key=lambda p: p[1])
        return svg, reports.flow_text(matrix, ds), specs

    svg, table, specs = await door_of(request).run(make)
    # the CSP allows no style attribute: the page's sheet gives the font instead
    svg = svg.replace(_FONT_STYLE, 'class="sankey"', 1)
    return render(request, "flows.html", svg=Markup(svg), table=table,  # noqa: S704 (escaped)
                  specs=specs, shown={k: q.get(k, "") for k in ("from", "to", "spec")})


async def contributions(request: Request) -> Response:
    """An output's income shared among its contributors by a value equation."""
    from zomes.accounting import reports

    q = request.query_params
    output, income, equation = q.get("output"), q.get("income"), q.get("equation")

    def make(c: Any) -> tuple[dict[str, Any] | None, dict[str, list[tuple[str, str]]]]:
        ds, _ = c.gather(MAX_AGENTS)
        options = {
            "resources": sorted(((a, r.name) for a, r in ds.resources.items()),
                                key=lambda p: p[1]),
            "equations": sorted(((a, e.name) for a, e in ds.equations.items()),
                                key=lambda p: p[1]),
        }
        if not (output and income and equation):
            return None, options
        report = accounting(lambda: reports.contribution_report(
            ds, output=output, income=income, equation=equation))
        for share in report["agents"]:
            share["name"] = ds.name_of(share["agent"])
        return report, options

    report, options = await door_of(request).run(make)
    return render(request, "contributions.html", report=report,
                  resources=options["resources"], equations=options["equations"],
                  shown={"output": output or "", "income": income or "",
                         "equation": equation or ""})


async def footprint(request: Request) -> Response:
    """A resource's footprint along its trace, the budgets that apply and perma-circularity."""
    from zomes.accounting import reports

    q = request.query_params
    resource, period = q.get("resource") or None, q.get("period") or "year"
    if period not in ("year", "quarter", "month"):
        raise Refused(400, "refused", "the period is a year, a quarter or a month")

    def make(c: Any) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
        ds, _ = c.gather(MAX_AGENTS)
        options = sorted(((a, r.name) for a, r in ds.resources.items()), key=lambda p: p[1])
        if resource is None:
            return None, options
        report = accounting(lambda: reports.footprint_report(
            ds, resource, quantity=q.get("quantity") or None, period=period))
        for budget in report["budgets"]:
            budget["who"] = ds.name_of(budget["agent"]) if budget["agent"] else "the network"
        return report, options

    report, options = await door_of(request).run(make)
    return render(request, "footprint.html", report=report, resources=options,
                  shown={"resource": resource or "", "period": period,
                         "quantity": q.get("quantity", "")})


async def board(request: Request) -> Response:
    """The network's open offers and requests, and the matches for this cooperative."""
    from zomes.valueflows.matching import candidates, find

    def make(c: Any) -> tuple[list[Any], list[Any], list[Any]]:
        offers, requests = c.proposals("offer"), c.proposals("request")
        _, me = c.gather(1, network=False)

        def links_page(base: str, after: str | None) -> dict[str, Any]:
            page: dict[str, Any] = c.links(base, "proposal", after=after)
            return page

        def fetch(address: str) -> dict[str, Any] | None:
            view: dict[str, Any] | None = c.get(address).view
            return view

        held = c.surplus()
        mine_offers, mine_requests = candidates(
            me, links_page, fetch, held, workers=READERS,
            listing=lambda purpose, spec, label, author: c.proposals(
                purpose, spec, label, author=author))
        found = [m.to_json() for m in find(me, mine_offers, mine_requests, held, {})]
        return offers, requests, found

    offers, requests, matches = await door_of(request).run(make)
    return render(request, "board.html", offers=offers, requests=requests, matches=matches,
                  when=when)


async def plans(request: Request) -> Response:
    """This cooperative's plans; with `plan`, its flows beside what was recorded."""
    from node.core.clock import now_us
    from zomes.valueflows.entries import Plan

    chosen = request.query_params.get("plan") or None

    def make(c: Any) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        ds, _ = c.gather(1, network=False)
        listed = sorted(((a, e.name) for a, e in ds.planning.items() if isinstance(e, Plan)),
                        key=lambda p: p[1])
        status = c.plan_status(chosen, now_us()) if chosen else None
        return listed, status

    listed, status = await door_of(request).run(make)
    return render(request, "plans.html", plans=listed, chosen=chosen, status=status,
                  quantity=quantity)


def routes() -> list[BaseRoute]:
    return [
        Route("/reports/flows", flows, methods=["GET"]),
        Route("/reports/contributions", contributions, methods=["GET"]),
        Route("/reports/footprint", footprint, methods=["GET"]),
        Route("/board", board, methods=["GET"]),
        Route("/plans", plans, methods=["GET"]),
    ]
