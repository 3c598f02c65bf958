"""Gossip reconciliation math: which op addresses two authorities should swap.

Ops are (address, time_us). Time is cut into buckets; a bucket's fingerprint is the
count of its ops and the XOR of blake2b-256(op address) over them, so two peers
holding the same set have equal fingerprints and almost surely differ otherwise.
One round: A sends its fingerprints; B answers with the buckets that differ and its
addresses in them; A sends its own addresses in those buckets; each fetches
`missing(mine, theirs)`. After that round both hold the union.

Buckets (documented so both sides cut time alike; every boundary is aligned to the
coarser grid and derived from one `now_us` that the requester sends, so peers with
different clocks still agree):
- hour buckets from the start of yesterday (UTC day grid) onwards, the future too;
- day buckets from the start of the previous 32-day epoch (epochs aligned to 1970)
  up to the hour buckets (32 to 64 days of them);
- 32-day buckets for everything older.
Recent data changes most and is reconciled at fine grain; old data rarely differs,
so few coarse fingerprints cover years (about 80 buckets for a year of history).

Ops younger than SETTLE_US at the requester's `now_us` are left out of a round, on
both sides: their author is still publishing them. Publish delivers fresh ops; gossip
reconciles settled history. Without the horizon, every round during a burst of
commits would swap the addresses of the whole current hour and fetch ops still in
flight, ahead of the ops before them on their chain (which then wait for those).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple

from dht.authority import ClosestIndex
from node.core.cid import Cid
from node.core.identity import AgentId

HOUR_US: Final = 3600 * 1_000_000
DAY_US: Final = 24 * HOUR_US
EPOCH_US: Final = 32 * DAY_US
_PERSON: Final = b"coledger-gossip"
SETTLE_US: Final = 5_000_000
"""Ops are reconciled once this old (an author's publish retries start at 0.25 s)."""


class Bucket(NamedTuple):
    """A half-open time interval [start_us, start_us + span_us)."""

    start_us: int
    span_us: int


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """How many ops a bucket holds and the XOR of their address hashes."""

    count: int
    xor: int

    def to_bytes(self) -> bytes:
        return self.xor.to_bytes(32, "big")


EMPTY: Final = Fingerprint(0, 0)


def address_hash(address: Cid) -> int:
    return _hash_of(address.to_bytes())


def address_bytes_hash(address: bytes) -> int:
    """`address_hash` of an address's bytes (for callers that keep bytes, not Cids)."""
    return _hash_of(address)


@lru_cache(maxsize=1 << 16)
def _hash_of(address: bytes) -> int:
    """Remembered: every round fingerprints the same held ops again."""
    digest = hashlib.blake2b(address, digest_size=32, person=_PERSON).digest()
    return int.from_bytes(digest, "big")


def bucket_of(time_us: int, now_us: int) -> Bucket:
    """The bucket holding an op timestamped `time_us`, as seen at `now_us`."""
    hour_tier = (now_us // DAY_US - 1) * DAY_US
    if time_us >= hour_tier:
        return Bucket(time_us // HOUR_US * HOUR_US, HOUR_US)
    day_tier = (now_us // EPOCH_US - 1) * EPOCH_US
    if time_us >= day_tier:
        return Bucket(time_us // DAY_US * DAY_US, DAY_US)
    return Bucket(time_us // EPOCH_US * EPOCH_US, EPOCH_US)


def fingerprints(ops: Iterable[tuple[Cid, int]], now_us: int) -> dict[Bucket, Fingerprint]:
    """Fingerprint of every non-empty bucket of a set of (address, time_us), the
    settled ops only (older than SETTLE_US at `now_us`)."""
    counts: dict[Bucket, int] = {}
    xors: dict[Bucket, int] = {}
    seen: set[Cid] = set()
    horizon = now_us - SETTLE_US
    for address, time_us in ops:
        if address in seen or time_us >= horizon:
            continue
        seen.add(address)
        b = bucket_of(time_us, now_us)
        counts[b] = counts.get(b, 0) + 1
        xors[b] = xors.get(b, 0) ^ address_hash(address)
    return {b: Fingerprint(counts[b], xors[b]) for b in counts}


def hour_of(time_us: int) -> int:
    """The start of the hour holding `time_us` (every bucket is whole hours)."""
    return time_us // HOUR_US * HOUR_US


def merge_hours(hours: Mapping[int, Fingerprint], now_us: int) -> dict[Bucket, Fingerprint]:
    """Bucket fingerprints from fingerprints summed per hour (hour start -> the count and
    XOR of the ops in that hour): the same as `fingerprints` of the ops themselves,
    in O(hours) rather than O(ops), for a peer that keeps its sums as ops arrive."""
    counts: dict[Bucket, int] = {}
    xors: dict[Bucket, int] = {}
    for hour, fp in hours.items():
        if fp.count:
            b = bucket_of(hour, now_us)
            counts[b] = counts.get(b, 0) + fp.count
            xors[b] = xors.get(b, 0) ^ fp.xor
    return {b: Fingerprint(counts[b], xors[b]) for b in counts}


def differing_buckets(
    mine: Mapping[Bucket, Fingerprint], theirs: Mapping[Bucket, Fingerprint]
) -> list[Bucket]:
    """Buckets whose fingerprints differ (a bucket one side lacks counts as empty)."""
    both = mine.keys() | theirs.keys()
    return sorted(b for b in both if mine.get(b, EMPTY) != theirs.get(b, EMPTY))


def addresses_in(
    ops: Iterable[tuple[Cid, int]], buckets: Iterable[Bucket], now_us: int
) -> list[Cid]:
    """The addresses of the settled `ops` that fall in `buckets`, sorted."""
    wanted, horizon = set(buckets), now_us - SETTLE_US
    return sorted({a for a, t in ops if t < horizon and bucket_of(t, now_us) in wanted})


def missing(mine: Iterable[Cid], theirs: Iterable[Cid]) -> list[Cid]:
    """What they hold and I lack, sorted."""
    return sorted(set(theirs).difference(mine))


def shared_scope(
    me: AgentId, them: AgentId, peers: Iterable[AgentId], redundancy: int
) -> Callable[[bytes], bool]:
    """A predicate on basis keys: both `me` and `them` are among its authorities given
    this peer list (both counted as peers). Two peers gossip the ops this predicate
    accepts, each judging by its own view of the population."""
    index = ClosestIndex(peers)
    index.add(me)
    index.add(them)

    def accepts(basis: bytes) -> bool:
        found = index.closest(basis, redundancy)
        return me in found and them in found

    return accepts
