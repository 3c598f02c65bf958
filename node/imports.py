"""`coledger import`: a ValueFlows JSON-LD document's events recorded on this agent's chain.

Each event is signed by this agent and judged by the same rules as `coledger record`; the
whole import is one commit, so one refused event leaves the chain as it was. The document
may be coledger's own export or another VF system's (zomes/accounting/jsonld_import.py
reads both); what the events refer to is resolved by IRI:

- resources: this chain's own (`urn:coledger:<address>`), else one imported before (its
  `sameAs` is the IRI, or the node's own sameAs), else a copy of the file's node (or, for
  an IRI the file gives no node for, a record named after it), `sameAs` the IRI (another
  home's `urn:coledger:` one too: its export imported twice adds nothing);
- processes: the same, or one held here (another agent's process, as `record --input-of`
  may name);
- specifications: this chain's or one held here (shared knowledge is not duplicated), one
  imported before, else a copy;
- agents: `--as IRI` and `--agent OLD=me` name this agent; `urn:coledger:agent:<id>` is a
  member if this home knows it (itself, the progenitor, an author it holds) or `--agent`
  maps it; any other agent is an external agent: an Agent entry of this chain with that
  `sameAs` (made once), which events name by its address;
- places: one the document describes (coordinates, address) and this chain has no
  SpatialThing entry of that name for gets one, so its exports say the same.

Events are recorded in dependency order (zomes/accounting/jsonld_order.py); a resource
the document gives only with its quantities, that no event of it creates, is opened with a
`raise` of what it held before them (its opening balance; never for a coledger record,
whose stated quantities are what its events left). An event already here (same
address, or the same content once its references are resolved: the document imported
before) is skipped, so importing a document twice adds nothing. With `--as`, an event
this agent is no party to is left out (reported): only a party records an event.
The document's plans, intents, proposals, commitments, claims and recipes are copied too
(node/imports_planning.py), and the events' fulfills/satisfies/settles name the copies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from node.core.actions import Create
from node.core.cid import Cid
from node.core.errors import Field, LocalError, Phrased
from node.core.ops import Op, OpType
from node.core.outcome import Invalid, Unresolved
from node.core.scratch import Scratch
from node.imports_planning import PlanningImport
from node.runtime.ledger import Ledger, RuleBroken
from zomes.accounting.common import AccountingError
from zomes.accounting.jsonld import AGENT_PREFIX, VF, MalformedDocument, node_id
from zomes.accounting.jsonld_import import address_in, read_vf_graph
from zomes.accounting.jsonld_order import dependency_order, opening_balance
from zomes.valueflows.coordinator import link_flows
from zomes.valueflows.entries import (
    Agent,
    EconomicEvent,
    EconomicResource,
    Process,
    ResourceSpecification,
    SpatialThing,
    VfEntry,
    is_member,
)
from zomes.valueflows.messages import describe_error
from zomes.valueflows.zome import ChainView, entry_type

_RESOURCE_KEYS = ("resourceInventoriedAs", "toResourceInventoriedAs")
_PROCESS_KEYS = ("inputOf", "outputOf")
_PLANNING_KEYS = ("stage", "realizationOf", "reciprocalRealizationOf", "fulfills", "satisfies",
                  "settles")
_KINDS: dict[str, type[VfEntry]] = {
    "resources": EconomicResource, "processes": Process, "specs": ResourceSpecification,
    "agents": Agent,
}  # fmt: skip


class NotInTheDocument(Phrased):
    """The IRI given as this cooperative's is no party to any event of the document."""


def _iri(value: str) -> str:
    """An IRI, or a planning record's address (no colon) as coledger's IRI for it."""
    return value if ":" in value else node_id(value)


def _tail(iri: str) -> str:
    """A name for a thing the document names only by its IRI: the IRI's last segment."""
    return (iri.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1] or iri)[:500]


