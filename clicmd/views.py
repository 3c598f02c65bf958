"""Reading ValueFlows: inventory, and trace/track (across chains when the node runs)."""

from __future__ import annotations

import argparse
from typing import Any

from clicmd.common import arg, clean, client, command, emit


@command("inventory",
         arg("--agent", dest="agent_id", help="another agent's inventory (needs the network)"))
def cmd_inventory(a: argparse.Namespace) -> None:
    """Resources with their accounting and onhand quantities."""
    rows = client().inventory(a.agent_id)
    lines = [f"{'resource':<24} {'accounting':>14} {'onhand':>14}  {'unit':<11} address"]
    for r in rows:
        acc, onh = r["accountingQuantity"], r["onhandQuantity"]
        classes = r.get("classifiedAs") or []
        lines.append(
            f"{clean(r['name'] or '?')[:24]:<24} {acc['hasNumericalValue']:>14}"
            f" {onh['hasNumericalValue']:>14}"
            f"  {acc['hasUnit']:<11} {r['address']}"
            + (f"  [{clean(', '.join(classes))}]" if classes else "")
        )
    emit(rows, "\n".join(lines) if rows else "(no resources)")


def _flow_text(nodes: list[dict[str, Any]]) -> str:
    lines = []
    for n in nodes:
        label = clean(n.get("name") or n.get("action") or "")
        qty = n.get("quantity") or n.get("effort")
        if qty:
            label += f" {qty['hasNumericalValue']} {qty['hasUnit']}"
        if n.get("externalName"):  # (never a member: it signed nothing)
            label += f" with {clean(n['externalName'])}"
        lines.append(f"{'  ' * n['distance']}{n['kind']:<16} {label:<30} {n['address']}")
    return "\n".join(lines)


@command("trace", arg("address", help="a resource, event or process address"))
def cmd_trace(a: argparse.Namespace) -> None:
    """Where it came from: the ValueFlows trace (backwards), with distances."""
    nodes = client().flows(a.address, backwards=True)
    emit(nodes, _flow_text(nodes))


@command("track", arg("address", help="a resource, event or process address"))
def cmd_track(a: argparse.Namespace) -> None:
    """Where it went: the ValueFlows track (forwards), with distances."""
    nodes = client().flows(a.address, backwards=False)
    emit(nodes, _flow_text(nodes))
