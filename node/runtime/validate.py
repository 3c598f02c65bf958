"""The validation workflow: move queued ops through sys and app validation to
integration, issuing warrants and blocks, and receipts when asked. Synchronous and
store-level; the node runs it whenever ops arrive (and on a timer for retries).

Queue: the DHT store's `ops` table (node/store/op_queue.py), ops due by `next_try_us`;
and `warrants_undecided`, judged again by `retry_warrants`. Blocks go to the store's
`blocked` table through `DhtStore.block`, read back through `DhtStore.blocked_agents`.

    pending --sys Valid--> sys_valid --app Valid--> app_valid --integrate--> integrated
       \\__________ Invalid (either stage) _________________________________> rejected
    Unresolved: the op stays where it is, retried when a missing dependency arrives
    or after a backoff (doubling, capped).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from node.core.cid import Cid
from node.core.errors import CoreError
from node.core.identity import AgentId, AgentKey
from node.core.ops import Op, OpType
from node.core.outcome import Invalid, Outcome, Unresolved, Valid
from node.core.records import Record, SignedAction
from node.runtime.logs import event as log_event
from node.store.db import StoreError
from node.store.deps import StoreDeps
from node.store.dht import (
    APP_VALID,
    INTEGRATED,
    NEXT_STATE,
    PENDING,
    REJECTED,
    SYS_VALID,
    DhtStore,
    OpOutcome,
    QueuedOp,
)
from node.store.home import gc_paused
from node.store.links import LINK_OPS
from validation.pipeline import Validator
from validation.receipts import ReceiptOutcome, receipt_bytes
from validation.warrants import (
    TIME_DEPENDENT_RULES,
    ForkEvidence,
    InvalidOpEvidence,
    IssuerFalse,
    Undecided,
    Verdict,
    Warrant,
    WarranteeGuilty,
    issue_warrant,
    judge_warrant,
)

log = logging.getLogger("coledger.validation")

RETRY_BASE_US = 500_000
RETRY_MAX_US = 300_000_000
UNDECIDED_WARRANTS = 256
"""Warrants held at most while this node fetches what it needs to judge them."""
UNDECIDED_PER_ISSUER = 16
"""...and at most this many of one issuer's."""
WARRANT_PATIENCE_US = 3600_000_000
"""How long an undecided warrant is judged again before it is given up."""


@dataclass
class WorkflowReport:
    """What one run of the workflow did."""

    integrated: int = 0
    rejected: int = 0
    deferred: int = 0
    warrants: list[Warrant] = field(default_factory=list)
    own_forks: list[tuple[SignedAction, SignedAction]] = field(default_factory=list)
    """Forks of our own chain found here (a rollback, written again): never warranted."""

    @property
    def progressed(self) -> bool:
        return bool(self.integrated or self.rejected)


def retry_delay_us(attempts: int) -> int:
    return int(min(RETRY_MAX_US, RETRY_BASE_US * 2 ** min(attempts, 30)))


