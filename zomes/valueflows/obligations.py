"""Commitments and claims as the coordinator writes and lists them: a claim (and a
commitment naming another party) with its party links (commitments.party_base), and
`coledger commitments`: every commitment and claim an agent is a party to, with what the
events that fulfil or settle it add up to, for both parties.

The listing reads the agent's own chain, then through two callables (a page of links, a
record by address: the caller's Client) the commitments and claims others linked to it
and the events others linked from each one; anything that does not check out is left out.
Pure: no disk, no network of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from node.core.actions import Create
from node.core.cid import Cid
from node.core.errors import CoreError, LocalError
from node.core.records import Record
from node.core.refusals import NoNode, UnknownAction
from node.core.scratch import Scratch
from zomes.valueflows.actions import is_action
from zomes.valueflows.agreements import AGREEMENT_TYPE, clause_address, signed_agreement
from zomes.valueflows.commitments import (
    CLAIM_TYPE,
    COMMITMENT_TYPE,
    EVENT_TYPES,
    PARTY_LINK,
    party_base,
)
from zomes.valueflows.coordinator import field_address, field_measure
from zomes.valueflows.entries import Claim, Commitment, EconomicEvent
from zomes.valueflows.externals import external_names, marked
from zomes.valueflows.messages import describe_error
from zomes.valueflows.units import Measure, UnitError, convert, decimal_string
from zomes.valueflows.zome import NAME, parse, thing_address

MAX_PAGES: Final = 20
"""Pages of links one listing reads at most from one base."""
LinksPage = Callable[[str, str, str | None], dict[str, Any]]
"""(base, link type, after) -> a page of links as Client.links answers it."""
Fetch = Callable[[str], dict[str, Any] | None]
"""an address -> its record as the front door's `get` shows it, or None."""
_MET_BY: Final = {"commitment": ("fulfilment", "fulfills"), "claim": ("settlement", "settles")}


@dataclass(frozen=True)
class ClaimRequest:
    """One `coledger claim` as given on the command line (text, unparsed)."""

    triggered_by: str
    provider: str  # --from: who owes the flow
    quantity: str
    spec: str | None = None
    action: str = "transfer"
    due_us: int | None = None
    note: str | None = None


def _party_links(scratch: Scratch, author: str, target: Cid,
                 parties: Iterable[str | None]) -> list[Cid]:
    """Link `target` from the party base of each party but its author."""
    return [scratch.create_link(party_base(p), target, NAME, PARTY_LINK)
            for p in dict.fromkeys(parties) if p is not None and p != author]


def create_claim(scratch: Scratch, author: str, req: ClaimRequest, now_us: int) -> Cid:
    """Write a claim of `author` (its receiver) on `req.provider`, linked from the
    provider's party base; LocalError naming the option at fault."""
    if not is_action(req.action):
        raise UnknownAction(f"unknown action {req.action!r}")
    try:
        claim = Claim(action=req.action, provider=req.provider, receiver=author,
                      triggered_by=field_address(req.triggered_by, "triggered_by") or "",
                      resource_conforms_to=field_address(req.spec, "spec"),
                      resource_quantity=field_measure(req.quantity, "quantity"),
                      due=req.due_us, created=now_us, note=req.note)
    except ValueError as e:
        raise LocalError(f"bad claim: {describe_error(e)}") from None
    address = scratch.create(CLAIM_TYPE, claim.to_content())
    _party_links(scratch, author, address, (claim.provider,))
    return address


def create_commitment(scratch: Scratch, author: str, commitment: Commitment) -> Cid:
    """Write a standalone commitment, linked from its other party's base."""
    address = scratch.create(COMMITMENT_TYPE, commitment.to_content())
    _party_links(scratch, author, address, (commitment.provider, commitment.receiver))
    return address


# -- the listing ---------------------------------------------------------------------


@dataclass
class _Item:
    kind: str  # commitment | claim
    address: str
    author: str
    entry: Commitment | Claim
    events: dict[str, EconomicEvent]


