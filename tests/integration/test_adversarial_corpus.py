"""An adversarial corpus against real SQLite authorities.

Each case is bad data some agent (or a relay) sends authority B. B must reject it
with the rule that names the fault, and warrant the author only where the fault is
provably the author's (signed by it, independent of B's clock). A warrant B issues is
then judged by authority C, which holds the same honest data but never saw the bad
op: C reaches B's verdict and blocks the warrantee. A false warrant blocks its issuer.

    case                        rule                      warrant
    forged signature            check_signature           no (not the author's doing)
    entry/address mismatch      check_entry_address       no (the entry is unsigned)
    non-canonical / garbage     dropped by decode_op      no (nothing to attribute)
    timestamp in the future     check_not_in_future       no (depends on the clock)
    wrong seq                   check_prev_seq            yes
    prev of another author      check_prev_author         yes
    timestamp going back        check_prev_timestamp      yes
    unknown entry type          check_entry_type          yes
    no membrane proof           check_membrane_proof      yes
    expired invitation          check_membrane_proof      yes
    proof from a non-member     check_membrane_proof      yes
    op of a non-member          check_author_membership   yes
    overdrawn resource          check_balance             yes
    unit mismatch               check_unit_dimension      yes
    uncountersigned transfer    check_countersigning      yes
    address that is no CID      app_validation            yes
    fork                        (fork warrant, find_fork) yes
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
import pytest

from node.api import make_validator, new_dna
from node.core.actions import Create
from node.core.cid import Cid
from node.core.errors import LocalError
from node.core.identity import AgentId, AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.outcome import Invalid
from node.core.records import Entry, Record, SignedAction
from node.core.scratch import Scratch
from node.membership import zome_refs
from node.runtime.validate import UNDECIDED_PER_ISSUER, ValidationWorkflow
from node.store.deps import StoreDeps
from node.store.dht import INTEGRATED, REJECTED, DhtStore
from node.store.sqlite import open_store
from node.testing import MemoryAgent
from validation.sys import MAX_CLOCK_DRIFT_US, decode_op
from validation.warrants import InvalidOpEvidence, Warrant, issue_warrant
from zomes.membrane.invitations import issue_invitation
from zomes.registry import installed_zomes
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.zome import ChainView

NOW = 1_800_000_000_000_000
VALID_UNTIL = NOW + 10**12
SPEC = "valueflows.ResourceSpecification"
P_KEY, A_KEY, D_KEY = AgentKey(b"\x50" * 32), AgentKey(b"\x41" * 32), AgentKey(b"\x44" * 32)
B_KEY, C_KEY, M_KEY = AgentKey(b"\x42" * 32), AgentKey(b"\x43" * 32), AgentKey(b"\x4d" * 32)
DNA = new_dna("corpus", P_KEY.agent_id, zome_refs(installed_zomes()), {})


def proof_for(invitee: AgentId, *, issuer: AgentKey = P_KEY, expires: int = VALID_UNTIL) -> bytes:
    return issue_invitation(issuer, None, DNA.address, invitee, expires, secrets.token_bytes(8))


class Author:
    """A member recording ValueFlows events through the coordinator, as its node would."""

    def __init__(self, key: AgentKey, proof: bytes | None) -> None:
        self.agent = MemoryAgent(key)
        self.agent.genesis(DNA.address, proof)
        self.view = ChainView()

    @property
    def id(self) -> AgentId:
        return self.agent.agent_id

    def commit(self, build: Callable[[Scratch, ChainView], Any], fold: bool = True) -> Any:
        """Commit straight to the chain (no author-side check: a tampered node)."""
        start = len(self.agent.records)
        result = self.agent.commit(lambda s: build(s, self.view))
        if fold:
            for record in self.agent.records[start:]:
                self.view.step(record)
        return result

    def event(self, action: str, fold: bool = True, **fields: Any) -> Any:
        req = EventRequest(action, **fields)
        author, now = str(self.id), self.agent.clock()
        return self.commit(lambda s, v: coordinator.record_event(s, v, author, req, now), fold)

    def ops(self, start: int = 0) -> list[Op]:
        return [op for r in self.agent.records[start:] for op in produce_ops(r)]


def honest_farm(key: AgentKey = A_KEY) -> tuple[Author, str]:
    """A member with a spec, a process and 10 kg of wheat; returns it and the wheat."""
    a = Author(key, proof_for(key.agent_id))
    spec = str(a.commit(lambda s, v: coordinator.create_spec(s, "wheat", "kg", False, None)))
    grow = str(a.commit(lambda s, v: coordinator.create_process(s, "grow", None, None, 1)))
    made = a.event("produce", resource="new:wheat", quantity="10 kg", conforms_to=spec,
                   output_of=grow)
    a.commit(lambda s, v: coordinator.create_process(s, "mill", None, None, 2))
    return a, str(made.created_resources["wheat"])


def mill_of(a: Author) -> str:
    return next(addr for addr, p in a.view.processes.items() if p.name == "mill")


def sign_after(a: Author, *, seq: int | None = None, prev: Cid | None = None,
               timestamp: int | None = None, entry_type: str = SPEC,
               key: AgentKey | None = None) -> Record:
    """A Create chained after A's head, with any field overridden (not appended)."""
    head = a.agent.head
    assert head is not None
    entry = Entry.of({"name": "forged spec"})
    action = Create(
        author=a.id, timestamp=head.timestamp + 1 if timestamp is None else timestamp,
        seq=head.seq + 1 if seq is None else seq,
        prev_action=head.address if prev is None else prev,
        entry_type=entry_type, entry_hash=entry.address,
    )
    signed = SignedAction.sign(action, A_KEY)
    if key is not None:  # the bytes are A's action, the signature someone else's
        signed = SignedAction(action, signed.data, signed.address, key.sign(signed.data))
    return Record(signed, entry)


