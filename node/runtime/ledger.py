"""The ledger of one home: its agent, its network's validator and the ValueFlows zome.

Every write is validated as a peer would validate it (sys + app rules on the new
records' agent-activity ops) before it is flushed: an invalid event fails with the
rule's message and nothing is written.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from node.core.actions import AgentValidationPkg
from node.core.cid import Cid
from node.core.dna import DnaDef
from node.core.errors import CoreError, HeadMoved, LocalError
from node.core.ops import Op, OpType
from node.core.outcome import Invalid, Outcome, Unresolved
from node.core.records import Record, SignedAction
from node.core.scratch import Scratch
from node.store.deps import StoreDeps
from node.store.dht import DhtStore
from node.store.home import Agent, PassphraseSource, open_agent
from node.store.network_file import current_dna
from node.store.sessions import SessionCommit
from validation.app import seed_membership
from validation.pipeline import Validator
from zomes.membrane.invitations import validate_agent_validation_pkg
from zomes.registry import installed_zomes
from zomes.valueflows import coordinator
from zomes.valueflows.trace import FlowNode, NotInIndex
from zomes.valueflows.zome import PREFIX, ChainView, seed_view

T = TypeVar("T")

# Another process writing this chain between our read of its head and our flush makes the
# flush fail (HeadMoved, nothing written); the commit is then built again on the new head.
COMMIT_ATTEMPTS = 12
BACKOFF_S = 0.005  # the first retry's mean wait; doubles each time, jittered, capped
BACKOFF_CAP_S = 0.25


class RuleBroken(LocalError):
    """Our own commit breaks a validation rule; nothing was written."""


def make_validator(dna: DnaDef) -> Validator:
    progenitor = dna.progenitor_id
    network_id = dna.address

    def validate_genesis(op: Op) -> Outcome:
        return validate_agent_validation_pkg(op, network_id=network_id, progenitor=progenitor)

    return Validator(network_id, tuple(z.integrity for z in installed_zomes()), validate_genesis)


@dataclass
class Ledger:
    agent: Agent
    dna: DnaDef
    validator: Validator
    dht: DhtStore
    _folded: tuple[int, Cid, ChainView] | None = field(default=None, init=False, repr=False)
    _avp: SignedAction | None = field(default=None, init=False, repr=False)

    # -- reading -----------------------------------------------------------------

    def view(self) -> ChainView:
        """This agent's ValueFlows data, folded from its chain: in full once, then only the
        records written since (a long-running node asks for it at every step). Each call
        returns a view of its own."""
        head = self.agent.head()
        folded = self._folded
        if head is None:
            return ChainView()
        if folded is not None and (folded[0], folded[1]) == (head.seq, head.address):
            return folded[2].copy()
        start, view = 0, ChainView()
        if folded is not None and folded[0] < head.seq:
            record = self.agent.store.get_record_at(folded[0])
            if record is not None and record.address == folded[1]:  # still our chain's prefix
                start, view = folded[0] + 1, folded[2].copy()
        store = self.agent.store
        for record in store.records(entry_type_prefix=PREFIX, start=start):
            try:
                view.step(record)
            except (CoreError, ValueError, LookupError):
                if store.damage is None:
                    raise
                # A damaged record was left out (Store.records): what names it cannot be
                # folded either. Reads go on with a warning; writes are refused.
                store.note_damage(f"seq {record.action.seq} cannot be folded")
        self._folded = (head.seq, head.address, view)
        return view.copy()

    def own_avp(self) -> SignedAction | None:
        """Our AgentValidationPkg (seq 1), once read."""
        if self._avp is None:
            record = self.agent.store.get_record_at(1)
            if record is not None and isinstance(record.action, AgentValidationPkg):
                self._avp = record.signed
        return self._avp

    def deps(self, staged: list[Record] | None = None) -> StoreDeps:
        return StoreDeps(dht=self.dht, own=self.agent.store, staged=staged or ())

    # -- writing -----------------------------------------------------------------

    def commit(
        self,
        build: Callable[[Scratch, ChainView], T],
        *,
        session: SessionCommit | None = None,
        staged: Sequence[Record] = (),
    ) -> T:
        """Build with a view of the chain, check every new record as a validator would,
        flush atomically; RuleBroken (nothing written) when a rule says no. `staged`
        are other agents' records the check may read (sent along in a countersigning
        session); `session` is the countersigning session this write completes.

        If another writer moves the head meanwhile, the commit is built, checked and signed
        again on the new head (a few times, with a jittered backoff); not for a session,
        whose action the other party has seen."""
        attempt = 0
        while True:
            try:
                return self._commit_once(build, session=session, staged=staged)
            except HeadMoved:
                attempt += 1
                if session is not None or attempt >= COMMIT_ATTEMPTS:
                    raise
                wait = min(BACKOFF_CAP_S, BACKOFF_S * 2 ** (attempt - 1))
                time.sleep(random.uniform(0, 2 * wait))

    def _commit_once(
        self,
        build: Callable[[Scratch, ChainView], T],
        *,
        session: SessionCommit | None,
        staged: Sequence[Record],
    ) -> T:
        """One attempt: fold, build, check and flush at the head as read now."""
        view = self.view()
        head = self.agent.head()
        if head is None:
            raise LocalError(
                "this agent has not joined a network: "
                "run `coledger network create` or `coledger join`"
            )

        def check(scratch: Scratch) -> None:
            if scratch.base != head:  # the view was folded at another head than the scratch's
                raise HeadMoved("the chain head moved while this commit was being built")
            deps = self.deps([*staged, *scratch.records])
            seed_view(deps, head.address, view.copy())
            own_avp = self.own_avp()
            if own_avp is not None and head.seq >= own_avp.action.seq:
                seed_membership(deps, head.address, own_avp)
            now = self.agent.clock()
            for record in scratch.records:
                op = Op(OpType.REGISTER_AGENT_ACTIVITY, record.signed, record.entry)
                self._raise_unless_valid(self.validator.validate(op, deps, now), record)

        return self.agent.commit(lambda s: build(s, view), check, session=session)

    @staticmethod
    def _raise_unless_valid(outcome: Outcome, record: Record) -> None:
        if isinstance(outcome, Invalid):
            raise RuleBroken(f"rejected by {outcome.rule}: {outcome.reason}")
        if isinstance(outcome, Unresolved):
            missing = ", ".join(str(m) for m in outcome.missing[:3])
            raise RuleBroken(f"cannot be checked yet: missing {missing} (not held locally)")

    def record(self, req: coordinator.EventRequest) -> coordinator.Recorded:
        author = str(self.agent.agent_id)
        now = self.agent.clock()
        return self.commit(lambda s, v: coordinator.record_event(s, v, author, req, now))

    def create_spec(self, name: str, unit: str, allow_negative: bool, note: str | None) -> Cid:
        return self.commit(
            lambda s, v: coordinator.create_spec(s, name, unit, allow_negative, note)
        )

    def create_process_spec(self, name: str, note: str | None) -> Cid:
        return self.commit(lambda s, v: coordinator.create_process_spec(s, name, note))

    def create_process(self, name: str, based_on: str | None, note: str | None) -> Cid:
        now = self.agent.clock()
        return self.commit(lambda s, v: coordinator.create_process(s, name, based_on, note, now))

    def finish_process(self, process: str) -> Cid:
        try:
            original = self.agent.store.get_record(Cid.parse(process))
        except Exception:
            original = None
        if original is None or original.entry is None:
            raise LocalError(f"{process} is not a process on this chain")
        now, entry = self.agent.clock(), original.entry.address
        return self.commit(lambda s, v: coordinator.finish_process(s, v, process, entry, now))

    # -- views ---------------------------------------------------------------------

    def inventory(self) -> list[dict[str, Any]]:
        return coordinator.inventory(self.view())

    def flows(self, address: str, backwards: bool) -> list[dict[str, Any]]:
        """The VF trace (backwards) or track (forwards) from `address`, as an ordered list."""
        view = self.view()
        index = coordinator.flow_index(view)
        try:
            nodes = index.trace(address) if backwards else index.track(address)
        except NotInIndex:
            raise LocalError(f"{address} is not a resource, event or process known here") from None
        return [describe_node(n, view) for n in nodes]


def describe_node(node: FlowNode, view: ChainView) -> dict[str, Any]:
    """A flow node with what a person needs to read it: names, actions, quantities."""
    out: dict[str, Any] = {"kind": node.kind, "address": node.address, "distance": node.distance}
    if node.kind == "EconomicEvent":
        event = view.events.get(node.address)
        if event is not None:
            out["action"] = event.action
            if event.resource_quantity is not None:
                out["quantity"] = event.resource_quantity.to_content()
            if event.effort_quantity is not None:
                out["effort"] = event.effort_quantity.to_content()
            out["provider"] = event.provider
            out["receiver"] = event.receiver
    elif node.kind == "Process":
        process = view.processes.get(node.address)
        if process is not None:
            out["name"] = process.name
    elif node.kind == "EconomicResource":
        resource = view.resources.get(node.address)
        if resource is not None:
            out["name"] = resource.name
    return out


@contextmanager
def open_ledger(home: Path, passphrase: PassphraseSource) -> Iterator[Ledger]:
    with open_agent(home, passphrase) as agent:
        dna = current_dna(agent)
        yield Ledger(agent, dna, make_validator(dna), DhtStore(agent.store))
