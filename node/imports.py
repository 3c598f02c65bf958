"""`coledger import`: a ValueFlows JSON-LD document's events recorded on this agent's chain.

Each event is signed by this agent and judged by the same rules as `coledger record`; the
whole import is one commit, so one refused event leaves the chain as it was. What the events
refer to is resolved in this order:

- resources: this chain's own (same address), else a copy of the file's resource, made on
  this chain (the rules let an agent change only resources its own chain created);
- processes: this chain's, else a copy of the file's, else one held here (another agent's
  process, as `record --input-of` may name);
- specifications: this chain's or one held here (shared knowledge is not duplicated), else
  a copy of the file's.

Copies get new addresses, and the events are rewritten to name them. An event already on
this chain (same address) is skipped, so importing one's own export again adds nothing; a
specification or a plan's process with the very content of one already here is not copied
again.
The document's plans, intents, proposals, commitments, claims and recipes are copied too
(node/imports_planning.py), and the events' fulfills/satisfies/settles name the copies.
Agents are kept as the file names them unless mapped (`--agent OLD=NEW`, NEW may be `me`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from node.core.actions import Create
from node.core.cid import Cid
from node.core.errors import LocalError
from node.core.ops import Op, OpType
from node.core.outcome import Invalid, Unresolved
from node.core.scratch import Scratch
from node.imports_planning import PlanningImport
from node.runtime.ledger import Ledger, RuleBroken
from zomes.accounting.jsonld import MalformedDocument, node_id
from zomes.accounting.jsonld_import import read_vf_graph
from zomes.valueflows.coordinator import link_flows
from zomes.valueflows.entries import EconomicEvent, EconomicResource, Process, ResourceSpecification
from zomes.valueflows.messages import describe_error
from zomes.valueflows.zome import ChainView, entry_type

_RESOURCE_KEYS = ("resourceInventoriedAs", "toResourceInventoriedAs")
_PROCESS_KEYS = ("inputOf", "outputOf")


class _Import:
    """One import being built in a scratch: what was copied, what each record stands for."""

    def __init__(self, ledger: Ledger, graph: dict[str, Any], agents: Mapping[str, str]) -> None:
        self.ledger, self.graph, self.agents = ledger, graph, agents
        self.view: ChainView = ledger.view()
        self.deps = ledger.deps()
        self.copies: dict[str, str] = {}  # address in the file -> address of our copy
        self.counts = {"resources": 0, "processes": 0, "specs": 0}
        self.finish: list[tuple[Cid, Cid, dict[str, Any]]] = []
        self.labels: dict[Cid, str] = {}
        self.events: dict[str, str] = {}  # event in the file -> the event recorded
        self.skipped = 0
        self.imported = 0
        self.scratch: Scratch | None = None
        self.label = "the import"
        self.me = str(ledger.agent.agent_id)
        self.own: set[str] = set()  # the addresses of what this chain created
        self.pool: dict[tuple[str, str], list[str]] = {}  # (type, content) -> those records
        for record in ledger.agent.store.records():
            if isinstance(record.action, Create) and record.entry is not None:
                self.own.add(str(record.address))
                key = (record.action.entry_type, _canonical(record.entry.value))
                self.pool.setdefault(key, []).append(str(record.address))
        self.planning = PlanningImport(self, graph["planning"], graph["withdrawn"])

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

    def _create(self, address: str, cls: type[Any], content: dict[str, Any], kind: str) -> str:
        assert self.scratch is not None
        try:
            entry = cls.from_content(content)
        except ValueError as e:
            raise LocalError(f"{self.label}: {node_id(address)}: {describe_error(e)}") from None
        # knowledge and a plan's processes are found again; resources and other processes
        # (what happened, to things) are copied each time, as they always were
        if kind == "specs" or (kind == "processes" and "plannedWithin" in content):
            found = self.reuse(entry_type(cls), entry.to_content())
            if found is not None:
                self.copies[address] = found
                return found
        new = self.scratch.create(entry_type(cls), entry.to_content())
        self.labels[new] = f"{self.label}: the copy of {node_id(address)}"
        self.copies[address] = str(new)
        self.counts[kind] += 1
        return str(new)

    def _missing(self, what: str, address: str) -> LocalError:
        return LocalError(
            f"{self.label} names {what} {node_id(address)}, which is neither known here nor in "
            "the file"
        )

    def spec(self, address: str) -> str:
        if address in self.copies:
            return self.copies[address]
        if address in self.view.resource_specs or self.held(address):
            return address
        if address in self.graph["specs"]:
            content = dict(self.graph["specs"][address])
            return self._create(address, ResourceSpecification, content, "specs")
        raise self._missing("the specification", address)

    def resource(self, address: str) -> str:
        if address in self.view.resources:
            return address
        if address in self.copies:
            return self.copies[address]
        if address in self.graph["resources"]:
            content = dict(self.graph["resources"][address])
            if "conformsTo" in content:
                content["conformsTo"] = self.spec(content["conformsTo"])
            return self._create(address, EconomicResource, content, "resources")
        raise self._missing("the resource", address)

    def process(self, address: str) -> str:
        if address in self.view.processes:
            return address
        if address in self.copies:
            return self.copies[address]
        if address in self.graph["processes"]:
            content = dict(self.graph["processes"][address])
            content["inScopeOf"] = [self.agent(a) for a in content.get("inScopeOf", [])]
            if "plannedWithin" in content:
                content["plannedWithin"] = self.planning.record("Plan", content["plannedWithin"])
            if "basedOn" in content:
                content["basedOn"] = self.planning.record("ProcessSpecification",
                                                          content["basedOn"])
            finished = content.pop("finished", False)
            new = self._create(address, Process, content, "processes")
            if finished and new not in self.own:  # finished after its events are in
                assert self.scratch is not None
                entry = self.scratch.records[-1].entry
                assert entry is not None
                self.finish.append((Cid.parse(new), entry.address, {**content, "finished": True}))
            return new
        if self.held(address):
            return address
        raise self._missing("the process", address)

    def agent(self, agent: str) -> str:
        return self.agents.get(agent, agent)

    def build(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self.planning.before_events()
        for address, process in self.graph["processes"].items():
            if "plannedWithin" in process:  # a plan's processes, events or not
                self.process(address)
        for n, (address, content) in enumerate(self.graph["events"], 1):
            self.label = f"event {n} ({node_id(address)})" if address else f"event {n}"
            if address is not None and address in self.view.events:
                self.skipped += 1
                continue
            event = dict(content)
            for key in ("provider", "receiver"):
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
                event["corrects"] = self.events.get(event["corrects"], event["corrects"])
            self.planning.rewrite_event(event)
            try:
                parsed = EconomicEvent.from_content(event)
            except ValueError as e:
                raise LocalError(f"{self.label}: {describe_error(e)}") from None
            new = scratch.create(entry_type(EconomicEvent), parsed.to_content())
            self.labels[new] = self.label
            for link in link_flows(scratch, parsed, new):  # from what it fulfils, satisfies...
                self.labels[link] = f"{self.label}: its link from what it meets"
            self.imported += 1
            if address is not None:
                self.events[address] = str(new)
        self.label = "the import"
        self.planning.after_events()
        for original, entry_address, content in self.finish:
            update = scratch.update(original, entry_address, entry_type(Process),
                                    Process.from_content(content).to_content())
            self.labels[update] = f"finishing {node_id(str(original))}"

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


def import_vf_jsonld(ledger: Ledger, document: Any, agents: Mapping[str, str]) -> dict[str, Any]:
    """Record the document's events on this chain, all or nothing; a summary of what was."""
    try:
        graph = read_vf_graph(document)
    except MalformedDocument as e:
        raise LocalError(f"not a ValueFlows document coledger can import: {e}") from None
    if ledger.agent.head() is None:
        raise LocalError("this agent has not joined a network: create or join one first")
    job = _Import(ledger, graph, agents)
    ledger.agent.commit(job.build, job.check)
    return {
        "imported": job.imported,
        "skipped": job.skipped,
        "created": job.counts,
        "events": job.events,
        "planning": job.planning.summary(graph["countersigned"]),
    }


def _canonical(content: Any) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
