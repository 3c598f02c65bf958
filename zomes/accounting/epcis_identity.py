"""What EPCIS names things by: lots, places, and the EPCIS 2.0 JSON schema that checks a
document.

Goods are named by lot. A resource filled first by a transfer or move of another resource
(a countersigned transfer's `new:` receiving resource, a move into a new resource) is the
same lot as that resource; any other resource is a lot of its own, named by its address.
`epc_class` joins the lot to its resource specification: `urn:coledger:SPEC:lot:LOT`, a
class-level identifier with a lot (as a GS1 LGTIN is a GTIN with a lot), so the sender's
and the receiver's resource are one lot in EPCIS. Places: a location label that is itself a
URN or web IRI is kept; a coledger address (a SpatialThing) becomes `urn:coledger:ADDRESS`;
any other label `urn:coledger:place:` and the label percent-encoded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from zomes.accounting.common import AccountingError
from zomes.accounting.jsonld import URI, node_id, place_iri
from zomes.valueflows.actions import ACTIONS
from zomes.valueflows.entries import EconomicEvent, EconomicResource

SCHEMA_PATH: Final = Path(__file__).with_name("schemas") / "epcis-2.0-json-schema.json"
# actions whose goods arrive in toResourceInventoriedAs as they were: the same lot
CARRIERS: Final = frozenset({"transfer", "transferAllRights", "transferCustody", "move"})


class Lots:
    """The lot of each resource the events name, and its EPCIS class (see the module)."""

    def __init__(
        self, events: Iterable[tuple[str, EconomicEvent]],
        resources: Mapping[str, EconomicResource],
    ) -> None:  # fmt: skip
        self._from: dict[str, str] = {}  # resource -> the resource it was first filled from
        self._resources = resources
        filled: set[str] = set()
        for _, event in events:
            source, target = event.resource_inventoried_as, event.to_resource_inventoried_as
            if event.corrects is not None or source is None:
                continue
            if event.action in CARRIERS and target is not None and target != source:
                if target not in filled:
                    self._from[target] = source
                filled.add(target)
            elif "increment" in (ACTIONS[event.action].accounting_effect,
                                 ACTIONS[event.action].onhand_effect):
                filled.add(source)
        self._specs: dict[str, str] = {}
        for address in sorted(resources):
            spec = resources[address].conforms_to
            if spec is not None:
                self._specs.setdefault(self.lot(address), spec)
        for address in resources:  # the lot's own resource, where known, says it first
            if self.lot(address) == address and resources[address].conforms_to is not None:
                self._specs[address] = str(resources[address].conforms_to)

    def lot(self, resource: str) -> str:
        """The address of the resource whose goods `resource` holds (itself if none)."""
        seen = {resource}
        while (earlier := self._from.get(resource)) is not None and earlier not in seen:
            seen.add(earlier)
            resource = earlier
        return resource

    def epc_class(self, resource: str | None, spec: str | None = None) -> str:
        """The lot-level class of `resource`'s goods, or the class of `spec` alone."""
        if resource is None:
            if spec is None:
                raise AccountingError("an EPCIS quantity needs a resource or a specification")
            return node_id(spec)
        lot = self.lot(resource)
        spec = self._specs.get(lot, spec)
        return node_id(f"{spec}:lot:{lot}") if spec is not None else node_id(f"lot:{lot}")


def place(label: str | None) -> dict[str, str] | None:
    """A readPoint / bizLocation object for `label`."""
    return None if label is None else {"id": place_iri(label)}


@cache
def epcis_schema() -> dict[str, Any]:
    """GS1's EPCIS 2.0 JSON schema (github.com/gs1/EPCIS, EPCIS-JSON-Schema.json)."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or URI.match(value) is not None


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value and moment.tzinfo is not None


def validate_epcis(document: Mapping[str, Any]) -> None:
    """Raise AccountingError (one line) unless `document` passes the EPCIS 2.0 JSON schema,
    its `uri` and `date-time` formats checked too (jsonschema checks them only with extras
    this project does not install)."""
    import jsonschema  # type: ignore[import-untyped]

    checker = jsonschema.FormatChecker(formats=())
    checker.checks("uri")(_is_uri)
    checker.checks("date-time")(_is_date_time)
    validator = jsonschema.Draft7Validator(epcis_schema(), format_checker=checker)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(document)"
        raise AccountingError(f"not a valid EPCIS 2.0 document: {where}: {error.message}")
