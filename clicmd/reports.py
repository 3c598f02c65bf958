"""Accounting reports over the chains gathered (through the running node when there is
one): report flows/contributions/footprint, export. The reports themselves are pure
(zomes/accounting/reports.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clicmd.common import (
    OPTS,
    arg,
    clean,
    clean_lines,
    client,
    command,
    count,
    emit,
    epoch_us,
    seconds,
)
from clicmd.countersign import countersign
from node.core.errors import LocalError

if TYPE_CHECKING:
    from zomes.accounting.dataset import Dataset


def date_us(text: str | None, option: str, *, end: bool = False) -> int | None:
    """An ISO date or date-time (UTC unless it says otherwise) in µs; a bare date given as
    an end (`--to 2026-12-31`) means the end of that day."""
    if text is None:
        return None
    from datetime import UTC, date, datetime, timedelta

    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise LocalError(f"{option} {text!r} is not an ISO date (2026-11-26) or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return epoch_us(moment, f"{option} {text!r}")


def accounting(fn: Callable[[], Any]) -> Any:
    """Run pure accounting code; its errors (bad input, not bugs) become one-line errors."""
    from zomes.accounting.common import AccountingError
    from zomes.valueflows.units import UnitError

    try:
        return fn()
    except (AccountingError, UnitError) as e:
        raise LocalError(str(e)) from None


def gathered(max_agents: int, network: bool = True) -> tuple[Dataset, str]:
    """(dataset, my agent id): through the running node when there is one (and `network`),
    else from this home's chain and DHT store."""
    return client().gather(max_agents, network)


def write(path: Path, text: str) -> None:
    """Write the whole file or nothing: a temporary file renamed over the target."""
    if not path.name or path.is_dir():  # ('.', '..', a folder): no file name to write
        raise LocalError(f"cannot write {path}: it is a folder; name a file")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise LocalError(f"cannot write {path}: {e.strerror or e}") from None


MAX_AGENTS_ARG = arg("--max-agents", type=count, default=256, metavar="N",
                     help="gather at most N agents' chains [256]")


@command("report flows",
         arg("--from", dest="since", metavar="DATE", help="from this date (ISO, UTC)"),
         arg("--to", dest="until", metavar="DATE", help="up to and including this date"),
         arg("--spec", help="only flows of this resource specification (address)"),
         arg("--format", dest="fmt", choices=("text", "svg", "html"), default="text",
             help="a table, or a Sankey diagram as SVG or as an HTML page [text]"),
         arg("--output", type=Path, metavar="FILE", help="write to FILE instead of printing"),
         MAX_AGENTS_ARG)
def cmd_report_flows(a: argparse.Namespace) -> None:
    """Who provided how much of what to whom, across the chains gathered; --json: the matrix."""
    from zomes.accounting import reports

    since, until = date_us(a.since, "--from"), date_us(a.until, "--to", end=True)
    ds, _ = gathered(a.max_agents)
    matrix = accounting(
        lambda: reports.flow_report(ds, since_us=since, until_us=until, spec=a.spec))
    if a.fmt == "text":
        text = reports.flow_text(matrix, ds)
    else:
        text = reports.flow_diagram(matrix, ds, a.fmt)
    if a.output is not None:
        write(a.output, text if text.endswith("\n") else text + "\n")
    if OPTS.json:
        emit(dict(reports.flow_json(matrix, ds), file=str(a.output) if a.output else None))
    elif a.output is not None:
        print(clean(f"{len(matrix.rows)} flows written to {a.output}"))
    else:
        print(clean_lines(text))


@command("report contributions",
         arg("--output", dest="resource", required=True, metavar="RESOURCE",
             help="the output resource whose income is shared (address)"),
         arg("--income", required=True, help='the income to share, e.g. "1000 EUR"'),
         arg("--equation", required=True, metavar="EQ",
             help="the value equation (address or name)"),
         arg("--pay-from", metavar="RESOURCE",
             help="record the distribution: transfer each other contributor's share from this "
                  "money resource of yours, countersigned by each (needs the running node)"),
         arg("--wait", type=seconds, default=60.0, metavar="SECONDS",
             help="with --pay-from: how long each contributor has to accept [60]"),
         MAX_AGENTS_ARG)
def cmd_report_contributions(a: argparse.Namespace) -> None:
    """Share an output's income among its contributors by a value equation (to the cent)."""
    from zomes.accounting import reports

    ds, _ = gathered(a.max_agents)
    report = accounting(lambda: reports.contribution_report(
        ds, output=a.resource, income=a.income, equation=a.equation))
    text = reports.contribution_text(report, ds)
    if a.pay_from is not None:
        report["distribution"] = _distribute(report, a.pay_from, a.wait)
        text += "\n\n" + "\n".join(
            f"paid {d['share']} {report['currency']} to {d['agent']}: "
            + (d["event"] if d.get("event") else f"not paid ({d.get('error') or d['skipped']})")
            for d in report["distribution"])
    emit(report, text)
    if any(d.get("error") for d in report.get("distribution", [])):
        raise SystemExit(1)


