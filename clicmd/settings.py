"""The settings of `coledger run` and friends, and where each value comes from: a flag, then
an environment variable, then the home's config.toml, then the default (flag > env >
config > default). The table SETTINGS names each key, its check and its flag; no setting
has an environment variable today ($COLEDGER_HOME chooses the home, and so its config).

Every value of config.toml is checked before use: an unknown key, a wrong type or a bad
address is one line naming the key (LocalError, exit 1).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from clicmd.common import OPTS, interval, listen_addr, peer_addr
from node.core.dna import DEFAULT_REDUNDANCY
from node.core.errors import AddressError, CoreError, LocalError
from node.core.identity import AgentId
from node.store.config_file import config_path, read_config, set_config_value

DEFAULT_LISTEN: Final = "/ip4/0.0.0.0/tcp/0"
DEFAULT_HTTP: Final = "127.0.0.1:8420"


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_shown(value)}")
    return value


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {_shown(value)}")
    return list(value)


def _shown(value: object) -> str:
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    return f"{kind} ({value!r})" if not isinstance(value, dict | list) else kind


def _argtype(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type as a config check: its ArgumentTypeError as a ValueError."""

    def checked(text: str) -> Any:
        try:
            return check(text)
        except argparse.ArgumentTypeError as e:
            raise ValueError(str(e)) from None

    return checked


def check_listen(value: object) -> str:
    """A multiaddr to listen on, /ip4|ip6/ADDRESS/tcp/PORT."""
    return str(_argtype(listen_addr)(_string(value)))


def check_bootstrap(value: object) -> list[str]:
    """Members' multiaddrs, each ending in /p2p/<agent id>, none twice."""
    addresses = _strings(value)
    for i, address in enumerate(addresses):
        try:
            _argtype(peer_addr)(address)
        except ValueError as e:
            raise ValueError(f"item {i + 1}: {e}") from None
    return list(dict.fromkeys(addresses))


def check_gossip_interval(value: object) -> float:
    """Seconds between gossip rounds, (0, 3600]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number of seconds, got {_shown(value)}")
    return float(_argtype(interval)(str(value)))


def check_agents(value: object) -> list[str]:
    """Agent ids (12D3KooW...)."""
    agents = _strings(value)
    for agent in agents:
        try:
            AgentId.parse(agent)
        except AddressError as e:
            raise ValueError(str(e)) from None
    return agents


def _one_of(*choices: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = _string(value)
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return check


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def check_http(value: object) -> str:
    """HOST:PORT for the HTTP API ([IPv6]:PORT for an IPv6 address)."""
    text = _string(value)
    host, sep, port = text.rpartition(":")
    ipv6 = host.startswith("[") and host.endswith("]")
    if ipv6:
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{text!r}: {host} is not an IPv6 address") from None
    if not sep or not (ipv6 or _HOST.fullmatch(host)):
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. {DEFAULT_HTTP})")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: the port is a number from 0 to 65535")
    return text


def check_redundancy(value: object) -> int:
    """How many authorities hold each piece of data, 1 to 100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise ValueError(f"expected a whole number from 1 to 100, got {_shown(value)}")
    return value


@dataclass(frozen=True, slots=True)
class Setting:
    """One key of config.toml: its check, its default, the flag that overrides it (its
    argparse dest and its text) and what it is for."""

    key: str
    check: Callable[[object], Any]
    default: Any
    flag: str | None
    used_by: str


SETTINGS: Final = (
    Setting("listen", check_listen, DEFAULT_LISTEN, "--listen", "run: where to listen"),
    Setting("bootstrap", check_bootstrap, [], "--bootstrap",
            "run: members' addresses to join through"),
    Setting("gossip_interval", check_gossip_interval, 2.0, "--gossip-interval",
            "run: seconds between gossip rounds"),
    Setting("auto_accept_from", check_agents, [], "--auto-accept-from",
            "run: agents whose countersigned transfers are accepted without asking"),
    Setting("log_level", _one_of("debug", "info", "warning", "error"), "info", "--log-level",
            "run: the least level of the log lines"),
    Setting("log_format", _one_of("text", "json"), "text", "--log-format",
            "run: text, or json lines"),
    Setting("http", check_http, DEFAULT_HTTP, "--http",
            "run: the HTTP API's and dashboard's address (--no-http: none)"),
    Setting("redundancy", check_redundancy, DEFAULT_REDUNDANCY, None,
            "network create: the redundancy property (--property redundancy=N wins)"),
)
BY_KEY: Final = {s.key: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Value:
    """A setting's effective value and where it came from (`flag --x`, `env X`, `config`,
    `default`)."""

    value: Any
    source: str


def check_config(doc: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """The file's values, checked; LocalError naming the first bad key."""
    checked = {}
    for key, raw in doc.items():
        setting = BY_KEY.get(key)
        if setting is None:
            raise LocalError(f"{path}: unknown key {key!r} (known: {', '.join(BY_KEY)})")
        try:
            checked[key] = setting.check(raw)
        except ValueError as e:
            raise LocalError(f"{path}: {key}: {e}") from None
    return checked


def load_config(home: Path) -> dict[str, Any]:
    """The home's config.toml, checked ({} when there is none)."""
    path = config_path(home)
    return check_config(read_config(path), path)


def effective(home: Path, flags: Mapping[str, Any] | None = None) -> dict[str, Value]:
    """Every setting's value and source. `flags` maps keys to what the command line gave
    (None or absent: not given). No setting has an environment variable today (the
    environment chooses the home, $COLEDGER_HOME, and so the config file)."""
    config = load_config(home)
    out = {}
    for s in SETTINGS:
        given = (flags or {}).get(s.key)
        if given is not None:
            out[s.key] = Value(given, f"flag {s.flag}")
        elif s.key in config:
            out[s.key] = Value(config[s.key], "config")
        else:
            out[s.key] = Value(s.default, "default")
    return out


def home_source(given: Path | None) -> str:
    """Where the home came from: --home, $COLEDGER_HOME or the default."""
    if given is not None:
        return "flag --home"
    return "env COLEDGER_HOME" if os.environ.get("COLEDGER_HOME") else "default"


def run_settings(a: argparse.Namespace) -> dict[str, Value]:
    """`coledger run`'s settings: its flags (None when not given) over the config file."""
    flags = {"listen": a.listen, "bootstrap": a.bootstrap, "gossip_interval": a.gossip_interval,
             "auto_accept_from": a.auto_accept_from, "log_level": a.log_level,
             "log_format": a.log_format, "http": a.http}
    return effective(OPTS.home, flags)


_PORT_ZERO = re.compile(r"^(/ip[46]/[^/]+/tcp/)0$")


def keep_listen_port(home: Path, listen: Value, addresses: list[str],
                     log: logging.Logger) -> None:
    """On a run listening on the default port 0, write the port the node got into
    config.toml's `listen`, so that the next runs (and the members' bootstrap lists) keep
    it. A port 0 the person chose (a flag, or the config file) is left as chosen."""
    zero = _PORT_ZERO.match(listen.value)
    port = next((m.group(1) for a in addresses if (m := re.search(r"/tcp/(\d+)", a))), None)
    if listen.source != "default" or zero is None or port is None or port == "0":
        return
    kept = f"{zero.group(1)}{port}"
    try:
        set_config_value(config_path(home), "listen", kept)
    except (OSError, CoreError) as e:
        log.warning("could not keep the listen port %s in %s: %s", port, config_path(home), e)
        return
    log.info("listen port %s kept in %s", port, config_path(home))
