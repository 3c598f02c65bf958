"""The accounting zome's integrity: its entry types and `validate`, for ops from any agent.

Value equations, declared footprints, allocations and budgets are entries like any other:
signed on their author's chain, published, and judged by the authorities with these rules
(deterministic; they read only through deps). Entries are never updated: a new declaration
is made instead, and reports take the latest.
"""

from __future__ import annotations

from typing import Any, Final

from node.core.actions import AgentValidationPkg, Create, Update
from node.core.cid import Cid
from node.core.ops import Op, OpType
from node.core.outcome import VALID, Invalid, Outcome
from node.core.records import Record
from zomes.accounting.common import dimension
from zomes.accounting.entries import ENTRY_TYPES, Allocation, Budget, SpecFootprint
from zomes.api import Deps, IntegrityZome, MemoSlot, Zome, fold_chain
from zomes.valueflows.entries import ResourceSpecification, VfEntry
from zomes.valueflows.messages import describe_error
from zomes.valueflows.zome import PREFIX as VF_PREFIX
from zomes.valueflows.zome import parse as parse_vf

NAME: Final = "accounting"
VERSION: Final = "1"
PREFIX: Final = NAME + "."

RULES: Final[tuple[str, ...]] = (
    "check_footprint_specification",  # a footprint is declared on a resource specification
    "check_allocation_process",  # only a process's author allocates its footprint
    "check_budget_declarer",  # an agent sets its own budgets; the progenitor the network's
)
# Ops whose authorities check what an entry refers to (StoreEntry authorities check shape).
REFERENCES_CHECKED: Final = frozenset({OpType.STORE_RECORD, OpType.REGISTER_AGENT_ACTIVITY})


def entry_type(cls: type[VfEntry]) -> str:
    return PREFIX + cls.__name__


def parse(entry_type_name: str, content: Any) -> VfEntry:
    """The typed entry; ValueError (pydantic's ValidationError is one) if malformed."""
    cls = ENTRY_TYPES.get(entry_type_name.removeprefix(PREFIX))
    if cls is None or not entry_type_name.startswith(PREFIX):
        raise ValueError(f"unknown entry type {entry_type_name}")
    if not isinstance(content, dict):
        raise ValueError(f"a {cls.__name__} entry must be a map")
    return cls.from_content(content)


def _vf_entry(record: Record, local: str) -> Any | None:
    """The record's valueflows entry of type `local`, or None when it is something else."""
    name = getattr(record.action, "entry_type", None)
    if name != VF_PREFIX + local or record.entry is None:
        return None
    return parse_vf(name, record.entry.value)


def check_footprint_specification(entry: SpecFootprint, op: Op, deps: Deps) -> str | None:
    """A footprint is declared on a resource specification, per a unit its resources can
    be measured in."""
    record = deps.must_get_record(Cid.parse(entry.specification))
    spec = _vf_entry(record, "ResourceSpecification")
    if not isinstance(spec, ResourceSpecification):
        return f"{entry.specification} is not a resource specification"
    unit = spec.default_unit_of_resource
    if unit is not None and dimension(unit) != dimension(entry.per):
        return f"the footprint is per {entry.per}, but {spec.name!r} is measured in {unit}"
    return None


def check_allocation_process(entry: Allocation, op: Op, deps: Deps) -> str | None:
    """Only the author of a process says how its footprint is allocated to its outputs."""
    record = deps.must_get_record(Cid.parse(entry.process))
    if _vf_entry(record, "Process") is None:
        return f"{entry.process} is not a process"
    if record.action.author != op.action.author:
        return f"process {entry.process} is another agent's: only its author allocates it"
    return None


# a chain's top -> the AgentValidationPkg on the chain up to it (None: none yet)
_AVPS: MemoSlot[Cid, AgentValidationPkg | None] = MemoSlot("accounting avps")


def _no_avp() -> AgentValidationPkg | None:
    return None


def _avp_step(found: AgentValidationPkg | None, record: Record) -> AgentValidationPkg | None:
    return record.action if isinstance(record.action, AgentValidationPkg) else found


def check_budget_declarer(entry: Budget, op: Op, deps: Deps) -> str | None:
    """An agent's budget is set by that agent; the network's (no agent) by the progenitor,
    the one member whose chain joined without a membrane proof. The latter needs the
    author's chain: agent-activity authorities judge it."""
    author = str(op.action.author)
    if entry.agent is not None:
        return None if entry.agent == author else "an agent's budget is set by that agent"
    if op.type is not OpType.REGISTER_AGENT_ACTIVITY:
        return None
    avp = fold_chain(deps, op.action.prev_action, _AVPS, _no_avp, _avp_step)
    if avp is None or avp.membrane_proof:
        return "a network budget is set by the network's progenitor"
    return None


_CHECKS: Final = {
    SpecFootprint: ("check_footprint_specification", check_footprint_specification),
    Allocation: ("check_allocation_process", check_allocation_process),
    Budget: ("check_budget_declarer", check_budget_declarer),
}


def validate(op: Op, deps: Deps) -> Outcome:
    """The accounting integrity rules for one op (deterministic; reads only deps)."""
    action = op.action
    if not isinstance(action, Create | Update) or op.entry is None:
        return VALID
    try:
        entry = parse(action.entry_type, op.entry.value)
    except ValueError as e:
        return Invalid("check_entry_shape", describe_error(e))
    if isinstance(action, Update):
        return Invalid("check_update_allowed", "accounting entries are not updated: declare anew")
    check = _CHECKS.get(type(entry))
    if check is None or op.type not in REFERENCES_CHECKED:
        return VALID
    rule, function = check
    problem = function(entry, op, deps)  # type: ignore[operator]
    return VALID if problem is None else Invalid(rule, problem)


INTEGRITY = IntegrityZome(
    name=NAME,
    version=VERSION,
    entry_types={name: cls.from_content for name, cls in ENTRY_TYPES.items()},
    validate=validate,
    modules=("zomes.accounting.zome", "zomes.accounting.entries", "zomes.accounting.common"),
)

ZOME = Zome(INTEGRITY)
