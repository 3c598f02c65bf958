"""Countersigned transfers between nodes with real homes on the in-memory network:
a completed transfer is on both chains and valid at the authorities; decline, timeout,
an initiator that commits while the counterparty misses the answer, and two sessions
on one agent."""

from __future__ import annotations

from contextlib import AsyncExitStack
from decimal import Decimal

import pytest
import trio

from dht.memory import MemoryNetwork
from node.api import open_ledger
from node.core.clock import now_us
from node.core.errors import LocalError
from node.runtime.conductor import open_node
from node.runtime.countersign import TransferRequest
from node.store.dht import INTEGRATED
from node.store.sessions import ChainLocked
from tests.integration.network_harness import make_homes, passphrase, skipping_clock
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.zome import COUNTERSIGNED_TYPE


def harvest(home) -> str:
    with open_ledger(home, passphrase) as led:
        spec = led.create_spec("wheat", "kg", False, None)
        done = led.record(EventRequest("raise", resource="new:wheat", conforms_to=str(spec),
                                       quantity="100 kg"))
        return str(done.created_resources["wheat"])


def balance(home, name: str) -> Decimal | None:
    with open_ledger(home, passphrase) as led:
        view = led.view()
    for address, state in view.states.items():
        if view.resources.get(address) and view.resources[address].name == name:
            return state.accounting
    return None


def countersigned(home) -> list:
    with open_ledger(home, passphrase) as led:
        return [r for r in led.agent.store.records()
                if getattr(r.action, "entry_type", None) == COUNTERSIGNED_TYPE]


