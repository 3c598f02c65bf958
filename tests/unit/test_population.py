"""A node's remembered view of the population against a fresh look after every change:
joins, deaths, partitions, members and blocks (node/runtime/population.py)."""

from __future__ import annotations

import os
import random
from contextlib import AsyncExitStack

from dht.authority import authorities
from dht.memory import MemoryNetwork
from node.core.identity import AgentId, AgentKey
from node.runtime.population import Population

R = 5


def fresh_look(network: MemoryNetwork, me: AgentId, members: set[AgentId],
               blocked: set[AgentId], basis: bytes) -> list[AgentId]:
    """The authorities of `basis` from scratch: live peers `me` can reach, members, not blocked."""
    counted = [p for p in network.live_peers()
               if network.reachable(me, p) and p in members and p not in blocked]
    return authorities(basis, [me, *counted], R)


async def test_remembered_answers_match_a_fresh_look_after_every_change() -> None:
    rng = random.Random(5)
    network = MemoryNetwork()
    keys = [AgentKey.generate() for _ in range(80)]
    members = {k.agent_id for k in keys[:70]}  # the last ten are no members
    blocked: set[AgentId] = set()
    bases = [os.urandom(34) for _ in range(60)]
    async with AsyncExitStack() as stack:
        live = [await stack.enter_async_context(network.open_transport(k)) for k in keys[:8]]
        me = live[0].local_id
        population = Population(me, live[0], R)
        position = population.position
        for step in range(120):
            roll = rng.random()
            if roll < 0.55 and len(live) < len(keys):
                joining = network.open_transport(keys[len(live)])
                live.append(await stack.enter_async_context(joining))
            elif roll < 0.75 and len(live) > 3:
                network.kill(live[rng.randrange(1, len(live))].local_id)
            elif roll < 0.82:
                others = [t.local_id for t in live]
                network.partition([rng.sample(others, len(others) // 2)])
            elif roll < 0.87:
                network.heal()
            elif roll < 0.92:
                blocked.add(rng.choice(sorted(members, key=lambda a: a.to_bytes())))
            population.refresh(members, blocked)
            forgotten = population.forgotten_since(position)
            position = population.position
            for basis in rng.sample(bases, 20):
                before = population.authorities(basis)  # remembered, or looked up now
                assert before == fresh_look(network, me, members, blocked, basis), step
            if forgotten is not None:
                assert len(forgotten) <= len(bases)
