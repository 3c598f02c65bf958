"""Network benchmarks: real nodes on libp2p (127.0.0.1) on one machine, so figures are
pessimistic next to one node per machine.

(a) replication: ops/s from one author to its authorities among 5 nodes (commit ->
    every op confirmed by R receipts), next to the same op bytes sent raw over one
    libp2p stream in the same run (one process: the 5 nodes share one core, and
    `replication_cpu_share` near 1 says that core was busy throughout: each op is
    decoded, signature-checked, validated and receipted by 5 authorities);
(b) sync lag: N nodes each committing E events/s for S seconds; p50/p95/max time from
    commit to R valid receipts (targets: p95 < 2 s). The nodes are shared out to
    --processes worker processes (default one a core): a trio process runs on one
    core, and ten nodes at 10 events/s need more than one here (`--processes 1` shows
    the single-core figure: p95 about 2.1-2.6 s here, that core nearly saturated);
(c) catch-up: time for a fresh node to hold everything it is an authority for, once
    --catchup-ops ops exist (one process);
(d) RSS: the (b) workers' peak resident memory, per node they run (libp2p alone is
    about 80 MB a process).
Last line: JSON. Smaller runs: --nodes 5 --rate 5 --seconds 20 --catchup-ops 2000.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dht.authority import ClosestIndex  # noqa: E402
from dht.wire import PublishRequest, RawOp, encode_message  # noqa: E402
from node.core.ops import produce_ops  # noqa: E402
from node.runtime.conductor import open_node  # noqa: E402
from node.runtime.node import Node  # noqa: E402
from node.store.dht import INTEGRATED  # noqa: E402
from node.testing import SIM_PASSPHRASE, simulated_network  # noqa: E402
from zomes.valueflows.coordinator import EventRequest  # noqa: E402
from zomes.valueflows.ledger_calls import create_process, record  # noqa: E402

R = 5


def passphrase() -> str:
    return SIM_PASSPHRASE


async def start(nursery: trio.Nursery, homes: list[Path]) -> list:  # type: ignore[type-arg]
    nodes = await start_nodes(nursery, homes, None)
    await mesh(nodes, len(homes))
    return nodes


async def start_nodes(nursery: trio.Nursery, homes: list[Path], bootstrap: str | None,
                      ) -> list[Node]:
    """A node for each home, bootstrapping to `bootstrap`, else to the first of them."""
    async def serve(  # type: ignore[no-untyped-def]
        home: Path, bootstrap: list[str], *, task_status=trio.TASK_STATUS_IGNORED
    ) -> None:
        async with open_node(home, passphrase, listen="/ip4/127.0.0.1/tcp/0", bootstrap=bootstrap,
                             gossip_interval=1.0) as node:
            task_status.started(node)
            await trio.sleep_forever()

    nodes = [await nursery.start(serve, homes[0], [bootstrap] if bootstrap else [])]
    first = bootstrap or nodes[0].transport.listen_addrs()[0]
    for home in homes[1:]:
        nodes.append(await nursery.start(serve, home, [first]))
    return nodes


async def mesh(nodes: list, total: int) -> None:  # type: ignore[type-arg]
    """Until every node counts `total` peers (itself included)."""
    with trio.fail_after(60):
        while not all(len(n.peers()) == total for n in nodes):
            await trio.sleep(0.2)


def record_events(node: Node, count: int, state: dict[str, str]) -> None:
    """`count` work events on the node's own chain (a process made on first use)."""
    led = node.ledger
    if "process" not in state:
        state["process"] = str(create_process(led, "bench", None, None))
    for _ in range(count):
        record(led, EventRequest("work", effort="1 h", input_of=state["process"]))
    node.enqueue_new_records()


