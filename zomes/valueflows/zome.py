"""The valueflows zome's integrity: entry types, and `validate` for ops from any agent.

The accounting rules (rules.py) judge an event against the author's own chain up to
the action before it: its resources, processes, specifications, prior events and
the resource states folded from them. `ChainView` is that fold, built once per
chain and extended one action at a time (zomes.api.fold_chain memoizes it).
Entries another agent created (a shared specification, a process) are fetched as
dependencies; until they arrive the op is Unresolved, never Invalid.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from node.core.actions import Create, CreateLink, Update
from node.core.cid import Cid
from node.core.errors import CoreError, RemoteError
from node.core.ops import Op, OpType
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome, Unresolved, Valid
from node.core.records import Record
from zomes.api import Deps, IntegrityZome, Memo, MemoSlot, Zome, fold_chain
from zomes.valueflows import resources
from zomes.valueflows.agreements import COUNTERSIGNED_AGREEMENT, check_agreement, signers_of
from zomes.valueflows.commitments import LINK_TYPES as PLAN_LINK_TYPES
from zomes.valueflows.commitments import (
    check_claim,
    check_commitment,
    check_event_plans,
    check_intent_met,
    check_link,
)
from zomes.valueflows.entries import (
    ENTRY_TYPES,
    RECIPE_TYPES,
    Agent,
    Agreement,
    Claim,
    Commitment,
    EconomicEvent,
    EconomicResource,
    Intent,
    Process,
    ProcessSpecification,
    Proposal,
    ResourceSpecification,
    VfEntry,
)
from zomes.valueflows.messages import describe_error
from zomes.valueflows.parsing import COUNTERSIGNED_EVENT as COUNTERSIGNED_EVENT
from zomes.valueflows.parsing import COUNTERSIGNED_TYPE as COUNTERSIGNED_TYPE
from zomes.valueflows.parsing import NAME as NAME
from zomes.valueflows.parsing import PREFIX as PREFIX
from zomes.valueflows.parsing import VERSION as VERSION
from zomes.valueflows.parsing import entry_type as entry_type
from zomes.valueflows.parsing import parse as parse
from zomes.valueflows.parsing import parse_entry as parse_entry
from zomes.valueflows.parsing import parse_signed as parse_signed
from zomes.valueflows.parsing import thing_address as thing_address
from zomes.valueflows.proposals import PROPOSAL_LINK, check_planning, check_proposal_link
from zomes.valueflows.recipe_links import RECIPE_LINK, check_recipe_link
from zomes.valueflows.recipe_rules import validate_recipe
from zomes.valueflows.rule_context import Missing, Pair, RuleContext, pair_of
from zomes.valueflows.rules import check_event

# Ops whose authorities judge an event against the author's chain: the agent-activity
# authorities, who hold that chain (others check the entry's shape only; a cheat is
# warranted by the former and then blocked by everyone).
CHAIN_CHECKED: Final = frozenset({OpType.REGISTER_AGENT_ACTIVITY})
# Entry types that may be updated (by their author), e.g. a process being finished, an intent
# when its proposal is withdrawn (offers.withdraw).
UPDATABLE: Final = frozenset({"Process", "ResourceSpecification", "ProcessSpecification", "Agent",
                              "Intent"})
# What app validation counts as malformed data (validation.app) rather than a bug.
_MALFORMED: Final = (ValueError, TypeError, KeyError, RemoteError)

# The zome's memos (deps.memo), its own: parsed entries by (type, bytes); the verdict on
# an event's action; an author's compact view up to an action (see `seed_view`).
_VERDICTS: MemoSlot[Cid, Outcome] = MemoSlot("valueflows verdicts")
_VIEWS: MemoSlot[Cid, ChainView] = MemoSlot("valueflows views")


RECENT: Final = 64
"""Events a compact view keeps by address (a correction mostly names a recent one)."""


class ChainView:
    """One author's ValueFlows data as of some action (mutable while it is being folded).

    A complete view (`keep_events`, the default: reports, the author's own ledger) keeps
    every event, in `events` and, in chain order, `order`. A compact one (validation,
    which keeps a view of every chain it judges, for as long as the node runs) keeps
    only the RECENT latest in `events`: what the rules need of the others is in
    `pairs` and `corrections`, and `ChainEvents` reads older ones back from the chain.
    """

    def __init__(self, keep_events: bool = True) -> None:
        self.keep_events = keep_events
        self.resources: dict[str, EconomicResource] = {}
        self.processes: dict[str, Process] = {}
        self.resource_specs: dict[str, ResourceSpecification] = {}
        self.process_specs: dict[str, ProcessSpecification] = {}
        self.agent_entries: dict[str, Agent] = {}  # external agents among them (Agent.same_as)
        self.events: dict[str, EconomicEvent] = {}
        self.states: dict[str, resources.ResourceState] = {}
        self.order: list[str] = []  # event addresses in chain order (complete views)
        self.pairs: set[Pair] = set()  # RuleContext.pair_index
        self.corrections: dict[str, list[EconomicEvent]] = {}  # RuleContext.correction_index

    def agents(self) -> set[str]:
        """The agents this chain's events name as provider or receiver."""
        if not self.keep_events:
            raise ValueError("a compact chain view does not keep every event")
        return {a for e in self.events.values() for a in (e.provider, e.receiver)}

    def copy(self) -> ChainView:
        """An independent view (entries and states are immutable: containers are copied,
        not what they hold)."""
        other = ChainView(self.keep_events)
        for name, value in vars(self).items():
            if name != "keep_events":
                setattr(other, name, value.copy())
        other.corrections = {k: list(v) for k, v in self.corrections.items()}
        return other

    def step(
        self, record: Record, memo: Memo | None = None,
        after: dict[str, resources.ResourceState] | None = None,
    ) -> ChainView:
        """Fold one more record of the chain into this view (in place); `memo` (a deps
        memo) memoizes the parsed entry (see parse_entry); `after`, the record's event's
        `states_after` when already known, spares applying it again."""
        action = record.action
        name = getattr(action, "entry_type", None)
        if name is None or not name.startswith(PREFIX) or record.entry is None:
            return self
        side = str(action.author) if name == COUNTERSIGNED_TYPE else None
        entry = (parse(name, record.entry.value) if memo is None
                 else parse_entry(memo, name, record.entry)[0])
        self.add(thing_address(action, record.address), entry, side, after)
        return self

    def add(
        self, address: str, entry: VfEntry, side: str | None = None,
        after: dict[str, resources.ResourceState] | None = None,
    ) -> None:
        """Fold one entry; `side` is the party whose chain folds a countersigned event;
        `after` (an event's, from states_after) becomes the states, owned by this view."""
        if isinstance(entry, EconomicEvent):
            if after is None:
                resources.apply_in_place(
                    self.states, address, entry, self.resources, self.processes, side)
            else:
                self.states = after
            self.events[address] = entry
            if self.keep_events:
                self.order.append(address)
            elif len(self.events) > RECENT:
                del self.events[next(iter(self.events))]
            pair = pair_of(entry)
            if pair is not None:
                self.pairs.add(pair)
            if entry.corrects is not None:
                self.corrections.setdefault(entry.corrects, []).append(entry)
        elif isinstance(entry, EconomicResource):
            self.resources[address] = entry
        elif isinstance(entry, Process):
            self.processes[address] = entry
        elif isinstance(entry, ResourceSpecification):
            self.resource_specs[address] = entry
        elif isinstance(entry, ProcessSpecification):
            self.process_specs[address] = entry
        elif isinstance(entry, Agent):
            self.agent_entries[address] = entry

    def context(
        self, extra: dict[str, VfEntry] | None = None, cosigners: frozenset[str] = frozenset(),
        after: dict[str, resources.ResourceState] | None = None,
        recorded_at_us: int | None = None, events: Mapping[str, EconomicEvent] | None = None,
    ) -> RuleContext:
        """The rules' view; `extra` adds entries of other agents fetched as dependencies;
        `cosigners` are the parties of a countersigned event (empty for one author's);
        `after`, the judged event's states_after in this view without `extra`; `events`,
        the prior events by address (a compact view's `ChainEvents`; else `self.events`)."""
        maps: dict[type, dict[str, Any]] = {
            EconomicResource: self.resources,
            Process: self.processes,
            ResourceSpecification: self.resource_specs,
            ProcessSpecification: self.process_specs,
        }
        if extra:
            maps = {cls: dict(m) for cls, m in maps.items()}
            for address, entry in extra.items():
                target = maps.get(type(entry))
                if target is not None:
                    target.setdefault(address, entry)
        return RuleContext(
            resources=maps[EconomicResource],
            processes=maps[Process],
            resource_specs=maps[ResourceSpecification],
            process_specs=maps[ProcessSpecification],
            events=self.events if events is None else events,
            states=self.states,
            cosigners=cosigners,
            after=after if not extra else None,
            recorded_at_us=recorded_at_us,
            pair_index=self.pairs,
            correction_index=self.corrections,
            agents=self.agent_entries,
        )

    def states_after(
        self, address: str, event: EconomicEvent, side: str | None = None
    ) -> dict[str, resources.ResourceState]:
        """The states after one more event (this view unchanged), as `add` would fold it
        and as check_balance applies it (side: the author of a countersigned event);
        ResourceError when it cannot apply."""
        return resources.apply_event(
            self.states, address, event, resources=self.resources, processes=self.processes,
            side=side,
        )


def chain_view(deps: Deps, top: Cid | None) -> ChainView:
    """The author's compact view up to and including `top` (memoized; read it, don't
    change it)."""
    memo = deps.memo

    def compact() -> ChainView:
        return ChainView(keep_events=False)

    def step(view: ChainView, record: Record) -> ChainView:
        return view.step(record, memo)

    return fold_chain(deps, top, _VIEWS, compact, step)


def seed_view(deps: Deps, top: Cid, view: ChainView) -> None:
    """Tell validation the author's view up to `top`: an author checking its own commit
    holds it already, and would otherwise fold its whole chain again on every commit.
    `view` becomes the memo's (it may be extended in place): give a copy."""
    deps.memo.remember(_VIEWS, top, view)


class ChainEvents(Mapping[str, EconomicEvent]):
    """An author's events up to and including `top`, by address, for the rules' lookups
    (a correction names the event it corrects): from a compact view's recent events, or
    read back along the chain from `deps`, down to the named action's seq at most
    (MissingDependency where a record of the chain is not held: as folding it would)."""

    def __init__(self, deps: Deps, top: Cid | None, recent: Mapping[str, EconomicEvent]) -> None:
        self._deps, self._top, self._recent = deps, top, recent

    def __getitem__(self, address: str) -> EconomicEvent:
        event = self._recent.get(address)
        if event is not None:
            return event
        try:
            named = Cid.parse(address)
        except CoreError:
            raise KeyError(address) from None  # no address names no event: no walk
        floor = self._lowest_seq(named)
        for seq, name, event in self._walk():
            if name == address:
                return event
            if seq <= floor:
                break
        raise KeyError(address)

    def _lowest_seq(self, address: Cid) -> int:
        """The seq below which the chain cannot hold `address` (an action's own seq; 0
        when it is not an action held here: a countersigned event is named by its entry)."""
        try:
            return self._deps.must_get_record(address).action.seq
        except MissingDependency:
            return 0

    def _walk(self) -> Iterator[tuple[int, str, EconomicEvent]]:
        """(seq, address, event) of the chain's events, from `top` down to genesis."""
        address = self._top
        while address is not None:
            record = self._deps.must_get_record(address)
            action = record.action
            name = getattr(action, "entry_type", None)
            if name is not None and name.startswith(PREFIX) and record.entry is not None:
                entry = parse_entry(self._deps.memo, name, record.entry)[0]
                if isinstance(entry, EconomicEvent):
                    yield action.seq, thing_address(action, record.address), entry
            address = action.prev_action

    def __iter__(self) -> Iterator[str]:
        return (name for _, name, _ in self._walk())

    def __len__(self) -> int:
        return sum(1 for _ in self._walk())


def _fetch_foreign(deps: Deps, missing: Missing) -> dict[str, VfEntry]:
    """Entries named by the event but not on the author's chain (MissingDependency if absent)."""
    found: dict[str, VfEntry] = {}
    for text in missing.addresses:
        entry = read_record(deps, deps.must_get_record(Cid.parse(text)))
        if entry is not None:  # else not a VF entry: the rules will name what is wrong
            found[text] = entry
    return found


def read_record(deps: Deps, record: Record) -> VfEntry | None:
    """The valueflows entry a record holds (parsed once: see parse_entry), or None."""
    name = getattr(record.action, "entry_type", None)
    if record.entry is None or name is None or not name.startswith(PREFIX):
        return None
    return parse_entry(deps.memo, name, record.entry)[0]


def judge_event(
    event: EconomicEvent, author: str, view: ChainView, deps: Deps,
    cosigners: frozenset[str] = frozenset(),
    after: dict[str, resources.ResourceState] | None = None,
    recorded_at_us: int | None = None, top: Cid | None = None,
) -> Outcome:
    """Apply every accounting rule; fetch other agents' entries the event names.
    `after`: view.states_after the event, if the caller has it (see RuleContext.after);
    `recorded_at_us`: the timestamp of the action recording it; `top`: the action `view`
    is folded up to (its prior events are read from the chain if the view is compact)."""
    events = None if view.keep_events else ChainEvents(deps, top, view.events)
    result = check_event(event, author, view.context(
        cosigners=cosigners, after=after, recorded_at_us=recorded_at_us, events=events))
    if isinstance(result, Missing):
        foreign = _fetch_foreign(deps, result)
        result = check_event(event, author, view.context(
            foreign, cosigners, recorded_at_us=recorded_at_us, events=events))
        if isinstance(result, Missing):
            return Unresolved(tuple(Cid.parse(a) for a in result.addresses))
    if result:
        first = result[0]
        return Invalid(first.rule, first.message)
    return VALID


def _check_update(action: Update, local: str, deps: Deps) -> Outcome:
    if local not in UPDATABLE:
        return Invalid("check_update_allowed", f"a {local} cannot be updated")
    original = deps.must_get_record(action.original_action).action
    if original.author != action.author:
        return Invalid("check_update_allowed", "only the author of an entry may update it")
    if getattr(original, "entry_type", None) != action.entry_type:
        return Invalid("check_update_allowed", "an update must keep the entry type")
    return VALID


def validate(op: Op, deps: Deps) -> Outcome:
    """The valueflows integrity rules for one op (deterministic; reads only deps)."""
    action = op.action
    if isinstance(action, CreateLink) and action.link_type == PROPOSAL_LINK:
        return check_proposal_link(action, deps)
    if isinstance(action, CreateLink) and action.link_type in PLAN_LINK_TYPES:
        return check_link(action, deps)
    if isinstance(action, CreateLink) and action.link_type == RECIPE_LINK:
        return check_recipe_link(action, deps)
    if not isinstance(action, Create | Update):
        return VALID  # other links and deletes carry no accounting meaning here
    if op.entry is None:
        return VALID  # ops that carry no entry: nothing of ours to check
    try:
        entry, envelope = parse_entry(deps.memo, action.entry_type, op.entry)
    except ValueError as e:
        return Invalid("check_entry_shape", describe_error(e))
    local = action.entry_type.removeprefix(PREFIX)
    if isinstance(action, Update):
        return _check_update(action, local, deps)
    if isinstance(entry, RECIPE_TYPES):
        return validate_recipe(entry, op, deps, lambda record: read_record(deps, record))
    if isinstance(entry, Intent | Proposal):
        return check_planning(entry, str(action.author), deps)
    if isinstance(entry, Agreement):
        return check_agreement(entry, signers_of(envelope), lambda clause: check_intent_met(
            clause, deps, clause.resource_conforms_to, action.timestamp))
    if isinstance(entry, Commitment):
        return check_commitment(entry, str(action.author), action.timestamp, deps)
    if isinstance(entry, Claim):
        return check_claim(entry, str(action.author), deps)
    if not isinstance(entry, EconomicEvent) or op.type not in CHAIN_CHECKED:
        return VALID
    # StoreRecord and agent-activity ops of one action get the same verdict: judge once.
    memo, key = deps.memo, op.signed.address
    verdict = memo.recall(_VERDICTS, key)
    if verdict is None:
        view = chain_view(deps, action.prev_action)
        author = str(action.author)
        cosigners = frozenset(
            str(p.agent) for p in envelope.session.parties) if envelope else frozenset()
        # applied once, for check_balance and for the fold forward (a session has 2+
        # parties, so cosigners are set exactly when step folds one side of the event)
        try:
            after: dict[str, resources.ResourceState] | None = view.states_after(
                thing_address(action, op.signed.address), entry,
                author if envelope else None)
        except resources.ResourceError:
            after = None  # check_balance applies it again and says why
        verdict = judge_event(entry, author, view, deps, cosigners, after, action.timestamp,
                              action.prev_action)
        if isinstance(verdict, Valid):
            verdict = check_event_plans(entry, author, deps, cosigners,
                                        action.prev_action)
        if not isinstance(verdict, Unresolved):
            memo.remember(_VERDICTS, key, verdict)
        if isinstance(verdict, Valid):
            _fold_forward(deps, view, Record(op.signed, op.entry), after)
    return verdict


def _fold_forward(
    deps: Deps, view: ChainView, record: Record,
    after: dict[str, resources.ResourceState] | None = None,
) -> None:
    """Move the memoized view the event was just judged against (up to its prev) one
    record on, to the event's own action: the step fold_chain would take when the next
    action is judged, without walking back to find it. Only after a Valid verdict (a
    retry or a warrant's re-validation may still need the view before an op that was
    not); if the step fails, the view is dropped and the next fold meets the error."""
    prev = record.action.prev_action
    memo = deps.memo
    if prev is None or memo.recall(_VIEWS, prev) is not view:
        return
    memo.forget(_VIEWS, prev)  # a memoized state is moved, never shared
    try:
        view.step(record, memo, after)
    except _MALFORMED:
        return
    memo.remember(_VIEWS, record.address, view)


INTEGRITY = IntegrityZome(
    name=NAME,
    version=VERSION,
    entry_types={
        **{name: cls.from_content for name, cls in ENTRY_TYPES.items()},
        COUNTERSIGNED_EVENT: lambda content: parse(COUNTERSIGNED_TYPE, content),
        COUNTERSIGNED_AGREEMENT: lambda content: parse(PREFIX + COUNTERSIGNED_AGREEMENT, content),
    },
    validate=validate,
    modules=(
        "zomes.valueflows.zome",
        "zomes.valueflows.parsing",
        "zomes.valueflows.messages",
        "zomes.valueflows.actions",
        "zomes.valueflows.entries",
        "zomes.valueflows.units",
        "zomes.valueflows.resources",
        "zomes.valueflows.rules",
        "zomes.valueflows.rule_context",
        "zomes.valueflows.recipe_rules",
        "zomes.valueflows.proposals",
        "zomes.valueflows.agreements",
        "zomes.valueflows.commitments",
        "zomes.valueflows.recipe_links",
    ),
)

ZOME = Zome(INTEGRITY)
