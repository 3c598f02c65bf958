"""Unlock once: the passphrase is typed when the node starts, and while it runs every write
goes through it (real homes, real `coledger run` processes). Checked here:
- writes with no passphrase at hand succeed through the running node, and land in the home;
- a broken rule fails with the same one line (the rule's name, kind "rejected") through the
  node as on the home, and writes nothing;
- without a node, a write still needs the passphrase (the behaviour of before);
- the node's socket is its user's alone (0600, owned by it; a socket others could reach
  is refused); every write of the Client protocol is routed through the node;
- `run --passphrase-fd N` and `--passphrase-file FILE`;
- `passphrase change`: the new one opens the key, the old one no longer; a crash before the
  rename leaves the old key file whole; a running node keeps writing meanwhile.
"""

from __future__ import annotations

import inspect
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.processes import PASS, ROOT, NodeProcess, cli, env


def locked(home: Path, *args: str, extra_env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    """`coledger --json ARGS` with no passphrase at hand (none in the environment, no
    terminal to ask): only a running node can sign for it."""
    e = {k: v for k, v in env().items() if k != "COLEDGER_PASSPHRASE"}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "--json", *args],
        capture_output=True, text=True, env={**e, **(extra_env or {})}, timeout=120,
        stdin=subprocess.DEVNULL, cwd=home.parent)


