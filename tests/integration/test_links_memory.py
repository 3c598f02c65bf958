"""Links across nodes with real homes on the in-memory network: an agent links a target
from a well-known base (the address of a label), another node that is no authority of
the base lists it through get_links; a deleted link disappears; a delete by another
agent is rejected by the authorities; forged links a member answers with are refused."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
import trio

from dht import link_wire
from dht.memory import MemoryNetwork
from dht.transport import TransportError
from node.api import open_ledger
from node.core.cid import Cid
from node.core.errors import LocalError
from node.core.identity import AgentId
from node.core.links import Link
from node.core.ops import OpType, produce_ops
from node.core.records import SignedAction
from node.core.scratch import Scratch
from node.runtime import cascade
from node.runtime.conductor import open_node
from node.runtime.hello import Hello
from node.runtime.ledger import RuleBroken
from tests.integration.network_harness import make_homes, passphrase
from tests.integration.test_node_memory import wait_for

BYPRODUCT = Cid.of(b"coledger label: byproduct")  # a well-known base: the label's address
BRAN = Cid.of(b"a proposal: 100 kg bran")


async def _published(node) -> None:  # type: ignore[no-untyped-def]
    node.enqueue_new_records()
    await wait_for(lambda: node.queue.pending() == 0, timeout=40, what="published")


async def four_nodes(stack: AsyncExitStack, tmp_path):  # type: ignore[no-untyped-def]
    """Four members (R = 3, so one is no authority of a given base), fully connected."""
    homes, _ = make_homes(tmp_path, ["farm", "mill", "bakery", "energy"], redundancy=3)
    net = MemoryNetwork()
    nodes = [await stack.enter_async_context(open_node(
        home, passphrase, memory_network=net, gossip_interval=0.5, rpc=False))
        for home in homes]
    for node in nodes[1:]:
        assert await node.connect(nodes[0].transport.listen_addrs()[0]) is not None
    await wait_for(lambda: all(len(n.peers()) == 4 for n in nodes), what="full mesh")
    return homes, nodes


async def test_a_link_is_listed_across_the_network_and_deleted(tmp_path):
    async with AsyncExitStack() as stack:
        homes, nodes = await four_nodes(stack, tmp_path)
        farm = nodes[0]
        with open_ledger(homes[0], passphrase) as led:
            link = led.create_link(BYPRODUCT, BRAN, "valueflows", "offer", b"bran")
            with pytest.raises(RuleBroken, match="check_zome_exists"):
                led.create_link(BYPRODUCT, BRAN, "nowhere", "offer")
        await _published(farm)
        authorities = farm.authorities(BYPRODUCT.to_bytes())
        outsider = next(n for n in nodes if n.me not in authorities)
        holders = [n for n in nodes if n.me in authorities]
        assert all([x.address for x in n.dht.get_links(BYPRODUCT)] == [link] for n in holders)
        assert outsider.dht.get_links(BYPRODUCT) == []
        # the outsider asks the base's authorities
        page = await outsider.get_links(BYPRODUCT, "offer")
        assert [(x.address, x.target, x.author, x.tag) for x in page.links] == [
            (link, BRAN, farm.me, b"bran")]
        assert page.next is None
        assert (await outsider.get_links(BYPRODUCT, "offer", b"wheat")).links == ()
        assert (await outsider.get_links(BYPRODUCT, "request")).links == ()
        # another member may not delete the farm's link: its own ledger refuses it...
        forger = next(i for i in range(1, 4) if nodes[i] is not outsider)
        with open_ledger(homes[forger], passphrase) as led:
            with pytest.raises(LocalError, match="no link of this agent"):
                led.delete_link(link)
            key, head = led.agent.key(), led.agent.head()
        # ...and a DeleteLink it signs anyway is rejected by the base's authorities
        scratch = Scratch(head, key, lambda: farm.clock())
        scratch.delete_link(link, BYPRODUCT)
        forged = [op for op in produce_ops(scratch.records[0])
                  if op.type is OpType.REGISTER_REMOVE_LINK]
        for holder in holders:
            holder.take_ops(forged)
        await wait_for(lambda: all(h.dht.state_of(forged[0].address) is not None
                                   and h.dht.state_of(forged[0].address)[0] == "rejected"
                                   for h in holders), timeout=20, what="forged delete rejected")
        assert all(h.dht.state_of(forged[0].address)[1] == "check_link_delete" for h in holders)
        assert [x.address for x in (await outsider.get_links(BYPRODUCT)).links] == [link]
        await wait_for(lambda: all(nodes[forger].me in h.blocked for h in holders
                                   if h is not nodes[forger]), timeout=20, what="forger blocked")
        # the farm deletes its link: it disappears, and shows as deleted when asked
        with open_ledger(homes[0], passphrase) as led:
            deleted_by = led.delete_link(link)
        await _published(farm)
        assert (await outsider.get_links(BYPRODUCT)).links == ()
        every = (await outsider.get_links(BYPRODUCT, include_deleted=True)).links
        assert [x.address for x in every] == [link]
        assert [d.address for d in every[0].deletes] == [deleted_by]


async def test_forged_links_from_a_member_are_refused(tmp_path):
    homes, _ = make_homes(tmp_path, ["a", "m"])
    with open_ledger(homes[1], passphrase) as led:
        m_key, m_avp, m_head = led.agent.key(), led.own_avp(), led.agent.head()
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            open_node(homes[0], passphrase, memory_network=net, gossip_interval=0.2, rpc=False))
        with open_ledger(homes[0], passphrase) as led:
            genuine = led.create_link(BYPRODUCT, BRAN, "valueflows", "offer")
        a.enqueue_new_records()  # a alone is the base's authority
        await wait_for(lambda: a.dht.get_links(BYPRODUCT) != [], what="held by a")
        create = a.dht.get_record(genuine).signed
        # m, a member turned hostile, signs what it likes
        scratch = Scratch(m_head, m_key, lambda: a.clock())
        scratch.create_link(Cid.of(b"another base"), BRAN, "valueflows", "offer")
        scratch.delete_link(genuine, BYPRODUCT)  # not its link to delete
        wrong_base, m_delete = (r.signed for r in scratch.records)
        unsigned = SignedAction(create.action, create.data, create.address, bytes(64))
        answer = link_wire.LinksResponse((
            link_wire.RawLink(wrong_base.data, wrong_base.signature),  # names another base
            link_wire.RawLink(unsigned.data, unsigned.signature),  # not signed by its author
            link_wire.RawLink.of(Link(create, (m_delete,))),  # a delete by another agent
            link_wire.RawLink(b"garbage", bytes(64)),
        ), False)
        m = await stack.enter_async_context(net.open_transport(m_key))
        asked: list[AgentId] = []

        async def hello(peer: AgentId, data: bytes) -> bytes:
            return Hello(m_avp).to_bytes()

        async def links(peer: AgentId, data: bytes) -> bytes:
            asked.append(peer)
            return link_wire.encode_links(answer)

        m.set_handler("hello", hello)
        m.set_handler("links", links)
        await m.connect(a.transport.listen_addrs()[0])
        await wait_for(lambda: m_key.agent_id in a.members, timeout=10, what="m admitted")
        assert m_key.agent_id in a.authorities(BYPRODUCT.to_bytes())
        page = await a.get_links(BYPRODUCT)
        assert asked == [a.me]
        assert [(x.address, x.deleted) for x in page.links] == [(genuine, False)]
        # garbage answers are nothing, and a's handler answers garbage requests with an error
        m.set_handler("links", lambda peer, data: _bytes(b"\xff garbage"))
        assert [x.address for x in (await a.get_links(BYPRODUCT)).links] == [genuine]
        with pytest.raises(TransportError):
            await m.request(a.me, "links", b"\xa1garbage", timeout=5)
        request = link_wire.LinksRequest(BYPRODUCT)
        served = link_wire.decode_links(link_wire.LinksResponse, await m.request(
            a.me, "links", link_wire.encode_links(request), timeout=5))
        assert [x.checked(BYPRODUCT) is not None for x in served.links] == [True]


async def _bytes(data: bytes) -> bytes:
    return data


async def test_the_front_door_lists_links_through_the_running_node(tmp_path):
    import trio

    from node.api import open_node as open_served_node
    from node.client import LocalClient, NoNode
    from node.client_socket import SocketClient

    homes, _ = make_homes(tmp_path, ["a"])
    with pytest.raises(NoNode):
        LocalClient(homes[0], passphrase, []).links(str(BYPRODUCT))
    async with open_served_node(homes[0], passphrase, memory_network=MemoryNetwork(),
                                gossip_interval=0.2) as a:
        with open_ledger(homes[0], passphrase) as led:
            link = led.create_link(BYPRODUCT, BRAN, "valueflows", "offer", b"bran")
        a.enqueue_new_records()
        await wait_for(lambda: a.dht.get_links(BYPRODUCT) != [], what="held by a")
        client = SocketClient(homes[0], passphrase, [])
        page = await trio.to_thread.run_sync(
            lambda: client.links(str(BYPRODUCT), "offer", b"br".hex()))
        assert [x["address"] for x in page["links"]] == [str(link)] and page["next"] is None
        assert page["links"][0]["target"] == str(BRAN) and page["links"][0]["tag"] == "6272616e"
        with pytest.raises(LocalError, match="not hex"):
            await trio.to_thread.run_sync(lambda: client.links(str(BYPRODUCT), tag_prefix="zz"))


async def _lone_links(farm, lone, homes, count: int) -> list[Cid]:  # type: ignore[no-untyped-def]
    """`count` links of the farm from BYPRODUCT that reach `lone` alone (as if the
    publish reached one authority only): their addresses."""
    with open_ledger(homes[0], passphrase) as led:
        key, head = led.agent.key(), led.agent.head()
    scratch = Scratch(head, key, lambda: farm.clock())
    for i in range(count):
        scratch.create_link(BYPRODUCT, Cid.of(b"lone %d" % i), "valueflows", "offer")
    held = len(lone.dht.get_links(BYPRODUCT))
    lone.take_ops(op for r in scratch.records for op in produce_ops(r)
                  if op.type is OpType.REGISTER_ADD_LINK)
    await wait_for(lambda: len(lone.dht.get_links(BYPRODUCT)) == held + count,
                   what="lone links")
    return [r.address for r in scratch.records]


def _in_order(addresses) -> list[Cid]:  # type: ignore[no-untyped-def]
    return sorted(addresses, key=lambda c: c.to_bytes())


async def test_pages_merge_authorities_that_hold_different_links(tmp_path):
    """One authority holds links the others lack (they reached it alone): a read of every
    authority, paging at 7 a page, gives every link once, in address order."""
    async with AsyncExitStack() as stack:
        homes, nodes = await four_nodes(stack, tmp_path)
        farm = nodes[0]
        with open_ledger(homes[0], passphrase) as led:
            shared = led.commit(lambda s, _v: [
                s.create_link(BYPRODUCT, Cid.of(b"%d" % i), "valueflows", "offer")
                for i in range(12)])
        await _published(farm)
        authorities = farm.authorities(BYPRODUCT.to_bytes())
        outsider = next(n for n in nodes if n.me not in authorities)
        # every authority holds the same 12: a full page says there may be more
        first = await outsider.get_links(BYPRODUCT, limit=6)
        assert len(first.links) == 6 and first.next == first.links[-1].address
        second = await outsider.get_links(BYPRODUCT, limit=6, after=first.next)
        assert _in_order(x.address for x in first.links + second.links) == _in_order(shared)
        # the lone one is the farthest authority: a quorum read would not ask it
        lone = next(n for n in nodes if n.me == authorities[-1])
        alone = await _lone_links(farm, lone, homes, 9)
        seen, after, pages = [], None, 0
        while True:
            page = await outsider.get_links(BYPRODUCT, after=after, limit=7, every=True)
            pages += 1
            seen += [x.address for x in page.links]
            if page.next is None:
                break
            after = page.next
        assert seen == _in_order([*shared, *alone]) and pages >= 3


async def test_a_quorum_read_misses_a_lone_authority_until_gossip_brings_its_links(tmp_path):
    """A read asks READ_QUORUM authorities, nearest first: links that reached only the
    farthest are missing from it (not from a read of every authority) until the
    authorities' gossip has spread them."""
    async with AsyncExitStack() as stack:
        homes, nodes = await four_nodes(stack, tmp_path)
        farm = nodes[0]
        with open_ledger(homes[0], passphrase) as led:
            shared = led.create_link(BYPRODUCT, BRAN, "valueflows", "offer")
        await _published(farm)
        authorities = farm.authorities(BYPRODUCT.to_bytes())
        assert len(authorities) == 3 > cascade.READ_QUORUM
        outsider = next(n for n in nodes if n.me not in authorities)
        lone = next(n for n in nodes if n.me == authorities[-1])
        near = [n for n in nodes if n.me in authorities[:-1]]
        for node in near:  # no gossip for now: the links stay with `lone`
            node.transport.set_handler("gossip", _silent)
        lone.transport.set_handler("gossip", _silent)
        alone = await _lone_links(farm, lone, homes, 3)
        quorum = await outsider.get_links(BYPRODUCT)
        assert [x.address for x in quorum.links] == [shared]
        every = await outsider.get_links(BYPRODUCT, every=True)
        assert [x.address for x in every.links] == _in_order([shared, *alone])
        for node in [*near, lone]:
            node.transport.set_handler("gossip", node.gossip.on_gossip)
        await wait_for(lambda: all(len(n.dht.get_links(BYPRODUCT)) == 4 for n in near),
                       timeout=40, what="gossip")
        quorum = await outsider.get_links(BYPRODUCT)
        assert [x.address for x in quorum.links] == _in_order([shared, *alone])


