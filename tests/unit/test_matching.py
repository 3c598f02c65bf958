"""The ranking of offers against requests (zomes/valueflows/matching.py): each factor can
change the order, quantities of another dimension never match, ties are ordered by
address whatever order the rows came in, and the offer's footprint per unit is shown."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import pytest

from node.core.cid import Cid
from zomes.valueflows.matching import pair, rank
from zomes.valueflows.units import parse_quantity

BRAN, FEED = "bafy-bran", "bafy-feed"
AGENTS = ("12D3KooW" + "A" * 44, "12D3KooW" + "B" * 44, "12D3KooW" + "C" * 44)


def row(proposal: str, purpose: str, author: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "proposal": proposal, "purpose": purpose, "author": author, "spec": BRAN,
        "quantity": "300 kg", "available": None, "minimum": None, "unit_based": False,
        "classes": [], "location": None, "has_beginning": None, "has_end": None}
    return {**base, **fields}


def request(**fields: Any) -> dict[str, Any]:
    return row("req-1", "request", "livestock", **fields)


def offer(proposal: str, **fields: Any) -> dict[str, Any]:
    return row(proposal, "offer", "farm-" + proposal, **fields)


def order(requests: list[dict[str, Any]], offers: list[dict[str, Any]]) -> list[str]:
    return [m.offer["proposal"] for m in rank(requests, offers)]


def test_the_same_specification_ranks_above_a_shared_classification():
    asked = request(classes=["byproduct"])
    same = offer("b", available="1 t")
    similar = offer("a", spec=FEED, available="1 t", classes=["byproduct"])
    other = offer("c", spec=FEED, available="1 t", classes=["organic"])
    assert order([asked], [similar, other, same]) == ["b", "a"]
    assert rank([asked], [similar])[0].fits["resource"].why == (
        "shared classification: byproduct")


def test_quantities_of_another_dimension_never_match_and_convertible_ones_do():
    asked = request()
    assert pair(asked, offer("a", available="300 l")) is None
    assert pair(asked, offer("b", available="1 kWh")) is None
    assert pair(asked, offer("c", quantity=None, available=None)) is None
    match = pair(asked, offer("d", available="0.5 t"))
    assert match is not None and match.fits["quantity"].score == 2


def test_covering_the_quantity_ranks_above_the_minimum_above_a_part():
    asked = request(minimum="100 kg")
    assert order([asked], [offer("a", available="50 kg"), offer("b", available="150 kg"),
                           offer("c", available="300 kg")]) == ["c", "b", "a"]
    too_big = pair(asked, offer("d", available="1 t", minimum="500 kg"))
    assert too_big is not None and too_big.fits["quantity"].score == 0
    each = pair(asked, offer("e", quantity="1 kg", unit_based=True))
    assert each is not None and each.fits["quantity"].score == 2


def test_overlapping_windows_rank_above_open_ended_above_disjoint():
    asked = request(has_beginning=100, has_end=200)
    assert order([asked], [offer("a", has_beginning=200, has_end=300),
                           offer("b"), offer("c", has_beginning=150, has_end=250)]
                 ) == ["c", "b", "a"]


def test_the_same_location_ranks_above_unknown_above_elsewhere():
    asked = request(location="Valley road")
    assert order([asked], [offer("a", location="Hill top"), offer("b"),
                           offer("c", location=" valley  ROAD")]) == ["c", "b", "a"]


def test_ties_are_ordered_by_addresses_whatever_the_input_order():
    asked = [request(), row("req-0", "request", "bakery")]
    offers = [offer("z"), offer("m"), offer("a")]
    first = [(m.request["proposal"], m.offer["proposal"]) for m in rank(asked, offers)]
    assert first == [(r, o) for r in ("req-0", "req-1") for o in ("a", "m", "z")]
    again = [(m.request["proposal"], m.offer["proposal"])
             for m in rank(asked[::-1], offers[::-1])]
    assert again == first


def test_an_agent_does_not_match_itself():
    assert pair(request(), row("o", "offer", "livestock")) is None


class Declared:
    """A footprint of 2 kWh and 0.5 kg CO2e per kilogram (per_unit like SpecFootprint)."""

    def per_unit(self, unit: str) -> Mapping[str, Fraction]:
        per = {"kilogram": Fraction(1), "tonne": Fraction(1000)}[unit]
        return {"energy": 2 * per, "co2e": Fraction(1, 2) * per}


def test_the_offers_footprint_per_unit_is_shown_where_declared():
    found = rank([request()], [offer("a", available="1 t", quantity="1 t"),
                               offer("b", spec=FEED, classes=["x"])],
                 footprints={BRAN: Declared()})
    assert [m.footprint for m in found] == [{"co2e": "500", "energy": "2000"}]
    as_json = found[0].to_json()
    assert as_json["score"] == 3 + 0 + 2 + 1 + 1
    assert as_json["footprint_per_unit"] == {"co2e": "500", "energy": "2000"}
    assert as_json["fits"]["quantity"]["why"] == "1 tonne covers the 300 kilogram asked"


def test_find_pairs_my_requests_with_others_offers_and_others_requests_with_my_surplus():
    from zomes.valueflows.matching import find, held_rows

    inventory = [
        {"address": "res-bran", "name": "bran", "conformsTo": BRAN,
         "onhandQuantity": {"hasNumericalValue": "400", "hasUnit": "kilogram"}},
        {"address": "res-flour", "name": "flour", "conformsTo": FEED,
         "onhandQuantity": {"hasNumericalValue": "900", "hasUnit": "kilogram"}},
        {"address": "res-gone", "conformsTo": BRAN,
         "onhandQuantity": {"hasNumericalValue": "0", "hasUnit": "kilogram"}}]
    held = held_rows("farm", inventory, {"res-bran": ["byproduct"], "res-gone": ["waste"]})
    assert [(h["proposal"], h["available"], h["classes"]) for h in held] == [
        ("res-bran", "400 kilogram", ["byproduct"])]
    mine_asked = row("req-farm", "request", "farm", spec=FEED)
    theirs_offered = row("off-mill", "offer", "mill", spec=FEED, available="1 t")
    theirs_asked = row("req-pigs", "request", "livestock")
    found = find("farm", [theirs_offered], [mine_asked, theirs_asked], held)
    assert [(m.request["proposal"], m.offer["proposal"], m.to_json()["held"])
            for m in found] == [("req-farm", "off-mill", False), ("req-pigs", "res-bran", True)]


@pytest.mark.parametrize(("workers", "batched"), [(1, False), (4, False), (4, True)])
def test_candidates_fetch_only_my_proposals_and_those_under_the_bases_they_name(workers,
                                                                               batched):
    """And the same with the listings read in threads, and with each listing's records
    read in batches: the same rows, in the same order, each record still fetched once (a
    fetch taking a while, so that the threads meet)."""
    import threading
    import time

    from zomes.valueflows.entries import Intent, Proposal
    from zomes.valueflows.matching import candidates
    from zomes.valueflows.proposals import INTENT_TYPE, PROPOSAL_TYPE, proposal_bases

    bran, hay = (str(Cid.of(name.encode())) for name in ("bran", "hay"))
    records: dict[str, dict[str, Any]] = {}
    links: dict[str, list[dict[str, str]]] = {}
    intents: dict[str, str] = {}  # proposal -> its intent

    def publish(author: str, purpose: str, spec: str, *classes: str) -> str:
        offer = purpose == "offer"
        intent = Intent(action="transfer", resource_conforms_to=spec,
                        resource_classified_as=classes, resource_quantity=parse_quantity("1 t"),
                        provider=author if offer else None, receiver=None if offer else author)
        address = str(Cid.of(f"{author}{purpose}{spec}{classes}".encode()))
        intents[address] = str(Cid.of(address.encode()))
        records[intents[address]] = {"action": {"entry_type": INTENT_TYPE, "author": author},
                                  "entry": intent.to_content()}
        records[address] = {"action": {"entry_type": PROPOSAL_TYPE, "author": author},
                            "entry": Proposal(purpose=purpose,
                                              publishes=(intents[address],)).to_content()}
        for base in proposal_bases(purpose, [intent]):
            links.setdefault(str(base), []).append({"target": address, "author": author})
        return address

    asked = publish(AGENTS[0], "request", bran, "feed")
    mine = publish(AGENTS[0], "offer", hay)
    answer = publish(AGENTS[1], "offer", bran)
    similar = publish(AGENTS[2], "offer", hay, "feed")
    wants_hay = publish(AGENTS[1], "request", hay)
    publish(AGENTS[2], "offer", hay)  # (another spec, no shared class: never read)
    publish(AGENTS[2], "request", bran)  # (a request for what I do not offer)
    fetched: list[str] = []
    threads: set[int] = set()

    def fetch(address: str) -> dict[str, Any] | None:
        fetched.append(address)
        threads.add(threading.get_ident())
        time.sleep(0.02 if workers > 1 else 0)
        return records.get(address)

    def fetch_many(addresses: Any) -> list[dict[str, Any] | None]:
        return [fetch(a) for a in addresses]

    offers, requests = candidates(AGENTS[0], lambda base, after: {"links": links.get(base, [])},
                                  fetch, workers=workers,
                                  fetch_many=fetch_many if batched else None)
    assert [o["proposal"] for o in offers] == [mine, similar, answer]  # (class, then spec)
    assert [r["proposal"] for r in requests] == [asked, wants_hay]
    assert sorted(set(fetched)) == sorted(fetched)  # each record fetched once
    assert set(fetched) == {a for p in (asked, mine, answer, similar, wants_hay)
                            for a in (p, intents[p])}
    assert (len(threads) > 1) == (workers > 1)
