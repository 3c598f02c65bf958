"""The running node's log: events a person cares about at INFO, detail at DEBUG.

A log call names its event and fields with `extra=event("peer_joined", peer=...)`; the
text format shows the message, the JSON format one object a line: time (ISO 8601, UTC),
level, event, message and the fields. stdlib logging only (no dependency).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def event(name: str, **fields: Any) -> dict[str, Any]:
    """The `extra` of a log call that records the event `name` with `fields`."""
    return {"event": name, "fields": {k: _plain(v) for k, v in fields.items()}}


def _plain(value: Any) -> Any:
    """A JSON value for a field: numbers, strings, bools and None as they are, the rest
    (agent ids, addresses) as their text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, event (the logger's name when the call named
    none), message, the event's fields, and the exception's text if there was one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", None) or record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _Chatter(logging.Filter):
    """Keeps libp2p's own records (and its dependencies') out of the user's log unless
    the level is debug: the ones that matter surface as our own events."""

    PREFIXES = ("libp2p", "multiaddr", "async_service", "aioquic", "zeroconf")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(self.PREFIXES) or record.levelno >= logging.CRITICAL


def configure(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send the node's log to `stream` (stderr) at `level` in format `fmt`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    if level != "debug":
        handler.addFilter(_Chatter())
    else:
        from dht.libp2p_backend import show_libp2p_logs

        show_libp2p_logs()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # (Python warnings too, as log lines of this format)
