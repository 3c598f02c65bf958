"""The check a home runs each time it is opened: SQLite's quick_check and the chain's head.

Cheap enough for every command (`chain verify` checks every signature; this checks the
head's signature, author and link to the action before it, and that no row is missing),
so a damaged chain is found before anything is written on top of it. Records in the middle
are checked against their addresses as they are read (Store.records).
"""

from __future__ import annotations

from node.core.chain import check_link, check_record, decode_row
from node.core.cid import Cid
from node.core.errors import ChainError
from node.core.identity import AgentId
from node.store.sqlite import Store, stored_mismatch


def head_problem(store: Store, agent_id: AgentId) -> str | None:
    """What is wrong with the chain's head (or its link to the action before), or None."""
    tail, length = store.tail(2)
    if not tail:
        return None
    try:
        records = [decode_row(row) for _, row in tail]
    except ChainError as e:
        return str(e)
    head_seq = tail[-1][1].seq
    for (address, row), record in zip(tail, records, strict=True):
        problem = stored_mismatch(record, Cid(address)) or check_record(record)
        if problem is None and record.signed.action.author != agent_id:
            problem = "not signed by this home's agent"
        if problem is not None:
            return f"seq {row.seq}: {problem}"
    if len(records) == 2:
        problem = check_link(records[0].signed, records[1].signed.action)
        if problem is not None:
            return f"seq {head_seq}: {problem}"
    if length != head_seq + 1:
        return f"the chain ends at seq {head_seq} but holds {length} actions: some are missing"
    return None


def open_check(store: Store, agent_id: AgentId) -> str | None:
    """quick_check, then the head: the first problem found, or None."""
    return store.quick_check() or head_problem(store, agent_id)
