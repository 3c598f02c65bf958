"""ValueFlows' side of countersigning an agreement (a `CountersignHook` of zomes/api.py):
`coledger agree --with AGENT --give ... --get ...` drafts an Agreement whose clauses are
reciprocal commitments between the initiator and the counterparty, written on both chains
as one `CountersignedAgreement` once both signed; and the listing of a chain's agreements
(`coledger agreements`).

The initiator's clauses (--give) come first: the first clause's provider is the initiator
(`parties`), so the counterparty checks that the proposal comes from the agent it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from node.core.errors import LocalError
from node.core.identity import AgentId
from node.core.outcome import Invalid, MissingDependency, Outcome
from node.core.records import Record
from zomes.api import AppLedger, Draft, OwnRecords
from zomes.valueflows.actions import ACTIONS, is_action
from zomes.valueflows.agreements import (
    AGREEMENT_TYPE,
    MAX_CLAUSES,
    check_agreement,
    clause_address,
    signed_agreement,
)
from zomes.valueflows.commitments import check_intent_met
from zomes.valueflows.countersign import own_records
from zomes.valueflows.entries import Agreement, Commitment
from zomes.valueflows.messages import describe_error
from zomes.valueflows.units import UnitError, parse_quantity


class ClauseRequest(BaseModel):
    """One clause as asked for: `quantity` as text ("300 kg"), due at `due_us`, of
    specification `conforms_to`, optionally satisfying an intent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    quantity: StrictStr = Field(max_length=200)
    due_us: StrictInt = Field(ge=0, lt=2**63)
    action: StrictStr = Field("transfer", max_length=40)
    conforms_to: StrictStr | None = Field(None, max_length=200)
    satisfies: StrictStr | None = Field(None, max_length=200)
    note: StrictStr | None = Field(None, max_length=10_000)


