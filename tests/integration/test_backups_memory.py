"""A restored home's node on the in-memory network, with real SQLite homes: it lifts the
"restored, unchecked" mark once its authorities answer and hold nothing beyond the backup;
alone (no member to compare with) it keeps refusing writes until `recover(force=True)`
accepts the restored chain as it is."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import trio

from dht.memory import MemoryNetwork
from node.core.refusals import ChainUnchecked, NoPeerAnswered
from node.store.backup import restore_backup, write_backup
from node.store.home import open_agent
from tests.integration.network_harness import make_homes, passphrase
from tests.integration.test_rollback_memory import head_seq, record_events, start


def backed_up_and_restored(home: Path, tmp_path: Path) -> Path:
    with open_agent(home, passphrase) as agent:
        write_backup(home, agent.key(), agent.info.name, tmp_path / "home.backup")
    again = tmp_path / "restored"
    restore_backup(tmp_path / "home.backup", again, passphrase)
    return again


async def test_a_restored_home_lifts_its_mark_when_the_network_holds_nothing_more(tmp_path):
    homes, _ = make_homes(tmp_path, ["a", "b", "c"], redundancy=3)
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        b = await start(stack, homes[1], net)
        await start(stack, homes[2], net, [b.transport.listen_addrs()[0]])
        bootstrap = [b.transport.listen_addrs()[0]]
        async with AsyncExitStack() as first:
            a = await start(first, homes[0], net, bootstrap)
            record_events(homes[0], ["e0", "e1"])
            a.enqueue_new_records()
            with trio.fail_after(20):
                while a.queue.pending():
                    await trio.sleep(0.05)
        again = backed_up_and_restored(homes[0], tmp_path)
        with pytest.raises(ChainUnchecked):
            record_events(again, ["too early"])
        async with AsyncExitStack() as second:
            a = await start(second, again, net, bootstrap)
            with trio.fail_after(20):
                while a.own_chain.unchecked:
                    await trio.sleep(0.05)
            assert a.own_chain.mark is None
            seq = head_seq(again)
            record_events(again, ["after"])
            assert head_seq(again) > seq


async def test_a_lone_restored_home_is_accepted_only_when_forced(tmp_path):
    [home], _ = make_homes(tmp_path, ["alone"])
    record_events(home, ["e0"])
    again = backed_up_and_restored(home, tmp_path)
    async with AsyncExitStack() as stack:
        node = await start(stack, again, MemoryNetwork())
        assert node.own_chain.unchecked
        with pytest.raises(ChainUnchecked):
            record_events(again, ["refused"])
        with pytest.raises(NoPeerAnswered):
            await node.own_chain.recover()
        result = await node.own_chain.recover(force=True)
        assert result["accepted_unchecked"] and result["restored"] == 0
        assert not node.own_chain.unchecked
        record_events(again, ["accepted"])
