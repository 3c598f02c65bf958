"""Offers and requests across in-memory nodes with real homes: the farm offers bran
classified byproduct; another node lists it by class and by specification through the
front door inside a node (the base's authorities asked); a withdrawn offer disappears.
And the commands on one home: published and listed through its running node's socket,
and, without a node, the listing's one-line error with nothing written."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import pytest
import trio

from dht.memory import MemoryNetwork
from node.client import LocalClient
from node.core.cid import Cid
from node.in_node import InNodeClient
from node.runtime.node import Node
from tests.cli_home import CliHome
from tests.integration.network_harness import passphrase
from tests.integration.test_links_memory import _published, four_nodes
from tests.integration.test_node_memory import wait_for
from zomes.valueflows.offers import ProposalRequest, list_proposals
from zomes.valueflows.proposals import proposal_base


def _listing(node: Node, purpose: str, spec: str | None, label: str | None) -> Any:
    """list_proposals asked through `node`'s front door (run in a worker thread)."""
    door = InNodeClient(node)

    def links_page(base: str, after: str | None) -> dict[str, Any]:
        return trio.from_thread.run(lambda: door.links(base, "proposal", after=after))

    def fetch(address: str) -> dict[str, Any] | None:
        return trio.from_thread.run(lambda: door.get(address))

    return trio.to_thread.run_sync(
        lambda: list_proposals(purpose, spec, label, links_page, fetch))


async def test_the_farms_bran_is_listed_by_class_and_spec_and_leaves_when_withdrawn(tmp_path):
    async with AsyncExitStack() as stack:
        homes, nodes = await four_nodes(stack, tmp_path)
        farm_door = LocalClient(homes[0], passphrase, [])
        bran = farm_door.create_spec("bran", "kg", False, None)
        wheat = farm_door.create_spec("wheat", "kg", False, None)
        offer = farm_door.propose(ProposalRequest(
            purpose="offer", spec=bran, quantity="800 kg", minimum="100 kg",
            reciprocal="20 EUR", classes=("byproduct",), location="Farm lane 1"))
        farm_door.propose(ProposalRequest(purpose="offer", spec=wheat, quantity="5 t"))
        livestock = LocalClient(homes[3], passphrase, [])
        feed = livestock.propose(ProposalRequest(purpose="request", spec=bran,
                                                 quantity="300 kg", classes=("organic",)))
        await _published(nodes[0])
        await _published(nodes[3])
        base = proposal_base("offer", "class", "byproduct")
        outsider = next(n for n in nodes if n.me not in nodes[0].authorities(
            base.to_bytes()))  # (R = 3 of 4: one node is none)
        by_class = await _listing(outsider, "offer", None, "byproduct")
        assert [(r["proposal"], r["author"], r["spec"], r["available"], r["minimum"],
                 r["for"], r["location"]) for r in by_class] == [
            (offer["proposal"], str(nodes[0].me), bran, "800 kilogram", "100 kilogram",
             "20 euro", "Farm lane 1")]
        by_spec = await _listing(nodes[2], "offer", bran, None)
        assert [r["proposal"] for r in by_spec] == [offer["proposal"]]
        assert len(await _listing(nodes[1], "offer", None, None)) == 2
        requests = await _listing(nodes[0], "request", bran, None)
        assert [(r["proposal"], r["author"]) for r in requests] == [
            (feed["proposal"], str(nodes[3].me))]
        # another member cannot withdraw the farm's offer; the farm can
        with pytest.raises(Exception, match="no open proposal of this agent"):
            livestock.withdraw_proposal(offer["proposal"])
        done = farm_door.withdraw_proposal(offer["proposal"])
        assert len(done["deleted_links"]) == len(offer["links"]) == 3
        await _published(nodes[0])
        assert await _listing(outsider, "offer", None, "byproduct") == []
        assert await _listing(outsider, "offer", bran, None) == []
        assert len(await _listing(outsider, "offer", None, None)) == 1
        with pytest.raises(Exception, match="no open proposal"):
            farm_door.withdraw_proposal(offer["proposal"])


@pytest.fixture
def coop(tmp_path, capsys, monkeypatch) -> CliHome:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", "offers test")
    monkeypatch.chdir(tmp_path)
    c = CliHome(tmp_path / "home", capsys)
    c("init", "--name", "Farm")
    c("network", "create", "valley")
    return c


