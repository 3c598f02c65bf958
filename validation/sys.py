"""Sys validation: the structural rules every op must pass before app validation.

Each rule is one `check_*` function `(op, ctx) -> reason | None`, applied in the
order of `SYS_RULES`; the first failure is `Invalid(rule=<function name>, reason)`.
The five link rules (prev action) come from `node.core.chain` and run only for
RegisterAgentActivity ops, the one authority that holds the author's whole chain.
Ops from peers arrive as raw parts: `decode_op` turns them into an `Op` or an Invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from node.core import chain, countersign
from node.core.actions import ActionBase, Create, Dna
from node.core.chain import AGENT_ENTRY_TYPE
from node.core.cid import Cid
from node.core.encoding import decode
from node.core.errors import CoreError
from node.core.ops import CARRIES_ENTRY, Op, OpType, op_types, produce_ops
from node.core.outcome import VALID, Invalid, MissingDependency, Outcome, Unresolved
from node.core.records import (
    MAX_ACTION_SIZE,
    MAX_ENTRY_SIZE,
    Entry,
    Record,
    SignedAction,
    encodes_to,
)
from zomes.api import Deps

SYS_RULES: Final = (
    "check_op_type",
    "check_action_size",
    "check_action_canonical",
    "check_signature",
    "check_entry_size",
    "check_entry_canonical",
    "check_entry_present",
    "check_entry_address",
    "check_genesis_shape",
    "check_agent_entry",
    "check_entry_type",
    "check_countersignatures",
    "check_dna_hash",
    "check_not_in_future",
    # RegisterAgentActivity ops with seq > 0, against the previous action (node.core.chain):
    "check_prev_address",
    "check_prev_seq",
    "check_prev_author",
    "check_prev_timestamp",
    "check_not_after_close",
)

MAX_CLOCK_DRIFT_US: Final = 5 * 60 * 1_000_000
"""How far in the future (by the validator's clock) an action's timestamp may be."""


@dataclass(frozen=True, slots=True)
class SysContext:
    """What the rules know besides the op: the network, its entry types, the time."""

    network_id: Cid
    known_entry_types: frozenset[str]
    now_us: int


class CanonicalChecked(SignedAction):
    """A signed action whose bytes, address and model a validator has checked already:
    `check_action_canonical` need not encode it again. Only a validator makes one, for
    the very object that passed (validation.pipeline's memo)."""

    __slots__ = ()


def op_types_of(action: ActionBase) -> frozenset[OpType]:
    """The op types a record with this action is split into."""
    return frozenset(op.type for op in produce_ops(Record(_probe(action))))


def _probe(action: ActionBase) -> SignedAction:
    # produce_ops only reads the action type; the bytes, address and signature are unused.
    return SignedAction(action, b"", Cid.of(b""), b"")


# -- the rules, in SYS_RULES order ------------------------------------------------


def check_op_type(op: Op, ctx: SysContext) -> str | None:
    """The op type is one that this action's record is split into."""
    # op_types(TYPE) is op_types_of(action), memoized per action type
    if not isinstance(op.type, OpType) or op.type not in op_types(op.action.TYPE):
        return f"a {op.action.TYPE} action gives no {getattr(op.type, 'value', op.type)} op"
    return None


def check_action_size(op: Op, ctx: SysContext) -> str | None:
    """An action's bytes are at most MAX_ACTION_SIZE."""
    return _too_big("action", len(op.signed.data), MAX_ACTION_SIZE)


def check_action_canonical(op: Op, ctx: SysContext) -> str | None:
    """The action bytes are the canonical encoding of the action and hash to its address."""
    signed = op.signed
    if isinstance(signed, CanonicalChecked):  # this very object passed this rule before
        return None
    if not encodes_to(signed.action, signed.data):
        return "the action bytes are not the canonical encoding of the action"
    if Cid.of(signed.data) != signed.address:
        return "the action address is not the hash of its bytes"
    return None


def check_signature(op: Op, ctx: SysContext) -> str | None:
    """The author's signature covers the action's exact bytes."""
    return chain.check_signature(op.signed)


def check_entry_size(op: Op, ctx: SysContext) -> str | None:
    """An entry's bytes are at most MAX_ENTRY_SIZE."""
    return None if op.entry is None else _too_big("entry", len(op.entry.data), MAX_ENTRY_SIZE)


def check_entry_canonical(op: Op, ctx: SysContext) -> str | None:
    """The entry's address is the hash of its bytes (decode_op checks canonical form)."""
    if op.entry is not None and Cid.of(op.entry.data) != op.entry.address:
        return "the entry address is not the hash of its bytes"
    return None


def check_entry_present(op: Op, ctx: SysContext) -> str | None:
    """An op carries an entry exactly when its type carries the entry of an entry action."""
    needed = op.type in CARRIES_ENTRY and op.action.HAS_ENTRY
    if needed and op.entry is None:
        return f"a {op.type.value} op of a {op.action.TYPE} action must carry its entry"
    if not needed and op.entry is not None:
        return f"a {op.type.value} op of a {op.action.TYPE} action carries no entry"
    return None


def check_entry_address(op: Op, ctx: SysContext) -> str | None:
    """The entry's address is the action's entry_hash; actions without one carry none."""
    return chain.check_entry_address(op.action, op.entry)


def check_genesis_shape(op: Op, ctx: SysContext) -> str | None:
    """Dna at seq 0, AgentValidationPkg at 1, the agent entry at 2, and never again."""
    return chain.check_genesis_shape(op.action)


def check_agent_entry(op: Op, ctx: SysContext) -> str | None:
    """The agent entry (seq 2) names its author: a map whose "agent" is the author's id."""
    action = op.action
    if op.entry is None or not isinstance(action, Create) or action.entry_type != AGENT_ENTRY_TYPE:
        return None
    try:
        value = op.entry.value
    except CoreError as e:
        return f"the agent entry does not decode: {e}"
    if not isinstance(value, dict) or value.get("agent") != action.author.to_bytes():
        return "the agent entry does not name the action's author"
    return None


def check_entry_type(op: Op, ctx: SysContext) -> str | None:
    """The entry type is "agent" (at seq 2) or a `zome.Type` of this network's DNA."""
    entry_type = getattr(op.action, "entry_type", None)
    if entry_type is None or entry_type in ctx.known_entry_types:
        return None
    if entry_type == AGENT_ENTRY_TYPE and op.action.seq == 2:
        return None
    return f"entry type {entry_type!r} is not defined by this network's zomes"


def check_countersignatures(op: Op, ctx: SysContext) -> str | None:
    """A countersigned entry is signed by every party and written where its session says."""
    entry_type = getattr(op.action, "entry_type", None)
    if not isinstance(entry_type, str) or not countersign.is_countersigned(entry_type):
        return None
    if op.entry is None:
        return None
    try:
        envelope = countersign.Envelope.from_value(op.entry.value)
    except CoreError as e:
        return f"not a countersigned entry: {e}"
    return countersign.check_envelope(op.action, entry_type, envelope)


def check_dna_hash(op: Op, ctx: SysContext) -> str | None:
    """The Dna action names this network."""
    action = op.action
    if isinstance(action, Dna) and action.dna_hash != ctx.network_id:
        return f"the chain belongs to network {action.dna_hash}, not {ctx.network_id}"
    return None


def check_not_in_future(op: Op, ctx: SysContext) -> str | None:
    """The timestamp is at most MAX_CLOCK_DRIFT_US after the validator's clock."""
    ahead = op.action.timestamp - ctx.now_us
    if ahead > MAX_CLOCK_DRIFT_US:
        return f"timestamp is {ahead // 1_000_000} s in the future"
    return None


def _too_big(what: str, size: int, limit: int) -> str | None:
    return f"{what} of {size} bytes exceeds {limit}" if size > limit else None


OpCheck = Callable[[Op, SysContext], "str | None"]

OP_CHECKS: Final[tuple[OpCheck, ...]] = (
    check_op_type,
    check_action_size,
    check_action_canonical,
    check_signature,
    check_entry_size,
    check_entry_canonical,
    check_entry_present,
    check_entry_address,
    check_genesis_shape,
    check_agent_entry,
    check_entry_type,
    check_countersignatures,
    check_dna_hash,
    check_not_in_future,
)
# The rules above that read the op's type; the others read only its action, its entry
# and the time, so they give every op of one action (carrying one entry) the same result.
TYPE_CHECKS: Final[tuple[OpCheck, ...]] = (check_op_type, check_entry_present)
PrevCheck = Callable[[SignedAction, ActionBase], "str | None"]
PREV_CHECKS: Final[tuple[PrevCheck, ...]] = (
    chain.check_prev_address,
    chain.check_prev_seq,
    chain.check_prev_author,
    chain.check_prev_timestamp,
    chain.check_not_after_close,
)


# -- entry points ---------------------------------------------------------------------


def sys_validate(
    op: Op, *, network_id: Cid, known_entry_types: frozenset[str], now_us: int, deps: Deps,
    action_checked: bool = False,
) -> Outcome:
    """Apply SYS_RULES in order; the first failing rule is the Invalid's `rule`.

    `action_checked`: every rule of OP_CHECKS but the TYPE_CHECKS has passed already for
    another op of this action object with this entry at this time (validation.pipeline),
    so only the TYPE_CHECKS can fail first: the rest are not run again."""
    ctx = SysContext(network_id, known_entry_types, now_us)
    for check in TYPE_CHECKS if action_checked else OP_CHECKS:
        reason = check(op, ctx)
        if reason is not None:
            return Invalid(check.__name__, reason)
    action = op.action
    if op.type is not OpType.REGISTER_AGENT_ACTIVITY or action.prev_action is None:
        return VALID
    try:
        prev = deps.must_get_record(action.prev_action)
    except MissingDependency as e:
        return Unresolved(tuple(e.addresses))
    for prev_check in PREV_CHECKS:
        reason = prev_check(prev.signed, action)
        if reason is not None:
            return Invalid(prev_check.__name__, reason)
    return VALID


def decode_op(
    op_type: str, action_bytes: bytes, signature: bytes, entry_bytes: bytes | None
) -> Op | Invalid:
    """An op from a peer's raw parts, or the Invalid naming the rule its bytes break."""
    try:
        kind = OpType(op_type)
    except ValueError:
        return Invalid("check_op_type", f"unknown op type {op_type!r}")
    if not isinstance(action_bytes, bytes) or not isinstance(signature, bytes):
        return Invalid("check_action_canonical", "the action and signature must be bytes")
    if too_big := _too_big("action", len(action_bytes), MAX_ACTION_SIZE):
        return Invalid("check_action_size", too_big)
    try:
        signed = SignedAction.from_bytes(action_bytes, signature)
    except CoreError as e:
        return Invalid("check_action_canonical", str(e))
    entry: Entry | None = None
    if entry_bytes is not None:
        if not isinstance(entry_bytes, bytes):
            return Invalid("check_entry_canonical", "the entry must be bytes")
        if too_big := _too_big("entry", len(entry_bytes), MAX_ENTRY_SIZE):
            return Invalid("check_entry_size", too_big)
        try:
            decode(entry_bytes)
        except CoreError as e:
            return Invalid("check_entry_canonical", str(e))
        entry = Entry(entry_bytes, Cid.of(entry_bytes))
    return Op(kind, signed, entry)


def counterfeit(op: Op, signature_known_good: bool = False) -> str | None:
    """Why `op` cannot be the op its address names, or None: its author did not sign the
    action, or it carries another entry than the action's (or none where it must). An op's
    address hashes only its type and action address, so such a copy, stored first, would
    take the genuine op's place (an op is stored once) and be rejected in its stead; a node
    drops it on arrival. Nobody is warranted for it: anyone can make one.
    `signature_known_good`: the action's signature was verified already (its other ops)."""
    ctx = None
    for check in (check_entry_present, check_entry_address):
        reason = check(op, ctx)  # type: ignore[arg-type]  # neither reads the context
        if reason is not None:
            return reason
    return None if signature_known_good else chain.check_signature(op.signed)


def find_fork(a: SignedAction, b: SignedAction) -> bool:
    """Two different actions of one author on the same prev_action (signatures unchecked)."""
    return (
        a.action.author == b.action.author
        and a.action.prev_action == b.action.prev_action
        and a.address != b.address
    )
