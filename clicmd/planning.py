"""Offers and requests: `offer` / `request` publish a proposal (or withdraw one),
`offers` / `requests` list the network's open ones by specification or classification
(zomes/valueflows/offers.py; the listing asks the running node through the Client);
`match` ranks the offers and requests that could answer each other
(zomes/valueflows/matching.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from clicmd.common import aligned, arg, client, command, emit, iso_time, parse_time, short
from node.core.errors import LocalError

if TYPE_CHECKING:
    from node.api import Client
    from zomes.valueflows.offers import Fetch, LinksPage, Lister

_PUBLISH_ARGS = (
    arg("--spec", help="the resource specification (address)"),
    arg("--quantity", help='how much, e.g. "100 kg" (resourceQuantity; with --unit-based, '
        "one unit's)"),
    arg("--available", help="how much is available in all (availableQuantity; an offer's "
        "defaults to --quantity)"),
    arg("--minimum", help="the least that may be asked for (minimumQuantity)"),
    arg("--for", dest="reciprocal", metavar="QUANTITY",
        help='what is expected in return, e.g. "20 EUR" (a reciprocal intent)'),
    arg("--for-spec", help="the specification of what is expected in return (address)"),
    arg("--unit-based", action="store_true",
        help="quantities are per unit and can be multiplied (a price list)"),
    arg("--action", default="transfer", help="the flow's ValueFlows action [transfer]"),
    arg("--from", dest="begins", metavar="TIME", help="open from, ISO 8601"),
    arg("--until", metavar="TIME", help="open until, ISO 8601"),
    arg("--location", help="where (atLocation, as text)"),
    arg("--class", dest="classes", action="append", default=[], metavar="LABEL",
        help="a classification (resourceClassifiedAs): byproduct, waste, organic...; "
        "repeatable"),
    arg("--name", help="a name for the proposal"),
    arg("--note", help="a note"),
    arg("--withdraw", metavar="PROPOSAL",
        help="withdraw this proposal of yours instead: it leaves every listing"),
    arg("--replace", metavar="PROPOSAL",
        help="publish this one in place of that proposal of yours (withdrawn in the same "
        "commit): an update"),
)


def _publish(a: argparse.Namespace, purpose: str) -> None:
    if a.withdraw is not None:
        if a.replace is not None:
            raise LocalError("give --withdraw or --replace, not both")
        done = client().withdraw_proposal(a.withdraw)
        emit(done, f"withdrew {a.withdraw}")
        return
    if a.spec is None or (a.quantity is None and a.available is None):
        article = "an" if purpose == "offer" else "a"
        raise LocalError(f"{article} {purpose} needs --spec and --quantity "
                         "(or --withdraw PROPOSAL)")
    from zomes.valueflows.offers import ProposalRequest

    req = ProposalRequest(
        purpose=purpose, spec=a.spec, quantity=a.quantity, available=a.available,
        minimum=a.minimum, action=a.action, reciprocal=a.reciprocal,
        reciprocal_spec=a.for_spec, unit_based=a.unit_based,
        begins_us=_time(a.begins, "--from"), ends_us=_time(a.until, "--until"),
        location=a.location, classes=tuple(a.classes), name=a.name, note=a.note)
    done = client().propose(req, replaces=a.replace)
    emit(done, done["proposal"])


def _time(text: str | None, flag: str) -> int | None:
    try:
        return parse_time(text)
    except LocalError as e:
        raise LocalError(str(e).replace("--at", flag, 1)) from None


@command("offer", *_PUBLISH_ARGS)
def cmd_offer(a: argparse.Namespace) -> None:
    """Offer a resource to the network (a Proposal publishing an Intent you provide)."""
    _publish(a, "offer")


@command("request", *_PUBLISH_ARGS)
def cmd_request(a: argparse.Namespace) -> None:
    """Ask the network for a resource (a Proposal publishing an Intent you receive)."""
    _publish(a, "request")


READERS = 8  # listings `match` reads at once through the socket (a connection each)

_LIST_ARGS = (
    arg("--spec", help="only those of this resource specification (address)"),
    arg("--class", dest="label", metavar="LABEL",
        help="only those classified so (byproduct, waste, organic...)"),
    arg("--location", help="only those whose location contains this text"),
    arg("--at", help="only those open at this time, ISO 8601"),
)


def _list(a: argparse.Namespace, purpose: str) -> None:
    door = client()  # (the node reads the listing whole: one request)
    rows = door.proposals(purpose, a.spec, a.label, location=a.location,
                          at_us=parse_time(a.at))
    emit(rows, _table(rows, purpose))


def _reads(door: Client) -> tuple[LinksPage, Fetch]:
    """A listing's two reads (a page of `proposal` links, a record) through `door`."""

    def links_page(base: str, after: str | None) -> dict[str, Any]:
        return door.links(base, "proposal", after=after)

    def fetch(address: str) -> dict[str, Any] | None:
        return door.get(address).view

    return links_page, fetch


