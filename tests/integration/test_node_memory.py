"""Nodes with real homes (SQLite) on the in-memory network: publish, receipts, get,
agent activity, gossip catch-up, and a non-member refused."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
import trio

from dht.memory import MemoryNetwork
from node.api import open_ledger
from node.core.cid import Cid
from node.runtime.conductor import open_node
from node.store.dht import INTEGRATED
from tests.integration.network_harness import make_homes, passphrase, skipping_clock
from zomes.valueflows.coordinator import EventRequest


def record_some(home, n: int = 3) -> list[Cid]:
    with open_ledger(home, passphrase) as led:
        spec = led.create_spec("wheat", "kg", False, None)
        proc = led.create_process("growing", None, None)
        done = led.record(EventRequest("produce", resource="new:wheat", conforms_to=str(spec),
                                       quantity="100 kg", output_of=str(proc)))
        out = [spec, proc, done.event]
        for i in range(n):
            out.append(
                led.record(EventRequest("work", effort=f"{i + 1} h", input_of=str(proc))).event
            )
    return out


async def wait_for(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


async def test_publish_get_and_activity_across_nodes(tmp_path):
    homes, _ = make_homes(tmp_path, ["farm", "mill", "bakery", "energy"], redundancy=3)
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        nodes = []
        for home in homes:
            node = await stack.enter_async_context(
                open_node(home, passphrase, memory_network=net, gossip_interval=0.5, rpc=False))
            nodes.append(node)
        first = nodes[0].transport.listen_addrs()[0]
        for node in nodes[1:]:
            assert await node.connect(first) is not None
        await wait_for(lambda: all(len(n.peers()) == 4 for n in nodes), what="full mesh")
        addresses = record_some(homes[0])
        assert nodes[0].enqueue_new_records() > 0  # (the loop would within 0.25 s)
        await wait_for(lambda: nodes[0].queue.pending() == 0, timeout=40, what="published")
        # every op reached R=3 authorities that integrated it and sent receipts
        mill = nodes[1]
        for address in addresses:
            record = await mill.get(address)
            assert record is not None and record.address == address
        chain = await mill.agent_activity(nodes[0].me)
        assert [r.action.seq for r in chain] == list(range(len(chain)))
        assert chain[-1].address == addresses[-1]
        counts = [n.dht.counts() for n in nodes]
        assert all(c["rejected"] == 0 for c in counts)
        assert sum(c[INTEGRATED] for c in counts) > 0


async def test_gossip_brings_a_late_node_up_to_date(tmp_path, autojump_clock):
    """(On trio's mock clock: the ops settle for gossip, SETTLE_US, at once.)"""
    homes, _ = make_homes(tmp_path, ["a", "b", "c"], redundancy=3)
    net = MemoryNetwork()
    clock = skipping_clock()
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(open_node(
            homes[0], passphrase, memory_network=net, gossip_interval=0.3, rpc=False, clock=clock))
        b = await stack.enter_async_context(open_node(
            homes[1], passphrase, memory_network=net, gossip_interval=0.3, rpc=False, clock=clock))
        await b.connect(a.transport.listen_addrs()[0])
        record_some(homes[0], n=5)
        a.enqueue_new_records()
        await wait_for(lambda: a.queue.pending() == 0 and b.dht.counts()[INTEGRATED] > 0)
        # c was offline: it joins now and catches up by gossip, without any republish
        c = await stack.enter_async_context(open_node(
            homes[2], passphrase, memory_network=net, gossip_interval=0.3, rpc=False, clock=clock))
        await c.connect(a.transport.listen_addrs()[0])
        published = a.stats.published_ops
        target = a.dht.counts()[INTEGRATED]
        await wait_for(lambda: c.dht.counts()[INTEGRATED] >= target, timeout=30)
        assert a.queue.pending() == 0 and a.stats.published_ops == published  # no republish
        assert sum(n.stats.fetched_by_gossip + n.stats.pushed_by_gossip for n in (a, b, c)) > 0
        # the status says when each last synced (a gossip round it started completed)
        await wait_for(lambda: c.status()["last_sync_us"] is not None, timeout=30)
        assert 0 < c.status()["last_sync_us"] <= c.clock()
        assert "last_sync_us" not in c.status()["stats"]  # (a time, not a counter)


async def test_a_non_member_is_refused(tmp_path):
    from node.api import init_home, open_agent
    from node.membership import create_network

    homes, _ = make_homes(tmp_path, ["a", "b"])
    outsider = tmp_path / "outsider"
    init_home(outsider, "network test", "outsider")
    with open_agent(outsider, passphrase) as o:  # a network of its own: not a member of ours
        create_network(o, "other", {}, tmp_path / "other.network.json")
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            open_node(homes[0], passphrase, memory_network=net, rpc=False))
        o = await stack.enter_async_context(
            open_node(outsider, passphrase, memory_network=net, rpc=False))
        assert await o.connect(a.transport.listen_addrs()[0]) is None
        assert o.me not in a.members
        assert o.me in a.stats.refused_peers


