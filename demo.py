"""`make demo`: three cooperatives, three real nodes on loopback, one network.

A farm starts the network and invites a mill and a bakery; each runs its own
`coledger run` process (libp2p on 127.0.0.1) and records its own events through
the real command line. Every node then reads the others' data across the
network: another coop's inventory, a record it never held, a trace of bread.
Each step prints the command it runs, so the output doubles as a tutorial.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ENV = dict(os.environ, COLEDGER_PASSPHRASE="demo passphrase", PYTHONUNBUFFERED="1")
ENV.pop("COLEDGER_HOME", None)


def coledger(home: Path, *args: str, show: bool = True, check: bool = True) -> str:
    print(f"\n[{home.name}]$ coledger {shlex.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--home", str(home), *args],
                          env=ENV, cwd=home.parent, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        print(proc.stderr.strip())
        if check:
            raise SystemExit(f"demo step failed: coledger {shlex.join(args)}")
        return ""
    if show:
        print(proc.stdout.rstrip())
    return proc.stdout


def value(home: Path, *args: str, key: str = "address") -> str:
    out = json.loads(coledger(home, "--json", *args, show=False))
    print(out[key])
    return str(out[key])


def created(home: Path, *args: str) -> str:
    out = json.loads(coledger(home, "--json", *args, show=False))
    name, address = next(iter(out["created_resources"].items()))
    print(f"{out['address']}  (new resource {name!r}: {address})")
    return str(address)


def start_node(home: Path, bootstrap: str | None) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "--json", "run",
            "--listen", "/ip4/127.0.0.1/tcp/0", "--gossip-interval", "1"]
    if bootstrap:
        args += ["--bootstrap", bootstrap]
    print(f"\n[{home.name}]$ coledger run --listen /ip4/127.0.0.1/tcp/0"
          + (f" --bootstrap {bootstrap}" if bootstrap else "") + "   (in the background)", flush=True)
    log = open(home.parent / f"{home.name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, env=ENV)
    assert proc.stdout is not None
    text = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"{home.name}'s node did not start: see {log.name}")
        text += line
        try:
            address = json.loads(text)["listen"][0]
            print(f"listening on {address}")
            return proc, address
        except ValueError:
            continue
    raise SystemExit(f"{home.name}'s node did not start in time")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="coledger-demo-") as tmp:
        root = Path(tmp)
        farm, mill, bakery = (root / n for n in ("valley-farm", "stone-mill", "corner-bakery"))
        print("== Three cooperatives get their keys; the farm starts a network and invites the others")
        ids = {h: value(h, "init", "--name", h.name, key="agent_id") for h in (farm, mill, bakery)}
        coledger(farm, "network", "create", "valley-food", "--property", "redundancy=3",
                 "--out", str(root / "valley-food.network.json"))
        for home in (mill, bakery):
            token = value(farm, "invite", ids[home], key="token")
            coledger(home, "join", str(root / "valley-food.network.json"), "--invite", token)

        print("\n== Each runs its node")
        nodes = []
        try:
            proc, first = start_node(farm, None)
            nodes.append(proc)
            for home in (mill, bakery):
                nodes.append(start_node(home, first)[0])
            time.sleep(2)

            print("\n== Each records its own work")
            wheat_spec = value(farm, "spec", "create", "wheat", "--unit", "kg")
            growing = value(farm, "process", "create", "growing wheat 2026")
            wheat = created(farm, "record", "produce", "--resource", "new:wheat lot 7",
                            "--conforms-to", wheat_spec, "--quantity", "1000 kg", "--output-of", growing)
            coledger(farm, "record", "work", "--effort", "120 h", "--input-of", growing)
            milling = value(mill, "process", "create", "milling")
            grain = created(mill, "record", "raise", "--resource", "new:grain in store",
                            "--conforms-to", wheat_spec, "--quantity", "400 kg")
            coledger(mill, "record", "consume", "--resource", grain, "--quantity", "400 kg",
                     "--input-of", milling)
            coledger(mill, "record", "work", "--effort", "3 h", "--input-of", milling)
            created(mill, "record", "produce", "--resource", "new:flour", "--quantity", "300 kg",
                    "--output-of", milling)
            baking = value(bakery, "process", "create", "baking")
            dough = created(bakery, "record", "raise", "--resource", "new:flour in store",
                            "--quantity", "250 kg")
            coledger(bakery, "record", "consume", "--resource", dough, "--quantity", "250 kg",
                     "--input-of", baking)
            bread = created(bakery, "record", "produce", "--resource", "new:bread",
                            "--quantity", "400 each", "--output-of", baking)
            for home in (farm, mill, bakery):
                coledger(home, "sync")

            print("\n== An overdraft is refused by the accounting rules; nothing is written")
            coledger(bakery, "record", "consume", "--resource", dough, "--quantity", "1 kg",
                     "--input-of", baking, check=False)

            print("\n== Every node reads the others' data across the network")
            coledger(bakery, "status")
            coledger(bakery, "peers")
            coledger(bakery, "inventory", "--agent", ids[farm])
            coledger(mill, "get", wheat)
            coledger(bakery, "trace", wheat)
            coledger(farm, "trace", bread)
            coledger(mill, "chain", "verify")
            print("\n(The grain the mill raised and the flour the bakery raised would be transfers from"
                  " the farm and the mill: countersigned transfers are the next step.)")
        finally:
            for proc in nodes:
                proc.send_signal(signal.SIGTERM)
            for proc in nodes:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
