"""Exports in the ecosystem's formats, in one place: ValueFlows JSON-LD (and its import),
PACT product footprints, GS1 EPCIS documents, and CSV with one row per event."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Final

from zomes.accounting.epcis import to_epcis
from zomes.accounting.formatting import dumps_json, iso_time
from zomes.accounting.jsonld import MalformedDocument, to_vf_jsonld
from zomes.accounting.jsonld_import import from_vf_jsonld
from zomes.accounting.pact import PactCompany, PactProduct, to_pact, validate_pact
from zomes.valueflows.entries import EconomicEvent

__all__ = [
    "CSV_COLUMNS",
    "MalformedDocument",
    "PactCompany",
    "PactProduct",
    "dumps_json",
    "from_vf_jsonld",
    "to_csv",
    "to_epcis",
    "to_pact",
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
    "image", "note",
)  # fmt: skip
TIME_COLUMNS: Final = frozenset({"hasBeginning", "hasEnd", "hasPointInTime"})


def to_csv(
    events: Iterable[tuple[str, EconomicEvent]], *, authors: Mapping[str, str] | None = None
) -> str:
    """One row per event, in the order given, with VF column names (quantities split into
    value and unit, times in ISO 8601 UTC, classifications joined by "|"); RFC 4180 quoting
    and CRLF line ends, as the csv module writes them."""
    authors = authors or {}
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
        writer.writerow(row)
    return out.getvalue()
