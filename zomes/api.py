"""What a zome is: an integrity part (entry types + deterministic validate) that the
DNA pins, and a coordinator part (functions the CLI and API call) that it does not.

A test can define a throwaway zome inline:

    ZOME = Zome(IntegrityZome("notes", "1", {"Note": parse_note}, validate_notes, (__name__,)))
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from node.core.cid import Cid
from node.core.identity import AgentId
from node.core.ops import Op
from node.core.outcome import MissingDependency, Outcome
from node.core.records import Entry, Record

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
S = TypeVar("S")


class MemoSlot(Generic[K, V]):
    """One kind of memo: its keys are K, its values V. The module that owns a slot
    defines it once (`VIEWS: MemoSlot[Cid, ChainView] = MemoSlot("valueflows views")`);
    no other module reads or writes it, except through functions the owner offers."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"MemoSlot({self.name!r})"


class Memo(Protocol):
    """Values derived from content-addressed data (so never stale), kept by slot and key.

    Bounded: what was remembered may be forgotten before it is recalled, so a reader
    must be able to derive the value again."""

    def recall(self, slot: MemoSlot[K, V], key: K) -> V | None:
        """The value remembered under `key` in `slot`, or None."""
        ...

    def holds(self, slot: MemoSlot[K, V], key: K) -> bool:
        """Whether `slot` holds `key` (without counting as a use)."""
        ...

    def remember(self, slot: MemoSlot[K, V], key: K, value: V) -> None: ...

    def forget(self, slot: MemoSlot[K, V], key: K) -> None:
        """Drop `key` from `slot`, if it is there."""
        ...


if TYPE_CHECKING:
    from node.core.scratch import Scratch


class Deps(Protocol):
    """Must-get style reads available to validation; each raises MissingDependency.

    `memo` keeps values derived from content-addressed data (so they can never be
    stale): e.g. the state folded from a chain up to an action address.
    """

    @property
    def memo(self) -> Memo: ...

    def must_get_record(self, address: Cid) -> Record: ...

    def must_get_entry(self, address: Cid) -> Entry: ...

    def must_get_agent_activity(self, author: AgentId, chain_top: Cid) -> Sequence[Record]:
        """The author's chain from seq 0 up to and including `top`, verified."""
        ...


T = TypeVar("T")
# a chain's top -> an address below it that was missing when the chain was last folded
_FOLD_GAPS: MemoSlot[Cid, Cid] = MemoSlot("fold gaps")


def fold_chain(
    deps: Deps,
    top: Cid | None,
    slot: MemoSlot[Cid, S],
    new_state: Callable[[], S],
    step: Callable[[S, Record], S],
) -> S:
    """The state after `step` has seen every record of a chain from seq 0 to `top`.

    Walks back by prev_action to the nearest state memoized in `slot` (or genesis),
    then folds forward, so validating a chain in order costs one step per action.
    `step` may update the state in place and return it: a memoized state is moved out
    of the memo when it is extended, never shared. The state returned for `top` stays
    memoized: the caller must only read it.
    """
    memo = deps.memo
    pending: list[Record] = []
    address = top
    cached: S | None = None
    while address is not None:
        cached = memo.recall(slot, address)
        if cached is not None:
            break
        # the chain below `top` may have a hole: the next action's fold (from `top`, its
        # prev) checks the hole before walking down to it again, so a chain whose early
        # part is yet to arrive costs a step per op, not a walk per op
        hole = memo.recall(_FOLD_GAPS, address)
        try:
            if hole is not None:
                deps.must_get_record(hole)  # still missing: raises at once
                memo.forget(_FOLD_GAPS, address)
            record = deps.must_get_record(address)
        except MissingDependency:
            if top is not None and address != top:
                memo.remember(_FOLD_GAPS, top, address if hole is None else hole)
            raise
        pending.append(record)
        address = record.action.prev_action
    if not pending and cached is not None:
        return cached
    if cached is not None and address is not None:  # (found at `address`, so never None)
        memo.forget(slot, address)
        state = cached
    else:
        state = new_state()
    for record in reversed(pending):
        state = step(state, record)
    if top is not None:
        memo.remember(slot, top, state)
    return state


EntryParser = Callable[[Any], Any]
Validate = Callable[[Op, Deps], Outcome]


@dataclass(frozen=True)
class IntegrityZome:
    """Entry types and the validation rule; `modules` hold the code the DNA hashes."""

    name: str
    version: str
    entry_types: Mapping[str, EntryParser]
    validate: Validate
    modules: tuple[str, ...]

    def entry_type_name(self, local: str) -> str:
        """The qualified name stored in actions: `zome.Type`."""
        return f"{self.name}.{local}"


