"""`coledger match` on the command line, through the farm's running node (in memory, beside
the livestock cooperative's): for what the farm holds or will produce with no planned use,
the livestock cooperative's requests. The farm holds bran it classified byproduct and
straw its milling produced that nothing of its own uses, and plans bran from its milling
recipe; the livestock cooperative requests bran and straw (and straw in litres, which
nothing matches): held first, then planned, each saying why it is surplus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio

from dht.memory import MemoryNetwork
from node.api import open_node
from node.client import LocalClient
from tests.cli_home import CliHome
from tests.integration.network_harness import PASS, make_homes, passphrase
from tests.integration.test_links_memory import _published
from tests.integration.test_node_memory import wait_for
from zomes.valueflows.offers import ProposalRequest
from zomes.valueflows.proposals import proposal_base


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    monkeypatch.chdir(tmp_path)
    made, _ = make_homes(tmp_path, ["farm", "livestock"], redundancy=2)
    return made


def _match_beside(farm: CliHome, livestock: Path, asked: list[str]) -> tuple[Any, str]:
    """`match` (JSON and table) at the farm, its node running beside the livestock's."""

    async def main() -> tuple[Any, str]:
        net = MemoryNetwork()
        async with open_node(farm.home, passphrase, memory_network=net,
                             gossip_interval=0.2) as node, \
                open_node(livestock, passphrase, memory_network=net, gossip_interval=0.2,
                          rpc=False) as other:
            assert await other.connect(node.transport.listen_addrs()[0]) is not None
            await wait_for(lambda: len(node.peers()) == 2 and len(other.peers()) == 2,
                           what="connected")
            await _published(node)
            await _published(other)
            for spec in asked:
                await wait_for(lambda s=spec: node.dht.get_links(
                    proposal_base("request", "spec", s)) != [], what="listed")
            found = await trio.to_thread.run_sync(lambda: farm("match"))
            table = await trio.to_thread.run_sync(lambda: farm.text("match"))
            return found, table

    return trio.run(main)


def test_match_offers_the_farms_byproducts_and_unused_outputs_to_the_networks_requests(
        homes: list[Path], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    farm = CliHome(homes[0], capsys)
    spec = {name: str(farm("spec", "create", name, "--unit", "kg")["address"])  # type: ignore[index]
            for name in ("wheat", "flour", "bran", "straw")}
    milling = farm("process", "create", "milling")["address"]  # type: ignore[index]
    made = {name: farm("record", "produce", "--resource", f"new:{name}", "--conforms-to",
                       spec[name], "--quantity", quantity, "--output-of", milling,
                       *extra)["created_resources"][name]  # type: ignore[index]
            for name, quantity, extra in (("bran", "400 kg", ["--classified-as", "byproduct"]),
                                          ("straw", "2 t", []))}
    recipe = tmp_path / "flour.json"
    recipe.write_text(json.dumps({"name": "flour", "primaryOutput": spec["flour"], "processes": [{
        "name": "milling", "hasDuration": "2 hour",
        "inputs": [{"action": "consume", "resourceConformsTo": spec["wheat"],
                    "resourceQuantity": "100 kg"}],
        "outputs": [{"action": "produce", "resourceConformsTo": spec["flour"],
                     "resourceQuantity": "80 kg"},
                    {"action": "produce", "resourceConformsTo": spec["bran"],
                     "resourceQuantity": "20 kg"}]}]}))
    flour = farm("recipe", "create", str(recipe))["address"]  # type: ignore[index]
    plan = farm("plan", "from-recipe", flour, "--quantity", "800 kg", "--due", "2030-03-01")
    [planned_bran] = [f["address"] for f in plan["flows"]  # type: ignore[index]
                      if f["resourceConformsTo"] == spec["bran"]]
    livestock = LocalClient(homes[1], passphrase, [])
    bran = livestock.propose(ProposalRequest(purpose="request", spec=spec["bran"],
                                             quantity="300 kg", location="Valley"))
    straw = livestock.propose(ProposalRequest(purpose="request", spec=spec["straw"],
                                              quantity="1 t"))
    livestock.propose(ProposalRequest(purpose="request", spec=spec["straw"], quantity="5 l"))
    found, table = _match_beside(farm, homes[1], [spec["bran"], spec["straw"]])
    rows = [(m["request"], m["offer"], m["held"], m["planned"], m["surplus"],
             m["fits"]["quantity"]["why"]) for m in found]
    assert sorted(rows[:2]) == sorted([  # (scored alike: in the order of their addresses)
        (bran["proposal"], made["bran"], True, False, "byproduct",
         "400 kilogram covers the 300 kilogram asked"),
        (straw["proposal"], made["straw"], True, False, "an output nothing of its own uses",
         "2000 kilogram covers the 1 tonne asked")])
    assert rows[2:] == [
        (bran["proposal"], planned_bran, False, True, "an output nothing of its own uses",
         "200 kilogram is part of the 300 kilogram asked")]
    assert "held " in table and "planned " in table and "byproduct;" in table
