"""`match` across in-memory nodes with real homes: the farm offers bran classified
byproduct (and wheat); the livestock cooperative requests feed; matching at the livestock
cooperative, read through the front door inside its node, finds the farm's bran (a shared
classification), not the wheat, and the farm's match finds the livestock's request. And
the command without a node: the one-line error, nothing written."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import trio

from dht.memory import MemoryNetwork
from node.client import LocalClient
from node.in_node import InNodeClient
from node.runtime.node import Node
from tests.integration.network_harness import passphrase
from tests.integration.test_links_memory import _published, four_nodes
from tests.integration.test_node_memory import wait_for
from tests.integration.test_offers_memory import coop  # noqa: F401 - a fixture
from zomes.valueflows.matching import candidates, find
from zomes.valueflows.offers import ProposalRequest


async def _matches(node: Node) -> list[dict[str, Any]]:
    """`find` for `node`'s agent over the listings asked through its front door."""
    door = InNodeClient(node)

    def links_page(base: str, after: str | None) -> dict[str, Any]:
        return trio.from_thread.run(lambda: door.links(base, "proposal", after=after))

    def fetch(address: str) -> dict[str, Any] | None:
        return trio.from_thread.run(lambda: door.get(address))

    def work() -> list[dict[str, Any]]:
        offers, requests = candidates(str(node.me), links_page, fetch)
        return [m.to_json() for m in find(str(node.me), offers, requests)]

    return await trio.to_thread.run_sync(work)


async def test_the_livestock_cooperatives_match_finds_the_farms_bran(tmp_path):
    async with AsyncExitStack() as stack:
        homes, nodes = await four_nodes(stack, tmp_path)
        farm = LocalClient(homes[0], passphrase, [])
        bran = farm.create_spec("bran", "kg", False, None)
        wheat = farm.create_spec("wheat", "kg", False, None)
        offer = farm.propose(ProposalRequest(
            purpose="offer", spec=bran, quantity="800 kg", minimum="100 kg",
            classes=("byproduct", "feed"), location="Farm lane 1"))
        farm.propose(ProposalRequest(purpose="offer", spec=wheat, quantity="5 t"))
        livestock = LocalClient(homes[3], passphrase, [])
        feed = livestock.create_spec("feed", "kg", False, None)
        asked = livestock.propose(ProposalRequest(purpose="request", spec=feed,
                                                  quantity="300 kg", classes=("feed",)))
        livestock.propose(ProposalRequest(purpose="request", spec=feed, quantity="20 l",
                                          classes=("feed",)))  # (litres: never bran's kg)
        await _published(nodes[0])
        await _published(nodes[3])
        found = await _matches(nodes[3])
        assert [(m["request"], m["offer"], m["offered_by"], m["fits"]["resource"]["why"],
                 m["fits"]["quantity"]["why"]) for m in found] == [
            (asked["proposal"], offer["proposal"], str(nodes[0].me),
             "shared classification: feed", "800 kilogram covers the 300 kilogram asked")]
        assert [(m["request"], m["offer"]) for m in await _matches(nodes[0])] == [
            (asked["proposal"], offer["proposal"])]
        assert await _matches(nodes[1]) == []


def test_without_a_node_match_says_so_in_one_line_and_nothing_is_written(coop):  # noqa: F811
    before = coop.length()
    assert "no node is running" in coop.fails("match")
    assert "no node is running" in coop.fails("--json", "match")
    assert coop.length() == before


def test_match_through_the_running_nodes_socket_pairs_no_proposal_with_its_own(coop):  # noqa: F811
    from node.api import open_node
    from zomes.valueflows.proposals import proposal_base

    spec = coop("spec", "create", "bran", "--unit", "kg")["address"]
    coop("offer", "--spec", spec, "--quantity", "800 kg", "--class", "byproduct")
    coop("request", "--spec", spec, "--quantity", "300 kg")
    asked = proposal_base("request", "all")

    async def main() -> tuple[Any, str]:
        async with open_node(coop.home, lambda: "offers test",
                             memory_network=MemoryNetwork(), gossip_interval=0.2) as node:
            node.enqueue_new_records()
            await wait_for(lambda: node.dht.get_links(asked) != [], what="listed")
            found = await trio.to_thread.run_sync(lambda: coop("match"))
            table = await trio.to_thread.run_sync(lambda: coop.text("match"))
            return found, table

    found, table = trio.run(main)
    assert found == [] and "no matches" in table
