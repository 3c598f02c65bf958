"""A command pays only for what it uses (issue 12): what importing the modules of the
light commands (`chain verify`, `record`) brings along, checked in a fresh interpreter.
Not timed: it names the modules that must stay out, so a regression says what came in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(code: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter; what it printed as JSON on its last line."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    return result


def ours(prefixes: tuple[str, ...]) -> str:
    return (f"sorted(m for m in sys.modules if m.split('.')[0] in {prefixes!r} "
            "or m in ('node.runtime', 'node.store.dht'))")


def test_a_home_and_its_chain_import_no_network_and_no_zome():
    """`chain verify` needs the home (key file, store, chain checks): not the DHT's wire
    codecs, the op queue, validation or any zome."""
    found = loaded_after(
        "import json, sys, node.store.home, node.store.behind; "
        f"print(json.dumps({{'loaded': {ours(('dht', 'zomes', 'validation'))}}}))"
    )
    assert found["loaded"] == []


def test_the_dna_imports_no_zome_and_builds_no_validator():
    """The DNA names the zomes by reference: importing it loads none of them, and its models'
    validators are built when a DNA is first checked, not at import."""
    found = loaded_after(
        "import json, sys; from node.core.dna import DnaDef, ZomeRef; "
        f"print(json.dumps({{'loaded': {ours(('dht', 'zomes', 'validation'))}, "
        "'built': [c.__name__ for c in (DnaDef, ZomeRef) if c.__pydantic_complete__]}))"
    )
    assert found == {"loaded": [], "built": []}
