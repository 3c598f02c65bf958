"""Warrants spread on the in-memory network: a member that sends an invalid event to
one authority only is blocked by every other node (the warrant carries the op; a
receiver that lacks the author's chain fetches it, as for any unresolved op, instead of
dropping the warrant); and a forged warrant blocks its issuer everywhere."""

from __future__ import annotations

from contextlib import AsyncExitStack

import trio

from dht import wire
from dht.memory import MemoryNetwork
from node.api import open_ledger
from node.core.chain import ChainHead
from node.core.ops import OpType, produce_ops
from node.core.outcome import Invalid
from node.core.scratch import Scratch
from node.runtime.conductor import open_node
from tests.integration.network_harness import make_homes, passphrase
from validation.warrants import InvalidOpEvidence, issue_warrant
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest


async def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


def farm(home) -> tuple[str, str]:
    """A spec, a process and 100 kg of wheat on `home`'s chain: (wheat, process)."""
    with open_ledger(home, passphrase) as led:
        spec = led.create_spec("wheat", "kg", False, None)
        proc = led.create_process("milling", None, None)
        done = led.record(EventRequest("produce", resource="new:wheat", conforms_to=str(spec),
                                       quantity="100 kg", output_of=str(proc)))
        return str(done.created_resources["wheat"]), str(proc)


async def open_mesh(stack: AsyncExitStack, homes, net: MemoryNetwork) -> list:
    nodes = []
    for home in homes:
        nodes.append(await stack.enter_async_context(open_node(
            home, passphrase, memory_network=net, gossip_interval=0.5, rpc=False)))
    for i, node in enumerate(nodes):
        for other in nodes[i + 1:]:
            assert await node.connect(other.transport.listen_addrs()[0]) is not None
    return nodes


async def test_an_invalid_event_sent_to_one_authority_gets_its_author_blocked_everywhere(
        tmp_path):
    names = ["prog", "cheat", "b", "c", "d", "e"]
    homes, _ = make_homes(tmp_path, names, redundancy=3)
    wheat, mill = farm(homes[1])
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        nodes = await open_mesh(stack, homes, net)
        cheat, others = nodes[1], [n for i, n in enumerate(nodes) if i != 1]
        cheat.enqueue_new_records()
        await wait_for(lambda: cheat.queue.pending() == 0, what="honest chain published")
        # a tampered node: it signs an overdraw after its head, unchecked, not on its chain
        store = cheat.ledger.agent.store
        head = store.head()
        scratch = Scratch(ChainHead(head.seq, head.address, head.timestamp), cheat.key,
                          cheat.clock)
        req = EventRequest("consume", resource=wheat, quantity="500 kg", input_of=mill)
        coordinator.record_event(scratch, cheat.ledger.view(), str(cheat.me), req,
                                 cheat.clock())
        (bad,) = scratch.records
        activity = [op for op in produce_ops(bad) if op.type is OpType.REGISTER_AGENT_ACTIVITY]
        # ...to one of its agent-activity authorities only
        victim = next(n for n in others if n.me in cheat.authorities(cheat.me.to_bytes()))
        request = wire.PublishRequest(tuple(wire.RawOp.of(op) for op in activity))
        await cheat.transport.request(victim.me, "publish", wire.encode_message(request),
                                      timeout=10)
        await wait_for(lambda: victim.dht.is_blocked(cheat.me), what="the victim warrants")
        activity_authorities = set(victim.authorities(cheat.me.to_bytes())) - {cheat.me}
        # some nodes never held the cheat's chain: they must fetch it to judge
        assert any(n.me not in activity_authorities for n in others)
        await wait_for(lambda: all(n.dht.is_blocked(cheat.me) for n in others),
                       what="every other node blocks the cheat")
        assert not any(n.dht.is_blocked(victim.me) for n in others)


async def test_a_forged_warrant_blocks_its_issuer_on_every_node(tmp_path):
    names = ["prog", "honest", "liar", "c", "d", "e"]
    homes, _ = make_homes(tmp_path, names, redundancy=3)
    farm(homes[1])
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        nodes = await open_mesh(stack, homes, net)
        honest, liar = nodes[1], nodes[2]
        others = [n for n in nodes if n not in (honest, liar)]
        honest.enqueue_new_records()
        await wait_for(lambda: honest.queue.pending() == 0, what="honest chain published")
        last = list(honest.ledger.agent.store.records())[-1]
        op = next(o for o in produce_ops(last) if o.type is OpType.REGISTER_AGENT_ACTIVITY)
        lie = issue_warrant(liar.key, InvalidOpEvidence.of(op, Invalid("check_balance", "no")),
                            liar.clock())
        message = wire.encode_message(wire.WarrantMessage((lie.to_bytes(),)))
        for node in others:
            await liar.transport.request(node.me, "warrant", message, timeout=10)
        await wait_for(lambda: all(n.dht.is_blocked(liar.me) for n in others),
                       what="every receiver blocks the liar")
        assert not any(n.dht.is_blocked(honest.me) for n in others)