async def test_counterfeit_copies_cannot_squat_on_a_genuine_ops_address(tmp_path):
    from node.core.ops import produce_ops
    from node.core.records import Entry, Record, SignedAction

    homes, _ = make_homes(tmp_path, ["a", "b"], redundancy=2)
    record_some(homes[1], n=1)
    with open_ledger(homes[1], passphrase) as led:
        genuine = list(led.agent.store.records())[-1]
    forged_sig = Record(SignedAction(genuine.signed.action, genuine.signed.data, genuine.address,
                                     bytes(64)),
                        genuine.entry)
    swapped = Record(genuine.signed, Entry.of({"not": "the entry"}))
    net = MemoryNetwork()
    async with open_node(homes[0], passphrase, memory_network=net, rpc=False) as node:
        for fake in (forged_sig, swapped):
            ops = produce_ops(fake)
            assert node.take_ops(ops) == []  # dropped on arrival: nothing stored, nobody warranted
        real = produce_ops(genuine)
        assert sorted(node.take_ops(real)) == sorted(op.address for op in real)
        assert node.dht.counts()["rejected"] == 0 and not node.blocked


def test_the_longest_verified_answer_wins_an_agent_activity() -> None:
    from node.core.records import SignedAction
    from node.runtime.cascade import _longer
    from node.testing import MemoryAgent

    agent, other = MemoryAgent(), MemoryAgent()
    for a in (agent, other):
        a.genesis()
        for i in range(3):
            a.create("test.Note", {"n": i})
    chain = agent.records
    short = _longer(agent.agent_id, chain[:4], [])
    assert short == chain[:4]
    assert _longer(agent.agent_id, chain, short) == chain  # an authority withheld the end
    assert _longer(agent.agent_id, chain[:3], chain) == chain  # shorter: kept what we had
    last = chain[-1]
    forged = SignedAction(last.signed.action, last.signed.data, last.address, bytes(64))
    tampered = [*chain[:-1], type(last)(forged, last.entry)]
    assert _longer(agent.agent_id, tampered, short) == short  # longer, but does not verify
    assert _longer(agent.agent_id, other.records, short) == short  # another agent's chain


async def test_a_node_started_before_its_bootstrap_peer_joins_when_it_comes(tmp_path):
    from node.runtime.membership import DIAL_INTERVAL_US

    homes, _ = make_homes(tmp_path, ["a", "b"])
    net = MemoryNetwork()
    with open_ledger(homes[0], passphrase) as led:
        a_id = led.agent.agent_id
    now = [10**15]
    async with AsyncExitStack() as stack:
        b = await stack.enter_async_context(open_node(
            homes[1], passphrase, memory_network=net, rpc=False, gossip_interval=3600,
            clock=lambda: now[0], bootstrap=[f"/memory/{net._tag}/p2p/{a_id}"]))
        assert a_id in b.addresses and a_id not in b.transport.connected_peers()
        a = await stack.enter_async_context(
            open_node(homes[0], passphrase, memory_network=net, rpc=False, gossip_interval=3600))
        await b.discover()  # too soon: the bootstrap peer is dialed again only every interval
        assert a.me not in b.transport.connected_peers()
        now[0] += DIAL_INTERVAL_US + 1
        await b.discover()
        assert a.me in b.members and b.me in a.members
        # connected now: the bootstrap address is left alone
        now[0] += DIAL_INTERVAL_US + 1
        dialed = b.transport.statistics().requests_sent
        await b.discover()
        assert b.transport.statistics().requests_sent == dialed


@pytest.mark.parametrize("answer", ["too slow", "an error"])
async def test_a_member_whose_hello_fails_is_not_refused(tmp_path, autojump_clock, answer):
    """(On trio's mock clock: the slow hello's timeout passes at once.)"""
    from node.api import open_agent

    homes, _ = make_homes(tmp_path, ["a", "b"])
    with open_agent(homes[1], passphrase) as b_agent:
        b_key = b_agent.key()
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(
            open_node(homes[0], passphrase, memory_network=net, rpc=False, gossip_interval=3600,
                      request_timeout=0.2))
        b = await stack.enter_async_context(net.open_transport(b_key))

        async def hello(peer, data):
            if answer == "too slow":
                await trio.sleep(60)
            raise RuntimeError("the database is locked")

        b.set_handler("hello", hello)
        await b.connect(a.transport.listen_addrs()[0])  # connected, but says no hello
        assert b.local_id in a.transport.connected_peers()
        # a's hello to b fails: b may be a member on a bad line, or with a bad moment
        await a.discover()
        assert b.local_id not in a.stats.refused_peers
        assert b.local_id in a.transport.connected_peers()


