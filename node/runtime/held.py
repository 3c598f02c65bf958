"""What a node holds, as gossip asks for it: for each fellow authority, the ops both
hold authority for, summed per hour.

A gossip round used to list every integrated op, judge each one's authorities and
fingerprint them all, on both sides: O(ops held) per round, which grows with the
ledger (a node holding 10,000 ops spent most of its time on gossip). Here newly
integrated ops are filed as they appear (found by their change time) and their hour
sums updated, so a round costs O(hours) to fingerprint plus the differing buckets'
ops. When the authorities may have moved (the population's answers or the blocks
changed) each op is judged again, and only those whose fellows changed are moved
(a sum is a count and an XOR: both undo). Everything is re-read now and then anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from dht.gossip import Bucket, Fingerprint, address_hash, bucket_of, hour_of, merge_hours
from node.core.cid import Cid
from node.core.identity import AgentId
from node.store.dht import DhtStore

REBUILD_US = 300_000_000
"""A full re-read at least this often (change times come from a clock that may step)."""
_OVERLAP_US = 500_000  # ops integrated this long before the newest seen are looked at again
_NONE: frozenset[AgentId] = frozenset()

Authorities = Callable[[bytes], Collection[AgentId]]


class _Hour:
    __slots__ = ("count", "xor", "ops")

    def __init__(self) -> None:
        self.count = 0
        self.xor = 0
        self.ops: dict[Cid, int] = {}


class SharedOps:
    """Integrated ops we are an authority for, by fellow authority and hour."""

    def __init__(self, me: AgentId, dht: DhtStore) -> None:
        self.me = me
        self._dht = dht
        self._key: object = None
        self._read_us = 0
        self._newest_us = 0
        # address -> (basis, time, the fellows it is filed under)
        self._ops: dict[bytes, tuple[bytes, int, frozenset[AgentId]]] = {}
        self._by_fellow: dict[AgentId, dict[int, _Hour]] = {}

    def refresh(self, key: object, authorities: Authorities, now_us: int) -> None:
        """Take in newly integrated ops; judge every op again if `key` (what the
        authorities depend on) changed."""
        if now_us - self._read_us > REBUILD_US:
            self._read_us, self._newest_us = now_us, 0
            self._ops.clear()
            self._by_fellow.clear()
        elif key != self._key:
            for address, (basis, time_us, fellows) in self._ops.items():
                now_fellows = self._fellows(basis, authorities)
                if now_fellows != fellows:
                    self._move(address, basis, time_us, fellows, now_fellows)
        self._key = key
        rows = self._dht.integrated_since(max(0, self._newest_us - _OVERLAP_US))
        for address, basis, time_us, changed_us in rows:
            self._newest_us = max(self._newest_us, changed_us)
            if address not in self._ops:
                self._move(address, basis, time_us, _NONE, self._fellows(basis, authorities))

    def _fellows(self, basis: bytes, authorities: Authorities) -> frozenset[AgentId]:
        found = authorities(basis)
        if self.me not in found:
            return _NONE  # held from before the network changed: not ours to gossip
        return frozenset(p for p in found if p != self.me)

    def _move(self, address: bytes, basis: bytes, time_us: int,
              before: frozenset[AgentId], after: frozenset[AgentId]) -> None:
        self._ops[address] = (basis, time_us, after)
        cid, hour = Cid(address), hour_of(time_us)
        digest = address_hash(cid)
        for fellow in before - after:
            acc = self._by_fellow[fellow][hour]
            acc.count -= 1
            acc.xor ^= digest
            del acc.ops[cid]
        for fellow in after - before:
            hours = self._by_fellow.setdefault(fellow, {})
            acc = hours.get(hour) or hours.setdefault(hour, _Hour())
            acc.count += 1
            acc.xor ^= digest
            acc.ops[cid] = time_us

    def fingerprints(self, peer: AgentId, now_us: int) -> dict[Bucket, Fingerprint]:
        """Our fingerprints of the ops `peer` and we both hold authority for."""
        hours = self._by_fellow.get(peer, {})
        return merge_hours({h: Fingerprint(a.count, a.xor) for h, a in hours.items()}, now_us)

    def ops_in(
        self, peer: AgentId, buckets: Iterable[Bucket], now_us: int
    ) -> list[tuple[Cid, int]]:
        """(address, time) of those ops that fall in `buckets`."""
        wanted = set(buckets)
        return [op for hour, acc in self._by_fellow.get(peer, {}).items()
                if bucket_of(hour, now_us) in wanted for op in acc.ops.items()]
