"""The reports and exports a cooperative asks for, over a gathered Dataset: pure, so the
command line, the node and the benchmark compute them the same way.

- flows: the flow matrix (who gave how much of what to whom), as a table or a Sankey;
- contributions: an output's income shared by a value equation;
- footprint: a resource's footprint rolled up along its trace, with the budgets that apply
  (sustainability quotient = actual / allocated) and the perma-circularity of the
  network's throughput (growth of material and energy drawn per period above 1 %);
- exports: VF JSON-LD, PACT, EPCIS, CSV.

"Throughput" is what the economy draws from outside itself: raw inputs consumed (resources
no process produced and no transfer brought), valued by their specification's declared
footprint, else by their own mass or energy. Products made of them are not counted again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Final, ParamSpec, TypeVar

from node.core.collector import gc_paused
from node.core.errors import Field
from node.core.refusals import FieldNotForThis, MissingField
from zomes.accounting.common import AccountingError, dimension, from_base
from zomes.accounting.contributions import distribute
from zomes.accounting.dataset import Dataset, event_time
from zomes.accounting.entries import KIND_UNITS, Budget, ValueEquation, Vector
from zomes.accounting.epcis import to_epcis
from zomes.accounting.exports import PLANNING_CSV, dumps_json, to_csv, to_planning_csv
from zomes.accounting.flows import FlowMatrix, flows
from zomes.accounting.footprint import FootprintReport, footprint, perma_circularity
from zomes.accounting.formatting import iso_time, shown, text
from zomes.accounting.jsonld import agent_iri, node_id, to_vf_jsonld
from zomes.accounting.jsonld_identities import with_identities
from zomes.accounting.jsonld_planning import chosen as chosen_planning
from zomes.accounting.jsonld_planning import dataset_places, dataset_states, with_planning
from zomes.accounting.pact import PactCompany, PactProduct, to_pact
from zomes.accounting.pact_scope import scope_of
from zomes.accounting.sankey import sankey_html, sankey_svg
from zomes.valueflows.entries import EconomicEvent
from zomes.valueflows.trace import NotInIndex
from zomes.valueflows.units import (
    UNITS,
    UnitError,
    canonical_unit,
    decimal_string,
    parse_quantity,
)

P = ParamSpec("P")
R = TypeVar("R")
PERIODS: Final = ("year", "quarter", "month")
EXPORT_FORMATS: Final = ("vf-jsonld", "pact", "epcis", "csv")
RESOURCE: Final = Field("resource", "resource")  # (the PACT footprint's product)
_INCOME = re.compile(
    r"\s*(?P<amount>[0-9]+(?:\.[0-9]+)?)\s*(?P<currency>[A-Za-z][A-Za-z0-9]{0,11})\s*"
)
Inputs = list[tuple[str, EconomicEvent, Vector]]  # raw inputs consumed, with their footprints


# -- flows --------------------------------------------------------------------------


@gc_paused()
def flow_report(
    ds: Dataset, *, since_us: int | None = None, until_us: int | None = None,
    spec: str | None = None,
) -> FlowMatrix:  # fmt: skip
    """The flow matrix of every gathered event in [since, until), of one spec if given."""
    if spec is not None and spec not in ds.specs:
        raise AccountingError(f"{spec} is not a resource specification known here")
    return flows(
        ds.ordered_events(), specs=ds.specs, resources=ds.resources,
        since_us=since_us, until_us=until_us, spec=spec,
    )  # fmt: skip


def flow_json(matrix: FlowMatrix, ds: Dataset) -> dict[str, Any]:
    out = matrix.to_json()
    out["agents"] = {agent: ds.names.get(agent) or ds.external_name(agent)
                     for agent in matrix.agents}
    out["specs"] = {r.spec: ds.specs[r.spec].name for r in matrix.rows if r.spec in ds.specs}
    return out


def spec_names(ds: Dataset) -> dict[str, str]:
    return {address: spec.name for address, spec in ds.specs.items()}


@gc_paused()
def flow_text(matrix: FlowMatrix, ds: Dataset) -> str:
    if not matrix.rows:
        return "(no flows)"
    names = spec_names(ds)
    rows = [("provider", "receiver", "action", "specification", "quantity", "unit")]
    for r in matrix.rows:
        rows.append((ds.name_of(r.provider), ds.name_of(r.receiver), r.action,
                     names.get(r.spec or "", r.spec or "-"), decimal_string(r.quantity), r.unit))
    widths = [min(28, max(len(row[i]) for row in rows)) for i in range(6)]
    lines = []
    for row in rows:
        cells = [cell[: widths[i]].ljust(widths[i]) for i, cell in enumerate(row)]
        cells[4] = row[4].rjust(widths[4])
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


@gc_paused()
def flow_diagram(matrix: FlowMatrix, ds: Dataset, fmt: str) -> str:
    """The matrix as a Sankey diagram: "svg" or "html" (with the table)."""
    names = {agent: ds.name_of(agent) for agent in matrix.agents}
    draw = sankey_svg if fmt == "svg" else sankey_html
    return draw(matrix, names, spec_names=spec_names(ds))


# -- contributions ------------------------------------------------------------------


def parse_income(value: str) -> tuple[Decimal, str]:
    """ "1000 EUR" -> (Decimal("1000"), "EUR"); whole cents only."""
    match = _INCOME.fullmatch(value)
    if match is None:
        raise AccountingError(f"income {value!r} is not an amount and a currency, e.g. '1000 EUR'")
    try:
        amount = Decimal(match["amount"])
    except InvalidOperation:
        raise AccountingError(f"income {value!r} is not a number") from None
    try:
        unit = canonical_unit(match["currency"])
    except UnitError:
        unit = None  # a currency we have no unit for (USD, CHF...): money all the same
    if unit is not None and not dimension(unit).startswith("currency"):
        raise AccountingError(
            f"income {value!r} is not money: {match['currency']} is a unit of "
            f"{dimension(unit)}; give an amount of a currency, e.g. '1000 EUR'")
    return amount, match["currency"]


def find_equation(ds: Dataset, ref: str) -> tuple[str, ValueEquation]:
    """A value equation by address, else the latest one with that name."""
    if ref in ds.equations:
        return ref, ds.equations[ref]
    named = [a for a, e in ds.equations.items() if e.name == ref]
    if not named:
        known = ", ".join(sorted({e.name for e in ds.equations.values()})) or "none"
        raise AccountingError(f"no value equation {ref!r} here (known: {known})")
    address = max(named, key=lambda a: (ds.created_at[a], a))
    return address, ds.equations[address]


def _require_resource(ds: Dataset, resource: str) -> None:
    if resource not in ds.resources:
        raise AccountingError(f"{resource} is not a resource known here or on the chains gathered")


@gc_paused()
def contribution_report(ds: Dataset, *, output: str, income: str, equation: str) -> dict[str, Any]:
    """Each contributor's share of `income` for `output`, by the value equation."""
    _require_resource(ds, output)
    amount, currency = parse_income(income)
    address, value_equation = find_equation(ds, equation)
    result = distribute(
        value_equation, output_resource=output, income=amount, currency=currency,
        index=ds.flow_index(), events=ds.ordered_events(), processes=ds.processes,
        resources=ds.resources, authors=ds.authors,
    )  # fmt: skip
    out = result.to_json()
    out["equation"] = {"address": address, "name": value_equation.name}
    out["outputName"] = ds.resources[output].name
    for share in out["agents"]:
        share["name"] = ds.names.get(share["agent"])
    return out


