"""Validation folds a compact view of each chain it judges (zome.ChainView with
keep_events=False): it keeps the pairs and corrections the rules read, and only the
latest events, reading older ones back from the chain (zome.ChainEvents). A node keeps
such a view for every chain it is an authority for, for as long as it runs, so what it
holds must not grow with the chain.

Checked here: every op of a chain whose pairings and corrections reach back past the
recent events gets the verdict of the rules over the complete list of prior events (the
form before compact views); and the view folded over a long chain is no bigger than
over a short one.
"""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import replace
from typing import Any

from node.api import make_validator, new_dna
from node.core.cid import Cid
from node.core.identity import AgentKey
from node.core.ops import OpType, produce_ops
from node.core.outcome import VALID, Invalid, Outcome, Valid
from node.core.records import Record
from node.membership import zome_refs
from node.store.deps import BoundedMemo, StoreDeps
from node.testing import MemoryAgent, step_clock
from zomes.membrane.invitations import issue_invitation
from zomes.registry import installed_zomes
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.entries import EconomicEvent
from zomes.valueflows.rules import check_event
from zomes.valueflows.zome import RECENT, ChainView, chain_view, parse

NOW = 1_800_000_000_000_000
P_KEY, A_KEY = AgentKey(b"\x74" * 32), AgentKey(b"\x75" * 32)
DNA = new_dna("compact", P_KEY.agent_id, zome_refs(installed_zomes()), {})
VALIDATOR = make_validator(DNA)
AUTHOR = str(A_KEY.agent_id)


class Chain:
    """A chain written through the coordinator (which checks nothing: bad events too)."""

    def __init__(self) -> None:
        proof = issue_invitation(P_KEY, None, DNA.address, A_KEY.agent_id, 2 * NOW, b"c")
        self.agent = MemoryAgent(A_KEY, clock=step_clock(NOW - 1_000_000))
        self.agent.genesis(DNA.address, proof)
        self.view = ChainView()
        self.expected: dict[Cid, str | None] = {}  # event action -> the rule it breaks

    def commit(self, build: Any) -> Any:
        start = len(self.agent.records)
        result = self.agent.commit(lambda s: build(s, self.view))
        for record in self.agent.records[start:]:
            self.view.step(record)
        return result

    def event(self, breaks: str | None = None, **request: Any) -> str:
        """Records an event; its address. `breaks`: the rule it breaks (None: valid)."""
        return str(self.recorded(breaks, **request).event)

    def recorded(self, breaks: str | None = None, **request: Any) -> coordinator.Recorded:
        req = EventRequest(**request)
        done = self.commit(lambda s, v: coordinator.record_event(s, v, AUTHOR, req, NOW - 1))
        self.expected[done.event] = breaks
        return done  # type: ignore[no-any-return]


def long_chain(filler: int) -> Chain:
    """Pickups and events to correct, `filler` events, then the dropoffs and corrections
    that need them (valid and not)."""
    c = Chain()
    spec = str(c.commit(lambda s, v: coordinator.create_spec(s, "rye", "kg", False, None)))
    mill = str(c.commit(lambda s, v: coordinator.create_process(s, "mill", None, None, 1)))
    haul = str(c.commit(lambda s, v: coordinator.create_process(s, "haul", None, None, 1)))
    other = str(c.commit(lambda s, v: coordinator.create_process(s, "other", None, None, 1)))
    made = c.recorded(action="produce", resource="new:rye", quantity="10 kg",
                      conforms_to=spec, output_of=mill)
    rye, produce = str(made.created_resources["rye"]), str(made.event)
    pickup = c.event(action="pickup", resource=rye, quantity="10 kg", input_of=haul)
    for i in range(filler):  # (each its own entry, as real events are)
        c.event(action="raise", resource=rye, quantity="1 kg", note=f"bag {i}")
    c.event(action="dropoff", resource=rye, quantity="10 kg", output_of=haul)
    c.event("check_pairing", action="dropoff", resource=rye, quantity="1 kg", output_of=other)
    fix = c.event(action="produce", resource=rye, quantity="-3 kg", output_of=mill,
                  corrects=produce)
    c.event("check_correction_amount", action="produce", resource=rye, quantity="-8 kg",
            output_of=mill, corrects=produce)
    c.event("check_correction_target", action="produce", resource=rye, quantity="-1 kg",
            output_of=mill, corrects=pickup)
    c.event("check_correction_target", action="produce", resource=rye, quantity="-1 kg",
            output_of=mill, corrects=fix)
    c.event("check_correction_target", action="produce", resource=rye, quantity="-1 kg",
            output_of=mill, corrects=spec)
    c.event("check_correction_target", action="produce", resource=rye, quantity="-1 kg",
            output_of=mill, corrects=str(Cid.of(b"not on this chain")))
    c.event(action="raise", resource=rye, quantity="1 kg")
    return c


