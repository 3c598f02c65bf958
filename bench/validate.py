"""Benchmark: validating peers' ops through the whole workflow, against a signature floor.

Four agents each build a chain of ValueFlows events (produce, consume, work, produce
into an existing resource), written through the valueflows coordinator as their nodes
would. Their ops (StoreRecord, RegisterAgentActivity, StoreEntry per event) then go,
in batches, through DhtStore.add_ops and ValidationWorkflow.run into a real SQLite
file: sys validation, app validation (the accounting rules replaying each chain) and
integration. The floor, measured in the same run, is PyNaCl verifying the same number
of Ed25519 signatures over the same action bytes: every op needs at least that. The
data is built before anything is timed.

Receipts are signed when an author asks for them (ValidationWorkflow.outcomes, on a
publish), not at integration; the run then also times signing one for every op, as if
every op had been published to this authority, and prints the ratio with that cost
added (`ratio_with_receipts`): an authority taking ops by gossip pays the first,
one answering publishes the second.

    .venv/bin/python bench/validate.py [-n OPS] [--batch 1000] [--repeat 3] [--profile]

Each is run --repeat times, alternating (one run is ~2 s, and single runs vary by
several per cent here); the ratio compares the medians.

The last line is JSON: {"ops_per_s": ..., "verify_floor_per_s": ..., "ratio": ...,
"ratio_with_receipts": ...}.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import nacl.signing

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.api import (
    make_validator,  # noqa: E402
    new_dna,  # noqa: E402
)
from node.core.dna import DnaDef  # noqa: E402
from node.core.identity import AgentKey  # noqa: E402
from node.core.ops import Op, produce_ops  # noqa: E402
from node.core.scratch import Scratch  # noqa: E402
from node.membership import zome_refs  # noqa: E402
from node.runtime.validate import ValidationWorkflow  # noqa: E402
from node.store.deps import StoreDeps  # noqa: E402
from node.store.dht import DhtStore  # noqa: E402
from node.store.sqlite import open_store  # noqa: E402
from node.testing import MemoryAgent  # noqa: E402
from zomes.membrane.invitations import issue_invitation  # noqa: E402
from zomes.registry import installed_zomes  # noqa: E402
from zomes.valueflows import coordinator  # noqa: E402
from zomes.valueflows.coordinator import EventRequest  # noqa: E402
from zomes.valueflows.zome import ChainView  # noqa: E402

T = TypeVar("T")

AGENTS = 4
NOW = 1_800_000_000_000_000


class Farm:
    """One agent's chain of ValueFlows events, built as its coordinator would."""

    def __init__(self, key: AgentKey, dna: DnaDef, proof: bytes | None) -> None:
        self.agent = MemoryAgent(key)
        self.agent.genesis(dna.address, proof)
        self.view = ChainView()
        self.author = str(key.agent_id)

    def commit(self, build: Callable[[Scratch, ChainView], T]) -> T:
        start = len(self.agent.records)
        result: T = self.agent.commit(lambda s: build(s, self.view))
        for record in self.agent.records[start:]:
            self.view.step(record)
        return result

    def event(self, action: str, **fields: Any) -> coordinator.Recorded:
        req = EventRequest(action, **fields)
        now = self.agent.clock()
        return self.commit(lambda s, v: coordinator.record_event(s, v, self.author, req, now))

    def ops(self) -> list[Op]:
        return [op for r in self.agent.records for op in produce_ops(r)]


