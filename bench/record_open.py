"""What opening a home costs a command: `coledger record` as a user runs it, and the check
every open runs (head signature and link, no row missing, PRAGMA quick_check).

Builds a home with --events recorded events (two actions each) and a DHT store padded
with --ops rows of --op-bytes (a node's authority data, which quick_check reads too),
then times --runs `coledger record` processes of this checkout, alternating with as many
of `--baseline` (another checkout, e.g. the code before the check) on the same home, and
in process the open with its check against the bare open_store. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PASS = "bench record open"


def cli(root: Path, home: Path, *args: str) -> str:
    env = dict(os.environ, COLEDGER_PASSPHRASE=PASS)
    proc = subprocess.run([sys.executable, str(root / "cli.py"), "--home", str(home), *args],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"coledger {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def build_home(root: Path, home: Path, events: int, ops: int, op_bytes: int) -> None:
    """A home with `events` recorded events and `ops` padding rows beside its chain."""
    cli(root, home, "init")
    cli(root, home, "network", "create", "bench", "--out", str(home.parent / "b.json"))
    sys.path.insert(0, str(root))
    from node.api import open_ledger
    from zomes.valueflows.coordinator import EventRequest

    with open_ledger(home, lambda: PASS) as led:
        for i in range(events):
            led.record(EventRequest(action="raise", resource=f"new:r{i}", quantity="1 kg"))
    conn = sqlite3.connect(home / "coledger.db")
    conn.execute("CREATE TABLE IF NOT EXISTS bench_padding (k INTEGER PRIMARY KEY, v BLOB)")
    conn.executemany("INSERT INTO bench_padding(v) VALUES (?)",
                     ((os.urandom(op_bytes),) for _ in range(ops)))
    conn.commit()
    conn.close()


def time_open(root: Path, home: Path, repeat: int) -> tuple[float, float]:
    """Median seconds of open_agent (with its check) and of the bare open_store."""
    from node.store.home import open_agent
    from node.store.sqlite import open_store

    def median(fn) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    def checked() -> None:
        with open_agent(home, lambda: PASS):
            pass

    def bare() -> None:
        with open_store(home / "coledger.db"):
            pass

    return median(checked), median(bare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--op-bytes", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline", type=Path, help="another checkout whose cli.py to time")
    a = parser.parse_args()
    roots = [HERE] + ([a.baseline.resolve()] if a.baseline else [])
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        build_home(HERE, home, a.events, a.ops, a.op_bytes)
        size = (home / "coledger.db").stat().st_size
        times: dict[Path, list[float]] = {root: [] for root in roots}
        for i in range(a.runs):
            for root in roots:  # alternated: the machine's load falls on both alike
                t = time.perf_counter()
                cli(root, home, "record", "raise", "--resource", f"new:x{i}{root.name}",
                    "--quantity", "1 kg")
                times[root].append(time.perf_counter() - t)
        check_s, bare_s = time_open(HERE, home, 20)
    record = {str(root): statistics.median(t) for root, t in times.items()}
    print(f"db {size / 1e6:.1f} MB, chain {2 * a.events + 3} actions at the start")
    for root, median in record.items():
        print(f"coledger record ({root}): median {median * 1000:.0f} ms over {a.runs} runs")
    if a.baseline:
        print(f"ratio this / baseline: {record[str(HERE)] / record[str(roots[1])]:.2f}")
    print(f"open_agent with its check {check_s * 1000:.1f} ms; bare open_store "
          f"{bare_s * 1000:.1f} ms")
    print(json.dumps({"db_bytes": size, "record_median_s": record, "open_checked_s": check_s,
                      "open_bare_s": bare_s}))


if __name__ == "__main__":
    main()
