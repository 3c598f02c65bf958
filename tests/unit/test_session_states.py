"""The countersigning session's states as data (node/core/session_states.py):

  every state against every event    next_state follows TRANSITIONS or raises SessionClosed
  the table against the docstring    the moves the sessions table documented, no more
  the store against the table        SessionStore.move / apply_commit move as the table says,
                                     lock as LOCKING_STATES says, refuse the rest unchanged
  the stored detail                  SessionDetail keeps the keys the table always held
  the runtime                        countersigning imports no app (zomes.valueflows)
"""

from __future__ import annotations

import ast
import re
import sqlite3
from pathlib import Path

import pytest

from dht.wire import RawRecord
from node.core.cid import Cid
from node.core.countersign import Party
from node.core.identity import AgentKey
from node.core.session_states import (
    LOCKING_STATES,
    OPEN_STATES,
    OPENING,
    TRANSITIONS,
    Role,
    SessionClosed,
    SessionEvent,
    SessionState,
    next_state,
)
from node.store import sessions
from node.store.db import Db
from node.store.sessions import SessionCommit, SessionDetail, SessionStore

ROOT = Path(__file__).resolve().parents[2]
STATES = list(SessionState)
EVENTS = list(SessionEvent)

# What node/store/sessions.py said of the states before they were a table (kept verbatim:
# the table must allow these moves and no others).
DOCUMENTED = """
  initiator:    proposed -> committed | declined | expired
  counterparty: pending -> signed -> committed | abandoned
                pending -> declined | expired
"""


