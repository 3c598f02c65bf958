"""What a cooperative offers to matching without publishing an offer
(zomes/valueflows/surplus.py): what it holds classified byproduct or waste, and the
outputs of its processes that nothing of its own uses, on hand and planned; an output
stops being surplus once a process of its own consumes it, a commitment or an intent of
its own names it, and becomes surplus again when that offer is withdrawn. Paired with the
network's requests by matching.find, ranked on time as any offer."""

from __future__ import annotations

from typing import Any

from node.core.actions import CreateLink
from node.core.cid import Cid
from node.core.identity import AgentKey
from node.testing import MemoryAgent
from tests.unit.test_matching import row
from zomes.valueflows.matching import find
from zomes.valueflows.proposals import PROPOSAL_LINK
from zomes.valueflows.surplus import UNUSED, OwnChain, surplus_rows, unused_outputs
from zomes.valueflows.units import parse_quantity

DUE = 1_900_000_000_000_000


class Farm:
    """A farm's chain in memory: specifications, a milling process, what it made."""

    def __init__(self) -> None:
        self.agent = MemoryAgent(AgentKey(b"\x52" * 32))
        self.agent.genesis()
        self.me = str(self.agent.agent_id)
        self.bran, self.flour, self.straw, self.wheat = (
            self.create("ResourceSpecification", {"name": n, "defaultUnitOfResource": "kilogram"})
            for n in ("bran", "flour", "straw", "wheat"))
        self.milling = self.create("Process", {"name": "milling"})
        self.baking = self.create("Process", {"name": "baking"})
        self.resources: dict[str, str] = {}

    def create(self, local: str, content: dict[str, Any]) -> str:
        return str(self.agent.create(f"valueflows.{local}", content))

    def made(self, spec: str, quantity: str, **extra: Any) -> str:
        """A new resource of `spec` produced by milling; its address."""
        name = f"res-{len(self.resources)}"
        resource = self.create("EconomicResource", {
            "name": name, "unitOfResource": "kilogram", "conformsTo": spec, **extra})
        self.resources[name] = resource
        self.event("produce", resourceInventoriedAs=resource, outputOf=self.milling,
                   resourceQuantity=parse_quantity(quantity).to_content())
        return resource

    def event(self, action: str, **fields: Any) -> str:
        return self.create("EconomicEvent", {"action": action, "provider": self.me,
                                             "receiver": self.me, **fields})

    def commitment(self, action: str, spec: str, quantity: str, **fields: Any) -> str:
        return self.create("Commitment", {
            "action": action, "provider": self.me, "receiver": self.me,
            "resourceConformsTo": spec,
            "resourceQuantity": parse_quantity(quantity).to_content(), **fields})

    def offer(self, spec: str) -> str:
        """An offer of `spec` published (an intent, a proposal, its link); the link."""
        intent = self.create("Intent", {"action": "transfer", "provider": self.me,
                                        "resourceConformsTo": spec})
        proposal = self.create("Proposal", {"purpose": "offer", "publishes": [intent]})
        return str(self.agent.commit(lambda s: s.create_link(
            Cid.of(b"base"), Cid.parse(proposal), "valueflows", PROPOSAL_LINK)))

    def withdraw(self, link: str) -> None:
        self.agent.commit(lambda s: s.delete_link(Cid.parse(link), Cid.of(b"base")))

    def unused(self) -> set[str]:
        return unused_outputs(OwnChain.of(self.agent.records))[0]


def onhand(address: str, spec: str, amount: str, *labels: str) -> dict[str, Any]:
    return {"address": address, "name": "x", "conformsTo": spec, "classifiedAs": list(labels),
            "onhandQuantity": {"hasNumericalValue": amount, "hasUnit": "kilogram"}}


def test_an_output_is_surplus_until_something_of_its_own_uses_it() -> None:
    farm = Farm()
    farm.made(farm.bran, "400 kg")
    flour = farm.made(farm.flour, "900 kg")
    assert farm.unused() == {farm.bran, farm.flour}
    farm.event("consume", resourceInventoriedAs=flour, inputOf=farm.baking,
               resourceQuantity=parse_quantity("100 kg").to_content())
    assert farm.unused() == {farm.bran}  # baking consumes flour
    link = farm.offer(farm.bran)
    assert farm.unused() == set()  # offered already: the offer is matched as an offer
    farm.withdraw(link)
    assert farm.unused() == {farm.bran}
    farm.commitment("transfer", farm.bran, "100 kg")  # a delivery committed
    assert farm.unused() == set()
    assert [r.action.link_type for r in farm.agent.records
            if isinstance(r.action, CreateLink)] == [PROPOSAL_LINK]