async def replication(root: Path, events: int) -> dict[str, float]:
    homes, _, _ = simulated_network(root / "a", 5, redundancy=R)
    async with trio.open_nursery() as nursery:
        nodes = await start(nursery, homes)
        author = nodes[0]
        # steady state: the author published its genesis before it knew any peer; its
        # authorities get it by gossip once it is settled (dht.gossip.SETTLE_US)
        with trio.fail_after(60):
            while not all(len(n.activity_held(author.me)) >= 3 for n in nodes[1:]):
                await trio.sleep(0.1)
        t0, cpu0 = time.perf_counter(), time.process_time()
        record_events(author, events, {})
        with trio.fail_after(600):
            while author.queue.pending():
                await trio.sleep(0.05)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        ops = [op for r in author.ledger.agent.store.records(start=3) for op in produce_ops(r)]
        # the raw floor: the same op bytes over one stream (one request to a handler that
        # only answers), the median of five sends (single sends vary several-fold here)
        data = encode_message(PublishRequest(tuple(RawOp.of(o) for o in ops)))
        peer = nodes[1]

        async def sink(_peer, _data: bytes) -> bytes:  # type: ignore[no-untyped-def]
            return b""

        peer.transport.set_handler("rawbench", sink)
        sends = []
        for _ in range(5):
            t1 = time.perf_counter()
            await author.transport.request(peer.me, "rawbench", data, timeout=60)
            sends.append(time.perf_counter() - t1)
        nursery.cancel_scope.cancel()
    return {"replication_ops_per_s": len(ops) / elapsed, "replication_cpu_share": cpu / elapsed,
            "raw_ops_per_s": len(ops) / statistics.median(sends),
            "replication_ops": len(ops), "replication_mb": len(data) / 1e6}


def sync_lag(root: Path, n: int, rate: float, seconds: float, processes: int) -> dict[str, float]:
    """(b) in `processes` worker processes sharing the nodes out (a trio process uses
    one core; real nodes each have their own process)."""
    homes, _, _ = simulated_network(root / "b", n, redundancy=R)
    ctx = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for w in range(processes):
        ours, theirs = ctx.Pipe()
        share = [str(h) for h in homes[w::processes]]
        worker = ctx.Process(target=_lag_worker, args=(share, w == 0, n, rate, seconds, theirs),
                             daemon=True)
        worker.start()
        pipes.append(ours)
        workers.append(worker)
    try:
        address = pipes[0].recv()  # the first worker's first node: everyone's bootstrap
        for pipe in pipes[1:]:
            pipe.send(address)
        for pipe in pipes:
            assert pipe.recv() == "ready"
        for pipe in pipes:
            pipe.send("go")
        reports = [pipe.recv() for pipe in pipes]
        for pipe in pipes:
            pipe.send("stop")
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    lags = sorted(lag for report in reports for lag in report["lags"])
    q = statistics.quantiles(lags, n=100)
    return {"lag_p50_s": q[49] / 1e6, "lag_p95_s": q[94] / 1e6, "lag_max_s": lags[-1] / 1e6,
            "lag_ops": len(lags), "lag_events": sum(r["events"] for r in reports),
            "lag_processes": processes,
            "rss_mb_per_node": sum(r["rss_mb"] for r in reports) / n}


def _lag_worker(homes: list[str], first: bool, total: int, rate: float, seconds: float,
                pipe: Connection) -> None:
    quiet_libp2p()
    trio.run(_lag_nodes, [Path(h) for h in homes], first, total, rate, seconds, pipe)


