"""Offers and requests, as the coordinator makes and reads them: a Proposal with its
Intents and its links from the well-known bases (zomes/valueflows/proposals.py), its
withdrawal (those links deleted), and the network's listing of one base, read through
two callables (a page of links, a record by address) the caller's Client provides.

Pure: the ledger checks and flushes what `publish` writes in a scratch; the listing
reads only what its callables answer, and leaves out anything malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from node.core.actions import CreateLink, DeleteLink, Update
from node.core.cid import Cid
from node.core.errors import CoreError, Field, LocalError
from node.core.records import Record
from node.core.refusals import OutOfRange, UnknownAction
from node.core.scratch import Scratch
from zomes.valueflows.actions import is_action
from zomes.valueflows.coordinator import field_address, field_measure
from zomes.valueflows.entries import Intent, Proposal
from zomes.valueflows.messages import describe_error
from zomes.valueflows.proposals import (
    INTENT_TYPE,
    MAX_INTENTS,
    PROPOSAL_LINK,
    PROPOSAL_TYPE,
    proposal_base,
    proposal_bases,
    proposal_tag,
    tag_intents,
)
from zomes.valueflows.units import Measure

ZOME: Final = "valueflows"
MAX_PAGES: Final = 20
"""Pages of links a listing reads at most (20,000 proposals)."""
MAX_WORKERS: Final = 16
"""Threads a match reads its listings in at most (in_threads)."""
GET_BATCH: Final = 256
"""Addresses one fetch_many call asks for at most (the front door's MAX_GET_MANY)."""
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ProposalRequest:
    """One `coledger offer|request` as given on the command line (text, unparsed)."""

    purpose: str  # offer | request
    spec: str
    quantity: str | None = None  # resourceQuantity
    available: str | None = None  # availableQuantity (an offer's; defaults to quantity)
    minimum: str | None = None  # minimumQuantity
    action: str = "transfer"
    reciprocal: str | None = None  # "20 EUR": what is expected in return
    reciprocal_spec: str | None = None
    unit_based: bool = False
    begins_us: int | None = None
    ends_us: int | None = None
    location: str | None = None
    classes: tuple[str, ...] = field(default=())
    name: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Published:
    proposal: Cid
    intents: tuple[Cid, ...]
    reciprocal: tuple[Cid, ...]
    links: tuple[Cid, ...]


def build(author: str, req: ProposalRequest, now_us: int) -> tuple[Proposal, Intent,
                                                                   Intent | None]:
    """The proposal (its intent addresses left empty), its primary intent and its
    reciprocal intent; LocalError naming the option at fault."""
    if req.purpose not in ("offer", "request"):
        raise LocalError(f"a proposal is an offer or a request, not {req.purpose!r}")
    if not is_action(req.action):
        raise UnknownAction(Field("action", "action"),
                            f" {req.action!r} is not a ValueFlows action")
    offer = req.purpose == "offer"
    quantity = field_measure(req.quantity, "quantity")
    available = field_measure(req.available, "available")
    if offer and available is None and not req.unit_based:
        available = quantity
    if (req.begins_us is not None and req.ends_us is not None
            and req.ends_us <= req.begins_us):
        raise OutOfRange(Field("ends_us", "the end"), " must be after ",
                         Field("begins_us", "the beginning"))
    provider, receiver = (author, None) if offer else (None, author)
    try:
        intent = Intent(
            action=req.action, resource_conforms_to=field_address(req.spec, "spec"),
            resource_classified_as=tuple(dict.fromkeys(req.classes)),
            resource_quantity=quantity, available_quantity=available,
            minimum_quantity=field_measure(req.minimum, "minimum"), at_location=req.location,
            has_beginning=req.begins_us, has_end=req.ends_us, provider=provider,
            receiver=receiver)
        reciprocal = None if req.reciprocal is None else Intent(
            action="transfer", resource_quantity=field_measure(req.reciprocal, "for"),
            resource_conforms_to=field_address(req.reciprocal_spec, "for-spec"), provider=receiver,
            receiver=provider)
        proposal = Proposal(
            name=req.name, purpose="offer" if offer else "request", unit_based=req.unit_based,
            has_beginning=req.begins_us, has_end=req.ends_us, created=now_us, note=req.note)
    except ValueError as e:
        raise LocalError(f"bad {req.purpose}: {describe_error(e)}") from None
    return proposal, intent, reciprocal


def publish(scratch: Scratch, author: str, req: ProposalRequest, now_us: int) -> Published:
    """Write the intents, the proposal publishing them and its links from its bases."""
    proposal, intent, reciprocal = build(author, req, now_us)
    primary = scratch.create(INTENT_TYPE, intent.to_content())
    back = () if reciprocal is None else (scratch.create(INTENT_TYPE, reciprocal.to_content()),)
    listed = Proposal.from_content({**proposal.to_content(), "publishes": [str(primary)],
                                    "reciprocal": [str(b) for b in back]})
    address = scratch.create(PROPOSAL_TYPE, listed.to_content())
    tag = proposal_tag(listed)
    links = tuple(scratch.create_link(base, address, ZOME, PROPOSAL_LINK, tag)
                  for base in proposal_bases(req.purpose, [intent]))
    return Published(address, (primary,), back, links)


def withdraw(scratch: Scratch, links: Iterable[tuple[Cid, Cid]],
             intents: Iterable[tuple[Cid, Cid, Intent]] = ()) -> tuple[Cid, ...]:
    """Delete a proposal's links, given as (link, base): it leaves every listing; and
    update each of its `intents` (action, entry address, intent: see open_intents)
    finished, so that peers refuse a satisfaction dated after (check_satisfaction_open)."""
    for action, entry, intent in intents:
        scratch.update(action, entry, INTENT_TYPE,
                       intent.model_copy(update={"finished": True}).to_content())
    return tuple(scratch.delete_link(link, base) for link, base in links)


def open_intents(records: Iterable[Record], proposal: Cid) -> list[tuple[Cid, Cid, Intent]]:
    """(action, entry address, intent) of the intents `proposal` publishes (primary and
    reciprocal) that `records` (its author's chain) created and have not finished."""
    by_address = {r.address: r for r in records}
    record = by_address.get(proposal)
    if record is None or record.entry is None:
        return []
    try:
        published = Proposal.from_content(record.entry.value)
    except ValueError:
        return []
    finished = {r.action.original_action for r in by_address.values()
                if isinstance(r.action, Update) and r.action.entry_type == INTENT_TYPE}
    found = []
    for text in (*published.publishes, *published.reciprocal):
        intent_record = by_address.get(Cid.parse(text))
        if (intent_record is None or intent_record.entry is None
                or intent_record.address in finished):
            continue
        found.append((intent_record.address, intent_record.entry.address,
                      Intent.from_content(intent_record.entry.value)))
    return found


def open_links(records: Iterable[Record], proposal: Cid) -> list[tuple[Cid, Cid]]:
    """(link, base) of the `proposal` links to `proposal` that `records` (an agent's own
    chain, in order) create and do not delete."""
    links: dict[Cid, Cid] = {}
    for record in records:
        action = record.action
        if (isinstance(action, CreateLink) and action.target == proposal
                and action.link_type == PROPOSAL_LINK):
            links[record.address] = action.base
        elif isinstance(action, DeleteLink):
            links.pop(action.link_add, None)
    return list(links.items())


# -- the network's listing ------------------------------------------------------------

LinksPage = Callable[[str, str | None], dict[str, Any]]
"""(base, after) -> a page of links as Client.links answers it."""
Fetch = Callable[[str], dict[str, Any] | None]
"""an address -> its record as the front door's `get` shows it, or None."""
FetchMany = Callable[[Sequence[str]], list[dict[str, Any] | None]]
"""addresses -> their records as Client.get_many shows them (None where none)."""
Lister = Callable[[str, str | None, str | None, str | None], list[dict[str, Any]]]
"""(purpose, spec, label, author) -> the rows of that listing, as Client.proposals
answers them (the node reads it all in one request)."""


def listing_base(purpose: str, spec: str | None, label: str | None) -> Cid:
    """The base a listing asks: the specification's if one is given, else the label's,
    else all of the purpose's proposals."""
    if spec is not None:
        return proposal_base(purpose, "spec", field_address(spec, "spec") or spec)
    if label is not None:
        return proposal_base(purpose, "class", label)
    return proposal_base(purpose, "all")


Listed = dict[str, tuple[str, str]]
"""A listing's targets: each proposal's address to (its link's author, the tag in hex)."""


def take_links(page: dict[str, Any], author: str | None, listed: Listed) -> None:
    """Add a page's links (as the front door shows them) to `listed`: only those `author`
    listed, if given; the first link to a target kept."""
    for link in page.get("links", []):
        if author is None or str(link["author"]) == author:
            listed.setdefault(str(link["target"]), (str(link["author"]), str(link.get("tag", ""))))


def own_listed(records: Iterable[Record], base: Cid) -> Listed:
    """The proposals `records` (an agent's own chain, in order) list under `base` and have
    not unlisted (their `proposal` links not deleted), as a listing's targets."""
    links: dict[Cid, CreateLink] = {}
    for record in records:
        action = record.action
        if (isinstance(action, CreateLink) and action.base == base
                and action.link_type == PROPOSAL_LINK):
            links[record.address] = action
        elif isinstance(action, DeleteLink):
            links.pop(action.link_add, None)
    listed: Listed = {}  # (in link address order, as the network's listing answers)
    for _, action in sorted(links.items(), key=lambda item: item[0].to_bytes()):
        listed.setdefault(str(action.target), (str(action.author), action.tag.hex()))
    return listed


def list_proposals(purpose: str, spec: str | None, label: str | None,
                   links_page: LinksPage, fetch: Fetch,
                   location: str | None = None, at_us: int | None = None,
                   author: str | None = None, fetch_many: FetchMany | None = None,
                   ) -> list[dict[str, Any]]:
    """The open proposals of `purpose` listed under the base of `spec` or `label` (both:
    the specification's, then filtered by the label), each as a row; `location` keeps
    those whose location contains it (case-insensitively), `at_us` those open then,
    `author` those its links say this agent listed (the others are not fetched).
    With `fetch_many`, the records are read in batches (prefetched), not one by one."""
    base = str(listing_base(purpose, spec, label))
    listed: Listed = {}
    after: str | None = None
    for _ in range(MAX_PAGES):
        page = links_page(base, after)
        take_links(page, author, listed)
        after = page.get("next")
        if after is None:
            break
    if fetch_many is not None:
        fetch = prefetched(listed, fetch, fetch_many)
    return proposal_rows(purpose, label, listed, fetch, location, at_us)


def proposal_rows(purpose: str, label: str | None, listed: Listed, fetch: Fetch,
                  location: str | None = None, at_us: int | None = None,
                  ) -> list[dict[str, Any]]:
    """The rows of the `listed` proposals (read through `fetch`) that are of `purpose`,
    well formed and kept by the filters (list_proposals)."""
    rows = []
    for target, (author, _) in listed.items():
        row = _row(target, author, fetch)
        if row is None or row["purpose"] != purpose:
            continue
        if label is not None and label not in row["classes"]:
            continue
        if location is not None and location.casefold() not in (row["location"] or "").casefold():
            continue
        if at_us is not None and not _open_at(row, at_us):
            continue
        rows.append(row)
    return rows


def first_reads(listed: Listed) -> list[str]:
    """What a listing reads in its first batch: the proposals, and the intents their
    links' tags name (proposals.proposal_tag; a malformed tag names none)."""
    return [*listed, *(a for _, tag in listed.values() for a in _hinted(tag))]


def later_reads(listed: Listed, got: dict[str, dict[str, Any] | None]) -> list[str]:
    """What a listing reads after its first batch (`got`): the intents the proposals
    name that it has not read (none when every tag named them)."""
    return [a for t in listed for a in _named_intents(got.get(t)) if a not in got]


def prefetched(listed: Listed, fetch: Fetch, fetch_many: FetchMany) -> Fetch:
    """`fetch` answering from batched reads (GET_BATCH addresses a call): the proposals
    `listed` and the intents their tags name, then any other intent they name; anything
    else one by one."""
    got: dict[str, dict[str, Any] | None] = {}

    def read(addresses: Iterable[str]) -> None:
        wanted = [a for a in dict.fromkeys(addresses) if a not in got]
        for start in range(0, len(wanted), GET_BATCH):
            chunk = wanted[start:start + GET_BATCH]
            got.update(zip(chunk, fetch_many(chunk), strict=True))

    read(first_reads(listed))
    read(later_reads(listed, got))

    def answer(address: str) -> dict[str, Any] | None:
        return got[address] if address in got else fetch(address)

    return answer


def _hinted(tag_hex: str) -> list[str]:
    """The intent addresses a proposal link's tag (hex) names; none if it is malformed."""
    try:
        primary, back = tag_intents(bytes.fromhex(tag_hex))
    except (ValueError, CoreError):
        return []
    return [str(c) for c in (*primary, *back)]


def _named_intents(view: dict[str, Any] | None) -> list[str]:
    """The intent addresses a proposal's record names (none if it is no such record;
    at most MAX_INTENTS + 1: a listing leaves out a proposal with more)."""
    entry = view.get("entry") if isinstance(view, dict) else None
    if not isinstance(entry, dict):
        return []
    named = [a for key in ("publishes", "reciprocal") if isinstance(entry.get(key), list)
             for a in entry[key] if isinstance(a, str)]
    return named[:MAX_INTENTS + 1]


def in_threads(work: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`work` of each item, in order; in up to `workers` threads (MAX_WORKERS at most)
    when more than one is asked for, else here (`work` must allow threads then: a
    SocketClient's calls do, one connection a call)."""
    if workers <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, MAX_WORKERS, len(items))) as pool:
        return list(pool.map(work, items))


def _open_at(row: dict[str, Any], at_us: int) -> bool:
    begins, ends = row["has_beginning"], row["has_end"]
    return (begins is None or begins <= at_us) and (ends is None or at_us < ends)


def fetched_entry(fetch: Fetch, address: str, entry_type: str,
                  author: str | None) -> dict[str, Any] | None:
    """The entry of the record at `address` if it is a Create of `entry_type` (by `author`,
    if given); None if it is none or cannot be read."""
    try:
        found = fetch(address)
    except CoreError:
        return None
    if not isinstance(found, dict):
        return None
    action, entry = found.get("action"), found.get("entry")
    if (not isinstance(action, dict) or action.get("entry_type") != entry_type
            or (author is not None and action.get("author") != author)
            or not isinstance(entry, dict)):
        return None
    return entry


def _row(target: str, author: str, fetch: Fetch) -> dict[str, Any] | None:
    """One proposal and its intents as a listing shows them (None if any is malformed)."""
    try:
        content = fetched_entry(fetch, target, PROPOSAL_TYPE, author)
        if content is None:
            return None
        proposal = Proposal.from_content(content)
        if len(proposal.publishes) + len(proposal.reciprocal) > MAX_INTENTS:
            return None
        intents = []
        for address in (*proposal.publishes, *proposal.reciprocal):
            found = fetched_entry(fetch, address, INTENT_TYPE, author)
            if found is None:
                return None
            intents.append(Intent.from_content(found))
    except ValueError:
        return None
    primary, back = intents[:len(proposal.publishes)], intents[len(proposal.publishes):]
    if not primary:
        return None
    first = primary[0]
    return {
        "proposal": target, "purpose": proposal.purpose, "author": author,
        "name": proposal.name, "spec": first.resource_conforms_to,
        "quantity": _text(first.resource_quantity), "available": _text(first.available_quantity),
        "minimum": _text(first.minimum_quantity),
        "for": _text(back[0].resource_quantity) if back else None,
        "unit_based": proposal.unit_based,
        "classes": sorted({c for i in primary for c in i.resource_classified_as}),
        "location": first.at_location, "has_beginning": proposal.has_beginning,
        "has_end": proposal.has_end, "note": proposal.note,
        "intents": [i.to_content() for i in primary],
        "reciprocal": [i.to_content() for i in back],
    }


def _text(measure: Measure | None) -> str | None:
    return None if measure is None else str(measure)
