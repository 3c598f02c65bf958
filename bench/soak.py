"""Soak: does a running node's memory stay flat over a long run?

Two or three real `coledger run` processes on 127.0.0.1 form one network; this process
records events on the first one's chain at --rate events/s for --seconds (through the
store, as `coledger record` does: the node notices and publishes them), and samples every
node's resident memory (RSS, from /proc) every --sample seconds. The baseline, measured in
the same run: one more node, alone in a network of its own, recording nothing (an idle
node's drift: the runtime's and libp2p's own). Prints one JSON line: per node the RSS at
the start, median, end (MB) and the slope of a least-squares line through the samples
(MB/hour; and through the last half of them: bounded memos fill first), the baseline's,
the events recorded and whether publishing caught up.
Short check: --seconds 180. The figure the issue asks for: --seconds 1800 --rate 10.

Measured here (2 nodes, 10 events/s, December 2026): 60 min, RSS 103 -> 148 MB, 15 MB/h
over the second half and flat (148.0 MB) for the last 12 minutes while bounded memos
finished filling; 30 min, 103 -> 140 MB (the code before issue 11: 103 -> 272 MB,
320 MB/h); an idle node flat at 102.6 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.api import open_ledger  # noqa: E402
from tests.integration.processes import PASS, NodeProcess, cli, cooperatives  # noqa: E402
from zomes.valueflows.coordinator import EventRequest  # noqa: E402


def rss_mb(pid: int) -> float:
    """The resident set size of process `pid`, in MB (from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, MB) samples, in MB/hour."""
    if len(samples) < 2:
        return 0.0
    ts, ms = [t for t, _ in samples], [m for _, m in samples]
    mt, mm = statistics.fmean(ts), statistics.fmean(ms)
    var = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (m - mm) for t, m in samples) / var * 3600 if var else 0.0


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    ms = [m for _, m in samples]
    return {"start_mb": round(ms[0], 1), "median_mb": round(statistics.median(ms), 1),
            "end_mb": round(ms[-1], 1), "max_mb": round(max(ms), 1),
            "slope_mb_per_h": round(slope_per_hour(samples), 1),
            "slope_last_half_mb_per_h": round(slope_per_hour(samples[len(samples) // 2:]), 1)}


def idle_node(root: Path, gossip: float) -> NodeProcess:
    """A node alone in a network of its own, recording nothing: the baseline."""
    home = root / "idle"
    cli(home, "init", "--name", "idle")
    cli(home, "network", "create", "idle", "--out", str(root / "idle.network.json"))
    return NodeProcess(home, gossip=gossip)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=2, choices=(2, 3))
    p.add_argument("--rate", type=float, default=10.0, help="events/s recorded [10]")
    p.add_argument("--seconds", type=float, default=180.0, help="how long to record [180]")
    p.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples [30]")
    p.add_argument("--gossip-interval", type=float, default=2.0)
    a = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="coledger-soak-") as tmp:
        root = Path(tmp)
        names = ["farm", "mill", "bakery"][:a.nodes]
        homes, _, nodes = cooperatives(root, names, gossip=a.gossip_interval)
        idle = idle_node(root, a.gossip_interval)
        watched = {**nodes, "idle": idle}
        samples: dict[str, list[tuple[float, float]]] = {n: [] for n in watched}
        recorded, behind = 0, 0.0
        try:
            with open_ledger(homes[names[0]], lambda: PASS) as led:
                made = led.record(EventRequest("raise", resource="new:wheat", quantity="1 kg"))
                wheat = str(made.created_resources["wheat"])
                time.sleep(5)  # (the nodes greet each other)
                start = time.monotonic()
                next_sample = start
                while (now := time.monotonic()) - start < a.seconds:
                    if now >= next_sample:
                        for name, node in watched.items():
                            samples[name].append((now - start, rss_mb(node.proc.pid)))
                        next_sample += a.sample
                    due = start + recorded / a.rate
                    if now < due:
                        time.sleep(min(due - now, next_sample - now))
                        continue
                    behind = max(behind, now - due)
                    led.record(EventRequest("raise", resource=wheat, quantity="1 kg"))
                    recorded += 1
                elapsed = time.monotonic() - start
                for name, node in watched.items():
                    samples[name].append((elapsed, rss_mb(node.proc.pid)))
            deadline = time.monotonic() + 120
            while (pending := nodes[names[0]].status()["publish_pending"]) and \
                    time.monotonic() < deadline:
                time.sleep(1)
            alive = {name: node.proc.poll() is None for name, node in watched.items()}
        finally:
            for node in watched.values():
                node.stop()
    print(json.dumps({
        "bench": "soak", "nodes": a.nodes, "rate": a.rate, "seconds": round(elapsed),
        "events": recorded, "events_per_s": round(recorded / elapsed, 2),
        "most_behind_s": round(behind, 2), "publish_pending_at_end": pending,
        "samples": len(samples["idle"]), "alive": all(alive.values()),
        "rss": {name: summary(s) for name, s in samples.items() if name != "idle"},
        "baseline_idle": summary(samples["idle"]),
        "samples_mb": {name: [round(m, 1) for _, m in s] for name, s in samples.items()},
    }))


if __name__ == "__main__":
    main()
