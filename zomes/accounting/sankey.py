"""Sankey diagrams of a flow matrix, as standalone SVG (no script) and as an HTML page.

One panel per unit (kilogram, hour, euro ...): quantities are only comparable within a unit,
so each panel has its own scale, stated under its heading. Providers stand on the left,
receivers on the right (an agent that does both appears on both sides); a link's stroke
width is its quantity times the panel's scale, exactly proportional; colour is the action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from zomes.accounting.flows import FlowMatrix, FlowRow
from zomes.valueflows.units import decimal_string

WIDTH: Final = Decimal(960)
NODE_WIDTH: Final = Decimal(14)
LEFT_X: Final = Decimal(250)
RIGHT_X: Final = WIDTH - Decimal(250) - NODE_WIDTH
PANEL_FLOW_HEIGHT: Final = Decimal(320)  # px of flow the fuller column of a panel gets
GAP: Final = Decimal(16)  # between nodes of a column
TOP: Final = Decimal(70)  # title and legend
PANEL_HEAD: Final = Decimal(46)
PANEL_FOOT: Final = Decimal(30)
FONT: Final = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif"
# digits of the arithmetic: quantities have up to 40 digits and a panel sums many, so the
# default 28 would round totals and fail to quantize a huge scale's 1 px (another member's
# data could break everyone's report)
PRECISION: Final = 120

ACTION_COLOURS: Final[dict[str, str]] = {
    "transfer": "#1f77b4", "transferAllRights": "#17becf", "transferCustody": "#9edae5",
    "move": "#aec7e8", "work": "#ff7f0e", "use": "#ffbb78", "consume": "#d62728",
    "produce": "#2ca02c", "deliverService": "#9467bd", "cite": "#8c564b", "pickup": "#c49c94",
    "dropoff": "#e377c2", "accept": "#7f7f7f", "modify": "#bcbd22", "combine": "#c5b0d5",
    "separate": "#98df8a", "copy": "#f7b6d2", "raise": "#dbdb8d", "lower": "#ff9896",
}  # fmt: skip


# characters XML 1.0 forbids, and control or format characters (escape codes, bidi
# overrides) that names from another member's chain may hold: shown as \\xNN, not obeyed
_UNSHOWABLE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]"
)


def _visible(text: str) -> str:
    return _UNSHOWABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                           else f"\\u{ord(m.group()):04x}", text)


def _esc(text: str) -> str:
    """Text for an SVG/HTML text node: XML-escaped, unshowable characters made visible."""
    return escape(_visible(text))


def _attr(text: str) -> str:
    """A quoted SVG/HTML attribute value, escaped as `_esc` does."""
    return quoteattr(_visible(text))


def _n(value: Decimal) -> str:
    """A coordinate: two decimal places at most."""
    return decimal_string(value.quantize(Decimal("0.01")))


def _short(address: str | None) -> str:
    if address is None:
        return "(unspecified)"
    return address if len(address) <= 14 else address[:8] + "…" + address[-4:]


@dataclass(frozen=True, slots=True)
class _Node:
    agent: str
    total: Decimal
    y: Decimal  # top
    height: Decimal


def _column(rows: list[FlowRow], side: str, top: Decimal, scale: Decimal) -> dict[str, _Node]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        agent = getattr(row, side)
        totals[agent] = totals.get(agent, Decimal(0)) + row.quantity
    nodes, y = {}, top
    for agent, total in sorted(totals.items(), key=lambda item: (-item[1], item[0])):
        height = total * scale
        nodes[agent] = _Node(agent, total, y, height)
        y += height + GAP
    return nodes


def _panel(
    rows: list[FlowRow],
    unit: str,
    top: Decimal,
    names: Mapping[str, str],
    spec_names: Mapping[str, str],
) -> tuple[list[str], Decimal]:
    """SVG elements of one unit's panel and the panel's height; rows that net to zero or
    less (corrections) have no width to draw and are left to the table."""
    rows = [row for row in rows if row.quantity > 0]
    left_total = sum((r.quantity for r in rows), Decimal(0))
    scale = PANEL_FLOW_HEIGHT / left_total if left_total > 0 else Decimal(0)
    flow_top = top + PANEL_HEAD
    left = _column(rows, "provider", flow_top, scale)
    right = _column(rows, "receiver", flow_top, scale)
    out: list[str] = [
        f'<g class="panel" data-unit={_attr(unit)}>',
        f'<text x="20" y="{_n(top + 20)}" font-size="16" font-weight="600">'
        f"Flows measured in {_esc(unit)}</text>",
        f'<text x="20" y="{_n(top + 38)}" font-size="12" fill="#555">'
        f"Link width: 1 px = {_esc(_per_px(scale))} {_esc(unit)}; "
        f"total {_esc(decimal_string(left_total))} {_esc(unit)}</text>",
    ]
    left_offsets = {agent: node.y for agent, node in left.items()}
    right_offsets = {agent: node.y for agent, node in right.items()}
    ordered = sorted(
        rows, key=lambda r: (list(left).index(r.provider), list(right).index(r.receiver))
    )
    for row in ordered:
        width = row.quantity * scale
        y0 = left_offsets[row.provider] + width / 2
        y1 = right_offsets[row.receiver] + width / 2
        left_offsets[row.provider] += width
        right_offsets[row.receiver] += width
        x0, x1 = LEFT_X + NODE_WIDTH, RIGHT_X
        middle = (x0 + x1) / 2
        label = (
            f"{names.get(row.provider, _short(row.provider))} → "
            f"{names.get(row.receiver, _short(row.receiver))}: {decimal_string(row.quantity)} "
            f"{row.unit} {spec_names.get(row.spec or '', _short(row.spec))} ({row.action})"
        )
        colour = ACTION_COLOURS.get(row.action, "#999999")
        out.append(
            f'<path class="link" d="M{_n(x0)},{_n(y0)} C{_n(middle)},{_n(y0)} '
            f'{_n(middle)},{_n(y1)} {_n(x1)},{_n(y1)}" fill="none" stroke="{colour}" '
            f'stroke-opacity="0.5" stroke-width="{_n(width)}" '
            f"data-quantity={_attr(decimal_string(row.quantity))} "
            f"data-provider={_attr(row.provider)} data-receiver={_attr(row.receiver)}>"
            f"<title>{_esc(label)}</title></path>"
        )
        out.append(
            f'<text x="{_n(middle)}" y="{_n((y0 + y1) / 2 - 3)}" font-size="10" '
            f'text-anchor="middle" fill="#333">{_esc(decimal_string(row.quantity))} '
            f"{_esc(spec_names.get(row.spec or '', _short(row.spec)))}</text>"
        )
    for side, nodes in (("provider", left), ("receiver", right)):
        x = LEFT_X if side == "provider" else RIGHT_X
        for node in nodes.values():
            name = names.get(node.agent, _short(node.agent))
            out.append(
                f'<rect class="node" x="{_n(x)}" y="{_n(node.y)}" width="{_n(NODE_WIDTH)}" '
                f'height="{_n(max(node.height, Decimal(1)))}" fill="#333">'
                f"<title>{_esc(name)} ({_esc(node.agent)})</title></rect>"
            )
            anchor, text_x = ("end", x - 6) if side == "provider" else ("start", x + NODE_WIDTH + 6)
            verb = "gave" if side == "provider" else "received"
            out.append(
                f'<text x="{_n(text_x)}" y="{_n(node.y + node.height / 2 + 4)}" '
                f'font-size="12" text-anchor="{anchor}">{_esc(name)} '
                f'<tspan fill="#555">{verb} {_esc(decimal_string(node.total))} '
                f"{_esc(unit)}</tspan></text>"
            )
    out.append("</g>")
    heights = [n.y + n.height for n in (*left.values(), *right.values())]
    bottom = max(heights, default=flow_top)
    return out, bottom - top + PANEL_FOOT


def _per_px(scale: Decimal) -> str:
    if scale == 0:
        return "0"
    return decimal_string((1 / scale).quantize(Decimal("0.0001")).normalize())


def sankey_svg(
    matrix: FlowMatrix,
    names: Mapping[str, str],
    *,
    spec_names: Mapping[str, str] | None = None,
    title: str = "Flows between agents",
) -> str:
    """A standalone SVG Sankey diagram of the matrix; `names` maps agent ids to the names
    shown (unknown agents show a shortened id)."""
    with localcontext(prec=PRECISION):
        return _sankey_svg(matrix, names, spec_names or {}, title)


def _sankey_svg(
    matrix: FlowMatrix, names: Mapping[str, str], spec_names: Mapping[str, str], title: str
) -> str:
    actions = sorted({row.action for row in matrix.rows})
    body: list[str] = []
    y = TOP
    for unit in matrix.unit_groups:
        elements, height = _panel(
            [r for r in matrix.rows if r.unit == unit], unit, y, names, spec_names
        )
        body.extend(elements)
        y += height
    if not matrix.rows:
        body.append(f'<text x="20" y="{_n(TOP + 20)}" font-size="14">No flows.</text>')
        y += 40
    legend_x = WIDTH - 20 - 130 * min(len(actions), 4)
    legend = [f'<g class="legend" transform="translate({_n(legend_x)},14)">']
    for i, action in enumerate(actions):
        lx, ly = Decimal(130 * (i % 4)), Decimal(18 * (i // 4))
        legend.append(
            f'<rect x="{_n(lx)}" y="{_n(ly)}" width="12" height="12" '
            f'fill="{ACTION_COLOURS.get(action, "#999999")}" fill-opacity="0.7"/>'
            f'<text x="{_n(lx + 16)}" y="{_n(ly + 10)}" font-size="11">{_esc(action)}</text>'
        )
    legend.append("</g>")
    legend_rows = Decimal((len(actions) + 3) // 4)
    height = max(y, TOP + legend_rows * 18) + 10
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(WIDTH)}" height="{_n(height)}" '
            f'viewBox="0 0 {_n(WIDTH)} {_n(height)}" role="img" aria-label={_attr(title)} '
            f'style="{FONT}">',
            f"<title>{_esc(title)}</title>",
            '<rect width="100%" height="100%" fill="#ffffff"/>',
            f'<text x="20" y="32" font-size="20" font-weight="700">{_esc(title)}</text>',
            *legend,
            *body,
            "</svg>",
        ]
    )


def sankey_html(
    matrix: FlowMatrix,
    names: Mapping[str, str],
    *,
    spec_names: Mapping[str, str] | None = None,
    title: str = "Flows between agents",
) -> str:
    """An HTML page with the Sankey diagram and the matrix as a table."""
    spec_names = spec_names or {}

    def name(agent: str) -> str:
        return _esc(names.get(agent, agent))

    rows = "\n".join(
        f"<tr><td>{name(r.provider)}</td><td>{name(r.receiver)}</td><td>{_esc(r.action)}</td>"
        f"<td>{_esc(spec_names.get(r.spec or '', r.spec or '(unspecified)'))}</td>"
        f'<td class="n">{_esc(decimal_string(r.quantity))}</td><td>{_esc(r.unit)}</td></tr>'
        for r in matrix.rows
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_esc(title)}</title>
<style>
body {{ {FONT}; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-top: 1.5em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<h1>{_esc(title)}</h1>
{sankey_svg(matrix, names, spec_names=spec_names, title=title)}
<table>
<thead><tr><th>Provider</th><th>Receiver</th><th>Action</th><th>Specification</th>
<th>Quantity</th><th>Unit</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""