def contribution_text(report: dict[str, Any], ds: Dataset) -> str:
    lines = [
        f"{report['income']} {report['currency']} for {report['outputName']} "
        f"by {report['equation']['name']!r}"
    ]
    for bucket in report["buckets"]:
        pct = f"{bucket['percentage']}%" if bucket["percentage"] else ""
        lines.append(f"  bucket {bucket['name']:<20} {pct:>6} {bucket['behaviour']:<9} "
                     f"{bucket['amount']:>12}")
    lines.append("")
    for share in report["agents"]:
        count = len(share["contributions"])
        lines.append(f"{ds.name_of(share['agent']):<30} {share['share']:>12} {report['currency']}"
                     f"   score {share['score']} from {count} contribution(s)")
    for skipped in report.get("skipped", []):
        lines.append(f"skipped {skipped['action']} event {skipped['event']} "
                     f"(bucket {skipped['bucket']}): {skipped['reason']}")
    return "\n".join(lines)


# -- footprint, budgets, circularity -----------------------------------------------------


def footprint_of(ds: Dataset, resource: str, quantity: str | None = None) -> FootprintReport:
    _require_resource(ds, resource)
    try:
        amount = parse_quantity(quantity) if quantity is not None else None
    except UnitError as e:
        raise AccountingError(f"quantity: {e}") from None
    try:
        return footprint(
            resource, index=ds.flow_index(), events=ds.events.items(), processes=ds.processes,
            resources=ds.resources, spec_footprints=ds.spec_footprints(),
            allocations=ds.process_allocations(), quantity=amount,
        )  # fmt: skip
    except NotInIndex:
        raise AccountingError(f"{resource} has no flows here to roll up") from None


