"""Our chain against the network's copy of it (node.core.own_chain): what proves a
rollback, and which chain a recovery restores."""

from __future__ import annotations

import pytest

from node.core.errors import LocalError
from node.core.identity import AgentKey
from node.core.own_chain import divergence, plan_recovery
from node.core.records import Record, SignedAction
from node.testing import MemoryAgent


def chain(n: int) -> MemoryAgent:
    """An agent with genesis and `n` more entries."""
    agent = MemoryAgent()
    agent.genesis()
    for i in range(n):
        agent.create("note", {"n": i})
    return agent


def rolled_back(agent: MemoryAgent, keep: int) -> MemoryAgent:
    """The same agent (key, clock) with only its first `keep` records: a restored backup."""
    return MemoryAgent(key=agent.key, clock=agent.clock, records=list(agent.records[:keep]))


def by_seq(records: list[Record]) -> dict[int, object]:
    return {r.signed.action.seq: r.signed.address for r in records}


def signed(records: list[Record]) -> list[SignedAction]:
    return [r.signed for r in records]


def test_a_chain_the_network_holds_no_more_of_is_not_behind():
    agent = chain(5)
    head = agent.records[-1].signed.action.seq
    assert divergence(agent.agent_id, head, by_seq(agent.records), signed(agent.records)) is None


def test_a_longer_chain_of_ours_on_the_network_is_behind():
    agent = chain(12)
    local = rolled_back(agent, 8).records
    found = divergence(agent.agent_id, 7, by_seq(local), signed(agent.records))
    assert found is not None
    network_seq = agent.records[-1].signed.action.seq
    assert (found.local_seq, found.network_seq, found.fork_seq) == (7, network_seq, None)


def test_another_action_at_one_of_our_seqs_is_a_fork():
    agent = chain(12)
    local = rolled_back(agent, 8)
    local.create("note", {"written": "after the rollback"})
    found = divergence(agent.agent_id, 8, by_seq(local.records), signed(agent.records))
    assert found is not None and found.fork_seq == 8


def test_other_authors_bad_signatures_and_set_aside_actions_prove_nothing():
    agent = chain(12)
    local = rolled_back(agent, 8).records
    stranger = chain(12)
    theirs = signed(agent.records[8:])
    unsigned = [SignedAction.from_bytes(s.data, bytes(64)) for s in theirs]
    assert divergence(agent.agent_id, 7, by_seq(local), signed(stranger.records)) is None
    assert divergence(agent.agent_id, 7, by_seq(local), unsigned) is None
    aside = {s.address for s in theirs}
    assert divergence(agent.agent_id, 7, by_seq(local), theirs, aside) is None
    assert divergence(agent.agent_id, 7, by_seq(local), theirs) is not None


def test_recovery_appends_what_the_network_holds_after_our_head():
    agent = chain(12)
    local = rolled_back(agent, 8).records
    plan = plan_recovery(agent.agent_id, local, agent.records)
    assert plan.base_seq == 7 and plan.drop == ()
    assert [r.signed.address for r in plan.append] == [r.signed.address for r in agent.records[8:]]
    assert plan.head_seq == agent.records[-1].signed.action.seq and plan.set_aside == ()


def test_recovery_drops_what_we_wrote_after_the_rollback_and_sets_aside_shorter_branches():
    agent = chain(12)
    local = rolled_back(agent, 8)
    local.create("note", {"written": "after the rollback"})
    plan = plan_recovery(agent.agent_id, local.records, [*agent.records, local.records[-1]])
    assert plan.base_seq == 7
    assert [s.address for s in plan.drop] == [local.records[-1].signed.address]
    assert len(plan.append) == len(agent.records) - 8
    # ours is longer: nothing appended, the network's shorter branch is set aside
    for i in range(7):
        local.create("note", {"more": i})
    plan = plan_recovery(agent.agent_id, local.records, agent.records)
    assert plan.drop == () and plan.append == ()
    assert set(plan.set_aside) == {r.signed.address for r in agent.records[8:]}


def test_recovery_ignores_records_that_do_not_link_or_are_not_ours():
    agent = chain(12)
    local = rolled_back(agent, 8).records
    gap = [*agent.records[:8], *agent.records[9:]]  # seq 8 withheld: 9.. cannot be linked
    plan = plan_recovery(agent.agent_id, local, gap)
    assert plan.append == () and plan.base_seq == 7
    stranger = chain(14)
    plan = plan_recovery(agent.agent_id, local, stranger.records)
    assert plan.append == () and plan.set_aside == ()
    tampered = [Record(r.signed, None) if r.entry is not None else r for r in agent.records]
    assert plan_recovery(agent.agent_id, local, tampered).append == ()


def test_a_home_without_a_chain_has_nothing_to_recover():
    with pytest.raises(LocalError):
        plan_recovery(AgentKey.generate().agent_id, [], [])