def _lister(door: Client) -> Lister:
    """Each listing `match` reads, read whole by the node (Client.proposals)."""
    return lambda purpose, spec, label, author: door.proposals(purpose, spec, label,
                                                               author=author)


def _table(rows: list[dict[str, Any]], purpose: str) -> str:
    if not rows:
        return f"no open {purpose}s"
    table = [("proposal", "spec", "quantity", "for", "classes", "location", "until", "author")]
    for r in rows:
        quantity = f"{r['quantity']} each" if r["unit_based"] else (
            r["available"] or r["quantity"] or "")
        table.append((short(r["proposal"]), short(r["spec"]), quantity, r["for"] or "",
                      ",".join(r["classes"]), r["location"] or "",
                      iso_time(r["has_end"]) or "", short(r["author"])))
    return "\n".join(aligned(table))


@command("offers", *_LIST_ARGS)
def cmd_offers(a: argparse.Namespace) -> None:
    """The network's open offers (asks the authorities of one listing; needs `coledger run`)."""
    _list(a, "offer")


@command("requests", *_LIST_ARGS)
def cmd_requests(a: argparse.Namespace) -> None:
    """The network's open requests (asks the authorities of one listing; needs the node)."""
    _list(a, "request")


@command("match", arg("--footprints", action="store_true",
                      help="read the chains of the offerers whose footprint this home does not "
                           "hold, for the footprint per unit they declared (at most 16; slower)"))
def cmd_match(a: argparse.Namespace) -> None:
    """Offers elsewhere for this cooperative's requests; requests elsewhere for its offers
    and for what it holds or will produce with no planned use (byproducts and waste on
    hand, outputs of its processes nothing of its own uses); best first (needs `coledger
    run`)."""
    from zomes.valueflows.matching import candidates, find, footprint_authors

    door = client()
    door.status()  # (no node: the one-line error before reading the home)
    dataset, me = door.gather(1, network=False)
    held = door.surplus()
    offers, requests = candidates(me, *_reads(door), held, workers=READERS,
                                  listing=_lister(door))
    footprints: dict[str, Any] = dict(dataset.spec_footprints())
    found = find(me, offers, requests, held, footprints)
    authors = footprint_authors(me, found, footprints) if a.footprints else []
    if authors:  # the footprints the offerers declared, where this home holds none
        for spec, declared in door.chains(authors).spec_footprints().items():
            footprints.setdefault(spec, declared)
        found = find(me, offers, requests, held, footprints)
    rows = [m.to_json() for m in found]
    emit(rows, _match_table(rows))


def _match_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no matches"
    table = [("score", "request", "offer", "offered", "requested", "from", "why")]
    for r in rows:
        why = "; ".join(f["why"] for f in r["fits"].values())
        if r["footprint_per_unit"]:
            why += "; footprint per unit: " + ", ".join(
                f"{k} {v}" for k, v in r["footprint_per_unit"].items())
        if r["surplus"]:
            why = f"{r['surplus']}; {why}"
        offer = ("held " if r["held"] else "planned " if r["planned"] else "") + short(
            r["offer"])
        table.append((str(r["score"]).rjust(5), short(r["request"]), offer,
                      r["offered"] or "", r["requested"] or "", short(r["offered_by"]), why))
    return "\n".join(aligned(table))
