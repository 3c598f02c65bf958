"""Recipes and plans: recipe create/list (shared open designs), plan from-recipe (a plan
with its processes, commitments and intents, by dependent demand)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clicmd.common import aligned, arg, clean, client, command, emit, iso_time
from clicmd.reports import date_us
from node.core.errors import LocalError


def read_json(file: str) -> Any:
    """The JSON document in `file` (`-`: stdin); one-line errors."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as e:
        raise LocalError(f"cannot read {file}: {e.strerror or e}") from None
    except ValueError as e:
        raise LocalError(f"{file} is not JSON: {e}") from None


@command("recipe create", arg("file", help="the recipe as JSON (name, primaryOutput, processes "
                                           "with inputs and outputs); - for stdin"))
def cmd_recipe_create(a: argparse.Namespace) -> None:
    """Publish a recipe: how to make something, per run of each of its processes.

    A process lists its inputs and outputs as VF recipe flows (action, resourceConformsTo,
    resourceQuantity such as "50 kg", or effortQuantity for work) and may last a hasDuration
    ("3 hour"). Written all at once, checked by the recipe rules (no cycles, every flow
    with a quantity and a unit), and listed on the network under the specification it
    makes: a shared design any member can plan from."""
    made = client().create_recipe(read_json(a.file))
    emit(made, f"{made['address']}  ({len(made['processes'])} processes, "
               f"{len(made['flows'])} flows)")


@command("recipe list",
         arg("--spec", help="only the recipes making this resource specification (address)"),
         arg("--network", action="store_true",
             help="the recipes the network lists (asks the authorities of the spec's listing, "
                  "or of every recipe's; needs `coledger run`)"))
def cmd_recipe_list(a: argparse.Namespace) -> None:
    """The recipes this home holds (its own and those of the chains it holds), or with
    --network those published to the network: a commons of designs to plan from."""
    rows = client().recipes(a.spec, network=a.network)
    emit(rows, "\n".join(
        f"{clean(r['name']):<24} {r['address']}  makes {r['primaryOutput']}  "
        f"({clean(', '.join(r['processes']))})"
        + (f"  by {r['author']}" if a.network else "") for r in rows) or "(no recipes)")


@command("plan from-recipe", arg("recipe", help="the recipe's address"),
         arg("--quantity", required=True,
             help="how much of the recipe's primary output, e.g. '400 one'"),
         arg("--due", required=True, help="when it is due (ISO date or time, UTC by default)"),
         arg("--name", help="the plan's name (default: the recipe's and the quantity)"),
         arg("--buy", action="append", default=[], metavar="SPEC",
             help="a specification to source rather than make, even when a recipe is known; "
                  "repeatable"))
def cmd_plan_from_recipe(a: argparse.Namespace) -> None:
    """Write a plan from a recipe: its processes, commitments and intents, scaled.

    Processes are scheduled back from --due; a commitment for each flow the plan makes and
    uses, an intent for each raw input it needs (with the footprint they carry). Inputs
    made by a known recipe are planned from it in turn (dependent demand), one process
    for everything that needs the same input. Another member's recipe is fetched from the
    network (with the running node): its author's recipes, and those the network lists
    for the inputs none of them makes (--buy SPEC to source one instead)."""
    due = date_us(a.due, "--due")
    assert due is not None
    made = client().plan_from_recipe(a.recipe, a.quantity, due, name=a.name, buy=a.buy)
    lines = [f"plan {made['address']}  {clean(made['name'])}, due {iso_time(made['due'])}"]
    lines += [f"  process {clean(p['name']):<20} x{p['scale']:<8} {iso_time(p['hasBeginning'])}"
              f" .. {iso_time(p['hasEnd'])}  {p['address']}" for p in made["processes"]]
    for kind in ("commitment", "intent"):
        flows = [f for f in made["flows"] if f["kind"] == kind]
        lines.append(f"  {len(flows)} {kind}s" + "".join(
            f"\n    {f['action']:<8} {_quantity(f['quantity'])}"
            f" {f['resourceConformsTo'] or ''}" for f in flows))
    footprint = made["footprint"]
    if footprint:
        lines.append("  expected footprint: " + ", ".join(
            f"{key} {_quantity(value)}" for key, value in footprint.items()))
    if made["noFootprint"]:
        lines.append(f"  no footprint declared for {', '.join(made['noFootprint'])}")
    emit(made, "\n".join(lines))


