"""The DHT's links room (node/store/links.py) on a real SQLite file: a link integrated at
its base's authority is listed by base, filtered by type and tag prefix, paged by
address; a delete hides it whichever of the two integrated first."""

from __future__ import annotations

from pathlib import Path

from node.core.cid import Cid
from node.core.identity import AgentKey
from node.core.ops import Op, OpType, produce_ops
from node.store.dht import INTEGRATED, DhtStore
from node.store.links import LINK_OPS
from node.store.sqlite import open_store
from node.testing import MemoryAgent

NOW = 1_800_000_000_000_000
BASE = Cid.of(b"label:byproduct")
OTHER = Cid.of(b"label:waste")


def _link_ops(agent: MemoryAgent, n: int) -> list[Op]:
    return [op for r in agent.records[n:] for op in produce_ops(r) if op.type in LINK_OPS]


def _integrate(dht: DhtStore, ops: list[Op]) -> None:
    """As the validation workflow does: the ops integrated, their links held."""
    with dht.transaction():
        added = dht.add_ops(ops, NOW)
        dht.finish_many([(a, INTEGRATED, None, None) for a in added], NOW)
        for op in ops:
            dht.hold_link(op)


def test_links_by_base_type_tag_and_page(tmp_path: Path) -> None:
    farm = MemoryAgent(AgentKey(b"\x11" * 32))
    farm.genesis()
    start = len(farm.records)
    targets = [Cid.of(bytes([i])) for i in range(25)]
    for i, target in enumerate(targets):
        tag = b"wheat/%d" % i if i % 2 else b"bran/%d" % i
        farm.commit(lambda s, t=target, tag=tag: s.create_link(BASE, t, "valueflows", "offer", tag))
    farm.commit(lambda s: s.create_link(OTHER, targets[0], "valueflows", "offer"))
    farm.commit(lambda s: s.create_link(BASE, targets[0], "valueflows", "request"))
    with open_store(tmp_path / "a.db", create=True) as store:
        dht = DhtStore(store)
        _integrate(dht, _link_ops(farm, start))
        offers = dht.get_links(BASE, "offer")
        assert len(offers) == 25 and {x.target for x in offers} == set(targets)
        assert [x.address.to_bytes() for x in offers] == sorted(
            x.address.to_bytes() for x in offers)  # address order
        assert all(x.base == BASE and x.author == farm.agent_id for x in offers)
        assert len(dht.get_links(BASE)) == 26 and len(dht.get_links(OTHER)) == 1
        assert {x.tag for x in dht.get_links(BASE, "offer", b"wheat/")} == {
            b"wheat/%d" % i for i in range(1, 25, 2)}
        assert dht.get_links(BASE, "offer", b"rye") == []
        # pages of 10, from the last address of the page before
        pages, after = [], None
        while True:
            page = dht.get_links(BASE, "offer", limit=10, after=after)
            pages.append(page)
            if len(page) < 10:
                break
            after = page[-1].address
        assert [len(p) for p in pages] == [10, 10, 5]
        assert [x.address for p in pages for x in p] == [x.address for x in offers]
        assert dht.get_links(BASE, limit=5000) == dht.get_links(BASE)  # capped (1,000)


def test_a_delete_hides_a_link_whichever_integrates_first(tmp_path: Path) -> None:
    farm = MemoryAgent(AgentKey(b"\x12" * 32))
    farm.genesis()
    start = len(farm.records)
    farm.commit(lambda s: s.create_link(BASE, OTHER, "valueflows", "offer"))
    farm.commit(lambda s: s.create_link(BASE, BASE, "valueflows", "offer"))
    first = farm.records[-2].address
    farm.commit(lambda s: s.delete_link(first, BASE))
    ops = _link_ops(farm, start)
    assert [op.type for op in ops] == [OpType.REGISTER_ADD_LINK] * 2 + [
        OpType.REGISTER_REMOVE_LINK]
    for name, order in (("a", ops), ("b", ops[::-1])):
        with open_store(tmp_path / f"{name}.db", create=True) as store:
            dht = DhtStore(store)
            for op in order:  # one at a time: the delete may come first
                _integrate(dht, [op])
            live = dht.get_links(BASE)
            assert [x.target for x in live] == [BASE] and not live[0].deleted
            every = {x.address: x for x in dht.get_links(BASE, include_deleted=True)}
            assert len(every) == 2 and every[first].deleted
            assert every[first].deletes[0].address == farm.records[-1].address
