"""Source-chain rules: how one action may follow another, and whole-chain verification.

Each structural rule is one `check_*` function over a (previous, next) pair or a
single record; `verify_chain` slides a window over stored rows (as py-evm does) and
names the first bad seq. Validation reuses the same checks for peers' data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from node.core.actions import (
    ActionBase,
    AgentValidationPkg,
    CloseChain,
    Create,
    Dna,
)
from node.core.cid import Cid
from node.core.errors import ChainError, CoreError
from node.core.records import Entry, Record, SignedAction

AGENT_ENTRY_TYPE = "agent"

# The rules verify_chain applies, in order; each is documented where it is defined.
PAIR_RULES = (
    "check_prev_address",
    "check_prev_seq",
    "check_prev_author",
    "check_prev_timestamp",
    "check_not_after_close",
)
RECORD_RULES = ("check_signature", "check_entry_address", "check_genesis_shape")


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a chain ends: the last action's seq, address and timestamp."""

    seq: int
    address: Cid
    timestamp: int


@dataclass(frozen=True, slots=True)
class StoredRow:
    """One source-chain row as stored: raw bytes, not yet trusted."""

    seq: int
    action: bytes
    signature: bytes
    entry: bytes | None


def check_prev_address(prev: SignedAction, action: ActionBase) -> str | None:
    """prev_action must be the address of the action just before."""
    if action.prev_action != prev.address:
        return f"prev_action {action.prev_action} is not the previous action {prev.address}"
    return None


def check_prev_seq(prev: SignedAction, action: ActionBase) -> str | None:
    """seq must be the previous seq + 1."""
    if action.seq != prev.action.seq + 1:
        return f"seq {action.seq} does not follow {prev.action.seq}"
    return None


def check_prev_author(prev: SignedAction, action: ActionBase) -> str | None:
    """Every action of a chain has the same author."""
    if action.author != prev.action.author:
        return "author differs from the previous action's author"
    return None


def check_prev_timestamp(prev: SignedAction, action: ActionBase) -> str | None:
    """Timestamps strictly increase along the chain."""
    if action.timestamp <= prev.action.timestamp:
        return f"timestamp {action.timestamp} is not after {prev.action.timestamp}"
    return None


def check_not_after_close(prev: SignedAction, action: ActionBase) -> str | None:
    """Nothing may follow CloseChain."""
    if isinstance(prev.action, CloseChain):
        return "an action follows CloseChain"
    return None


def check_signature(signed: SignedAction) -> str | None:
    """The author's signature covers the action's exact bytes."""
    try:
        signed.verify_signature()
    except CoreError as e:
        return str(e)
    return None


def check_entry_address(action: ActionBase, entry: Entry | None) -> str | None:
    """An entry action carries an entry whose address is the action's entry_hash."""
    expected = action.entry_address
    if expected is None:
        return "an entry is attached to an action that has none" if entry is not None else None
    if entry is None:
        return None  # entries may be held elsewhere (DHT); absence is not a contradiction
    if entry.address != expected:
        return f"entry address {entry.address} does not match entry_hash {expected}"
    return None


_GENESIS_SHAPE: dict[int, tuple[type[ActionBase], str]] = {
    0: (Dna, "seq 0 must be the Dna action"),
    1: (AgentValidationPkg, "seq 1 must be the AgentValidationPkg action"),
    2: (Create, "seq 2 must create the agent entry"),
}


def check_genesis_shape(action: ActionBase) -> str | None:
    """Dna at seq 0 (no prev), AgentValidationPkg at 1, the agent entry at 2, then neither."""
    expected = _GENESIS_SHAPE.get(action.seq)
    if expected is not None:
        cls, message = expected
        if type(action) is not cls:
            return message
        if action.seq == 2 and action.entry_type != AGENT_ENTRY_TYPE:  # type: ignore[attr-defined]
            return message
    elif isinstance(action, Dna | AgentValidationPkg):
        return f"{action.TYPE} may only appear in genesis"
    elif isinstance(action, Create) and action.entry_type == AGENT_ENTRY_TYPE:
        return "the agent entry may only be created at seq 2"
    if (action.prev_action is None) != (action.seq == 0):
        return "only seq 0 has no prev_action"
    return None


def decode_row(row: StoredRow) -> Record:
    """Decode a stored row into a Record, as ChainError naming the row's seq."""
    try:
        signed = SignedAction.from_bytes(row.action, row.signature)
        entry = Entry.from_bytes(row.entry) if row.entry is not None else None
    except CoreError as e:
        raise ChainError(row.seq, f"undecodable: {e}") from None
    if signed.action.seq != row.seq:
        raise ChainError(row.seq, f"stored at seq {row.seq} but says seq {signed.action.seq}")
    return Record(signed, entry)


def check_record(record: Record) -> str | None:
    """Run the single-record rules; the first failure's message, or None."""
    action = record.signed.action
    return (
        check_genesis_shape(action)
        or check_entry_address(action, record.entry)
        or check_signature(record.signed)
    )


def check_link(prev: SignedAction, action: ActionBase) -> str | None:
    """Run the pair rules; the first failure's message, or None."""
    return (
        check_prev_address(prev, action)
        or check_prev_seq(prev, action)
        or check_prev_author(prev, action)
        or check_prev_timestamp(prev, action)
        or check_not_after_close(prev, action)
    )


def iter_verified(rows: Iterable[StoredRow]) -> Iterator[Record]:
    """Yield each record once it is proven to extend the chain; ChainError at the first break."""
    return verify_records(_decoded(rows))


def _decoded(rows: Iterable[StoredRow]) -> Iterator[Record]:
    for expected_seq, row in enumerate(rows):
        if row.seq != expected_seq:
            raise ChainError(expected_seq, "missing from the chain")
        yield decode_row(row)


def verify_records(records: Iterable[Record]) -> Iterator[Record]:
    """`iter_verified` over records already decoded (say, from a peer's answer)."""
    prev: SignedAction | None = None
    for expected_seq, record in enumerate(records):
        if record.signed.action.seq != expected_seq:
            raise ChainError(expected_seq, "missing from the chain")
        problem = check_record(record)
        if problem is None and prev is not None:
            problem = check_link(prev, record.signed.action)
        if problem is not None:
            raise ChainError(expected_seq, problem)
        prev = record.signed
        yield record


def verify_chain(rows: Iterable[StoredRow]) -> ChainHead | None:
    """Verify a whole chain from seq 0; return its head (None if empty) or raise ChainError."""
    last: Record | None = None
    for last in iter_verified(rows):  # noqa: B007 - the loop is the verification
        pass
    if last is None:
        return None
    action = last.signed.action
    return ChainHead(action.seq, last.signed.address, action.timestamp)