async def _silent(peer: AgentId, data: bytes) -> bytes:
    await trio.sleep_forever()
    raise AssertionError("unreachable")


async def test_a_silent_authority_costs_a_hedge_not_a_timeout(tmp_path):
    """The nearest authority never answers: the read asks the next one after HEDGE
    seconds and returns its links long before the silent one's request times out."""
    async with AsyncExitStack() as stack:
        homes, nodes = await four_nodes(stack, tmp_path)
        farm = nodes[0]
        with open_ledger(homes[0], passphrase) as led:
            link = led.create_link(BYPRODUCT, BRAN, "valueflows", "offer")
        await _published(farm)
        authorities = farm.authorities(BYPRODUCT.to_bytes())
        outsider = next(n for n in nodes if n.me not in authorities)
        for node in nodes:
            if node.me in authorities[:cascade.READ_QUORUM - 1]:
                node.transport.set_handler("links", _silent)
        started = trio.current_time()
        with trio.fail_after(cascade.GET_TIMEOUT / 2):
            page = await outsider.get_links(BYPRODUCT)
        assert [x.address for x in page.links] == [link]
        assert trio.current_time() - started >= cascade.HEDGE


async def test_an_answer_keeps_to_its_byte_budget_and_leaves_out_blocked_authors(
        tmp_path, monkeypatch):
    homes, _ = make_homes(tmp_path, ["a", "b"])
    with open_ledger(homes[1], passphrase) as led:
        b_key, b_head = led.agent.key(), led.agent.head()
    async with open_node(homes[0], passphrase, memory_network=MemoryNetwork(),
                         gossip_interval=0.2, rpc=False) as a:
        with open_ledger(homes[0], passphrase) as led:
            mine = led.commit(lambda s, _v: [
                s.create_link(BYPRODUCT, Cid.of(b"%d" % i), "valueflows", "offer", b"x" * 900)
                for i in range(5)])
        scratch = Scratch(b_head, b_key, lambda: a.clock())
        scratch.create_link(BYPRODUCT, BRAN, "valueflows", "offer")
        a.enqueue_new_records()
        a.take_ops(op for op in produce_ops(scratch.records[0])
                   if op.type is OpType.REGISTER_ADD_LINK)
        await wait_for(lambda: len(a.dht.get_links(BYPRODUCT)) == 6, what="held by a")
        raw = link_wire.RawLink.of(Link(a.dht.get_record(mine[0]).signed))
        monkeypatch.setattr(link_wire, "RESPONSE_BUDGET", 2 * raw.size + 10)
        request = link_wire.encode_links(link_wire.LinksRequest(BYPRODUCT))
        answer = link_wire.decode_links(link_wire.LinksResponse,
                                        await a.cascade.on_links(a.me, request))
        assert len(answer.links) == 2 and answer.more
        monkeypatch.undo()
        a.dht.block(b_key.agent_id, "a test", a.clock(), None)
        answer = link_wire.decode_links(link_wire.LinksResponse,
                                        await a.cascade.on_links(a.me, request))
        assert sorted(x.checked(BYPRODUCT).address.to_bytes() for x in answer.links) == sorted(
            c.to_bytes() for c in mine)
        assert {x.address for x in (await a.get_links(BYPRODUCT)).links} == set(mine)


