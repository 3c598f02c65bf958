"""The home's config.toml: keys set by editing its text (comments and other keys kept), its
values checked (one line naming the key), and the precedence flag > config > default."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clicmd.settings import BY_KEY, SETTINGS, check_config, check_http, effective, run_settings
from node.core.errors import LocalError
from node.store.config_file import read_config, set_config_value, toml_value

AGENT = "12D3KooWSH2FcASFutTC7QsuyB6qNmXUxSQrWKVVKJWFAuJiPezq"
PEER = f"/ip4/192.0.2.7/tcp/4001/p2p/{AGENT}"


def test_setting_a_key_keeps_comments_tables_and_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# our node\nlog_level = "debug"  # while we test\n'
                    'bootstrap = [\n  # the mill\n  "a",\n  "b",\n]\n'
                    'gossip_interval = 3\n\n[later]\nx = 1\n')
    set_config_value(path, "bootstrap", ["a", "b", "c"])
    set_config_value(path, "listen", "/ip4/0.0.0.0/tcp/4001")
    text = path.read_text()
    assert text.startswith("# our node\n")
    assert tomllib.loads(text) == {"log_level": "debug", "bootstrap": ["a", "b", "c"],
                                   "gossip_interval": 3, "listen": "/ip4/0.0.0.0/tcp/4001",
                                   "later": {"x": 1}}
    assert text.count("bootstrap") == 1 and "# the mill" not in text  # the old list is gone


def test_a_new_file_is_made_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    set_config_value(path, "listen", "/ip4/0.0.0.0/tcp/4001")
    assert read_config(path) == {"listen": "/ip4/0.0.0.0/tcp/4001"}
    assert read_config(tmp_path / "none.toml") == {}


@given(st.lists(st.text(max_size=20), max_size=5))
def test_any_string_list_reads_back_as_written(values: list[str]) -> None:
    assert tomllib.loads(f"k = {toml_value(values)}\n") == {"k": values}


def test_a_file_that_is_not_toml_is_one_line_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('listen = "/ip4/0.0.0.0/tcp/1"\nlog_level = \n')
    with pytest.raises(LocalError, match="not valid TOML.*line 2") as e:
        read_config(path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("doc, message", [
    ({"listne": "/ip4/0.0.0.0/tcp/1"}, "unknown key 'listne'"),
    ({"listen": 4001}, r"listen: expected a string, got a number \(4001\)"),
    ({"listen": "/ip4/0.0.0.0/udp/1"}, "listen: .*listen on /ip4/ADDRESS/tcp/PORT"),
    ({"bootstrap": PEER}, "bootstrap: expected a list of strings"),
    ({"bootstrap": [PEER, "/ip4/1.2.3.4/tcp/1"]}, "bootstrap: item 2: .*/p2p/AGENT_ID"),
    ({"gossip_interval": "2"}, "gossip_interval: expected a number of seconds"),
    ({"gossip_interval": 0}, "gossip_interval: .*more than 0"),
    ({"auto_accept_from": ["nobody"]}, "auto_accept_from: not an agent id"),
    ({"log_level": "loud"}, "log_level: 'loud' is not one of debug, info, warning, error"),
    ({"log_format": True}, "log_format: expected a string, got a boolean"),
    ({"http": "127.0.0.1"}, "http: '127.0.0.1' is not HOST:PORT"),
    ({"http": "127.0.0.1:99999"}, "http: .*port is a number from 0 to 65535"),
    ({"http": "[::x]:80"}, "http: .*not an IPv6 address"),
    ({"redundancy": 0}, "redundancy: expected a whole number from 1 to 100"),
])
def test_a_bad_value_is_one_line_naming_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(LocalError, match=message) as e:
        check_config(doc, Path("config.toml"))
    assert "\n" not in str(e.value) and str(e.value).startswith("config.toml: ")


def test_good_values_pass_and_a_bootstrap_list_loses_its_duplicates() -> None:
    doc = {"listen": "/ip6/::/tcp/4001", "bootstrap": [PEER, PEER], "gossip_interval": 0.5,
           "auto_accept_from": [AGENT], "log_level": "debug", "log_format": "json",
           "http": "[::1]:8420", "redundancy": 3}
    checked = check_config(doc, Path("config.toml"))
    assert checked == dict(doc, bootstrap=[PEER])
    assert [check_http(x) for x in ("localhost:80", "10.0.0.1:0")] == ["localhost:80",
                                                                       "10.0.0.1:0"]


def test_every_default_passes_its_own_check() -> None:
    for s in SETTINGS:
        assert s.check(s.default) == s.default, s.key
    assert BY_KEY["http"].default == "127.0.0.1:8420"


def _run_args(**given: object) -> argparse.Namespace:
    flags = dict.fromkeys(("listen", "bootstrap", "gossip_interval", "auto_accept_from",
                           "log_level", "log_format", "http"))
    return argparse.Namespace(**{**flags, **given})


def test_a_flag_wins_over_the_config_file_which_wins_over_the_default(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from clicmd.common import OPTS

    (tmp_path / "config.toml").write_text('log_level = "debug"\nlog_format = "json"\n')
    monkeypatch.setattr(OPTS, "home", tmp_path)
    s = run_settings(_run_args(log_level="error"))
    assert (s["log_level"].value, s["log_level"].source) == ("error", "flag --log-level")
    assert (s["log_format"].value, s["log_format"].source) == ("json", "config")
    assert (s["listen"].value, s["listen"].source) == ("/ip4/0.0.0.0/tcp/0", "default")
    assert effective(tmp_path)["log_level"].source == "config"
