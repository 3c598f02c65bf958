"""The accounting rules of the valueflows zome: one small function per rule.

Each rule takes (event, author, ctx) and returns None when the event keeps it, or a message
saying what is wrong. `check_dependencies` instead returns `Missing(addresses)`: a missing
dependency is not proof of anything, so the caller reports Unresolved and retries.
`ctx.states` must be folded from the author's own prior events (its whole chain).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from zomes.valueflows.actions import ACTIONS, NA
from zomes.valueflows.entries import (
    EconomicEvent,
    EconomicResource,
    external_party,
    is_member,
)
from zomes.valueflows.resources import (
    FROM_SIGN,
    TO_SIGN,
    ResourceError,
    ResourceState,
    apply_event,
)
from zomes.valueflows.rule_context import Missing, RuleContext, Violation
from zomes.valueflows.units import (
    UNITS,
    Measure,
    UnitError,
    compatible,
    convert,
    decimal_string,
)

# how far after the action that records it an event may be dated: the clock drift sys
# validation allows an action's own timestamp (an event is what happened, not a plan)
MAX_EVENT_AHEAD_US: Final = 5 * 60 * 1_000_000
TRANSFERS: Final = frozenset({"transfer", "transferAllRights", "transferCustody"})

RULES: Final[tuple[str, ...]] = (
    "check_dependencies",  # referenced resources, processes and specifications are known
    "check_quantity_kind",  # resourceQuantity / effortQuantity as the action's eventQuantity says
    "check_quantity_present",  # actions that change quantities say by how much
    "check_quantity_sign",  # quantities >= 0; a correction's <= 0
    "check_quantity_nonzero",  # a quantity an event states is not zero
    "check_unit_dimension",  # quantities convert exactly to the resource's unit
    "check_process_link",  # inputs need inputOf, outputs outputOf, the rest no process
    "check_process_open",  # no event into a finished process
    "check_time_order",  # hasBeginning <= hasEnd
    "check_event_not_in_future",  # an event's times are not after it was recorded
    "check_transfer_parties",  # a transfer is between two different agents
    "check_author_is_party",  # the author is the provider or the receiver
    "check_external_party",  # an external party: the author's own record, never countersigned
    "check_author_is_provider",  # only the provider records what decrements a resource
    "check_conforms_to",  # resourceConformsTo agrees with the resource's conformsTo
    "check_resource_exists",  # a resource is created before other events change it
    "check_pairing",  # dropoff follows a pickup, modify an accept, in the same process
    "check_countersigning",  # events changing two agents' resources are signed by both
    "check_correction_target",  # a correction names an earlier own event, same action/links
    "check_correction_amount",  # a correction takes back no more than was recorded
    "check_balance",  # quantities stay >= 0 unless the specification allows negative
)


RuleResult = str | Missing | None
Rule = Callable[[EconomicEvent, str, RuleContext], RuleResult]


def check_event(event: EconomicEvent, author: str, ctx: RuleContext) -> list[Violation] | Missing:
    """All the rules `event` breaks ([] when valid), or Missing when it cannot be judged."""
    missing = check_dependencies(event, author, ctx)
    if missing is not None:
        return missing
    return [
        Violation(name, message)
        for name, rule in _CHECKS[1:]
        if isinstance(message := rule(event, author, ctx), str)
    ]


def check_dependencies(event: EconomicEvent, author: str, ctx: RuleContext) -> Missing | None:
    """Referenced resources, processes and specifications are in the context."""
    wanted: list[tuple[str | None, Mapping[str, object]]] = [
        (event.resource_inventoried_as, ctx.resources),
        (event.to_resource_inventoried_as, ctx.resources),
        (event.input_of, ctx.processes),
        (event.output_of, ctx.processes),
        (event.resource_conforms_to, ctx.resource_specs),
        (event.stage, ctx.process_specs),
    ]
    for resource in _resources(event, ctx):
        wanted.append((resource.conforms_to, ctx.resource_specs))
    missing = sorted({address for address, known in wanted if address and address not in known})
    return Missing(tuple(missing)) if missing else None


def check_quantity_kind(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """resourceQuantity and effortQuantity appear only where the eventQuantity allows."""
    kind = ACTIONS[event.action].event_quantity
    if kind == "resource" and event.effort_quantity is not None:
        return f"{event.action} takes a resourceQuantity, not an effortQuantity"
    if kind == "effort" and event.resource_quantity is not None:
        return f"{event.action} takes an effortQuantity, not a resourceQuantity"
    return None


def check_quantity_present(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Work says how much effort; actions that change quantities say how much resource."""
    effects = ACTIONS[event.action]
    if effects.event_quantity == "effort" and event.effort_quantity is None:
        return f"{event.action} needs an effortQuantity (e.g. '3 hour')"
    changes = effects.accounting_effect != NA or effects.onhand_effect != NA
    if changes and event.resource_quantity is None:
        return f"{event.action} changes resource quantities: it needs a resourceQuantity"
    return None