def _distribute(report: dict[str, Any], money: str, wait: float) -> list[dict[str, Any]]:
    """One countersigned transfer per other contributor with a share above zero, in turn
    (a chain holds one session at a time); a refusal is reported, the rest go on; an
    external agent's share is skipped (reported: it never countersigns)."""
    me = client().status()["agent_id"]
    done = []
    for share in report["agents"]:
        if share["agent"] == me or Decimal(share["share"]) <= 0:
            continue
        if share.get("external"):  # it signs nothing: no countersigned transfer to it
            done.append({"agent": share["agent"], "share": share["share"], "skipped":
                         f"{share['name']}: pay it outside coledger, then record the transfer"})
            continue
        event = {"action": "transfer", "resource": money,
                 "quantity": f"{share['share']} {report['currency']}",
                 "note": f"share of {report['outputName']} by {report['equation']['name']!r}"}
        try:
            session = countersign(event, share["agent"], wait)
        except LocalError as e:
            done.append({"agent": share["agent"], "share": share["share"], "error": str(e)})
            continue
        if session["state"] == "committed":
            done.append({"agent": share["agent"], "share": share["share"],
                         "event": session["event"]})
        else:
            done.append({"agent": share["agent"], "share": share["share"],
                         "error": f"{session['state']}: "
                                  f"{session['reason'] or 'no answer in time'}"})
    return done


@command("report footprint", arg("resource", help="the resource (address)"),
         arg("--quantity", help='the footprint of this much of it, e.g. "1 kg" [all of it]'),
         arg("--period", choices=("year", "quarter", "month"), default="year",
             help="periods for the perma-circularity check [year]"),
         MAX_AGENTS_ARG)
def cmd_report_footprint(a: argparse.Namespace) -> None:
    """Energy, materials, water and emissions behind a resource, rolled up along its trace.

    Also the budgets that apply (sustainability quotient: actual / allocated, above 1 is
    over) and perma-circularity: growth of material and energy drawn per period above 1 %."""
    from zomes.accounting import reports

    ds, _ = gathered(a.max_agents)
    report = accounting(lambda: reports.footprint_report(
        ds, a.resource, quantity=a.quantity, period=a.period))
    emit(report, reports.footprint_text(report, ds))


@command("export", arg("--format", dest="fmt", required=True,
                       choices=("vf-jsonld", "pact", "epcis", "csv"),
                       help="ValueFlows JSON-LD, a PACT v3 product footprint, GS1 EPCIS 2.0, CSV"),
         arg("--output", type=Path, metavar="FILE",
             help="write to FILE instead of printing (csv: a folder, for a file per kind)"),
         arg("--network", action="store_true",
             help="every gathered chain's events, not only this agent's"),
         arg("--resource", help="the product a PACT footprint is of (address)"),
         MAX_AGENTS_ARG)
def cmd_export(a: argparse.Namespace) -> None:
    """This agent's events (or, with --network, everyone's gathered) in the ecosystem's formats.

    With its planning and recipe records: vf-jsonld writes them as VF 1.0 nodes beside the
    events; csv to an existing folder (`--output DIR`) writes events.csv and a file per
    kind (plans, intents, proposals, agreements, commitments, claims, recipes,
    recipe_processes, recipe_exchanges, recipe_flows .csv: their columns are in the CLI
    reference, docs/cli.md, "CSV files")."""
    from node.core.clock import now_us
    from zomes.accounting import reports

    ds, me = gathered(a.max_agents, network=a.network or a.fmt == "pact")
    document = accounting(lambda: reports.export(
        ds, a.fmt, me=me, now_us=now_us(), everyone=a.network, resource=a.resource))
    files = reports.csv_files(ds, me=me, everyone=a.network) if a.fmt == "csv" else {}
    if a.output is None:
        if OPTS.json and a.fmt == "csv":  # the other formats are JSON documents already
            emit({"format": "csv", "csv": document, "files": files})
        else:
            sys.stdout.write(document)
        return
    if files and a.output.is_dir():
        for name, text in files.items():
            write(a.output / name, text)
        emit({"format": "csv", "folder": str(a.output), "files": sorted(files)},
             f"{', '.join(sorted(files))} written to {a.output}")
        return
    write(a.output, document)
    count = len(ds.ordered_events(None if a.network else me))
    emit({"format": a.fmt, "file": str(a.output), "events": count},
         f"{a.fmt} written to {a.output}")
