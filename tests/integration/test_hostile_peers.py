"""A real node (real homes, SQLite) on the in-memory network keeps running whatever one
peer answers: a stranger's hello whose membrane-proof action has `"type": [0]`, a
member's garbage fetch, get, links and publish answers (issue #11, item 1). The hostile peer is
a bare transport whose handlers answer with crafted bytes."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
import trio

from dht import link_wire, wire
from dht.memory import MemoryNetwork
from dht.transport import TransportError
from node.api import open_ledger
from node.core.cid import Cid
from node.core.encoding import decode, encode, encode_trusted
from node.core.identity import AgentId, AgentKey
from node.runtime.conductor import open_node
from node.runtime.hello import Hello
from tests.integration.network_harness import make_homes, passphrase
from tests.integration.test_node_memory import record_some, wait_for


def bad_action(author: AgentId) -> bytes:
    """An AgentValidationPkg-looking action whose type is a list (unhashable)."""
    return encode({"type": [0], "author": author.to_bytes(), "seq": 1, "timestamp": 1,
                   "membrane_proof": b"x"})


def bad_hello(author: AgentId) -> bytes:
    return encode_trusted({"t": "hello", "avp": [bad_action(author), bytes(64)], "peers": []})


async def test_a_node_survives_a_hello_whose_action_type_is_a_list(tmp_path):
    homes, _ = make_homes(tmp_path, ["a", "b"])
    net = MemoryNetwork()
    key = AgentKey.generate()
    greeted = []
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            open_node(homes[0], passphrase, memory_network=net, gossip_interval=0.1, rpc=False))
        stranger = await stack.enter_async_context(net.open_transport(key))

        async def hello(peer: AgentId, data: bytes) -> bytes:
            greeted.append(peer)
            return bad_hello(key.agent_id)

        stranger.set_handler("hello", hello)
        # a dials it (a bootstrap address): refused, not crashed
        assert await a.connect(stranger.listen_addrs()[0]) is None
        assert key.agent_id in a.stats.refused_peers
        # and a stranger that connects and waits to be greeted, by the discovery loop
        key2 = AgentKey.generate()
        second = await stack.enter_async_context(net.open_transport(key2))
        second.set_handler("hello", lambda peer, data: _answer(bad_hello(key2.agent_id)))
        await second.connect(a.transport.listen_addrs()[0])
        await wait_for(lambda: key2.agent_id in a.stats.refused_peers, timeout=10)
        # it is refused from now on: its own hello to a goes nowhere
        with pytest.raises(TransportError):
            await second.request(a.me, "hello", bad_hello(key2.agent_id), timeout=5)
        # and one that greets a first with such a hello: an error answer, then refused
        key3 = AgentKey.generate()
        third = await stack.enter_async_context(net.open_transport(key3))
        with pytest.raises(TransportError, match="not a member"):
            await third.request(a.me, "hello", bad_hello(key3.agent_id), timeout=5)
        await wait_for(lambda: key3.agent_id in a.stats.refused_peers, timeout=5)
        await trio.sleep(0.5)  # several discovery rounds
        # a still runs: a member joins and is served
        b = await stack.enter_async_context(
            open_node(homes[1], passphrase, memory_network=net, gossip_interval=0.1, rpc=False))
        assert await b.connect(a.transport.listen_addrs()[0]) is not None
        await wait_for(lambda: b.me in a.members and len(a.peers()) == 2, timeout=10)
        assert greeted


async def _answer(data: bytes) -> bytes:
    return data


async def test_gossip_and_reads_survive_a_members_garbage_answers(tmp_path):
    homes, _ = make_homes(tmp_path, ["a", "m"])
    record_some(homes[0], n=1)
    with open_ledger(homes[1], passphrase) as led:
        m_key, m_avp = led.agent.key(), led.own_avp()
    net = MemoryNetwork()
    garbage_op = wire.RawOp("StoreRecord", bad_action(m_key.agent_id), bytes(64), None)
    garbage_record = wire.RawRecord(bad_action(m_key.agent_id), bytes(64), None)
    wanted = Cid.of(b"an op a lacks")
    fetches = []
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            open_node(homes[0], passphrase, memory_network=net, gossip_interval=0.1, rpc=False))
        m = await stack.enter_async_context(net.open_transport(m_key))
        answers = {
            "hello": Hello(m_avp).to_bytes(),
            "gossip": wire.encode_message(wire.GossipResponse((wire.Bucket(0, 2**62),),
                                                              (wanted,))),
            "fetch": wire.encode_message(wire.FetchResponse((garbage_op,))),
            "get": wire.encode_message(wire.GetResponse(True, (garbage_record,))),
            "publish": wire.encode_message(wire.PublishResponse((), (encode({"type": [0]}),))),
            "warrant": wire.encode_message(wire.WarrantMessage(())),
            "links": link_wire.encode_links(link_wire.LinksResponse(
                (link_wire.RawLink(bad_action(m_key.agent_id), bytes(64)),), True)),
        }
        for name, answer in answers.items():
            async def handler(peer: AgentId, data: bytes, name: str = name,
                              answer: bytes = answer) -> bytes:
                if name == "fetch":
                    fetches.append(peer)
                return answer

            m.set_handler(name, handler)
        await m.connect(a.transport.listen_addrs()[0])
        await wait_for(lambda: m_key.agent_id in a.members, timeout=10, what="m admitted")
        # the gossip loop fetches from m round after round, each answer garbage
        await wait_for(lambda: len(fetches) >= 3, timeout=20, what="three garbage fetches")
        assert a.stats.gossip_rounds >= 3
        assert a.dht.get_op(wanted) is None
        # reads and publishing that ask m get nothing from its garbage, and go on
        assert await a.get(wanted) is None
        assert (await a.get_links(wanted)).links == ()
        assert await a.agent_activity(m_key.agent_id) is not None
        own = list(a.ledger.agent.store.records())
        from node.core.ops import produce_ops

        await a.publish.publish_to(m_key.agent_id, produce_ops(own[-1]))
        assert a.stats.receipts == 0
        rounds = a.stats.gossip_rounds
        await wait_for(lambda: a.stats.gossip_rounds > rounds, timeout=10, what="gossip goes on")


async def test_an_auto_accepting_node_survives_a_proposal_it_cannot_accept(tmp_path):
    """A trusted peer's proposal whose receiving resource cannot be made here (an empty
    name, which the resource model refuses, and which ended the node as it accepted) is
    refused as it arrives; the node goes on."""
    from node.runtime.countersign import TransferRequest
    from tests.integration.test_countersign_memory import harvest, network
    from zomes.valueflows.coordinator import EventRequest

    async with AsyncExitStack() as stack:
        homes, (farm, mill) = await network(
            stack, tmp_path, ["farm", "mill"],
            auto=lambda i, nodes: [str(nodes[0].me)] if i == 1 else [])
        wheat = harvest(homes[0])
        honest = farm.transport.request

        async def tampering(peer, name, payload, *, timeout):  # farm turns hostile
            message = decode(payload)
            if name == "countersign" and message.get("t") == "cs-propose":
                payload = encode({**message, "to_new": ""})  # no honest node sends it
            return await honest(peer, name, payload, timeout=timeout)

        farm.transport.request = tampering
        bad = TransferRequest(EventRequest("transfer", resource=wheat, quantity="1 kg",
                                           to_resource="new:wheat"), str(mill.me), 5.0)
        row = await farm.countersigner.start(bad)
        assert farm.countersigner.sessions.get(row.id).state == "declined"
        assert mill.countersigner.sessions.get(row.id) is None  # refused as it arrived
        await trio.sleep(0.5)
        # mill still runs: a good transfer from farm goes through
        farm.transport.request = honest
        good = TransferRequest(EventRequest("transfer", resource=wheat, quantity="1 kg",
                                            to_resource="new:wheat"), str(mill.me), 5.0)
        row = await farm.countersigner.start(good)
        await wait_for(lambda: mill.countersigner.sessions.get(row.id).state == "committed",
                       timeout=15, what="a good transfer committed")


async def test_over_libp2p_a_stranger_with_such_a_hello_is_refused_and_the_node_goes_on(
        tmp_path):
    """The issue's attack as it was seen: real libp2p hosts on 127.0.0.1; the stranger
    serves this network's hello protocol and answers with the unhashable action type."""
    from dht.libp2p_backend import open_libp2p_transport

    homes, _ = make_homes(tmp_path, ["farm", "mill"])
    key = AgentKey.generate()
    async with AsyncExitStack() as stack:
        farm = await stack.enter_async_context(open_node(
            homes[0], passphrase, listen="/ip4/127.0.0.1/tcp/0", gossip_interval=0.2,
            rpc=False))
        stranger = await stack.enter_async_context(
            open_libp2p_transport(key, farm.network_id, "/ip4/127.0.0.1/tcp/0"))
        stranger.set_handler("hello", lambda peer, data: _answer(bad_hello(key.agent_id)))
        # the farm dials it (as a bootstrap address) and greets it: refused
        assert await farm.connect(stranger.listen_addrs()[0]) is None
        assert key.agent_id in farm.stats.refused_peers
        await trio.sleep(1.0)  # several rounds of the farm's loops
        # the farm still runs: a member joins over libp2p and is served
        mill = await stack.enter_async_context(open_node(
            homes[1], passphrase, listen="/ip4/127.0.0.1/tcp/0", gossip_interval=0.2,
            rpc=False))
        assert await mill.connect(farm.transport.listen_addrs()[0]) is not None
        await wait_for(lambda: mill.me in farm.members, timeout=15, what="mill admitted")
