"""Two real `coledger run` processes on one fixed port: the second refuses, in one line
and with a non-zero exit, instead of sharing the port (libp2p's SO_REUSEPORT) or running
on without a listener."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.processes import ROOT, NodeProcess, cli, env

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_second_node_on_a_taken_port_refuses(tmp_path: Path) -> None:
    homes = [tmp_path / "first", tmp_path / "second"]
    for home in homes:  # two agents, each the progenitor of its own network
        cli(home, "init", "--name", home.name)
        cli(home, "network", "create", home.name, "--out", str(tmp_path / f"{home.name}.json"))
    listen = f"/ip4/127.0.0.1/tcp/{free_port()}"
    first = NodeProcess(homes[0], listen=listen)
    try:
        assert first.address.startswith(listen + "/p2p/")
        second = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--home", str(homes[1]), "run",
             "--listen", listen, "--no-http"],
            capture_output=True, text=True, env=env(), timeout=30,
        )
        assert second.returncode == 1, second.stdout + second.stderr
        assert second.stdout == ""  # it printed no address: it never listened
        errors = [line for line in second.stderr.splitlines() if "error" in line.lower()]
        assert errors == [f"coledger: error: address in use: {listen} (is another node running?)"]
        assert "Traceback" not in second.stderr
        assert first.proc.poll() is None  # the first node runs on, still listening
        assert first.status()["listen"] == first.info["listen"]
    finally:
        first.stop()
