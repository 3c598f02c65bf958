"""A proposal link's tag names the intents its proposal publishes (check_proposal_tag), so
a listing reads a proposal and its intents in one batch; a tag from a peer decodes or
raises only the project's decoding error, and a lying one costs a listing a second batch,
never a wrong row."""

from __future__ import annotations

import random
from typing import Any

import pytest

from node.core.actions import CreateLink
from node.core.cid import Cid
from node.core.errors import DecodeError
from node.core.outcome import VALID
from node.core.records import Record
from tests.unit.test_vf_proposals import (
    SPEC,
    _agent,
    _judge,
    _published,
    _reader,
    _rule,
)
from zomes.valueflows.entries import Proposal
from zomes.valueflows.offers import ProposalRequest, list_proposals
from zomes.valueflows.proposals import (
    CID_LEN,
    PROPOSAL_LINK,
    RULES,
    proposal_base,
    proposal_tag,
    tag_intents,
)


def _tagged(reader: tuple[Any, Any], records: list[Record]) -> Any:
    """`reader`'s links_page with each link's tag (hex), as the front door shows it."""
    tags = {str(r.action.target): r.action.tag.hex() for r in records
            if isinstance(r.action, CreateLink)}
    links_page = reader[0]

    def page(base: str, after: str | None) -> dict[str, Any]:
        found = links_page(base, after)
        return {**found, "links": [{**x, "tag": tags[x["target"]]} for x in found["links"]]}

    return page


def test_publish_tags_each_link_with_the_intents_the_proposal_publishes() -> None:
    farm = _agent(1)
    done = _published(farm)
    links = [r for r in farm.records if isinstance(r.action, CreateLink)]
    assert len(links) == 4 and "check_proposal_tag" in RULES
    for link in links:
        assert isinstance(link.action, CreateLink)
        assert tag_intents(link.action.tag) == (done.intents, done.reciprocal)
        assert _judge(link, farm.records) == VALID
    assert proposal_tag(Proposal(publishes=tuple(str(Cid.of(bytes([i]))) for i in range(30)))
                        ) == b""  # (more than fit in a tag: an empty one)


def test_check_proposal_tag_refuses_a_tag_naming_other_intents() -> None:
    farm = _agent(1)
    done = _published(farm)
    base = proposal_base("offer", "class", "byproduct")
    right = bytes([1]) + done.intents[0].to_bytes() + done.reciprocal[0].to_bytes()
    wrong = [b"", bytes([2]) + right[1:], bytes([1]) + done.intents[0].to_bytes(),
             bytes([1]) + done.reciprocal[0].to_bytes() + done.intents[0].to_bytes(),
             right + b"\0", b"\x01garbage"]
    for tag in wrong:
        farm.commit(lambda s, t=tag: s.create_link(base, done.proposal, "valueflows",
                                                   PROPOSAL_LINK, t))
        assert _rule(_judge(farm.records[-1], farm.records)) == "check_proposal_tag", tag
    farm.commit(lambda s: s.create_link(base, done.proposal, "valueflows", PROPOSAL_LINK, right))
    assert _judge(farm.records[-1], farm.records) == VALID


def test_a_tag_from_a_peer_decodes_or_raises_only_the_decoding_error() -> None:
    rng = random.Random(13)
    cid = Cid.of(b"x").to_bytes()
    samples = [b"\x00", b"\x05" + cid, b"\x01" + cid[:-1], b"\x01" + b"\0" * CID_LEN,
               *(bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 37, 73, 200])))
                 for _ in range(300))]
    for tag in samples:
        try:
            primary, back = tag_intents(tag)
        except DecodeError:
            continue
        assert len(primary) + len(back) == (len(tag) - 1) // CID_LEN
    assert tag_intents(b"") == ((), ())
    with pytest.raises(DecodeError):
        tag_intents(b"\x02" + cid)


def test_a_listing_reads_the_proposals_and_their_intents_in_one_batch() -> None:
    farm = _agent(1)
    for k in range(6):
        _published(farm, ProposalRequest(purpose="offer", spec=SPEC, quantity=f"{k + 1} t",
                                         reciprocal="5 EUR" if k % 2 else None))
    reader = _reader([farm])
    batches: list[list[str]] = []

    def many(addresses: Any) -> list[dict[str, Any] | None]:
        batches.append(list(addresses))
        return [reader[1](a) for a in addresses]

    def one(address: str) -> dict[str, Any] | None:
        raise AssertionError(f"{address} read one by one")

    alone = list_proposals("offer", SPEC, None, *reader)
    assert len(alone) == 6
    page = _tagged(reader, farm.records)
    assert list_proposals("offer", SPEC, None, page, one, fetch_many=many) == alone
    assert [len(b) for b in batches] == [6 + 9]  # the proposals and their 9 intents at once

    def lying(base: str, after: str | None) -> dict[str, Any]:  # tags naming nothing real
        found = page(base, after)
        tags = ["01" + Cid.of(b"elsewhere").to_bytes().hex(), "zz", "07", ""]
        return {**found, "links": [{**x, "tag": tags[i % 4]}
                                   for i, x in enumerate(found["links"])]}

    batches.clear()
    assert list_proposals("offer", SPEC, None, lying, one, fetch_many=many) == alone
    assert len(batches) == 2  # (what the tags did not name: read in a second batch)


def test_own_listed_answers_the_open_links_of_ones_own_chain_under_a_base() -> None:
    from zomes.valueflows.offers import open_links, own_listed, withdraw

    farm = _agent(1)
    kept, gone = _published(farm), _published(farm)
    farm.commit(lambda s: withdraw(s, open_links(farm.records, gone.proposal)))
    base = proposal_base("offer", "spec", SPEC)
    listed = own_listed(farm.records, base)
    assert list(listed) == [str(kept.proposal)]
    author, tag = listed[str(kept.proposal)]
    assert author == str(farm.agent_id)
    assert tag_intents(bytes.fromhex(tag)) == (kept.intents, kept.reciprocal)
    assert own_listed(farm.records, proposal_base("request", "spec", SPEC)) == {}