def check_quantity_sign(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Quantities are not negative, except in corrections, whose quantities are not positive."""
    for name, measure in _quantities(event):
        if event.corrects is None and measure.value < 0:
            return f"{name} {measure} is negative; only a correction (corrects) takes back"
        if event.corrects is not None and measure.value > 0:
            return f"a correction takes back: its {name} must be negative, not {measure}"
    return None


def check_quantity_nonzero(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """A quantity an event states is not zero: nothing happened (leave the quantity out
    where the action allows none, e.g. cite)."""
    for name, measure in _quantities(event):
        if measure.value == 0:
            return f"{name} is zero: an event records something that happened"
    return None


def check_unit_dimension(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Resource quantities convert exactly to the resources' units; efforts are times
    (of the dimension of the resource's or specification's unit of effort)."""
    effort = event.effort_quantity
    if effort is not None and UNITS[effort.has_unit].dimension != "time":
        return f"effortQuantity {effort} is not a time: an effort is counted in hours, minutes..."
    for name, measure, unit in _unit_expectations(event, ctx):
        try:
            if name == "resourceQuantity" or not compatible(measure.has_unit, unit):
                convert(measure.value, measure.has_unit, unit)
        except UnitError as error:
            return f"{name}: {error}"
    return None


_PROCESS_LINKS: Final[dict[str, tuple[bool | None, bool | None]]] = {
    # inputOutput: (needs inputOf, needs outputOf); None means either way
    "input": (True, False),
    "output": (False, True),
    "outputInput": (None, None),
    NA: (False, False),
}


def check_process_link(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Inputs are inputOf a process, outputs outputOf one, other actions of none."""
    role = ACTIONS[event.action].input_output
    for prop, present, needed in zip(
        ("inputOf", "outputOf"),
        (event.input_of is not None, event.output_of is not None),
        _PROCESS_LINKS[role],
        strict=True,
    ):
        if needed is not None and present != needed:
            kind = {"input": "a process input", "output": "a process output"}.get(role)
            what = kind or "not a process flow"
            return f"{event.action} is {what}: it {'needs' if needed else 'cannot have'} {prop}"
    return None


def check_process_open(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Events do not go into or out of a finished process."""
    for process in (event.input_of, event.output_of):
        if process is not None and ctx.processes[process].finished:
            return f"process {process} is finished: it takes no more events"
    return None


def check_time_order(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """An event does not end before it begins."""
    begin, end = event.has_beginning, event.has_end
    if begin is not None and end is not None and begin > end:
        return f"hasBeginning {_iso(begin)} is after hasEnd {_iso(end)}"
    return None


def check_event_not_in_future(
    event: EconomicEvent, author: str, ctx: RuleContext
) -> str | None:
    """An event's times are at most MAX_EVENT_AHEAD_US after the action recording it: an
    event is what happened (plans are commitments), and the action's time is bounded by
    the validators' clocks. Deterministic: it reads the action, not a clock."""
    if ctx.recorded_at_us is None:
        return None
    for name, moment in (("hasPointInTime", event.has_point_in_time),
                         ("hasBeginning", event.has_beginning), ("hasEnd", event.has_end)):
        if moment is not None and moment - ctx.recorded_at_us > MAX_EVENT_AHEAD_US:
            return (f"{name} {_iso(moment)} is more than 5 minutes after the event was "
                    f"recorded ({_iso(ctx.recorded_at_us)}): an event is what happened")
    return None


def check_transfer_parties(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """A transfer (of rights, custody or both) is between two agents: its provider and
    receiver differ (moving between one's own resources is `move`)."""
    if event.action in TRANSFERS and event.provider == event.receiver:
        return f"{event.action} to oneself: provider and receiver are both {event.provider}"
    return None


def check_author_is_party(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Agents record only the events they take part in."""
    if author not in (event.provider, event.receiver):
        return f"the author {author} is neither the provider nor the receiver"
    return None


def check_external_party(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """An event whose other party is an external agent (no member: an Agent entry with
    sameAs on the author's chain, named by its address) is the author's own record: the
    author is the other party, and no one countersigns it."""
    external = external_party(event)
    if external is None:
        return None
    if not (is_member(event.provider) or is_member(event.receiver)):
        return "an event has at most one external party: the other is a member"
    if ctx.cosigners:
        return (f"{external} is an external agent: an event with an external party is its "
                "author's own record, never countersigned")
    agent = ctx.agents.get(external)
    if agent is None or agent.same_as is None:
        return (f"{external} is neither a member's agent id nor an external agent (an Agent "
                f"entry with sameAs) of {author}'s chain")
    return None


def check_author_is_provider(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Only the provider records an event that decrements the provider's resource (or
    the receiver, when the provider countersigned it or is an external agent, whose
    resource is not on this chain)."""
    if (_decrements_source(event) and author != event.provider and not ctx.cosigners
            and is_member(event.provider)):
        return f"{event.action} decrements the provider's resource: only the provider records it"
    return None


def check_conforms_to(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """An event's resourceConformsTo is the specification its resource conforms to."""
    spec, resource = event.resource_conforms_to, event.resource_inventoried_as
    if spec is None or resource is None:
        return None
    actual = ctx.resources[resource].conforms_to
    if actual is not None and actual != spec:
        return f"resourceConformsTo {spec} but resource {resource} conforms to {actual}"
    return None


def check_resource_exists(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """A resource is created (by produce, raise...) before events change its quantities."""
    effects, resource = ACTIONS[event.action], event.resource_inventoried_as
    changes = any(
        FROM_SIGN.get(effect) for effect in (effects.accounting_effect, effects.onhand_effect)
    )
    creates = effects.create_resource == "optional" and event.corrects is None
    if resource is None or not changes or creates or resource in ctx.states:
        return None
    if (ctx.cosigners or not is_member(event.provider)) and author != event.provider:
        return None  # the provider's resource: its own chain's authorities check it (or
        # an external agent's: not on any chain of the network)
    return (
        f"{event.action} changes resource {resource}, which none of your earlier events "
        "created (record it first with produce or raise)"
    )


def check_pairing(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """A dropoff follows a pickup, a modify an accept, of that resource in that process."""
    effects = ACTIONS[event.action]
    if effects.pairs_with == NA or effects.input_output != "output" or event.corrects:
        return None
    resource, process = event.resource_inventoried_as, event.output_of
    if resource is None:
        return f"{event.action} needs the resource it concerns (resourceInventoriedAs)"
    if (effects.pairs_with, resource, process) not in ctx.pairs:
        return (
            f"{event.action} of resource {resource} needs an earlier {effects.pairs_with} "
            f"of it into process {process}"
        )
    return None


def check_countersigning(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """An event that changes another agent's resources is countersigned by its provider
    and receiver, who are two different agents; a countersigned event is signed by
    exactly those two."""
    if ctx.cosigners:
        parties = {event.provider, event.receiver}
        if event.provider == event.receiver or ctx.cosigners != parties:
            return (
                "a countersigned event is signed by exactly its provider and its receiver, "
                "two different agents"
            )
        return None
    if external_party(event) is not None:
        return None  # check_external_party: the author's own record
    target = event.to_resource_inventoried_as
    other = event.receiver if event.receiver != author else event.provider
    if event.provider != event.receiver and _gives_to_receiver(event):
        owner = f"the receiver {event.receiver}"
    elif target is not None and target in ctx.states:
        accountable = ctx.states[target].primary_accountable
        if accountable in (None, author):
            return None
        owner, other = f"{accountable}, accountable for resource {target}", accountable
    else:
        return None
    return (
        f"{event.action} changes resources of {owner}: it must be countersigned by both "
        f"{author} and {other} (`coledger record {event.action} ... --to {other}` while "
        "both nodes run)"
    )


def check_correction_target(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """A correction names an earlier event of its author, with the same action and links."""
    if event.corrects is None:
        return None
    corrected = ctx.events.get(event.corrects)
    if corrected is None:
        return f"corrects {event.corrects}, which is not an earlier event of {author}"
    if corrected.corrects is not None:
        return f"corrects {event.corrects}, which is itself a correction"
    if corrected.action != event.action:
        return f"a {event.action} event cannot correct a {corrected.action} event"
    differing = [
        name for name in _CORRECTION_LINKS if getattr(event, name) != getattr(corrected, name)
    ]
    if differing:
        return f"a correction keeps the corrected event's {', '.join(differing)}"
    return None


_CORRECTION_LINKS: Final = (
    "provider",
    "receiver",
    "resource_inventoried_as",
    "to_resource_inventoried_as",
    "input_of",
    "output_of",
)


def check_correction_amount(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Corrections of an event take back at most what that event recorded."""
    if event.corrects is None:
        return None
    corrected = ctx.events.get(event.corrects)
    if corrected is None:
        return None
    earlier = ctx.corrections.get(event.corrects, [])
    for name, measure in _quantities(event):
        recorded = getattr(corrected, _FIELD[name])
        if recorded is None:
            return f"corrects a {name} that the corrected event does not have"
        taken = [getattr(prior, _FIELD[name]) for prior in earlier] + [measure]
        try:
            remaining = recorded.value + sum(
                (convert(m.value, m.has_unit, recorded.has_unit) for m in taken if m), Decimal(0)
            )
        except UnitError as error:
            return f"{name}: {error}"
        if remaining < 0:
            return (
                f"takes back more {name} than recorded: the corrected event has {recorded}, "
                f"corrections would leave {decimal_string(remaining)} {recorded.has_unit}"
            )
    return None


def states_after(
    event: EconomicEvent, author: str, ctx: RuleContext, address: str = ""
) -> dict[str, ResourceState]:
    """The resource states after `event` (at `address`) as the author's chain folds it;
    ResourceError when it cannot apply."""
    return apply_event(
        ctx.states, address, event, resources=ctx.resources, processes=ctx.processes,
        side=author if ctx.cosigners else None,
    )


def check_balance(event: EconomicEvent, author: str, ctx: RuleContext) -> str | None:
    """Resource quantities stay >= 0 unless their specification allows negative."""
    after = ctx.after
    if after is None:
        try:
            after = states_after(event, author, ctx)
        except ResourceError as error:
            return f"cannot apply the event: {error}"
    for address in (event.resource_inventoried_as, event.to_resource_inventoried_as):
        if address is None or address not in after or _may_go_negative(address, ctx):
            continue
        before, now = ctx.states.get(address), after[address]
        for name in ("accounting", "onhand"):
            value = getattr(now, name)
            if value < 0 and (before is None or value < getattr(before, name)):
                return (
                    f"{event.action} would leave resource {address} at {name} quantity "
                    f"{decimal_string(value)} {now.unit}; its specification does not allow "
                    "negative quantities"
                )
    return None


# helpers


def _iso(us: int) -> str:
    """Microseconds since the epoch as ISO 8601 UTC, for messages."""
    try:
        return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return f"{us} µs after 1970"

_FIELD: Final = {"resourceQuantity": "resource_quantity", "effortQuantity": "effort_quantity"}


def _quantities(event: EconomicEvent) -> list[tuple[str, Measure]]:
    """The event's quantities, by VF property name."""
    pairs = (
        ("resourceQuantity", event.resource_quantity),
        ("effortQuantity", event.effort_quantity),
    )
    return [(name, measure) for name, measure in pairs if measure is not None]


def _resources(event: EconomicEvent, ctx: RuleContext) -> list[EconomicResource]:
    """The resource entries the event names that the context has."""
    addresses = (event.resource_inventoried_as, event.to_resource_inventoried_as)
    return [ctx.resources[a] for a in addresses if a is not None and a in ctx.resources]


def _unit_expectations(event: EconomicEvent, ctx: RuleContext) -> list[tuple[str, Measure, str]]:
    """(property, measure, unit it must convert to) for each quantity with a known unit."""
    spec = ctx.resource_specs.get(event.resource_conforms_to or "")
    resources = _resources(event, ctx)
    expected: list[tuple[str, Measure, str]] = []
    if event.resource_quantity is not None:
        units = [r.unit_of_resource for r in resources]
        if not units and spec is not None and spec.default_unit_of_resource:
            units = [spec.default_unit_of_resource]
        expected += [("resourceQuantity", event.resource_quantity, unit) for unit in units]
    if event.effort_quantity is not None:
        units = [r.unit_of_effort for r in resources if r.unit_of_effort]
        if not units and spec is not None and spec.default_unit_of_effort:
            units = [spec.default_unit_of_effort]
        expected += [("effortQuantity", event.effort_quantity, unit) for unit in units]
    return expected


def _decrements_source(event: EconomicEvent) -> bool:
    effects = ACTIONS[event.action]
    return event.resource_inventoried_as is not None and any(
        FROM_SIGN.get(effect, 0) < 0
        for effect in (effects.accounting_effect, effects.onhand_effect)
    )


def _gives_to_receiver(event: EconomicEvent) -> bool:
    """Whether the event adds to, creates or hands rights over a resource for the receiver."""
    effects = ACTIONS[event.action]
    quantity_effects = (effects.accounting_effect, effects.onhand_effect)
    to_target = event.to_resource_inventoried_as is not None and (
        any(TO_SIGN.get(effect) for effect in quantity_effects)
        or "updateTo" in (effects.location_effect, effects.state_effect)
    )
    to_source = event.resource_inventoried_as is not None and any(
        FROM_SIGN.get(effect, 0) > 0 for effect in quantity_effects
    )
    return to_target or to_source or effects.accountable_effect in ("new", "updateTo")


def _may_go_negative(address: str, ctx: RuleContext) -> bool:
    spec = ctx.resource_specs.get(ctx.resources[address].conforms_to or "")
    return spec is not None and spec.allow_negative


_CHECKS: Final[tuple[tuple[str, Rule], ...]] = tuple((name, globals()[name]) for name in RULES)
