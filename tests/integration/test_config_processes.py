"""config.toml with real `coledger run` processes: the listen port a first run gets is kept
for the next; `peers add` connects the running node and keeps the address for the next
start; `network file` shares the running members' addresses, and a new member joins
through that file alone; `chain recover` with no node joins through the config's list."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.integration.network_harness import backup, restore
from tests.integration.processes import NodeProcess, cli, cooperatives, wait_until

pytestmark = pytest.mark.slow


def port_of(address: str) -> int:
    parts = address.split("/")
    return int(parts[parts.index("tcp") + 1])


def config(home: Path) -> dict[str, object]:
    return tomllib.loads((home / "config.toml").read_text())


def test_the_listen_port_of_a_first_run_is_kept_for_the_next(tmp_path: Path) -> None:
    home = tmp_path / "mill"
    cli(home, "init", "--name", "mill")
    cli(home, "network", "create", "valley", "--out", str(tmp_path / "valley.json"))
    flagged = NodeProcess(home)  # --listen /ip4/127.0.0.1/tcp/0: chosen, so not kept
    flagged.stop()
    assert not (home / "config.toml").exists()
    first = NodeProcess(home, listen=None)
    port = port_of(first.address)
    assert port != 0 and first.address.startswith("/ip4/0.0.0.0/")
    first.stop()
    assert config(home) == {"listen": f"/ip4/0.0.0.0/tcp/{port}"}
    second = NodeProcess(home, listen=None)
    try:
        assert port_of(second.address) == port
    finally:
        second.stop()
    shown = cli(home, "config", "show")["settings"]["listen"]
    assert shown == {"value": f"/ip4/0.0.0.0/tcp/{port}", "source": "config"}


def test_peers_add_and_the_network_file_bring_members_together(tmp_path: Path) -> None:
    homes = {name: tmp_path / name for name in ("farm", "mill", "bakery")}
    ids = {name: cli(home, "init", "--name", name)["agent_id"] for name, home in homes.items()}
    cli(homes["farm"], "network", "create", "valley", "--out", str(tmp_path / "valley.json"))
    for name in ("mill", "bakery"):
        token = cli(homes["farm"], "invite", ids[name])["token"]
        cli(homes[name], "join", str(tmp_path / "valley.json"), "--invite", token)
    farm = NodeProcess(homes["farm"])
    mill = NodeProcess(homes["mill"])  # no bootstrap: it knows nobody
    nodes = [farm, mill]
    try:
        assert mill.status()["peers"] == 0
        added = cli(homes["mill"], "peers", "add", farm.address)
        assert added["added"] is True and added["connected"] == ids["farm"]
        wait_until(lambda: mill.status()["peers"] == 1, what="the mill connected to the farm")
        assert config(homes["mill"])["bootstrap"] == [farm.address]
        mill.stop()  # the next start joins through the config's bootstrap list
        mill = nodes[1] = NodeProcess(homes["mill"])
        wait_until(lambda: mill.status()["peers"] == 1, what="the mill back with the farm")
        wait_until(lambda: farm.status()["peers"] == 1, what="the farm with the mill")

        shared = cli(homes["farm"], "network", "file", "--output", str(tmp_path / "v2.json"))
        bootstrap = json.loads((tmp_path / "v2.json").read_text())["bootstrap"]
        assert shared["bootstrap"] == bootstrap
        assert farm.address in bootstrap
        assert any(b.endswith("/p2p/" + ids["mill"]) for b in bootstrap), bootstrap
        mill.stop()  # the new member reaches the farm through the file alone
        bakery = NodeProcess(homes["bakery"])
        nodes.append(bakery)
        assert bakery.status()["peers"] == 0  # its copy of the file names nobody
        cli(homes["bakery"], "network", "file", "--restore", str(tmp_path / "v2.json"))
        bakery.stop()
        bakery = nodes[2] = NodeProcess(homes["bakery"])
        wait_until(lambda: bakery.status()["peers"] >= 1, what="the bakery joined the farm")
    finally:
        for node in nodes:
            node.stop()


def test_chain_recover_with_no_node_joins_through_the_config_s_bootstrap(
        tmp_path: Path) -> None:
    homes, _, nodes = cooperatives(tmp_path, ["farm", "mill"])
    mill = homes["mill"]
    try:
        wait_until(lambda: nodes["mill"].status()["peers"] == 1, what="the mill with the farm")
        record = ("record", "raise", "--resource", "new:sack", "--quantity", "1 kg")
        cli(mill, *record)
        backup(mill, tmp_path / "mill.db")
        cli(mill, *record)
        cli(mill, *record)
        full = cli(mill, "chain", "show", "--limit", "1")[-1]["action"]["seq"]
        cli(mill, "sync", "--timeout", "60")
        nodes["mill"].stop()
        restore(mill, tmp_path / "mill.db")
        short = cli(mill, "chain", "show", "--limit", "1")[-1]["action"]["seq"]
        assert short < full
        cli(mill, "peers", "add", nodes["farm"].address)  # no node: config.toml alone
        restored = cli(mill, "chain", "recover", "--timeout", "30")  # no --bootstrap
        assert restored["restored"] == full - short and restored["head_seq"] == full
    finally:
        for node in nodes.values():
            node.stop()
