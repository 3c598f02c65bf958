"""Exports in the ecosystem's formats, in one place: ValueFlows JSON-LD (and its import),
PACT product footprints, GS1 EPCIS documents, and CSV with one row per event, and a CSV
file per kind of planning and recipe record (PLANNING_CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Final

from zomes.accounting.epcis import to_epcis
from zomes.accounting.formatting import dumps_json, iso_time
from zomes.accounting.jsonld import MalformedDocument, to_vf_jsonld
from zomes.accounting.jsonld_import import from_vf_jsonld
from zomes.accounting.jsonld_planning import CLASSES, INLINE_CLAUSES, PROPERTIES
from zomes.accounting.pact import PactCompany, PactProduct, to_pact, validate_pact
from zomes.valueflows.entries import EconomicEvent, Proposal, VfEntry, external_party

__all__ = [
    "CSV_COLUMNS",
    "MalformedDocument",
    "PactCompany",
    "PLANNING_CSV",
    "PactProduct",
    "dumps_json",
    "from_vf_jsonld",
    "to_csv",
    "to_epcis",
    "planning_columns",
    "to_pact",
    "to_planning_csv",
    "to_vf_jsonld",
    "validate_pact",
]

CSV_COLUMNS: Final = (
    "address", "author", "action", "provider", "receiver", "resourceInventoriedAs",
    "toResourceInventoriedAs", "resourceConformsTo", "resourceClassifiedAs",
    "resourceQuantity.hasNumericalValue", "resourceQuantity.hasUnit",
    "effortQuantity.hasNumericalValue", "effortQuantity.hasUnit", "inputOf", "outputOf",
    "hasBeginning", "hasEnd", "hasPointInTime", "atLocation", "toLocation", "stage", "state",
    "corrects", "realizationOf", "reciprocalRealizationOf", "fulfills", "satisfies", "settles",
    "image", "note", "external",
)  # fmt: skip
"""`external`: the event's external party, as `NAME (external)` (no member: never signed)."""
TIME_COLUMNS: Final = frozenset({"hasBeginning", "hasEnd", "hasPointInTime"})


def to_csv(
    events: Iterable[tuple[str, EconomicEvent]], *, authors: Mapping[str, str] | None = None,
    externals: Mapping[str, str] | None = None,
) -> str:
    """One row per event, in the order given, with VF column names (quantities split into
    value and unit, times in ISO 8601 UTC, classifications joined by "|"); RFC 4180 quoting
    and CRLF line ends, as the csv module writes them. `externals`: the external agents'
    names (Dataset.external_name's), by address."""
    authors, externals = authors or {}, externals or {}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for address, event in events:
        row: dict[str, str] = {"address": address, "author": authors.get(address, "")}
        for key, value in event.to_content().items():
            if key in ("resourceQuantity", "effortQuantity"):
                row[f"{key}.hasNumericalValue"] = value["hasNumericalValue"]
                row[f"{key}.hasUnit"] = value["hasUnit"]
            elif key in TIME_COLUMNS:
                row[key] = iso_time(value)
            elif key == "resourceClassifiedAs":
                row[key] = "|".join(value)
            else:
                row[key] = str(value)
        party = external_party(event)
        if party is not None:
            row["external"] = externals.get(party, party + " (external)")
        writer.writerow(row)
    return out.getvalue()


PLANNING_CSV: Final[dict[str, type[VfEntry]]] = {
    f"{file}.csv": CLASSES[name] for file, name in (
        ("plans", "Plan"), ("intents", "Intent"), ("proposals", "Proposal"),
        ("agreements", "Agreement"), ("commitments", "Commitment"), ("claims", "Claim"),
        ("recipes", "Recipe"), ("recipe_processes", "RecipeProcess"),
        ("recipe_exchanges", "RecipeExchange"), ("recipe_flows", "RecipeFlow"))
}  # fmt: skip
"""The CSV file of each kind of planning and recipe record, beside events.csv."""


def planning_columns(cls: type[VfEntry]) -> tuple[str, ...]:
    """address, author, then the entry's VF fields in the model's order (quantities split
    into value and unit); a proposal's `withdrawn` last."""
    columns = ["address", "author"]
    for name, info in cls.model_fields.items():
        key = info.alias or name
        if key == INLINE_CLAUSES:  # (an agreement's inline commitments: not a column yet)
            continue
        if PROPERTIES[key][1] == "measure":
            columns += [f"{key}.hasNumericalValue", f"{key}.hasUnit"]
        else:
            columns.append(key)
    return (*columns, "withdrawn") if cls is Proposal else tuple(columns)


def to_planning_csv(
    cls: type[VfEntry], records: Mapping[str, VfEntry], *, authors: Mapping[str, str],
    withdrawn: Iterable[str] = (),
) -> str:  # fmt: skip
    """One row per record of `cls` among `records`, by address, as to_csv writes events
    (times ISO 8601 UTC, lists joined by "|", booleans true/false)."""
    gone = set(withdrawn)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=planning_columns(cls))
    writer.writeheader()
    for address in sorted(a for a, e in records.items() if type(e) is cls):
        row: dict[str, str] = {"address": address, "author": authors.get(address, "")}
        for key, value in records[address].to_content().items():
            if key == INLINE_CLAUSES:
                continue
            kind = PROPERTIES[key][1]
            if kind == "measure":
                row[f"{key}.hasNumericalValue"] = value["hasNumericalValue"]
                row[f"{key}.hasUnit"] = value["hasUnit"]
            elif kind == "time":
                row[key] = iso_time(value)
            elif isinstance(value, list):
                row[key] = "|".join(value)
            elif isinstance(value, bool):
                row[key] = "true" if value else "false"
            else:
                row[key] = str(value)
        if cls is Proposal:
            row["withdrawn"] = "true" if address in gone else "false"
        writer.writerow(row)
    return out.getvalue()
