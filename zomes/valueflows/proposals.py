"""Offers and requests on the network: the well-known bases a proposal is listed under
(links of type `proposal` from them to the proposal) and the rules peers apply to intents,
proposals and those links (docs/validation-rules.md).

A proposal of purpose P (offer or request) is linked from `proposal_base(P, "all")`, from
`proposal_base(P, "spec", S)` for each resource specification S of its primary intents and
from `proposal_base(P, "class", L)` for each of their classification labels L, so "offers
of bran" or "requests classified organic" ask the authorities of one base, not every node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from node.core.actions import MAX_TAG_LEN, Create, CreateLink
from node.core.cid import Cid
from node.core.errors import CoreError, DecodeError
from node.core.outcome import VALID, Invalid, Outcome
from zomes.api import Deps
from zomes.valueflows.entries import Intent, Proposal

PROPOSAL_LINK: Final = "proposal"
"""The link type from a base to a proposal listed under it."""
PURPOSES: Final = ("offer", "request")
BASE_KINDS: Final = ("all", "spec", "class")
INTENT_TYPE: Final = "valueflows.Intent"
PROPOSAL_TYPE: Final = "valueflows.Proposal"
MAX_INTENTS: Final = 64
"""Intents (primary and reciprocal) one proposal publishes at most: validators and
listings fetch each of them."""
RULES: Final = ("check_intent_party", "check_proposal_intents", "check_proposal_link",
                 "check_proposal_tag")
CID_LEN: Final = len(Cid.of(b"").to_bytes())
"""Bytes of one address (fixed: CIDv1 dag-cbor blake2b-256)."""


def proposal_base(purpose: str, kind: str, value: str = "") -> Cid:
    """The well-known base listing the open proposals of `purpose` ("offer"/"request"):
    of one resource specification (kind "spec", `value` its address as text), of one
    classification label (kind "class", `value` the label exactly as written), or all of
    them (kind "all", no value). It is the address of the bytes
    `coledger:<purpose>s:<kind>:<value>` (UTF-8), e.g. `coledger:offers:class:byproduct`:
    every node derives the same base without asking anyone. ValueError on another purpose
    or kind."""
    if purpose not in PURPOSES:
        raise ValueError(f"a proposal's purpose is offer or request, not {purpose!r}")
    if kind not in BASE_KINDS:
        raise ValueError(f"a proposal base is by {', '.join(BASE_KINDS)}, not {kind!r}")
    return Cid.of(f"coledger:{purpose}s:{kind}:".encode() + value.encode())


def proposal_bases(purpose: str, intents: Iterable[Intent]) -> list[Cid]:
    """Every base a proposal of `purpose` publishing `intents` is listed under, distinct,
    in order: all, then each specification, then each classification label."""
    bases = [proposal_base(purpose, "all")]
    items = list(intents)
    for intent in items:
        if intent.resource_conforms_to is not None:
            bases.append(proposal_base(purpose, "spec", intent.resource_conforms_to))
    for intent in items:
        bases.extend(proposal_base(purpose, "class", label)
                     for label in intent.resource_classified_as)
    return list(dict.fromkeys(bases))


def proposal_tag(proposal: Proposal) -> bytes:
    """The tag of a proposal's links: the addresses of the intents it publishes, so a
    listing fetches a proposal and its intents in one batch. One byte (how many are
    primary), then each address's bytes (primary, then reciprocal); empty when they would
    not fit in MAX_TAG_LEN. AddressError (a CoreError) on an address that is none."""
    named = [Cid.parse(a).to_bytes() for a in (*proposal.publishes, *proposal.reciprocal)]
    if len(proposal.publishes) > 255 or 1 + len(named) * CID_LEN > MAX_TAG_LEN:
        return b""
    return bytes([len(proposal.publishes)]) + b"".join(named)


def tag_intents(tag: bytes) -> tuple[tuple[Cid, ...], tuple[Cid, ...]]:
    """(primary, reciprocal) intent addresses a proposal link's tag names (see
    proposal_tag); both empty for an empty tag. DecodeError on anything malformed."""
    if not tag:
        return (), ()
    if (len(tag) - 1) % CID_LEN or tag[0] > (len(tag) - 1) // CID_LEN:
        raise DecodeError("a proposal link's tag is not its intents' addresses")
    cids = tuple(Cid(tag[i:i + CID_LEN]) for i in range(1, len(tag), CID_LEN))
    return cids[:tag[0]], cids[tag[0]:]


def check_intent_party(intent: Intent, author: str) -> Outcome:
    """Only a party of an intent (its provider or its receiver) may author it."""
    if author not in (intent.provider, intent.receiver):
        return Invalid("check_intent_party",
                       "an intent is authored by its provider or its receiver")
    return VALID


def _own_intent(address: str, author: str, deps: Deps) -> Intent | Outcome:
    """The Intent `address` names if `author` created it; else the rule's verdict
    (MissingDependency while the record is not held)."""
    record = deps.must_get_record(Cid.parse(address))
    action = record.action
    if (not isinstance(action, Create) or action.entry_type != INTENT_TYPE
            or record.entry is None):
        return Invalid("check_proposal_intents", f"{address} is not an intent")
    if str(action.author) != author:
        return Invalid("check_proposal_intents",
                       "a proposal publishes only its author's intents")
    return Intent.from_content(record.entry.value)


def check_proposal_intents(proposal: Proposal, author: str, deps: Deps) -> Outcome:
    """A proposal publishes at least one intent and at most MAX_INTENTS, and only
    intents its author created (its primary and reciprocal intents alike)."""
    if not proposal.publishes:
        return Invalid("check_proposal_intents", "a proposal publishes at least one intent")
    if len(proposal.publishes) + len(proposal.reciprocal) > MAX_INTENTS:
        return Invalid("check_proposal_intents",
                       f"a proposal publishes at most {MAX_INTENTS} intents")
    for address in (*proposal.publishes, *proposal.reciprocal):
        found = _own_intent(address, author, deps)
        if not isinstance(found, Intent):
            return found
    return VALID


def check_proposal_link(link: CreateLink, deps: Deps) -> Outcome:
    """A `proposal` link points to a proposal by the link's author, from one of the bases
    that proposal is listed under (`proposal_bases` of its purpose and primary intents)."""
    record = deps.must_get_record(link.target)
    action = record.action
    if (not isinstance(action, Create) or action.entry_type != PROPOSAL_TYPE
            or record.entry is None):
        return Invalid("check_proposal_link", "a proposal link points to a proposal")
    if action.author != link.author:
        return Invalid("check_proposal_link", "only a proposal's author lists it")
    proposal = Proposal.from_content(record.entry.value)
    if proposal.purpose is None:
        return Invalid("check_proposal_link", "a proposal without a purpose is not listed")
    if len(proposal.publishes) > MAX_INTENTS:
        return Invalid("check_proposal_link", "the proposal publishes too many intents")
    intents = []
    for address in proposal.publishes:
        found = _own_intent(address, str(link.author), deps)
        if not isinstance(found, Intent):
            return Invalid("check_proposal_link", "the proposal's intents are not its own")
        intents.append(found)
    if link.base not in proposal_bases(proposal.purpose, intents):
        return Invalid("check_proposal_link",
                       "a proposal is listed only under its purpose, specifications and "
                       "classifications")
    try:
        tag = proposal_tag(proposal)
    except CoreError:
        return Invalid("check_proposal_link", "the proposal names an intent by no address")
    if link.tag != tag:
        return Invalid("check_proposal_tag",
                       "a proposal link's tag names exactly the intents the proposal publishes")
    return VALID


def check_planning(entry: Intent | Proposal, author: str, deps: Deps) -> Outcome:
    """The rules of an intent or a proposal as created by `author`."""
    if isinstance(entry, Intent):
        return check_intent_party(entry, author)
    return check_proposal_intents(entry, author, deps)
