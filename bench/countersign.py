"""Countersigned transfers between two nodes on libp2p (127.0.0.1, one process), the
counterparty accepting automatically (`--auto-accept-from`).

Figures: transfers/s (sessions one after another: a chain holds one session at a
time), session latency p50/p95 (propose -> both chains written), and, measured in the
same run as baselines, a plain local commit of the same kind of event on one chain and
one request round trip over the same libp2p connection.
Last line: JSON. Smaller runs: --transfers 20.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.api import open_ledger  # noqa: E402
from node.runtime.conductor import open_node  # noqa: E402
from node.runtime.countersign import TransferRequest  # noqa: E402
from node.testing import SIM_PASSPHRASE, simulated_network  # noqa: E402
from zomes.valueflows.coordinator import EventRequest  # noqa: E402
from zomes.valueflows.ledger_calls import record  # noqa: E402


def passphrase() -> str:
    return SIM_PASSPHRASE


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(root: Path, transfers: int) -> dict[str, float]:
    homes, keys, _ = simulated_network(root, 2, redundancy=2)
    with open_ledger(homes[0], passphrase) as led:
        made = led.record(EventRequest("raise", resource="new:wheat", quantity="1000000 kg"))
        wheat = str(made.created_resources["wheat"])
    async with trio.open_nursery() as nursery:
        async def serve(home: Path, bootstrap: list[str], accept: list[str], *,  # type: ignore[no-untyped-def]
                        task_status=trio.TASK_STATUS_IGNORED) -> None:
            async with open_node(
                home, passphrase, listen="/ip4/127.0.0.1/tcp/0", bootstrap=bootstrap,
                gossip_interval=5.0, auto_accept_from=accept,
            ) as node:
                task_status.started(node)
                await trio.sleep_forever()

        farm = await nursery.start(serve, homes[0], [], [])
        mill = await nursery.start(
            serve, homes[1], [farm.transport.listen_addrs()[0]], [str(keys[0].agent_id)]
        )
        with trio.fail_after(30):
            while len(farm.peers()) < 2:
                await trio.sleep(0.05)
        # baseline 1: one request round trip on the same connection (a get of nothing)
        from dht import wire
        from node.core.cid import Cid

        probe = wire.encode_message(wire.GetRequest(Cid.of(b"nothing"), "record"))
        rtts = []
        for _ in range(50):
            t = time.perf_counter()
            await farm.transport.request(mill.me, "get", probe, timeout=10)
            rtts.append(time.perf_counter() - t)
        # baseline 2: a plain commit of one event on one chain (validated, flushed)
        commits = []
        for _ in range(min(transfers, 100)):
            t = time.perf_counter()
            record(farm.ledger, EventRequest("raise", resource=wheat, quantity="1 kg"))
            commits.append(time.perf_counter() - t)
        latencies = []
        mill_wheat: str | None = None  # the mill's wheat, made by the first transfer
        started = time.perf_counter()
        for i in range(transfers):
            t = time.perf_counter()
            row = await farm.countersigner.start(TransferRequest(
                EventRequest("transfer", resource=wheat, quantity="1 kg",
                             to_resource=mill_wheat), str(mill.me), 30.0))
            with trio.fail_after(30):
                while (mill.countersigner.sessions.get(row.id) is None
                       or mill.countersigner.sessions.get(row.id).state != "committed"):
                    await trio.sleep(0.001)
            latencies.append(time.perf_counter() - t)
            if i == 0:
                mill_wheat = next(iter(mill.ledger.view().resources))
            if (i + 1) % max(1, transfers // 10) == 0:
                print(f"  {i + 1}/{transfers} transfers", file=sys.stderr)
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    return {
        "transfers": transfers,
        "transfers_per_s": round(transfers / elapsed, 1),
        "session_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "session_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "baseline_commit_ms": round(statistics.median(commits) * 1000, 2),
        "baseline_rtt_ms": round(statistics.median(rtts) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = trio.run(bench, Path(tmp), args.transfers)
    print(f"{figures['transfers']} countersigned transfers: "
          f"{figures['transfers_per_s']}/s; session "
          f"p50 {figures['session_p50_ms']} ms, p95 {figures['session_p95_ms']} ms "
          f"(baselines: plain commit {figures['baseline_commit_ms']} ms, "
          f"request round trip {figures['baseline_rtt_ms']} ms)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