def activity_first(records: list[Record]) -> list[Op]:
    """The records' ops, RegisterAgentActivity ones first (the authority judging chains)."""
    ops = [op for r in records for op in produce_ops(r)]
    return sorted(ops, key=lambda op: op.type is not OpType.REGISTER_AGENT_ACTIVITY)


@dataclass
class Case:
    author: Author
    honest: list[Op]  # the author's ops B integrates before the bad ones arrive
    bad: list[Op]  # the first one carries the rule
    rule: str
    warranted: bool
    extra: list[Op] = field(default_factory=list)  # other agents' ops, for context


def forged_signature() -> Case:
    a, _ = honest_farm()
    return Case(a, a.ops(), activity_first([sign_after(a, key=M_KEY)]), "check_signature", False)


def future_timestamp() -> Case:
    a, _ = honest_farm()
    bad = sign_after(a, timestamp=NOW + 2 * MAX_CLOCK_DRIFT_US)
    return Case(a, a.ops(), activity_first([bad]), "check_not_in_future", False)


def wrong_seq() -> Case:
    a, _ = honest_farm()
    head = a.agent.head
    assert head is not None
    bad = sign_after(a, seq=head.seq + 2)
    return Case(a, a.ops(), activity_first([bad]), "check_prev_seq", True)


def prev_of_another_author() -> Case:
    a, _ = honest_farm()
    other, _ = honest_farm(D_KEY)
    head, theirs = a.agent.head, other.agent.records[-1].signed
    assert head is not None and theirs.action.seq == head.seq
    bad = sign_after(a, prev=theirs.address)
    return Case(a, a.ops(), activity_first([bad]), "check_prev_author", True, other.ops())


def timestamp_going_back() -> Case:
    a, _ = honest_farm()
    bad = sign_after(a, timestamp=a.agent.records[-2].signed.action.timestamp)
    return Case(a, a.ops(), activity_first([bad]), "check_prev_timestamp", True)


def unknown_entry_type() -> Case:
    a, _ = honest_farm()
    bad = sign_after(a, entry_type="valueflows.Unicorn")
    return Case(a, a.ops(), activity_first([bad]), "check_entry_type", True)


def joining(proof: bytes | None, rule: str, *, later_op_first: bool = False) -> Case:
    d = Author(D_KEY, proof)
    d.commit(lambda s, v: coordinator.create_spec(s, "oats", "kg", False, None))
    ops = activity_first(d.agent.records[1:2]) + d.ops(0)
    if later_op_first:  # a later op is judged first: the membership gate names it
        ops = [op for op in d.ops(3) if op.type is OpType.REGISTER_AGENT_ACTIVITY] + ops
    return Case(d, [], ops, rule, True)


def no_membrane_proof() -> Case:
    return joining(None, "check_membrane_proof")


