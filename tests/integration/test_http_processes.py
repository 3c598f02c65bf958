"""A real `coledger run` serving HTTP on 127.0.0.1, asked over real HTTP (httpx): nothing
without the token, the login cookie, CSRF, another origin refused, the token file, and
the front door reached from the node's own process; `--no-http`; a port in use."""

from __future__ import annotations

import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.integration.processes import ROOT, NodeProcess, cli, env

pytestmark = pytest.mark.slow


def make_home(tmp_path: Path, name: str = "farm") -> Path:
    home = tmp_path / name
    cli(home, "init", "--name", name)
    cli(home, "network", "create", name, "--out", str(tmp_path / f"{name}.network.json"))
    return home


@pytest.fixture
def served(tmp_path: Path) -> Iterator[NodeProcess]:
    node = NodeProcess(make_home(tmp_path), http="127.0.0.1:0")
    try:
        yield node
    finally:
        assert node.stop() == 0  # SIGTERM stops the HTTP server with the node, cleanly
    assert "Traceback" not in (tmp_path / "farm.log").read_text()


def test_the_node_serves_http_behind_its_token(served: NodeProcess) -> None:
    url = served.http
    assert url is not None and re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    log = (served.home.parent / "farm.log").read_text()
    assert f"serving HTTP on {url} (this machine only)" in log
    token_file = served.home / "http-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = cli(served.home, "http-token")["token"]
    assert token == token_file.read_text().strip()
    text = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--home", str(served.home),
                           "http-token"], capture_output=True, text=True, env=env(), timeout=60)
    assert text.stdout.strip() == token
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/api/status").status_code == 401
        assert http.get("/api/status", headers={"Authorization": "Bearer nope"}).status_code == 401
        status = http.get("/api/status", headers={"Authorization": f"Bearer {token}"})
        assert status.status_code == 200  # through the door, from the node's own process
        assert status.json()["agent_id"] == served.agent_id
        assert status.headers["x-frame-options"] == "DENY"
        assert token not in status.text


def test_login_cookie_csrf_and_origin(served: NodeProcess) -> None:
    url = served.http
    assert url is not None
    token = cli(served.home, "http-token")["token"]
    with httpx.Client(base_url=url, timeout=30) as http:
        done = http.post("/login", data={"token": token}, headers={"Origin": url})
        assert done.status_code == 303
        cookie = done.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and token not in cookie
        page = http.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200 and token not in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        assert http.post("/logout", headers={"Origin": url}).status_code == 403  # no CSRF
        evil = http.post("/logout", data={"csrf_token": csrf.group(1)},
                         headers={"Origin": "http://evil.example"})
        assert evil.status_code == 403
        assert http.get("/api/status", headers={"Authorization": f"Bearer {token}",
                                                "Origin": "http://evil.example"}).status_code == 403
        assert http.get("/api/status").status_code == 200  # still logged in
        out = http.post("/logout", data={"csrf_token": csrf.group(1)}, headers={"Origin": url})
        assert out.status_code == 303
        assert http.get("/api/status").status_code == 401


def test_no_http_serves_nothing(tmp_path: Path) -> None:
    node = NodeProcess(make_home(tmp_path))  # (NodeProcess passes --no-http by default)
    try:
        assert node.http is None
        listening = {c.laddr.port for c in psutil.Process(node.proc.pid).net_connections("tcp")
                     if c.status == psutil.CONN_LISTEN}
        libp2p = {int(a.split("/tcp/")[1].split("/")[0]) for a in node.info["listen"]}
        assert listening == libp2p
        assert "serving HTTP" not in (tmp_path / "farm.log").read_text()
    finally:
        node.stop()


def test_an_http_port_in_use_is_one_line(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--home", str(home), "run",
             "--listen", "/ip4/127.0.0.1/tcp/0", "--http", f"127.0.0.1:{port}"],
            capture_output=True, text=True, env=env(), timeout=60,
        )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (f"coledger: error: HTTP address in use: 127.0.0.1:{port} "
                                   "(is another node running?)")
    assert not (home / "node.sock").exists()
