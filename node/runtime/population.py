"""Who a node counts when it picks authorities: member peers it can reach, and itself,
minus the blocked.

Asked, not enumerated: every publish, gossip round and hand-off wants the authorities
of some basis, and listing the whole population for each (as this once did) costs
O(peers) per ask, which a simulation of 1,000 nodes in one process turns into
O(peers²) work a second. Instead the transport's closest-peer query (an index walk)
gives the nearest peers and the members among them are kept. Answers are remembered
until a change touches them: a peer that comes or goes at keyspace point x changes
the answer for basis b only if it lies nearer b than the answer's farthest authority,
so answers are filed by that radius and only those sharing x's prefix are forgotten.
A change of members or blocks (sets that only grow), or one the transport cannot
name, forgets everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Set

from dht.authority import key_point, peer_point
from dht.transport import Transport
from node.core.identity import AgentId

_WIDE = 256  # the filing width of an answer with fewer than `redundancy` peers: any change
_MAX_REMEMBERED = 1 << 13  # answers kept before starting over (a node takes new bases
# all the time: a larger memo only grows over a long run)


class Population:
    """One node's view of the population, answering closest-peer questions."""

    def __init__(self, me: AgentId, transport: Transport, redundancy: int) -> None:
        self.me = me
        self.redundancy = redundancy
        self._transport = transport
        self._version: object = None
        self._sizes = (-1, -1)
        self._members: Set[AgentId] = frozenset({me})
        self._blocked: Set[AgentId] = frozenset()
        self._answers: dict[bytes, tuple[list[AgentId], frozenset[AgentId]]] = {}
        # width -> (basis point >> width) -> bases: an answer whose farthest authority
        # lies at a distance below 2**width changes only for peers sharing that prefix
        self._filed: dict[int, dict[int, list[bytes]]] = {}
        self._before: dict[bytes, frozenset[AgentId]] = {}  # forgotten answers, oldest kept
        self._sorted: list[AgentId] | None = None
        self._log: list[bytes] = []  # the bases whose answers were forgotten, in order
        self._log_start = 0  # the position of _log[0] in the whole history
        self._cleared_at = 0  # the position at the last time everything was forgotten

    def refresh(self, members: Set[AgentId], blocked: Set[AgentId]) -> None:
        """Forget the answers that what changed since the last call may have touched."""
        self._members, self._blocked = members, blocked
        self._version, changed = self._transport.peer_changes(self._version)
        sizes = (len(members), len(blocked))
        if changed is None or sizes != self._sizes:
            self._sizes = sizes
            self._answers.clear()
            self._filed.clear()
            self._before.clear()
            self._sorted = None
            self._log_start, self._log = self.position + 1, []  # (a step: seen as news)
            self._cleared_at = self._log_start
        elif changed:
            self._forget_near(changed)
            self._sorted = None

    @property
    def position(self) -> int:
        """How many answers were forgotten so far (see `forgotten_since`)."""
        return self._log_start + len(self._log)

    def forgotten_since(self, position: int) -> list[bytes] | None:
        """The bases whose answers were forgotten since `position` (maybe some twice);
        None if everything was, or that is too long ago to say."""
        if position < self._cleared_at or position < self._log_start:
            return None
        return self._log[position - self._log_start:]

    def _forget_near(self, peers: Iterable[AgentId]) -> None:
        for peer in peers:
            point = peer_point(peer)
            for width, filed in self._filed.items():
                for basis in filed.pop(point >> width, ()):
                    answer = self._answers.pop(basis, None)
                    if answer is not None:
                        self._log.append(basis)
                        if len(self._before) < _MAX_REMEMBERED:
                            self._before.setdefault(basis, answer[1])
        if len(self._log) > _MAX_REMEMBERED:  # the oldest half goes (callers behind: start over)
            half = len(self._log) // 2
            self._log_start, self._log = self._log_start + half, self._log[half:]

    def counts(self, peer: AgentId) -> bool:
        """Whether `peer` is one we count (ourselves, or a member not blocked)."""
        return peer == self.me or (peer in self._members and peer not in self._blocked)

    def authorities(self, basis: bytes) -> list[AgentId]:
        """The `redundancy` counted peers closest to `basis`, closest first (all of them
        when there are fewer)."""
        return list(self._answer(basis)[0])

    def authority_set(self, basis: bytes) -> frozenset[AgentId]:
        """`authorities(basis)` as a set (membership tests without list scans)."""
        return self._answer(basis)[1]

    def _answer(self, basis: bytes) -> tuple[list[AgentId], frozenset[AgentId]]:
        answer = self._answers.get(basis)
        if answer is None:
            if len(self._answers) >= _MAX_REMEMBERED:  # (forgotten, not changed: unlogged)
                self._answers.clear()
                self._filed.clear()
            found = self.nearest(basis, self.redundancy)
            answer = self._answers[basis] = (found, frozenset(found))
            point = key_point(basis)
            full = len(found) == self.redundancy
            width = (peer_point(found[-1]) ^ point).bit_length() if full else _WIDE
            self._filed.setdefault(width, {}).setdefault(point >> width, []).append(basis)
        return answer

    def before(self, basis: bytes) -> frozenset[AgentId] | None:
        """The authorities of `basis` before the peers near it last changed, as this view
        last answered them (None: not known, e.g. after a change the transport could
        not name). Who is in both held the basis's ops already."""
        return self._before.get(basis)

    def nearest(self, key: bytes, count: int) -> list[AgentId]:
        """The `count` counted peers closest to `key` (not remembered)."""
        ask = count
        while True:  # ask for more only when peers we do not count stand among the nearest
            near = self._transport.closest_peers(key, ask)
            chosen = [p for p in near if self.counts(p)][:count]
            if len(chosen) == count or len(near) < ask:
                return chosen
            ask *= 4

    def size_at_most(self, limit: int) -> int:
        """min(limit, how many we count), without listing everyone."""
        if limit == self.redundancy:
            return len(self.authorities(self.me.to_bytes()))
        return len(self.nearest(self.me.to_bytes(), limit))

    def peers(self) -> list[AgentId]:
        """Everyone we count, sorted by peer id bytes (O(peers): for status and tests)."""
        if self._sorted is None:
            transport = self._transport
            reachable = {self.me, *transport.known_peers(), *transport.connected_peers()}
            counted = (p for p in reachable if self.counts(p))
            self._sorted = sorted(counted, key=lambda p: p.to_bytes())
        return list(self._sorted)
