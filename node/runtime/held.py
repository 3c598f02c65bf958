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

The filed ops and sums live in the DHT's SQLite file (node/store/shared.py), written in
one transaction a refresh: in dicts they took over a kilobyte an event, forever. Memory
holds a count per fellow and the distinct fellow sets; a refresh works a page at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set

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
from node.store.shared import HANDED_OFF, OURS, TO_HAND_OFF, HeldRow, HeldStore, NewRow

REBUILD_US = 300_000_000
"""A full re-read at least this often (change times come from a clock that may step)."""
_NONE: frozenset[AgentId] = frozenset()
_PAGE = 2000  # ops judged and written at a time (what a refresh holds in memory)
_LOW, _HIGH = -(1 << 63), (1 << 63) - 1  # SQLite's integers (a peer's clock may be wild)


def _clamp(us: int) -> int:
    return min(max(us, _LOW), _HIGH)


class _Batch:
    """One page's changes, written together (then forgotten: memory stays flat)."""

    __slots__ = ("new", "changed", "gone", "unfile", "file")

    def __init__(self) -> None:
        self.new: list[NewRow] = []
        self.changed: list[tuple[int, int, bytes]] = []
        self.gone: list[bytes] = []
        self.unfile: list[tuple[int, int, bytes]] = []  # (fellow's number, time_us, address)
        self.file: list[tuple[int, int, bytes]] = []


class _NotOurs(Set[bytes]):
    """Held ops of other authors we are no authority for, read from the store."""

    def __init__(self, held: HeldStore) -> None:
        self._held = held

    @classmethod
    def _from_iterable(cls, it: Iterable[bytes]) -> set[bytes]:  # type: ignore[override]
        return set(it)

    def __contains__(self, address: object) -> bool:
        return isinstance(address, bytes) and self._held.is_not_ours(address)

    def __len__(self) -> int:
        return self._held.count_not_ours()

    def __iter__(self) -> Iterator[bytes]:
        after = b""
        while page := self._held.not_ours_after(after, _PAGE):
            yield from page
            after = page[-1]