def own_items(me: str, records: Iterable[Record]) -> tuple[list[_Item], list[tuple[str, str,
                                                                                  EconomicEvent]]]:
    """The commitments and claims of `me`'s chain it is a party to, and its events
    (address, author, event)."""
    items: list[_Item] = []
    events = []
    for record in records:
        action = record.action
        if not isinstance(action, Create) or record.entry is None:
            continue
        try:
            if action.entry_type in (COMMITMENT_TYPE, CLAIM_TYPE):
                entry = parse(action.entry_type, record.entry.value)
                assert isinstance(entry, Commitment | Claim)
                if me in (entry.provider, entry.receiver):
                    kind = "claim" if isinstance(entry, Claim) else "commitment"
                    items.append(_Item(kind, str(record.address), me, entry, {}))
            elif action.entry_type in EVENT_TYPES:
                event = parse(action.entry_type, record.entry.value)
                assert isinstance(event, EconomicEvent)
                events.append((thing_address(action, record.address), me, event))
        except ValueError:
            continue
    return items, events


def clause_items(me: str, records: Iterable[Record]) -> list[_Item]:
    """The clauses of the countersigned agreements on `me`'s chain it is a party to, each
    named by the entry address of its commitment (what an event's `fulfills` names)."""
    items: list[_Item] = []
    for record in records:
        if getattr(record.action, "entry_type", None) != AGREEMENT_TYPE or record.entry is None:
            continue
        found = signed_agreement(record.entry.value)
        for clause in found[0].clauses if found is not None else ():
            if me in (clause.provider, clause.receiver):
                items.append(_Item("commitment", str(clause_address(clause)), me, clause, {}))
    return items


def _pages(links_page: LinksPage, base: str, link_type: str) -> list[tuple[str, str]]:
    """(target, author) of the links of `link_type` from `base`, distinct."""
    found: dict[str, str] = {}
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = links_page(base, link_type, after)
        for link in page.get("links", []):
            found.setdefault(str(link.get("target")), str(link.get("author")))
        after = page.get("next")
        if after is None:
            break
    return list(found.items())


def _fetched(fetch: Fetch, address: str, author: str,
             types: Iterable[str]) -> tuple[str, Any] | None:
    """(entry type, entry) of the record at `address` if a Create of one of `types` by
    `author`."""
    try:
        found = fetch(address)
    except CoreError:
        return None
    if not isinstance(found, dict):
        return None
    action, entry = found.get("action"), found.get("entry")
    if (not isinstance(action, dict) or action.get("entry_type") not in set(types)
            or action.get("author") != author or action.get("type", "Create") != "Create"):
        return None
    return str(action["entry_type"]), entry


def linked_items(me: str, known: set[str], links_page: LinksPage,
                 fetch: Fetch) -> list[_Item]:
    """The commitments and claims others wrote naming `me` (its party base's links)."""
    items = []
    for target, author in _pages(links_page, str(party_base(me)), PARTY_LINK):
        if target in known:
            continue
        found = _fetched(fetch, target, author, (COMMITMENT_TYPE, CLAIM_TYPE))
        if found is None:
            continue
        try:
            entry = parse(*found)
        except ValueError:
            continue
        if isinstance(entry, Commitment | Claim) and me in (entry.provider, entry.receiver):
            kind = "claim" if isinstance(entry, Claim) else "commitment"
            items.append(_Item(kind, target, author, entry, {}))
            known.add(target)
    return items


def _linked_events(item: _Item, links_page: LinksPage, fetch: Fetch) -> None:
    """Add to `item` the events its base's links point to that really meet it."""
    link_type, field = _MET_BY[item.kind]
    for target, author in _pages(links_page, item.address, link_type):
        if target in item.events:
            continue
        found = _fetched(fetch, target, author, EVENT_TYPES)
        if found is None:
            continue
        try:
            event = parse(*found)
        except ValueError:
            continue
        if isinstance(event, EconomicEvent) and getattr(event, field) == item.address:
            item.events[target] = event


