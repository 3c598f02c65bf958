"""The membrane over real libp2p hosts on 127.0.0.1, in one process: a node of another
network speaks none of our protocols, and is still refused by the node it dialed."""

from __future__ import annotations

from contextlib import AsyncExitStack

from node.api import init_home, open_agent
from node.membership import create_network
from node.runtime.conductor import open_node
from tests.integration.network_harness import PASS, make_homes, passphrase

LOCAL = "/ip4/127.0.0.1/tcp/0"
QUIET = 3600.0  # gossip interval: the nodes' own loops do not discover during the test


async def test_a_node_of_another_network_is_refused_though_its_discovery_comes_first(tmp_path):
    homes, _ = make_homes(tmp_path, ["farm"])
    outsider = tmp_path / "outsider"
    init_home(outsider, PASS, "outsider")
    with open_agent(outsider, passphrase) as o:
        create_network(o, "other", {}, tmp_path / "other.network.json")
    async with AsyncExitStack() as stack:
        farm = await stack.enter_async_context(
            open_node(homes[0], passphrase, listen=LOCAL, gossip_interval=QUIET, rpc=False))
        out = await stack.enter_async_context(
            open_node(outsider, passphrase, listen=LOCAL, gossip_interval=QUIET, rpc=False))
        # its hello is for its own network's protocol, which the farm does not serve
        assert await out.connect(farm.transport.listen_addrs()[0]) is None
        # a busy farm: the outsider's discovery comes round before the farm's; it must
        # not hang up on the farm at once, or the farm never gets to greet and refuse it
        await out.discover()
        assert farm.me not in out.stats.refused_peers
        await farm.discover()
        assert out.me in farm.stats.refused_peers
        assert out.me not in farm.members
        assert out.me not in farm.transport.connected_peers()
