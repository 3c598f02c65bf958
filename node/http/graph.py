"""A resource's trace or track (Client.flows) drawn as an SVG graph, server-side: one column
per distance, a box per resource, event or process, an edge from each to the one it was
reached from. No script and no style attribute (the pages' CSP allows neither inline)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from zomes.accounting.sankey import ACTION_COLOURS

MAX_NODES: Final = 300  # a longer walk is cut here (the page says so)
BOX_W: Final = 180
BOX_H: Final = 40
COL_GAP: Final = 60
ROW_GAP: Final = 14
PAD: Final = 10
KIND_COLOURS: Final = {"EconomicResource": "#24553e", "Process": "#6b4f1d",
                       "EconomicEvent": "#1f77b4"}


def _label(node: dict[str, Any]) -> tuple[str, str]:
    """A box's two lines: what it is, and its name or action and quantity."""
    kind = str(node.get("kind", "?"))
    first = {"EconomicResource": "resource", "EconomicEvent": "event",
             "Process": "process"}.get(kind, kind)
    text = str(node.get("name") or node.get("action") or "")
    quantity = node.get("quantity") or node.get("effort")
    if isinstance(quantity, dict):
        text += f" {quantity.get('hasNumericalValue', '')} {quantity.get('hasUnit', '')}"
    text = " ".join(text.split())
    return first, text if len(text) <= 26 else text[:25] + "…"


def parents(nodes: list[dict[str, Any]]) -> list[int | None]:
    """Each node's parent in a depth-first walk: the last node before it one step nearer."""
    last_at: dict[int, int] = {}
    out: list[int | None] = []
    for i, node in enumerate(nodes):
        distance = int(node.get("distance", 0))
        out.append(last_at.get(distance - 1) if distance > 0 else None)
        last_at[distance] = i
    return out


def flows_svg(nodes: list[dict[str, Any]], *, backwards: bool) -> str:
    """The walk `nodes` (Client.flows) as SVG; a trace grows leftwards from its start on the
    right, a track rightwards. Resources link to their pages."""
    nodes = nodes[:MAX_NODES]
    if not nodes:
        return ""
    deepest = max(int(n.get("distance", 0)) for n in nodes)
    rows: dict[int, int] = {}
    places: list[tuple[int, int]] = []
    for node in nodes:
        distance = int(node.get("distance", 0))
        column = deepest - distance if backwards else distance
        row = rows.get(distance, 0)
        rows[distance] = row + 1
        places.append((PAD + column * (BOX_W + COL_GAP), PAD + row * (BOX_H + ROW_GAP)))
    width = PAD * 2 + (deepest + 1) * BOX_W + deepest * COL_GAP
    height = PAD * 2 + max(rows.values()) * (BOX_H + ROW_GAP) - ROW_GAP
    title = "trace" if backwards else "track"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flows" role="img" '
           f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'font-family="system-ui, sans-serif" font-size="12">',
           f"<title>{title}: {len(nodes)} steps</title>"]
    for i, parent in enumerate(parents(nodes)):
        if parent is None:
            continue
        (x1, y1), (x2, y2) = places[parent], places[i]
        a_x, b_x = (x1, x2 + BOX_W) if backwards else (x1 + BOX_W, x2)
        mid = (a_x + b_x) // 2
        out.append(f'<path d="M{a_x} {y1 + BOX_H // 2} C{mid} {y1 + BOX_H // 2} {mid} '
                   f'{y2 + BOX_H // 2} {b_x} {y2 + BOX_H // 2}" fill="none" stroke="#8a958f" '
                   f'stroke-width="1.5"/>')
    for node, (x, y) in zip(nodes, places, strict=True):
        kind = str(node.get("kind", ""))
        colour = (ACTION_COLOURS.get(str(node.get("action")), KIND_COLOURS["EconomicEvent"])
                  if kind == "EconomicEvent" else KIND_COLOURS.get(kind, "#555"))
        first, second = _label(node)
        address = str(node.get("address", ""))
        box = (f'<g class={quoteattr("step " + first)}>'
               f'<title>{escape(kind)} {escape(address)}</title>'
               f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="#fff" '
               f'stroke={quoteattr(colour)} stroke-width="2"/>'
               f'<text x="{x + 8}" y="{y + 16}" fill={quoteattr(colour)}>{escape(first)}</text>'
               f'<text x="{x + 8}" y="{y + 32}" fill="#1d2521">{escape(second)}</text></g>')
        if kind == "EconomicResource" and address:
            box = f'<a href={quoteattr("/resources/" + quote(address, safe=""))}>{box}</a>'
        out.append(box)
    out.append("</svg>")
    return "\n".join(out)
