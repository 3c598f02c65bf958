"""Gossip math: buckets, fingerprints, and convergence after one round."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from dht.authority import authorities
from dht.gossip import (
    DAY_US,
    EPOCH_US,
    HOUR_US,
    SETTLE_US,
    Bucket,
    Fingerprint,
    address_hash,
    addresses_in,
    bucket_of,
    differing_buckets,
    fingerprints,
    hour_of,
    merge_hours,
    missing,
    shared_scope,
)
from node.core.cid import Cid
from node.core.identity import AgentId

NOW = 1_780_000_000 * 1_000_000  # a fixed "now" in 2026
YEAR_US = 365 * DAY_US
# An op's address fixes its time (the time is its action's), so: address -> time.
universe = st.dictionaries(
    st.binary(min_size=1, max_size=8).map(Cid.of),
    st.integers(min_value=0, max_value=NOW + DAY_US),
    max_size=120,
)


def reconcile(
    a: list[tuple[Cid, int]], b: list[tuple[Cid, int]]
) -> tuple[list[Cid], list[Cid]]:
    """One round as the wire messages carry it: (what A fetches, what B fetches)."""
    fa, fb = fingerprints(a, NOW), fingerprints(b, NOW)
    differ = differing_buckets(fa, fb)  # computed by B from A's fingerprints
    b_list = addresses_in(b, differ, NOW)  # B's answer
    a_list = addresses_in(a, differ, NOW)  # A's second message
    return missing([x for x, _ in a], b_list), missing([x for x, _ in b], a_list)


@given(universe, st.randoms(use_true_random=False))
def test_one_round_converges(times: dict[Cid, int], rng: object) -> None:
    """Each op is held by A, by B, or by both; one round gives both the union of the
    settled ops, and moves none that are still being published."""
    where = {x: rng.choice("ab=") for x in times}  # type: ignore[attr-defined]
    a = [(x, t) for x, t in times.items() if where[x] in "a="]
    b = [(x, t) for x, t in times.items() if where[x] in "b="]
    a_fetches, b_fetches = reconcile(a, b)
    a2 = a + [(x, times[x]) for x in a_fetches]
    b2 = b + [(x, times[x]) for x in b_fetches]
    settled = {x for x, t in times.items() if t < NOW - SETTLE_US}
    assert set(a_fetches) | set(b_fetches) <= settled
    assert {x for x, _ in a2} & settled == {x for x, _ in b2} & settled == settled
    assert fingerprints(a2, NOW) == fingerprints(b2, NOW)
    assert differing_buckets(fingerprints(a2, NOW), fingerprints(b2, NOW)) == []


@given(universe)
def test_equal_sets_do_not_differ(times: dict[Cid, int]) -> None:
    a = list(times.items())
    shuffled = list(reversed(a)) + a[:3]  # order and duplicates do not matter
    assert differing_buckets(fingerprints(a, NOW), fingerprints(shuffled, NOW)) == []


def test_bucket_tiers() -> None:
    assert bucket_of(NOW, NOW).span_us == HOUR_US
    assert bucket_of(NOW + 5 * DAY_US, NOW).span_us == HOUR_US  # the future: fine grain
    assert bucket_of(NOW - 30 * HOUR_US, NOW).span_us == HOUR_US
    assert bucket_of(NOW - 3 * DAY_US, NOW).span_us == DAY_US
    assert bucket_of(NOW - 2 * YEAR_US, NOW).span_us == EPOCH_US
    # Buckets contain their times and are aligned to their span.
    for t in range(0, NOW, NOW // 997):
        b = bucket_of(t, NOW)
        assert b.start_us <= t < b.start_us + b.span_us and b.start_us % b.span_us == 0
    # A year of history needs few fingerprints.
    year = {bucket_of(t, NOW) for t in range(NOW - YEAR_US, NOW, HOUR_US)}
    assert len(year) < 120


def test_only_differing_buckets_are_listed() -> None:
    old = [(Cid.of(bytes([i])), NOW - YEAR_US + i) for i in range(50)]
    new = (Cid.of(b"new"), NOW - SETTLE_US - 10)
    differ = differing_buckets(fingerprints(old + [new], NOW), fingerprints(old, NOW))
    assert differ == [Bucket(new[1] // HOUR_US * HOUR_US, HOUR_US)]
    assert addresses_in(old + [new], differ, NOW) == [new[0]]


def test_ops_still_being_published_are_left_out() -> None:
    settled = (Cid.of(b"settled"), NOW - SETTLE_US - 1)
    fresh = (Cid.of(b"fresh"), NOW - SETTLE_US)  # the same hour
    assert fingerprints([settled, fresh], NOW) == fingerprints([settled], NOW)
    assert addresses_in([settled, fresh], [bucket_of(settled[1], NOW)], NOW) == [settled[0]]
    # ...until they settle
    later = NOW + 1
    assert fingerprints([settled, fresh], later) != fingerprints([settled], later)


@given(universe)
def test_hourly_sums_merge_into_the_same_fingerprints(ops: dict[Cid, int]) -> None:
    hours: dict[int, Fingerprint] = {}
    for address, time_us in ops.items():
        fp = hours.get(hour_of(time_us), Fingerprint(0, 0))
        hours[hour_of(time_us)] = Fingerprint(fp.count + 1, fp.xor ^ address_hash(address))
    # (the sums count every op: the settled ones only, as a round would see them)
    settled = {a: t for a, t in ops.items() if hour_of(t) + HOUR_US <= NOW - SETTLE_US}
    hours = {h: fp for h, fp in hours.items() if h + HOUR_US <= NOW - SETTLE_US}
    assert merge_hours(hours, NOW) == fingerprints(settled.items(), NOW)


def test_shared_scope_agrees_with_authorities() -> None:
    peers = [AgentId.from_public_key(hashlib.sha256(bytes([i])).digest()) for i in range(12)]
    me, them = peers[0], peers[1]
    accepts = shared_scope(me, them, peers[2:], 4)
    for i in range(300):
        basis = Cid.of(i.to_bytes(2, "big")).to_bytes()
        auth = authorities(basis, peers, 4)
        assert accepts(basis) == (me in auth and them in auth)
