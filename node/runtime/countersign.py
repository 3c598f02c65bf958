"""Countersigning sessions on a running node: one entry, signed by two agents, written on
both chains or on neither. Generic: what the entry is comes from the app's hook
(a `CountersignHook` of zomes/api.py for each entry type the app countersigns, chosen
by the session's entry type); the states and their moves are the table of
node/core/session_states.py; the node hands in only the narrow collaborators below.

The initiator (the provider) is the one place where the outcome is decided, in one
SQLite transaction that writes its record and marks the session committed
(`Store.flush` with a `SessionCommit`). The order of messages makes that safe:

  1. initiator: lock own chain (session `proposed`), send `propose` (draft entry,
     own chain position, window, the records the counterparty needs to check it).
  2. counterparty, on `coledger accept` (or an auto-accept rule): create what the
     proposal asks for (`to_new`, e.g. the receiving resource), check its side of the
     entry, lock its chain and persist its signature (session `signed`), *then* send
     `accept` with the final entry, its chain position and its signature.
  3. initiator: check it all, sign, and commit if the window is still open; reply with
     its signature (`committed`) or why not (`abandoned`).
  4. counterparty: write the same envelope at its reserved position.

The counterparty cannot write before the initiator has (it lacks the initiator's
signature until then); the initiator writes only after the counterparty has persisted
its signature, so a counterparty that crashes or misses the reply finds out on its own:
it asks the initiator (`status`), or reads the initiator's chain from the DHT, and
then writes or unlocks. A session that expires unlocks with nothing written; an
initiator never commits after the window, even after a restart. So a counterparty
whose initiator is gone unlocks once the window and RESOLVE_GRACE_US are over and the
initiator's agent-activity authorities show its chain up to the session's place with
nothing there (an initiator that committed and died before publishing is the one case
left one-sided: the grace is its time to publish).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final

import trio

from dht.session_wire import (
    Accept,
    Ack,
    Decision,
    Decline,
    Propose,
    SessionMessage,
    Status,
    decode_reply,
    decode_request,
    encode_session,
)
from dht.transport import TransportError
from dht.wire import RawRecord
from node.core.cid import Cid
from node.core.countersign import (
    MAX_WINDOW_US,
    SESSION_ID_SIZE,
    Envelope,
    Party,
    Session,
    approval_message,
    approve,
    check_envelope,
    next_party,
    party_action,
)
from node.core.errors import CoreError, Field, LocalError
from node.core.identity import AgentId, AgentKey
from node.core.records import Record
from node.core.refusals import NoSession, NotAnAgentId, OutOfRange, SelfCountersign
from node.core.session_states import OPEN_STATES, Role, SessionEvent, SessionState
from node.runtime.countersign_api import (
    ActivityReader,
    Clock,
    MemberCheck,
    OwnChain,
    Requests,
    SessionLedger,
    SessionRefused,
    TransferRequest,
    checked_records,
    failpoint,
    hook_for,
    proposal_problem,
)
from node.runtime.countersign_resolve import Abandon, read_activity
from node.runtime.countersign_status import RESOLVE_GRACE_US, session_json, waiting_for
from node.runtime.logs import event as log_event
from node.store.sessions import (
    COUNTERPARTY,
    INITIATOR,
    ChainLocked,
    SessionClosed,
    SessionCommit,
    SessionDetail,
    SessionRow,
    SessionStore,
)
from zomes.api import CountersignHook

log = logging.getLogger("coledger.countersign")

REQUEST_TIMEOUT: Final = 10.0
RESOLVE_INTERVAL_US: Final = 2_000_000
TO: Final = Field("to", "the counterparty")


class Countersigner:
    """The sessions of one node (both roles), through narrow collaborators."""

    def __init__(
        self, key: AgentKey, clock: Clock, *, requests: Requests, member: MemberCheck,
        ledger: SessionLedger, chain: OwnChain, sessions: SessionStore,
        apps: Sequence[CountersignHook],
        activity: ActivityReader, written: Callable[[], object],
        auto_accept_from: Sequence[AgentId] = (),
    ) -> None:
        self.key, self.me, self.clock = key, key.agent_id, clock
        self.requests = requests
        self.member = member
        self.ledger = ledger
        self.chain = chain
        self.sessions = sessions
        self.apps = {hook.entry_type: hook for hook in apps}  # the first: transfers
        self.activity = activity
        self.written = written  # after a write: publish its ops
        self.auto_accept_from, self.auto_type = set(auto_accept_from), apps[0].entry_type
        self._resolve_at: dict[bytes, int] = {}
        self.grace_us = RESOLVE_GRACE_US
        self._awaiting: set[bytes] = set()
        self._maybe_open = True  # until a sweep finds none; set again by every new session
        self._new_session = trio.Event()  # wakes an idle loop
        self._nursery: trio.Nursery | None = None

    async def _ask(self, peer: AgentId, message: SessionMessage) -> bytes:
        return await self.requests.request(peer, "countersign", encode_session(message),
                                           timeout=REQUEST_TIMEOUT)

    # -- initiator -------------------------------------------------------------------------

    async def start(self, req: TransferRequest) -> SessionRow:
        """Propose a session to `req.to`; returns once it is proposed (or refused)."""
        me = self.me
        app = self.app(req.entry_type or next(iter(self.apps)))
        try:
            other = AgentId.parse(req.to)
        except CoreError:
            raise NotAnAgentId(TO, f" {req.to!r} is not an agent id (12D3KooW...)") from None
        if other == me:
            raise SelfCountersign(
                TO, " names this agent: a countersigned entry needs another agent")
        if not 1 <= req.wait_s <= MAX_WINDOW_US / 1e6:
            raise OutOfRange(Field("wait_s", "the wait"), " must be between 1 and 3600 seconds")
        draft = app.draft(req.event, me, other, self.clock())
        head = self.chain.head()
        if head is None:
            raise LocalError("this agent has not joined a network")
        now = self.clock()
        party = next_party(me, head, now)
        start, end = party.timestamp, party.timestamp + int(req.wait_s * 1e6)
        session = Session(os.urandom(SESSION_ID_SIZE), start, end, (party,))
        # the receiving resource is the counterparty's: checked when its records come back
        problem = app.precheck(draft.content, me, other, draft.records, placeholder=True)
        if problem:
            raise LocalError(f"the {app.noun} would be rejected: {problem}")
        detail = SessionDetail(app.entry_type, draft.content, start, end, draft.to_new,
                               party=party)
        self._opened()
        self.sessions.add(session.id, INITIATOR, other, created_us=now, expires_us=end,
                          detail=detail, now_us=now, expect_head=head.address.to_bytes())
        message = Propose(session.id, app.entry_type, draft.content, party, start, end,
                          draft.to_new, tuple(RawRecord.of(r) for r in draft.records))
        try:
            ack = decode_reply(Ack, await self._ask(other, message))
        except (TransportError, CoreError) as e:
            return self._close(
                session.id, SessionEvent.DECLINE, f"the counterparty could not be reached: {e}"
            )
        if ack.state == "declined":
            return self._close(session.id, SessionEvent.DECLINE, ack.reason or "declined")
        return self._mine(session.id)

    def _on_accept(self, peer: AgentId, msg: Accept) -> Decision:
        row = self.sessions.get(msg.id)
        if row is None or row.role != INITIATOR or row.peer != peer:
            return Decision("abandoned", reason="no such session with you")
        if row.state == SessionState.COMMITTED:
            return self._committed_decision(row)
        if row.state != SessionState.PROPOSED:
            return Decision("abandoned", reason=row.reason or row.state.value)
        failpoint("initiator-before-commit")
        entry_type = row.detail.entry_type
        try:
            envelope, party, staged = self._seal_as_initiator(row, msg)
            entry = envelope.entry()
            self.ledger.commit(
                lambda s, v: s.countersigned(entry_type, entry, party),
                session=SessionCommit(row.id, str(entry.address), before_us=row.detail.end_us),
                staged=staged)
        except (LocalError, CoreError, ValueError) as e:
            reason = str(e).splitlines()[0][:250]
            event = SessionEvent.EXPIRE if "expired" in reason else SessionEvent.DECLINE
            return Decision("abandoned", reason=self._close(row.id, event, reason).reason)
        failpoint("initiator-after-commit")
        self.written()
        log.info("session %s committed: event %s", row.hex_id, entry.address)
        return Decision("committed", approval=envelope.approvals[0])

    def _seal_as_initiator(
        self, row: SessionRow, msg: Accept
    ) -> tuple[Envelope, Party, list[Record]]:
        detail = row.detail
        field = self.app(detail.entry_type).new_field
        draft, final = detail.event, dict(msg.event)
        if detail.to_new is not None:
            if not isinstance(final.get(field), str) or field in draft:
                raise SessionRefused("the final event must name the new receiving resource")
            named = final.pop(field)
        if final != draft:
            raise SessionRefused("the counterparty changed the event")
        staged = checked_records(msg.records)
        if detail.to_new is not None:
            final[field] = named
        mine = detail.party
        assert mine is not None  # the initiator's place is kept from the start
        if msg.party.agent != row.peer:
            raise SessionRefused("the counterparty's position names another agent")
        session = Session(row.id, detail.start_us, detail.end_us, (mine, msg.party))
        message = approval_message(detail.entry_type, session, final)
        try:
            row.peer.verify(message, msg.approval)
        except CoreError:
            raise SessionRefused("the counterparty's signature does not verify") from None
        envelope = Envelope(session, final, (self.key.sign(message), msg.approval))
        return envelope, mine, staged

    def _committed_decision(self, row: SessionRow) -> Decision:
        entry = self.chain.get_entry(Cid.parse(row.event or ""))
        if entry is None:
            return Decision("open")
        return Decision("committed", approval=Envelope.from_value(entry.value).approvals[0])

    def _on_status(self, peer: AgentId, msg: Status) -> Decision:
        row = self.sessions.get(msg.id)
        if row is None or row.role != INITIATOR or row.peer != peer:
            return Decision("abandoned", reason="no such session with you")
        if row.state == SessionState.COMMITTED:
            return self._committed_decision(row)
        if row.state == SessionState.PROPOSED and row.expires_us <= self.clock():
            row = self._close(row.id, SessionEvent.EXPIRE, "the session expired")
        if row.state == SessionState.PROPOSED:
            return Decision("open")
        return Decision("abandoned", reason=row.reason or row.state.value)

    def _on_decline(self, peer: AgentId, msg: Decline) -> Decision:
        row = self.sessions.get(msg.id)
        if row is None or row.role != INITIATOR or row.peer != peer:
            return Decision("abandoned", reason="no such session with you")
        if row.state == SessionState.PROPOSED:
            row = self._close(row.id, SessionEvent.DECLINE,
                              f"declined by {peer}: {msg.reason or 'no reason given'}")
        return self._on_status(peer, Status(msg.id))

    # -- counterparty ----------------------------------------------------------------------

    def _on_propose(self, peer: AgentId, msg: Propose) -> Ack:
        now = self.clock()
        problem = proposal_problem(self.apps.get(msg.entry_type), msg, peer, self.me, now) \
            or ("a session with this id exists" if self.sessions.get(msg.id) else None)
        if problem:
            return Ack("declined", problem)
        detail = SessionDetail(msg.entry_type, msg.event, msg.start_us, msg.end_us, msg.to_new,
                               initiator=msg.party, records=msg.records)
        self._opened()
        self.sessions.add(msg.id, COUNTERPARTY, peer, created_us=now, expires_us=msg.end_us,
                          detail=detail, now_us=now)
        log.info("session %s proposed by %s", msg.id.hex(), peer,
                 extra=log_event("countersign_proposed", session=msg.id.hex(), initiator=peer))
        if (peer in self.auto_accept_from and self._nursery is not None
                and msg.entry_type == self.auto_type):
            self._nursery.start_soon(self._auto_accept, msg.id)
        return Ack("pending")

    async def _auto_accept(self, sid: bytes) -> None:
        try:
            await self.accept(sid)
        except (LocalError, CoreError, ValueError) as e:  # (ValueError: the proposal's
            # data refused by a model here, say the receiving resource's name)
            log.info("auto-accept of %s failed: %s", sid.hex(), e)

    async def accept(self, sid: bytes) -> SessionRow:
        """Sign our side and send it; returns the session as it then stands."""
        row = self._mine(sid, COUNTERPARTY)
        if row.state != SessionState.PENDING:
            raise LocalError(f"session {row.hex_id} is {row.state}, not pending")
        if row.expires_us <= self.clock():
            return self._close(sid, SessionEvent.EXPIRE,
                               "the session expired before it was accepted")
        detail = row.detail
        staged = checked_records(detail.records)
        app = self.app(detail.entry_type)
        final = app.complete(detail.event, detail.to_new, staged)
        own = app.context_records(final)
        problem = app.precheck(final, self.me, row.peer, staged, placeholder=False)
        if problem:
            why = f"the {app.noun} would be rejected on this side: {problem}"
            await self.decline(sid, why)
            raise LocalError(f"declined: {why}")
        head = self.chain.head()
        assert head is not None
        now = self.clock()
        party = next_party(self.me, head, max(now, detail.start_us))
        if party.timestamp > detail.end_us:
            return self._close(sid, SessionEvent.EXPIRE,
                               "the session expired while it was being accepted")
        assert detail.initiator is not None  # kept from the proposal
        session = Session(sid, detail.start_us, detail.end_us, (detail.initiator, party))
        approval = approve(self.key, detail.entry_type, session, final)
        signed = replace(detail, final=final, party=party, approval=approval)
        row = self.sessions.move(sid, SessionEvent.SIGN, now_us=now, detail=signed,
                                 expect_head=head.address.to_bytes())
        failpoint("counterparty-after-sign")
        message = Accept(sid, final, party, approval, tuple(RawRecord.of(r) for r in own))
        self._awaiting.add(sid)  # the resolution loop leaves it alone while the answer may come
        try:
            decision = decode_reply(Decision, await self._ask(row.peer, message))
        except (TransportError, CoreError) as e:
            log.info("session %s: no decision yet (%s); resolving later", row.hex_id, e)
            return self._mine(sid, COUNTERPARTY)
        finally:
            self._awaiting.discard(sid)
        failpoint("counterparty-before-write")
        return self._settle(row, decision)  # type: ignore[arg-type]

    def _settle(self, row: SessionRow, decision: Decision) -> SessionRow:
        """Act on the initiator's word: write our side, unlock, or keep waiting."""
        if decision.state == "abandoned":
            return self._close(row.id, SessionEvent.ABANDON,
                               decision.reason or "abandoned by the initiator")
        if decision.state == "open" or decision.approval is None:
            return row
        detail = row.detail
        entry_type = detail.entry_type
        initiator, party = detail.initiator, detail.party
        assert initiator is not None and party is not None and detail.final is not None
        assert detail.approval is not None  # a signed session keeps what it signed
        session = Session(row.id, detail.start_us, detail.end_us, (initiator, party))
        envelope = Envelope(session, detail.final, (decision.approval, detail.approval))
        entry = envelope.entry()
        problem = check_envelope(party_action(entry, entry_type, party), entry_type, envelope)
        if problem:
            log.warning(
                "session %s: the initiator's signature is bad (%s); still resolving",
                row.hex_id, problem,
            )
            return row
        staged = checked_records(detail.records)
        try:
            self.ledger.commit(
                lambda s, v: s.countersigned(entry_type, entry, party),
                session=SessionCommit(row.id, str(entry.address)),
                staged=staged,
            )
        except (LocalError, CoreError) as e:
            log.warning(
                "session %s: committed by the initiator but not writable here yet: %s",
                row.hex_id, e,
            )
            return row
        self.written()
        log.info("session %s committed on this side: event %s", row.hex_id, entry.address)
        return self._mine(row.id, COUNTERPARTY)

    async def decline(self, sid: bytes, reason: str | None = None) -> SessionRow:
        row = self._mine(sid, COUNTERPARTY)
        if row.state == SessionState.SIGNED:
            raise LocalError(
                f"session {row.hex_id} is signed: the initiator may have written it, so it is"
                f" not declined but resolved ({waiting_for(row, self.clock(), self.grace_us)})"
            )
        if row.state != SessionState.PENDING:
            raise LocalError(
                f"session {row.hex_id} is {row.state}: only a pending session can be declined"
            )
        row = self._close(sid, SessionEvent.DECLINE, reason or "declined")
        with trio.move_on_after(REQUEST_TIMEOUT):
            try:
                await self._ask(row.peer, Decline(sid, reason))
            except (TransportError, CoreError) as e:
                log.info("could not tell %s of the decline: %s", row.peer, e)
        return row

    async def resolve(self, row: SessionRow) -> SessionRow:
        """A signed session whose decision we missed: ask the initiator, then the DHT."""
        try:
            data = await self._ask(row.peer, Status(row.id))
            row = self._settle(row, decode_reply(Decision, data))  # type: ignore[arg-type]
        except (TransportError, CoreError) as e:
            log.info("session %s: the initiator does not answer (%s)", row.hex_id, e)
        if row.state == SessionState.SIGNED:
            row = await self._resolve_from_activity(row)
        return row

    async def _resolve_from_activity(self, row: SessionRow) -> SessionRow:
        """The initiator's chain on the DHT says what it did at its reserved place."""
        initiator = row.detail.initiator
        assert initiator is not None
        records = await self.activity(initiator.agent)
        verdict = read_activity(row.id, row.detail.entry_type, initiator, records,
                                now_us=self.clock(), end_us=row.detail.end_us,
                                grace_us=self.grace_us)
        if isinstance(verdict, Decision):
            return self._settle(row, verdict)
        if isinstance(verdict, Abandon):
            if verdict.window_out is not None:
                log.warning("session %s: the initiator did not commit within the window (%s);"
                            " unlocking", row.hex_id, verdict.window_out)
            return self._close(row.id, SessionEvent.ABANDON, verdict.reason)
        return row

    # -- both --------------------------------------------------------------------------------

    async def on_request(self, peer: AgentId, data: bytes) -> bytes:
        """The `countersign` protocol's handler: one request of a member peer, one answer."""
        self.member(peer)
        msg = decode_request(data)
        if isinstance(msg, Propose):
            return encode_session(self._on_propose(peer, msg))
        if isinstance(msg, Accept):
            return encode_session(self._on_accept(peer, msg))
        if isinstance(msg, Decline):
            return encode_session(self._on_decline(peer, msg))
        return encode_session(self._on_status(peer, msg))

    def _close(self, sid: bytes, event: SessionEvent, reason: str) -> SessionRow:
        """Move an open session as `event` does (the table says where); a closed one stays."""
        row = self._mine(sid)
        if row.state not in OPEN_STATES:
            return row
        return self.sessions.move(sid, event, now_us=self.clock(), reason=reason)

    def app(self, entry_type: str) -> CountersignHook:
        """The app's hook for sessions of `entry_type` (LocalError if it has none)."""
        return hook_for(self.apps, entry_type)

    def _mine(self, sid: bytes, role: Role | None = None) -> SessionRow:
        row = self.sessions.get(sid)
        if row is None or (role is not None and row.role != role):
            raise LocalError(f"no {'incoming ' if role == COUNTERPARTY else ''}session {sid.hex()}")
        return row

    def find(self, text: str) -> SessionRow:
        row = self.sessions.find(text.strip())
        if row is None:
            raise NoSession(f"no session {text!r}")
        return row

    def _opened(self) -> None:
        self._maybe_open = True
        self._new_session.set()

    def sweep(self) -> list[SessionRow]:
        """Expire what ran out of time and holds nothing (proposals, pending offers);
        the sessions still open."""
        now = self.clock()
        still_open = []
        for row in self.sessions.all(OPEN_STATES):
            if row.state != SessionState.SIGNED and row.expires_us <= now:
                self._close(row.id, SessionEvent.EXPIRE, "the session expired")
            else:
                still_open.append(row)
        return still_open

    async def run(self) -> None:
        """Sweep expired sessions; resolve signed ones whose decision we missed. Reads the
        table only while some session may be open (a node mostly has none)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            while True:
                if self._maybe_open:
                    still_open = self.sweep()
                    self._maybe_open = bool(still_open)
                    now = self.clock()
                    for row in still_open:
                        if row.state == SessionState.SIGNED and row.id not in self._awaiting \
                                and self._resolve_at.get(row.id, 0) <= now:
                            self._resolve_at[row.id] = now + RESOLVE_INTERVAL_US
                            with trio.move_on_after(2 * REQUEST_TIMEOUT):
                                await self.resolve(row)
                if self._maybe_open:
                    await trio.sleep(0.5)
                else:  # nothing open: sleep until a session starts
                    await self._new_session.wait()
                    self._new_session = trio.Event()


__all__ = ["ChainLocked", "Countersigner", "SessionClosed", "TransferRequest", "session_json"]