def ok(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert proc.returncode == 0, proc.stderr
    answer: dict[str, object] = json.loads(proc.stdout)
    return answer


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home that created its network."""
    h = tmp_path / "coop"
    cli(h, "init", "--name", "Valley Coop")
    cli(h, "network", "create", "valley")
    return h


def test_without_a_node_a_write_still_needs_the_passphrase(home: Path) -> None:
    proc = locked(home, "spec", "create", "wheat", "--unit", "kg")
    assert proc.returncode == 1
    assert "no passphrase" in json.loads(proc.stderr)["error"]


def test_writes_go_through_the_running_node_with_no_passphrase(home: Path) -> None:
    node = NodeProcess(home)
    try:
        before = len(cli(home, "chain", "show"))
        spec = ok(locked(home, "spec", "create", "wheat", "--unit", "kg"))["address"]
        growing = ok(locked(home, "process", "create", "growing"))["address"]
        made = ok(locked(home, "record", "produce", "--resource", "new:wheat",
                         "--conforms-to", str(spec), "--quantity", "100 kg",
                         "--output-of", str(growing)))
        place = ok(locked(home, "place", "create", "barn"))["address"]
        offer = ok(locked(home, "offer", "--spec", str(spec), "--quantity", "10 kg"))
        ok(locked(home, "process", "finish", str(growing)))
        inventory = ok(locked(home, "inventory"))
        assert [r["onhandQuantity"]["hasNumericalValue"] for r in inventory] == ["100"]
        status = node.status()
        assert status["agent_id"] == node.agent_id
    finally:
        assert node.stop() == 0
    shown = {r["address"] for r in cli(home, "chain", "show")}
    assert {str(spec), str(growing), made["address"], str(place)} <= shown
    assert offer["proposal"] in shown
    assert len(shown) > before + 5


BROKEN = ["record", "produce", "--resource", "new:wheat", "--quantity", "-5 kg"]


def test_a_broken_rule_fails_alike_through_the_node_and_on_the_home(home: Path) -> None:
    growing = cli(home, "process", "create", "growing")["address"]
    args = [*BROKEN, "--output-of", growing]
    node = NodeProcess(home)
    try:
        length = len(cli(home, "chain", "show"))
        through = locked(home, *args)
        assert through.returncode == 1
        assert len(cli(home, "chain", "show")) == length
    finally:
        assert node.stop() == 0
    alone = cli(home, *args, check=False)
    assert alone.returncode == 1
    error = json.loads(through.stderr)
    assert error == json.loads(alone.stderr)  # the same line, the same kind
    assert error["kind"] == "rejected" and "check_quantity_sign" in error["error"]


def test_the_socket_is_private_to_the_homes_user(home: Path) -> None:
    node = NodeProcess(home)
    try:
        st = os.stat(home / "node.sock")
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.getuid()
        assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    finally:
        node.stop()


def test_a_socket_others_could_reach_is_refused(tmp_path: Path) -> None:
    from node.core.errors import LocalError
    from node.runtime.rpc import _check_private

    path = tmp_path / "node.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
        os.chmod(path, 0o666)
        with pytest.raises(LocalError, match="not private"):
            _check_private(path)
        assert not path.exists()
        sock2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock2.bind(str(path))
        os.chmod(path, 0o600)
        _check_private(path)  # its user's alone: served
        sock2.close()


READS_AND_NODE_OPS = {
    "recipes", "plan_status", "get", "get_many", "inventory", "surplus", "flows", "gather",
    "commitments", "chains", "status", "peers", "sync", "countersign", "agree", "agreements",
    "session", "sessions", "accept", "decline", "recover", "links", "proposals",
    "events", "things", "whoami", "connect",  # (events keeps its index, not the chain)
}
"""The Client's methods that write nothing on the home (or that the node does already)."""


def test_every_write_of_the_client_goes_through_the_node() -> None:
    from node.api import Client
    from node.client import LocalClient
    from node.client_socket import SocketClient
    from node.client_writes import NodeWrites
    from node.in_node_writes import WRITES, InNodeWrites

    protocol = {n for n, v in vars(Client).items() if inspect.isfunction(v)
                and not n.startswith("_")}
    assert set(WRITES) | READS_AND_NODE_OPS == protocol  # a new method: say which it is
    assert not set(WRITES) & READS_AND_NODE_OPS
    for name in WRITES:
        assert hasattr(InNodeWrites, name), name
        if name == "plan_from_recipe":  # (reads the network here, writes in the node)
            assert SocketClient._plan is NodeWrites._plan
            continue
        assert getattr(SocketClient, name) is getattr(NodeWrites, name), name
        assert getattr(LocalClient, name) is not getattr(NodeWrites, name), name


def started(home: Path, extra: list[str], **popen: object) -> subprocess.Popen[str]:
    """`coledger run` with no passphrase in its environment; its first output read."""
    e = {k: v for k, v in env().items() if k != "COLEDGER_PASSPHRASE"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "--json", "run",
         "--listen", "/ip4/127.0.0.1/tcp/0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env=e, **popen)  # type: ignore[call-overload]
    return proc


def stop(proc: subprocess.Popen[str]) -> int:
    proc.terminate()
    return proc.wait(timeout=30)


def wait_started(proc: subprocess.Popen[str]) -> dict[str, object]:
    lines = []
    assert proc.stdout is not None
    while line := proc.stdout.readline():
        lines.append(line)
        try:
            return json.loads("".join(lines))  # type: ignore[no-any-return]
        except ValueError:
            continue
    raise AssertionError(f"did not start: {proc.stderr.read() if proc.stderr else ''}")


def test_run_takes_the_passphrase_from_a_descriptor(home: Path) -> None:
    read, write = os.pipe()
    os.write(write, PASS.encode() + b"\n")
    os.close(write)
    proc = started(home, ["--passphrase-fd", str(read)], pass_fds=(read,))
    os.close(read)
    try:
        wait_started(proc)
        ok(locked(home, "spec", "create", "wheat", "--unit", "kg"))
    finally:
        assert stop(proc) == 0


def test_run_takes_the_passphrase_from_a_file(home: Path) -> None:
    secret = home.parent / "passphrase"
    secret.write_text(PASS + "\n")
    secret.chmod(0o600)
    proc = started(home, ["--passphrase-file", str(secret)])
    try:
        wait_started(proc)
        ok(locked(home, "spec", "create", "wheat", "--unit", "kg"))
    finally:
        assert stop(proc) == 0
    secret.write_text("not it\n")
    wrong = started(home, ["--passphrase-file", str(secret)])
    assert wrong.wait(timeout=60) == 1
    assert "wrong passphrase" in json.loads(wrong.stderr.read())["error"]  # type: ignore[union-attr]


def test_passphrase_change_reencrypts_the_key(home: Path) -> None:
    changed = locked(
        home, "passphrase", "change",
        extra_env={"COLEDGER_PASSPHRASE": PASS, "COLEDGER_NEW_PASSPHRASE": "new words"})
    assert ok(changed)["changed"] is True
    old = cli(home, "spec", "create", "wheat", "--unit", "kg", check=False)
    assert old.returncode == 1 and "wrong passphrase" in old.stderr
    new = locked(home, "spec", "create", "wheat", "--unit", "kg",
                 extra_env={"COLEDGER_PASSPHRASE": "new words"})
    ok(new)
    wrong = locked(home, "passphrase", "change",
                   extra_env={"COLEDGER_PASSPHRASE": PASS, "COLEDGER_NEW_PASSPHRASE": "x"})
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr


def test_a_crash_before_the_rename_leaves_the_old_key_file(home: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from node.api import change_passphrase
    from node.store import keyfile

    before = (home / "agent.key").read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("power lost")

    monkeypatch.setattr(keyfile.os, "replace", crash)
    with pytest.raises(OSError, match="power lost"):
        change_passphrase(home, PASS, "new words")
    monkeypatch.undo()
    assert (home / "agent.key").read_bytes() == before
    key = keyfile.read_key_file(home / "agent.key", PASS)  # the old passphrase opens it
    assert str(key.agent_id) == cli(home, "chain", "show")[0]["action"]["author"]


def test_a_running_node_keeps_writing_after_a_change(home: Path) -> None:
    node = NodeProcess(home)
    try:
        ok(locked(home, "passphrase", "change",
                  extra_env={"COLEDGER_PASSPHRASE": PASS, "COLEDGER_NEW_PASSPHRASE": "new"}))
        ok(locked(home, "spec", "create", "wheat", "--unit", "kg"))
    finally:
        assert node.stop() == 0
    restarted = NodeProcess(home, environment={"COLEDGER_PASSPHRASE": "new"})
    restarted.stop()
