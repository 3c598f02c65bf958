"""The node as a systemd service: the unit `coledger service install` writes (its keys
checked in any case; `systemd-analyze verify` run on it as well where that exists),
sd_notify over a real datagram socket (READY=1 once a real `coledger run` listens,
STOPPING=1 at SIGTERM), and a clean stop within the unit's TimeoutStopSec: exit 0, the
socket removed.
"""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.service import STOP_TIMEOUT_S, sd_notify
from tests.integration.processes import ROOT, NodeProcess, cli, env


def unit_of(text: str) -> configparser.ConfigParser:
    """A unit's sections and keys (systemd's format is INI-like for these)."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # (keys keep their case)
    parser.read_string(text)
    return parser


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "coop"
    cli(h, "init", "--name", "Valley Coop")
    cli(h, "network", "create", "valley")
    return h


def printed(home: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "service", "install",
         "--print", *args], capture_output=True, text=True, env=env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_user_unit_runs_the_homes_node_restarts_it_and_stops_it(home: Path) -> None:
    unit = unit_of(printed(home, "--credential", str(home.parent / "secret")))
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert int(service["TimeoutStopSec"]) == STOP_TIMEOUT_S
    assert service["LoadCredential"] == f"passphrase:{home.parent / 'secret'}"
    words = service["ExecStart"].split()
    assert words[words.index("--home") + 1] == str(home)
    assert words[-3:] == ["run", "--passphrase-file", "%d/passphrase"]
    assert Path(words[0]).exists()  # an absolute executable
    assert unit["Install"]["WantedBy"] == "default.target"
    assert "User" not in service


def test_a_system_unit_runs_as_its_user_at_boot(home: Path) -> None:
    unit = unit_of(printed(home, "--system", "--run-as", "coop"))
    assert unit["Service"]["User"] == "coop"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert unit["Service"]["LoadCredential"] == "passphrase:/etc/credstore/coledger.passphrase"
    words = unit["Service"]["ExecStart"].split()
    # what the unit runs is a command line coledger's own parser takes (the home's
    # config.toml is the config: there is no other config flag)
    from cli import build_parser

    parsed = build_parser().parse_args(words[words.index("--home"):])
    assert parsed.home == home and parsed.passphrase_file == Path("%d/passphrase")


def test_specifiers_and_variables_in_paths_are_escaped(tmp_path: Path) -> None:
    from clicmd.service import UnitRequest, unit_text

    odd = tmp_path / "50%$HOME"
    unit = unit_of(unit_text(UnitRequest(("/usr/bin/coledger",), odd, odd / "c", False)))
    assert "50%%$$HOME" in unit["Service"]["ExecStart"]
    assert unit["Service"]["LoadCredential"].endswith("50%%$HOME/c")


def test_install_writes_the_unit_and_systemd_accepts_it(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "units" / "coledger.service"
    written = cli(home, "service", "install", "--out", str(out))
    assert written["unit"] == str(out)
    text = out.read_text()
    assert unit_of(text)["Service"]["Type"] == "notify"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # (the unit's keys were checked above; systemd's own check is extra)
        return
    proc = subprocess.run([analyze, "verify", "--man=no", str(out)], capture_output=True,
                          text=True, timeout=60)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if str(out) in line or "coledger.service" in line]  # (a bad key: a warning)
    assert proc.returncode == 0 and not problems, proc.stdout + proc.stderr


def listening(path: Path) -> socket.socket:
    """A datagram socket at `path`, as systemd's NOTIFY_SOCKET is."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(60)
    return sock


def test_sd_notify_sends_one_datagram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with listening(tmp_path / "notify") as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        assert sd_notify("READY=1")
        assert sock.recv(4096) == b"READY=1"
    abstract = f"@coledger-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + abstract[1:])
        monkeypatch.setenv("NOTIFY_SOCKET", abstract)
        assert sd_notify("STOPPING=1")
        assert sock.recv(4096) == b"STOPPING=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not sd_notify("READY=1")  # not under systemd: nothing sent
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert not sd_notify("READY=1")  # the manager gone: no error


def test_the_node_says_ready_then_stops_cleanly_on_sigterm(home: Path, tmp_path: Path) -> None:
    with listening(tmp_path / "notify") as notify:
        node = NodeProcess(home, environment={"NOTIFY_SOCKET": str(tmp_path / "notify")})
        try:
            assert notify.recv(4096) == b"READY=1"  # (sent once it listens and serves)
            assert (home / "node.sock").exists()
            assert cli(home, "status")["agent_id"] == node.agent_id
            start = time.monotonic()
            node.proc.send_signal(signal.SIGTERM)
            assert notify.recv(4096) == b"STOPPING=1"
            code = node.proc.wait(timeout=STOP_TIMEOUT_S)
            took = time.monotonic() - start
        finally:
            node.stop()
    assert code == 0
    assert took < STOP_TIMEOUT_S
    assert not (home / "node.sock").exists()
    log = (home.parent / f"{home.name}.log").read_text()
    assert "node stopped" in log and "Traceback" not in log


def test_a_unit_is_not_written_over_a_directory(home: Path, tmp_path: Path) -> None:
    """`--out` naming a directory (or nothing: the property test found '') is one line."""
    for out in ("", str(tmp_path)):
        result = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "service", "install",
             "--out", out], capture_output=True, text=True, env=env(), timeout=60)
        assert result.returncode != 0 and "internal error" not in result.stderr
        assert "not a directory" in result.stderr and len(result.stderr.splitlines()) == 1
