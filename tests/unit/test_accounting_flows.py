"""Flow accounting: the matrix, unit handling, time windows, and the Sankey renderings."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from zomes.accounting.flows import FlowMatrix, FlowRow, flows
from zomes.accounting.sankey import sankey_html, sankey_svg
from zomes.accounting.testing import DAY, START, Chain, agent_id, bread_chain

SVG = "{http://www.w3.org/2000/svg}"


def matrix_of(chain: Chain, **options: object):  # type: ignore[no-untyped-def]
    return flows(chain.events, specs=chain.specs, resources=chain.resources, **options)  # type: ignore[arg-type]


def test_the_matrix_groups_by_provider_receiver_action_and_spec() -> None:
    chain = bread_chain()
    matrix = matrix_of(chain)
    rows = {(r.provider, r.receiver, r.action, r.spec): r for r in matrix.rows}
    sale = rows[(agent_id("farm"), agent_id("mill"), "transfer", chain.spec_at("wheat"))]
    assert (sale.quantity, sale.unit) == (Decimal(1000), "kilogram")
    work = rows[(agent_id("cleo"), agent_id("bakery"), "work", chain.spec_at("labour"))]
    assert (work.quantity, work.unit, work.events) == (20, "hour", (chain.at("cleo bakes"),))
    document = matrix.to_json()
    assert document["rows"][0].keys() >= {"provider", "receiver", "action", "spec", "quantity"}
    by_provider = {
        (t["provider"], t["quantity"]["hasUnit"]): t["quantity"]["hasNumericalValue"]
        for t in document["totals"]["byProvider"]
    }
    assert by_provider[(agent_id("mill"), "kilogram")] == "2800"  # 1000 + 800 + 200 + 800


def test_quantities_are_summed_exactly_in_one_unit_and_dimensions_kept_apart() -> None:
    chain = Chain()
    chain.spec("labour", "hour", "hour")
    for i, (number, unit) in enumerate([(90, "min"), (1, "hour"), ("0.25", "hour")]):
        chain.event(f"w{i}", "work", "ana", "coop", effort_quantity=(number, unit),
                    resource_conforms_to="labour")  # fmt: skip
    chain.event("w3", "work", "ana", "coop", effort_quantity=(20, "min"))  # no spec
    chain.event("odd", "work", "ana", "coop", effort_quantity=(2, "kg"),
                resource_conforms_to="labour")  # fmt: skip
    rows = {(r.spec, r.unit): r.quantity for r in matrix_of(chain).rows}
    assert rows == {
        (chain.spec_at("labour"), "hour"): Decimal("2.75"),  # the spec's unit
        (None, "minute"): Decimal(20),  # first unit seen (20 min is no exact hour count)
        (chain.spec_at("labour"), "kilogram"): Decimal(2),  # never mixed with hours
    }


def test_time_window_and_spec_filter() -> None:
    chain = bread_chain()
    # events are one day apart from START; the 7th (index 6) is the wheat sale
    window = matrix_of(chain, since_us=START + 6 * DAY, until_us=START + 7 * DAY)
    assert [r.action for r in window.rows] == ["transfer"]
    only_flour = matrix_of(chain, spec=chain.spec_at("flour"))
    assert {r.action for r in only_flour.rows} == {"produce", "transfer", "consume"}


def test_sankey_svg_is_readable_standalone_svg_with_proportional_links() -> None:
    chain = bread_chain()
    matrix = matrix_of(chain)
    svg = sankey_svg(matrix, chain.names, spec_names={a: s.name for a, s in chain.specs.items()})
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert "<script" not in svg
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    for name in chain.names.values():
        assert name in text
    links = [p for p in root.iter(f"{SVG}path") if p.get("class") == "link"]
    assert len(links) == len(matrix.rows)
    drawn = {
        (p.get("data-provider"), p.get("data-receiver"), p.get("data-quantity")) for p in links
    }
    for row in matrix.rows:
        assert (row.provider, row.receiver, str(row.quantity)) in drawn
    # within a unit's panel, width / quantity is the same for every link
    for panel in root.iter(f"{SVG}g"):
        if panel.get("class") != "panel":
            continue
        ratios = [
            Decimal(p.get("stroke-width", "0")) / Decimal(p.get("data-quantity", "1"))
            for p in panel.iter(f"{SVG}path")
        ]
        assert ratios and max(ratios) - min(ratios) <= Decimal("0.011") * min(ratios) + Decimal(
            "0.01"
        )
    assert re.search(r"Flows measured in kilogram", svg) and "legend" in svg


def test_sankey_html_wraps_the_svg_with_a_table() -> None:
    chain = bread_chain()
    matrix = matrix_of(chain)
    html = sankey_html(matrix, chain.names, title="Bread <chain>")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert html.count("<tr><td>") == len(matrix.rows)
    assert "Bread &lt;chain&gt;" in html


def test_an_empty_matrix_still_draws() -> None:
    svg = sankey_svg(matrix_of(Chain()), {})
    assert "No flows." in ET.tostring(ET.fromstring(svg), encoding="unicode")


ODD_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["\x1b[2J\x1b[31mred", "a\x00b", "<script>", "\u202egnp.exe", "\ud800", "]]>"])
# every quantity a Measure on someone's chain may hold: up to 40 digits, either side of 0
QUANTITIES = st.decimals(allow_nan=False, allow_infinity=False, places=0,
                         min_value=-(10**40 - 1), max_value=10**40 - 1) | st.decimals(
    allow_nan=False, allow_infinity=False, places=39, min_value=-1, max_value=1)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(ODD_TEXT, ODD_TEXT, QUANTITIES, st.sampled_from(["kilogram", "hour"])),
                min_size=1, max_size=5))
def test_sankey_draws_any_quantity_and_any_name_as_well_formed_svg(
    rows: list[tuple[str, str, Decimal, str]],
) -> None:
    matrix = FlowMatrix(tuple(
        FlowRow(f"12D3KooW{i}p", f"12D3KooW{i}r", "transfer", None, quantity, unit, ())
        for i, (_, _, quantity, unit) in enumerate(rows)))
    names = {f"12D3KooW{i}{side}": name for i, (p, r, _, _) in enumerate(rows)
             for side, name in (("p", p), ("r", r))}
    svg = sankey_svg(matrix, names, spec_names={}, title=rows[0][0])
    ET.fromstring(svg)  # well-formed XML: no raw control characters, everything escaped
    assert "\x1b" not in svg and "<script>" not in svg
    html = sankey_html(matrix, names, title=rows[0][1])
    assert "\x1b" not in html and "<script>" not in html


def test_a_huge_quantity_is_drawn_with_its_exact_total() -> None:
    huge = Decimal("9" * 40)
    matrix = FlowMatrix((
        FlowRow(agent_id("a"), agent_id("b"), "transfer", None, huge, "kilogram", ()),
        FlowRow(agent_id("b"), agent_id("a"), "transfer", None, Decimal(1), "kilogram", ())))
    svg = sankey_svg(matrix, {})
    ET.fromstring(svg)
    assert f"total 1{'0' * 40} kilogram" in svg  # 40 nines + 1, not rounded to 28 digits