def expired_invitation() -> Case:
    # expired before D's AgentValidationPkg was written (MemoryAgent clocks start at 1.7e15)
    expired = proof_for(D_KEY.agent_id, expires=1_600_000_000_000_000)
    return joining(expired, "check_membrane_proof")


def proof_from_non_member() -> Case:
    return joining(proof_for(D_KEY.agent_id, issuer=M_KEY), "check_membrane_proof")


def op_of_non_member() -> Case:
    return joining(None, "check_author_membership", later_op_first=True)


def bad_event(build: Callable[[Author, str], None], rule: str) -> Case:
    a, wheat = honest_farm()
    honest, start = a.ops(), len(a.agent.records)
    build(a, wheat)  # the event last, after any resource it creates: judge it first
    return Case(a, honest, activity_first(a.agent.records[:start - 1:-1]), rule, True)


def overdraw() -> Case:
    return bad_event(lambda a, wheat: a.event(
        "consume", resource=wheat, quantity="11 kg", input_of=mill_of(a)), "check_balance")


def unit_mismatch() -> Case:
    return bad_event(lambda a, wheat: a.event(
        "consume", fold=False, resource=wheat, quantity="3 h", input_of=mill_of(a)),
        "check_unit_dimension")


def uncountersigned_transfer() -> Case:
    return bad_event(lambda a, wheat: a.event(
        "transfer", fold=False, resource=wheat, to_resource="new:their wheat",
        quantity="4 kg", receiver=str(D_KEY.agent_id)), "check_countersigning")


def address_that_is_no_cid() -> Case:
    """Address-shaped but no CID: once crashed app validation (AddressError escaped)."""
    def build(a: Author, wheat: str) -> None:
        content = {"action": "work", "provider": str(a.id), "receiver": str(a.id),
                   "effortQuantity": {"hasNumericalValue": "1", "hasUnit": "hour"},
                   "inputOf": "baaaaaaaaaaaaa"}
        a.commit(lambda s, v: s.create("valueflows.EconomicEvent", content), fold=False)
    return bad_event(build, "app_validation")


WARRANTED = [wrong_seq, prev_of_another_author, timestamp_going_back, unknown_entry_type,
             no_membrane_proof, expired_invitation, proof_from_non_member, op_of_non_member,
             overdraw, unit_mismatch, uncountersigned_transfer, address_that_is_no_cid]
NOT_WARRANTED = [forged_signature, future_timestamp]


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[Callable[[AgentKey], ValidationWorkflow]]:
    """Opens authorities (B, C...) each in its own SQLite file, closed at the end."""
    stores: list[Any] = []

    def open_(key: AgentKey) -> ValidationWorkflow:
        cm = open_store(tmp_path / f"{key.agent_id}.db", create=True)
        stores.append(cm)
        dht = DhtStore(cm.__enter__())
        return ValidationWorkflow(dht, StoreDeps(dht=dht), make_validator(DNA), key)

    yield open_
    for cm in reversed(stores):
        cm.__exit__(None, None, None)


def receive(wf: ValidationWorkflow, case: Case) -> Any:
    """Honest data first; then the bad ops, the first one due before the rest."""
    wf.dht.add_ops(case.extra + case.honest, NOW - 10)
    assert wf.run(NOW - 10).rejected == 0
    wf.dht.add_ops(case.bad[:1], NOW - 5)
    wf.dht.add_ops(case.bad[1:], NOW)
    return wf.run(NOW)


def state(wf: ValidationWorkflow, op: Op) -> tuple[str, str | None]:
    found = wf.dht.state_of(op.address)
    assert found is not None
    return found[0], found[1]


