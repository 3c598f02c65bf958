"""Commands on the home's config file: config show (the effective settings and where each
came from), peers add (a member's address kept in the bootstrap list). The settings are
imported by the commands that read them: every other command pays nothing for them."""

from __future__ import annotations

import argparse
import json

from clicmd.common import OPTS, aligned, arg, client, command, emit, peer_addr
from node.core.errors import NotFound
from node.core.refusals import NoNode


@command("config show")
def cmd_config_show(a: argparse.Namespace) -> None:
    """The effective settings of `coledger run` and friends, and where each came from:
    a flag, the environment, the home's config.toml or the default. A bad config.toml is
    one line naming the key, and exit 1."""
    from clicmd.settings import effective, home_source
    from node.store.config_file import config_path

    values = effective(OPTS.home)
    path = config_path(OPTS.home)
    data = {"home": {"value": str(OPTS.home), "source": home_source(a.home)},
            "file": str(path), "file_exists": path.exists(),
            "settings": {key: {"value": v.value, "source": v.source}
                         for key, v in values.items()}}
    rows = [("KEY", "VALUE", "SOURCE"), ("home", str(OPTS.home), home_source(a.home))]
    rows += [(key, _shown(v.value), v.source) for key, v in values.items()]
    note = "" if path.exists() else " (none yet: every value is its default)"
    emit(data, "\n".join(aligned(rows)) + f"\nconfig file: {path}{note}")


def _shown(value: object) -> str:
    """A value in a table cell: a string as it is, a list as TOML writes it."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


@command("peers add",
         arg("multiaddr", type=peer_addr,
             help="a member's address, /ip4/ADDRESS/tcp/PORT/p2p/AGENT_ID"))
def cmd_peers_add(a: argparse.Namespace) -> None:
    """Keep a member's address in config.toml's bootstrap list (once), and connect to it
    now when the node runs."""
    from clicmd.settings import load_config
    from node.store.config_file import config_path, set_config_value

    path = config_path(OPTS.home)
    if not OPTS.home.is_dir():
        raise NotFound(f"no home at {OPTS.home}: run `coledger init` first")
    bootstrap = load_config(OPTS.home).get("bootstrap", [])
    added = a.multiaddr not in bootstrap
    if added:
        set_config_value(path, "bootstrap", [*bootstrap, a.multiaddr])
    try:
        connected = client().connect(a.multiaddr)["agent_id"]
        running = True
    except NoNode:
        connected, running = None, False
    kept = f"added to {path}" if added else f"already in {path}"
    now = ("connected to " + connected if connected else
           "could not connect now (see the node's log); the node tries it at each start"
           if running else "the node is not running: it joins through it at its next start")
    emit({"multiaddr": a.multiaddr, "added": added, "file": str(path), "node_running": running,
          "connected": connected}, f"{kept}\n{now}")