class SharedOps:
    """Integrated ops we hold: by fellow authority and hour, and those not ours. The ops
    are filed in the store (node/store/shared.py); memory holds one count per fellow and
    the distinct fellow sets."""

    def __init__(self, me: AgentId, dht: DhtStore) -> None:
        self.me = me
        self._me = me.to_bytes()
        self._dht = dht
        self._held = HeldStore(dht)
        self._read_us = -REBUILD_US
        self._blocked = -1
        self._position = -1
        self._fresh = True  # (the first refresh empties what an earlier process filed)
        # fellow sets, interned: an op's row holds its set's id (0: none)
        self._set_ids: dict[frozenset[AgentId], int] = {_NONE: 0}
        self._sets: dict[int, frozenset[AgentId]] = {0: _NONE}
        self._next_id = 1
        self._fellows: dict[AgentId, int] = {}  # fellow -> how many ops filed under it
        self._numbers: dict[AgentId, int] = {}  # fellow -> its number in the store's rows
        self._sums: dict[tuple[int, int], tuple[int, int]] = {}  # this refresh's changes
        self.not_ours: Set[bytes] = _NotOurs(self._held)
        """Held ops of other authors we are no authority for (to hand off)."""

    def refresh(self, population: Population, blocked: int, now_us: int) -> None:
        """Take in newly integrated ops and judge again those whose authorities the
        population forgot since the last call (all of them if it cannot say). One
        transaction: if it fails, the next one files everything anew."""
        try:
            with self._held.transaction():
                self._refresh(population, blocked, now_us)
        except BaseException:
            self._fresh = True  # (what memory holds no longer matches the store)
            self._sums.clear()
            raise

    def _refresh(self, population: Population, blocked: int, now_us: int) -> None:
        fresh, self._fresh = self._fresh, False
        if fresh:
            self._held.clear()
            self._fellows.clear()
            self._numbers.clear()
            self._set_ids, self._sets = {_NONE: 0}, {0: _NONE}
        rebuild = fresh or now_us - self._read_us > REBUILD_US or blocked != self._blocked
        if rebuild:
            self._read_us, self._blocked = now_us, blocked
            self._judge_all(population)
        else:
            forgotten = population.forgotten_since(self._position)
            if forgotten is None:
                self._judge_all(population)
            else:
                bases = list(set(forgotten))
                for i in range(0, len(bases), _PAGE):
                    batch = _Batch()
                    for row in self._held.of_bases(bases[i : i + _PAGE]):
                        self._judge(row, population, batch)
                    self._write(batch)
        self._position = population.position
        rows = self._dht.take_integrated()
        if rows is None or rebuild:
            after = b""
            while page := self._held.unfiled(after, _PAGE):
                self._file(page, population)
                after = page[-1][0]
        elif rows:
            for i in range(0, len(rows), _PAGE):
                page = rows[i : i + _PAGE]
                filed = self._held.filed([r[0] for r in page])
                self._file([r for r in page if r[0] not in filed], population)
        self._held.add_sums(self._sums)
        self._sums.clear()

    def _judge_all(self, population: Population) -> None:
        """Judge every filed op again; unfile those no longer integrated (rejected since:
        a blocked author's); forget the fellow sets no op uses any more."""
        used = {0}
        after = b""
        while page := self._held.page(after, _PAGE):
            batch = _Batch()
            for *row, integrated in page:
                held: HeldRow = tuple(row)  # type: ignore[assignment]
                if integrated:
                    used.add(self._judge(held, population, batch))
                else:
                    address, _, time_us, _, set_id, _ = held
                    self._move(address, time_us, self._sets[set_id], _NONE, batch)
                    batch.gone.append(address)
            self._write(batch)
            after = page[-1][0]
        for fellows in [s for s, i in self._set_ids.items() if i not in used]:
            del self._sets[self._set_ids.pop(fellows)]

    def _file(self, rows: Iterable[tuple[bytes, bytes, int, bytes]],
              population: Population) -> None:
        """File new integrated ops: (address, basis, time_us, author)."""
        batch = _Batch()
        seen: set[bytes] = set()
        for address, basis, time_us, author in rows:
            if address not in seen:
                seen.add(address)
                self._judge((address, basis, time_us, author == self._me, 0, -1), population,
                            batch)
        self._write(batch)

    def _judge(self, row: HeldRow, population: Population, batch: _Batch) -> int:
        """Judge a filed op again (not_ours -1: a new one); returns its fellow set's id."""
        address, basis, time_us, mine, set_id, flag = row
        found = population.authority_set(basis)
        ours = self.me in found
        after = frozenset(p for p in found if p != self.me) if ours else _NONE
        after_id = self._set_ids.get(after)
        if after_id is None:
            after_id = self._set_ids[after] = self._next_id
            self._sets[after_id] = after
            self._next_id += 1
        # an op not ours stays handed off; one that just became not ours is to hand off
        kept = flag if flag in (TO_HAND_OFF, HANDED_OFF) else TO_HAND_OFF
        not_ours = OURS if ours or mine else kept
        if flag == -1:
            batch.new.append((address, time_us, int(mine), after_id, not_ours))
        elif (after_id, not_ours) != (set_id, flag):
            batch.changed.append((after_id, not_ours, address))
        if after_id != set_id:
            self._move(address, time_us, self._sets[set_id], after, batch)
        return after_id

    def _move(self, address: bytes, time_us: int, before: frozenset[AgentId],
              after: frozenset[AgentId], batch: _Batch) -> None:
        """File an op under the fellows of `after` instead of those of `before` (a sum is
        a count and an XOR: both undo)."""
        hour = hour_of(time_us)
        digest = address_bytes_hash(address)
        sums, fellows, numbers = self._sums, self._fellows, self._numbers
        for fellow in before - after:
            key = (numbers[fellow], hour)
            count, xor = sums.get(key, (0, 0))
            sums[key] = (count - 1, xor ^ digest)
            batch.unfile.append((key[0], time_us, address))
            if (left := fellows[fellow] - 1) > 0:
                fellows[fellow] = left
            else:
                del fellows[fellow]
        for fellow in after - before:
            number = numbers.get(fellow)
            if number is None:  # (as many as fellows ever met: bounded by the members)
                number = numbers[fellow] = len(numbers) + 1
            key = (number, hour)
            count, xor = sums.get(key, (0, 0))
            sums[key] = (count + 1, xor ^ digest)
            batch.file.append((key[0], time_us, address))
            fellows[fellow] = fellows.get(fellow, 0) + 1

    def _write(self, batch: _Batch) -> None:
        self._held.write(batch.new, batch.changed, batch.gone, batch.unfile, batch.file)

    def fellows(self) -> list[AgentId]:
        """The peers we share authority for something with."""
        return list(self._fellows)

    def fingerprints(self, peer: AgentId, now_us: int) -> dict[Bucket, Fingerprint]:
        """Our fingerprints of the settled ops `peer` and we both hold authority for:
        each hour's sums, less the ops not settled yet: only the hour the horizon falls in
        is read op by op (the hours after it hold none settled)."""
        fellow = self._numbers.get(peer)
        if fellow is None:
            return {}
        horizon = now_us - SETTLE_US
        last = hour_of(horizon)
        sums = {hour: [count, int.from_bytes(xor, "big")]
                for hour, count, xor in self._held.sums(fellow) if hour <= last}
        if last in sums:
            acc = sums[last]
            for address, _ in self._held.shared_between(
                    fellow, _clamp(horizon), _clamp(last + HOUR_US)):
                acc[0] -= 1
                acc[1] ^= address_bytes_hash(address)
        return merge_hours({h: Fingerprint(c, x) for h, (c, x) in sums.items()}, now_us)

    def ops_in(
        self, peer: AgentId, buckets: Iterable[Bucket], now_us: int
    ) -> list[tuple[Cid, int]]:
        """(address, time) of those settled ops that fall in `buckets` (buckets as
        `bucket_of` makes them at `now_us`; others hold none)."""
        fellow, horizon = self._numbers.get(peer), now_us - SETTLE_US
        found: list[tuple[Cid, int]] = []
        if fellow is None:
            return found
        for start, span in set(buckets):
            if bucket_of(start, now_us) != (start, span) or _clamp(start) != start:
                continue
            end = _clamp(min(start + span, horizon))
            if start < end:
                found += [(Cid(a), t) for a, t in self._held.shared_between(fellow, start, end)]
        return found

    def to_hand_off(self, limit: int) -> list[bytes]:
        """Up to `limit` held ops not ours that were not handed off yet (see `handed_off`)."""
        return self._held.to_hand_off(limit)

    def handed_off(self, addresses: list[bytes]) -> None:
        """These were handed off: `to_hand_off` lists them no more (unless they become
        ours and then not ours again)."""
        if not addresses:
            return
        with self._held.transaction():
            self._held.set_not_ours(addresses, HANDED_OFF)