def raw_inputs(ds: Dataset) -> Inputs:
    """(address, event, footprint) of each consumption of a raw input, in time order."""
    made = {
        e.resource_inventoried_as for e in ds.events.values()
        if e.output_of is not None and e.action in ("produce", "separate")
    } | {e.to_resource_inventoried_as for e in ds.events.values() if e.to_resource_inventoried_as}
    declared = ds.spec_footprints()
    per_unit: dict[tuple[str | None, str], Vector] = {}  # (spec, unit) -> footprint of 1 unit
    found = []
    for address, event in ds.ordered_events():
        quantity = event.resource_quantity
        if event.action != "consume" or quantity is None:
            continue
        if event.resource_inventoried_as in made:
            continue
        resource = ds.resources.get(event.resource_inventoried_as or "")
        spec = resource.conforms_to if resource is not None else event.resource_conforms_to
        key = (spec, quantity.has_unit)
        if key not in per_unit:
            per_unit[key] = raw_vector(quantity.has_unit, declared.get(spec or ""), ds, spec)
        amount = Fraction(quantity.value)
        vector = {k: v * amount for k, v in per_unit[key].items()}
        if vector:
            found.append((address, event, vector))
    return found


def raw_vector(unit: str, declared: Any, ds: Dataset, spec: str | None) -> Vector:
    """The footprint of one `unit` of a raw input: declared, else its own mass or energy."""
    if declared is not None and dimension(unit) == dimension(declared.per):
        vector: Vector = declared.per_unit(unit)
        return vector
    base = Fraction(UNITS[unit].factor)
    if dimension(unit) == dimension("kilogram"):
        label = ds.specs[spec].name if spec in ds.specs else "unspecified"
        return {f"material:{label}": from_base(base, "kilogram")}
    if dimension(unit) == dimension("megajoule"):
        return {"energy": from_base(base, "megajoule")}
    return {}


def _component(vector: Vector, kind: str, material: str | None) -> Fraction:
    if kind != "material":
        return vector.get(kind, Fraction(0))
    if material is not None:
        return vector.get(f"material:{material}", Fraction(0))
    return sum((v for k, v in vector.items() if k.startswith("material:")), Fraction(0))


def budget_report(ds: Dataset, address: str, budget: Budget, inputs: Inputs) -> dict[str, Any]:
    """Actual use over the budget's period (its agent's raw inputs, or everyone's) and the
    sustainability quotient actual / allocated (> 1: over the threshold)."""
    actual = Fraction(0)
    for _, event, vector in inputs:
        time = event_time(event)
        if not budget.period_start <= time < budget.period_end:
            continue
        if budget.agent is not None and event.provider != budget.agent:
            continue
        actual += _component(vector, budget.kind, budget.material)
    unit = budget.allocated.has_unit
    in_base = actual * Fraction(UNITS[KIND_UNITS[budget.kind]].factor)
    in_unit = from_base(in_base, unit)
    quotient = in_unit / Fraction(budget.allocated.value)
    return {
        "address": address,
        "name": budget.name,
        "kind": budget.kind,
        "material": budget.material,
        "agent": budget.agent,
        "declaredBy": ds.authors.get(address),
        "periodStart": iso_time(budget.period_start),
        "periodEnd": iso_time(budget.period_end),  # exclusive
        "lastDay": iso_time(budget.period_end - 1)[:10],
        "allocated": budget.allocated.to_content(),
        "actual": {"hasNumericalValue": text(in_unit), "hasUnit": unit},
        "quotient": text(quotient),
        "over": quotient > 1,
    }


def period_of(time_us: int, period: str) -> str:
    moment = datetime.fromtimestamp(time_us / 1_000_000, tz=UTC)
    if period == "year":
        return f"{moment.year}"
    if period == "quarter":
        return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    return f"{moment.year}-{moment.month:02d}"


