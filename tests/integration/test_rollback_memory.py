"""A home rolled back (a restored backup, a WAL that lost its last frames) on the
in-memory network, with real SQLite homes: the node notices that the network holds
more of its chain, refuses writes, recovers the lost records, and never dies of a fork
of its own."""

from __future__ import annotations

import sqlite3
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import trio

import cli
from dht import wire
from dht.memory import MemoryNetwork
from node.api import open_ledger
from node.core.cid import Cid
from node.core.clock import now_us
from node.core.refusals import ChainBehind, RecoveryLoses
from node.runtime.conductor import open_node
from node.runtime.recovery import CHECK_WINDOW
from node.store.dht import INTEGRATED
from tests.integration.network_harness import (
    backup,
    make_homes,
    passphrase,
    restore,
    skipping_clock,
)
from zomes.valueflows.coordinator import EventRequest


async def wait_for(predicate, timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


def record_events(home: Path, names: list[str]) -> list[Cid]:
    with open_ledger(home, passphrase) as led:
        return [led.record(EventRequest("raise", resource=f"new:{name}", quantity="1 kg")).event
                for name in names]


def head_seq(home: Path) -> int:
    with open_ledger(home, passphrase) as led:
        head = led.agent.head()
        assert head is not None
        return head.seq


async def start(stack: AsyncExitStack, home: Path, net: MemoryNetwork, bootstrap=(),  # type: ignore[no-untyped-def]
                clock=now_us):
    return await stack.enter_async_context(open_node(
        home, passphrase, memory_network=net, gossip_interval=0.3, rpc=False,
        bootstrap=list(bootstrap), clock=clock))


async def test_a_restored_backup_is_noticed_refuses_writes_and_recovers(tmp_path):
    homes, _ = make_homes(tmp_path, ["a", "b", "c"], redundancy=3)
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        b = await start(stack, homes[1], net)
        c = await start(stack, homes[2], net, [b.transport.listen_addrs()[0]])
        bootstrap = [b.transport.listen_addrs()[0]]
        async with AsyncExitStack() as first:
            a = await start(first, homes[0], net, bootstrap)
            record_events(homes[0], [f"e{i}" for i in range(8)])
            backup(homes[0], tmp_path / "after-8.db")
            lost = record_events(homes[0], [f"e{i}" for i in range(8, 12)])
            full = head_seq(homes[0])
            a.enqueue_new_records()
            await wait_for(lambda: a.queue.pending() == 0)
        restore(homes[0], tmp_path / "after-8.db")
        short = head_seq(homes[0])
        assert short < full
        async with AsyncExitStack() as second:
            a = await start(second, homes[0], net, bootstrap)
            # noticed on start, from what the authorities (b, c) hold of a's chain
            behind = a.status()["behind"]
            assert behind is not None and behind["network_seq"] == full
            with pytest.raises(ChainBehind) as refused:
                record_events(homes[0], ["forked"])
            assert str(refused.value) == (
                f"your chain is behind the network (local head seq {short}, network has seq"
                f" {full})")
            assert cli._hinted(refused.value) == (  # (the command line's words: as before)
                f"your chain is behind the network (local head seq {short}, network has seq"
                f" {full}): run `coledger chain recover`")
            assert head_seq(homes[0]) == short  # nothing written
            result = await a.own_chain.recover()
            assert result["restored"] == full - short and result["head_seq"] == full
            assert a.status()["behind"] is None
            with open_ledger(homes[0], passphrase) as led:
                assert led.agent.verify().seq == full
                assert all(str(event) in led.view().events for event in lost)
            new = record_events(homes[0], ["after recovery"])[0]
            a.enqueue_new_records()
            await wait_for(lambda: a.queue.pending() == 0)
            for peer in (b, c):
                assert a.me not in peer.blocked
                found = await peer.get(new)
                assert found is not None and found.address == new
            assert all(p.dht.counts()["rejected"] == 0 for p in (b, c))
            assert b.dht.counts()[INTEGRATED] > 0


async def test_a_fork_of_ours_reaching_the_node_flags_the_home_and_the_node_stays_up(tmp_path):
    """The issue's crash loop: a rolled-back chain written again forks; when the fork
    comes back to the node (it is its own authority), its validation found a fork of
    its own author and the node ended with "an agent cannot warrant itself"."""
    homes, _ = make_homes(tmp_path, ["a", "b", "c"], redundancy=3)
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        b = await start(stack, homes[1], net)
        await start(stack, homes[2], net, [b.transport.listen_addrs()[0]])
        async with AsyncExitStack() as first:
            a = await start(first, homes[0], net, [b.transport.listen_addrs()[0]])
            record_events(homes[0], [f"e{i}" for i in range(8)])
            mid = head_seq(homes[0])
            record_events(homes[0], [f"e{i}" for i in range(8, 12)])
            a.enqueue_new_records()
            await wait_for(lambda: a.queue.pending() == 0)
        # a damaged WAL: the last actions, the node's own ops and its publish mark lost
        db = sqlite3.connect(homes[0] / "coledger.db")
        with db:
            db.execute("DELETE FROM chain WHERE seq > ?", (mid,))
            db.execute("DELETE FROM ops")
            db.execute("UPDATE meta SET value = ? WHERE key = 'published_upto_seq'",
                       (str(mid).encode(),))
        db.close()
        record_events(homes[0], ["written after the rollback"])  # (no node: nothing knew)
        forked = head_seq(homes[0])
        async with AsyncExitStack() as second:
            a = await start(second, homes[0], net)  # alone: it publishes its fork to itself
            # (alone, its ops never count as published: it waits until it holds them)
            await wait_for(lambda: a.status()["ops"]["integrated"] > 0)
            await a.connect(b.transport.listen_addrs()[0])
            await wait_for(lambda: a.status()["behind"] is not None)
            await trio.sleep(1.5)  # a few rounds of validation and gossip: still running
            behind = a.status()["behind"]
            assert "fork" in behind["reason"] and behind["local_seq"] == forked
            with pytest.raises(ChainBehind):
                record_events(homes[0], ["more"])
            # (the others warranted and blocked a for its fork: what a holds of its old
            # chain is what came back before that; to get it back a must drop its fork)
            with pytest.raises(RecoveryLoses, match="differ after seq"):
                await a.own_chain.recover()
            result = await a.own_chain.recover(force=True)
            assert result["head_seq"] >= mid
            await trio.sleep(1.0)  # the dropped fork may come back by gossip: set aside
            assert a.status()["behind"] is None
            with open_ledger(homes[0], passphrase) as led:
                assert led.agent.verify().seq == result["head_seq"]


async def test_a_rollback_the_network_never_saw_still_publishes_what_comes_after(
        tmp_path, autojump_clock):
    """The actions lost were never published beyond the node itself: nothing can bring
    them back, but the chain's new actions must still reach the network (the node's
    mark of what it had queued pointed past the new head, and they were skipped).
    (On trio's mock clock: what the loops wait for, gossip's settling time among it,
    passes at once.)"""
    homes, _ = make_homes(tmp_path, ["a", "b", "c"], redundancy=3)
    net = MemoryNetwork()
    clock = skipping_clock()
    async with AsyncExitStack() as stack:
        b = await start(stack, homes[1], net, clock=clock)
        c = await start(stack, homes[2], net, [b.transport.listen_addrs()[0]], clock=clock)
        bootstrap = [b.transport.listen_addrs()[0]]
        async with AsyncExitStack() as first:
            a = await start(first, homes[0], net, bootstrap, clock=clock)
            record_events(homes[0], [f"e{i}" for i in range(8)])
            mid = head_seq(homes[0])
            a.enqueue_new_records()
            await wait_for(lambda: a.queue.pending() == 0)
            net.partition([[a.me], [b.me, c.me]])
            record_events(homes[0], [f"e{i}" for i in range(8, 12)])
            a.enqueue_new_records()
            await trio.sleep(0.5)
        net.heal()
        db = sqlite3.connect(homes[0] / "coledger.db")
        with db:  # lost with the node's own copy of them, its publish queue kept its mark
            db.execute("DELETE FROM chain WHERE seq > ?", (mid,))
            db.execute("DELETE FROM ops")
            db.execute("DELETE FROM publish_queue")
        db.close()
        async with AsyncExitStack() as second:
            a = await start(second, homes[0], net, bootstrap, clock=clock)
            assert a.status()["behind"] is None  # (nobody holds what was lost)
            new = record_events(homes[0], ["after the rollback"])[0]
            a.enqueue_new_records()
            # published to its authorities (b and c hold it, not only a's own chain)
            await wait_for(lambda: all(p.dht.get_record(new) is not None for p in (b, c)),
                           timeout=15)
            assert a.queue.pending() == 0
            assert all(a.me not in p.blocked for p in (b, c))


async def test_a_fork_warrant_about_us_flags_the_home_and_the_node_stays_up(tmp_path):
    """A peer warrants us with a fork we signed (another copy of this home wrote on an
    older state of the chain): the node is never its own judge's victim, it flags the
    home so that nothing more is written on top of a chain the network calls forked."""
    from dht import wire
    from node.core.chain import ChainHead
    from node.core.clock import now_us
    from node.core.scratch import Scratch
    from validation.warrants import ForkEvidence, issue_warrant

    homes, _ = make_homes(tmp_path, ["a", "b", "c"], redundancy=3)
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        b = await start(stack, homes[1], net)
        a = await start(stack, homes[0], net, [b.transport.listen_addrs()[0]])
        record_events(homes[0], ["e0", "e1"])
        store = a.ledger.agent.store
        head = store.head()
        prev = store.get_record_at(head.seq - 1)
        ours = store.get_record_at(head.seq)
        base = ChainHead(prev.action.seq, prev.address, prev.action.timestamp)
        other = Scratch(base, a.key, now_us)
        other.create("note", {"written by": "an older copy of this home"})
        evidence = ForkEvidence.of(ours.signed, other.records[0].signed)
        warrant = issue_warrant(b.key, evidence, now_us())
        message = wire.encode_message(wire.WarrantMessage((warrant.to_bytes(),)))
        await b.transport.request(a.me, "warrant", message, timeout=5)
        behind = a.status()["behind"]
        assert behind is not None and "fork warrant" in behind["reason"]
        with pytest.raises(ChainBehind):
            record_events(homes[0], ["e2"])
        await trio.sleep(1.0)  # the node's loops still run: it answers and gossips
        assert a.me in b.peers()


async def test_the_check_asks_for_the_end_of_the_chain_and_still_notices_a_rollback(tmp_path):
    """The check every minute asks our authorities for our chain from CHECK_WINDOW actions
    below our head on, not for the whole chain (of a long-lived cooperative, every minute,
    from each authority); what a rollback lost lies above the head, so it is still seen."""
    homes, _ = make_homes(tmp_path, ["a", "b", "c"], redundancy=3)
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        b = await start(stack, homes[1], net)
        await start(stack, homes[2], net, [b.transport.listen_addrs()[0]])
        bootstrap = [b.transport.listen_addrs()[0]]
        async with AsyncExitStack() as first:
            a = await start(first, homes[0], net, bootstrap)
            record_events(homes[0], [f"e{i}" for i in range(CHECK_WINDOW + 16)])
            backup(homes[0], tmp_path / "backup.db")
            record_events(homes[0], ["lost 1", "lost 2"])
            full = head_seq(homes[0])
            a.enqueue_new_records()
            await wait_for(lambda: a.queue.pending() == 0)
            asked: list[wire.GetRequest] = []
            answered: list[int] = []
            ask = a.cascade.ask

            async def spy(peer, request):  # type: ignore[no-untyped-def]
                answer = await ask(peer, request)
                if isinstance(request, wire.GetRequest):
                    asked.append(request)
                    answered.append(len(answer))
                return answer

            a.cascade.ask = spy  # type: ignore[method-assign]
            assert await a.own_chain.check() is None
            assert asked and {r.since for r in asked} == {full - CHECK_WINDOW}
            assert max(answered) == CHECK_WINDOW + 1  # the end of the chain, not all of it
        restore(homes[0], tmp_path / "backup.db")
        async with AsyncExitStack() as second:
            a = await start(second, homes[0], net, bootstrap)
            behind = a.status()["behind"]
            assert behind is not None and behind["network_seq"] == full
