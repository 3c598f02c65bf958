"""Real `coledger run` processes on 127.0.0.1 for multi-node tests (public test helper)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PASS = "process test"


def env() -> dict[str, str]:
    e = dict(os.environ, COLEDGER_PASSPHRASE=PASS, PYTHONUNBUFFERED="1")
    e.pop("COLEDGER_HOME", None)
    return e


def cli(home: Path, *args: str, check: bool = True, timeout: float = 120) -> Any:
    """Run one command with --json; its parsed output (or the process when check=False)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "--json", *args],
        capture_output=True, text=True, env=env(), timeout=timeout, cwd=home.parent,
    )
    if not check:
        return proc
    if proc.returncode != 0:
        raise AssertionError(f"coledger {' '.join(args)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


class NodeProcess:
    """A `coledger run` child process; `address` is its first listen multiaddr; `http`, the
    URL it serves HTTP on (None: `--no-http`, the default, so that nodes share no port)."""

    def __init__(self, home: Path, bootstrap: Sequence[str] = (), gossip: float = 0.5,
                 extra: Sequence[str] = (), environment: dict[str, str] | None = None,
                 listen: str = "/ip4/127.0.0.1/tcp/0", netns: str | None = None,
                 http: str | None = None) -> None:
        self.home = home
        inside = ["ip", "netns", "exec", netns] if netns else []  # (tests/integration/netns.py)
        args = [*inside, sys.executable, str(ROOT / "cli.py"), "--home", str(home), "--json",
                "run", "--listen", listen, "--gossip-interval", str(gossip)]
        for b in bootstrap:
            args += ["--bootstrap", b]
        args += ["--no-http"] if http is None else ["--http", http]
        args += list(extra)
        self.log = open(home.parent / f"{home.name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**env(), **(environment or {})})
        assert self.proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            try:
                info = json.loads("".join(lines))
                break
            except ValueError:
                continue
        else:
            raise AssertionError(f"{home.name} did not start")
        if self.proc.poll() is not None:
            raise AssertionError(
                f"{home.name} exited: {(home.parent / f'{home.name}.log').read_text()}"
            )
        self.info = info
        self.address = info["listen"][0]
        self.agent_id = info["agent_id"]
        self.http: str | None = info.get("http")

    def status(self) -> Any:
        return cli(self.home, "status")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        return self.proc.returncode

    def wait_exit(self, timeout: float = 30) -> int:
        """Wait for the process to end by itself (e.g. at a failpoint); its exit code."""
        code = self.proc.wait(timeout=timeout)
        self.log.close()
        (self.home / "node.sock").unlink(missing_ok=True)
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()
        (self.home / "node.sock").unlink(missing_ok=True)


def cli_background(home: Path, *args: str) -> subprocess.Popen[str]:
    """Start one command with --json and return at once (for commands that wait)."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "--json", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=home.parent,
    )


def cooperatives(
    root: Path, names: list[str], auto_accept: dict[str, list[str]] | None = None,
    where: dict[str, tuple[str, str]] | None = None, gossip: float = 0.5,
) -> tuple[dict[str, Path], dict[str, str], dict[str, NodeProcess]]:
    """Homes for `names` (the first creates the network "valley", redundancy 3, and invites
    the rest) and a running node for each, bootstrapped through the first; `auto_accept`
    names, per cooperative, whose countersigning proposals it accepts without asking;
    `where` puts a cooperative's node in a network namespace: (namespace, listen);
    `gossip`, each node's gossip interval in seconds."""
    homes = {name: root / name for name in names}
    ids = {name: cli(home, "init", "--name", name)["agent_id"] for name, home in homes.items()}
    first = names[0]
    cli(homes[first], "network", "create", "valley", "--property", "redundancy=3",
        "--out", str(root / "valley.network.json"))
    for name in names[1:]:
        token = cli(homes[first], "invite", ids[name])["token"]
        cli(homes[name], "join", str(root / "valley.network.json"), "--invite", token)
    nodes: dict[str, NodeProcess] = {}
    for name in names:
        extra = [
            x
            for other in (auto_accept or {}).get(name, [])
            for x in ("--auto-accept-from", ids[other])
        ]
        netns, listen = (where or {}).get(name, (None, "/ip4/127.0.0.1/tcp/0"))
        nodes[name] = NodeProcess(
            homes[name], bootstrap=[nodes[first].address] if nodes else [], extra=extra,
            listen=listen, netns=netns, gossip=gossip,
        )
    return homes, ids, nodes


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as e:  # a node restarting: try again until the deadline
            last = e
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}" + (f" ({last})" if last else ""))
