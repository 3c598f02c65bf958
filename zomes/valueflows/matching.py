"""Matching for a circular economy: which open offers could answer which open requests,
ranked by how well they fit (resource, unit dimension, quantity, time window, location),
each match saying why, with the offer's footprint per unit where one is declared.

Pure: it scores the rows a listing (zomes/valueflows/offers.py `list_proposals`) answers;
the caller decides whose requests and offers are paired (this cooperative's against the
network's, both ways). A pair whose quantities are of different dimensions never matches.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final, Protocol

from zomes.valueflows.offers import (
    Fetch,
    FetchMany,
    LinksPage,
    Lister,
    in_threads,
    list_proposals,
)
from zomes.valueflows.units import Measure, UnitError, compatible, convert, parse_quantity

SAME_SPEC: Final = 3
SHARED_CLASS: Final = 1
COVERS: Final = 2
COVERS_MINIMUM: Final = 1
WINDOWS_OVERLAP: Final = 2
OPEN_ENDED: Final = 1
SAME_PLACE: Final = 2
PLACE_UNKNOWN: Final = 1

Row = Mapping[str, Any]
"""One proposal as a listing shows it (proposal, author, spec, quantity, available,
minimum, unit_based, classes, location, has_beginning, has_end)."""


class PerUnit(Protocol):
    """A footprint per one unit of a resource (accounting's SpecFootprint is one)."""

    def per_unit(self, unit: str) -> Mapping[str, Fraction]: ...


@dataclass(frozen=True)
class Fit:
    """How well one factor fits: its points and why, in words."""

    score: int
    why: str


@dataclass(frozen=True)
class Match:
    """An offer that could answer a request, with the fit of each factor."""

    request: Row
    offer: Row
    fits: dict[str, Fit]
    footprint: dict[str, str] | None  # the offer's footprint per one unit of its quantity

    @property
    def score(self) -> int:
        return sum(fit.score for fit in self.fits.values())

    def to_json(self) -> dict[str, Any]:
        """The match as plain data: both proposals, the score, each factor's fit."""
        return {
            "score": self.score,
            "request": self.request["proposal"], "requested_by": self.request["author"],
            "offer": self.offer["proposal"], "offered_by": self.offer["author"],
            "held": bool(self.offer.get("held")), "planned": bool(self.offer.get("planned")),
            "surplus": self.offer.get("surplus"),
            "spec": self.offer["spec"], "request_spec": self.request["spec"],
            "offered": _amount(self.offer), "requested": _amount(self.request),
            "location": self.offer["location"],
            "fits": {name: {"score": f.score, "why": f.why} for name, f in self.fits.items()},
            "footprint_per_unit": self.footprint,
        }


def _amount(row: Row) -> str | None:
    """The quantity a row offers or asks in all (an offer's available, else its quantity)."""
    text = row.get("available") if row.get("purpose") == "offer" else None
    return text or row.get("quantity") or row.get("available")


def _measure(text: str | None) -> Measure | None:
    if not text:
        return None
    try:
        return parse_quantity(text)
    except UnitError:
        return None


def resource_fit(request: Row, offer: Row) -> Fit | None:
    """Same resource specification, else a shared classification; None: no match."""
    if request.get("spec") is not None and request.get("spec") == offer.get("spec"):
        return Fit(SAME_SPEC, "same resource specification")
    shared = sorted(set(request.get("classes") or ()) & set(offer.get("classes") or ()))
    if shared:
        return Fit(SHARED_CLASS, "shared classification: " + ", ".join(shared))
    return None


def quantity_fit(request: Row, offer: Row) -> tuple[Fit, Fit] | None:
    """(unit, quantity) fits; None when the quantities are unknown or of different
    dimensions (never a match)."""
    asked, given = _measure(_amount(request)), _measure(_amount(offer))
    if asked is None or given is None or not compatible(asked.has_unit, given.has_unit):
        return None
    unit = Fit(0, f"{given.has_unit} and {asked.has_unit} convert")
    if offer.get("unit_based"):
        return unit, Fit(COVERS, f"{given} each: any quantity")
    offered = convert(given.value, given.has_unit, asked.has_unit)
    least = _measure(offer.get("minimum"))
    if least is not None and compatible(least.has_unit, asked.has_unit) and (
            convert(least.value, least.has_unit, asked.has_unit) > asked.value):
        return unit, Fit(0, f"the offer's minimum {least} is more than the {asked} asked")
    if offered >= asked.value:
        return unit, Fit(COVERS, f"{given} covers the {asked} asked")
    minimum = _measure(request.get("minimum"))
    if minimum is not None and compatible(minimum.has_unit, asked.has_unit) and (
            offered >= convert(minimum.value, minimum.has_unit, asked.has_unit)):
        return unit, Fit(COVERS_MINIMUM, f"{given} covers the minimum {minimum}")
    return unit, Fit(0, f"{given} is part of the {asked} asked")


def time_fit(request: Row, offer: Row) -> Fit:
    """Both windows bounded and overlapping; open-ended (one side or both unbounded,
    overlapping); or disjoint."""
    rb, re_, ob, oe = (request.get("has_beginning"), request.get("has_end"),
                       offer.get("has_beginning"), offer.get("has_end"))
    starts = max((t for t in (rb, ob) if t is not None), default=None)
    ends = min((t for t in (re_, oe) if t is not None), default=None)
    if starts is not None and ends is not None and ends <= starts:
        return Fit(0, "the windows do not overlap")
    if None in (rb, re_, ob, oe):
        return Fit(OPEN_ENDED, "open-ended windows")
    return Fit(WINDOWS_OVERLAP, "the windows overlap")


def location_fit(request: Row, offer: Row) -> Fit:
    """The same place (text, case and spaces aside), unknown on either side, or elsewhere."""
    asked, given = request.get("location"), offer.get("location")
    if not asked or not given:
        return Fit(PLACE_UNKNOWN, "location unknown")
    if " ".join(asked.split()).casefold() == " ".join(given.split()).casefold():
        return Fit(SAME_PLACE, "same location")
    return Fit(0, f"elsewhere ({given})")


def _footprint(offer: Row, footprints: Mapping[str, PerUnit]) -> dict[str, str] | None:
    spec, given = offer.get("spec"), _measure(offer.get("quantity") or offer.get("available"))
    declared = footprints.get(spec) if spec is not None else None
    if declared is None or given is None:
        return None
    try:
        vector = declared.per_unit(given.has_unit)
    except (ValueError, ArithmeticError):
        return None
    return {key: _decimal(amount) for key, amount in sorted(vector.items())}


def _decimal(amount: Fraction) -> str:
    value = Decimal(amount.numerator) / Decimal(amount.denominator)
    return format(value.normalize(), "f") if value else "0"


def pair(request: Row, offer: Row,
         footprints: Mapping[str, PerUnit] | None = None) -> Match | None:
    """The match of `offer` to `request`, or None when it cannot answer it (another
    resource, unknown quantities or another dimension, the same author)."""
    if request.get("author") == offer.get("author"):
        return None
    resource = resource_fit(request, offer)
    amounts = quantity_fit(request, offer)
    if resource is None or amounts is None:
        return None
    unit, quantity = amounts
    fits = {"resource": resource, "unit": unit, "quantity": quantity,
            "time": time_fit(request, offer), "location": location_fit(request, offer)}
    return Match(request, offer, fits, _footprint(offer, footprints or {}))


def rank(requests: Iterable[Row], offers: Iterable[Row],
         footprints: Mapping[str, PerUnit] | None = None) -> list[Match]:
    """Every match of an offer to a request, best first: by score, then by the request's
    and the offer's addresses (deterministic whatever order the rows came in)."""
    offered = list(offers)
    found = [m for r in requests for o in offered if (m := pair(r, o, footprints)) is not None]
    return sorted(found, key=lambda m: (-m.score, str(m.request["proposal"]),
                                        str(m.offer["proposal"])))


SURPLUS: Final = ("byproduct", "waste")
"""Classifications of a held resource that has no planned use: offered to matching."""


def held_row(me: str, resource: Mapping[str, Any], labels: Iterable[str]
             ) -> dict[str, Any] | None:
    """One resource of `me`'s inventory as an offer row (its address in place of a
    proposal's, `held` true), classified `labels`; None when nothing is on hand."""
    try:
        measure = Measure.model_validate(resource.get("onhandQuantity") or {})
    except ValueError:
        return None
    if measure.value <= 0:
        return None
    return {
        "proposal": str(resource["address"]), "purpose": "offer", "author": me,
        "held": True, "name": resource.get("name"), "spec": resource.get("conformsTo"),
        "quantity": str(measure), "available": str(measure), "minimum": None,
        "unit_based": False, "classes": sorted(set(labels)),
        "location": resource.get("currentLocation"), "has_beginning": None,
        "has_end": None}


def held_rows(me: str, inventory: Iterable[Mapping[str, Any]],
              classes: Mapping[str, Iterable[str]]) -> list[dict[str, Any]]:
    """`me`'s resources on hand classified byproduct or waste (`classes`: a resource's
    address -> its classifications), as offer rows (`held_row`) that matching pairs with
    the network's requests."""
    rows = []
    for resource in inventory:
        labels = set(classes.get(str(resource.get("address")), ()))
        row = held_row(me, resource, labels) if labels & set(SURPLUS) else None
        if row is not None:
            rows.append(row)
    return rows


def find(me: str, offers: Iterable[Row], requests: Iterable[Row], held: Iterable[Row] = (),
         footprints: Mapping[str, PerUnit] | None = None) -> list[Match]:
    """For `me`: the others' offers that could answer its requests, then the others'
    requests its offers and `held` surplus could answer, each part ranked."""
    offered, asked = list(offers), list(requests)
    mine = [o for o in offered if o["author"] == me] + list(held)
    return [*rank([r for r in asked if r["author"] == me],
                  [o for o in offered if o["author"] != me], footprints),
            *rank([r for r in asked if r["author"] != me], mine, footprints)]


MAX_FOOTPRINT_CHAINS: Final = 16
"""Chains match reads at most for the footprints of the offers it found."""


def footprint_authors(me: str, matches: Iterable[Match],
                      footprints: Mapping[str, PerUnit]) -> list[str]:
    """The others whose offers matched with a specification of no footprint known here:
    whose chains to read for one (a specification's footprint is declared on its author's
    chain, most often the offerer's), best match first, at most MAX_FOOTPRINT_CHAINS."""
    authors = [m.offer["author"] for m in matches
               if m.offer.get("spec") and m.offer["spec"] not in footprints
               and m.offer["author"] != me]
    return list(dict.fromkeys(authors))[:MAX_FOOTPRINT_CHAINS]


def candidates(me: str, links_page: LinksPage, fetch: Fetch, held: Iterable[Row] = (),
               workers: int = 1, fetch_many: FetchMany | None = None,
               listing: Lister | None = None,
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(offers, requests) `find` needs for `me`, read through a Client's two callables:
    its own open proposals (from the listings of all, only its links' targets fetched),
    then the others' under each specification and classification its requests, offers and
    `held` surplus name (each base asked once, each record fetched once). `workers` > 1:
    that many listings read at once (offers.in_threads); `fetch_many`: each listing's
    records read in batches (offers.prefetched); `listing`: each listing read whole by it
    instead (Client.proposals: one request to the node each)."""
    once = _Once(fetch, fetch_many)
    many = None if fetch_many is None else once.many

    def read(purpose: str, spec: str | None, label: str | None,
             author: str | None = None) -> list[dict[str, Any]]:
        if listing is not None:
            return listing(purpose, spec, label, author)
        return list_proposals(purpose, spec, label, links_page, once, author=author,
                              fetch_many=many)

    mine = {p: read(p, None, None, me) for p in ("offer", "request")}
    wanted: dict[str, list[Row]] = {"offer": [*mine["request"]],
                                    "request": [*mine["offer"], *held]}
    asks = [(purpose, spec, label) for purpose, rows in wanted.items()
            for spec, label in sorted(
                {(r["spec"], None) for r in rows if r.get("spec")}
                | {(None, label) for r in rows for label in r.get("classes") or ()},
                key=lambda b: (b[0] or "", b[1] or ""))]

    listed = in_threads(lambda ask: read(*ask), asks, workers)  # (in order, any timing)
    found: dict[str, dict[str, dict[str, Any]]] = {"offer": {}, "request": {}}
    for (purpose, _, _), rows in zip(asks, listed, strict=True):
        for row in rows:
            found[purpose].setdefault(row["proposal"], row)
    return ([*mine["offer"], *found["offer"].values()],
            [*mine["request"], *found["request"].values()])


class _Once:
    """`fetch` (or `fetch_many`) of each address once, whichever thread asks first; the
    others wait for its answer (or its error)."""

    def __init__(self, fetch: Fetch, fetch_many: FetchMany | None = None) -> None:
        self.fetch = fetch
        self.fetch_many = fetch_many
        self.lock = threading.Lock()
        self.seen: dict[str, Future[dict[str, Any] | None]] = {}

    def many(self, addresses: Sequence[str]) -> list[dict[str, Any] | None]:
        """Each address's record, those not asked for yet in one fetch_many call."""
        assert self.fetch_many is not None
        with self.lock:
            new = [a for a in dict.fromkeys(addresses) if a not in self.seen]
            for address in new:
                self.seen[address] = Future()
        if new:
            try:
                views = self.fetch_many(new)
                for address, view in zip(new, views, strict=True):
                    self.seen[address].set_result(view)
            except BaseException as e:
                for address in new:
                    if not self.seen[address].done():
                        self.seen[address].set_exception(e)
                raise
        return [self.seen[a].result() for a in addresses]

    def __call__(self, address: str) -> dict[str, Any] | None:
        with self.lock:
            future = self.seen.get(address)
            first = future is None
            if future is None:
                future = self.seen[address] = Future()
        if first:
            try:
                future.set_result(self.fetch(address))
            except BaseException as e:
                future.set_exception(e)
        return future.result()
