"""`coledger config show`, `peers add` without a node, `network create`'s redundancy from the
config, and a bad config.toml refused in one line naming the key: on real homes, in-process."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.cli_home import CliHome

AGENT = "12D3KooWSH2FcASFutTC7QsuyB6qNmXUxSQrWKVVKJWFAuJiPezq"
PEER = f"/ip4/192.0.2.7/tcp/4001/p2p/{AGENT}"


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> CliHome:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", "config test")
    monkeypatch.chdir(tmp_path)
    h = CliHome(tmp_path / "home", capsys)
    h("init", "--name", "mill")
    return h


def test_config_show_says_where_each_value_came_from(home: CliHome) -> None:
    shown = home("config", "show")
    assert shown["home"] == {"value": str(home.home), "source": "flag --home"}
    assert shown["file_exists"] is False
    assert {k: v["source"] for k, v in shown["settings"].items()} == dict.fromkeys(
        ("listen", "bootstrap", "gossip_interval", "auto_accept_from", "log_level",
         "log_format", "http", "redundancy"), "default")
    assert shown["settings"]["http"]["value"] == "127.0.0.1:8420"
    (home.home / "config.toml").write_text('log_level = "debug"\nhttp = "0.0.0.0:8080"\n')
    shown = home("config", "show")["settings"]
    assert shown["log_level"] == {"value": "debug", "source": "config"}
    assert shown["http"] == {"value": "0.0.0.0:8080", "source": "config"}
    text = home.text("config", "show").splitlines()
    assert text[0].split() == ["KEY", "VALUE", "SOURCE"]
    assert ["log_level", "debug", "config"] in [line.split() for line in text]


def test_the_home_from_the_environment_is_said(home: CliHome, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import cli

    monkeypatch.setenv("COLEDGER_HOME", str(home.home))
    capsys.readouterr()
    cli.main(["--json", "config", "show"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["home"] == {"value": str(home.home), "source": "env COLEDGER_HOME"}


@pytest.mark.parametrize("text, says", [
    ('log_levle = "debug"\n', "unknown key 'log_levle'"),
    ("gossip_interval = \"fast\"\n", "gossip_interval: expected a number of seconds"),
    ('bootstrap = ["/ip4/10.0.0.1/tcp/4001"]\n', "bootstrap: item 1: "),
    ('listen = "/ip4/0.0.0.0/tcp/4001"\nlisten = "x"\n', "not valid TOML"),
])
def test_a_bad_config_is_one_line_naming_the_key_and_run_refuses_it(
        home: CliHome, text: str, says: str) -> None:
    (home.home / "config.toml").write_text(text)
    for command in (("config", "show"), ("run",), ("peers", "add", PEER)):
        error = home.fails(*command)
        assert says in error and "config.toml" in error, (command, error)


def test_peers_add_keeps_the_address_once_and_the_file_s_comments(home: CliHome) -> None:
    config = home.home / "config.toml"
    config.write_text('# the mill\'s node\nlog_level = "info"\n')
    added = home("peers", "add", PEER)
    assert added["added"] is True and added["node_running"] is False
    again = home("peers", "add", PEER)
    assert again["added"] is False
    other = PEER.replace("192.0.2.7", "192.0.2.8")
    assert "added to" in home.text("peers", "add", other)
    assert tomllib.loads(config.read_text()) == {"log_level": "info", "bootstrap": [PEER, other]}
    assert config.read_text().startswith("# the mill's node\n")
    shown = home("config", "show")["settings"]["bootstrap"]
    assert shown == {"value": [PEER, other], "source": "config"}


def test_peers_add_refuses_an_address_without_its_agent(home: CliHome) -> None:
    error = home.fails("peers", "add", "/ip4/192.0.2.7/tcp/4001")
    assert "/p2p/AGENT_ID" in error
    assert not (home.home / "config.toml").exists()


def test_peers_alone_still_asks_the_node(home: CliHome) -> None:
    assert "no node is running" in home.fails("peers")


def test_network_create_takes_the_config_s_redundancy_unless_a_property_gives_it(
        home: CliHome, tmp_path: Path) -> None:
    (home.home / "config.toml").write_text("redundancy = 3\n")
    home("network", "create", "valley", "--out", str(tmp_path / "valley.json"))
    dna = json.loads((tmp_path / "valley.json").read_text())["dna"]
    assert dna["properties"]["redundancy"] == "3"
    other = CliHome(tmp_path / "other", home.capsys)
    other("init")
    (other.home / "config.toml").write_text("redundancy = 3\n")
    other("network", "create", "hill", "--property", "redundancy=7", "--out",
          str(tmp_path / "hill.json"))
    dna = json.loads((tmp_path / "hill.json").read_text())["dna"]
    assert dna["properties"]["redundancy"] == "7"


def test_run_serves_http_where_the_config_says(home: CliHome, tmp_path: Path) -> None:
    """A taken port in config.toml's `http` stops `run` before its node starts, naming it."""
    import socket
    import subprocess
    import sys

    from tests.integration.processes import ROOT, env

    home("network", "create", "valley", "--out", str(tmp_path / "valley.json"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        (home.home / "config.toml").write_text(f'http = "127.0.0.1:{port}"\n')
        run = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--home", str(home.home),
                              "run", "--listen", "/ip4/127.0.0.1/tcp/0"],
                             capture_output=True, text=True, env=env(), timeout=60)
    assert run.returncode == 1 and run.stdout == ""
    assert f"HTTP address in use: 127.0.0.1:{port}" in run.stderr