@pytest.mark.parametrize("make", WARRANTED, ids=lambda f: f.__name__)
def test_bad_data_is_rejected_warranted_and_the_warrant_convicts_elsewhere(
    make: Callable[[], Case], authority: Callable[[AgentKey], ValidationWorkflow]
) -> None:
    case = make()
    b = authority(B_KEY)
    report = receive(b, case)
    assert state(b, case.bad[0]) == (REJECTED, case.rule)
    assert b.dht.is_blocked(case.author.id)
    assert {state(b, op)[0] for op in case.honest + case.bad} == {REJECTED}
    assert {state(b, op)[0] for op in case.extra} <= {INTEGRATED}
    (warrant,) = report.warrants
    assert (warrant.warrantee, warrant.issuer) == (case.author.id, B_KEY.agent_id)
    assert b.dht.warrants() == [warrant.to_bytes()]
    # C holds the same data (not yet validated) but the evidence op itself
    c = authority(C_KEY)
    c.dht.add_ops(case.extra + case.honest + case.bad[1:], NOW)
    wire = Warrant.from_bytes(warrant.to_bytes())
    assert c.accept_warrant(wire, NOW) == "WarranteeGuilty"
    assert c.dht.is_blocked(case.author.id) and not c.dht.is_blocked(B_KEY.agent_id)
    # the warrantee's ops arriving afterwards are rejected too
    c.dht.add_ops(case.bad, NOW)
    c.run(NOW)
    assert {state(c, op)[0] for op in case.honest + case.bad} == {REJECTED}


@pytest.mark.parametrize("make", NOT_WARRANTED, ids=lambda f: f.__name__)
def test_faults_not_provably_the_authors_are_rejected_without_a_warrant(
    make: Callable[[], Case], authority: Callable[[AgentKey], ValidationWorkflow]
) -> None:
    case = make()
    b = authority(B_KEY)
    report = receive(b, case)
    assert state(b, case.bad[0]) == (REJECTED, case.rule)
    assert report.warrants == [] and b.dht.warrants() == []
    assert not b.dht.blocked()
    assert {state(b, op)[0] for op in case.honest} == {INTEGRATED}
    if case.rule == "check_not_in_future":  # and no warrant could be issued for it
        evidence = InvalidOpEvidence.of(case.bad[0], Invalid(case.rule, "ahead"))
        with pytest.raises(LocalError, match="clock"):
            issue_warrant(B_KEY, evidence, NOW)


def test_an_entry_that_is_not_the_actions_is_rejected_on_arrival_unwarranted(
    authority: Callable[[AgentKey], ValidationWorkflow],
) -> None:
    a, _ = honest_farm()
    good = sign_after(a)
    other = Entry.of({"name": "something else"})
    raw = decode_op("StoreRecord", good.signed.data, good.signed.signature, other.data)
    assert isinstance(raw, Op)
    b = authority(B_KEY)
    b.dht.add_ops(a.ops(), NOW)
    b.dht.add_ops([raw], NOW)
    assert state(b, raw) == (REJECTED, "check_entry_address")
    assert b.run(NOW).warrants == []
    assert not b.dht.blocked()


def test_undecodable_bytes_are_dropped_before_the_store(
    authority: Callable[[AgentKey], ValidationWorkflow],
) -> None:
    a, _ = honest_farm()
    good = sign_after(a)
    data, sig = good.signed.data, good.signed.signature
    reordered = cbor2.dumps(dict(reversed(list(cbor2.loads(data).items()))))
    assert reordered != data and cbor2.loads(reordered) == cbor2.loads(data)
    long_int = b"\xa1\x61n\x18\x01"  # {"n": 1} with 1 in a two-byte form
    garbage = [
        ("StoreRecord", reordered, sig, None, "check_action_canonical"),
        ("StoreRecord", b"\xff\x00garbage", sig, None, "check_action_canonical"),
        ("StoreEntry", data, sig, b"\xa1\x61", "check_entry_canonical"),
        ("StoreEntry", data, sig, long_int, "check_entry_canonical"),
        ("Nonsense", data, sig, None, "check_op_type"),
    ]
    b = authority(B_KEY)
    for op_type, action, signature, entry, rule in garbage:
        outcome = decode_op(op_type, action, signature, entry)
        assert isinstance(outcome, Invalid) and outcome.rule == rule, outcome
        # an Invalid from decode_op is not an op: nothing to store, no one to warrant
    assert sum(b.dht.counts().values()) == 0 and not b.dht.blocked()