async def test_the_authorities_of_a_base_are_asked_at_once(tmp_path):
    """Three authorities each answering after a pause: the outsider's listing takes about
    one pause, not three (asked one after another it took three)."""
    import trio

    pause = 2.0
    async with AsyncExitStack() as stack:
        homes, nodes = await four_nodes(stack, tmp_path)
        with open_ledger(homes[0], passphrase) as led:
            link = led.create_link(BYPRODUCT, BRAN, "valueflows", "offer", b"bran")
        await _published(nodes[0])
        authorities = nodes[0].authorities(BYPRODUCT.to_bytes())
        outsider = next(n for n in nodes if n.me not in authorities)
        for node in nodes:
            if node.me in authorities:
                async def slow(peer, data, answer=node.cascade.on_links):  # type: ignore[no-untyped-def]
                    await trio.sleep(pause)
                    return await answer(peer, data)

                node.transport.set_handler("links", slow)
        began = trio.current_time()
        page = await outsider.get_links(BYPRODUCT, "offer")
        took = trio.current_time() - began
        assert [x.address for x in page.links] == [link]
        assert pause <= took < 2 * pause, took


async def test_a_link_every_authority_answers_alike_is_verified_once(tmp_path, monkeypatch):
    checks: list[Cid] = []
    real = link_wire.RawLink.checked

    def counted(raw: link_wire.RawLink, base: Cid) -> Link | None:
        checks.append(base)
        return real(raw, base)

    async with AsyncExitStack() as stack:
        homes, nodes = await four_nodes(stack, tmp_path)
        with open_ledger(homes[0], passphrase) as led:
            link = led.create_link(BYPRODUCT, BRAN, "valueflows", "offer", b"bran")
        await _published(nodes[0])
        authorities = nodes[0].authorities(BYPRODUCT.to_bytes())
        outsider = next(n for n in nodes if n.me not in authorities)
        monkeypatch.setattr(link_wire.RawLink, "checked", counted)
        page = await outsider.get_links(BYPRODUCT, "offer")
        assert [x.address for x in page.links] == [link]
        assert checks == [BYPRODUCT]  # (three authorities answered it)