def _periods_between(first: str, last: str, period: str) -> list[str]:
    """Every period label from first to last, so that an empty period shows as zero."""
    def index(label: str) -> int:
        year = int(label[:4])
        if period == "year":
            return year
        if period == "quarter":
            return year * 4 + int(label[-1]) - 1
        return year * 12 + int(label[5:]) - 1

    def label(i: int) -> str:
        if period == "year":
            return str(i)
        if period == "quarter":
            return f"{i // 4}-Q{i % 4 + 1}"
        return f"{i // 12}-{i % 12 + 1:02d}"

    return [label(i) for i in range(index(first), index(last) + 1)]


def circularity(inputs: Inputs, period: str) -> dict[str, Any]:
    """Material (kg) and energy (MJ) drawn per period, each flagged where it grew > 1 %."""
    if period not in PERIODS:
        raise AccountingError(f"period is one of {', '.join(PERIODS)}, not {period!r}")
    material: dict[str, Fraction] = {}
    energy: dict[str, Fraction] = {}
    for _, event, vector in inputs:
        time = event_time(event)
        if not time:
            continue
        label = period_of(time, period)
        material[label] = material.get(label, Fraction(0)) + _component(vector, "material", None)
        energy[label] = energy.get(label, Fraction(0)) + _component(vector, "energy", None)
    labels = sorted(material)
    if labels:
        labels = _periods_between(labels[0], labels[-1], period)
    out: dict[str, Any] = {"period": period}
    for name, series, unit in (("material", material, "kilogram"), ("energy", energy, "megajoule")):
        flags = perma_circularity([(p, shown(series.get(p, Fraction(0)))) for p in labels])
        out[name] = {"unit": unit, "periods": [f.to_json() for f in flags]}
    out["flagged"] = [
        f"{name} {p['period']}" for name in ("material", "energy")
        for p in out[name]["periods"] if p["flagged"]
    ]  # fmt: skip
    return out


@gc_paused()
def footprint_report(
    ds: Dataset, resource: str, *, quantity: str | None = None, period: str = "year"
) -> dict[str, Any]:
    """The resource's footprint, the budgets of the network and of the resource's holder,
    and the perma-circularity of the throughput gathered."""
    report = footprint_of(ds, resource, quantity)
    out = report.to_json()
    out["name"] = ds.resources[resource].name
    holder = ds.authors.get(resource)
    inputs = raw_inputs(ds)
    out["budgets"] = [
        budget_report(ds, address, budget, inputs)
        for address, budget in sorted(ds.budgets.items(), key=lambda b: (b[1].period_start, b[0]))
        if budget.agent is None or budget.agent == holder
    ]
    out["circularity"] = circularity(inputs, period)
    return out


def footprint_text(report: dict[str, Any], ds: Dataset) -> str:
    qty = report["quantity"]
    lines = [f"footprint of {report['name']} ({qty['hasNumericalValue']} {qty['hasUnit']})"]
    for key, measure in report["totals"].items():
        per = report["perUnit"][key]
        lines.append(f"  {key:<24} {measure['hasNumericalValue']:>14} {measure['hasUnit']:<13}"
                     f" ({per['hasNumericalValue']} per {qty['hasUnit']})")
    if report["parts"]:
        lines.append("contributions:")
    names = spec_names(ds)
    for part in report["parts"]:
        what = names.get(part["spec"] or "", part["spec"] or "?")
        where = ds.processes[part["process"]].name if part["process"] in ds.processes else "-"
        amounts = ", ".join(f"{k} {m['hasNumericalValue']} {m['hasUnit']}"
                            for k, m in part["footprint"].items())
        lines.append(f"  {part['source']:<8} {what:<16} in {where:<20} {amounts}")
    if report["missing"]:
        lines.append("no footprint declared for: " + ", ".join(
            names.get(m, m) for m in report["missing"]))
    for budget in report["budgets"]:
        who = ds.name_of(budget["agent"]) if budget["agent"] else "the network"
        state = "OVER" if budget["over"] else "within"
        lines.append(
            f"budget {budget['name'] or budget['kind']} of {who}, {budget['periodStart'][:10]}"
            f" to {budget['lastDay']}: {budget['actual']['hasNumericalValue']} of "
            f"{budget['allocated']['hasNumericalValue']} {budget['allocated']['hasUnit']}, "
            f"quotient {budget['quotient']} ({state})"
        )
    flagged = report["circularity"]["flagged"]
    lines.append("perma-circularity: " + (
        "throughput grew more than 1 % in " + ", ".join(flagged) if flagged
        else f"no {report['circularity']['period']} with throughput growth above 1 %"))
    return "\n".join(lines)