class ValidationWorkflow:
    """Runs the op queue of one DhtStore with one Validator, as agent `key`."""

    def __init__(self, dht: DhtStore, deps: StoreDeps, validator: Validator, key: AgentKey) -> None:
        self.dht = dht
        self.deps = deps
        self.validator = validator
        self.key = key
        self._finished: list[tuple[Cid, str, str | None, str | None]] = []
        self.blocked = dht.blocked_agents  # (the store's table, in memory)
        # (author, prev) where the store holds a fork, for the batch being run (None: ask)
        self._forks: set[tuple[bytes, bytes]] | None = None
        # actions held in deps for the batch being run (DhtStore.due shares their objects)
        self._held: dict[Cid, SignedAction] = {}

    def _stages(self) -> dict[str, Callable[[Op, int], Outcome]]:
        v, deps = self.validator, self.deps
        return {
            PENDING: lambda op, now: v.sys(op, deps, now),
            SYS_VALID: lambda op, now: v.app(op, deps),
            APP_VALID: lambda op, now: Valid(),
        }

    def run(self, now_us: int, limit: int = 2000) -> WorkflowReport:
        """Process up to `limit` due ops (repeating while ops keep integrating)."""
        report = WorkflowReport()
        stages = self._stages()
        self.blocked.reload()
        while True:
            before = report.integrated + report.rejected
            with gc_paused(), self.dht.transaction():
                # read inside the pause too: decoding a batch makes many long-lived objects;
                # and the batch is let go inside it (_run_batch returns): freed by reference
                # counting, not walked by the collector when it resumes
                due = self._run_batch(now_us, limit, stages, report)
            if due < limit or report.integrated + report.rejected == before:
                return report

    def _run_batch(self, now_us: int, limit: int,
                   stages: dict[str, Callable[[Op, int], Outcome]], report: WorkflowReport) -> int:
        """Advance the ops due now (up to `limit`), in the caller's transaction; returns
        how many were due."""
        due = self.dht.due(now_us, limit)
        self._finished = []
        self._held = {}
        # one query for the batch: nothing run() does adds actions to the store
        self._forks = self.dht.fork_points(
            q.op.signed for q in due if q.op.type is OpType.REGISTER_AGENT_ACTIVITY
        )
        for queued in due:
            if queued.op.action.author in self.blocked:
                # blocked while this batch ran, or its ops arrived after the block
                self.dht.set_state(queued.op.address, REJECTED, now_us, "blocked",
                                   "the author is blocked")
                report.rejected += 1
                continue
            self._advance(queued, stages, now_us, report)
        self._flush(now_us)
        self._forks = None
        self._held = {}
        return len(due)

    def _advance(self, queued: QueuedOp, stages: dict[str, Callable[[Op, int], Outcome]],
                 now_us: int, report: WorkflowReport) -> None:
        op, state, attempts = queued.op, queued.state, queued.attempts
        address = queued.address or op.address
        signed = op.signed
        if (op.entry is not None or not op.action.HAS_ENTRY) and (
                self._held.get(signed.address) is not signed):
            # the next action's ops will need this one (its prev) for chain checks; the
            # ops of one action share its decoding (DhtStore.due): hold it once a batch
            self._held[signed.address] = signed
            self.deps.hold(Record(signed, op.entry))
        start = state
        while state in stages:
            outcome = self._judge(stages[state], op, state, now_us)
            if isinstance(outcome, Unresolved):
                # the stage reached is kept: a retry resumes there (one write, not one a stage)
                if state != start:
                    self.dht.set_state(address, state, now_us)
                self.dht.defer(address, outcome.missing, now_us + retry_delay_us(attempts))
                report.deferred += 1
                return
            if isinstance(outcome, Invalid):
                self._reject(op, address, outcome, now_us, report)
                return
            state = NEXT_STATE[state]
        if state == INTEGRATED:
            self._integrate(op, address, now_us, report)
        else:
            self.dht.set_state(address, state, now_us)

    @staticmethod
    def _judge(stage: Callable[[Op, int], Outcome], op: Op, state: str, now_us: int) -> Outcome:
        """The stage's outcome; a bug in validation code (ours or a zome's) is logged and the
        op waits for its retry: no proof that it is invalid, and no reason for one peer's op
        to end the loop of every authority it reaches. A failing store is not a bug here."""
        try:
            return stage(op, now_us)
        except StoreError:
            raise
        except Exception:
            log.exception("validating op %s (%s stage) hit a bug; it waits for its retry",
                          op.address, state)
            return Unresolved(())

    def _integrate(self, op: Op, address: Cid, now_us: int, report: WorkflowReport) -> None:
        report.integrated += 1
        self._finished.append((address, INTEGRATED, None, None))
        if op.type in LINK_OPS:  # the base's authority lists the link (node/store/links.py)
            self.dht.hold_link(op)
        if op.type is OpType.REGISTER_AGENT_ACTIVITY and self._may_fork(op):
            for sibling in self.dht.siblings(op.signed):
                self._flush(now_us)
                self._warrant(ForkEvidence.of(op.signed, sibling), now_us, report)

    def _may_fork(self, op: Op) -> bool:
        """Whether `dht.siblings` could find anything for this op's action."""
        action = op.action
        if self._forks is None or action.prev_action is None:
            return True
        return (action.author.to_bytes(), action.prev_action.to_bytes()) in self._forks

    def _flush(self, now_us: int) -> None:
        """Write the buffered final states (before anything reads them)."""
        self.dht.finish_many(self._finished, now_us)
        self._finished = []

    def outcomes(self, addresses: Sequence[Cid]) -> dict[Cid, OpOutcome]:
        """The state of each op held, with our receipt for each one integrated or
        rejected: receipts are signed here, when someone asks (an author publishing,
        or republishing), dated when the op was judged, and kept; not at integration,
        where most of the ops a node takes by gossip or catch-up are never asked
        about (Holochain likewise sends receipts only for ops that were published)."""
        held = self.dht.outcomes(addresses, self.key.agent_id)
        signed: list[tuple[Cid, AgentId, bytes]] = []
        for address, o in held.items():
            if o.receipt is None and o.state in (INTEGRATED, REJECTED):
                outcome: ReceiptOutcome = "valid" if o.state == INTEGRATED else "rejected"
                receipt = receipt_bytes(self.key, address, outcome, o.changed_us)
                held[address] = o._replace(receipt=receipt)
                signed.append((address, self.key.agent_id, receipt))
        if signed:
            self.dht.add_receipts(signed)
        return held

    def _reject(self, op: Op, address: Cid, outcome: Invalid, now_us: int,
                report: WorkflowReport) -> None:
        report.rejected += 1
        log.info("rejected op %s of %s: %s (%s)", address, op.action.author, outcome.reason,
                 outcome.rule, extra=log_event("op_rejected", op=address, author=op.action.author,
                                           rule=outcome.rule, reason=outcome.reason))
        self._flush(now_us)
        self.dht.set_state(address, REJECTED, now_us, outcome.rule, outcome.reason)
        if outcome.rule not in TIME_DEPENDENT_RULES and op.action.author != self.key.agent_id:
            self._warrant(InvalidOpEvidence.of(op, outcome), now_us, report)

    def _warrant(self, evidence: InvalidOpEvidence | ForkEvidence, now_us: int,
                 report: WorkflowReport) -> None:
        """Warrant only on evidence that convicts as every judge will see it: an op the
        author did not sign (forged signature, swapped entry) is rejected, not warranted.
        Our own fork is reported to the node (it flags the home), not warranted."""
        if evidence.warrantee == self.key.agent_id:
            if isinstance(evidence, ForkEvidence):
                report.own_forks.append(evidence.pair)
            return
        warrant = issue_warrant(self.key, evidence, now_us)
        if isinstance(judge_warrant(warrant, self._revalidate(now_us)), WarranteeGuilty):
            self.accept_warrant(warrant, now_us, report, judged=True)

    def accept_warrant(self, warrant: Warrant, now_us: int, report: WorkflowReport | None = None,
                       *, judged: bool = False) -> str:
        """Judge a warrant (ours are judged already) and block whoever it convicts.

        Returns the verdict's name. An undecided warrant (the op's dependencies are not
        held here) is kept, up to UNDECIDED_WARRANTS, and judged again by
        `retry_warrants` while the node fetches the warrantee's chain, as it does for
        any unresolved op: every receiver reaches the issuer's verdict, or finds the
        warrant false."""
        verdict = (
            WarranteeGuilty(warrant.warrantee, "", "") if judged
            else judge_warrant(warrant, self._revalidate(now_us))
        )
        if isinstance(verdict, Undecided):
            data = warrant.to_bytes()
            self.dht.hold_undecided_warrant(
                Cid.of(data), warrant.warrantee, warrant.issuer, data, now_us,
                UNDECIDED_WARRANTS, UNDECIDED_PER_ISSUER,
            )
        self._act_on(warrant, verdict, now_us, report)
        return type(verdict).__name__

    def _act_on(self, warrant: Warrant, verdict: Verdict, now_us: int,
                report: WorkflowReport | None) -> None:
        """Block whoever the verdict convicts: the warrantee, or a false warrant's issuer."""
        if isinstance(verdict, WarranteeGuilty):
            data = warrant.to_bytes()
            stored = self.dht.add_warrant(
                Cid.of(data), warrant.warrantee, warrant.issuer, data, now_us
            )
            if stored and report is not None:
                report.warrants.append(warrant)
            self.block(warrant.warrantee, f"warranted by {warrant.issuer}", now_us, data)
        elif isinstance(verdict, IssuerFalse):
            self.block(warrant.issuer, "issued a false warrant", now_us, warrant.to_bytes())

    def retry_warrants(self, now_us: int) -> int:
        """Judge again the undecided warrants due now; returns how many were decided.
        One still undecided waits longer each time, and is given up (with a log line)
        after WARRANT_PATIENCE_US."""
        decided = 0
        for data, received_us, attempts in self.dht.undecided_warrants(now_us):
            address = Cid.of(data)
            try:
                warrant = Warrant.from_bytes(data)
            except CoreError:
                self.dht.drop_undecided_warrant(address)
                continue
            verdict = judge_warrant(warrant, self._revalidate(now_us))
            if not isinstance(verdict, Undecided):
                self.dht.drop_undecided_warrant(address)
                self._act_on(warrant, verdict, now_us, None)
                decided += 1
            elif now_us - received_us > WARRANT_PATIENCE_US:
                log.info("gave up judging a warrant of %s against %s: %s",
                         warrant.issuer, warrant.warrantee, verdict.reason)
                self.dht.drop_undecided_warrant(address)
            else:
                self.dht.defer_undecided_warrant(address, now_us + retry_delay_us(attempts))
        return decided

    def block(self, agent: AgentId, reason: str, now_us: int, warrant: bytes | None) -> None:
        """Refuse `agent` from now on and reject everything it wrote (never ourselves)."""
        if agent == self.key.agent_id:
            return
        self.dht.block(agent, reason, now_us, warrant)
        self.dht.reject_author(agent, now_us, reason)

    def _revalidate(self, now_us: int) -> Callable[[Op], Outcome]:
        return lambda op: self.validator.validate(op, self.deps, now_us)