def test_without_a_node_a_listing_says_so_in_one_line_and_nothing_is_written(coop):
    spec = coop("spec", "create", "bran", "--unit", "kg")["address"]
    before = coop.length()
    for command in ("offers", "requests"):
        assert "no node is running" in coop.fails(command, "--class", "byproduct")
        assert "no node is running" in coop.fails("--json", command, "--spec", spec)
    assert "needs --spec and --quantity" in coop.fails("offer", "--spec", spec)
    assert "is not an address" in coop.fails("offer", "--spec", "bran", "--quantity", "1 kg")
    assert "--for" in coop.fails("offer", "--spec", spec, "--quantity", "1 kg", "--for", "lots")
    assert "--until must be after --from" in coop.fails(
        "request", "--spec", spec, "--quantity", "1 kg", "--from", "2027-01-02",
        "--until", "2027-01-01")
    assert "--from" in coop.fails("request", "--spec", spec, "--quantity", "1 kg",
                                  "--from", "soon")
    assert "no open proposal" in coop.fails("offer", "--withdraw", spec)
    assert "no open proposal" in coop.fails("offer", "--spec", spec, "--quantity", "1 kg",
                                            "--replace", spec)
    assert "not both" in coop.fails("offer", "--withdraw", spec, "--replace", spec)
    assert coop.length() == before


def test_an_offer_through_the_command_line_is_listed_by_the_running_node(coop):
    from node.api import open_node

    spec = coop("spec", "create", "bran", "--unit", "kg")["address"]
    made = coop("offer", "--spec", spec, "--quantity", "800 kg", "--class", "byproduct",
                "--class", "organic", "--for", "20 EUR", "--until", "2030-01-01")
    assert len(made["links"]) == 4  # all, the spec, two classes
    organic = proposal_base("offer", "class", "organic")

    async def main() -> tuple[Any, str, Any]:
        async with open_node(coop.home, lambda: "offers test",
                             memory_network=MemoryNetwork(), gossip_interval=0.2) as node:
            node.enqueue_new_records()  # (alone: its own authority of every base)
            await wait_for(lambda: node.dht.get_links(organic) != [], what="listed")
            listed = await trio.to_thread.run_sync(
                lambda: coop("offers", "--class", "organic"))
            table = await trio.to_thread.run_sync(lambda: coop.text("offers", "--spec", spec))
            new = await trio.to_thread.run_sync(lambda: coop(
                "offer", "--spec", spec, "--quantity", "500 kg", "--class", "organic",
                "--replace", made["proposal"]))
            node.enqueue_new_records()
            await wait_for(lambda: [x.target for x in node.dht.get_links(organic)] == [
                Cid.parse(new["proposal"])], what="replaced")
            replaced = await trio.to_thread.run_sync(
                lambda: coop("offers", "--class", "organic"))
            withdrawn = await trio.to_thread.run_sync(
                lambda: coop("offer", "--withdraw", new["proposal"]))
            node.enqueue_new_records()
            await wait_for(lambda: node.dht.get_links(organic) == [], what="unlisted")
            gone = await trio.to_thread.run_sync(lambda: coop("offers", "--class", "organic"))
            return listed, table, (new, replaced, withdrawn, gone)

    listed, table, gone = trio.run(main)
    assert [(r["proposal"], r["classes"], r["for"]) for r in listed] == [
        (made["proposal"], ["byproduct", "organic"], "20 euro")]
    assert "800 kilogram" in table and "byproduct,organic" in table and "2030-01-01" in table
    new, replaced, withdrawn, nothing = gone
    assert new["replaces"] == made["proposal"] and len(new["deleted_links"]) == 4
    assert [(r["proposal"], r["available"], r["classes"]) for r in replaced] == [
        (new["proposal"], "500 kilogram", ["organic"])]
    assert withdrawn["withdrawn"] is True and nothing == []



def test_the_authors_ledger_refuses_a_broken_rule_and_writes_nothing(coop):
    from node.api import open_ledger
    from node.runtime.ledger import RuleBroken
    from zomes.valueflows.entries import Intent, Proposal
    from zomes.valueflows.proposals import INTENT_TYPE, PROPOSAL_LINK, PROPOSAL_TYPE

    spec = coop("spec", "create", "bran", "--unit", "kg")["address"]
    made = coop("offer", "--spec", spec, "--quantity", "800 kg", "--class", "byproduct")
    before = coop.length()
    other = "12D3KooW" + "A" * 44
    with open_ledger(coop.home, lambda: "offers test") as led:
        proposal = Cid.parse(made["proposal"])
        with pytest.raises(RuleBroken, match="check_proposal_link"):
            led.create_link(proposal_base("offer", "class", "waste"), proposal, "valueflows",
                            PROPOSAL_LINK)
        with pytest.raises(RuleBroken, match="check_intent_party"):
            led.commit(lambda s, v: s.create(INTENT_TYPE, Intent(
                action="transfer", provider=other).to_content()))
        with pytest.raises(RuleBroken, match="check_proposal_intents"):
            led.commit(lambda s, v: s.create(PROPOSAL_TYPE, Proposal(
                purpose="offer", publishes=(made["proposal"],)).to_content()))
    assert coop.length() == before
