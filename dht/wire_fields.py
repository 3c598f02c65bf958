"""Checking the fields of a decoded wire message (dht/wire.py, dht/session_wire.py): each
check returns the value typed, or raises WireError naming the field."""

from __future__ import annotations

from typing import Any

from node.core.cid import Cid
from node.core.errors import CoreError, DecodeError
from node.core.identity import AGENT_ID_SIZE, AgentId


class WireError(DecodeError):
    """Bytes from a peer are not a well-formed message of the expected kind."""


def check_map(obj: Any, tag: str, fields: frozenset[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise WireError(f"{tag}: a message must be a map")
    if obj.get("t") != tag:
        raise WireError(f"expected a {tag} message, got type {obj.get('t')!r}")
    if obj.keys() != fields:
        raise WireError(f"{tag}: fields must be exactly {sorted(fields)}")
    return obj


def check_list(value: Any, name: str, bound: int) -> list[Any]:
    if not isinstance(value, list):
        raise WireError(f"{name} must be a list")
    if len(value) > bound:
        raise WireError(f"{name} has {len(value)} items, more than {bound}")
    return value


def check_bytes(value: Any, name: str, bound: int) -> bytes:
    if not isinstance(value, bytes):
        raise WireError(f"{name} must be bytes")
    if len(value) > bound:
        raise WireError(f"{name} of {len(value)} bytes exceeds {bound}")
    return value


def check_text(value: Any, name: str, bound: int) -> str:
    if not isinstance(value, str):
        raise WireError(f"{name} must be text")
    if len(value) > bound:
        raise WireError(f"{name} longer than {bound}")
    return value


def check_uint(value: Any, name: str) -> int:
    if type(value) is not int or not 0 <= value < 2**63:
        raise WireError(f"{name} must be an integer in [0, 2^63)")
    return value


def check_cid(value: Any, name: str) -> Cid:
    if not isinstance(value, Cid):
        raise WireError(f"{name} must be a link (CID)")
    return value


def check_agent(value: Any, name: str) -> AgentId:
    if not isinstance(value, bytes) or len(value) != AGENT_ID_SIZE:
        raise WireError(f"{name} must be agent id bytes")
    try:
        return AgentId(value)
    except CoreError as e:
        raise WireError(f"{name}: {e}") from None
