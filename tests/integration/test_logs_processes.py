"""The running node's log, from real `coledger run` processes on 127.0.0.1: JSON lines
that name the events a person cares about, and no library chatter or shutdown traceback
when the node is stopped."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import NodeProcess, cli, wait_until

pytestmark = pytest.mark.slow


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a node's stderr, each parsed as a JSON object (fails on any other)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert all(isinstance(x, dict) for x in lines)
    return lines


def events(path: Path) -> list[str]:
    return [x["event"] for x in json_lines(path)]


def test_json_log_of_two_nodes_names_joins_and_catch_up_and_stops_clean(tmp_path: Path) -> None:
    homes = {name: tmp_path / name for name in ("farm", "mill")}
    ids = {name: cli(home, "init", "--name", name)["agent_id"] for name, home in homes.items()}
    cli(homes["farm"], "network", "create", "valley", "--out", str(tmp_path / "v.network.json"))
    token = cli(homes["farm"], "invite", ids["mill"])["token"]
    cli(homes["mill"], "join", str(tmp_path / "v.network.json"), "--invite", token)
    extra = ["--log-format", "json"]
    farm = NodeProcess(homes["farm"], extra=extra)
    mill = NodeProcess(homes["mill"], bootstrap=[farm.address], extra=extra)
    logs = {"farm": tmp_path / "farm.log", "mill": tmp_path / "mill.log"}
    try:
        wait_until(lambda: "peer_joined" in events(logs["farm"])
                   and "peer_joined" in events(logs["mill"]), timeout=60, what="peers joined")
        cli(homes["farm"], "record", "raise", "--resource", "new:wheat", "--quantity", "5 kg")
        wait_until(lambda: "publish_caught_up" in events(logs["farm"]), timeout=60,
                   what="the farm's publish caught up")
    finally:
        codes = [farm.stop(), mill.stop()]
    assert codes == [0, 0]
    for name, path in logs.items():
        text = path.read_text()
        assert "Traceback" not in text and "LifecycleError" not in text, text
        lines = json_lines(path)  # every line, to the last, is a JSON object
        for line in lines:
            assert {"time", "level", "event", "message"} <= set(line), line
            datetime.fromisoformat(line["time"])
        joined = [x for x in lines if x["event"] == "peer_joined"]
        other = ids["mill" if name == "farm" else "farm"]
        assert joined and joined[0]["peer"] == other and joined[0]["level"] == "info"
        assert lines[-1]["event"] == "node_stopped"
    caught_up = [x for x in json_lines(logs["farm"]) if x["event"] == "publish_caught_up"]
    assert caught_up[0]["published"] >= 1


def test_text_log_at_warning_hides_info_events(tmp_path: Path) -> None:
    home = tmp_path / "farm"
    cli(home, "init", "--name", "farm")
    cli(home, "network", "create", "valley", "--out", str(tmp_path / "v.network.json"))
    node = NodeProcess(home, extra=["--log-level", "warning"])
    assert node.stop() == 0
    assert (tmp_path / "farm.log").read_text() == ""


def test_a_bad_log_level_is_a_usage_error(tmp_path: Path) -> None:
    proc = cli(tmp_path / "farm", "run", "--log-level", "loud", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