def _sum(entry: Commitment | Claim, events: Iterable[EconomicEvent]) -> tuple[
        Measure | None, Decimal]:
    """The planned quantity and what the events add up to in its unit."""
    name = "resource_quantity" if entry.resource_quantity is not None else "effort_quantity"
    planned: Measure | None = getattr(entry, name)
    total = Decimal(0)
    if planned is None:
        return None, total
    for event in events:
        measure: Measure | None = getattr(event, name)
        if measure is None:
            continue
        try:
            total += convert(measure.value, measure.has_unit, planned.has_unit)
        except UnitError:
            continue
    return planned, total


def row(item: _Item, now_us: int) -> dict[str, Any]:
    """One commitment or claim as `coledger commitments` shows it."""
    entry = item.entry
    planned, done = _sum(entry, item.events.values())
    remaining = None if planned is None else max(Decimal(0), planned.value - done)
    unit = None if planned is None else planned.has_unit
    is_open = (not entry.finished and (remaining > 0 if remaining is not None
                                       else not item.events))
    return {
        "kind": item.kind, "address": item.address, "author": item.author,
        "action": entry.action, "provider": entry.provider, "receiver": entry.receiver,
        "spec": entry.resource_conforms_to,
        "committed": None if planned is None else planned.to_content(),
        "fulfilled": None if unit is None else Measure.of(done, unit).to_content(),
        "remaining": None if remaining is None or unit is None
        else Measure.of(remaining, unit).to_content(),
        "due": entry.due,
        "overdue": bool(is_open and entry.due is not None and entry.due < now_us),
        "open": is_open,
        "events": sorted(item.events),
        "note": entry.note,
    }


def list_obligations(me: str, records: Iterable[Record], now_us: int,
                     links_page: LinksPage | None, fetch: Fetch | None,
                     everything: bool = False) -> list[dict[str, Any]]:
    """Every commitment and claim `me` is a party to (open ones; `everything`: all), with
    committed, fulfilled and remaining quantities; `links_page` and `fetch` None: from
    the own chain alone (no node runs)."""
    records = list(records)
    items, events = own_items(me, records)
    items += clause_items(me, records)
    if links_page is not None and fetch is not None:
        items += linked_items(me, {i.address for i in items}, links_page, fetch)
    by_address = {i.address: i for i in items}
    for address, _, event in events:
        for kind, (_, field) in _MET_BY.items():
            item = by_address.get(getattr(event, field) or "")
            if item is not None and item.kind == kind:
                item.events[address] = event
    if links_page is not None and fetch is not None:
        for item in items:
            _linked_events(item, links_page, fetch)
    names = external_names(records)
    rows = [marked(row(i, now_us), names) for i in items]
    rows.sort(key=lambda r: (r["due"] is None, r["due"] or 0, r["address"]))
    return [r for r in rows if everything or r["open"]]


def list_through(me: str, records: Sequence[Record], now_us: int,
                 links: Callable[..., dict[str, Any]], fetch: Fetch,
                 everything: bool = False) -> list[dict[str, Any]]:
    """list_obligations through a Client's `links(base, link_type, after=...)` and `get`'s
    view; from the own chain alone when no node runs (NoNode from the first links read)."""

    def links_page(base: str, link_type: str, after: str | None) -> dict[str, Any]:
        return links(base, link_type, after=after)

    try:
        return list_obligations(me, records, now_us, links_page, fetch, everything)
    except NoNode:
        return list_obligations(me, records, now_us, None, None, everything)


def quantity_text(measure: dict[str, Any] | None) -> str:
    """A measure's JSON form as "12.5 kilogram" ("" for none)."""
    if measure is None:
        return ""
    return f"{decimal_string(Decimal(measure['hasNumericalValue']))} {measure['hasUnit']}"
