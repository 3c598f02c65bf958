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


def coledger(
    home: Path, *args: str, show: bool = True, check: bool = True, echo: bool = True
) -> str:
    if echo:
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


def start_node(home: Path, bootstrap: str | None, *extra: str) -> tuple[subprocess.Popen[str], str]:
    args = [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "--json", "run",
            "--listen", "/ip4/127.0.0.1/tcp/0", "--gossip-interval", "1", "--no-http", *extra]
    if bootstrap:
        args += ["--bootstrap", bootstrap]
    print(f"\n[{home.name}]$ coledger run --listen /ip4/127.0.0.1/tcp/0"
          + (f" --bootstrap {bootstrap}" if bootstrap else "") + "".join(f" {x}" for x in extra)
          + "   (in the background)", flush=True)
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


def in_background(home: Path, *args: str) -> subprocess.Popen[str]:
    print(f"\n[{home.name}]$ coledger {shlex.join(args)}   (waits for the other party)", flush=True)
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "--home", str(home), *args],
                            env=ENV, cwd=home.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def session_waiting(home: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sessions = json.loads(coledger(home, "--json", "pending", show=False, echo=False))
        waiting = [s for s in sessions if s["state"] == "pending"]
        if waiting:
            coledger(home, "pending")
            return str(waiting[0]["id"])
        time.sleep(0.3)
    raise SystemExit("the proposal did not arrive")


def finished(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"demo step failed: {err.strip()}")
    print(out.strip())
    return out.strip()


def listed(home: Path, *args: str) -> None:
    """Show a listing once it lists something (the network takes a moment; 60 s at most)."""
    deadline = time.monotonic() + 60
    while (not json.loads(coledger(home, "--json", *args, show=False, echo=False) or "[]")
           and time.monotonic() < deadline):
        time.sleep(0.5)
    coledger(home, *args)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="coledger-demo-") as tmp:
        root = Path(tmp)
        farm, mill, bakery = (root / n for n in ("valley-farm", "stone-mill", "corner-bakery"))
        print("== Three cooperatives get their keys; "
              "the farm starts a network and invites the others")
        ids = {h: value(h, "init", "--name", h.name, key="agent_id") for h in (farm, mill, bakery)}
        coledger(farm, "network", "create", "valley-food", "--property", "redundancy=3",
                 "--out", str(root / "valley-food.network.json"))
        for home in (mill, bakery):
            token = value(farm, "invite", ids[home], key="token")
            coledger(home, "join", str(root / "valley-food.network.json"), "--invite", token)

        print("\n== Each runs its node "
              "(the bakery accepts the mill's deliveries without asking)")
        nodes = []
        try:
            proc, first = start_node(farm, None)
            nodes.append(proc)
            nodes.append(start_node(mill, first)[0])
            nodes.append(start_node(bakery, first, "--auto-accept-from", ids[mill])[0])
            time.sleep(2)

            print("\n== The farm grows wheat")
            wheat_spec = value(farm, "spec", "create", "wheat", "--unit", "kg")
            growing = value(farm, "process", "create", "growing wheat 2026")
            wheat = created(farm, "record", "produce", "--resource", "new:wheat lot 7",
                            "--conforms-to", wheat_spec, "--quantity", "1000 kg",
                            "--output-of", growing)
            coledger(farm, "record", "work", "--effort", "120 h", "--input-of", growing)

            print("\n== The farm delivers 400 kg to the mill: "
                  "one event, signed by both, on both chains")
            delivery = in_background(farm, "record", "transfer", "--resource", wheat,
                                     "--quantity", "400 kg", "--to", ids[mill],
                                     "--to-resource", "new:grain in store", "--wait", "60")
            session = session_waiting(mill)
            coledger(mill, "accept", session)
            finished(delivery)
            grain = next(r["address"]
                         for r in json.loads(coledger(mill, "--json", "inventory", show=False))
                         if r["name"] == "grain in store")

            print("\n== The mill mills it, "
                  "and delivers flour to the bakery (which accepts on its own)")
            milling = value(mill, "process", "create", "milling")
            coledger(mill, "record", "consume", "--resource", grain, "--quantity", "400 kg",
                     "--input-of", milling)
            coledger(mill, "record", "work", "--effort", "3 h", "--input-of", milling)
            flour = created(mill, "record", "produce", "--resource", "new:flour",
                            "--quantity", "300 kg", "--output-of", milling)
            coledger(mill, "record", "transfer", "--resource", flour, "--quantity", "250 kg",
                     "--to", ids[bakery], "--to-resource", "new:flour in store", "--wait", "60")
            dough = next(r["address"]
                         for r in json.loads(coledger(bakery, "--json", "inventory", show=False))
                         if r["name"] == "flour in store")

            print("\n== The bakery bakes")
            baking = value(bakery, "process", "create", "baking")
            coledger(bakery, "record", "consume", "--resource", dough, "--quantity", "250 kg",
                     "--input-of", baking)
            bread = created(bakery, "record", "produce", "--resource", "new:bread",
                            "--quantity", "400 each", "--output-of", baking)
            for home in (farm, mill, bakery):
                coledger(home, "sync")

            print("\n== The offers board: the mill offers its bran, a byproduct of milling; "
                  "the farm asks for feed")
            bran = value(mill, "spec", "create", "bran", "--unit", "kg")
            feed = value(farm, "spec", "create", "animal feed", "--unit", "kg")
            value(mill, "offer", "--spec", bran, "--quantity", "50 kg", "--class", "byproduct",
                  "--class", "feed", "--for", "15 EUR", key="proposal")
            value(farm, "request", "--spec", feed, "--quantity", "40 kg", "--class", "feed",
                  key="proposal")
            for home in (mill, farm):
                coledger(home, "sync", show=False, echo=False)
            listed(bakery, "offers", "--class", "byproduct")
            print("\n== Match at the farm: the mill's bran answers its request for feed")
            listed(farm, "match")

            print("\n== An overdraft is refused by the accounting rules; nothing is written")
            coledger(bakery, "record", "consume", "--resource", dough, "--quantity", "1 kg",
                     "--input-of", baking, check=False)

            print("\n== Every node reads the others' data across the network")
            coledger(bakery, "status")
            coledger(bakery, "peers")
            coledger(bakery, "inventory", "--agent", ids[farm])
            coledger(farm, "inventory", "--agent", ids[mill])
            coledger(mill, "get", wheat)

            print("\n== A loaf of bread, traced back to the wheat across three chains "
                  "(from the farm's node)")
            coledger(farm, "trace", bread)
            coledger(bakery, "track", wheat)
            coledger(mill, "chain", "verify")

            print("\n== Accounting across the network: who gave what to whom, "
                  "and who shares the bread's income")
            coledger(bakery, "report", "flows")
            equation = root / "bread-2026.json"
            equation.write_text(json.dumps({"name": "bread 2026", "buckets": [
                {"name": "labour", "percentage": 60, "rules": [
                    {"action": "work", "rate": "25", "per": "h"}]},
                {"name": "grain and flour", "percentage": 40, "rules": [
                    {"action": "consume", "rate": "0.5", "per": "kg"}]}]}))
            print(f"\n(the value equation, in {equation.name}: {equation.read_text()})")
            coledger(bakery, "equation", "create", str(equation))
            coledger(bakery, "report", "contributions", "--output", bread, "--income", "1000 EUR",
                     "--equation", "bread 2026")
            plan_together(root, farm, mill, bakery, ids, wheat_spec)
        finally:
            for proc in nodes:
                proc.send_signal(signal.SIGTERM)
            for proc in nodes:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def plan_together(root: Path, farm: Path, mill: Path, bakery: Path, ids: dict[Path, str],
                  wheat_spec: str) -> None:
    """Next season, arranged before it happens: offers and needs, a match, an agreement
    signed by both, a plan from a shared recipe and its status."""
    print("\n== Next season: the farm offers wheat, and its bran as a byproduct; "
          "the bakery asks for bran")
    bran_spec = value(farm, "spec", "create", "wheat bran", "--unit", "kg",
                      "--classified-as", "byproduct")
    coledger(farm, "offer", "--spec", wheat_spec, "--quantity", "2000 kg", "--for", "600 EUR")
    coledger(farm, "offer", "--spec", bran_spec, "--quantity", "100 kg", "--for", "20 EUR",
             "--class", "byproduct", "--class", "feed")
    coledger(bakery, "request", "--spec", bran_spec, "--quantity", "40 kg",
             "--until", "2027-06-30")
    coledger(bakery, "offers")
    print("\n== What the bakery's request could be answered by, best first")
    coledger(bakery, "match")

    print("\n== The mill and the bakery agree: 300 kg flour by 1 March for 450 EUR; "
          "signed by both, on both chains")
    flour_spec = value(mill, "spec", "create", "flour", "--unit", "kg")
    agreeing = in_background(mill, "agree", "--with", ids[bakery], "--name", "flour 2027",
                             "--give", f"300 kg of {flour_spec} by 2027-03-01",
                             "--get", "450 EUR by 2027-03-15", "--wait", "60")
    session = session_waiting(bakery)
    coledger(bakery, "accept", session)
    finished(agreeing)
    [agreement] = json.loads(coledger(bakery, "--json", "agreements", show=False, echo=False))
    flour_clause = next(c["address"] for c in agreement["clauses"]
                        if c["resource_conforms_to"] == flour_spec)

    print("\n== The bakery shares its bread recipe and plans 400 loaves from it")
    bread_spec = value(bakery, "spec", "create", "bread", "--unit", "one")
    recipe_file = root / "bread.recipe.json"
    recipe_file.write_text(json.dumps({
        "name": "country bread", "primaryOutput": bread_spec,
        "processes": [{"name": "baking", "hasDuration": "6 hour",
                       "inputs": [{"action": "consume", "resourceConformsTo": flour_spec,
                                   "resourceQuantity": "250 kg"},
                                  {"action": "work", "effortQuantity": "12 hour"}],
                       "outputs": [{"action": "produce", "resourceConformsTo": bread_spec,
                                    "resourceQuantity": "400 one"}]}]}))
    recipe = value(bakery, "recipe", "create", str(recipe_file))
    plan = coledger(bakery, "plan", "from-recipe", recipe, "--quantity", "400 one",
                    "--due", "2027-03-10").split()[1]
    coledger(bakery, "plan", "status", plan)

    print("\n== The mill delivers a first 100 kg, fulfilling its clause; "
          "both see what remains")
    milling = value(mill, "process", "create", "milling 2027")
    flour = created(mill, "record", "produce", "--resource", "new:flour 2027",
                    "--conforms-to", flour_spec, "--quantity", "100 kg", "--output-of", milling)
    coledger(mill, "record", "transfer", "--resource", flour, "--quantity", "100 kg",
             "--to", ids[bakery], "--to-resource", "new:flour for bread",
             "--fulfills", flour_clause, "--realization-of", agreement["address"],
             "--wait", "60")
    coledger(bakery, "commitments")
    coledger(mill, "commitments")


if __name__ == "__main__":
    main()
