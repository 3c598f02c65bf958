"""DHT links, pure parts: the check_link_delete rule (only a link's author deletes it, a
link of the same base, a link at all), the checks a reader applies to a link a peer sent
(node.core.links), and the "links" protocol's codec (dht.link_wire), garbage included."""

from __future__ import annotations

from functools import cache
from typing import Any

import cbor2
import pytest

from dht import link_wire
from dht.wire_fields import WireError
from node.core.actions import MAX_TAG_LEN
from node.core.cid import Cid
from node.core.identity import AgentKey
from node.core.links import MAX_DELETES, MAX_LINKS, Link, checked_link, merge_deletes
from node.core.ops import OpType, produce_ops
from node.core.outcome import VALID, Invalid, Unresolved
from node.core.records import SignedAction
from node.testing import MemoryAgent
from tests.unit.test_sys_validation import DictDeps
from validation.app import app_validate, check_link_delete

BASE = Cid.of(b"label:byproduct")
OTHER_BASE = Cid.of(b"label:waste")
TARGET = Cid.of(b"a proposal")


def _agent(seed: int) -> MemoryAgent:
    agent = MemoryAgent(AgentKey(bytes([seed]) * 32))
    agent.genesis()
    return agent


def _link(agent: MemoryAgent, base: Cid = BASE, tag: bytes = b"wheat") -> SignedAction:
    agent.commit(lambda s: s.create_link(base, TARGET, "valueflows", "offer", tag))
    return agent.records[-1].signed


def _unlink(agent: MemoryAgent, link: Cid, base: Cid = BASE) -> SignedAction:
    agent.commit(lambda s: s.delete_link(link, base))
    return agent.records[-1].signed


def _remove_op(delete: SignedAction):  # type: ignore[no-untyped-def]
    from node.core.records import Record

    return next(op for op in produce_ops(Record(delete))
                if op.type is OpType.REGISTER_REMOVE_LINK)


# -- check_link_delete -------------------------------------------------------------------


def test_the_author_deletes_its_own_link() -> None:
    farm = _agent(1)
    create = _link(farm)
    op = _remove_op(_unlink(farm, create.address))
    assert check_link_delete(op, DictDeps(farm.records)) == VALID


def test_another_agent_may_not_delete_a_link() -> None:
    farm, rival = _agent(1), _agent(2)
    create = _link(farm)
    op = _remove_op(_unlink(rival, create.address))
    outcome = check_link_delete(op, DictDeps(farm.records + rival.records))
    assert isinstance(outcome, Invalid) and outcome.rule == "check_link_delete"
    assert "author" in outcome.reason
    # and app validation says so before any zome is asked
    judged = app_validate(op, DictDeps(farm.records + rival.records), {}, lambda op: VALID)
    assert isinstance(judged, Invalid) and judged.rule == "check_link_delete"


def test_a_delete_names_a_link_of_its_own_base() -> None:
    farm = _agent(1)
    create = _link(farm)
    op = _remove_op(_unlink(farm, create.address, OTHER_BASE))
    outcome = check_link_delete(op, DictDeps(farm.records))
    assert isinstance(outcome, Invalid) and outcome.rule == "check_link_delete"


def test_a_delete_of_something_not_a_link_is_invalid() -> None:
    farm = _agent(1)
    note = farm.create("valueflows.Note", {"n": 1})
    op = _remove_op(_unlink(farm, note))
    outcome = check_link_delete(op, DictDeps(farm.records))
    assert isinstance(outcome, Invalid) and outcome.rule == "check_link_delete"


def test_a_delete_of_a_link_not_held_waits_for_it() -> None:
    farm = _agent(1)
    create = _link(farm)
    op = _remove_op(_unlink(farm, create.address))
    judged = app_validate(op, DictDeps(farm.records[-1:]), {}, lambda op: VALID)
    assert isinstance(judged, Unresolved) and create.address in judged.missing


# -- what a reader checks ------------------------------------------------------------------


def test_a_reader_keeps_genuine_links_and_drops_forged_ones() -> None:
    farm, rival = _agent(1), _agent(2)
    create = _link(farm)
    mine = _unlink(farm, create.address)
    theirs = _unlink(rival, create.address)
    link = checked_link(create, (mine, theirs), BASE)
    assert link is not None and link.deleted and link.deletes == (mine,)
    assert link.to_json()["tag"] == b"wheat".hex()
    assert checked_link(create, (), OTHER_BASE) is None  # naming another base
    unsigned = SignedAction(create.action, create.data, create.address, bytes(64))
    assert checked_link(unsigned, (), BASE) is None  # not signed by its author
    note = farm.records[2].signed
    assert checked_link(note, (), BASE) is None  # not a CreateLink
    assert merge_deletes(Link(create), link).deletes == (mine,)


