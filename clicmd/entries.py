"""Commands that write accounting and import entries: import, equation create/list,
footprint declare/allocate, budget set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clicmd.common import arg, clean, client, command, emit
from clicmd.reports import MAX_AGENTS_ARG, date_us, gathered
from node.core.errors import LocalError


def _agent_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise LocalError(f"--agent takes OLD=NEW (NEW may be `me`), got {pair!r}")
        mapping[old.strip()] = new.strip()  # ("me": this agent, the client says who)
    return mapping


@command("import", arg("file", type=Path, help="the document to import"),
         arg("--format", dest="fmt", required=True, choices=("vf-jsonld",),
             help="the document's format (ValueFlows JSON-LD)"),
         arg("--agent", action="append", default=[], metavar="OLD=NEW",
             help="record OLD's part in the events as NEW's (`me`: this agent); repeatable"),
         arg("--as", dest="as_iri", metavar="IRI",
             help="the IRI by which the document names this cooperative: its events are "
                  "recorded, others' left out; other agents not of the network are external"))
def cmd_import(a: argparse.Namespace) -> None:
    """Record a document's events on this chain, signed by you, checked by the rules.

    All or nothing: one refused event and nothing is written. Resources and processes the
    events name are copied from the document onto this chain (new addresses). So are its
    plans, intents, proposals, commitments, claims and recipes, with their references
    rewritten and their links (open proposals and recipes listed again, commitments and
    claims linked for the other party): recipes and plans anyone may copy, an intent,
    commitment or claim only one of its parties (map the document's agent with `--agent
    OLD=me`). What is already here (the same address, or the same content: the document
    imported before) is not written again. Countersigned agreements are left out: only
    their parties' signatures make one.

    Documents of other VF systems import too (docs/formats.md): records named by their own
    IRIs keep them (sameAs), so a second import adds nothing; `--as IRI` says which agent
    of the document is this cooperative (its events are recorded, others' left out), and
    any other agent not of the network becomes an external agent (the other party of
    events you record alone, never countersigned); a resource given with its quantities is
    opened with a `raise` of what it held before the document's events; terms coledger
    does not record are listed, not refused."""
    from decimal import Decimal

    try:
        document = json.loads(a.file.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as e:
        raise LocalError(f"cannot read {a.file}: {e.strerror or e}") from None
    except ValueError as e:
        raise LocalError(f"{a.file} is not JSON: {e}") from None
    result = client().import_vf_jsonld(document, _agent_map(a.agent), a.as_iri)
    emit(result, import_summary(result))


def import_summary(result: dict[str, Any]) -> str:
    """What an import did, in lines: counts, opening balances, external agents, the
    properties the document holds that coledger does not record."""
    made, planned = result["created"], result["planning"]
    lines = [f"imported {result['imported']} events ({result['skipped']} already here); "
             f"copied {made['resources']} resources, {made['processes']} processes, "
             f"{made['specs']} specifications; "
             f"{sum(planned['created'].values())} planning and recipe records "
             f"({planned['already_here']} already here)" + (
                 f"; left out {planned['countersigned_left_out']} countersigned agreements"
                 " and clauses (only their parties sign them)"
                 if planned["countersigned_left_out"] else "")]
    if result.get("external_agents"):
        lines.append(f"external agents: {result['external_agents']} (not members: the other "
                     "party of events only you record)")
    for opened in result.get("opened", []):
        quantity = opened["quantity"]
        lines.append(f"opening balance: raise {quantity['hasNumericalValue']} "
                     f"{quantity['hasUnit']} of {clean(opened['iri'])} "
                     f"(resource {opened['resource']})")
    if result.get("left_out"):
        lines.append(f"left out {result['left_out']} events this cooperative is no party to")
    unread = result.get("unread") or {}
    if unread:
        lines.append("not recorded (no coledger field): " + ", ".join(
            f"{clean(iri)} ({n})" for iri, n in sorted(unread.items())))
    return "\n".join(lines)


@command("equation create", arg("file", help="the equation as JSON (name, buckets); - for stdin"))
def cmd_equation_create(a: argparse.Namespace) -> None:
    """Create a value equation (an entry): how an output's income is shared.

    Ordered buckets, each with a percentage, a behaviour (straight: of the income;
    remaining: of what is left) and a recipient or rules per action (work, use, cite,
    consume, deliverService: a rate per unit, optionally per skill or specification)."""
    try:
        text = sys.stdin.read() if a.file == "-" else Path(a.file).read_text(encoding="utf-8")
        document = json.loads(text)
    except OSError as e:
        raise LocalError(f"cannot read {a.file}: {e.strerror or e}") from None
    except ValueError as e:
        raise LocalError(f"{a.file} is not JSON: {e}") from None
    made = client().create_equation(document)
    emit(made, made["address"])


@command("equation list", MAX_AGENTS_ARG)
def cmd_equation_list(a: argparse.Namespace) -> None:
    """The value equations on the chains gathered."""
    ds, _ = gathered(a.max_agents)
    rows = [{"address": address, "name": eq.name, "author": ds.authors[address],
             "buckets": [b.name for b in eq.buckets]}
            for address, eq in sorted(ds.equations.items(), key=lambda i: (i[1].name, i[0]))]
    emit(rows, "\n".join(f"{clean(r['name']):<24} {r['address']}  "
                         f"({clean(', '.join(r['buckets']))})"
                         for r in rows) or "(no value equations)")


@command("footprint declare", arg("spec", help="the resource specification (address)"),
         arg("--per", required=True, metavar="UNIT", help="the unit the factors are per, e.g. kWh"),
         arg("--factor", action="append", default=[], metavar="KIND=QUANTITY",
             help="energy=3.6MJ, emissions=0.25kgCO2e, water=1m3 or material:NAME=0.8kg "
                  "(repeatable)"),
         arg("--note", help="where the figures come from"))
def cmd_footprint_declare(a: argparse.Namespace) -> None:
    """Declare the footprint per unit of a specification's resources (the latest counts)."""
    address = client().declare_footprint(a.spec, a.per, a.factor, a.note)
    emit({"address": address, "specification": a.spec}, address)


@command("footprint allocate", arg("process", help="your process (address)"),
         arg("--share", action="append", default=[], required=True, metavar="RESOURCE=FRACTION",
             help="an output resource and its fraction of the footprint (repeatable; sum 1)"),
         arg("--note", help="why this split"))
def cmd_footprint_allocate(a: argparse.Namespace) -> None:
    """Allocate a process's footprint to its outputs by declared fractions (instead of by mass)."""
    address = client().allocate_footprint(a.process, a.share, a.note)
    emit({"address": address, "process": a.process}, address)


@command("budget set", arg("kind", choices=("energy", "material", "water", "emissions"),
                           help="what is budgeted"),
         arg("--allocated", required=True, metavar="QUANTITY", help='e.g. "12 tCO2e"'),
         arg("--from", dest="since", required=True, metavar="DATE", help="the period's first day"),
         arg("--to", dest="until", required=True, metavar="DATE", help="the period's last day"),
         arg("--material", help="for a material budget: which material [all]"),
         arg("--for", dest="holder", default="me", metavar="AGENT",
             help="`me`, `network` (the progenitor only) or an agent id [me]"),
         arg("--name", help="a name, e.g. 'carbon 2026'"))
def cmd_budget_set(a: argparse.Namespace) -> None:
    """Declare an allocation for a period (e.g. a carbon budget) for this agent or the network."""
    start, end = date_us(a.since, "--from"), date_us(a.until, "--to", end=True)
    assert start is not None and end is not None
    made = client().set_budget(kind=a.kind, allocated=a.allocated, start_us=start, end_us=end,
                               material=a.material, holder=a.holder, name=a.name)
    emit(made, made["address"])
