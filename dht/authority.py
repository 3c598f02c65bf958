"""Authority math: which peers hold and validate the ops of a basis address.

The distance is py-libp2p's Kademlia metric exactly (`kad_dht.utils`): the XOR of
sha256(basis) and sha256(peer id bytes), read as big-endian integers. The
authorities of a basis are the R peers closest to it, the local node included
(libp2p's own closest-peer calls leave the local node out).
"""

from __future__ import annotations

import hashlib
import heapq
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache

from node.core.identity import AgentId

DEFAULT_REDUNDANCY = 5
_BITS = 256
_SMALL_RANGE = 16  # below this many candidates, sorting beats splitting further


def key_point(key: bytes) -> int:
    """Where a basis key lies in the keyspace: sha256 of its bytes."""
    return int.from_bytes(hashlib.sha256(key).digest(), "big")


def peer_point(peer: AgentId) -> int:
    """Where a peer lies in the keyspace: sha256 of its peer id bytes (remembered:
    every authority index and distance sort asks again for the same few peers)."""
    return _remembered_point(peer.to_bytes())


_remembered_point = lru_cache(maxsize=1 << 16)(key_point)


def kad_distance(key: bytes, peer: AgentId) -> int:
    """libp2p Kademlia's distance between a key and a peer."""
    return key_point(key) ^ peer_point(peer)


def sort_by_distance(key: bytes, peers: Iterable[AgentId]) -> list[AgentId]:
    """Distinct peers, closest to `key` first (the order of libp2p's
    `sort_peer_ids_by_distance`; distances of distinct peers never tie)."""
    target = key_point(key)
    return sorted(set(peers), key=lambda p: peer_point(p) ^ target)


def authorities(basis: bytes, peers: Iterable[AgentId], redundancy: int) -> list[AgentId]:
    """The `redundancy` peers closest to `basis`, closest first (all when fewer)."""
    if redundancy <= 0:
        return []
    target = key_point(basis)
    return heapq.nsmallest(redundancy, set(peers), key=lambda p: peer_point(p) ^ target)


def is_authority(me: AgentId, basis: bytes, peers: Iterable[AgentId], redundancy: int) -> bool:
    """Whether `me` is among the authorities of `basis`, counting `me` as a peer."""
    if redundancy <= 0:
        return False
    target = key_point(basis)
    mine = peer_point(me) ^ target
    closer = 0
    for p in set(peers):
        if p != me and peer_point(p) ^ target < mine:
            closer += 1
            if closer >= redundancy:
                return False
    return True


class ClosestIndex:
    """Peers kept sorted by keyspace point, so the closest to a key are found by
    walking the implicit binary trie of the sorted points: O(256 log n + k log k)
    per query instead of sorting all n peers."""

    __slots__ = ("_points", "_peers")

    def __init__(self, peers: Iterable[AgentId] = ()) -> None:
        self._peers: dict[int, AgentId] = {peer_point(p): p for p in peers}
        self._points: list[int] = sorted(self._peers)

    def __len__(self) -> int:
        return len(self._points)

    def __contains__(self, peer: object) -> bool:
        return isinstance(peer, AgentId) and peer_point(peer) in self._peers

    def add(self, peer: AgentId) -> None:
        point = peer_point(peer)
        if point not in self._peers:
            self._peers[point] = peer
            insort(self._points, point)

    def remove(self, peer: AgentId) -> None:
        point = peer_point(peer)
        if self._peers.pop(point, None) is not None:
            del self._points[bisect_left(self._points, point)]

    def peers(self) -> list[AgentId]:
        return [self._peers[p] for p in self._points]

    def closest(
        self, key: bytes, count: int, accept: Callable[[AgentId], bool] | None = None
    ) -> list[AgentId]:
        """The `count` peers closest to `key` (those `accept` approves), closest first."""
        out: list[AgentId] = []
        if count <= 0:
            return out
        for peer in self.iter_closest(key):
            if accept is None or accept(peer):
                out.append(peer)
                if len(out) == count:
                    break
        return out

    def iter_closest(self, key: bytes) -> Iterator[AgentId]:
        """Every peer, in increasing distance from `key`, computed lazily."""
        target = key_point(key)
        points = self._points
        # A stack of (lo, hi, bit): points[lo:hi] share target's bits above `bit`.
        stack: list[tuple[int, int, int]] = [(0, len(points), _BITS - 1)]
        while stack:
            lo, hi, bit = stack.pop()
            if hi - lo <= _SMALL_RANGE or bit < 0:
                for point in sorted(points[lo:hi], key=lambda q: q ^ target):
                    yield self._peers[point]
                continue
            # Within the range, points with `bit` clear precede those with it set.
            prefix = (points[lo] >> (bit + 1)) << (bit + 1)
            mid = bisect_left(points, prefix | (1 << bit), lo, hi)
            low_half, high_half = (lo, mid, bit - 1), (mid, hi, bit - 1)
            # Everything on target's side of the split is closer than the other side.
            near, far = (high_half, low_half) if target >> bit & 1 else (low_half, high_half)
            if far[0] < far[1]:
                stack.append(far)
            if near[0] < near[1]:
                stack.append(near)
