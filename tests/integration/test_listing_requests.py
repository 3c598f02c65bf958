"""A listing through the command line is one request to the running node's socket (the
node reads the links, the proposals and their intents itself), and `match` asks the node
for whole listings, never for links or records one request at a time."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from dht.memory import MemoryNetwork
from node.core.cid import Cid
from tests.cli_home import CliHome
from tests.integration.test_node_memory import wait_for
from tests.integration.test_offers_memory import coop  # noqa: F401 - a fixture
from zomes.valueflows.proposals import proposal_base


def test_a_listing_is_one_socket_request_and_match_reads_whole_listings(
        coop: CliHome, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from node.api import open_node
    from node.runtime import socket_client

    spec = coop("spec", "create", "bran", "--unit", "kg")["address"]
    made = coop("offer", "--spec", spec, "--quantity", "800 kg", "--class", "byproduct",
                "--for", "20 EUR")
    coop("request", "--spec", spec, "--quantity", "100 kg")
    asked: list[str] = []
    real = socket_client.call

    def counted(home: Any, method: str, timeout: float = 60.0, **params: Any) -> Any:
        asked.append(method)
        return real(home, method, timeout, **params)

    monkeypatch.setattr(socket_client, "call", counted)
    base = proposal_base("offer", "spec", spec)

    async def main() -> tuple[list[Any], list[str], list[str]]:
        async with open_node(coop.home, lambda: "offers test",
                             memory_network=MemoryNetwork(), gossip_interval=0.2) as node:
            node.enqueue_new_records()
            await wait_for(lambda: node.dht.get_links(base) != [], what="listed")
            asked.clear()
            rows = await trio.to_thread.run_sync(lambda: coop("offers", "--spec", spec))
            listing = list(asked)
            asked.clear()
            await trio.to_thread.run_sync(lambda: coop("match"))
            return rows, listing, list(asked)

    rows, listing, matching = trio.run(main)
    assert [(r["proposal"], r["for"]) for r in rows] == [(made["proposal"], "20 euro")]
    assert Cid.parse(rows[0]["proposal"]) == Cid.parse(made["proposal"])
    assert listing == ["proposals"]
    assert "proposals" in matching and not {"links", "get", "get_many"} & set(matching)
