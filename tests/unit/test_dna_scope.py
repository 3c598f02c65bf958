"""The network id hashes integrity code only: editing how reports are formatted keeps it,
editing an integrity module changes it.

Each case edits a copy of `zomes/` and computes the id of one fixed DNA in a fresh
interpreter that imports that copy (the code hash reads the source files themselves).
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import zomes
from zomes.accounting import common, events
from zomes.accounting.formatting import dumps_json, iso_time, measure_json, shown

ROOT = Path(zomes.__file__).resolve().parent.parent
FORMATTERS: tuple[Callable[..., object], ...] = (
    dumps_json,
    iso_time,
    shown,
    measure_json,
    events.event_time,
)

NETWORK_ID = """
import zomes
from node.core.dna import DnaDef
from node.membership import zome_refs
from zomes.registry import installed_zomes

dna = DnaDef(name="scope", zomes=zome_refs(installed_zomes()), progenitor="p", network_seed="s")
print(zomes.__file__)
print(dna.address)
"""


def network_id(tmp: Path, edited: Iterable[Path]) -> str:
    """The fixed DNA's id with a copy of `zomes/` in which each file of `edited` is changed."""
    shutil.copytree(ROOT / "zomes", tmp / "zomes", ignore=shutil.ignore_patterns("__pycache__"))
    for package in ("node", "validation", "dht"):
        (tmp / package).symlink_to(ROOT / package)
    for path in edited:
        copy = tmp / path.relative_to(ROOT)
        copy.write_text(copy.read_text() + "\n# edited: a change the network id may see\n")
    env = {**os.environ, "PYTHONPATH": str(tmp), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", NETWORK_ID], cwd=tmp, env=env, capture_output=True, text=True,
        check=True,
    ).stdout.split()
    assert Path(out[0]).is_relative_to(tmp), "the copy was not the code imported"
    return out[1]


def source_of(thing: object) -> Path:
    return Path(inspect.getsourcefile(thing)).resolve()  # type: ignore[arg-type]


def test_formatters_are_not_hashed_but_integrity_is(tmp_path: Path) -> None:
    original = network_id(tmp_path / "original", ())
    formatters = {source_of(f) for f in FORMATTERS}
    assert network_id(tmp_path / "formatters", formatters) == original
    assert network_id(tmp_path / "integrity", [source_of(common)]) != original