async def wait_for(predicate, timeout: float = 15.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


async def network(stack, tmp_path, names, auto=None, clock=now_us):
    homes, _ = make_homes(tmp_path, names, redundancy=3)
    net = MemoryNetwork()
    nodes = []
    for i, home in enumerate(homes):
        accept = auto(i, nodes) if auto else ()
        nodes.append(await stack.enter_async_context(open_node(
            home, passphrase, memory_network=net, gossip_interval=0.5, rpc=False,
            auto_accept_from=accept, clock=clock)))
    for node in nodes[1:]:
        assert await node.connect(nodes[0].transport.listen_addrs()[0]) is not None
    await wait_for(lambda: all(len(n.peers()) == len(nodes) for n in nodes))
    return homes, nodes


def transfer(to, resource, quantity="40 kg", wait_s=5.0, to_resource=None) -> TransferRequest:
    return TransferRequest(EventRequest("transfer", resource=resource, quantity=quantity,
                                        to_resource=to_resource), str(to), wait_s)


async def test_accepted_transfer_is_on_both_chains_and_valid_everywhere(tmp_path):
    async with AsyncExitStack() as stack:
        homes, (farm, mill, bakery) = await network(stack, tmp_path, ["farm", "mill", "bakery"])
        wheat = harvest(homes[0])
        row = await farm.countersigner.start(transfer(mill.me, wheat))
        assert row.state == "proposed"
        with pytest.raises(ChainLocked, match="locked by countersigning session"):
            harvest(homes[0])  # the initiator's chain is locked meanwhile: nothing written
        pending = mill.countersigner.sessions.all(frozenset({"pending"}))
        assert [p.id for p in pending] == [row.id]
        done = await mill.countersigner.accept(row.id)
        assert done.state == "committed"
        assert farm.countersigner.sessions.get(row.id).state == "committed"
        [on_farm], [on_mill] = countersigned(homes[0]), countersigned(homes[1])
        assert on_farm.entry == on_mill.entry and str(on_farm.entry.address) == done.event
        assert balance(homes[0], "wheat") == 60 and balance(homes[1], "wheat") == 40
        harvest(homes[0])  # unlocked again
        # every op of both records is integrated by authorities, none rejected
        for node in (farm, mill):
            node.enqueue_new_records()
        await wait_for(lambda: farm.queue.pending() == 0 and mill.queue.pending() == 0, timeout=30)
        assert all(n.dht.counts()["rejected"] == 0 for n in (farm, mill, bakery))
        record = await bakery.get(on_mill.address)
        assert record is not None and record.entry == on_farm.entry
        assert sum(n.dht.counts()[INTEGRATED] for n in (farm, mill, bakery)) > 0


async def test_decline_and_timeout_write_nothing_and_unlock(tmp_path, autojump_clock):
    """(On trio's mock clock: the session's time runs out at once.)"""
    async with AsyncExitStack() as stack:
        homes, (farm, mill) = await network(stack, tmp_path, ["farm", "mill"],
                                            clock=skipping_clock())
        wheat = harvest(homes[0])
        heads = [len(list(open_ledger_records(h))) for h in homes]
        row = await farm.countersigner.start(transfer(mill.me, wheat))
        declined = await mill.countersigner.decline(row.id, "not today")
        assert declined.state == "declined"
        assert farm.countersigner.sessions.get(row.id).state == "declined"
        assert "not today" in farm.countersigner.sessions.get(row.id).reason
        short = await farm.countersigner.start(transfer(mill.me, wheat, wait_s=1.0))
        await trio.sleep(1.6)
        farm.countersigner.sweep()
        mill.countersigner.sweep()
        assert farm.countersigner.sessions.get(short.id).state == "expired"
        assert mill.countersigner.sessions.get(short.id).state == "expired"
        with pytest.raises(LocalError, match="expired"):
            await mill.countersigner.accept(short.id)
        assert [len(list(open_ledger_records(h))) for h in homes] == heads
        harvest(homes[0])  # not locked


def open_ledger_records(home):
    with open_ledger(home, passphrase) as led:
        return list(led.agent.store.records())


async def test_counterparty_that_misses_the_decision_resolves_it(tmp_path):
    async with AsyncExitStack() as stack:
        homes, (farm, mill) = await network(stack, tmp_path, ["farm", "mill"])
        wheat = harvest(homes[0])
        row = await farm.countersigner.start(transfer(mill.me, wheat))
        original = farm.countersigner._on_accept

        def commit_then_drop(peer, msg):  # the farm commits, the answer is lost
            original(peer, msg)
            raise LocalError("connection lost")

        farm.countersigner._on_accept = commit_then_drop
        signed = await mill.countersigner.accept(row.id)
        assert signed.state == "signed"
        assert farm.countersigner.sessions.get(row.id).state == "committed"
        with pytest.raises(ChainLocked, match="being resolved"):
            harvest(homes[1])  # the mill's chain waits for the resolution
        await wait_for(lambda: mill.countersigner.sessions.get(row.id).state == "committed",
                       timeout=10)
        assert countersigned(homes[0])[0].entry == countersigned(homes[1])[0].entry


async def test_two_sessions_on_one_agent_do_not_interleave(tmp_path):
    async with AsyncExitStack() as stack:
        homes, (farm, mill, bakery) = await network(stack, tmp_path, ["farm", "mill", "bakery"])
        wheat = harvest(homes[0])
        flour = harvest(homes[2])
        first = await farm.countersigner.start(transfer(mill.me, wheat))
        with pytest.raises(ChainLocked):
            await farm.countersigner.start(transfer(bakery.me, wheat, quantity="1 kg"))
        # the bakery proposes to the mill too: the mill may hold only one session at a time
        second = await bakery.countersigner.start(transfer(mill.me, flour, quantity="5 kg"))
        assert (await mill.countersigner.accept(first.id)).state == "committed"
        assert (await mill.countersigner.accept(second.id)).state == "committed"
        chain = open_ledger_records(homes[1])
        seqs = [r.action.seq for r in chain
                if getattr(r.action, "entry_type", None) == COUNTERSIGNED_TYPE]
        assert seqs == sorted(seqs) and len(seqs) == 2


async def test_auto_accept_and_overdraw_refused_before_anything_is_signed(tmp_path):
    async with AsyncExitStack() as stack:
        homes, (farm, mill) = await network(
            stack, tmp_path, ["farm", "mill"],
            auto=lambda i, nodes: [str(nodes[0].me)] if i == 1 else [])
        wheat = harvest(homes[0])
        with pytest.raises(LocalError, match="check_balance"):
            await farm.countersigner.start(transfer(mill.me, wheat, quantity="500 kg"))
        row = await farm.countersigner.start(transfer(mill.me, wheat, quantity="2500 g"))
        await wait_for(lambda: farm.countersigner.sessions.get(row.id).state == "committed")
        await wait_for(lambda: mill.countersigner.sessions.get(row.id).state == "committed")
        assert balance(homes[0], "wheat") == Decimal("97.5")
        assert balance(homes[1], "wheat") == Decimal("2.5")


async def test_a_counterparty_whose_initiator_is_gone_unlocks_after_the_window(
        tmp_path, autojump_clock):
    """The farm vanishes after the mill signed, before deciding: the mill stays locked
    through the window and the grace (the farm might have committed), then learns from
    the farm's agent-activity authorities that nothing was written there, and unlocks.
    (On trio's mock clock: the window and the grace pass at once.)"""
    from node.runtime.countersign import session_json

    finished = [False]
    async with AsyncExitStack() as stack:
        homes, (farm, mill, bakery) = await network(stack, tmp_path, ["farm", "mill", "bakery"],
                                                    clock=skipping_clock())
        wheat = harvest(homes[0])
        farm.enqueue_new_records()
        await wait_for(lambda: farm.queue.pending() == 0, timeout=30)
        window, grace = 2.0, 2.0
        mill.countersigner.grace_us = int(grace * 1e6)
        row = await farm.countersigner.start(transfer(mill.me, wheat, wait_s=window))
        end = farm.countersigner.sessions.get(row.id).expires_us

        def vanish(peer, msg):  # the farm is gone before it decides: nobody reaches it
            # (a partition, not MemoryNetwork.kill: that cancels the block it was opened in,
            # this test's body with it)
            farm.transport._network.partition([[farm.me]])
            raise LocalError("connection lost")

        farm.countersigner._on_accept = vanish
        signed = await mill.countersigner.accept(row.id)
        assert signed.state == "signed"
        shown = session_json(mill.countersigner.sessions.get(row.id), mill.clock(),
                             mill.countersigner.grace_us)
        assert shown["waiting_for"].startswith("signed; waiting for the initiator's decision")
        with pytest.raises(LocalError, match="resolved"):
            await mill.countersigner.decline(row.id)
        # locked until the window and the grace are over: the farm might have committed
        while mill.clock() < end + mill.countersigner.grace_us - 300_000:
            assert mill.countersigner.sessions.get(row.id).state == "signed"
            await trio.sleep(0.1)
        await wait_for(lambda: mill.countersigner.sessions.get(row.id).state == "abandoned",
                       timeout=15)
        assert "did not commit it within the window" in \
            mill.countersigner.sessions.get(row.id).reason
        assert countersigned(homes[1]) == []
        harvest(homes[1])  # unlocked: the mill writes again
        finished[0] = True
    assert finished[0]  # (the body ran to its end)
