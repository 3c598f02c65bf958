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


def test_the_command_line_reads_no_package_metadata():
    """With pydantic's plugins disabled (cli.py), its plugin loader stays out, and with it
    importlib.metadata (and email, zipfile, csv), even after a model is built and used."""
    found = loaded_after(
        "import json, sys, cli; from node.core.actions import action_from_obj; "
        "from pydantic import BaseModel\n"
        "class M(BaseModel):\n    x: int\n"
        "M(x=1)\n"
        "print(json.dumps({'loaded': sorted(m for m in ('importlib.metadata', 'email', "
        "'zipfile', 'csv') if m in sys.modules)}))"
    )
    assert found["loaded"] == []


def test_pydantic_without_plugins_asks_its_loader_for_none_but_get_plugins():
    """cli.py's stand-in loader is faithful: pydantic's own loader finds no plugin when they
    are all disabled, and pydantic asks it for get_plugins alone."""
    found = loaded_after(
        "import inspect, json, os; os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
        "from pydantic.plugin import _loader, _schema_validator\n"
        "src = inspect.getsource(_schema_validator)\n"
        "print(json.dumps({'plugins': list(_loader.get_plugins()), "
        "'asks': [line.strip() for line in src.splitlines() if '_loader' in line]}))"
    )
    assert found == {"plugins": [], "asks": ["from ._loader import get_plugins"]}


def test_chain_verify_loads_no_dna_no_dht_and_no_zome():
    """`chain verify` opens the front door and reads the chain: not the DNA, the DHT's
    records and op queue, validation or any zome, nor what writes (the scratch, the
    countersigned actions) or cbor2's semantic types (email)."""
    found = loaded_after(
        "import json, sys, cli, node.api, node.store.behind; "
        f"print(json.dumps({{'loaded': {ours(('dht', 'zomes', 'validation'))} + "
        "sorted(m for m in ('node.core.dna', 'node.core.ops', 'node.store.op_queue', "
        "'node.client', 'email', 'node.core.scratch', 'node.core.countersign') "
        "if m in sys.modules)}))"
    )
    assert found["loaded"] == []


def test_a_write_loads_no_trace_and_no_network():
    """`record` opens the ledger and writes: not the ValueFlows trace (what traces imports
    it), the DHT's wire, libp2p, the node's runtime beyond the ledger, or pint."""
    found = loaded_after(
        "import json, sys, cli, node.api, node.client, node.vf_ledger; "
        "from zomes.valueflows.coordinator import EventRequest; "
        "print(json.dumps({'loaded': sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dht', 'libp2p', 'trio', 'pint') or m in ('zomes.valueflows.trace', "
        "'node.runtime.node', 'node.runtime.conductor', 'zomes.membrane.invitations'))}))"
    )
    assert found["loaded"] == []
