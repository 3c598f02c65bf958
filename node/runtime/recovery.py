"""Our own chain against the network's copy of it: noticing a rollback, and recovering.

A home restored from a backup, or whose WAL lost its last frames, holds a valid but
shorter chain; its agent-activity authorities still hold what it lost. The node looks
on start, every OWN_CHECK_US, and whenever actions of ours it lacks come its way (from a
peer, or as the two sides of a fork in its own validation); on evidence signed by our
key it marks the home behind (node/store/behind.py): writes are refused, nothing more
of ours is published, and `coledger chain recover` brings the records back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import asdict
from typing import Any, Protocol

import trio

from dht import wire
from dht.transport import Transport
from node.core.errors import CoreError, Field
from node.core.identity import AgentId
from node.core.own_chain import Divergence, divergence, plan_recovery
from node.core.records import Record, SignedAction
from node.core.refusals import NoPeerAnswered, RecoveryLoses, RecoveryShort
from node.store.behind import (
    BehindMark,
    addresses_at,
    clear_unchecked,
    mark_behind,
    read_mark,
    restore_chain,
    restored_unchecked,
    set_aside,
)
from node.store.dht import DhtStore
from node.store.sqlite import Store


class Asks(Protocol):
    """How a get goes to one peer (node.runtime.cascade.Cascade)."""

    async def ask(self, peer: AgentId, request: wire.GetRequest
                  ) -> tuple[wire.RawRecord, ...]: ...

log = logging.getLogger("coledger.node")

OWN_CHECK_US = 60_000_000
"""Least time between two asks of our authorities for our own chain."""
ASK_AT_MOST = 8
"""Peers asked for our chain in one recovery (GET_TIMEOUT each at worst)."""
START_CHECK_S = 10.0
CHECK_WINDOW = 64
"""A check asks for our chain from this many actions below our head on (what a rollback
lost lies above it; a fork written below a longer rewrite comes back as a warrant)."""
"""Longest wait for the check on start (a node still starts if peers are slow)."""

Progress = Callable[[int, int], None]


class OwnChain:
    """Watches that our chain holds all the network holds of it; recovers it if not."""

    def __init__(self, me: AgentId, store: Store, dht: DhtStore, transport: Transport,
                 clock: Callable[[], int], *, members: AbstractSet[AgentId],
                 authorities: Callable[[bytes], list[AgentId]], cascade: Asks,
                 restored: Callable[[], None]) -> None:
        self.me = me
        self.store = store
        self.dht = dht
        self.transport = transport
        self.clock = clock
        self.members = members
        self.authorities = authorities
        self.cascade = cascade
        self.restored = restored  # the chain changed under publishing: it looks afresh
        self.mark: BehindMark | None = read_mark(self.store)
        self.unchecked = restored_unchecked(self.store)  # (restored, not yet compared)
        self.checked_us = 0
        self.due = True  # (a check is wanted: on start, or on a hint)
        self.answered = 0  # peers that answered the last fetch

    @property
    def behind(self) -> bool:
        return self.mark is not None

    def status(self) -> dict[str, Any] | None:
        return None if self.mark is None else asdict(self.mark)

    # -- noticing ------------------------------------------------------------------

    def note(self, actions: Iterable[SignedAction], how: str) -> Divergence | None:
        """Mark the home behind if any of `actions` is ours and not on our chain."""
        mine = [a for a in actions if a.action.author == self.me]
        if not mine:
            return None
        head = self.store.head()
        found = divergence(self.me, -1 if head is None else head.seq,
                           addresses_at(self.store, {a.action.seq for a in mine}), mine,
                           set_aside(self.store))
        if found is not None:
            self._flag(found, how)
        return found

    def _flag(self, found: Divergence, how: str) -> None:
        if self.mark is None:
            log.error("our chain is behind the network (%s: %s): writes are refused until"
                      " `coledger chain recover`", how, found.describe())
        mark_behind(self.store, BehindMark(found.local_seq, found.network_seq,
                                           f"{how}: {found.describe()}", self.clock()))
        self.mark = read_mark(self.store)

    def refresh(self) -> None:
        """Read the mark again (a `chain recover` run by another process clears it)."""
        self.mark = read_mark(self.store)
        self.unchecked = restored_unchecked(self.store)

    async def check(self) -> Divergence | None:
        """Ask our agent-activity authorities for our chain and compare (our own store
        first: as an authority of ourselves we may hold what our chain lost)."""
        self.checked_us = self.clock()
        head = self.store.head()
        since = 0 if head is None else max(0, head.seq - CHECK_WINDOW)
        held = self.dht.activity(self.me, since)
        found = self.note((r.signed for r in held), "our own authority store")
        records = await self.fetch(since=since)
        self.due = False
        found = self.note((r.signed for r in records), "our agent-activity authorities") or found
        if self.unchecked:
            await self.settle_restored()
        return found

    async def settle_restored(self) -> None:
        """A home restored from a backup, once our authorities answered: take back what
        the network holds beyond the backup, or find it lacks nothing; then writes may
        resume. Until then the check is due again at every round."""
        if not self.answered:
            self.due = True
            return
        if self.mark is None:
            clear_unchecked(self.store)
            self.unchecked = False
            log.info("restored chain compared with the network: nothing missing")
            return
        try:
            await self.recover()
        except CoreError as e:
            log.warning("the restored chain could not take back its records from the"
                        " network (%s): writes stay refused until a recovery succeeds", e)
            return
        self.unchecked = False
    async def check_on_start(self) -> None:
        """`check`, for at most START_CHECK_S (if cut short, it is due again)."""
        with trio.move_on_after(START_CHECK_S):
            await self.check()

    async def maybe_check(self) -> None:
        """A check when one is due (a hint came, or OWN_CHECK_US passed)."""
        self.refresh()
        if self.due or self.clock() - self.checked_us >= OWN_CHECK_US:
            await self.check()

    async def fetch(self, progress: Progress | None = None, *,
                    wide: bool = False, since: int = 0) -> list[Record]:
        """Our chain as our authorities (`wide`: and other members, up to ASK_AT_MOST)
        hold it from seq `since` on, decoded, unverified: every answer, merged (a peer
        may hold a part; forks included)."""
        me = self.me
        sources = [p for p in self.authorities(me.to_bytes()) if p != me]
        if wide:
            sources += [p for p in self.transport.connected_peers()
                        if p in self.members and p not in sources and p != me]
        sources = sources[:ASK_AT_MOST]
        merged: dict[bytes, Record] = {}
        self.answered = 0
        for done, peer in enumerate(sources):
            raws = await self.cascade.ask(peer, wire.GetRequest(me, "agent_activity", since))
            if raws:
                self.answered += 1
            for raw in raws:
                record = raw.decoded()
                if record is not None:
                    merged.setdefault(record.signed.address.to_bytes(), record)
            if progress is not None:
                progress(done + 1, len(sources))
        return sorted(merged.values(), key=lambda r: r.signed.action.seq)

    # -- recovering ----------------------------------------------------------------

    async def recover(self, force: bool = False,
                      progress: Progress | None = None) -> dict[str, Any]:
        """Fetch our records back from the network, verified (our key's signatures, links,
        seqs from our genesis), and append the missing ones in one transaction; clear the
        mark. A chain of ours that forks from the network's needs `force` to drop what
        the network does not hold on its longest chain."""
        network = await self.fetch(progress, wide=True)
        held = self.dht.activity(self.me)  # (as our own authority)
        me, store = self.me, self.store
        local = list(store.records())
        plan = plan_recovery(me, local, [*network, *held])
        if not self.answered and not plan.append:
            if force and self.unchecked and self.mark is None:  # (a member alone: no one
                clear_unchecked(store)                          # to compare with)
                self.unchecked = False
                log.warning("restored chain accepted as it is (forced): no member answered")
                return {"restored": 0, "dropped": 0, "set_aside": 0,
                        "head_seq": plan.head_seq, "accepted_unchecked": True}
            raise NoPeerAnswered("no peer answered with this chain: nothing restored"
                                 " (is the network reachable? give a member's address with"
                                 " ", Field("bootstrap", "bootstrap"), ")")
        known = set_aside(store)
        lost = [a for a in plan.set_aside if a not in known]
        self.refresh()
        if (plan.drop or lost) and not force:
            raise RecoveryLoses(_fork_message(plan.base_seq, plan.drop, lost, plan.head_seq))
        if self.mark is not None and plan.head_seq < self.mark.network_seq and not force:
            raise RecoveryShort(
                f"the peers reached hold this chain only up to seq {plan.head_seq}, the"
                f" network had seq {self.mark.network_seq}: nothing restored; try again when"
                " more members are online (or ", Field("force", "force"), " to accept this)")
        head = store.head()
        aside = [*plan.set_aside, *(s.address for s in plan.drop)]
        restore_chain(store, head, plan.base_seq, plan.append, aside)
        self.mark = None
        self.restored()
        if plan.append or plan.drop:
            log.warning("chain recovered: %d records restored from the network, %d dropped;"
                        " head seq %d", len(plan.append), len(plan.drop), plan.head_seq)
        return {"restored": len(plan.append), "dropped": len(plan.drop),
                "set_aside": len(lost), "head_seq": plan.head_seq}


def _fork_message(base: int, drop: tuple[SignedAction, ...], lost: list[Any],
                  head_seq: int) -> str:
    parts = []
    if drop:
        seqs = f"seq {drop[0].action.seq}" + (
            f"..{drop[-1].action.seq}" if len(drop) > 1 else "")
        parts.append(f"drops {len(drop)} action(s) of this chain ({seqs}) written after"
                     " the rollback")
    if lost:
        parts.append(f"sets aside {len(lost)} action(s) of yours the network holds on a"
                     " shorter branch")
    return (f"your chain and the network's differ after seq {base}: recovering to seq"
            f" {head_seq} {' and '.join(parts)}")

