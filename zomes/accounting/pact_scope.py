"""The scope and data quality of a PACT footprint, read from coledger's records.

- Geography (PACT 3.0.3 CarbonFootprint scope; Methodology 3.2.3): a location label names
  its geography in its last comma-separated part: an ISO 3166-1 alpha-2 country code
  ("Moulin de Vaux, Dijon, FR"), an ISO 3166-2 subdivision code ("..., FR-BFC") or a UN
  region or subregion as PACT spells it ("..., Western Europe"). Any other label says none.
- Primary data share (Methodology 4.2.2): the share of the emissions computed from activity
  data recorded in the chain (consumption events of the product's processes, times their
  inputs' declared factors) rather than from a resource's declared footprint alone.
- Data quality ratings (Methodology 4.2.3): each part of the footprint rated 1 (good), 2
  (fair) or 3 (poor) on the scale's best three levels, weighted by its emissions (see
  `part_ratings`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal

from zomes.accounting.common import from_base, to_base
from zomes.accounting.dataset import Dataset, event_time
from zomes.accounting.footprint import FootprintPart, FootprintReport
from zomes.accounting.formatting import iso_time, round_half_up, text
from zomes.valueflows.units import UNITS, Measure

# ISO 3166-1 alpha-2, as tzdata's iso3166.tab lists them (ISO/TC 46 N1108, 2023-04-05).
ISO_3166_1: Final = frozenset(
    (  # noqa: SIM905 (a list of 249 strings would fill a page)
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
        "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
        "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
        "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
        "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
        "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
        "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
        "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
        "VN VU WF WS YE YT ZA ZM ZW"
    ).split()
)
UN_REGIONS: Final = (
    "Africa", "Americas", "Asia", "Europe", "Oceania", "Australia and New Zealand",
    "Central Asia", "Eastern Asia", "Eastern Europe", "Latin America and the Caribbean",
    "Melanesia", "Micronesia", "Northern Africa", "Northern America", "Northern Europe",
    "Polynesia", "South-eastern Asia", "Southern Asia", "Southern Europe", "Sub-Saharan Africa",
    "Western Asia", "Western Europe",
)  # fmt: skip
# (PACT 3.0.3 geographyRegionOrSubregion: UN M49 regions and subregions)
_REGIONS: Final = {region.casefold(): region for region in UN_REGIONS}
_SUBDIVISION: Final = re.compile(r"([A-Z]{2})-[A-Z0-9]{1,3}")
MADE_BY: Final = frozenset({"produce", "separate", "raise"})  # (and a transfer in)
TENTH: Final = Decimal("0.1")  # PACT's examples give shares and ratings to one place

GeographyField = Literal[
    "geographyCountry", "geographyCountrySubdivision", "geographyRegionOrSubregion"
]


@dataclass(frozen=True, slots=True)
class Geography:
    """One of PACT's three geographies: the CarbonFootprint property and its value."""

    field: GeographyField
    value: str


def geography_of(label: str | None) -> Geography | None:
    """The geography a location label names in its last comma-separated part, if any."""
    if not label:
        return None
    last = label.rsplit(",", 1)[-1].strip()
    if len(last) == 2 and last in ISO_3166_1:
        return Geography("geographyCountry", last)
    match = _SUBDIVISION.fullmatch(last)
    if match is not None and match[1] in ISO_3166_1:
        return Geography("geographyCountrySubdivision", last)
    region = _REGIONS.get(last.casefold())
    return Geography("geographyRegionOrSubregion", region) if region is not None else None


def common_geography(labels: Iterable[str | None]) -> Geography | None:
    """The geography all located labels agree on (None when none has one or they differ:
    a footprint made in two countries is left without one, i.e. global)."""
    found = {geography_of(label) for label in labels if label}
    return found.pop() if len(found) == 1 and None not in found else None


@dataclass(frozen=True, slots=True)
class PactScope:
    """What the records say beyond the report: the product's mass per unit of its resource
    (kg) and its resource specification's name, its geography, where and when each event
    of the report's parts happened, the declared footprints used (as PACT
    EmissionFactorSources: name, version) and the names of the processes and
    specifications (addresses otherwise)."""

    mass_per_unit: Fraction | None = None
    spec_name: str | None = None
    geography: Geography | None = None
    event_places: Mapping[str, str | None] = field(default_factory=dict)
    event_times: Mapping[str, int] = field(default_factory=dict)
    factor_sources: tuple[tuple[str, str], ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)


