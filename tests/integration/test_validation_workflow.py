"""The validation workflow on real SQLite files: out-of-order replication, restarts, receipts.

Agent A is a real home (init_home, create_network, open_ledger) recording ValueFlows
events; authority B is another SQLite file with a DhtStore, StoreDeps and a
ValidationWorkflow under B's own key. B receives A's ops one at a time, shuffled,
running the workflow after each: nothing is ever rejected, ops whose dependencies
have not arrived wait, every op ends integrated exactly once with one receipt, and
the resource states B folds from A's chain equal A's own.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.api import init_home, make_validator, open_agent, open_ledger
from node.core.cid import Cid
from node.core.dna import DnaDef
from node.core.identity import AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.core.records import Record
from node.membership import create_network
from node.runtime.validate import ValidationWorkflow
from node.store.deps import StoreDeps
from node.store.dht import FINAL_STATES, INTEGRATED, REJECTED, DhtStore
from node.store.sqlite import open_store
from node.testing import MemoryAgent
from tests.vf_author import VfAuthor, network
from validation.pipeline import Validator
from validation.receipts import ValidationReceipt, verify_receipt
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.zome import ChainView, chain_view

PASS = "validation workflow passphrase"
B_KEY = AgentKey(b"\x0b" * 32)


@dataclass(frozen=True)
class HomeChain:
    """What A wrote and what A computed itself, read back from its home."""

    dna: DnaDef
    records: tuple[Record, ...]
    states: dict[str, dict[str, object]]

    @property
    def ops(self) -> list[Op]:
        return [op for record in self.records for op in produce_ops(record)]

    @property
    def head(self) -> Cid:
        return self.records[-1].address


@pytest.fixture(scope="module")
def home_chain(tmp_path_factory: pytest.TempPathFactory) -> HomeChain:
    """A farm-and-mill chain: specs, processes, produce, consume, work, finish, produce."""
    root = tmp_path_factory.mktemp("a")
    init_home(root / "home", PASS, "Farm A")
    with open_agent(root / "home", lambda: PASS) as agent:
        create_network(agent, "grain", {}, root / "grain.network.json")
    with open_ledger(root / "home", lambda: PASS) as led:
        wheat = str(led.create_spec("wheat", "kg", False, None))
        flour = str(led.create_spec("flour", "kg", False, "stone-ground"))
        grow = str(led.create_process("grow", None, None))
        mill = str(led.create_process("mill", None, None))
        harvest = led.record(EventRequest(
            "produce", resource="new:wheat lot 1", quantity="100 kg", conforms_to=wheat,
            output_of=grow,
        ))
        lot = str(harvest.created_resources["wheat lot 1"])
        led.record(EventRequest("work", effort="3 h", input_of=mill))
        led.record(EventRequest("consume", resource=lot, quantity="30 kg", input_of=mill))
        led.record(EventRequest("consume", resource=lot, quantity="500 g", input_of=mill))
        led.record(EventRequest(
            "produce", resource="new:flour bag", quantity="24 kg", conforms_to=flour,
            output_of=mill,
        ))
        led.finish_process(mill)
        led.record(EventRequest("use", resource=lot, quantity="1 kg", effort="1 h",
                                input_of=grow))
        records = tuple(led.agent.store.records())
        states = {a: s.to_content() for a, s in led.view().states.items()}
        return HomeChain(led.dna, records, states)


class Authority:
    """B: a DHT store in its own SQLite file, validating as agent `key`."""

    def __init__(self, path: Path, dna: DnaDef, key: AgentKey = B_KEY) -> None:
        self.path, self.dna, self.key = path, dna, key

    @contextmanager
    def open(self) -> Iterator[ValidationWorkflow]:
        with open_store(self.path, create=True) as store:
            dht = DhtStore(store)
            yield ValidationWorkflow(dht, StoreDeps(dht=dht), make_validator(self.dna), self.key)


def now() -> int:
    return time.time_ns() // 1000


def states_of(dht: DhtStore, ops: list[Op]) -> dict[Cid, str | None]:
    return {op.address: (s[0] if (s := dht.state_of(op.address)) else None) for op in ops}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shuffled_one_by_one_with_a_restart_integrates_everything_once(
    home_chain: HomeChain, tmp_path: Path, seed: int
) -> None:
    ops = home_chain.ops
    random.Random(seed).shuffle(ops)
    b = Authority(tmp_path / "b.db", home_chain.dna)
    half = len(ops) // 2
    with b.open() as wf:
        for op in ops[:half]:
            assert wf.dht.add_ops([op], now()) == [op.address]
            wf.run(now())
            assert wf.dht.counts()["rejected"] == 0
        before = states_of(wf.dht, ops)
        counts = wf.dht.counts()
        assert counts["pending"] + counts["sys_valid"] > 0, "some ops must be waiting"
    with b.open() as wf:  # restart: the queue is on disk, nothing is redone
        assert states_of(wf.dht, ops) == before
        assert wf.dht.counts() == counts
        assert wf.dht.add_ops(ops[:half], now()) == []  # duplicates are ignored
        for op in ops[half:]:
            wf.dht.add_ops([op], now())
            wf.run(now())
            assert wf.dht.counts()["rejected"] == 0
        assert set(states_of(wf.dht, ops).values()) == {INTEGRATED}
        assert wf.run(now() + 10**9).integrated == 0  # even once every retry is due
        outcomes = wf.outcomes([op.address for op in ops])
        for op in ops:
            assert wf.dht.receipts_for(op.address) == [outcomes[op.address].receipt]
        view = chain_view(StoreDeps(dht=wf.dht), home_chain.head)
        assert {a: s.to_content() for a, s in view.states.items()} == home_chain.states


def test_an_op_waits_for_a_missing_dependency_and_is_never_rejected_for_it(
    home_chain: HomeChain, tmp_path: Path
) -> None:
    last = home_chain.records[-1]
    activity = next(op for op in produce_ops(last) if op.type is OpType.REGISTER_AGENT_ACTIVITY)
    with Authority(tmp_path / "b.db", home_chain.dna).open() as wf:
        wf.dht.add_ops([activity], now())
        report = wf.run(now())
        assert (report.integrated, report.rejected, report.deferred) == (0, 0, 1)
        assert wf.dht.state_of(activity.address) == ("pending", None, None)
        # the prev action arrives: sys validation passes, app validation now waits for
        # the rest of the chain (the membrane proof, the resources the event names)
        prev = home_chain.records[-2]
        wf.dht.add_ops(produce_ops(prev)[:1], now())
        wf.run(now())
        state = wf.dht.state_of(activity.address)
        assert state is not None and state[0] == "sys_valid"
        # retries after the backoff change nothing while the chain is still missing
        assert wf.run(now() + 10**9).rejected == 0
        wf.dht.add_ops(home_chain.ops, now())
        wf.run(now())
        assert wf.dht.state_of(activity.address) == (INTEGRATED, None, None)
        assert wf.dht.counts()["rejected"] == 0


def test_an_action_without_its_entry_is_waited_for_not_folded_over(
    home_chain: HomeChain, tmp_path: Path
) -> None:
    """A relay that sends an op with a swapped entry must not make B fold A's chain
    without that entry (B would then reject A's honest later events)."""
    produce = next(r for r in home_chain.records if r.entry and b"produce" in r.entry.data)
    later = home_chain.records.index(produce) + 1
    swapped = Op(OpType.STORE_RECORD, produce.signed, home_chain.records[later].entry)
    with Authority(tmp_path / "b.db", home_chain.dna).open() as wf:
        wf.dht.add_ops([swapped], now())
        state = wf.dht.state_of(swapped.address)
        assert state is not None and state[:2] == ("rejected", "check_entry_address")
        others = [op for op in home_chain.ops if op.address != swapped.address]
        entry_ops = [op for op in others if op.signed.address == produce.address]
        rest = [op for op in others if op.signed.address != produce.address]
        wf.dht.add_ops(rest, now())
        wf.run(now())
        waiting = {s for s in states_of(wf.dht, rest).values() if s not in FINAL_STATES}
        assert waiting and wf.dht.counts()["rejected"] == 1  # only the swapped op
        wf.dht.add_ops(entry_ops, now())
        wf.run(now())
        assert set(states_of(wf.dht, others).values()) == {INTEGRATED}
        assert not wf.dht.blocked()


def test_receipts_are_signed_when_asked_verify_and_name_the_validator_and_the_op(
    home_chain: HomeChain, tmp_path: Path
) -> None:
    ops = home_chain.ops
    with Authority(tmp_path / "b.db", home_chain.dna).open() as wf:
        wf.dht.add_ops(ops[1:], now())  # the first op is not held: nothing to say of it
        judged_at = now()
        assert wf.run(judged_at).integrated == len(ops) - 1
        # integration signs nothing: most ops taken by gossip are never asked about
        assert all(wf.dht.receipts_for(op.address) == [] for op in ops)
        asked = [op.address for op in ops]
        outcomes = wf.outcomes(asked)
        assert ops[0].address not in outcomes and len(outcomes) == len(ops) - 1
        for op in ops[1:]:
            raw = outcomes[op.address].receipt
            assert raw is not None and wf.dht.receipts_for(op.address) == [raw]  # kept
            receipt = ValidationReceipt.from_bytes(raw)
            verify_receipt(receipt)
            assert receipt.validator == B_KEY.agent_id
            assert receipt.op_address == op.address
            assert receipt.outcome == "valid"
            assert receipt.time_us == judged_at  # when it was judged, not when asked
        assert wf.outcomes(asked) == outcomes  # asked again: the kept ones, not new ones


def test_a_rejected_op_gets_a_rejected_receipt(home_chain: HomeChain, tmp_path: Path) -> None:
    from node.core.records import SignedAction

    genuine = home_chain.records[-1]
    forged = Record(SignedAction(genuine.signed.action, genuine.signed.data, genuine.address,
                                 bytes(64)), genuine.entry)
    with Authority(tmp_path / "b.db", home_chain.dna).open() as wf:
        bad = produce_ops(forged)[0]
        before = [op for r in home_chain.records[:-1] for op in produce_ops(r)]
        wf.dht.add_ops([*before, bad], now())
        wf.run(now())
        (outcome,) = wf.outcomes([bad.address]).values()
        assert outcome.state == REJECTED and outcome.receipt is not None
        receipt = ValidationReceipt.from_bytes(outcome.receipt)
        verify_receipt(receipt)
        assert receipt.outcome == "rejected" and receipt.op_address == bad.address


# -- property: valid data is never rejected, whatever order it arrives in ----------------

P_KEY = AgentKey(b"\x0a" * 32)  # the progenitor records; B validates
DNA = network("prop", P_KEY)
STEP = st.one_of(
    st.tuples(st.just("produce"), st.integers(1, 5000), st.sampled_from(["g", "kg"])),
    st.tuples(st.just("consume"), st.integers(1, 5000), st.sampled_from(["g", "kg"])),
    st.tuples(st.just("work"), st.integers(1, 8), st.just("h")),
)


def valid_chain(steps: list[tuple[str, int, str]]) -> tuple[MemoryAgent, ChainView]:
    """A chain of the steps, each kept within the rules (consumes capped at the balance)."""
    author = VfAuthor(MemoryAgent(P_KEY))
    author.agent.genesis(DNA.address)
    commit = author.commit

    def event(action: str, **kw: str) -> coordinator.Recorded:
        return author.event(EventRequest(action, **kw))

    spec = str(commit(lambda s, v: coordinator.create_spec(s, "rye", "kg", False, None)))
    mill = str(commit(lambda s, v: coordinator.create_process(s, "mill", None, None, 1)))
    rye: str | None = None
    grams = 0
    for action, amount, unit in steps:
        qty = amount * (1000 if unit == "kg" else 1)
        if action == "produce":
            where = {"resource": rye} if rye else {"resource": "new:rye", "conforms_to": spec}
            made = event("produce", quantity=f"{amount} {unit}", output_of=mill, **where)
            rye = rye or str(made.created_resources["rye"])
            grams += qty
        elif action == "consume" and rye and grams:
            take = min(qty, grams)
            event("consume", resource=rye, quantity=f"{take} g", input_of=mill)
            grams -= take
        elif action == "work":
            event("work", effort=f"{amount} h", input_of=mill)
    return author.agent, author.view


@settings(max_examples=15)
@given(st.lists(STEP, max_size=12), st.randoms(use_true_random=False))
def test_valid_chains_in_any_order_always_integrate(
    steps: list[tuple[str, int, str]], rnd: random.Random
) -> None:
    agent, view = valid_chain(steps)
    ops = [op for record in agent.records for op in produce_ops(record)]
    rnd.shuffle(ops)
    with tempfile.TemporaryDirectory() as tmp, Authority(Path(tmp) / "b.db", DNA).open() as wf:
        for i in range(0, len(ops), 3):
            wf.dht.add_ops(ops[i : i + 3], now())
            assert wf.run(now()).rejected == 0
        assert set(states_of(wf.dht, ops).values()) == {INTEGRATED}
        seen = chain_view(StoreDeps(dht=wf.dht), agent.records[-1].address)
        assert seen.states == view.states


class _BuggyZome:
    """An integrity zome whose validate has a bug on one action's ops (raises RuntimeError)."""

    def __init__(self, zome: Any, poisoned: Cid) -> None:
        self._zome, self._poisoned = zome, poisoned

    def __getattr__(self, name: str) -> Any:
        return getattr(self._zome, name)

    def validate(self, op: Op, deps: Any) -> Any:
        if op.signed.address == self._poisoned:
            raise RuntimeError("a bug in the zome's validate")
        return self._zome.validate(op, deps)


def test_a_bug_in_validation_code_leaves_the_op_waiting_and_the_workflow_goes_on(
    home_chain: HomeChain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One op that trips a bug (ours or a zome's) must not end the validation loop of every
    authority it reaches, nor be rejected (the bug is no proof the op is invalid): it waits
    with a backoff, and the rest is integrated."""
    poisoned = home_chain.records[-1].address
    ops = home_chain.ops
    real = make_validator(home_chain.dna)
    buggy = Validator(real.network_id,
                      tuple(_BuggyZome(z, poisoned) for z in real.zomes), real.validate_genesis)
    with open_store(tmp_path / "b.db", create=True) as store:
        dht = DhtStore(store)
        wf = ValidationWorkflow(dht, StoreDeps(dht=dht), buggy, B_KEY)
        dht.add_ops(ops, now())
        wf.run(now())
        states = states_of(dht, ops)
        waiting = {op.address for op in ops if states[op.address] not in FINAL_STATES}
        assert waiting and all(op.signed.address == poisoned
                               for op in ops if op.address in waiting)
        assert REJECTED not in states.values()
        assert "a bug in the zome's validate" in caplog.text
        # the bug fixed (a new release): the op is validated again when its retry is due
        fixed = ValidationWorkflow(dht, StoreDeps(dht=dht), real, B_KEY)
        fixed.run(now() + 10**9)
        assert set(states_of(dht, ops).values()) == {INTEGRATED}
