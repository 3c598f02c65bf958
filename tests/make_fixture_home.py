"""Make the fixture home tests/data/homes/schema1/ with the coledger of this checkout:
`python tests/make_fixture_home.py` (kept so a later schema can make its own beside it).

A home of today's layout (an unset `PRAGMA user_version`, which reads as schema 1): a
network of its own, a resource specification and a few events. Tests open a copy of it
(tests/integration/test_upgrades.py): a newer coledger must read it, migrate it and write
to it. The passphrase is FIXTURE_PASSPHRASE.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "homes" / "schema1"
FIXTURE_PASSPHRASE = "fixture home"
KEPT = ("agent.key", "coledger.db", "network.json")


def coledger(home: Path, *args: str) -> object:
    """One command on `home`, its --json output parsed."""
    env = dict(os.environ, COLEDGER_PASSPHRASE=FIXTURE_PASSPHRASE)
    env.pop("COLEDGER_HOME", None)
    out = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--home", str(home), "--json",
                          *args], capture_output=True, text=True, env=env, check=True,
                         cwd=home.parent)
    return json.loads(out.stdout)


def make(target: Path = FIXTURE) -> None:
    """Write the fixture home to `target` (replacing what is there)."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        coledger(home, "init", "--name", "fixture bakery")
        coledger(home, "network", "create", "fixture", "--out", str(Path(tmp) / "n.json"))
        spec = coledger(home, "spec", "create", "flour", "--unit", "kg")
        raised = coledger(home, "record", "raise", "--resource", "new:flour sack", "--quantity",
                          "25 kg", "--conforms-to", spec["address"])  # type: ignore[index]
        sack = raised["created_resources"]["flour sack"]  # type: ignore[index]
        coledger(home, "record", "raise", "--resource", sack, "--quantity", "5 kg")
        db = sqlite3.connect(home / "coledger.db")
        db.execute("VACUUM")  # (small files in the repository)
        db.close()
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name in KEPT:
            shutil.copyfile(home / name, target / name)


if __name__ == "__main__":
    make()
    print(f"written {FIXTURE}: " + ", ".join(
        f"{p.name} {p.stat().st_size} bytes" for p in sorted(FIXTURE.iterdir())))