def test_a_fork_is_warranted_and_the_fork_warrant_convicts_elsewhere(
    authority: Callable[[AgentKey], ValidationWorkflow],
) -> None:
    a, wheat = honest_farm()
    honest, head, before = a.ops(), a.agent.head, a.view.copy()
    a.event("consume", resource=wheat, quantity="10 kg", input_of=mill_of(a))
    spend_1 = a.agent.records[-1]
    # the same 10 kg spent again on a second branch from the same head
    branch = Scratch(head, A_KEY, a.agent.clock)
    req = EventRequest("consume", resource=wheat, quantity="10 kg", input_of=mill_of(a))
    coordinator.record_event(branch, before, str(a.id), req, a.agent.clock())
    (spend_2,) = branch.records
    assert spend_1.action.prev_action == spend_2.action.prev_action
    b = authority(B_KEY)
    b.dht.add_ops(honest + produce_ops(spend_1), NOW)
    assert b.run(NOW).rejected == 0  # each branch alone is valid
    b.dht.add_ops(produce_ops(spend_2), NOW)
    report = b.run(NOW)
    (warrant,) = report.warrants
    assert warrant.evidence.to_obj()["kind"] == "fork"
    assert b.dht.is_blocked(a.id)
    all_ops = honest + produce_ops(spend_1) + produce_ops(spend_2)
    assert {state(b, op)[0] for op in all_ops} == {REJECTED}
    c = authority(C_KEY)  # a fork needs no other data to judge
    assert c.accept_warrant(Warrant.from_bytes(warrant.to_bytes()), NOW) == "WarranteeGuilty"
    assert c.dht.is_blocked(a.id)


def test_a_false_warrant_blocks_its_issuer_not_the_accused(
    authority: Callable[[AgentKey], ValidationWorkflow],
) -> None:
    a, wheat = honest_farm()
    a.event("consume", resource=wheat, quantity="4 kg", input_of=mill_of(a))
    c = authority(C_KEY)
    c.dht.add_ops(a.ops(), NOW)
    assert c.run(NOW).integrated == len(a.ops())
    spend = next(op for op in a.ops(len(a.agent.records) - 1)
                 if op.type is OpType.REGISTER_AGENT_ACTIVITY)
    lie = issue_warrant(M_KEY, InvalidOpEvidence.of(spend, Invalid("check_balance", "no")), NOW)
    assert c.accept_warrant(Warrant.from_bytes(lie.to_bytes()), NOW) == "IssuerFalse"
    assert c.dht.is_blocked(M_KEY.agent_id) and not c.dht.is_blocked(a.id)
    assert c.dht.warrants() == []
    assert {state(c, op)[0] for op in a.ops()} == {INTEGRATED}


def test_no_warrant_convicts_on_a_forged_signature(
    authority: Callable[[AgentKey], ValidationWorkflow],
) -> None:
    """M forges an op in A's name and warrants A for it: C blocks M, never A."""
    a, _ = honest_farm()
    forged = activity_first([sign_after(a, key=M_KEY)])[0]
    c = authority(C_KEY)
    c.dht.add_ops(a.ops(), NOW)
    lie = issue_warrant(M_KEY, InvalidOpEvidence.of(forged, Invalid("check_signature", "x")), NOW)
    assert c.accept_warrant(lie, NOW) == "IssuerFalse"
    assert c.dht.is_blocked(M_KEY.agent_id) and not c.dht.is_blocked(a.id)


def test_an_undecided_warrant_is_kept_and_judged_once_the_chain_arrives(
    authority: Callable[[AgentKey], ValidationWorkflow]
) -> None:
    """C holds nothing of the author's chain: it cannot judge B's warrant yet, keeps it
    (not dropped), and convicts once the chain is there (the node fetches it)."""
    case = overdraw()
    b = authority(B_KEY)
    (warrant,) = receive(b, case).warrants
    c = authority(C_KEY)
    assert c.accept_warrant(Warrant.from_bytes(warrant.to_bytes()), NOW) == "Undecided"
    assert not c.dht.is_blocked(case.author.id)
    assert c.dht.undecided_warrantees() == [case.author.id]
    c.dht.add_ops(case.extra + case.honest, NOW)
    c.run(NOW)
    assert c.retry_warrants(NOW + 10**6) == 1
    assert c.dht.is_blocked(case.author.id) and not c.dht.is_blocked(B_KEY.agent_id)
    assert c.dht.undecided_warrantees() == []
    # one issuer's undecided warrants are bounded: it cannot crowd out the others'
    d = authority(D_KEY)
    for i in range(UNDECIDED_PER_ISSUER + 4):
        d.accept_warrant(Warrant.from_bytes(issue_warrant(M_KEY, warrant.evidence,
                                                          NOW + i).to_bytes()), NOW)
    assert len(d.dht.undecided_warrants(NOW)) == UNDECIDED_PER_ISSUER
