"""Authority math: libp2p's Kademlia metric, the R closest, and the sorted index."""

from __future__ import annotations

import hashlib
import random

from hypothesis import given
from hypothesis import strategies as st

from dht.authority import (
    ClosestIndex,
    authorities,
    is_authority,
    kad_distance,
    sort_by_distance,
)
from node.core.identity import AgentId

agents = st.binary(min_size=32, max_size=32).map(AgentId.from_public_key)
keys = st.binary(min_size=0, max_size=64)


def naive_distance(key: bytes, peer: AgentId) -> int:
    a = int.from_bytes(hashlib.sha256(key).digest(), "big")
    return a ^ int.from_bytes(hashlib.sha256(peer.to_bytes()).digest(), "big")


def test_distance_and_order_match_libp2p() -> None:
    """The same distance and order as py-libp2p's kad_dht, on random inputs."""
    from libp2p.kad_dht.utils import sort_peer_ids_by_distance, xor_distance
    from libp2p.peer.id import ID

    rng = random.Random(1)
    for _ in range(200):
        peers = [AgentId.from_public_key(rng.randbytes(32)) for _ in range(rng.randint(1, 30))]
        key = rng.randbytes(rng.choice([0, 1, 32, 34, 38, 50]))
        ids = [ID(p.to_bytes()) for p in peers]
        theirs = [p.to_bytes() for p in sort_peer_ids_by_distance(key, ids)]
        assert [p.to_bytes() for p in sort_by_distance(key, peers)] == theirs
        k, p = hashlib.sha256(key).digest(), hashlib.sha256(peers[0].to_bytes()).digest()
        assert kad_distance(key, peers[0]) == xor_distance(k, p)


@given(keys, st.lists(agents, max_size=40), st.integers(min_value=0, max_value=8))
def test_authorities_are_the_r_closest(key: bytes, peers: list[AgentId], r: int) -> None:
    expected = sorted(set(peers), key=lambda p: naive_distance(key, p))[:r]
    assert authorities(key, peers, r) == expected
    for p in set(peers):
        assert is_authority(p, key, peers, r) == (p in expected)


@given(keys, st.lists(agents, min_size=1, max_size=10), agents)
def test_is_authority_counts_me(key: bytes, peers: list[AgentId], me: AgentId) -> None:
    assert is_authority(me, key, peers, 5) == (me in authorities(key, [*peers, me], 5))


def test_fewer_peers_than_redundancy_means_all() -> None:
    peers = [AgentId.from_public_key(bytes([i]) * 32) for i in range(3)]
    assert set(authorities(b"k", peers, 5)) == set(peers)
    assert authorities(b"k", peers, 0) == []


@given(
    st.lists(agents, max_size=200, unique=True),
    st.lists(keys, min_size=1, max_size=5),
    st.integers(min_value=0, max_value=30),
)
def test_closest_index_matches_a_full_sort(
    peers: list[AgentId], queries: list[bytes], count: int
) -> None:
    index = ClosestIndex(peers)
    for key in queries:
        assert index.closest(key, count) == sort_by_distance(key, peers)[:count]
        assert list(index.iter_closest(key)) == sort_by_distance(key, peers)


def test_closest_index_add_remove_and_filter() -> None:
    rng = random.Random(3)
    peers = [AgentId.from_public_key(rng.randbytes(32)) for _ in range(500)]
    index = ClosestIndex()
    for p in peers:
        index.add(p)
    index.add(peers[0])  # idempotent
    assert len(index) == 500 and peers[0] in index
    for p in peers[:250]:
        index.remove(p)
    index.remove(peers[0])  # idempotent
    assert len(index) == 250 and peers[0] not in index
    live = peers[250:]
    odd = {p for i, p in enumerate(live) if i % 2}
    for _ in range(50):
        key = rng.randbytes(36)
        assert index.closest(key, 7) == sort_by_distance(key, live)[:7]
        got = index.closest(key, 7, lambda p: p in odd)
        assert got == [p for p in sort_by_distance(key, live) if p in odd][:7]