def build(n_ops: int) -> tuple[DnaDef, list[Op]]:
    """Chains for AGENTS agents with about n_ops ops in all, interleaved by seq."""
    keys = [AgentKey(bytes([0x60 + i]) * 32) for i in range(AGENTS)]
    dna = new_dna("bench", keys[0].agent_id, zome_refs(installed_zomes()), {})
    chains = []
    per_agent = -(-n_ops // AGENTS) + 6  # a few over: the interleaved list is cut to n_ops
    for i, key in enumerate(keys):
        proof = None if i == 0 else issue_invitation(
            keys[0], None, dna.address, key.agent_id, NOW * 2, bytes([i]) * 8
        )
        farm = Farm(key, dna, proof)
        spec = str(farm.commit(lambda s, v: coordinator.create_spec(s, "grain", "kg", False, None)))
        proc = str(farm.commit(lambda s, v: coordinator.create_process(s, "mill", None, None, 1)))
        made = farm.event("produce", resource="new:silo", quantity="1000000 kg",
                          conforms_to=spec, output_of=proc)
        silo = str(made.created_resources["silo"])
        steps = (
            ("consume", {"resource": silo, "quantity": "2 kg", "input_of": proc}),
            ("work", {"effort": "1 h", "input_of": proc}),
            ("produce", {"resource": silo, "quantity": "500 g", "output_of": proc}),
        )
        k = 0
        while len(farm.agent.records) * 3 < per_agent:
            action, fields = steps[k % len(steps)]
            farm.event(action, **fields)
            k += 1
        chains.append(farm.ops())
    # authorities receive authors' ops interleaved, roughly in publication order
    ops: list[Op] = []
    for j in range(max(len(c) for c in chains)):
        ops.extend(c[j] for c in chains if j < len(c))
    return dna, ops[:n_ops]


def validate_all(dna: DnaDef, ops: list[Op], db: Path, batch: int) -> tuple[float, float]:
    """Seconds to add, validate and integrate every op, in batches as they'd arrive; and
    then seconds to answer, with signed receipts, a publish of each batch."""
    key = AgentKey(b"\x7f" * 32)
    with open_store(db, create=True) as store:
        dht = DhtStore(store)
        wf = ValidationWorkflow(dht, StoreDeps(dht=dht), make_validator(dna), key)
        start = time.perf_counter()
        for i in range(0, len(ops), batch):
            dht.add_ops(ops[i : i + batch], NOW)
            wf.run(NOW)
        elapsed = time.perf_counter() - start
        counts = dht.counts()
        start = time.perf_counter()
        receipts = 0
        for i in range(0, len(ops), batch):
            with dht.transaction():
                answered = wf.outcomes([op.address for op in ops[i : i + batch]])
            receipts += sum(o.receipt is not None for o in answered.values())
        receipting = time.perf_counter() - start
    if counts["integrated"] != len(ops):
        raise SystemExit(f"not every op integrated: {counts}")
    if receipts != len(ops):
        raise SystemExit(f"{len(ops) - receipts} integrated ops were answered without a receipt")
    return elapsed, receipting


def verify_floor(ops: list[Op]) -> float:
    """Seconds for PyNaCl alone to verify each op's action signature."""
    work = [(nacl.signing.VerifyKey(op.signed.action.author.public_key), op.signed.data,
             op.signed.signature) for op in ops]
    start = time.perf_counter()
    for verify_key, data, signature in work:
        verify_key.verify(data, signature)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="ops to validate")
    parser.add_argument("--batch", type=int, default=1000, help="ops per add_ops + run")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each, alternating; the medians are compared [3]")
    args = parser.parse_args()
    dna, ops = build(args.n)
    gc.collect()
    runs, receipting, floors = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(1 if args.profile else args.repeat):
            if args.profile:
                prof = cProfile.Profile()
                prof.enable()
            run, answer = validate_all(dna, ops, Path(tmp) / f"authority-{r}.db", args.batch)
            runs.append(run)
            receipting.append(answer)
            if args.profile:
                prof.disable()
                order = os.environ.get("BENCH_SORT", "cumulative")  # or tottime
                pstats.Stats(prof).sort_stats(order).print_stats(40)
            floors.append(verify_floor(ops))
    elapsed, floor = statistics.median(runs), statistics.median(floors)
    answer = statistics.median(receipting)
    ops_per_s = len(ops) / elapsed
    floor_per_s = len(ops) / floor
    print(f"{len(ops)} ops from {AGENTS} agents: validated and integrated in {elapsed:.2f} s "
          f"({ops_per_s:,.0f} ops/s; runs {', '.join(f'{t:.2f}' for t in runs)} s); "
          f"a signed receipt for each, when asked: {answer:.2f} s more; "
          f"PyNaCl verifies {floor_per_s:,.0f} signatures/s (medians of {len(runs)})")
    print(json.dumps({
        "ops_per_s": round(ops_per_s),
        "verify_floor_per_s": round(floor_per_s),
        "ratio": round(ops_per_s / floor_per_s, 3),
        "ratio_with_receipts": round(len(ops) / (elapsed + answer) / floor_per_s, 3),
    }))


if __name__ == "__main__":
    main()
