"""Our own chain against what the network holds of it (pure).

A rolled-back home (a restored backup, a damaged WAL) has a valid but shorter chain;
its agent-activity authorities still hold the actions it lost. Any action signed by our
key that our chain lacks is proof: the network holds a longer chain of ours (`behind`),
or another action at one of our seqs (a fork we authored). `plan_recovery` picks the
chain to restore from our records and the network's: the longest one linked from our
genesis, ours on a tie.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from node.core.chain import check_link, check_record
from node.core.cid import Cid
from node.core.errors import CoreError, LocalError
from node.core.identity import AgentId
from node.core.records import Record, SignedAction


@dataclass(frozen=True, slots=True)
class Divergence:
    """The network holds actions we signed that our chain lacks."""

    local_seq: int
    """Our chain's head seq (-1: empty)."""
    network_seq: int
    """The highest seq of ours the network holds."""
    fork_seq: int | None
    """The lowest seq at which the network holds another action of ours than our chain."""

    def describe(self) -> str:
        """One line for the log: what the network holds that we do not."""
        parts = []
        if self.network_seq > self.local_seq:
            parts.append(f"the network holds our chain up to seq {self.network_seq}, "
                         f"ours ends at seq {self.local_seq}")
        if self.fork_seq is not None:
            parts.append(f"the network holds another action of ours at seq {self.fork_seq}"
                         " (a fork we authored: this chain was rolled back and written again)")
        return "; ".join(parts)


def divergence(me: AgentId, local_seq: int, local: Mapping[int, Cid],
               network: Iterable[SignedAction], ignore: Collection[Cid] = ()) -> Divergence | None:
    """What the actions signed by `me` among `network` show that our chain (head at
    `local_seq`, -1 if empty; `local`: its addresses by seq, at least at the seqs of
    `network`) lacks, or None. Other authors, bad signatures and `ignore`d
    addresses (branches a recovery set aside) prove nothing and are skipped; only the
    actions that differ from ours are verified (a whole chain costs one dict look-up
    per action)."""
    highest, fork = -1, None
    for signed in network:
        action = signed.action
        if action.author != me or local.get(action.seq) == signed.address:
            continue
        if signed.address in ignore:
            continue
        try:
            signed.verify_signature()
        except CoreError:
            continue
        highest = max(highest, action.seq)
        if action.seq <= local_seq and (fork is None or action.seq < fork):
            fork = action.seq
    if highest < 0:
        return None
    return Divergence(local_seq, max(highest, local_seq), fork)


@dataclass(frozen=True, slots=True)
class RecoveryPlan:
    """How to make our chain the network's: keep seq 0..base_seq, drop the rest of ours,
    append the network's records after base_seq."""

    base_seq: int
    drop: tuple[SignedAction, ...]
    append: tuple[Record, ...]
    set_aside: tuple[Cid, ...]
    """Network-held actions of ours on neither chain (a shorter branch): lost for good."""

    @property
    def head_seq(self) -> int:
        if self.append:
            return self.append[-1].signed.action.seq
        return self.base_seq


def plan_recovery(me: AgentId, local: Sequence[Record],
                  network: Iterable[Record]) -> RecoveryPlan:
    """The chain to restore: the longest one linked from our genesis through our records
    and the network's (each of the network's checked: signed by `me`, its entry its
    action's, every link valid), ours on a tie. LocalError if we have no chain."""
    if not local or local[0].signed.action.seq != 0:
        raise LocalError("this home has no chain to recover (join a network first)")
    by_address: dict[Cid, Record] = {r.signed.address: r for r in local}
    offered: list[Cid] = []
    for record in network:
        signed = record.signed
        if signed.action.author != me or signed.address in by_address:
            continue
        if signed.action.HAS_ENTRY and record.entry is None:
            continue  # (a chain needs its entries: this one cannot be restored)
        if check_record(record) is not None:
            continue
        by_address[signed.address] = record
        offered.append(signed.address)
    children: dict[Cid, list[Record]] = {}
    for record in by_address.values():
        prev = record.signed.action.prev_action
        if prev is not None:
            children.setdefault(prev, []).append(record)
    ours = {r.signed.address for r in local}
    # breadth first from our genesis over valid links: seq grows by one per link
    tip = local[0]
    frontier = [local[0]]
    while frontier:
        following = []
        for parent in frontier:
            for child in children.get(parent.signed.address, ()):
                if check_link(parent.signed, child.signed.action) is None:
                    following.append(child)
        if following:
            tip = min(following, key=lambda r: (r.signed.address not in ours,
                                                r.signed.address.to_bytes()))
        frontier = following
    target = _path_to(tip, by_address)
    base = -1
    for mine, theirs in zip(local, target, strict=False):
        if mine.signed.address != theirs.signed.address:
            break
        base = mine.signed.action.seq
    on_target = {r.signed.address for r in target}
    return RecoveryPlan(
        base_seq=base,
        drop=tuple(r.signed for r in local[base + 1:]),
        append=tuple(target[base + 1:]),
        set_aside=tuple(a for a in offered if a not in on_target),
    )


def _path_to(tip: Record, by_address: Mapping[Cid, Record]) -> list[Record]:
    path = [tip]
    while (prev := path[-1].signed.action.prev_action) is not None:
        path.append(by_address[prev])
    path.reverse()
    return path
