"""Plain-JSON views of records for `--json` output and people: addresses as strings."""

from __future__ import annotations

import base64
from typing import Any

from node.core.actions import ActionBase
from node.core.cid import Cid
from node.core.identity import AgentId
from node.core.records import Record


def jsonable(value: Any) -> Any:
    """Cid and AgentId as their printed forms, bytes as DAG-JSON `{"/": {"bytes": b64}}`."""
    if isinstance(value, Cid | AgentId):
        return str(value)
    if isinstance(value, bytes):
        return {"/": {"bytes": base64.b64encode(value).decode("ascii").rstrip("=")}}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def action_json(action: ActionBase) -> dict[str, Any]:
    obj = {"type": action.TYPE}
    obj.update({k: jsonable(v) for k, v in action if v is not None})
    return obj


def record_json(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {
        "address": str(record.address),
        "action": action_json(record.action),
        "signature": record.signed.signature.hex(),
    }
    if record.entry is not None:
        out["entry_address"] = str(record.entry.address)
        out["entry"] = jsonable(record.entry.value)
    return out