def test_planned_outputs_nothing_consumes_are_offered_from_when_they_are_due() -> None:
    farm = Farm()
    planned = farm.commitment("produce", farm.straw, "2 t", outputOf=farm.milling, due=DUE,
                              atLocation="Farm lane 1")
    farm.commitment("produce", farm.wheat, "5 t", outputOf=farm.milling, due=DUE)
    farm.commitment("consume", farm.wheat, "5 t", inputOf=farm.baking, due=DUE)
    finished = farm.commitment("produce", farm.flour, "1 t", outputOf=farm.milling,
                               finished=True)
    unused, commitments = unused_outputs(OwnChain.of(farm.agent.records))
    assert unused == {farm.straw} and list(commitments) == [planned] and finished
    [straw] = surplus_rows(farm.me, farm.agent.records, [])
    assert (straw["proposal"], straw["planned"], straw["held"], straw["available"],
            straw["has_beginning"], straw["location"], straw["name"], straw["surplus"]) == (
        planned, True, False, "2 tonne", DUE, "Farm lane 1", "straw", UNUSED)


def test_the_surplus_is_held_byproducts_and_waste_then_unused_outputs_each_once() -> None:
    farm = Farm()
    bran = farm.made(farm.bran, "400 kg")
    flour = farm.made(farm.flour, "900 kg")
    farm.event("consume", resourceInventoriedAs=flour, inputOf=farm.baking,
               resourceQuantity=parse_quantity("100 kg").to_content())
    inventory = [onhand(bran, farm.bran, "400"), onhand(flour, farm.flour, "800", "waste"),
                 onhand("res-gone", farm.bran, "0"), onhand("res-wheat", farm.wheat, "9")]
    rows = surplus_rows(farm.me, farm.agent.records, inventory)
    assert [(r["proposal"], r["available"], r["surplus"], r["held"]) for r in rows] == [
        (bran, "400 kilogram", UNUSED, True), (flour, "800 kilogram", "waste", True)]


def test_find_pairs_the_networks_requests_with_the_planned_surplus_ranked_on_time() -> None:
    farm = Farm()
    planned = farm.commitment("produce", farm.straw, "2 t", outputOf=farm.milling, due=DUE)
    surplus = surplus_rows(farm.me, farm.agent.records, [])
    late = row("req-late", "request", "livestock", spec=farm.straw, quantity="1 t",
               has_beginning=DUE, has_end=DUE + 10**12)
    early = row("req-early", "request", "stables", spec=farm.straw, quantity="1 t",
                has_beginning=DUE - 10**12, has_end=DUE - 1)
    litres = row("req-l", "request", "stables", spec=farm.straw, quantity="1 l")
    found = find(farm.me, [], [early, litres, late], surplus)
    assert [(m.request["proposal"], m.offer["proposal"], m.fits["time"].why)
            for m in found] == [("req-late", planned, "open-ended windows"),
                                ("req-early", planned, "the windows do not overlap")]
    assert found[0].to_json()["planned"] is True and found[0].to_json()["surplus"] == UNUSED


def test_the_footprints_unknown_here_are_read_from_the_offerers_chains_best_first() -> None:
    from zomes.valueflows.matching import MAX_FOOTPRINT_CHAINS, footprint_authors, rank

    asked = row("req", "request", "me", quantity="1 kg")
    offers = [row(f"o{n:02}", "offer", f"coop-{n % 20:02}", quantity=f"{n + 1} kg")
              for n in range(40)]
    found = rank([asked], [*offers, row("mine", "offer", "me")])
    assert footprint_authors("me", found, {}) == [
        f"coop-{n:02}" for n in range(20)][:MAX_FOOTPRINT_CHAINS]
    assert footprint_authors("me", found, {"bafy-bran": object()}) == []  # (all known)
    other = rank([row("req", "request", "me", classes=["feed"])],
                 [row("x", "offer", "coop-x", spec=None, classes=["feed"])])
    assert len(other) == 1 and footprint_authors("me", other, {}) == []  # (no spec)
