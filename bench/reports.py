"""Benchmark: the accounting reports over a network holding 100,000 ValueFlows events.

The network: 100 producers in 5 tiers of 20 (growers, mills, bakeries, packers, shops)
and a cooperative that assembles the shops' output. In each of 250 batches (spread over
three years, using a little more electricity each batch), every producer consumes its
electricity and works in its own process and produces a batch resource; it then consumes
that batch into the process of the producer in the next tier (on its own chain, naming
the other's process), the last tier into the cooperative's assembly. The cooperative
declares the electricity's footprint, a value equation and carbon budgets.

Every chain is signed and chained like a real one (node.testing.MemoryAgent); the other
agents' chains are held in the cooperative's DHT store as an authority holds them: their
agent-activity ops added and validated by the real workflow (or, with --trust, marked
integrated without it). Nothing of that is timed.

Timed, on the cooperative's home (no node running: the chains come from its store):
gathering (reading every chain into a Dataset), then each report over it — flows (matrix
and Sankey SVG), contributions (the end product's income by the equation), footprint
(rolled up along the whole trace, with budgets and perma-circularity) — and each export.
The baseline, in the same run, is reading the same records from the store without
parsing their entries: what any report must pay to see the data at all.

    .venv/bin/python bench/reports.py [--tiers 5] [--width 20] [--batches 250] [--trust]

The last line is JSON with each report's time in seconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.api import make_validator, new_dna  # noqa: E402
from node.core.clock import now_us  # noqa: E402
from node.core.identity import AgentKey  # noqa: E402
from node.core.ops import OpType, produce_ops  # noqa: E402
from node.core.scratch import Scratch  # noqa: E402
from node.gather import gather_local  # noqa: E402
from node.membership import zome_refs  # noqa: E402
from node.runtime.validate import ValidationWorkflow  # noqa: E402
from node.store.deps import StoreDeps  # noqa: E402
from node.store.dht import DhtStore  # noqa: E402
from node.store.home import open_agent  # noqa: E402
from node.testing import SIM_PASSPHRASE, MemoryAgent, fast_home, step_clock  # noqa: E402
from zomes.accounting import reports  # noqa: E402
from zomes.accounting.entries import Budget, SpecFootprint, ValueEquation  # noqa: E402
from zomes.accounting.zome import entry_type as accounting_type  # noqa: E402
from zomes.membrane.invitations import issue_invitation  # noqa: E402
from zomes.registry import installed_zomes  # noqa: E402
from zomes.valueflows.entries import (  # noqa: E402
    EconomicEvent,
    EconomicResource,
    Process,
    ResourceSpecification,
)
from zomes.valueflows.units import Measure  # noqa: E402
from zomes.valueflows.zome import entry_type  # noqa: E402

START = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z (three years, all in the past)
SPAN = 3 * 365 * 86_400_000_000  # three years of batches
# The chains are written after the last batch (an event may not be recorded before it
# happens: check_event_not_in_future), each action a millisecond after the one before.
RECORDED = START + SPAN + 86_400_000_000
TIER_NAMES = ("grower", "mill", "bakery", "packer", "shop", "maker", "trader", "store")


def add(scratch: Scratch, cls: type[Any], **fields: Any) -> str:
    """Create an entry of a valueflows type from its fields; its address."""
    return str(scratch.create(entry_type(cls), cls.model_validate(fields).to_content()))


def measure(value: object, unit: str) -> dict[str, str]:
    return {"hasNumericalValue": str(value), "hasUnit": unit}


class Network:
    """The chains of the cooperative (index 0) and the producers, built in memory."""

    def __init__(self, tiers: int, width: int, batches: int) -> None:
        self.tiers, self.width, self.batches = tiers, width, batches
        self.coop = MemoryAgent(AgentKey(b"\x40" * 32), step_clock(RECORDED))
        self.producers = [[MemoryAgent(AgentKey(bytes([0x41 + t]) + bytes([j]) * 31),
                                       step_clock(RECORDED))
                           for j in range(width)] for t in range(tiers)]  # fmt: skip
        self.dna = new_dna("bench reports", self.coop.agent_id, zome_refs(installed_zomes()), {})
        self.names: dict[str, str] = {}

    def agents(self) -> list[MemoryAgent]:
        return [self.coop, *(a for tier in self.producers for a in tier)]

    def build(self) -> dict[str, str]:
        coop, dna = self.coop, self.dna
        coop.commit(lambda s: s.genesis(dna.address, None, {"agent": coop.agent_id.to_bytes(),
                                                              "name": "Valley Coop"}))  # fmt: skip
        far = 2**62
        for t, tier in enumerate(self.producers):
            for j, agent in enumerate(tier):
                proof = issue_invitation(coop.key, None, dna.address, agent.agent_id, far,
                                         bytes([t, j]))
                name = f"{TIER_NAMES[t % len(TIER_NAMES)]} {j + 1}"
                def join(s: Scratch, a: MemoryAgent = agent, n: str = name,
                         p: bytes = proof) -> None:
                    s.genesis(dna.address, p, {"agent": a.agent_id.to_bytes(), "name": n})

                agent.commit(join)
        out: dict[str, str] = {}
        coop_id = str(coop.agent_id)

        def knowledge(s: Scratch) -> None:
            out["electricity"] = add(s, ResourceSpecification, name="electricity",
                                     default_unit_of_resource="kilowattHour")
            out["goods"] = add(s, ResourceSpecification, name="goods",
                               default_unit_of_resource="kilogram")
            out["assembly"] = add(s, Process, name="assembly", has_beginning=START)
            out["end"] = add(s, EconomicResource, name="end product", unit_of_resource="kilogram",
                             conforms_to=out["goods"])

        coop.commit(knowledge)

        def declarations(s: Scratch) -> None:
            footprint = SpecFootprint.model_validate({
                "specification": out["electricity"], "per": "kilowattHour",
                "factors": [{"kind": "energy", "quantity": measure("3.6", "megajoule")},
                            {"kind": "emissions", "quantity": measure("0.25", "kilogramCO2e")}]})
            s.create(accounting_type(SpecFootprint), footprint.to_content())
            equation = ValueEquation.model_validate({"name": "valley", "buckets": [
                {"name": "labour", "percentage": "60", "rules": [
                    {"action": "work", "rate": "25", "per": "hour"}]},
                {"name": "materials", "percentage": "40", "rules": [
                    {"action": "consume", "rate": "0.5", "per": "kilogram", "rates": [
                        {"conformsTo": out["electricity"], "rate": "0.2",
                         "per": "kilowattHour"}]}]},
            ]})  # fmt: skip
            out["equation"] = str(s.create(accounting_type(ValueEquation), equation.to_content()))
            for year in range(3):
                budget = Budget(kind="emissions", period_start=START + year * SPAN // 3,
                                period_end=START + (year + 1) * SPAN // 3,
                                allocated=Measure.model_validate(
                                    measure(30000, "kilogramCO2e")),
                                name=f"network carbon {2024 + year}")
                s.create(accounting_type(Budget), budget.to_content())

        coop.commit(declarations)
        # every producer's processes first: the tier before consumes into them
        processes: list[list[list[str]]] = []
        for t, tier in enumerate(self.producers):
            processes.append([])
            for j, agent in enumerate(tier):
                made: list[str] = []

                def procs(s: Scratch, t: int = t, j: int = j, made: list[str] = made) -> None:
                    for b in range(self.batches):
                        made.append(add(s, Process, name=f"batch {b} t{t} p{j}",
                                        has_beginning=START + b * SPAN // self.batches))

                agent.commit(procs)
                processes[t].append(made)
        for t, tier in enumerate(self.producers):
            for j, agent in enumerate(tier):
                me = str(agent.agent_id)
                last = t == self.tiers - 1
                receiver = coop_id if last else str(self.producers[t + 1][j].agent_id)

                def batches(s: Scratch, t: int = t, j: int = j, me: str = me, last: bool = last,
                            receiver: str = receiver) -> None:  # fmt: skip
                    grid = add(s, EconomicResource, name="grid", unit_of_resource="kilowattHour",
                               conforms_to=out["electricity"])
                    add(s, EconomicEvent, action="raise", provider=me, receiver=me,
                        resource_inventoried_as=grid, has_point_in_time=START,
                        resource_quantity=measure(10**7, "kilowattHour"))
                    for b in range(self.batches):
                        at = START + b * SPAN // self.batches
                        process = processes[t][j][b]
                        add(s, EconomicEvent, action="consume", provider=me, receiver=me,
                            resource_inventoried_as=grid, input_of=process, has_point_in_time=at,
                            resource_quantity=measure(10 + b // 25, "kilowattHour"))
                        add(s, EconomicEvent, action="work", provider=me, receiver=me,
                            input_of=process, has_point_in_time=at + 1,
                            effort_quantity=measure(2, "hour"))
                        lot = add(s, EconomicResource, name=f"lot {b}", unit_of_resource="kilogram",
                                  conforms_to=out["goods"])
                        add(s, EconomicEvent, action="produce", provider=me, receiver=me,
                            resource_inventoried_as=lot, output_of=process,
                            has_point_in_time=at + 2, resource_quantity=measure(100, "kilogram"))
                        into = out["assembly"] if last else processes[t + 1][j][b]
                        add(s, EconomicEvent, action="consume", provider=me, receiver=receiver,
                            resource_inventoried_as=lot, input_of=into, has_point_in_time=at + 3,
                            resource_quantity=measure(100, "kilogram"))

                agent.commit(batches)
        coop.commit(lambda s: add(
            s, EconomicEvent, action="produce", provider=coop_id, receiver=coop_id,
            resource_inventoried_as=out["end"], output_of=out["assembly"],
            has_point_in_time=START + SPAN, resource_quantity=measure(1000, "kilogram")))
        return out


def install(network: Network, root: Path, trust: bool) -> Path:
    """The cooperative's home: its own chain, and the others' in its DHT store."""
    home: Path = fast_home(root, "coop", network.coop.key)[0]
    now = now_us()
    with open_agent(home, lambda: SIM_PASSPHRASE) as agent:
        agent.store.flush(None, network.coop.records)
        dht = DhtStore(agent.store)
        ops = [op for producer in network.agents()[1:] for record in producer.records
               for op in produce_ops(record) if op.type is OpType.REGISTER_AGENT_ACTIVITY]
        for i in range(0, len(ops), 20_000):
            dht.add_ops(ops[i : i + 20_000], now)
        if trust:
            dht.finish_many([(op.address, "integrated", None, None) for op in ops], now)
        else:
            workflow = ValidationWorkflow(dht, StoreDeps(dht=dht, own=agent.store),
                                          make_validator(network.dna), agent.key())
            while workflow.run(now, limit=5000).integrated:
                pass
        counts = dht.counts()
        if counts.get("integrated", 0) != len(ops):
            raise SystemExit(f"not every op integrated: {counts}")
    return home


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def read_records(home: Path) -> int:
    """The baseline: every record of every chain read from the store, entries not parsed."""
    count = 0
    with open_agent(home, lambda: SIM_PASSPHRASE) as agent:
        count += sum(1 for _ in agent.store.records())
        dht = DhtStore(agent.store)
        for author in dht.activity_authors():
            count += len(dht.activity(author))
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiers", type=int, default=5)
    parser.add_argument("--width", type=int, default=20)
    parser.add_argument("--batches", type=int, default=250)
    parser.add_argument("--trust", action="store_true",
                        help="mark the other chains' ops integrated without validating them")
    args = parser.parse_args()
    network = Network(args.tiers, args.width, args.batches)
    started = time.perf_counter()
    ids = network.build()
    built = time.perf_counter() - started
    records = sum(len(a.records) for a in network.agents())
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        home = install(network, Path(tmp), args.trust)
        installed = time.perf_counter() - started
        print(f"built {len(network.agents())} chains, {records:,} records in {built:.1f} s; "
              f"{'stored' if args.trust else 'validated and stored'} in {installed:.1f} s",
              flush=True)
        read_s, read = timed(lambda: read_records(home))
        gather_s, (ds, me) = timed(lambda: gather_local(home, lambda: SIM_PASSPHRASE))
    events = len(ds.events)
    now = now_us()
    jobs: dict[str, Callable[[], Any]] = {
        "flows": lambda: reports.flow_text(reports.flow_report(ds), ds),
        "flows_svg": lambda: reports.flow_diagram(reports.flow_report(ds), ds, "svg"),
        "contributions": lambda: reports.contribution_report(
            ds, output=ids["end"], income="100000 EUR", equation=ids["equation"]),
        "footprint": lambda: reports.footprint_report(ds, ids["end"]),
        "export_vf_jsonld": lambda: reports.export(ds, "vf-jsonld", me=me, now_us=now,
                                                   everyone=True),
        "export_csv": lambda: reports.export(ds, "csv", me=me, now_us=now, everyone=True),
        "export_epcis": lambda: reports.export(ds, "epcis", me=me, now_us=now, everyone=True),
        "export_pact": lambda: reports.export(ds, "pact", me=me, now_us=now, resource=ids["end"]),
    }
    times: dict[str, float] = {}
    results: dict[str, Any] = {}
    for name, job in jobs.items():
        times[name], results[name] = timed(job)
    print(f"{events:,} events on {len(ds.chains)} chains ({read:,} records)")
    print(f"baseline: reading the records without parsing entries: {read_s:.2f} s")
    print(f"gather (read and parse every chain): {gather_s:.2f} s "
          f"({gather_s / read_s:.1f}x the baseline)")
    footprint = results["footprint"]
    contributions = results["contributions"]
    for name, seconds in times.items():
        print(f"{name:<18} {seconds:7.2f} s  ({seconds / read_s:.1f}x the baseline)")
    print(f"footprint of the end product: {footprint['totals']['emissions']['hasNumericalValue']} "
          f"kgCO2e from {len(footprint['parts']):,} inputs; budgets over: "
          f"{sum(b['over'] for b in footprint['budgets'])}/{len(footprint['budgets'])}; "
          f"circularity flags: {', '.join(footprint['circularity']['flagged']) or 'none'}")
    print(f"contributions: {len(contributions['agents'])} agents share "
          f"{contributions['income']} {contributions['currency']}")
    figures = {f"{name}_s": round(seconds, 2) for name, seconds in times.items()}
    print(json.dumps({"events": events, "chains": len(ds.chains), "read_s": round(read_s, 2),
                      "gather_s": round(gather_s, 2), **figures}))


if __name__ == "__main__":
    main()