class _Import:
    """One import being built in a scratch: what was copied, what each record stands for."""

    def __init__(self, ledger: Ledger, graph: dict[str, Any], agents: Mapping[str, str],
                 as_iri: str | None) -> None:
        self.ledger, self.graph, self.agents, self.as_iri = ledger, graph, agents, as_iri
        self.view: ChainView = ledger.view()
        self.deps = ledger.deps()
        self.copies: dict[str, str] = {}  # IRI in the file -> address here
        self.counts = {"resources": 0, "processes": 0, "specs": 0}
        self.externals = 0  # external agents' Agent entries made
        self.finish: list[tuple[Cid, Cid, dict[str, Any]]] = []
        self.labels: dict[Cid, str] = {}
        # event in the file (its address, or IRI if not coledger's) -> the event recorded
        self.events: dict[str, str] = {}
        self.skipped = 0
        self.imported = 0
        self.left_out = 0
        self.opened: list[dict[str, Any]] = []
        self.scratch: Scratch | None = None
        self.label = "the import"
        self.me = str(ledger.agent.agent_id)
        self.own: set[str] = set()  # the addresses of what this chain created
        self.pool: dict[tuple[str, str], list[str]] = {}  # (type, content) -> those records
        self.same_as: dict[tuple[str, str], str] = {}  # (type, sameAs) -> that record
        for record in ledger.agent.store.records():
            if isinstance(record.action, Create) and record.entry is not None:
                self.own.add(str(record.address))
                value = record.entry.value
                key = (record.action.entry_type, _canonical(value))
                self.pool.setdefault(key, []).append(str(record.address))
                if isinstance(value, dict) and isinstance(value.get("sameAs"), str):
                    self.same_as[(record.action.entry_type, value["sameAs"])] = str(
                        record.address)
        # the members this home knows: itself, the progenitor, the authors it holds; any
        # other urn:coledger:agent:<id> (another network's) is an external agent here
        self.members = {self.me, ledger.dna.progenitor,
                        *(str(a) for a in ledger.dht.activity_authors())}
        self.units = self._units_named()
        self.planning = PlanningImport(self, graph["planning"], graph["withdrawn"])

    def _units_named(self) -> dict[str, str]:
        """A unit for each resource IRI, from the first event quantity that names it."""
        units: dict[str, str] = {}
        for _, event in self.graph["events"]:
            quantity = event.get("resourceQuantity")
            for key in _RESOURCE_KEYS:
                if quantity and event.get(key):
                    units.setdefault(event[key], quantity["hasUnit"])
        return units

    def held(self, address: str) -> bool:
        try:
            return self.deps.find_record(Cid.parse(address)) is not None
        except Exception:
            return False

    def on_chain(self, address: str) -> bool:
        return address in self.own

    def reuse(self, type_name: str, content: dict[str, Any]) -> str | None:
        """A record this chain had before the import with this very content (each found
        once): what a second import of the same document would copy again."""
        found = self.pool.get((type_name, _canonical(content)))
        return found.pop(0) if found else None

    def _create(self, iri: str, cls: type[Any], content: dict[str, Any], kind: str) -> str:
        assert self.scratch is not None
        try:
            entry = cls.from_content(content)
        except ValueError as e:
            raise LocalError(f"{self.label}: {iri}: {describe_error(e)}") from None
        # knowledge and a plan's processes are found again by content too
        if kind == "specs" or (kind == "processes" and "plannedWithin" in content):
            found = self.reuse(entry_type(cls), entry.to_content())
            if found is not None:
                self.copies[iri] = found
                return found
        new = self.scratch.create(entry_type(cls), entry.to_content())
        self.labels[new] = f"{self.label}: the copy of {iri}"
        self.copies[iri] = str(new)
        if kind == "agents":
            self.externals += 1
        else:
            self.counts[kind] += 1
        return str(new)

    def _known(self, kind: str, iri: str) -> tuple[str | None, dict[str, Any] | None]:
        """The record here the IRI stands for (copied before, or imported before: by
        sameAs), else None and the file's content for it (None: the file has none), with
        `sameAs` the IRI it is known by (its node's own sameAs, else its IRI: another
        home's `urn:coledger:` one too, which exports leave out)."""
        if iri in self.copies:
            return self.copies[iri], None
        content = self.graph[kind].get(iri)
        identity = (content or {}).get("sameAs") or iri
        found = self.same_as.get((entry_type(_KINDS[kind]), identity))
        if found is not None:
            self.copies[iri] = found
            return found, None
        return None, None if content is None else {**content, "sameAs": identity}

    def _missing(self, what: str, iri: str) -> LocalError:
        return LocalError(
            f"{self.label} names {what} {iri}, which is neither known here nor in the file")

    def spec(self, value: str) -> str:
        iri = _iri(value)
        address = address_in(iri)
        if address is not None and (address in self.view.resource_specs or self.held(address)):
            return address
        found, content = self._known("specs", iri)
        if found is not None:
            return found
        if content is None and address is None:
            content = {"name": _tail(iri), "sameAs": iri}
        if content is None:
            raise self._missing("the specification", iri)
        return self._create(iri, ResourceSpecification, content, "specs")

    def resource(self, value: str) -> str:
        iri = _iri(value)
        address = address_in(iri)
        if address is not None and address in self.view.resources:
            return address
        found, content = self._known("resources", iri)
        if found is not None:
            return found
        if content is None and address is None:
            content = {"sameAs": iri}
        if content is None:
            raise self._missing("the resource", iri)
        content.setdefault("name", content.get("trackingIdentifier") or _tail(iri))
        spec_iri = content.get("conformsTo")
        if spec_iri is not None:
            content["conformsTo"] = self.spec(spec_iri)
        if "unitOfResource" not in content:
            unit = self._unit_of(iri, spec_iri, content.get("conformsTo"))
            if unit is None:
                raise LocalError(f"{self.label}: resource {iri} has no unit: give its "
                                 "accountingQuantity or its specification's defaultUnitOfResource")
            content["unitOfResource"] = unit
        content.pop("primaryAccountable", None)
        return self._create(iri, EconomicResource, content, "resources")

    def _unit_of(self, iri: str, spec_iri: str | None, spec: str | None) -> str | None:
        """A resource's unit: its stated quantity's, its specification's default, or that
        of the first event quantity naming it."""
        stated = self.graph["quantities"].get(iri)
        if stated is not None:
            return str(stated["hasUnit"])
        default = self.graph["specs"].get(spec_iri or "", {}).get("defaultUnitOfResource")
        if default:
            return str(default)
        local = self.view.resource_specs.get(spec) if spec else None
        if local is not None and local.default_unit_of_resource:
            return local.default_unit_of_resource
        return self.units.get(iri)

    def process(self, value: str) -> str:
        iri = _iri(value)
        address = address_in(iri)
        if address is not None and address in self.view.processes:
            return address
        found, content = self._known("processes", iri)
        if found is not None:
            return found
        if content is None and address is None:
            content = {"name": _tail(iri), "sameAs": iri}
        if content is None:
            if address is not None and self.held(address):
                return address
            raise self._missing("the process", iri)
        content.setdefault("name", _tail(iri))
        scope = [self.agent(a) for a in content.get("inScopeOf", [])]
        content["inScopeOf"] = [a for a in scope if is_member(a)]  # a member's scope only
        if len(content["inScopeOf"]) < len(scope):
            self._unread("inScopeOf")  # an external agent: not recorded
        for key, name in (("plannedWithin", "Plan"), ("basedOn", "ProcessSpecification")):
            address = self._address(key, content.pop(key, None))
            if address is not None:
                content[key] = self.planning.record(name, address)
        finished = content.pop("finished", False)
        new = self._create(iri, Process, content, "processes")
        if finished and new not in self.own:  # finished after its events are in
            assert self.scratch is not None
            entry = self.scratch.records[-1].entry
            assert entry is not None
            self.finish.append((Cid.parse(new), entry.address, {**content, "finished": True}))
        return new

    def agent(self, value: str) -> str:
        """This agent, a member's agent id, or an external agent's Agent entry."""
        if ":" not in value:  # a planning record's agent id
            return self.agents.get(value, value)
        if value == self.as_iri or value in self.agents:
            return self.agents.get(value, self.me)
        member = value.removeprefix(AGENT_PREFIX)
        if value.startswith(AGENT_PREFIX) and (member in self.agents or member in self.members):
            return self.agents.get(member, member)
        address = address_in(value)
        if address is not None and address in self.view.agent_entries:
            return address
        found, content = self._known("agents", value)
        if found is not None:
            return found
        content = content or {"sameAs": value}
        content.setdefault("name", _tail(value))
        content.setdefault("agentType", "Organization")
        return self._create(value, Agent, content, "agents")

    def _address(self, field: str, iri: str | None) -> str | None:
        """The address of a planning record named by coledger's IRI; another system's
        (a commitment, a plan, a process specification coledger cannot copy) is left out
        and counted as unread."""
        if iri is None:
            return None
        address = address_in(iri)
        if address is None:
            self._unread(field)
        return address

    def _unread(self, field: str) -> None:
        """Count a VF property left out as one the document holds and coledger does not."""
        unread = self.graph["unread"]
        unread[VF + field] = unread.get(VF + field, 0) + 1

    def _mine(self, event: Mapping[str, Any]) -> bool:
        """Whether this agent is a party to the event (after the agents' mapping)."""
        return self.me in (self._party(event.get("provider")), self._party(event.get("receiver")))

    def _party(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        if value == self.as_iri or value in self.agents:
            return self.agents.get(value, self.me)
        member = value.removeprefix(AGENT_PREFIX)
        return self.agents.get(member, member)

    def build(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.planning.before_events()
        for iri, process in self.graph["processes"].items():
            if "plannedWithin" in process:  # a plan's processes, events or not
                self.process(iri)
        self._describe_places(scratch)
        events = self.graph["events"]
        self._open_balances(scratch, events)
        for index in dependency_order(events):
            iri, content = events[index]
            n = index + 1
            self.label = f"event {n} ({iri})" if iri else f"event {n}"
            address = address_in(iri) if iri else None
            if address is not None and address in self.view.events:
                self.skipped += 1
                continue
            if self.as_iri is not None and not self._mine(content):
                self.left_out += 1
                continue
            self._record(scratch, iri, self._rewritten(content))
        self.label = "the import"
        self.planning.after_events()
        for original, entry_address, content in self.finish:
            update = scratch.update(original, entry_address, entry_type(Process),
                                    Process.from_content(content).to_content())
            self.labels[update] = f"finishing {node_id(str(original))}"

    def _rewritten(self, content: Mapping[str, Any]) -> dict[str, Any]:
        """An event's references resolved to records here."""
        event = dict(content)
        for key in ("provider", "receiver"):
            if key in event:
                event[key] = self.agent(event[key])
        for key in _RESOURCE_KEYS:
            if key in event:
                event[key] = self.resource(event[key])
        for key in _PROCESS_KEYS:
            if key in event:
                event[key] = self.process(event[key])
        if "resourceConformsTo" in event:
            event["resourceConformsTo"] = self.spec(event["resourceConformsTo"])
        if "corrects" in event:
            corrected = event["corrects"]
            named = address_in(corrected) or corrected
            event["corrects"] = self.events.get(named, named)
        for key in _PLANNING_KEYS:
            address = self._address(key, event.pop(key, None))
            if address is not None:
                event[key] = address
        self.planning.rewrite_event(event)
        return event

    def _record(self, scratch: Scratch, iri: str | None, event: dict[str, Any]) -> None:
        try:
            parsed = EconomicEvent.from_content(event)
        except ValueError as e:
            raise LocalError(f"{self.label}: {describe_error(e)}") from None
        here = parsed.to_content()
        key = None if iri is None else address_in(iri) or iri
        found = self.reuse(entry_type(EconomicEvent), here)
        if found is not None:  # imported before
            self.skipped += 1
            if key is not None:
                self.events[key] = found
            return
        new = scratch.create(entry_type(EconomicEvent), here)
        self.labels[new] = self.label
        for link in link_flows(scratch, parsed, new):  # from what it fulfils, satisfies...
            self.labels[link] = f"{self.label}: its link from what it meets"
        self.imported += 1
        if key is not None:
            self.events[key] = str(new)

    def _describe_places(self, scratch: Scratch) -> None:
        """A SpatialThing entry for each place the document describes (coordinates,
        address) that this chain describes under no entry of that name, so that its
        exports say the same of it; a place described here keeps its own description."""
        kind = entry_type(SpatialThing)
        named = {json.loads(value).get("name") for (t, value) in self.pool if t == kind}
        for label, content in self.graph["places"].items():
            self.label = f"the place {label}"
            if label not in named:
                try:
                    entry = SpatialThing.from_content(content).to_content()
                except ValueError as e:
                    raise LocalError(f"{self.label}: {describe_error(e)}") from None
                self.labels[scratch.create(kind, entry)] = self.label

    def _open_balances(self, scratch: Scratch, events: list[Any]) -> None:
        """A `raise` of what each resource given only with its quantities held before the
        document's events (jsonld_order.opening_balance), unless it is here already,
        another agent is accountable for it, or it is a coledger record (named
        `urn:coledger:<address>`): a coledger export states what its events left (a
        coledger resource starts empty), so its quantities are never an opening balance and
        its events are judged by the chain's own rules (check_balance)."""
        for iri, stated in self.graph["quantities"].items():
            self.label = f"the opening balance of {iri}"
            if address_in(iri) is not None or self._known("resources", iri)[0] is not None:
                continue
            owner = self.graph["resources"][iri].get("primaryAccountable")
            if owner is not None and self._party(owner) != self.me:
                continue
            try:
                held = opening_balance(iri, stated, events)
            except AccountingError as error:
                raise LocalError(f"{self.label}: {error}") from None
            if held is None:
                continue
            quantity = {"hasNumericalValue": held, "hasUnit": stated["hasUnit"]}
            resource = self.resource(iri)
            self._record(scratch, None, {
                "action": "raise", "provider": self.me, "receiver": self.me,
                "resourceInventoriedAs": resource, "resourceQuantity": quantity,
                "note": f"opening balance of {iri} (imported)"[:10_000]})
            self.opened.append({"resource": resource, "iri": iri, "quantity": quantity})

    def check(self, scratch: Scratch) -> None:
        """Every new record judged as a validator would, in order; the first refusal names
        the event of the file it comes from."""
        deps = self.ledger.deps(scratch.records)
        now = self.ledger.agent.clock()
        for record in scratch.records:
            op = Op(OpType.REGISTER_AGENT_ACTIVITY, record.signed, record.entry)
            outcome = self.ledger.validator.validate(op, deps, now)
            where = self.labels.get(record.address, "the import")
            if isinstance(outcome, Invalid):
                raise RuleBroken(f"{where}: rejected by {outcome.rule}: {outcome.reason}")
            if isinstance(outcome, Unresolved):
                missing = ", ".join(str(m) for m in outcome.missing[:3])
                raise RuleBroken(f"{where}: cannot be checked: missing {missing} (not held here)")


def import_vf_jsonld(ledger: Ledger, document: Any, agents: Mapping[str, str],
                     as_iri: str | None = None) -> dict[str, Any]:
    """Record the document's events on this chain, all or nothing; a summary of what was.
    `agents` maps a document's agent (id or IRI) to one here; `as_iri` is this agent's
    IRI in the document."""
    try:
        graph = read_vf_graph(document)
    except MalformedDocument as e:
        raise LocalError(f"not a ValueFlows document coledger can import: {e}") from None
    if ledger.agent.head() is None:
        raise LocalError("this agent has not joined a network: create or join one first")
    if as_iri is not None and graph["events"] and not any(
            as_iri in (e.get("provider"), e.get("receiver")) for _, e in graph["events"]):
        named = sorted({e[k] for _, e in graph["events"] for k in ("provider", "receiver")
                        if isinstance(e.get(k), str)})
        raise NotInTheDocument(
            Field("as", "this cooperative's IRI"), f" {as_iri}: no event of the document "
            f"names this agent; it names {', '.join(named[:4])}" + (
                " ..." if len(named) > 4 else ""))
    job = _Import(ledger, graph, agents, as_iri)
    ledger.agent.commit(job.build, job.check)
    return {
        "imported": job.imported,
        "skipped": job.skipped,
        "left_out": job.left_out,
        "created": job.counts,
        "external_agents": job.externals,
        "opened": job.opened,
        "events": job.events,
        "planning": job.planning.summary(graph["countersigned"]),
        "unread": graph["unread"],
    }


def _canonical(content: Any) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