def _quantity(measure: dict[str, Any]) -> str:
    return f"{measure['hasNumericalValue']} {measure['hasUnit']}"


@command("plan status", arg("plan", help="the plan's address (as plan from-recipe prints it)"),
         arg("--at", metavar="TIME", help="as of this time (ISO date or time, UTC) [now]"),
         arg("--period", choices=("year", "quarter", "month"), default="year",
             help="periods for the perma-circularity check [year]"))
def cmd_plan_status(a: argparse.Namespace) -> None:
    """A plan against what was recorded: each flow beside the events that fulfilled it.

    Each commitment and intent of the plan with its planned, done (in the planned unit) and
    remaining quantity, its due date and state: done, partly, late (due passed, some
    remaining), missing (due passed, nothing recorded), pending. Each process's planned
    begin and end beside its first and last event. The footprint expected from the plan's
    raw inputs beside what its processes recorded, and the budgets that apply, as recorded
    and with what the plan still needs (before production, the whole plan).
    (docs/cli.md lists the keys of --json.)"""
    from node.core.clock import now_us

    at = date_us(a.at, "--at")
    report = client().plan_status(a.plan, now_us() if at is None else at, a.period)
    emit(report, status_text(report))


def status_text(report: dict[str, Any]) -> str:
    """The plan status as aligned tables."""
    counts = ", ".join(f"{n} {state}" for state, n in report["states"].items())
    lines = [f"plan {report['plan']}  {clean(report['name'])}, due {report['due'] or '-'}, "
             f"as of {report['asOf']}: {counts or 'no flows'}"]
    rows: list[tuple[str, ...]] = [("kind", "process", "action", "resource", "planned", "done",
                                    "remaining", "due", "state")]
    rows += [(f["kind"], clean(f["processName"] or "-"), f["action"],
              clean(f["resourceName"] or f["resourceConformsTo"] or "-"),
              _quantity(f["planned"]), _quantity(f["done"]), _quantity(f["remaining"]),
              (f["due"] or "-")[:16], f["state"]) for f in report["flows"]]
    lines += aligned(rows)
    rows = [("process", "planned begin", "planned end", "actual begin", "actual end",
             "events", "state")]
    rows += [(clean(p["name"]), *((t or "-")[:16] for t in (
        p["plannedBeginning"], p["plannedEnd"], p["actualBeginning"], p["actualEnd"])),
        str(p["events"]), p["state"]) for p in report["processes"]]
    lines += ["", *aligned(rows)]
    fp = report["footprint"]
    keys = sorted(set(fp["expected"]) | set(fp["recorded"]))
    if keys:
        rows = [("footprint", "expected", "recorded", "unit")]
        rows += [(k, *(fp[s][k]["hasNumericalValue"] if k in fp[s] else "0"
                       for s in ("expected", "recorded")),
                  (fp["expected"].get(k) or fp["recorded"][k])["hasUnit"]) for k in keys]
        lines += ["", *aligned(rows)]
    names = {f["resourceConformsTo"]: f["resourceName"] for f in report["flows"]}
    for what, specs in (("expected", fp["noFootprint"]), ("recorded", fp["missing"])):
        if specs:
            lines.append(f"no footprint declared ({what}) for: "
                         + ", ".join(clean(names.get(s) or s) for s in specs))
    who = {None: "the network", report["author"]: "the planner"}
    for b in report["budgets"]:
        with_plan = b["withPlan"]
        lines.append(
            f"budget {clean(b['name'] or b['kind'])} of {who.get(b['agent'], b['agent'])}, "
            f"{b['periodStart'][:10]} to {b['lastDay']}: {b['actual']['hasNumericalValue']} "
            f"(quotient {b['quotient']}) recorded, {with_plan['actual']['hasNumericalValue']} "
            f"(quotient {with_plan['quotient']}) with the plan, of "
            f"{b['allocated']['hasNumericalValue']} {b['allocated']['hasUnit']}: "
            + ("OVER with the plan" if with_plan["over"] else "within"))
    circ = report["circularity"]
    lines.append("perma-circularity: " + (
        "the plan makes throughput grow more than 1 % in " + ", ".join(circ["flaggedByPlan"])
        if circ["flaggedByPlan"] else "the plan adds no " + circ["period"]
        + " with throughput growth above 1 %"))
    return "\n".join(lines)
