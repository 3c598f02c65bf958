"""A footprint report as a PACT 3.0.3 ProductFootprint (WBCSD PACT Technical Specifications).

The document is checked against the ProductFootprint JSON schema transcribed from the PACT
3.0.3 OpenAPI file (schemas/pact-3.0.3-product-footprint.schema.json, its `x-rule`
annotations kept) before it is returned, and follows the rules the schema cannot check:
the mass of the declared unit (a piece's, a litre's: from the resource specification's
mass per unit, else refused; 0 for energy, transport and hours), `primaryDataShare`, the data
quality indicators and the geography (pact_scope.py), `ccsTechnologicalCO2CaptureIncluded`
false with no CCS or CCU property (coledger records no carbon capture), no packaging
emissions, and the secondary emission factors named (each declared footprint used).
What coledger knows is the emissions of the resource per unit (kgCO2e), all taken as fossil:
pcfExcludingBiogenicUptake = pcfIncludingBiogenicUptake = fossilGhgEmissions; the biogenic
and land properties are left out (blank means unknown in PACT). PACT 3.0 dropped `version`
(every change is a new id) and replaced productCategoryCpc with productClassifications URNs:
a CPC code is given as `urn:pact:productclassification:un-cpc:<code>`. The id is a UUID
derived from the resource, the time and the declared unit, so the same report always gets
the same id.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Final

from zomes.accounting.common import AccountingError
from zomes.accounting.footprint import FootprintReport
from zomes.accounting.formatting import iso_time, shown, text
from zomes.accounting.pact_scope import Geography, PactScope, data_quality, primary_data_share
from zomes.valueflows.units import UNITS

SPEC_VERSION: Final = "3.0.3"
SCHEMA_PATH: Final = Path(__file__).parent / "schemas" / "pact-3.0.3-product-footprint.schema.json"
CPC_URN: Final = "urn:pact:productclassification:un-cpc:"
ID_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:coledger:pact")

# PACT declared units and the coledger unit each is measured in.
DECLARED_UNITS: Final[dict[str, str]] = {
    "kilogram": "kilogram",
    "liter": "litre",
    "cubic meter": "cubicMetre",
    "kilowatt hour": "kilowattHour",
    "megajoule": "megajoule",
    "ton kilometer": "tonneKilometre",
    "square meter": "squareMetre",
    "piece": "one",
    "hour": "hour",
}
# Declared units whose mass PACT requires (Methodology table 4); the others declare 0.
MASS_REQUIRED: Final = frozenset({"piece", "liter", "cubic meter", "square meter"})
_BY_DIMENSION: Final[dict[str, str]] = {
    "mass": "kilogram", "volume": "liter", "energy": "megajoule", "mass × length": "ton kilometer",
    "area": "square meter", "dimensionless": "piece", "time": "hour",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PactProduct:
    """The product as PACT names it: ids and classifications are URNs."""

    name: str
    description: str
    ids: tuple[str, ...]
    cpc: str | None = None
    classifications: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PactCompany:
    name: str
    ids: tuple[str, ...]


NO_SCOPE: Final = PactScope()  # (a report alone: no mass, geography or places known)


def declared_unit_for(unit: str) -> str:
    """The PACT declared unit for a resource measured in a coledger unit."""
    for declared, ours in DECLARED_UNITS.items():
        if ours == unit:
            return declared
    by_dimension = _BY_DIMENSION.get(UNITS[unit].dimension)
    if by_dimension is None:
        raise AccountingError(f"PACT has no declared unit for resources measured in {unit}")
    return by_dimension


def to_pact(
    report: FootprintReport,
    *,
    product: PactProduct,
    company: PactCompany,
    created_us: int,
    declared_unit_amount: Decimal = Decimal(1),
    product_mass_per_declared_unit: Decimal | None = None,
    reference_period: tuple[int, int] | None = None,
    fossil_carbon_content: Decimal = Decimal(0),
    exempted_emissions_percent: Decimal = Decimal(0),
    ipcc_characterization_factors: tuple[str, ...] = ("AR6",),
    cross_sectoral_standards: tuple[str, ...] = ("GHGP-Product", "PACT-3.0"),
    geography_country: str | None = None,
    comment: str | None = None,
    status: str = "Active",
    scope: PactScope = NO_SCOPE,
) -> dict[str, Any]:
    """A validated PACT ProductFootprint for the resource of `report`, per
    `declared_unit_amount` of its declared unit. The reference period defaults to the span
    of the events the report rolled up. Refused (AccountingError, one line) when the
    declared unit needs a mass nobody declared."""
    declared = declared_unit_for(report.unit)
    amount_in_unit = _in_resource_unit(declared_unit_amount, declared, report.unit)
    emissions = report.per_unit.get("emissions", Fraction(0)) * amount_in_unit
    if emissions < 0:
        raise AccountingError("net negative emissions cannot be declared as fossilGhgEmissions")
    period = reference_period or report.period
    if period is None:
        raise AccountingError("no event times to take a reference period from: give one")
    if product_mass_per_declared_unit is not None:
        mass = product_mass_per_declared_unit
    else:
        mass = _mass(declared, declared_unit_amount, amount_in_unit, scope, product.name)
    classifications = list(product.classifications)
    if product.cpc is not None:
        classifications.append(CPC_URN + product.cpc)
    identity = f"{report.resource}|{created_us}|{declared_unit_amount}|{declared}"
    document: dict[str, Any] = {
        "id": str(uuid.uuid5(ID_NAMESPACE, identity)),
        "specVersion": SPEC_VERSION,
        "created": iso_time(created_us),
        "status": status,
        "companyName": company.name,
        "companyIds": list(company.ids),
        "productDescription": product.description,
        "productIds": list(product.ids),
        "productNameCompany": product.name,
        "pcf": {
            "declaredUnitOfMeasurement": declared,
            "declaredUnitAmount": text(declared_unit_amount),
            "productMassPerDeclaredUnit": text(mass),
            "referencePeriodStart": iso_time(period[0]),
            "referencePeriodEnd": iso_time(period[1]),
            "pcfExcludingBiogenicUptake": text(emissions),
            "pcfIncludingBiogenicUptake": text(emissions),
            "fossilGhgEmissions": text(emissions),
            "fossilCarbonContent": text(fossil_carbon_content),
            "packagingEmissionsIncluded": False,  # (so no packagingGhgEmissions)
            "ccsTechnologicalCO2CaptureIncluded": False,  # (so no CCS property)
            "ipccCharacterizationFactors": list(ipcc_characterization_factors),
            "crossSectoralStandards": list(cross_sectoral_standards),
            "exemptedEmissionsPercent": text(exempted_emissions_percent),
            "allocationRulesDescription": (
                "Process footprints allocated to outputs by mass, or by declared fractions "
                "where the process has an Allocation"
            ),
            "boundaryProcessesDescription": boundary_description(report, scope.names),
            "primaryDataShare": text(primary_data_share(report)),
        },
    }
    pcf = document["pcf"]
    if classifications:
        document["productClassifications"] = classifications
    geography = scope.geography
    if geography_country is not None:
        geography = Geography("geographyCountry", geography_country)
    if geography is not None:
        pcf[geography.field] = geography.value
    dqi = data_quality(
        report,
        product=geography,
        event_places=scope.event_places,
        event_times=scope.event_times,
        period=period,
    )
    if dqi is not None:
        pcf["dqi"] = dqi
    if scope.factor_sources:
        pcf["secondaryEmissionFactorSources"] = [
            {"name": name, "version": version} for name, version in scope.factor_sources
        ]
    document["comment"] = comment if comment is not None else _comment(report, scope.names)
    validate_pact(document)
    return document


def _mass(
    declared: str,
    amount: Decimal,
    amount_in_unit: Fraction,
    scope: PactScope,
    product: str,
) -> Decimal:
    """productMassPerDeclaredUnit: the declared amount's mass in kg (Methodology table 4)."""
    if declared == "kilogram":
        return amount
    if declared not in MASS_REQUIRED:
        return Decimal(0)  # energy, transport, hours: mass not relevant, PACT says 0
    if scope.mass_per_unit is None:
        fix = (
            f"declare it as the mass per unit of its resource specification ({scope.spec_name})"
            if scope.spec_name is not None
            else "it conforms to no resource specification to declare it"
        )
        raise AccountingError(
            f"PACT declares {product} per {declared} and needs the mass of one {declared} "
            f"(productMassPerDeclaredUnit): {fix}"
        )
    return shown(scope.mass_per_unit * amount_in_unit)


