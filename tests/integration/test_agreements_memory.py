"""Countersigned agreements between nodes with real homes on the in-memory network: an
accepted agreement is on both chains and integrated by the authorities; a peer proposing
an entry type this node has no hook for, or an agreement whose clause names a third agent,
is refused and the node goes on."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest
import trio

from node.api import open_ledger
from node.core.encoding import decode, encode
from node.core.errors import LocalError
from node.runtime.countersign import TransferRequest
from tests.integration.network_harness import passphrase
from tests.integration.test_countersign_memory import network, wait_for
from zomes.valueflows.agreement_hook import AgreementRequest, ClauseRequest
from zomes.valueflows.agreements import AGREEMENT_TYPE, find_clause, signed_agreement
from zomes.valueflows.zome import COUNTERSIGNED_TYPE

DUE = 1_803_000_000_000_000


def agreement(to, wait_s: float = 5.0) -> TransferRequest:
    request = AgreementRequest(give=(ClauseRequest(quantity="300 kg", due_us=DUE),),
                               get=(ClauseRequest(quantity="450 EUR", due_us=DUE),))
    return TransferRequest(request, str(to), wait_s, AGREEMENT_TYPE)


def written(home) -> list:
    with open_ledger(home, passphrase) as led:
        return [r for r in led.agent.store.records()
                if getattr(r.action, "entry_type", None) == AGREEMENT_TYPE]


async def test_an_accepted_agreement_is_on_both_chains_and_integrated(tmp_path):
    async with AsyncExitStack() as stack:
        homes, (mill, bakery, shop) = await network(stack, tmp_path,
                                                    ["mill", "bakery", "shop"])
        row = await mill.countersigner.start(agreement(bakery.me))
        assert row.state == "proposed"
        done = await bakery.countersigner.accept(row.id)
        assert done.state == "committed"
        [on_mill], [on_bakery] = written(homes[0]), written(homes[1])
        assert on_mill.entry == on_bakery.entry and str(on_mill.entry.address) == done.event
        found = signed_agreement(on_mill.entry.value)
        assert found is not None and set(found[1]) == {str(mill.me), str(bakery.me)}
        terms, _ = found
        assert find_clause(terms, "bafy2bzacenothing") is None
        for node in (mill, bakery):
            node.enqueue_new_records()
        await wait_for(lambda: mill.queue.pending() == 0 and bakery.queue.pending() == 0,
                       timeout=30)
        assert all(n.dht.counts()["rejected"] == 0 for n in (mill, bakery, shop))
        record = await shop.get(on_bakery.address)
        assert record is not None and record.entry == on_mill.entry


async def test_unknown_entry_types_and_third_agents_are_refused(tmp_path):
    async with AsyncExitStack() as stack:
        homes, (mill, bakery, shop) = await network(stack, tmp_path,
                                                    ["mill", "bakery", "shop"])
        # a node that countersigns transfers only declines an agreement as it arrives
        bakery.countersigner.apps = {COUNTERSIGNED_TYPE: bakery.countersigner.apps[
            COUNTERSIGNED_TYPE]}
        row = await mill.countersigner.start(agreement(bakery.me))
        assert row.state == "declined" and "cannot be countersigned here" in row.reason
        assert bakery.countersigner.sessions.get(row.id) is None
        with pytest.raises(LocalError, match="cannot be countersigned here"):
            await bakery.countersigner.start(agreement(mill.me))
        # a hostile mill rewrites its second clause to bind the bakery: the shop's node
        # refuses to sign it (and tells the mill), nothing is written
        honest = mill.transport.request

        async def tampering(peer, name, payload, *, timeout):
            message = decode(payload)
            if name == "countersign" and message.get("t") == "cs-propose":
                clauses = message["event"]["clauses"]
                clauses[1] = {**clauses[1], "provider": str(bakery.me)}
                payload = encode(message)
            return await honest(peer, name, payload, timeout=timeout)

        mill.transport.request = tampering
        row = await mill.countersigner.start(agreement(shop.me))
        assert shop.countersigner.sessions.get(row.id).state == "pending"
        with pytest.raises(LocalError, match="check_agreement_parties"):
            await shop.countersigner.accept(row.id)
        assert shop.countersigner.sessions.get(row.id).state == "declined"
        await wait_for(lambda: mill.countersigner.sessions.get(row.id).state == "declined")
        assert written(homes[0]) == written(homes[2]) == []


async def test_auto_accept_covers_transfers_never_agreements(tmp_path):
    """A node that accepts the mill's deliveries on its own still leaves an agreement of
    the mill's (binding commitments) for a person to accept."""
    async with AsyncExitStack() as stack:
        def auto(i, nodes):
            return ([str(nodes[0].me)] if i == 1 else ())
        homes, (mill, bakery) = await network(stack, tmp_path, ["mill", "bakery"], auto=auto)
        assert mill.me in bakery.countersigner.auto_accept_from
        row = await mill.countersigner.start(agreement(bakery.me, wait_s=30.0))
        await wait_for(lambda: bakery.countersigner.sessions.get(row.id) is not None)
        await trio.sleep(1.0)  # time enough for an auto-accept to sign, were there one
        assert bakery.countersigner.sessions.get(row.id).state == "pending"
        assert written(homes[1]) == []
        done = await bakery.countersigner.accept(row.id)
        assert done.state == "committed" and len(written(homes[1])) == 1
