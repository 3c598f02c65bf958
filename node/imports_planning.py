"""`coledger import` of planning and recipe records: a document's plans, intents, proposals,
agreements, commitments, claims, recipes and process specifications written to this chain
(node/imports.py drives it, in the same commit as the events).

The importing agent authors every copy, so the rules of authorship decide what it may
copy: recipes, plans and process specifications anyone may; an intent, a commitment or a
claim only if this agent is its provider or its receiver (after the agents' mapping), else
the import is refused naming the node. References are rewritten to the copies' addresses
(a reference to nothing in the document is kept as written, for the validators to judge).
A record already on this chain, by address (one's own export) or by identical content
once its references are rewritten (the same document imported before), is not written
again. A countersigned agreement and its clauses are left out (reported): only its
parties' two signatures make one. A copy gets the links such a record has (an open
proposal's and a recipe's listings, a commitment's or claim's party links); a withdrawn
proposal is not listed.

Another system's records (named by their own IRIs: jsonld_foreign.py) are copied by the
same rules, each with `sameAs` its IRI (a second import finds it by that), a party of an
intent or commitment possibly an external agent (the other party: an Agent entry); one this
agent may not author (another member's commitment, an intent of someone else) is left out
and reported, not fatal, as is what names only such records (a proposal of others' intents).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from node.core.cid import Cid
from node.core.errors import Field, LocalError, Phrased
from node.core.scratch import Scratch
from zomes.accounting.jsonld import node_id
from zomes.accounting.jsonld_planning import CLASSES, PROPERTIES
from zomes.valueflows.commitments import PARTY_LINK, party_base
from zomes.valueflows.entries import (
    Claim,
    Commitment,
    Intent,
    Proposal,
    Recipe,
    VfEntry,
    is_member,
)
from zomes.valueflows.messages import describe_error
from zomes.valueflows.offers import ZOME
from zomes.valueflows.proposals import PROPOSAL_LINK, proposal_bases, proposal_tag
from zomes.valueflows.recipe_links import RECIPE_LINK, recipe_bases

PARTY_BOUND = frozenset({"Intent", "Commitment", "Claim"})
"""Records only their provider or receiver may author."""
EVENT_REFERENCES: Mapping[str, str] = {
    "fulfills": "Commitment", "satisfies": "Intent", "settles": "Claim",
    "realizationOf": "Agreement", "reciprocalRealizationOf": "Agreement",
    "stage": "ProcessSpecification",
}  # fmt: skip
"""An event's properties that name planning records, and the class each names."""


class NotAParty(Phrased):
    """An intent, commitment or claim of the document that this agent is no party to."""


class Host(Protocol):
    """What the event import (node/imports.py) lends: its scratch, copies and resolvers."""

    me: str
    label: str
    scratch: Scratch | None
    labels: dict[Cid, str]
    events: dict[str, str]
    same_as: dict[tuple[str, str], str]  # (entry type, sameAs) -> this chain's record

    def agent(self, agent: str) -> str: ...
    def is_me(self, agent: str) -> bool: ...
    def spec(self, address: str) -> str: ...
    def process(self, address: str) -> str: ...
    def resource(self, address: str) -> str: ...
    def on_chain(self, address: str) -> bool: ...
    def reuse(self, type_name: str, content: dict[str, Any]) -> str | None: ...


