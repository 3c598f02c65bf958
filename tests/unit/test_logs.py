"""The node's log formats: one JSON object a line with the event's fields; libp2p's own
records kept out unless the level is debug."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

from node.core.identity import AgentKey
from node.runtime.logs import configure, event


def lines_logged(level: str, fmt: str, *calls) -> list[str]:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure(level, fmt, out)
    try:
        for call in calls:
            call()
    finally:
        root.handlers, root.level = saved
        logging.captureWarnings(False)
    return out.getvalue().splitlines()


def test_a_json_line_has_time_level_event_message_and_fields() -> None:
    peer = AgentKey.generate().agent_id
    log = logging.getLogger("coledger.node")
    [line] = lines_logged("info", "json", lambda: log.info(
        "peer %s joined", peer, extra=event("peer_joined", peer=peer, count=2, gone=None)))
    obj = json.loads(line)
    assert obj["event"] == "peer_joined" and obj["level"] == "info"
    assert obj["peer"] == str(peer) and obj["count"] == 2 and obj["gone"] is None
    assert obj["message"] == f"peer {peer} joined"
    assert datetime.fromisoformat(obj["time"]).utcoffset() is not None


def test_an_exception_stays_inside_its_json_line() -> None:
    log = logging.getLogger("coledger.node")

    def fail() -> None:
        try:
            raise ValueError("boom\non two lines")
        except ValueError:
            log.exception("it failed")

    [line] = lines_logged("info", "json", fail)
    obj = json.loads(line)
    assert obj["event"] == "coledger.node" and "ValueError" in obj["exception"]


def test_libp2p_chatter_is_kept_out_unless_debug() -> None:
    def chatter() -> None:
        logging.getLogger("libp2p.kad_dht.kad_dht").warning("lookup of a peer failed")
        logging.getLogger("libp2p.network.auto_connector").info("initiating 150 new dials")
        logging.getLogger("coledger.node").warning("could not join x")

    assert len(lines_logged("info", "text", chatter)) == 1
    assert len(lines_logged("debug", "text", chatter)) == 3
    assert lines_logged("error", "text", chatter) == []
