"""The network file: a DNA and bootstrap addresses, shared by a network's members.

`NAME.network.json` as written by `coledger network create`, and the copy each home
keeps of the network it belongs to. Its DNA must hash to the stated network id.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from node.core.dna import DnaDef
from node.core.errors import LocalError, NotFound
from node.core.refusals import NetworkFileMissing, NotJoined
from node.store.home import Agent

NETWORK_FORMAT = "coledger-network/1"


def network_doc(dna: DnaDef, bootstrap: list[str] | None = None) -> dict[str, Any]:
    return {
        "format": NETWORK_FORMAT,
        "network_id": str(dna.address),
        "dna": dna.to_obj(),
        "bootstrap": bootstrap or [],
    }


def write_network_file(
    path: Path, dna: DnaDef, bootstrap: list[str] | None = None, *, mode: int = 0o644
) -> None:
    """Write atomically (a temporary file renamed); `mode` 0o600 for a home's own copy."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a left-over temporary file would keep its old mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(network_doc(dna, bootstrap), indent=2) + "\n")
    tmp.replace(path)


def read_network_file(path: Path) -> tuple[DnaDef, list[str]]:
    """Load and check a network file: the DNA must hash to the stated network id."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise NotFound(f"no network file at {path}") from None
    except OSError as e:
        raise LocalError(f"cannot read network file {path}: {e.strerror or e}") from None
    except ValueError:
        raise LocalError(f"{path} is not a coledger network file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != NETWORK_FORMAT:
        raise LocalError(f"{path} is not a coledger network file ({NETWORK_FORMAT})")
    try:
        dna = DnaDef.model_validate(doc["dna"])
    except Exception as e:
        raise LocalError(f"network file {path} has a bad DNA: {e}") from None
    if str(dna.address) != doc.get("network_id"):
        raise LocalError(f"network file {path}: the DNA does not hash to its network id")
    bootstrap = [b for b in doc.get("bootstrap", []) if isinstance(b, str)]
    return dna, bootstrap


def restore_network_file(agent: Agent, source: Path) -> DnaDef:
    """Put the home's copy of its network file back from `source` (a member's copy),
    after checking that it is this chain's network; its bootstrap addresses are kept."""
    genesis = agent.store.get_record_at(0)
    if genesis is None:
        raise LocalError("this agent has not joined a network: there is nothing to restore")
    dna, bootstrap = read_network_file(source)
    expected = getattr(genesis.action, "dna_hash", None)
    if dna.address != expected:
        raise LocalError(f"{source} is network {dna.address}, but this chain belongs to "
                         f"{expected}: not restored")
    write_network_file(agent.paths.network, dna, bootstrap)
    return dna


def current_dna(agent: Agent) -> DnaDef:
    """The DNA of the network this home belongs to."""
    if not agent.paths.network.exists():
        if agent.head() is not None:
            raise NetworkFileMissing(
                f"this home's copy of its network file ({agent.paths.network}) is missing")
        raise NotJoined("this agent has not joined a network")
    return read_network_file(agent.paths.network)[0]