# -- exports ------------------------------------------------------------------------------


def _referenced(ds: Dataset, events: Iterable[tuple[str, EconomicEvent]]) -> dict[str, Any]:
    """The processes, resources and specifications the events name, with the agents."""
    processes: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    specs: dict[str, Any] = {}
    agents: set[str] = set()
    for _, event in events:
        agents |= {event.provider, event.receiver}
        for process in (event.input_of, event.output_of):
            if process in ds.processes:
                processes[process] = ds.processes[process]
        for resource in (event.resource_inventoried_as, event.to_resource_inventoried_as):
            if resource in ds.resources:
                resources[resource] = ds.resources[resource]
        if event.resource_conforms_to in ds.specs:
            specs[event.resource_conforms_to] = ds.specs[event.resource_conforms_to]
    for resource in resources.values():
        if resource.conforms_to in ds.specs:
            specs[resource.conforms_to] = ds.specs[resource.conforms_to]
    vf_agents = ds.vf_agents()
    return {
        "processes": processes, "resources": resources, "specs": specs,
        "agents": {a: vf_agents[a] for a in agents if a in vf_agents},
    }  # fmt: skip


@gc_paused()
def export(
    ds: Dataset, fmt: str, *, me: str, now_us: int, everyone: bool = False,
    resource: str | None = None,
) -> str:  # fmt: skip
    """The document text: this agent's events (or every gathered event) in `fmt`."""
    if fmt not in EXPORT_FORMATS:
        raise AccountingError(f"export format is one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    if fmt == "pact":
        if resource is None:
            raise MissingField("a PACT footprint is of one product: give ", RESOURCE)
        return dumps_json(pact_document(ds, resource, me=me, now_us=now_us)) + "\n"
    if resource is not None:
        raise FieldNotForThis(RESOURCE, " is for ", Field("fmt", "format"), " pact")
    events = ds.ordered_events(None if everyone else me)
    if fmt == "csv":
        return to_csv(events, authors=ds.authors)
    refs = _referenced(ds, events)
    if fmt == "epcis":
        # lots are told from every chain held here: a received resource is the sender's lot
        doc = to_epcis(events, processes=refs["processes"], resources=ds.resources,
                       created_us=now_us, history=events if everyone else ds.ordered_events(None))
        return dumps_json(doc) + "\n"
    doc = to_vf_jsonld(events, refs["processes"], refs["resources"], refs["specs"], refs["agents"],
                       states=dataset_states(ds), places=dataset_places(ds))
    doc = with_identities(with_planning(doc, ds, me=me, everyone=everyone), ds)
    return dumps_json(doc) + "\n"


def csv_files(ds: Dataset, *, me: str, everyone: bool = False) -> dict[str, str]:
    """The CSV export as files: events.csv, then one per kind of planning and recipe record
    (PLANNING_CSV), of this agent's records (or every gathered one)."""
    picked = chosen_planning(ds, me=me, everyone=everyone)
    files = {"events.csv": to_csv(ds.ordered_events(None if everyone else me),
                                  authors=ds.authors)}
    for name, cls in PLANNING_CSV.items():
        files[name] = to_planning_csv(cls, picked.records, authors=ds.authors,
                                      withdrawn=picked.withdrawn)
    return files


def pact_document(ds: Dataset, resource: str, *, me: str, now_us: int) -> dict[str, Any]:
    report = footprint_of(ds, resource)
    holder = ds.authors.get(resource, me)
    entry = ds.resources[resource]
    spec = ds.specs.get(entry.conforms_to or "")
    description = entry.note or (spec.name if spec is not None else entry.name)
    product = PactProduct(name=entry.name, description=description, ids=(node_id(resource),))
    company = PactCompany(name=ds.names.get(holder) or holder, ids=(agent_iri(holder),))
    scope = scope_of(ds, resource, report)
    return to_pact(report, product=product, company=company, created_us=now_us, scope=scope)