def scope_of(ds: Dataset, resource: str, report: FootprintReport) -> PactScope:
    """The PACT scope of `resource`'s footprint from the gathered records: its
    specification's mass per unit, the geography of the places it was made (produced,
    raised or received), and the places, times and declared footprints of the parts."""
    entry = ds.resources[resource]
    places = [entry.current_location]
    for event in ds.events.values():
        if event.resource_inventoried_as == resource and event.action in MADE_BY:
            places.append(event.at_location)
        elif event.to_resource_inventoried_as == resource:
            places.append(event.to_location or event.at_location)
    spec = ds.specs.get(entry.conforms_to or "")
    mass = None
    if spec is not None and spec.mass_per_unit is not None and spec.default_unit_of_resource:
        per = spec.default_unit_of_resource
        if UNITS[per].dimension == UNITS[entry.unit_of_resource].dimension:
            kilograms = from_base(to_base(spec.mass_per_unit), "kilogram")
            mass = kilograms * from_base(to_base(Measure.of(1, entry.unit_of_resource)), per)
    parts = [p.event for p in report.parts if p.event in ds.events]
    sources = []
    for spec_address, address in sorted(ds.spec_footprint_addresses().items()):
        if any(p.spec == spec_address and p.footprint.get("emissions") for p in report.parts):
            who = ds.authors.get(address, "")
            name = ds.specs[spec_address].name if spec_address in ds.specs else spec_address
            sources.append(
                (
                    f"coledger declared footprint of {name}, by {ds.names.get(who) or who}",
                    iso_time(ds.created_at[address]),
                )
            )
    names = {a: p.name for a, p in ds.processes.items()} | {a: s.name for a, s in ds.specs.items()}
    return PactScope(
        mass_per_unit=mass,
        spec_name=spec.name if spec is not None else None,
        geography=common_geography(places),
        event_places={e: ds.events[e].at_location for e in parts if e is not None},
        event_times={e: event_time(ds.events[e]) for e in parts if e is not None},
        factor_sources=tuple(sources),
        names=names,
    )


def _emissions(part: FootprintPart) -> Fraction:
    return abs(part.footprint.get("emissions", Fraction(0)))


def primary_data_share(report: FootprintReport) -> Decimal:
    """Percent of the emissions from recorded activity data (consumed inputs)."""
    total = sum((_emissions(p) for p in report.parts), Fraction(0))
    if total == 0:
        return Decimal(0)
    primary = sum((_emissions(p) for p in report.parts if p.source == "input"), Fraction(0))
    return round_half_up(primary * 100 / total, TENTH)


@dataclass(frozen=True, slots=True)
class Ratings:
    technological: int
    geographical: int
    temporal: int


def part_ratings(
    part: FootprintPart,
    where: Geography | None,
    product: Geography | None,
    period: tuple[int, int] | None,
    when: int | None,
) -> Ratings:
    """A part's ratings. A consumed input (activity data from the product's own processes,
    times a factor declared per resource specification, not measured at the supplier):
    technological 2; temporal 1 if the event lies in the reference period, else 3;
    geographical 1 if its event's location names the product's geography, 2 if it names
    another, 3 if none. A declared footprint alone (no activity recorded): 3, 3, 3."""
    if part.source != "input":
        return Ratings(3, 3, 3)
    in_period = period is not None and when is not None and period[0] <= when <= period[1]
    geographical = 3 if where is None else 1 if where == product else 2
    return Ratings(2, geographical, 1 if in_period else 3)


def data_quality(
    report: FootprintReport,
    *,
    product: Geography | None,
    event_places: Mapping[str, str | None],
    event_times: Mapping[str, int],
    period: tuple[int, int] | None,
) -> dict[str, str] | None:
    """PACT DataQualityIndicators: each rating weighted by the parts' emissions (equally
    when there are none); None when the footprint has no parts."""
    if not report.parts:
        return None
    weights = [_emissions(p) for p in report.parts]
    if sum(weights) == 0:
        weights = [Fraction(1)] * len(report.parts)
    ratings = [
        part_ratings(
            p,
            geography_of(event_places.get(p.event or "")),
            product,
            period,
            event_times.get(p.event or ""),
        )
        for p in report.parts
    ]
    total = sum(weights, Fraction(0))

    def weighted(axis: str) -> str:
        value = sum(
            (w * getattr(r, axis) for w, r in zip(weights, ratings, strict=True)), Fraction(0)
        )
        return text(round_half_up(value / total, TENTH))

    return {
        "technologicalDQR": weighted("technological"),
        "geographicalDQR": weighted("geographical"),
        "temporalDQR": weighted("temporal"),
    }