async def test_ops_whose_every_authority_vanished_are_published_again(tmp_path):
    from dht.authority import ClosestIndex
    from node.core.clock import now_us
    from node.core.ops import produce_ops
    from node.runtime.publish import AUDIT_LAP_US

    names = [f"coop{i}" for i in range(8)]
    homes, _ = make_homes(tmp_path, names, redundancy=3)
    record_some(homes[0], n=4)
    net = MemoryNetwork()
    ahead = [0]  # the author's clock, moved on past the audit's lap interval at will
    async with AsyncExitStack() as stack:
        nodes = []
        for i, home in enumerate(homes):
            clock = (lambda: now_us() + ahead[0]) if i == 0 else now_us
            nodes.append(await stack.enter_async_context(open_node(
                home, passphrase, memory_network=net, rpc=False, gossip_interval=3600,
                clock=clock)))
        author = nodes[0]
        for i, node in enumerate(nodes):  # (no discovery: the loops sleep)
            for other in nodes[i + 1:]:
                assert await node.connect(other.transport.listen_addrs()[0]) is not None
        assert all(len(n.peers()) == 8 for n in nodes)
        # (it published on opening, with itself the one peer: it holds them, and gossip
        # takes them to the others; the audit leaves them alone, as it does a new peer)
        author.enqueue_new_records()
        await wait_for(lambda: author.queue.pending() == 0, timeout=40, what="published")
        seq = author.ledger.agent.store.head().seq
        record_some(homes[0], n=4)
        author.enqueue_new_records()
        await wait_for(lambda: author.queue.pending() == 0, timeout=40, what="published")
        ahead[0] += AUDIT_LAP_US
        assert author.audit_published(limit=10**6) == 0
        with open_ledger(homes[0], passphrase) as led:
            ops = [op for r in led.agent.store.records() for op in produce_ops(r)
                   if r.action.seq > seq]  # (published to the eight of them)
        by_id = {n.me: n for n in nodes}
        everyone = ClosestIndex(list(by_id))
        # the authorities of some op die all at once, before gossip passes anything on
        victims = next(set(a) for op in ops
                       if author.me not in (a := everyone.closest(op.basis, 3)))
        for agent in victims:
            net.kill(agent)
        orphans = {op.address for op in ops if set(everyone.closest(op.basis, 3)) <= victims}
        assert orphans
        # a few records a round, round the chain (each op queued once: the queue is a set);
        # ops some of whose validators live on are gossip's to heal, not republished
        rounds = (seq + len(ops)) // 3 + 2
        assert sum(author.audit_published(limit=3) for _ in range(rounds)) == 0  # too soon
        ahead[0] += AUDIT_LAP_US
        assert sum(author.audit_published(limit=3) for _ in range(rounds)) == len(orphans)
        live = ClosestIndex([a for a in by_id if a not in victims])
        await wait_for(lambda: author.queue.pending() == 0, timeout=40, what="published again")
        for op in (op for op in ops if op.address in orphans):
            for agent in live.closest(op.basis, 3):
                state = by_id[agent].dht.state_of(op.address)
                assert state is not None and state[0] == INTEGRATED


async def test_a_rejected_op_is_logged_with_its_reason(tmp_path, caplog):
    from node.api import open_agent
    from node.core.ops import produce_ops
    from zomes.valueflows.entries import EconomicEvent
    from zomes.valueflows.units import parse_quantity
    from zomes.valueflows.zome import entry_type

    homes, _ = make_homes(tmp_path, ["a", "b"], redundancy=2)
    with open_ledger(homes[1], passphrase) as led:
        proc = led.create_process("milling", None, None)
        made = led.record(EventRequest("produce", resource="new:flour", quantity="10 kg",
                                       output_of=str(proc)))
    with open_agent(homes[1], passphrase) as b:  # an overdraft, past b's own checks
        me = str(b.agent_id)
        event = EconomicEvent(action="consume", provider=me, receiver=me,
                              resource_inventoried_as=str(made.created_resources["flour"]),
                              resource_quantity=parse_quantity("5000 kg"), input_of=str(proc))
        b.commit(lambda s: s.create(entry_type(EconomicEvent), event.to_content()))
        ops = [op for r in b.store.records() for op in produce_ops(r)]
    caplog.set_level("INFO", logger="coledger")
    async with open_node(homes[0], passphrase, memory_network=MemoryNetwork(), rpc=False) as a:
        a.take_ops(ops)
        assert a.validate_now().rejected
    rejected = [r for r in caplog.records if getattr(r, "event", None) == "op_rejected"]
    assert rejected and rejected[0].levelname == "INFO"
    fields = rejected[0].fields  # type: ignore[attr-defined]
    assert fields["author"] == me and fields["rule"] == "check_balance"
    assert "-4990" in fields["reason"]
    assert fields["reason"] in rejected[0].getMessage()
