"""What a node holds, as gossip and hand-off ask for it: for each fellow authority, the
ops both hold authority for, summed per hour; and the ops held that are no longer ours.

A gossip round used to list every integrated op, judge each one's authorities and
fingerprint them all, on both sides: O(ops held) per round, which grows with the
ledger (a node holding 10,000 ops spent most of its time on gossip). Here newly
integrated ops are filed as they appear (the store hands them over:
`DhtStore.take_integrated`) and their hour sums updated, so a round costs O(hours) to
fingerprint plus the differing buckets' ops. When authorities move, only the ops whose
bases' answers the population forgot are judged again (`Population.forgotten_since`),
and moved if their fellows changed (a sum is a count and an XOR: both undo). Everything
is re-read when the blocks change (a blocked author's ops are rejected) and now and
then anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import xor

from dht.gossip import (
    HOUR_US,
    SETTLE_US,
    Bucket,
    Fingerprint,
    address_bytes_hash,
    bucket_of,
    hour_of,
    merge_hours,
)
from node.core.cid import Cid
from node.core.identity import AgentId
from node.runtime.population import Population
from node.store.dht import DhtStore

REBUILD_US = 300_000_000
"""A full re-read at least this often (change times come from a clock that may step)."""
_NONE: frozenset[AgentId] = frozenset()


class _Hour:
    __slots__ = ("count", "xor", "ops")

    def __init__(self) -> None:
        self.count = 0
        self.xor = 0
        self.ops: dict[bytes, int] = {}  # address (the key of SharedOps._ops) -> time


class SharedOps:
    """Integrated ops we hold: by fellow authority and hour, and those not ours."""

    def __init__(self, me: AgentId, dht: DhtStore) -> None:
        self.me = me
        self._me = me.to_bytes()
        self._dht = dht
        self._read_us = -REBUILD_US
        self._blocked = -1
        self._position = -1
        self._read_all = True  # (the next refresh lists every integrated op)
        # address -> (basis, time, author, the fellows it is filed under)
        self._ops: dict[bytes, tuple[bytes, int, bytes, frozenset[AgentId]]] = {}
        self._by_basis: dict[bytes, list[bytes]] = {}
        self._by_fellow: dict[AgentId, dict[int, _Hour]] = {}
        # one object for each distinct fellow set and author (what is kept grows with
        # the ops held: each op's share of it stays small)
        self._shared: dict[object, object] = {}
        self.not_ours: set[bytes] = set()
        """Held ops of other authors we are no authority for (to hand off)."""

    def refresh(self, population: Population, blocked: int, now_us: int) -> None:
        """Take in newly integrated ops and judge again those whose authorities the
        population forgot since the last call (all of them if it cannot say)."""
        if now_us - self._read_us > REBUILD_US or blocked != self._blocked:
            self._read_us, self._blocked, self._read_all = now_us, blocked, True
            self._ops.clear()
            self._by_basis.clear()
            self._by_fellow.clear()
            self._shared.clear()
            self.not_ours.clear()
        else:
            forgotten = population.forgotten_since(self._position)
            bases = self._by_basis.keys() if forgotten is None else set(forgotten)
            for basis in bases:
                for address in self._by_basis.get(basis, ()):
                    self._judge(address, population)
        self._position = population.position
        rows = self._dht.take_integrated()
        if rows is None or self._read_all:
            self._read_all = False
            rows = self._dht.integrated()
        for address, basis, time_us, author in rows:
            if address not in self._ops:
                author = self._shared.setdefault(author, author)  # type: ignore[assignment]
                basis = author if basis == author else basis  # (an agent-activity op)
                self._ops[address] = (basis, time_us, author, _NONE)
                self._by_basis.setdefault(basis, []).append(address)
                self._judge(address, population)

    def _judge(self, address: bytes, population: Population) -> None:
        basis, time_us, author, before = self._ops[address]
        found = population.authority_set(basis)
        ours = self.me in found
        after = frozenset(p for p in found if p != self.me) if ours else _NONE
        after = self._shared.setdefault(after, after)  # type: ignore[assignment]
        if not ours and author != self._me:
            self.not_ours.add(address)
        else:
            self.not_ours.discard(address)
        if after == before:
            return
        self._ops[address] = (basis, time_us, author, after)
        hour = hour_of(time_us)
        digest = address_bytes_hash(address)
        for fellow in before - after:
            acc = self._by_fellow[fellow][hour]
            acc.count -= 1
            acc.xor ^= digest
            del acc.ops[address]
        for fellow in after - before:
            hours = self._by_fellow.setdefault(fellow, {})
            acc = hours.get(hour) or hours.setdefault(hour, _Hour())
            acc.count += 1
            acc.xor ^= digest
            acc.ops[address] = time_us

    def fellows(self) -> list[AgentId]:
        """The peers we share authority for something with."""
        return list(self._by_fellow)

    def fingerprints(self, peer: AgentId, now_us: int) -> dict[Bucket, Fingerprint]:
        """Our fingerprints of the settled ops `peer` and we both hold authority for:
        an hour's sums where the whole hour is settled, else its settled ops summed."""
        horizon = now_us - SETTLE_US
        sums = {}
        for hour, acc in self._by_fellow.get(peer, {}).items():
            if hour + HOUR_US <= horizon:
                sums[hour] = Fingerprint(acc.count, acc.xor)
            else:
                settled = [a for a, t in acc.ops.items() if t < horizon]
                sums[hour] = Fingerprint(len(settled),
                                         reduce(xor, map(address_bytes_hash, settled), 0))
        return merge_hours(sums, now_us)

    def ops_in(
        self, peer: AgentId, buckets: Iterable[Bucket], now_us: int
    ) -> list[tuple[Cid, int]]:
        """(address, time) of those settled ops that fall in `buckets`."""
        wanted, horizon = set(buckets), now_us - SETTLE_US
        return [(Cid(a), t) for hour, acc in self._by_fellow.get(peer, {}).items()
                if bucket_of(hour, now_us) in wanted for a, t in acc.ops.items() if t < horizon]
