"""What a command costs beside the interpreter's floor: `coledger record` (one event on a
chain of --events events) and `coledger chain verify`, each against
`python -c "import nacl.bindings, cbor2, sqlite3"` (the least any command needs: a key,
CBOR and SQLite), measured alternately in one run so the machine's load falls on all
alike. Issue 12's target: each command at most 2.5x the floor. A fourth line, the floor
plus one pydantic model defined and used, shows what any command that touches a pydantic
model (an action, an entry, the DNA) pays before doing anything else; a fifth, the same
without pydantic's plugin loader (as cli.py runs it: plugins disabled, a stand-in loader),
what a coledger command pays for it.

Runs the installed entry point (`coledger` beside this interpreter), as a user does: with
its bytecode cached (PYTHONDONTWRITEBYTECODE is dropped for the runs, else every command
would compile coledger's modules from source while the floor's come compiled by pip).
Last line: JSON with the medians and the ratios, wall clock and CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASS = "bench startup"
FLOOR = [sys.executable, "-c", "import nacl.bindings, cbor2, sqlite3"]
PYDANTIC = [*FLOOR[:-1], FLOOR[-1] + "\nfrom pydantic import BaseModel\n"
            "class M(BaseModel):\n    x: int\nM(x=1)"]
NO_PLUGINS = [*FLOOR[:-1], FLOOR[-1] + "\nimport os, sys, types\n"
              "os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
              "loader = types.ModuleType('pydantic.plugin._loader')\n"
              "loader.get_plugins = tuple\nsys.modules[loader.__name__] = loader\n"
              + PYDANTIC[-1].removeprefix(FLOOR[-1] + "\n")]
COLEDGER = str(Path(sys.executable).with_name("coledger"))


def run(args: list[str], home: Path) -> tuple[float, float]:
    """Seconds one process took (it must succeed): wall clock, and CPU (user + system),
    which other work on a busy machine disturbs less."""
    env = dict(os.environ, COLEDGER_PASSPHRASE=PASS)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: {proc.stderr.strip()}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return took, cpu


def build_home(home: Path, events: int) -> None:
    """A home with a network and `events` recorded events on its chain."""
    run([COLEDGER, "--home", str(home), "init", "--name", "bench"], home)
    run([COLEDGER, "--home", str(home), "network", "create", "bench", "--out",
         str(home.parent / "bench.network.json")], home)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from node.api import open_ledger
    from zomes.valueflows.coordinator import EventRequest

    with open_ledger(home, lambda: PASS) as led:
        made = led.record(EventRequest("raise", resource="new:wheat", quantity="1 kg"))
        wheat = str(made.created_resources["wheat"])
        for _ in range(events - 1):
            led.record(EventRequest("raise", resource=wheat, quantity="1 kg"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=200, help="events on the chain [200]")
    p.add_argument("--runs", type=int, default=15, help="runs of each command [15]")
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="coledger-startup-") as tmp:
        home = Path(tmp) / "home"
        build_home(home, a.events)
        commands = {
            "floor": FLOOR,
            "record": [COLEDGER, "--home", str(home), "record", "raise", "--resource",
                       "new:rye", "--quantity", "1 kg"],
            "chain verify": [COLEDGER, "--home", str(home), "chain", "verify"],
            "floor+pydantic": PYDANTIC,
            "floor+pydantic, no plugins": NO_PLUGINS,
        }
        for args in commands.values():  # warm the page cache and .pyc files
            run(args, home)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(a.runs):
            for name, args in commands.items():
                times[name].append(run(args, home))
    medians = {name: statistics.median(w for w, _ in t) for name, t in times.items()}
    cpus = {name: statistics.median(c for _, c in t) for name, t in times.items()}
    floor, floor_cpu = medians["floor"], cpus["floor"]
    for name, median in medians.items():
        print(f"{name:>26}: median {median * 1000:6.1f} ms  ({median / floor:.2f}x the floor)"
              f"   cpu {cpus[name] * 1000:6.1f} ms  ({cpus[name] / floor_cpu:.2f}x)")
    print(json.dumps({"bench": "startup", "events": a.events, "runs": a.runs,
                      "median_ms": {n: round(m * 1000, 1) for n, m in medians.items()},
                      "ratio_to_floor": {n: round(m / floor, 2) for n, m in medians.items()
                                         if n != "floor"},
                      "cpu_ms": {n: round(c * 1000, 1) for n, c in cpus.items()},
                      "cpu_ratio_to_floor": {n: round(c / floor_cpu, 2) for n, c in cpus.items()
                                             if n != "floor"}}))


if __name__ == "__main__":
    main()