class PlanningImport:
    """The planning records of one document being copied into one scratch."""

    def __init__(self, host: Host, planning: Mapping[str, Mapping[str, dict[str, Any]]],
                 withdrawn: set[str]) -> None:
        self.host, self.planning, self.withdrawn = host, planning, withdrawn
        self.done: dict[str, str | None] = {}  # address (IRI) in the file -> address here
        self.busy: set[str] = set()
        self.created = {name: 0 for name in CLASSES}
        self.already = 0  # records found on this chain (by address or content)
        self.contents: dict[str, dict[str, Any]] = {}  # address here -> its content
        self.not_authored: list[dict[str, str]] = []  # another system's, left out

    def holds(self, iri: str) -> bool:
        """Whether the document holds another system's planning record of this IRI."""
        return ":" in iri and any(iri in records for records in self.planning.values())

    def before_events(self) -> None:
        """Every record but the claims (which name their triggering events)."""
        for name, records in self.planning.items():
            if name != "Claim":
                for address in records:
                    self.record(name, address)

    def after_events(self) -> None:
        for address in self.planning.get("Claim", {}):
            self.record("Claim", address)

    def rewrite_event(self, event: dict[str, Any]) -> None:
        """An event's references to planning records, to their copies (a record left out:
        the reference too)."""
        for key, name in EVENT_REFERENCES.items():
            if key in event:
                found = self.record(name, event.pop(key))
                if found is not None:
                    event[key] = found

    def record(self, name: str, address: str) -> str | None:
        """The address here of the file's record `address` (a `name`), copied if need be;
        None for another system's record this agent may not author (reported)."""
        if address in self.done:
            return self.done[address]
        if ":" in address and address in self.planning.get(name, {}):
            return self._foreign(name, address)
        content = self.planning.get(name, {}).get(address)
        if content is None or self.host.on_chain(address):
            if content is not None:
                self.already += 1
                self.done[address] = address
                self.contents[address] = dict(content)
            return address
        if address in self.busy:
            raise LocalError(f"{name} {node_id(address)} refers to itself")
        self.busy.add(address)
        outer, self.host.label = self.host.label, f"{name} {node_id(address)}"
        try:
            new = self._copy(name, address, self._rewritten(content))
        finally:
            self.host.label = outer
            self.busy.discard(address)
        self.done[address] = new
        return new

    def _foreign(self, name: str, iri: str) -> str | None:
        """Another system's record: the one imported before (by its sameAs), else a copy
        if this agent may author it, else None (reported in `not_authored`)."""
        content = self.planning[name][iri]
        type_name = f"valueflows.{name}"
        found = self.host.same_as.get((type_name, content["sameAs"]))
        if found is not None:
            self.already += 1
            self.done[iri] = found
            return found
        if name in PARTY_BOUND and not any(
                isinstance(content.get(k), str) and self.host.is_me(content[k])
                for k in ("provider", "receiver")):
            self._left_out(name, iri, "this cooperative is neither its provider nor its "
                           "receiver: only a party may author it")
            return None
        if iri in self.busy:
            raise LocalError(f"{name} {iri} refers to itself")
        self.busy.add(iri)
        outer, self.host.label = self.host.label, f"{name} {iri}"
        try:
            rewritten = self._rewritten(content)
            if name == "Claim" and not all(
                    is_member(rewritten.get(k, "")) for k in ("provider", "receiver")):
                self._left_out(name, iri, "a claim is between members: its other party is "
                               "an external agent")
                return None
            if name == "Proposal" and content.get("publishes") and not rewritten.get(
                    "publishes"):
                self._left_out(name, iri, "it publishes no intent this cooperative may "
                               "author")
                return None
            new: str | None = self._copy(name, iri, rewritten)
        finally:
            self.host.label = outer
            self.busy.discard(iri)
        self.done[iri] = new
        return new

    def _left_out(self, name: str, iri: str, reason: str) -> None:
        self.not_authored.append({"class": name, "iri": iri, "reason": reason})
        self.done[iri] = None

    def _rewritten(self, content: Mapping[str, Any]) -> dict[str, Any]:
        """References to records here (one to a record left out is dropped)."""
        out: dict[str, Any] = {}
        for key, value in content.items():
            kind = PROPERTIES[key][1]
            many = kind.startswith("refs:") or kind == "agents"
            values = list(value) if many else [value]
            mapped = [m for v in values
                      if (m := self._reference(kind.partition(":")[2], kind, v)) is not None]
            if key == "proposedTo":  # members only (an external agent is no one to ask)
                mapped = [m for m in mapped if is_member(m)]
            if many:
                out[key] = mapped
            elif mapped:
                out[key] = mapped[0]
        return out

    def _reference(self, target: str, kind: str, value: Any) -> Any:
        host = self.host
        if kind in ("agent", "agents"):  # (an external agent's address: by its node's IRI)
            return host.agent(node_id(value) if value.startswith("b") else value)
        if target == "event":
            return host.events.get(value, value)
        resolve = {"spec": host.spec, "process": host.process, "resource": host.resource}
        if target in resolve:
            return resolve[target](value)
        if target in CLASSES:
            return self.record(target, value)
        return value  # a literal, or a kind of record no document carries (a list, a bundle)

    def _copy(self, name: str, address: str, content: dict[str, Any]) -> str:
        cls = CLASSES[name]
        label = self.host.label
        try:
            entry: VfEntry = cls.from_content(content)
        except ValueError as e:
            raise LocalError(f"{label}: {describe_error(e)}") from None
        if name in PARTY_BOUND and self.host.me not in (
                getattr(entry, "provider", None), getattr(entry, "receiver", None)):
            raise NotAParty(
                f"{label}: this agent is neither its provider nor its receiver, and only a "
                "party may author it (map the document's agent to this one: ",
                Field("agent", "the agents' mapping"), " OLD=me)")
        type_name = f"valueflows.{name}"
        here = entry.to_content()
        found = self.host.reuse(type_name, here)
        if found is not None:
            self.already += 1
            self.contents[found] = here
            return found
        scratch = self.host.scratch
        assert scratch is not None
        new = scratch.create(type_name, here)
        self.contents[str(new)] = here
        self.host.labels[new] = label
        self.created[name] += 1
        bases = self._bases(address, entry)
        tag = proposal_tag(entry) if bases and isinstance(entry, Proposal) else b""
        for base, link_type in bases:
            link = scratch.create_link(base, new, ZOME, link_type, tag)
            self.host.labels[link] = f"the link to {label}"
        return str(new)

    def _bases(self, address: str, entry: VfEntry) -> list[tuple[Cid, str]]:
        """The links a copy has from well-known bases, as the commands that write such a
        record make them: an open proposal's listings (offers.publish), a recipe's
        (recipes.create_recipe), a commitment's or claim's from each other party's base
        (obligations)."""
        if isinstance(entry, Proposal) and entry.purpose and address not in self.withdrawn:
            intents = [Intent.from_content(self._content_here(a)) for a in entry.publishes]
            return [(b, PROPOSAL_LINK) for b in proposal_bases(entry.purpose, intents)]
        if isinstance(entry, Recipe):
            return [(b, RECIPE_LINK) for b in recipe_bases(entry)]
        if isinstance(entry, Commitment | Claim):
            parties = dict.fromkeys((entry.provider, entry.receiver))
            return [(party_base(p), PARTY_LINK) for p in parties
                    if p is not None and p != self.host.me and is_member(p)]
        return []

    def _content_here(self, address: str) -> dict[str, Any]:
        """The content of an intent this import wrote or found (one a proposal names)."""
        if address not in self.contents:
            raise LocalError(f"{self.host.label}: its intent {node_id(address)} is not in the "
                             "document")
        return self.contents[address]

    def summary(self, countersigned: set[str]) -> dict[str, Any]:
        """What was copied; what was here already; the countersigned agreements and
        clauses left out (only their parties' two signatures make them); another system's
        records left out (`not_authored`) and the others' records here (`records`, by IRI)."""
        return {"created": {k: v for k, v in self.created.items() if v},
                "already_here": self.already, "countersigned_left_out": len(countersigned),
                "not_authored": self.not_authored,
                "records": {iri: here for iri, here in self.done.items()
                            if ":" in iri and here is not None}}