async def _lag_nodes(homes: list[Path], first: bool, total: int, rate: float, seconds: float,
                     pipe: Connection) -> None:
    """One worker: its nodes each commit `rate` events/s for `seconds` (on a fixed
    schedule, so a slow commit does not lower the rate), then wait for R receipts."""
    async def recv() -> Any:
        return await trio.to_thread.run_sync(pipe.recv)

    async with trio.open_nursery() as nursery:
        if first:  # the bootstrap of every other worker
            nodes = await start_nodes(nursery, homes[:1], None)
            pipe.send(nodes[0].transport.listen_addrs()[0])
            nodes += await start_nodes(nursery, homes[1:], nodes[0].transport.listen_addrs()[0]) \
                if homes[1:] else []
        else:
            nodes = await start_nodes(nursery, homes, await recv())
        await mesh(nodes, total)
        pipe.send("ready")
        assert await recv() == "go"
        for node in nodes:
            node.lags_us.clear()
        events = [0]

        async def author(node) -> None:  # type: ignore[no-untyped-def]
            state: dict[str, str] = {}
            began = trio.current_time()
            for k in range(int(seconds * rate)):
                await trio.sleep_until(began + k / rate)
                record_events(node, 1, state)
                events[0] += 1

        async with trio.open_nursery() as authors:
            for node in nodes:
                authors.start_soon(author, node)
        with trio.fail_after(300):
            while any(node.queue.pending() for node in nodes):
                await trio.sleep(0.1)
        report = {"lags": [lag for node in nodes for lag in node.lags_us], "events": events[0],
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        pipe.send(report)
        assert await recv() == "stop"  # our nodes are authorities for the other workers' ops
        nursery.cancel_scope.cancel()


async def catch_up(root: Path, n: int, ops_wanted: int) -> dict[str, float]:
    homes, keys, _ = simulated_network(root / "c", n + 1, redundancy=R)
    ids = [k.agent_id for k in keys]
    async with trio.open_nursery() as nursery:
        nodes = await start(nursery, homes[:n])
        per_author = max(1, ops_wanted // (3 * n))
        for node in nodes:
            record_events(node, per_author, {})
        with trio.fail_after(600):
            while any(node.queue.pending() for node in nodes):
                await trio.sleep(0.1)
        everything = [op for node in nodes for r in node.ledger.agent.store.records(start=3)
                      for op in produce_ops(r)]
        index = ClosestIndex(ids)
        mine = [op for op in everything if ids[n] in index.closest(op.basis, R)]
        t0 = time.perf_counter()

        async def fresh(*, task_status=trio.TASK_STATUS_IGNORED) -> None:  # type: ignore[no-untyped-def]
            async with open_node(homes[n], passphrase, listen="/ip4/127.0.0.1/tcp/0",
                                 bootstrap=[nodes[0].transport.listen_addrs()[0]],
                                 gossip_interval=0.5) as node:
                task_status.started(node)
                await trio.sleep_forever()

        newcomer = await nursery.start(fresh)

        def held() -> int:
            return sum(
                1 for op in mine
                if (s := newcomer.dht.state_of(op.address)) and s[0] == INTEGRATED
            )

        with trio.fail_after(600):
            while held() < len(mine):
                await trio.sleep(0.25)
        elapsed = time.perf_counter() - t0
        nursery.cancel_scope.cancel()
    return {
        "catchup_s": elapsed,
        "catchup_ops_existing": len(everything),
        "catchup_ops_held": len(mine),
    }


def quiet_libp2p() -> None:
    """libp2p logs a warning at every normal end of a stream, and some of its modules
    set their own levels when imported: import it first, then quiet them all."""
    import dht.libp2p_backend  # noqa: F401

    for name in ["libp2p", *logging.root.manager.loggerDict]:
        if name.startswith("libp2p"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def main() -> None:
    quiet_libp2p()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="(a) events the author commits")
    parser.add_argument("--nodes", type=int, default=10, help="(b, c) nodes")
    parser.add_argument("--rate", type=float, default=10.0, help="(b) events/s per node")
    parser.add_argument("--seconds", type=float, default=60.0, help="(b) how long")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="(b) worker processes to share the nodes out to (default: one a core)")
    parser.add_argument("--catchup-ops", type=int, default=10_000, help="(c) ops that exist")
    args = parser.parse_args()
    random.seed(1)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out.update(trio.run(replication, root, args.events))
        print(f"(a) replication {out['replication_ops_per_s']:,.0f} ops/s to R={R} authorities; "
              f"raw stream {out['raw_ops_per_s']:,.0f} ops/s "
              f"(the same {out['replication_ops']} ops, "
              f"{out['replication_mb']:.1f} MB, in one request)", flush=True)
        out.update(sync_lag(root, args.nodes, args.rate, args.seconds, args.processes))
        print(f"(b) sync lag p50 {out['lag_p50_s']:.2f} s, p95 {out['lag_p95_s']:.2f} s, max "
              f"{out['lag_max_s']:.2f} s over {out['lag_ops']} ops of {out['lag_events']} events "
              f"({args.nodes} nodes in {args.processes} processes); "
              f"(d) RSS {out['rss_mb_per_node']:.0f} MB/node", flush=True)
        out.update(trio.run(catch_up, root, args.nodes, args.catchup_ops))
        print(f"(c) catch-up {out['catchup_s']:.1f} s for {out['catchup_ops_held']} ops "
              f"of {out['catchup_ops_existing']}", flush=True)
    out["ratio_replication_to_raw"] = out["replication_ops_per_s"] / out["raw_ops_per_s"]
    print(json.dumps({k: round(v, 3) for k, v in out.items()}))


if __name__ == "__main__":
    main()