class AgreementRequest(BaseModel):
    """`coledger agree`: what this agent gives (it provides) and gets (the other provides)
    (JSON lists become tuples; every scalar is strict)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    give: tuple[ClauseRequest, ...] = Field(max_length=MAX_CLAUSES)
    get: tuple[ClauseRequest, ...] = Field(max_length=MAX_CLAUSES)
    name: StrictStr | None = Field(None, max_length=500)
    note: StrictStr | None = Field(None, max_length=10_000)

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> AgreementRequest:
        """The request `value` (JSON) describes; LocalError in words if it is malformed."""
        try:
            return cls.model_validate(value)
        except ValidationError as e:
            raise LocalError(f"malformed agreement request: {describe_error(e)}") from None


def build_clause(clause: ClauseRequest, provider: str, receiver: str, which: str) -> Commitment:
    """The Commitment a clause request describes (LocalError saying which clause is wrong)."""
    action = clause.action
    if not is_action(action):
        raise LocalError(f"{which}: {action!r} is not a ValueFlows action "
                         f"(one of {', '.join(ACTIONS)})")
    try:
        quantity = parse_quantity(clause.quantity)
    except UnitError as e:
        raise LocalError(f"{which}: {e}") from None
    effort = ACTIONS[action].event_quantity == "effort"
    try:
        return Commitment(
            action=action, provider=provider, receiver=receiver,
            resource_conforms_to=clause.conforms_to,
            resource_quantity=None if effort else quantity,
            effort_quantity=quantity if effort else None,
            due=clause.due_us, satisfies=clause.satisfies, note=clause.note)
    except ValidationError as e:
        raise LocalError(f"{which}: {describe_error(e)}") from None


def draft_agreement(req: AgreementRequest, me: str, other: str, now_us: int) -> Agreement:
    """The agreement `req` describes: its --give clauses (from `me`) first, then its --get
    clauses (from `other`)."""
    if not req.give or not req.get:
        raise LocalError("an agreement is reciprocal: at least one clause you give and one "
                         "you get")
    clauses = [build_clause(c, me, other, f"clause {i} of what you give")
               for i, c in enumerate(req.give, 1)]
    clauses += [build_clause(c, other, me, f"clause {i} of what you get")
                for i, c in enumerate(req.get, 1)]
    try:
        return Agreement(name=req.name, created=now_us, clauses=tuple(clauses), note=req.note)
    except ValidationError as e:
        raise LocalError(f"malformed agreement: {describe_error(e)}") from None


class AgreementHook:
    """Countersigned agreements of one agent: its ledger and its own records."""

    entry_type: str = AGREEMENT_TYPE
    noun: str = "agreement"
    initiator_is: str = "first clause's provider, to its receiver"
    new_field: str = ""

    def __init__(self, ledger: AppLedger, own: OwnRecords) -> None:
        self.ledger = ledger
        self.own = own

    def draft(self, request: object, me: AgentId, other: AgentId, now_us: int) -> Draft:
        """The agreement `request` (an AgreementRequest) describes, between `me` and `other`."""
        if not isinstance(request, AgreementRequest):
            raise LocalError("a countersigned agreement is asked for by an AgreementRequest")
        content = draft_agreement(request, str(me), str(other), now_us).to_content()
        return Draft(content, None, tuple(self.context_records(content)))

    def parties(self, content: Mapping[str, Any]) -> tuple[str, str] | None:
        """The first clause's provider (the initiator) and receiver; None if malformed."""
        try:
            clauses = Agreement.from_content(content).clauses
        except ValueError:
            return None
        if not clauses or clauses[0].provider is None or clauses[0].receiver is None:
            return None
        return clauses[0].provider, clauses[0].receiver

    def complete(self, content: Mapping[str, Any], to_new: str | None,
                 staged: Sequence[Record]) -> dict[str, Any]:
        """The agreement as proposed: accepting it creates nothing."""
        if to_new is not None:
            raise LocalError("an agreement creates nothing on accepting: decline this one")
        return dict(content)

    def context_records(self, content: Mapping[str, Any]) -> list[Record]:
        """The records of ours the clauses name (specifications, intents they satisfy),
        for the other party to check the agreement without asking the network."""
        clauses = [c for c in content.get("clauses") or () if isinstance(c, dict)]
        return own_records(self.own, [c.get(k) for c in clauses
                                      for k in ("resourceConformsTo", "satisfies")])

    def precheck(self, content: Mapping[str, Any], me: AgentId, other: AgentId,
                 staged: Sequence[Record], *, placeholder: bool) -> str | None:
        """The agreement under the network's rules (ValueError if it is no agreement); with
        `placeholder`, intents we do not hold are not yet a reason to refuse."""
        agreement = Agreement.from_content(content)
        deps = self.ledger.deps(list(staged))
        try:
            outcome: Outcome = check_agreement(
                agreement, (str(me), str(other)), lambda clause: check_intent_met(
                    clause, deps, clause.resource_conforms_to, agreement.created or 0))
        except MissingDependency as e:
            if placeholder:
                return None
            missing = ", ".join(str(m) for m in list(e.addresses)[:3])
            return "it names records not held here: " + missing
        if isinstance(outcome, Invalid):
            return f"{outcome.rule}: {outcome.reason}"
        return None


def clause_json(clause: Commitment) -> dict[str, Any]:
    """One clause for `coledger agreements`: its address and what it commits to."""
    quantity = clause.resource_quantity or clause.effort_quantity
    return {"address": str(clause_address(clause)), "provider": clause.provider,
            "receiver": clause.receiver, "action": clause.action,
            "quantity": None if quantity is None else quantity.to_content(),
            "resource_conforms_to": clause.resource_conforms_to, "due": clause.due,
            "satisfies": clause.satisfies, "note": clause.note}


def list_agreements(records: Iterable[Record]) -> list[dict[str, Any]]:
    """The countersigned agreements among `records` (a chain's), in chain order: each
    with its address (the entry's: the same on both chains), parties and clauses."""
    out = []
    for record in records:
        if getattr(record.action, "entry_type", None) != AGREEMENT_TYPE or record.entry is None:
            continue
        found = signed_agreement(record.entry.value)
        if found is None:
            continue
        agreement, parties = found
        out.append({"address": str(record.entry.address), "name": agreement.name,
                    "note": agreement.note, "created": agreement.created,
                    "parties": list(parties),
                    "clauses": [clause_json(c) for c in agreement.clauses]})
    return out
