"""`make demo`: a cooperative's first day with coledger, run through the real command line.

Creates a temporary home, a network and a small supply chain (wheat grown, milled
into flour with work and electricity, baked into bread), then shows the chain,
verifies it, lists the inventory and traces a loaf back to the wheat. Each step
prints the command it runs, so the output doubles as a tutorial.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="coledger-demo-") as tmp:
        env = dict(os.environ, COLEDGER_HOME=str(Path(tmp) / "valley-farm"), COLEDGER_PASSPHRASE="demo passphrase")

        def run(*args: str, show: bool = True) -> str:
            print(f"\n$ coledger {shlex.join(args)}", flush=True)
            proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], env=env, cwd=tmp,
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                print(proc.stderr.strip())
                return ""
            if show:
                print(proc.stdout.rstrip())
            return proc.stdout

        def address(*args: str) -> str:
            return run(*args).strip()

        def created(*args: str) -> str:
            out = json.loads(run("--json", *args, show=False))
            name, addr = next(iter(out["created_resources"].items()))
            print(f"{out['address']}  (new resource {name!r}: {addr})")
            return addr

        run("init", "--name", "Valley Farm & Mill")
        run("network", "create", "valley-food")
        wheat_spec = address("spec", "create", "wheat", "--unit", "kg")
        power_spec = address("spec", "create", "electricity", "--unit", "kWh")
        growing = address("process", "create", "growing wheat 2026")
        wheat = created("record", "produce", "--resource", "new:wheat lot 7", "--conforms-to", wheat_spec,
                        "--quantity", "1000 kg", "--output-of", growing)
        grid = created("record", "raise", "--resource", "new:solar power", "--conforms-to", power_spec,
                       "--quantity", "200 kWh")
        milling = address("process", "create", "milling")
        run("record", "consume", "--resource", wheat, "--quantity", "400 kg", "--input-of", milling)
        run("record", "work", "--effort", "3 h", "--input-of", milling, "--note", "miller's shift")
        run("record", "consume", "--resource", grid, "--quantity", "36 MJ", "--input-of", milling)
        flour = created("record", "produce", "--resource", "new:flour", "--quantity", "300 kg", "--output-of", milling)
        run("process", "finish", milling)
        baking = address("process", "create", "baking")
        run("record", "consume", "--resource", flour, "--quantity", "250 kg", "--input-of", baking)
        bread = created("record", "produce", "--resource", "new:bread", "--quantity", "400 each", "--output-of", baking)
        print("\nAn overdraft is refused by the accounting rules, and nothing is written:")
        run("record", "consume", "--resource", flour, "--quantity", "51 kg", "--input-of", baking)
        run("inventory")
        run("trace", bread)
        run("chain", "show", "--limit", "5")
        run("chain", "verify")


if __name__ == "__main__":
    main()