def test_matching_by_type_and_tag_prefix() -> None:
    link = Link(_link(_agent(1), tag=b"wheat/organic"))
    assert link.matches(None, b"") and link.matches("offer", b"wheat/")
    assert not link.matches("request", b"") and not link.matches(None, b"barley")


@cache
def raw_links() -> list[link_wire.RawLink]:
    """A link with its delete by its author, and a bare link: samples of the "links"
    protocol (also for tests/unit/test_peer_decoders.py)."""
    farm = _agent(7)
    first, second = _link(farm, tag=b"wheat"), _link(farm, tag=b"bran")
    delete = _unlink(farm, first.address)
    return [link_wire.RawLink.of(Link(first, (delete,))), link_wire.RawLink.of(Link(second))]


def checked_links(raws: Any) -> list[object]:
    """What the node does with links a peer sent (node.runtime.cascade.get_links)."""
    return [raw.checked(BASE) for raw in raws]


def test_the_samples_check_out() -> None:
    assert [x is not None and x.deleted for x in checked_links(raw_links())] == [True, False]


# -- the codec -------------------------------------------------------------------------------


def _round_trip(message):  # type: ignore[no-untyped-def]
    data = link_wire.encode_links(message)
    assert link_wire.decode_links(type(message), data) == message
    return data


def test_requests_and_responses_round_trip() -> None:
    farm = _agent(1)
    create = _link(farm)
    delete = _unlink(farm, create.address)
    _round_trip(link_wire.LinksRequest(BASE))
    _round_trip(link_wire.LinksRequest(BASE, "offer", b"wheat", False, create.address, 10))
    raw = link_wire.RawLink.of(Link(create, (delete,)))
    _round_trip(link_wire.LinksResponse((raw,), True))
    checked = raw.checked(BASE)
    assert checked is not None and checked.deletes == (delete,)
    assert raw.checked(OTHER_BASE) is None
    assert link_wire.RawLink(b"garbage", bytes(64)).checked(BASE) is None


def _tampered(obj: dict[str, object], **changes: object) -> bytes:
    return cbor2.dumps({**obj, **changes}, canonical=True)


@pytest.mark.parametrize("changes", [
    {"t": "get_req"}, {"base": b"not a cid"}, {"link_type": 7}, {"link_type": "x" * 65},
    {"tag_prefix": "text"}, {"tag_prefix": b"x" * (MAX_TAG_LEN + 1)},
    {"include_deleted": 1}, {"after": b"x"}, {"limit": 0}, {"limit": MAX_LINKS + 1},
    {"limit": -1}, {"limit": 2**64}, {"extra": 1},
])
def test_garbage_requests_are_wire_errors(changes: dict[str, object]) -> None:
    good = link_wire.LinksRequest(BASE, "offer").to_obj()
    good["base"] = cbor2.CBORTag(42, b"\x00" + BASE.to_bytes())
    assert link_wire.decode_links(link_wire.LinksRequest, _tampered(good)).link_type == "offer"
    with pytest.raises(WireError):
        link_wire.decode_links(link_wire.LinksRequest, _tampered(good, **changes))


@pytest.mark.parametrize("links", [
    "no", [b"x"], [[b"a", b"s"]], [[b"a", b"s", "no"]], [[b"a", b"s", [[b"a"]]]],
    [[b"a", b"s" * 200, []]], [[b"a", b"s", [[b"a", b"s"]] * (MAX_DELETES + 1)]],
    [[b"a", b"s", []]] * (MAX_LINKS + 1), [[1, b"s", []]],
])
def test_garbage_responses_are_wire_errors(links: object) -> None:
    with pytest.raises(WireError):
        link_wire.decode_links(link_wire.LinksResponse,
                               cbor2.dumps({"t": "links_resp", "links": links, "more": False}))


@pytest.mark.parametrize("data", [b"", b"\xff", cbor2.dumps([1]), cbor2.dumps({"t": 1}),
                                  cbor2.dumps({"t": "links_resp", "links": [], "more": 0})])
def test_undecodable_bytes_are_wire_errors(data: bytes) -> None:
    for kind in (link_wire.LinksRequest, link_wire.LinksResponse):
        with pytest.raises(WireError):
            link_wire.decode_links(kind, data)  # type: ignore[type-var]
