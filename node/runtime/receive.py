"""Incoming ops and warrants: the "publish" and "warrant" handlers, and the door every op
from a peer comes in by (`take_ops`), on its way to the validation workflow.

Queue: the DHT store's `ops` table, fed here (blocked authors' ops and counterfeits
dropped at the door) and run by `validate_now` (node/runtime/validate.py); warrants
this node issues wait in `warrants_out` for the publish workflow to send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet

from dht import wire
from node.core.cid import Cid
from node.core.errors import CoreError
from node.core.identity import AgentId
from node.core.ops import Op
from node.core.outcome import Invalid
from node.runtime.logs import event as log_event
from node.runtime.recovery import OwnChain
from node.runtime.validate import ValidationWorkflow, WorkflowReport
from node.store.deps import StoreDeps
from node.store.dht import INTEGRATED, REJECTED, DhtStore
from validation.pipeline import Validator
from validation.sys import counterfeit, decode_op
from validation.warrants import ForkEvidence, Warrant

log = logging.getLogger("coledger.node")


def decode_ops(raw_ops: Iterable[wire.RawOp]) -> list[Op]:
    """The ops of a peer's message that decode (the rest are dropped)."""
    ops = []
    for raw in raw_ops:
        op = decode_op(raw.op_type, raw.action, raw.signature, raw.entry)
        if not isinstance(op, Invalid):
            ops.append(op)
    return ops


class Receive:
    """Takes ops and warrants from peers, runs the validation workflow on them, and acts
    on what it reports (forks of our chain, warrants to send)."""

    def __init__(self, me: AgentId, dht: DhtStore, deps: StoreDeps, validator: Validator,
                 workflow: ValidationWorkflow, own_chain: OwnChain, clock: Callable[[], int], *,
                 blocked: AbstractSet[AgentId], member: Callable[[AgentId], None],
                 warrants_out: list[Warrant], wake_validate: Callable[[], None],
                 wake_publish: Callable[[], None]) -> None:
        self.me = me
        self.dht = dht
        self.deps = deps
        self.validator = validator
        self.workflow = workflow
        self.own_chain = own_chain
        self.clock = clock
        self.blocked = blocked
        self.member = member  # raises unless the peer is a member we talk to
        self.warrants_out = warrants_out
        self.wake_validate = wake_validate
        self.wake_publish = wake_publish

    def take_ops(self, ops: Iterable[Op]) -> list[Cid]:
        """Store ops from peers, to be validated; blocked authors' ops and counterfeits
        (validation.sys.counterfeit: they would squat on the genuine op's address) are
        dropped."""
        fresh = [
            op for op in ops
            if op.action.author not in self.blocked and not self._counterfeit(op)
        ]
        added = self.dht.add_ops(fresh, self.clock())
        if added:
            self.wake_validate()
            ours = [op.signed for op in fresh if op.action.author == self.me]
            if ours:  # (a peer's data naming actions of ours our chain may lack)
                self.own_chain.note(ours, "ops of ours from a peer")
        return added

    def _counterfeit(self, op: Op) -> bool:
        """`counterfeit(op)`, each action's signature verified once (the validator's memo
        then skips verifying it again)."""
        signed, validator = op.signed, self.validator
        verified = validator.verified(signed, self.deps)
        reason = counterfeit(op, signature_known_good=verified)
        if reason is not None:
            log.info("dropped a counterfeit op %s: %s", op.address, reason)
            return True
        if not verified:
            validator.note_verified(signed, self.deps)
        return False

    def validate_now(self) -> WorkflowReport:
        """Run the validation workflow on what is due; note forks of our own chain, and
        queue the warrants it issued for sending."""
        report = self.workflow.run(self.clock())
        if report.own_forks:
            self.own_chain.note((s for pair in report.own_forks for s in pair),
                                "a fork of our chain in our own validation")
        self.warrants_out.extend(report.warrants)
        if report.warrants:
            self.wake_publish()
        return report

    async def on_publish(self, peer: AgentId, data: bytes) -> bytes:
        """The "publish" handler: take the ops, validate, answer each op's state and our
        receipt for each one judged."""
        self.member(peer)
        request = wire.decode_message(wire.PublishRequest, data)
        ops = decode_ops(request.ops)
        if self.take_ops(ops):  # (a hand-off or a retry often brings only ops we hold)
            self.validate_now()
        outcomes = self.workflow.outcomes([op.address for op in ops])
        results, receipts = [], []
        for op in ops:
            held = outcomes.get(op.address)
            state = None if held is None else held.state
            status: wire.OpStatus = (
                "integrated" if state == INTEGRATED else "rejected" if state == REJECTED
                else "pending")
            results.append(wire.OpResult(op.address, status,
                                         held.reason if held and state == REJECTED else None))
            if held is not None and held.receipt is not None:
                receipts.append(held.receipt)
        return wire.encode_message(wire.PublishResponse(tuple(results), tuple(receipts)))

    async def on_warrant(self, peer: AgentId, data: bytes) -> bytes:
        """The "warrant" handler: judge each warrant, blocking whom it convicts."""
        self.member(peer)
        message = wire.decode_message(wire.WarrantMessage, data)
        for raw in message.warrants:
            try:
                warrant = Warrant.from_bytes(raw)
            except CoreError:
                continue
            if warrant.warrantee == self.me:
                self._warranted(warrant)
            verdict = self.workflow.accept_warrant(warrant, self.clock())
            log.info("warrant from %s against %s: %s", peer, warrant.warrantee, verdict,
                     extra=log_event("warrant_received", sender=peer, issuer=warrant.issuer,
                                     warrantee=warrant.warrantee, verdict=verdict))
        return wire.encode_message(wire.WarrantMessage(()))

    def _warranted(self, warrant: Warrant) -> None:
        """A warrant about us: say so; a fork of ours flags the home (never ends the node)."""
        evidence = warrant.evidence
        log.error("warranted by %s: %s", warrant.issuer, type(evidence).__name__)
        if isinstance(evidence, ForkEvidence):
            self.own_chain.note(evidence.pair, f"a fork warrant from {warrant.issuer}")
