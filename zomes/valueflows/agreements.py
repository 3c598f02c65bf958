"""Countersigned agreements: reciprocal commitments (clauses) that two members signed as
one `valueflows.CountersignedAgreement` on both chains, and the rules peers apply to them
(docs/validation-rules.md).

An agreement's address is its envelope's entry address, the same on both chains (as for a
countersigned event). Its clauses are inline; a clause's address is the address its
Commitment content would have as a `valueflows.Commitment` entry (`clause_address`), so
anyone computes it from the agreement alone. An event fulfilling a clause names the
agreement (`realizationOf`) and the clause (`fulfills`): a validator fetches the agreement
(`agreement_at`) and finds the clause in it (`find_clause`): commitments.py's resolver.
A clause that satisfies an intent is checked as any commitment's satisfaction is
(commitments.py's `check_satisfaction`, `check_satisfaction_open`), by zome.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from node.core.cid import Cid
from node.core.countersign import Envelope, approval_message
from node.core.errors import CoreError
from node.core.outcome import VALID, Invalid, Outcome
from node.core.records import Entry
from zomes.api import Deps
from zomes.valueflows.actions import ACTIONS
from zomes.valueflows.entries import Agreement, Commitment

COUNTERSIGNED_AGREEMENT: Final = "CountersignedAgreement"
AGREEMENT_TYPE: Final = "valueflows." + COUNTERSIGNED_AGREEMENT
MAX_CLAUSES: Final = 32
"""Clauses one agreement holds at most: every validator checks each (and fetches the
intents they satisfy)."""
RULES: Final = (
    "check_agreement_countersigned",  # clauses only in an agreement both parties signed
    "check_agreement_clauses",  # 1..MAX_CLAUSES clauses, each once
    "check_agreement_parties",  # clauses are between the two signers, never to oneself
    "check_agreement_reciprocal",  # at least one clause each way
    "check_clause_flow",  # a quantity of the action's kind, > 0, and a due time
)


def clause_address(clause: Commitment) -> Cid:
    """The address of a clause: its content's as a `valueflows.Commitment` entry."""
    return Entry.of(clause.to_content()).address


def find_clause(agreement: Agreement, address: str | Cid) -> Commitment | None:
    """The clause of `agreement` at `address`, or None."""
    wanted = str(address)
    return next((c for c in agreement.clauses if str(clause_address(c)) == wanted), None)


def signed_agreement(value: object) -> tuple[Agreement, tuple[str, ...]] | None:
    """The agreement an envelope entry holds and the agents who signed it, when every
    party's approval verifies over it as a CountersignedAgreement; else None."""
    try:
        envelope = Envelope.from_value(value)
        if not isinstance(envelope.inner, dict):
            return None
        agreement = Agreement.from_content(envelope.inner)
    except (CoreError, ValueError):
        return None
    parties = envelope.session.parties
    if len(envelope.approvals) != len(parties):
        return None
    message = approval_message(AGREEMENT_TYPE, envelope.session, envelope.inner)
    for party, approval in zip(parties, envelope.approvals, strict=True):
        try:
            party.agent.verify(message, approval)
        except CoreError:
            return None
    return agreement, tuple(str(p.agent) for p in parties)


def signers_of(envelope: Envelope | None) -> tuple[str, ...] | None:
    """The agents who signed a countersigned entry; None for an entry of one author."""
    return None if envelope is None else tuple(str(p.agent) for p in envelope.session.parties)


def agreement_at(deps: Deps, address: str) -> Agreement | None:
    """The countersigned agreement at `address` (its entry address), both signatures
    verified; None if that is no such agreement (MissingDependency until it is held)."""
    try:
        cid = Cid.parse(address)
    except CoreError:
        return None
    found = signed_agreement(deps.must_get_entry(cid).value)
    return None if found is None else found[0]


def check_agreement_clauses(agreement: Agreement) -> Outcome:
    """An agreement has 1 to MAX_CLAUSES clauses, no two the same (a clause's address
    names exactly one)."""
    clauses = agreement.clauses
    if not 1 <= len(clauses) <= MAX_CLAUSES:
        return Invalid("check_agreement_clauses",
                       f"an agreement has 1 to {MAX_CLAUSES} clauses, not {len(clauses)}")
    if len({clause_address(c) for c in clauses}) != len(clauses):
        return Invalid("check_agreement_clauses", "an agreement names a clause twice")
    return VALID


def check_agreement_parties(agreement: Agreement, signers: tuple[str, ...]) -> Outcome:
    """Two agents signed it, and every clause is from one of them to the other."""
    if len(signers) != 2:
        return Invalid("check_agreement_parties", "an agreement is signed by exactly two agents")
    for clause in agreement.clauses:
        if clause.provider == clause.receiver:
            return Invalid("check_agreement_parties",
                           "a clause's provider and receiver are different agents")
        if {clause.provider, clause.receiver} != set(signers):
            return Invalid("check_agreement_parties",
                           "every clause is between the two agents who signed the agreement")
    return VALID


def check_agreement_reciprocal(agreement: Agreement) -> Outcome:
    """Each party commits to something: at least one clause each way (a one-way promise
    is a commitment, not an exchange both sign)."""
    directions = {(c.provider, c.receiver) for c in agreement.clauses}
    if len(directions) < 2:
        return Invalid("check_agreement_reciprocal",
                       "an agreement has at least one clause each way (reciprocal)")
    return VALID


def check_clause_flow(clause: Commitment) -> Outcome:
    """A clause states a quantity of the kind its action's eventQuantity says (an effort
    for work, a resource quantity otherwise), more than zero, and when it is due; it names
    no other agreement (clauseOf is this one, which its content cannot name)."""
    kind = ACTIONS[clause.action].event_quantity
    quantity = clause.effort_quantity if kind == "effort" else clause.resource_quantity
    if quantity is None:
        wanted = "an effortQuantity" if kind == "effort" else "a resourceQuantity"
        return Invalid("check_clause_flow", f"a {clause.action} clause states {wanted}")
    if quantity.value <= 0:
        return Invalid("check_clause_flow", "a clause's quantity is more than zero")
    if clause.due is None:
        return Invalid("check_clause_flow", "a clause says when it is due")
    if clause.clause_of is not None or clause.reciprocal_clause_of is not None:
        return Invalid("check_clause_flow", "a clause names no other agreement")
    return VALID


def check_agreement(agreement: Agreement, signers: tuple[str, ...] | None,
                    satisfaction: Callable[[Commitment], Invalid | None]) -> Outcome:
    """Every agreement rule, in order (`signers`: the parties of the countersigned entry
    holding it; None for an agreement written by one agent alone); then, for each clause
    that satisfies an intent, `satisfaction` (the commitments' check_intent_met)."""
    if signers is None:
        if agreement.clauses:
            return Invalid("check_agreement_countersigned",
                           "an agreement's clauses bind two agents only when both signed "
                           "it: a valueflows.CountersignedAgreement")
        return VALID
    for outcome in (check_agreement_clauses(agreement),
                    check_agreement_parties(agreement, signers),
                    check_agreement_reciprocal(agreement),
                    *(check_clause_flow(c) for c in agreement.clauses)):
        if isinstance(outcome, Invalid):
            return outcome
    for clause in agreement.clauses:
        refused = None if clause.satisfies is None else satisfaction(clause)
        if refused is not None:
            return refused
    return VALID