def documented_moves(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """(role -> its first state, {(state, next state)}) from lines like the ones above."""
    opening: dict[str, str] = {}
    moves: set[tuple[str, str]] = set()
    role = None
    for line in text.strip().splitlines():
        named = re.match(r"\s*(\w+):\s*(.*)", line)
        if named:
            role, line = named.group(1), named.group(2)
            opening[role] = line.split("->")[0].strip()
        assert role is not None
        steps = [part.strip() for part in line.split("->")]
        for before, after in zip(steps, steps[1:], strict=False):
            for target in after.split("|"):
                moves.add((before.split("|")[0].strip(), target.strip()))
    return opening, moves


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_state_against_every_event_follows_the_table(state, event):
    if (state, event) in TRANSITIONS:
        assert next_state(state, event) == TRANSITIONS[(state, event)]
        assert next_state(state.value, event) == TRANSITIONS[(state, event)]
    else:
        with pytest.raises(SessionClosed):
            next_state(state, event)


def test_the_table_allows_what_the_docstring_described_and_nothing_else():
    opening, moves = documented_moves(DOCUMENTED)
    assert {role.value: state.value for role, state in OPENING.items()} == opening
    assert {(s.value, n.value) for (s, _), n in TRANSITIONS.items()} == moves
    # each event of a state leads to one place: no two events do the same move
    assert len(TRANSITIONS) == len(moves)


def test_the_modules_docstring_shows_the_table():
    import node.core.session_states as module

    text = module.__doc__ or ""
    shown = text[text.index("initiator:"):text.index("\n\n", text.index("initiator:"))]
    assert documented_moves(shown) == documented_moves(DOCUMENTED)


def test_open_and_locking_states():
    finals = {SessionState.COMMITTED, SessionState.DECLINED, SessionState.EXPIRED,
              SessionState.ABANDONED}
    assert set(STATES) - finals == OPEN_STATES
    assert {SessionState.PROPOSED, SessionState.SIGNED} == LOCKING_STATES
    for (_, _), after in TRANSITIONS.items():
        assert after in OPEN_STATES or after in finals


def test_every_state_is_reached_from_an_opening_state():
    reached = set(OPENING.values())
    while True:
        more = {after for (before, _), after in TRANSITIONS.items() if before in reached}
        if more <= reached:
            break
        reached |= more
    assert reached == set(STATES)


# -- the store moves as the table says -------------------------------------------------------

KEY = AgentKey.generate()
PEER = AgentKey.generate().agent_id
PLACE = Party(KEY.agent_id, Cid.of(b"head"), 3, 1_000)


def store_with(state: SessionState) -> tuple[sqlite3.Connection, SessionStore, bytes]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(sessions.SCHEMA)
    conn.execute("CREATE TABLE chain (seq INTEGER, address BLOB)")
    store = SessionStore(Db(conn, Path(":memory:")))
    role = Role.INITIATOR if state == SessionState.PROPOSED else Role.COUNTERPARTY
    sid = bytes(16)
    detail = SessionDetail("app.CountersignedThing", {"a": 1}, 1_000, 9_000, None, party=PLACE)
    store.add(sid, role, PEER, created_us=1, expires_us=9_000, detail=detail, now_us=2)
    conn.execute("UPDATE sessions SET state = ?, locks = ? WHERE id = ?",
                 (state.value, int(state in LOCKING_STATES), sid))
    return conn, store, sid


@pytest.mark.parametrize("role", list(Role))
def test_a_session_opens_in_its_roles_state(role):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(sessions.SCHEMA)
    store = SessionStore(Db(conn, Path(":memory:")))
    detail = SessionDetail("app.CountersignedThing", {"a": 1}, 1_000, 9_000, None)
    store.add(bytes(16), role, PEER, created_us=1, expires_us=9_000, detail=detail, now_us=2)
    row = store.get(bytes(16))
    assert row is not None and row.state == OPENING[role] and row.role == role
    assert row.locks == (OPENING[role] in LOCKING_STATES)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("event", [e for e in EVENTS if e != SessionEvent.COMMIT])
def test_the_store_moves_only_as_the_table_says(state, event):
    _, store, sid = store_with(state)
    if (state, event) in TRANSITIONS:
        row = store.move(sid, event, now_us=3, reason="why")
        assert row.state == TRANSITIONS[(state, event)]
        assert row.locks == (row.state in LOCKING_STATES)
    else:
        with pytest.raises(SessionClosed, match=f"is {state.value}"):
            store.move(sid, event, now_us=3, reason="why")
        row = store.get(sid)
        assert row is not None and row.state == state and row.reason is None


@pytest.mark.parametrize("state", STATES)
def test_a_commit_moves_only_as_the_table_says(state):
    conn, store, sid = store_with(state)
    commit = SessionCommit(sid, "bafy-event")
    if (state, SessionEvent.COMMIT) in TRANSITIONS:
        sessions.apply_commit(Db(conn, Path(":memory:")), commit, now_us=3)
        row = store.get(sid)
        assert row is not None and row.state == SessionState.COMMITTED and not row.locks
        assert row.event == "bafy-event"
    else:
        with pytest.raises(SessionClosed, match=f"is {state.value}"):
            sessions.apply_commit(Db(conn, Path(":memory:")), commit, now_us=3)
        row = store.get(sid)
        assert row is not None and row.state == state


# -- what a session keeps --------------------------------------------------------------------


def test_the_detail_keeps_the_keys_the_table_always_held():
    initiator = SessionDetail("vf.CountersignedEvent", {"a": 1}, 1, 2, None, party=PLACE)
    assert set(initiator.to_obj()) == {"entry_type", "event", "party", "start", "end", "to_new"}
    record = RawRecord(b"action", b"signature", None)
    pending = SessionDetail("vf.CountersignedEvent", {"a": 1}, 1, 2, "wheat", initiator=PLACE,
                            records=(record,))
    assert set(pending.to_obj()) == {"entry_type", "event", "initiator", "start", "end",
                                     "to_new", "records"}
    signed = SessionDetail("vf.CountersignedEvent", {"a": 1}, 1, 2, "wheat", initiator=PLACE,
                           records=(record,), final={"a": 2}, party=PLACE, approval=b"sig")
    assert set(signed.to_obj()) == set(pending.to_obj()) | {"final", "party", "approval"}
    for detail in (initiator, pending, signed):
        assert SessionDetail.from_obj(detail.to_obj()) == detail


def test_countersigning_in_the_runtime_imports_no_app():
    for path in sorted((ROOT / "node" / "runtime").glob("countersign*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("zomes.valueflows", "zomes.accounting")), (
                    f"{path.name} imports {name}"
                )
