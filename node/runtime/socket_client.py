"""The client side of a running node's local socket (node/runtime/rpc.py serves it):
one JSON request per connection, blocking, for the command line and the reports that
gather chains through the node."""

from __future__ import annotations

import importlib
import json
import socket
from pathlib import Path
from typing import Any

from node.core.errors import CoreError, LocalError, phrased_type
from node.core.refusals import NodeSilent, NoNode

SOCKET_NAME = "node.sock"
MAX_GET_MANY = 256
"""Addresses one `get_many` asks for at most (a listing's page of records)."""


def socket_path(home: Path) -> Path:
    return Path(home) / SOCKET_NAME


def call(home: Path, method: str, timeout: float = 60.0, **params: Any) -> Any:
    """Call a running node's method (blocking; for the CLI). NoNode if none runs; the
    node's error as it raised it (`_error`)."""
    path = socket_path(home)
    if not path.exists():
        raise NoNode("no node is running for this home")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(json.dumps({"method": method, "params": params}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        raise NodeSilent(f"the node for this home does not answer ({e})") from None
    finally:
        sock.close()
    reply = json.loads(data)
    if "error" in reply:
        raise _error(reply)
    return reply["result"]


def node_running(home: Path) -> bool:
    return socket_path(home).exists()


def _error(reply: dict[str, Any]) -> CoreError:
    """The node's error as raised there: a `Phrased` one by its type and parts (so that
    each front end phrases its fields its own way), another of ours of its type when that
    type takes its message alone (RuleBroken: a rule said no), any other as its message."""
    parts, name, module = reply.get("parts"), reply.get("type"), reply.get("module")
    if isinstance(parts, list) and isinstance(name, str):
        return phrased_type(name)(*parts)
    kind = _error_type(name, module)
    if kind is None:
        return LocalError(reply["error"])
    return kind(reply["error"])


OWN_PACKAGES = ("node.", "zomes.", "validation.", "dht.")


def _error_type(name: object, module: object) -> type[CoreError] | None:
    """Our error type `name` of `module` if its constructor takes a message alone, else
    None (only our own packages' modules are imported, by name)."""
    if not (isinstance(name, str) and isinstance(module, str)
            and module.startswith(OWN_PACKAGES)):
        return None
    try:
        kind = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    if not (isinstance(kind, type) and issubclass(kind, CoreError)):
        return None
    plain = all("__init__" not in vars(c) for c in kind.__mro__[:kind.__mro__.index(CoreError)])
    return kind if plain else None
