"""The ledger of one home: its agent, its network's validator and the app's view of its
chain (a `zomes.api.ViewHook`, kept folded between commits; the runtime never reads it).

Every write is validated as a peer would validate it (sys + app rules on the new
records' agent-activity ops) before it is flushed: an invalid event fails with the
rule's message and nothing is written. What the app writes is its own: its calls build
the records (e.g. zomes/valueflows/ledger_calls.py) and `commit` checks and flushes them.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from node.core.actions import AgentValidationPkg, CreateLink
from node.core.chain import ChainHead
from node.core.cid import Cid
from node.core.dna import DnaDef
from node.core.errors import CoreError, HeadMoved, LocalError
from node.core.ops import Op, OpType
from node.core.outcome import Invalid, Outcome, Unresolved
from node.core.records import Record, SignedAction
from node.core.refusals import NotJoined
from node.core.scratch import Scratch
from node.store.deps import StoreDeps
from node.store.dht import DhtStore
from node.store.home import Agent, PassphraseSource, open_agent
from node.store.network_file import current_dna
from node.store.sessions import SessionCommit
from node.store.sqlite import Store
from validation.app import seed_membership
from validation.pipeline import Validator
from zomes.api import ViewHook
from zomes.registry import app_view, installed_zomes

T = TypeVar("T")
L = TypeVar("L", bound="Ledger")

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
        # imported at the first check (a commit checks its author's membership): a ledger
        # opened to read (inventory, trace ...) checks nothing
        from zomes.membrane.invitations import validate_agent_validation_pkg

        return validate_agent_validation_pkg(op, network_id=network_id, progenitor=progenitor)

    return Validator(network_id, tuple(z.integrity for z in installed_zomes()), validate_genesis)


@dataclass
class Ledger:
    agent: Agent
    dna: DnaDef
    validator: Validator
    dht: DhtStore
    app: ViewHook[Any] = field(default_factory=app_view)
    """The app's view of the chain, which `commit` hands to what it builds."""
    _avp: SignedAction | None = field(default=None, init=False, repr=False)

    # -- reading -----------------------------------------------------------------

    def view(self) -> Any:
        """This agent's app data (`app`'s view), folded from its chain: in full once per
        process, then only the records written since (kept_view: a long-running node asks
        for it at every step). Each call returns a view of its own."""
        return self.app.copy(kept_view(self.agent.store, self.app)[1])

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
        build: Callable[[Scratch, Any], T],
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
        build: Callable[[Scratch, Any], T],
        *,
        session: SessionCommit | None,
        staged: Sequence[Record],
    ) -> T:
        """One attempt: fold, build, check and flush at the head as read now."""
        view = self.view()
        head = self.agent.head()
        if head is None:
            raise NotJoined("this agent has not joined a network")

        def check(scratch: Scratch) -> None:
            if scratch.base != head:  # the view was folded at another head than the scratch's
                raise HeadMoved("the chain head moved while this commit was being built")
            deps = self.deps([*staged, *scratch.records])
            self.app.seed(deps, head.address, self.app.copy(view))
            own_avp = self.own_avp()
            if own_avp is not None and head.seq >= own_avp.action.seq:
                seed_membership(deps, head.address, own_avp)
            now = self.agent.clock()
            for record in scratch.records:
                op = Op(OpType.REGISTER_AGENT_ACTIVITY, record.signed, record.entry)
                self._raise_unless_valid(self.validator.validate(op, deps, now), record)

        return self.agent.commit(lambda s: build(s, view), check, session=session)

    def create_link(self, base: Cid, target: Cid, zome: str, link_type: str,
                    tag: bytes = b"") -> Cid:
        """Link `target` from `base` (checked as a peer would: the zome must be this
        network's); the CreateLink's address, which names the link."""
        return self.commit(lambda s, _view: s.create_link(base, target, zome, link_type, tag))

    def delete_link(self, link: Cid) -> Cid:
        """Delete a link this agent made (check_link_delete: only its author may); the
        DeleteLink's address."""
        record = self.agent.store.get_record(link)
        action = None if record is None else record.action
        if not isinstance(action, CreateLink) or action.author != self.agent.agent_id:
            raise LocalError(f"{link} is no link of this agent's chain")
        return self.commit(lambda s, _view: s.delete_link(link, action.base))

    @staticmethod
    def _raise_unless_valid(outcome: Outcome, record: Record) -> None:
        if isinstance(outcome, Invalid):
            raise RuleBroken(f"rejected by {outcome.rule}: {outcome.reason}")
        if isinstance(outcome, Unresolved):
            missing = ", ".join(str(m) for m in outcome.missing[:3])
            raise RuleBroken(f"cannot be checked yet: missing {missing} (not held locally)")


KEPT = 4
"""Chains whose views one process keeps folded (a node has one; tests open many)."""
_kept_lock = threading.Lock()
_kept: dict[tuple[str, str, str], tuple[int, Cid, Any]] = {}


def kept_view(store: Store, app: ViewHook[T]) -> tuple[ChainHead | None, T]:
    """(`store`'s head, `app`'s view of its chain at that head), kept for the process: the
    node's ledger, the front door's readers (node/own_view.py) in any thread share it; read
    it, never change it (a fold extends a copy). Only the records past the kept head are
    folded. Sound across writers: a head (seq, address) names its whole chain, and when the
    record at the kept seq is no longer the kept one (a recovery replaced the chain) the
    view is folded again from the start. A damaged chain's view is not kept."""
    key = (str(Path(store.path).resolve()), type(app).__qualname__, app.prefix)
    head = store.head()
    if head is None:
        return None, app.empty()
    with _kept_lock:
        kept = _kept.get(key)
    if kept is not None and (kept[0], kept[1]) == (head.seq, head.address):
        view: T = kept[2]
        return head, view
    start, view = 0, app.empty()
    if kept is not None and kept[0] < head.seq:
        record = store.get_record_at(kept[0])
        if record is not None and record.address == kept[1]:  # still our chain's prefix
            start, view = kept[0] + 1, app.copy(kept[2])
    for record in store.records(entry_type_prefix=app.prefix, start=start):
        if record.action.seq > head.seq:  # written meanwhile: the next read folds it
            break
        try:
            app.step(view, record)
        except (CoreError, ValueError, LookupError):
            if store.damage is None:
                raise
            # A damaged record was left out (Store.records): what names it cannot be
            # folded either. Reads go on with a warning; writes are refused.
            store.note_damage(f"seq {record.action.seq} cannot be folded")
    if store.damage is None:
        with _kept_lock:
            _kept.pop(key, None)
            _kept[key] = (head.seq, head.address, view)
            while len(_kept) > KEPT:
                del _kept[next(iter(_kept))]
    return head, view


def forget_kept_views() -> None:
    """Drop every kept view (tests: to fold from scratch)."""
    with _kept_lock:
        _kept.clear()


def open_ledger(home: Path, passphrase: PassphraseSource) -> AbstractContextManager[Ledger]:
    """The ledger of the home at `home`, its agent opened with `passphrase`."""
    return open_ledger_as(Ledger, home, passphrase)


@contextmanager
def open_ledger_as(kind: type[L], home: Path, passphrase: PassphraseSource) -> Iterator[L]:
    """The ledger of a home as a `kind` (a Ledger that adds an app's calls)."""
    with open_agent(home, passphrase) as agent:
        dna = current_dna(agent)
        yield kind(agent, dna, make_validator(dna), DhtStore(agent.store))