def complete_list_verdict(records: list[Record], index: int) -> Outcome:
    """The rules over the complete list of prior events (no pair or correction index)."""
    full = ChainView()
    for record in records[:index]:
        full.step(record)
    record = records[index]
    event = parse(record.action.entry_type, record.entry.value)  # type: ignore[union-attr]
    assert isinstance(event, EconomicEvent)
    ctx = replace(full.context(recorded_at_us=record.action.timestamp),
                  pair_index=None, correction_index=None)
    found = check_event(event, AUTHOR, ctx)
    assert isinstance(found, list)
    return Invalid(found[0].rule, found[0].message) if found else VALID


def test_compact_views_judge_as_the_complete_list_of_events_does() -> None:
    chain = long_chain(filler=RECENT + 40)  # the pickups and corrected events fall out
    records = chain.agent.records
    deps = StoreDeps(staged=records, memo=BoundedMemo())
    judged = 0
    for index, record in enumerate(records):
        if record.address not in chain.expected:
            continue
        ops = [op for op in produce_ops(record) if op.type == OpType.REGISTER_AGENT_ACTIVITY]
        outcome = VALIDATOR.validate(ops[0], deps, NOW)
        assert outcome == complete_list_verdict(records, index)
        rule = chain.expected[record.address]
        if rule is None:
            assert isinstance(outcome, Valid), outcome
        else:
            assert isinstance(outcome, Invalid) and outcome.rule == rule, outcome
        judged += 1
    assert judged == RECENT + 40 + 11


def view_bytes(filler: int) -> int:
    """Bytes a compact view folded over the chain holds once the fold's memos are gone
    (what letting go of it frees: other memos the fold filled are not counted)."""
    records = long_chain(filler).agent.records
    deps = StoreDeps(staged=records, memo=BoundedMemo())
    gc.collect()
    tracemalloc.start()
    try:
        view = chain_view(deps, records[-1].address)
        assert len(view.states) == 1
        deps.memo.clear()
        gc.collect()
        with_view = tracemalloc.get_traced_memory()[0]
        del view
        gc.collect()
        return with_view - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def test_a_compact_view_does_not_grow_with_its_chain() -> None:
    short, long = view_bytes(200), view_bytes(2000)
    assert long < 1.25 * short + 20_000, f"{short} B over 200 events, {long} B over 2000"
    assert long < 400_000, f"{long / 1e6:.1f} MB for a view of 2000 events"


class CountingDeps(StoreDeps):
    def __init__(self, records: list[Record]) -> None:
        super().__init__(staged=records, memo=BoundedMemo())
        self.reads = 0

    def must_get_record(self, address: Cid) -> Record:
        self.reads += 1
        return super().must_get_record(address)


def reads_to_judge(filler: int) -> int:
    records = long_chain(filler).agent.records
    deps = CountingDeps(records)
    for record in records:
        for op in produce_ops(record):
            VALIDATOR.validate(op, deps, NOW)
    return deps.reads


def test_judging_a_chain_in_order_reads_each_record_a_few_times() -> None:
    """Only a correction of an event no longer recent reads back along the chain (the
    chain here has six): an event that corrects nothing must not (a walk per event
    would be quadratic in the chain)."""
    short, long = reads_to_judge(600), reads_to_judge(1200)
    assert long < 2.2 * short, f"{short} record reads over 600 events, {long} over 1200"