@dataclass(frozen=True)
class Zome:
    integrity: IntegrityZome
    coordinator: Mapping[str, Callable[..., Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.integrity.name


class ViewHook(Protocol[V]):
    """An app's view of one agent's chain (its data folded record by record), which the
    ledger keeps folded between commits and hands to the app's calls without reading it:
    folded in full once, then only over the records written since."""

    @property
    def prefix(self) -> str:
        """The entry types the view is folded from (`zome.`): the ledger reads only those."""
        ...

    def empty(self) -> V:
        """The view of a chain with none of those records."""
        ...

    def step(self, view: V, record: Record) -> None:
        """Fold one more record of the chain into `view`, in place."""
        ...

    def copy(self, view: V) -> V:
        """An independent view: folding one goes on without changing the other."""
        ...

    def seed(self, deps: Deps, top: Cid, view: V) -> None:
        """Tell validation the author's view up to `top` (an author checking its own commit
        holds it already); `view` becomes validation's, so give a copy."""
        ...


class Cascade(Protocol):
    """What an app's call may ask of the network beyond its own chain (the running node's
    get cascade): a record by address, and an agent's chain from its authorities."""

    async def get(self, address: Cid) -> Record | None:
        """The record at `address`, held here or fetched from its authorities."""
        ...

    async def agent_activity(self, author: AgentId, first: bool = False) -> list[Record]:
        """`author`'s chain, verified (the longest answer; with `first`, the first)."""
        ...


class AppLedger(Protocol):
    """The agent's ledger as an app's hook uses it: the app's view of the chain, must-get
    reads (over records sent along too), and a validated commit."""

    def view(self) -> Any: ...

    def deps(self, staged: list[Record] | None = None) -> Deps: ...

    def commit(self, build: Callable[[Scratch, Any], T]) -> T: ...


@dataclass(frozen=True)
class Draft:
    """An initiator's proposal as the app drafted it."""

    content: dict[str, Any]
    """The entry to countersign, as proposed."""
    to_new: str | None
    """The name of what the counterparty is to create and fill in (`CountersignHook.new_field`)."""
    records: tuple[Record, ...]
    """Records of ours the counterparty needs to check the entry without the network."""


class CountersignHook(Protocol):
    """What an app supplies for the runtime to countersign its entries (one entry on two
    chains) without knowing what they are: the runtime keeps the session, the app says
    what is proposed, who the parties are, and whether its rules would take it."""

    entry_type: str
    """The envelope entry type written on both chains (the runtime picks the hook by it)."""
    noun: str
    """What the entry is called in messages: "event", "agreement"."""
    initiator_is: str
    """Who of `parties` proposes, to whom, in words ("provider, to its receiver")."""
    new_field: str
    """The one field the counterparty fills in when the proposal names a `to_new`."""

    def draft(self, request: object, me: AgentId, other: AgentId, now_us: int) -> Draft:
        """The entry a request describes, from `me` to `other` (LocalError if it cannot be)."""
        ...

    def parties(self, content: Mapping[str, Any]) -> tuple[str, str] | None:
        """The agents the entry names as initiator and counterparty; None if malformed."""
        ...

    def complete(self, content: Mapping[str, Any], to_new: str | None,
                 staged: Sequence[Record]) -> dict[str, Any]:
        """The counterparty's final entry: `to_new` created on its chain and filled in."""
        ...

    def context_records(self, content: Mapping[str, Any]) -> list[Record]:
        """The records of ours the entry names, sent along for the other party to check it."""
        ...

    def precheck(self, content: Mapping[str, Any], me: AgentId, other: AgentId,
                 staged: Sequence[Record], *, placeholder: bool) -> str | None:
        """Why the network's rules would refuse our side of the entry (None: they would
        not); with `placeholder`, records we do not hold are no reason yet."""
        ...


class OwnRecords(Protocol):
    """The records of this agent's own chain, by address."""

    def get_record(self, address: Cid) -> Record | None: ...


CountersignHooks = Callable[[AppLedger, OwnRecords], Sequence[CountersignHook]]
"""How an app's hooks (one per countersigned entry type, the first the default) are made
for one agent's ledger and chain."""


def split_entry_type(qualified: str) -> tuple[str, str]:
    """`zome.Type` -> (zome, Type); ValueError on anything else."""
    zome, sep, local = qualified.partition(".")
    if not sep or not zome or not local:
        raise ValueError(f"entry type {qualified!r} is not of the form zome.Type")
    return zome, local