def _named(address: str | None, names: Mapping[str, str]) -> str:
    return names.get(address or "", address or "?")


def boundary_description(report: FootprintReport, names: Mapping[str, str]) -> str:
    """The processes the footprint holds and the inputs each consumed, cradle to gate."""
    inputs: dict[str, set[str]] = {}
    for part in report.parts:
        if part.source == "input":
            inputs.setdefault(_named(part.process, names), set()).add(_named(part.spec, names))
    if not inputs:
        return "No process recorded: the resource's declared footprint per unit"
    steps = "; ".join(
        f"{process}: {', '.join(sorted(specs))}" for process, specs in sorted(inputs.items())
    )
    return f"Cradle to gate, the recorded processes and the inputs they consumed: {steps}"


def _comment(report: FootprintReport, names: Mapping[str, str]) -> str:
    """How the numbers were made, and what they leave out."""
    said = (
        "Computed by coledger from the ValueFlows events the supply chain's cooperatives "
        "recorded: consumed inputs times their specifications' declared footprints, rolled "
        "up through each process. All emissions are taken as fossil; biogenic emissions "
        "and removals, land use change and biogenic CO2 uptake were not assessed (left "
        "blank); packaging is not included; no carbon capture is recorded."
    )
    if report.missing:
        missing = ", ".join(sorted(_named(m, names) for m in report.missing))
        said += f" Inputs with no declared footprint, counted as none: {missing}."
    return said


def _in_resource_unit(amount: Decimal, declared: str, unit: str) -> Fraction:
    declared_unit = DECLARED_UNITS[declared]
    return Fraction(amount) * Fraction(UNITS[declared_unit].factor) / Fraction(UNITS[unit].factor)


@cache
def pact_schema() -> dict[str, Any]:
    """The PACT 3.0.3 ProductFootprint JSON schema shipped with this zome."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def validate_pact(document: dict[str, Any]) -> None:
    """Raise AccountingError (one line) unless `document` is a valid PACT ProductFootprint."""
    import jsonschema  # type: ignore[import-untyped]

    validator = jsonschema.Draft202012Validator(
        pact_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(document)"
        raise AccountingError(f"not a valid PACT ProductFootprint: {where}: {error.message}")
