"""Countersigning sessions on a running node: one event, signed by two agents, written on
both chains or on neither.

The initiator (the provider) is the one place where the outcome is decided, in one
SQLite transaction that writes its record and marks the session committed
(`Store.flush` with a `SessionCommit`). The order of messages makes that safe:

  1. initiator: lock own chain (session `proposed`), send `propose` (draft event,
     own chain position, window, the records the counterparty needs to check it).
  2. counterparty, on `coledger accept` (or an auto-accept rule): create the receiving
     resource if asked (`new:NAME`), check its side of the event, lock its chain and
     persist its signature (session `signed`), *then* send `accept` with the final
     event, its chain position and its signature.
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
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import trio

from dht.session_wire import (
    Accept,
    Ack,
    Decision,
    Decline,
    Propose,
    Status,
    decode_reply,
    decode_request,
    encode_session,
)
from dht.transport import TransportError
from dht.wire import RawRecord
from node.core.cid import Cid
from node.core.clock import now_us
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
from node.core.errors import CoreError, LocalError
from node.core.identity import AgentId
from node.core.outcome import Invalid, MissingDependency, Unresolved
from node.core.records import Record
from node.runtime.logs import event as log_event
from node.store.sessions import (
    COUNTERPARTY,
    INITIATOR,
    OPEN_STATES,
    ChainLocked,
    SessionClosed,
    SessionCommit,
    SessionRow,
)
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest, build_event
from zomes.valueflows.entries import EconomicEvent, EconomicResource
from zomes.valueflows.zome import COUNTERSIGNED_TYPE, judge_event, parse

if TYPE_CHECKING:
    from node.runtime.node import Node

log = logging.getLogger("coledger.countersign")

REQUEST_TIMEOUT: Final = 10.0
RESOLVE_INTERVAL_US: Final = 2_000_000
RESOLVE_GRACE_US: Final = 30_000_000
"""After a signed session's window, how long the counterparty waits for the initiator's
commit (made before the window's end, then published at once) to reach its authorities
before it takes their word that there is none, and unlocks."""
LAST_RESORT_US: Final = MAX_WINDOW_US
"""After the window, how long a counterparty waits at most for the network to show the
initiator's chain up to the session's place at all: then it unlocks anyway."""
TO_RESOURCE: Final = "toResourceInventoriedAs"


FAILPOINT_ENV: Final = "COLEDGER_FAILPOINT"


def failpoint(name: str) -> None:
    """Crash here, at once and uncleanly, when the tests ask for it (COLEDGER_FAILPOINT):
    how the crash-recovery tests stop a node at an exact step of a session."""
    if os.environ.get(FAILPOINT_ENV) == name:
        log.warning("failpoint %s: exiting", name)
        os._exit(75)


class SessionRefused(LocalError):
    """A countersigning request that this node will not take part in."""


@dataclass(frozen=True)
class TransferRequest:
    """`coledger record ACTION ... --to AGENT`: what the initiator proposes."""

    event: EventRequest
    to: str
    wait_s: float


class Countersigner:
    """The sessions of one node (both roles) over its transport and its database."""

    def __init__(self, node: Node, auto_accept_from: Sequence[AgentId] = ()) -> None:
        self.node = node
        self.ledger = node.ledger
        self.store = node.ledger.agent.store
        self.auto_accept_from = set(auto_accept_from)
        self._resolve_at: dict[bytes, int] = {}
        self.grace_us = RESOLVE_GRACE_US
        self._awaiting: set[bytes] = set()
        self._maybe_open = True  # until a sweep finds none; set again by every new session
        self._new_session = trio.Event()  # wakes an idle loop
        self._nursery: trio.Nursery | None = None
        node.transport.set_handler("countersign", self._on_request)

    @property
    def sessions(self):  # type: ignore[no-untyped-def]
        return self.store.sessions

    # -- initiator -------------------------------------------------------------------------

    async def start(self, req: TransferRequest) -> SessionRow:
        """Propose a session to `req.to`; returns once it is proposed (or refused)."""
        node, me = self.node, self.node.me
        try:
            other = AgentId.parse(req.to)
        except CoreError:
            raise LocalError(f"--to {req.to!r} is not an agent id (12D3KooW...)") from None
        if other == me:
            raise LocalError("--to names this agent: a countersigned event needs another agent")
        if not 1 <= req.wait_s <= MAX_WINDOW_US / 1e6:
            raise LocalError("--wait must be between 1 and 3600 seconds")
        view = self.ledger.view()
        draft, to_new = self._draft(view, req, other)
        head = self.ledger.agent.head()
        if head is None:
            raise LocalError("this agent has not joined a network")
        now = node.clock()
        party = next_party(me, head, now)
        start, end = party.timestamp, party.timestamp + int(req.wait_s * 1e6)
        session = Session(os.urandom(SESSION_ID_SIZE), start, end, (party,))
        records = self._context_records(draft)
        # the receiving resource is the counterparty's: checked when its records come back
        problem = self._precheck(draft, me, other, records, placeholder=True)
        if problem:
            raise LocalError(f"the event would be rejected: {problem}")
        detail = {"entry_type": COUNTERSIGNED_TYPE, "event": draft.to_content(),
                  "party": party.to_obj(), "start": start, "end": end, "to_new": to_new}
        self._opened()
        self.sessions.add(session.id, INITIATOR, "proposed", other, locks=True, created_us=now,
                          expires_us=end, detail=detail, now_us=now,
                          expect_head=head.address.to_bytes())
        message = Propose(session.id, COUNTERSIGNED_TYPE, draft.to_content(), party, start, end,
                          to_new, tuple(RawRecord.of(r) for r in records))
        try:
            data = await node.transport.request(other, "countersign", encode_session(message),
                                                timeout=REQUEST_TIMEOUT)
            ack = decode_reply(Ack, data)
        except (TransportError, CoreError) as e:
            return self._close(
                session.id, "declined", f"the counterparty could not be reached: {e}"
            )
        if ack.state == "declined":
            return self._close(session.id, "declined", ack.reason or "declined")
        row = self.sessions.get(session.id)
        assert row is not None
        return row

    def _draft(
        self, view: Any, req: TransferRequest, other: AgentId
    ) -> tuple[EconomicEvent, str | None]:
        event_req = req.event
        to_new: list[str] = []
        if event_req.to_resource is None:
            source = view.resources.get(event_req.resource or "")
            if source is None:
                raise LocalError(
                    "give --to-resource RES|new:NAME (or a --resource of yours to name it after)"
                )
            event_req = replace(event_req, to_resource=f"new:{source.name}")

        def new_resource(option: str, name: str, *_: Any) -> str | None:
            if option != "to-resource":
                raise LocalError("only the receiving resource (--to-resource) may be new:NAME here")
            to_new.append(name)
            return None  # the counterparty creates it and names it on accepting

        event_req = replace(event_req, provider=str(self.node.me), receiver=str(other))
        draft = build_event(view, str(self.node.me), event_req, self.node.clock(), new_resource)
        return draft, (to_new[0] if to_new else None)

    def _on_accept(self, peer: AgentId, msg: Accept) -> Decision:
        row = self.sessions.get(msg.id)
        if row is None or row.role != INITIATOR or row.peer != peer:
            return Decision("abandoned", reason="no such session with you")
        if row.state == "committed":
            return self._committed_decision(row)
        if row.state != "proposed":
            return Decision("abandoned", reason=row.reason or row.state)
        detail = row.detail
        failpoint("initiator-before-commit")
        try:
            envelope, party, staged = self._seal_as_initiator(row, msg)
            entry = envelope.entry()
            self.ledger.commit(
                lambda s, v: s.countersigned(COUNTERSIGNED_TYPE, entry, party),
                session=SessionCommit(row.id, frozenset({"proposed"}), str(entry.address),
                                      before_us=int(detail["end"])),  # type: ignore[call-overload]
                staged=staged)
        except (LocalError, CoreError, ValueError) as e:
            reason = str(e).splitlines()[0][:250]
            closed = self._close(row.id, "expired" if "expired" in reason else "declined", reason)
            return Decision("abandoned", reason=closed.reason)
        failpoint("initiator-after-commit")
        self.node.enqueue_new_records()
        log.info("session %s committed: event %s", row.hex_id, entry.address)
        return Decision("committed", approval=envelope.approvals[0])

    def _seal_as_initiator(
        self, row: SessionRow, msg: Accept
    ) -> tuple[Envelope, Party, list[Record]]:
        detail = row.detail
        draft, final = detail["event"], dict(msg.event)
        if detail["to_new"] is not None:
            if not isinstance(final.get(TO_RESOURCE), str) or TO_RESOURCE in draft:  # type: ignore[operator]
                raise SessionRefused("the final event must name the new receiving resource")
            named = final.pop(TO_RESOURCE)
        if final != draft:
            raise SessionRefused("the counterparty changed the event")
        staged = _checked(msg.records)
        if detail["to_new"] is not None:
            final[TO_RESOURCE] = named
        mine = Party.from_obj(detail["party"])
        if msg.party.agent != row.peer:
            raise SessionRefused("the counterparty's position names another agent")
        session = Session(row.id, int(detail["start"]), int(detail["end"]), (mine, msg.party))  # type: ignore[call-overload]
        message = approval_message(COUNTERSIGNED_TYPE, session, final)
        try:
            row.peer.verify(message, msg.approval)
        except CoreError:
            raise SessionRefused("the counterparty's signature does not verify") from None
        key = self.node.key
        envelope = Envelope(session, final, (key.sign(message), msg.approval))
        return envelope, mine, staged

    def _committed_decision(self, row: SessionRow) -> Decision:
        entry = self.store.get_entry(Cid.parse(row.event or ""))
        if entry is None:
            return Decision("open")
        return Decision("committed", approval=Envelope.from_value(entry.value).approvals[0])

    def _on_status(self, peer: AgentId, msg: Status) -> Decision:
        row = self.sessions.get(msg.id)
        if row is None or row.role != INITIATOR or row.peer != peer:
            return Decision("abandoned", reason="no such session with you")
        if row.state == "committed":
            return self._committed_decision(row)
        if row.state == "proposed" and row.expires_us <= self.node.clock():
            row = self._close(row.id, "expired", "the session expired")
        if row.state == "proposed":
            return Decision("open")
        return Decision("abandoned", reason=row.reason or row.state)

    def _on_decline(self, peer: AgentId, msg: Decline) -> Decision:
        row = self.sessions.get(msg.id)
        if row is None or row.role != INITIATOR or row.peer != peer:
            return Decision("abandoned", reason="no such session with you")
        if row.state == "proposed":
            row = self._close(
                row.id, "declined", f"declined by {peer}: {msg.reason or 'no reason given'}"
            )
        return self._on_status(peer, Status(msg.id))

    # -- counterparty ----------------------------------------------------------------------

    def _on_propose(self, peer: AgentId, msg: Propose) -> Ack:
        now = self.node.clock()
        try:
            event = EconomicEvent.from_content(msg.event)
        except ValueError:
            return Ack("declined", "the proposed event is malformed")
        problem = None
        if msg.entry_type != COUNTERSIGNED_TYPE:
            problem = f"entry type {msg.entry_type!r} cannot be countersigned here"
        elif (
            msg.party.agent != peer
            or event.provider != str(peer)
            or event.receiver != str(self.node.me)
        ):
            problem = "the proposal must come from the event's provider, to its receiver"
        elif (
            not msg.start_us <= msg.party.timestamp <= msg.end_us
            or msg.end_us - msg.start_us > MAX_WINDOW_US
        ):
            problem = "the session window is malformed"
        elif msg.end_us <= now:
            problem = "the session has already expired"
        elif self.sessions.get(msg.id) is not None:
            problem = "a session with this id exists"
        if problem:
            return Ack("declined", problem)
        detail = {"entry_type": msg.entry_type, "event": msg.event, "initiator": msg.party.to_obj(),
                  "start": msg.start_us, "end": msg.end_us, "to_new": msg.to_new,
                  "records": [r.to_obj() for r in msg.records]}
        self._opened()
        self.sessions.add(msg.id, COUNTERPARTY, "pending", peer, locks=False, created_us=now,
                          expires_us=msg.end_us, detail=detail, now_us=now)
        log.info("session %s proposed by %s", msg.id.hex(), peer,
                 extra=log_event("countersign_proposed", session=msg.id.hex(), initiator=peer))
        if peer in self.auto_accept_from and self._nursery is not None:
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
        if row.state != "pending":
            raise LocalError(f"session {row.hex_id} is {row.state}, not pending")
        if row.expires_us <= self.node.clock():
            return self._close(sid, "expired", "the session expired before it was accepted")
        detail = dict(row.detail)
        staged = _checked(RawRecord.from_obj(r) for r in detail["records"])  # type: ignore[attr-defined]
        final = dict(detail["event"])  # type: ignore[call-overload]
        if detail["to_new"] is not None:
            receiving = self._create_receiving_resource(str(detail["to_new"]), final, staged)
            final[TO_RESOURCE] = str(receiving)
        own = self._own_records(final)
        event = EconomicEvent.from_content(final)
        problem = self._precheck(event, self.node.me, row.peer, staged, placeholder=False)
        if problem:
            await self.decline(sid, f"the event would be rejected on this side: {problem}")
            raise LocalError(f"declined: the event would be rejected on this side: {problem}")
        head = self.ledger.agent.head()
        assert head is not None
        now = self.node.clock()
        start, end = int(detail["start"]), int(detail["end"])  # type: ignore[call-overload]
        party = next_party(self.node.me, head, max(now, start))
        if party.timestamp > end:
            return self._close(sid, "expired", "the session expired while it was being accepted")
        initiator = Party.from_obj(detail["initiator"])
        session = Session(sid, start, end, (initiator, party))
        approval = approve(self.node.key, COUNTERSIGNED_TYPE, session, final)
        detail.update(final=final, party=party.to_obj(), approval=approval)
        row = self.sessions.move(sid, frozenset({"pending"}), "signed", now_us=now, locks=True,
                                 detail=detail, expect_head=head.address.to_bytes())
        failpoint("counterparty-after-sign")
        message = Accept(sid, final, party, approval, tuple(RawRecord.of(r) for r in own))
        self._awaiting.add(sid)  # the resolution loop leaves it alone while the answer may come
        try:
            data = await self.node.transport.request(
                row.peer, "countersign", encode_session(message), timeout=REQUEST_TIMEOUT
            )
            decision = decode_reply(Decision, data)
        except (TransportError, CoreError) as e:
            log.info("session %s: no decision yet (%s); resolving later", row.hex_id, e)
            return self._mine(sid, COUNTERPARTY)
        finally:
            self._awaiting.discard(sid)
        failpoint("counterparty-before-write")
        return self._settle(row, decision)  # type: ignore[arg-type]

    def _create_receiving_resource(
        self, name: str, final: dict[str, Any], staged: list[Record]
    ) -> Cid:
        """`new:NAME`: our resource that receives, like the source (its specification and
        unit), else in the unit of the event's quantity."""
        spec, unit = final.get("resourceConformsTo"), _quantity_unit(final)
        source = final.get("resourceInventoriedAs")
        for record in staged:
            entry_type = getattr(record.action, "entry_type", "")
            if str(record.address) == source and record.entry is not None:
                with suppress(ValueError):
                    resource = parse(entry_type, record.entry.value)
                    if isinstance(resource, EconomicResource):
                        spec, unit = resource.conforms_to, resource.unit_of_resource
        if unit is None:
            raise LocalError(
                "cannot tell the receiving resource's unit: name one with --to-resource"
            )
        return self.ledger.commit(lambda s, v: coordinator.create_resource(s, v, name, unit, spec))

    def _settle(self, row: SessionRow, decision: Decision) -> SessionRow:
        """Act on the initiator's word: write our side, unlock, or keep waiting."""
        if decision.state == "abandoned":
            return self._close(row.id, "abandoned", decision.reason or "abandoned by the initiator")
        if decision.state == "open" or decision.approval is None:
            return row
        detail = row.detail
        start, end = int(detail["start"]), int(detail["end"])  # type: ignore[call-overload]
        initiator, party = Party.from_obj(detail["initiator"]), Party.from_obj(detail["party"])
        session = Session(row.id, start, end, (initiator, party))
        approvals = (decision.approval, detail["approval"])
        envelope = Envelope(session, detail["final"], approvals)  # type: ignore[arg-type]
        entry = envelope.entry()
        problem = check_envelope(
            party_action(entry, COUNTERSIGNED_TYPE, party), COUNTERSIGNED_TYPE, envelope
        )
        if problem:
            log.warning(
                "session %s: the initiator's signature is bad (%s); still resolving",
                row.hex_id, problem,
            )
            return row
        staged = _checked(RawRecord.from_obj(r) for r in detail["records"])  # type: ignore[attr-defined]
        try:
            self.ledger.commit(
                lambda s, v: s.countersigned(COUNTERSIGNED_TYPE, entry, party),
                session=SessionCommit(row.id, frozenset({"signed"}), str(entry.address)),
                staged=staged,
            )
        except (LocalError, CoreError) as e:
            log.warning(
                "session %s: committed by the initiator but not writable here yet: %s",
                row.hex_id, e,
            )
            return row
        self.node.enqueue_new_records()
        log.info("session %s committed on this side: event %s", row.hex_id, entry.address)
        return self._mine(row.id, COUNTERPARTY)

    async def decline(self, sid: bytes, reason: str | None = None) -> SessionRow:
        row = self._mine(sid, COUNTERPARTY)
        if row.state == "signed":
            raise LocalError(
                f"session {row.hex_id} is signed: the initiator may have written it, so it is"
                f" not declined but resolved ({waiting_for(row, self.node.clock(), self.grace_us)})"
            )
        if row.state != "pending":
            raise LocalError(
                f"session {row.hex_id} is {row.state}: only a pending session can be declined"
            )
        row = self._close(sid, "declined", reason or "declined")
        with trio.move_on_after(REQUEST_TIMEOUT):
            try:
                await self.node.transport.request(
                    row.peer, "countersign", encode_session(Decline(sid, reason)),
                    timeout=REQUEST_TIMEOUT,
                )
            except (TransportError, CoreError) as e:
                log.info("could not tell %s of the decline: %s", row.peer, e)
        return row

    async def resolve(self, row: SessionRow) -> SessionRow:
        """A signed session whose decision we missed: ask the initiator, then the DHT."""
        try:
            data = await self.node.transport.request(
                row.peer, "countersign", encode_session(Status(row.id)), timeout=REQUEST_TIMEOUT
            )
            row = self._settle(row, decode_reply(Decision, data))  # type: ignore[arg-type]
        except (TransportError, CoreError) as e:
            log.info("session %s: the initiator does not answer (%s)", row.hex_id, e)
        if row.state == "signed":
            row = await self._resolve_from_activity(row)
        return row

    async def _resolve_from_activity(self, row: SessionRow) -> SessionRow:
        """The initiator's chain on the DHT says what it did at its reserved place."""
        initiator = Party.from_obj(row.detail["initiator"])
        records = await self.node.agent_activity(initiator.agent)
        at = next((r for r in records if r.action.seq == initiator.seq), None)
        if at is None:
            return self._unlock_if_never_written(row, initiator, records)
        if at.action.prev_action == initiator.prev_action and at.entry is not None \
                and getattr(at.action, "entry_type", None) == COUNTERSIGNED_TYPE:
            try:
                envelope = Envelope.from_value(at.entry.value)
            except CoreError:
                envelope = None
            if envelope is not None and envelope.session.id == row.id and envelope.approvals:
                return self._settle(row, Decision("committed", approval=envelope.approvals[0]))
        return self._close(
            row.id, "abandoned", "the initiator's chain moved on without this session"
        )

    def _unlock_if_never_written(
        self, row: SessionRow, initiator: Party, records: Sequence[Record]
    ) -> SessionRow:
        """Past the window and the grace, an initiator's chain that the network holds up
        to the session's place with nothing there says it never committed: the initiator
        commits only before the window's end (SessionCommit.before_us) and publishes at
        once. Unlock (nothing written); keep waiting while the network shows less of that
        chain, up to LAST_RESORT_US."""
        now, end = self.node.clock(), int(row.detail["end"])  # type: ignore[call-overload]
        if now < end + self.grace_us:
            return row
        reached = any(r.action.seq == initiator.seq - 1 and r.address == initiator.prev_action
                      for r in records)
        if not reached and now < end + LAST_RESORT_US:
            return row
        why = ("its chain on the network ends before the session's place" if reached
               else "the network does not show its chain up to the session's place")
        log.warning("session %s: the initiator did not commit within the window (%s);"
                    " unlocking", row.hex_id, why)
        return self._close(
            row.id, "abandoned", f"the initiator did not commit it within the window ({why})"
        )

    # -- both --------------------------------------------------------------------------------

    async def _on_request(self, peer: AgentId, data: bytes) -> bytes:
        self.node._member(peer)  # noqa: SLF001
        msg = decode_request(data)
        if isinstance(msg, Propose):
            return encode_session(self._on_propose(peer, msg))
        if isinstance(msg, Accept):
            return encode_session(self._on_accept(peer, msg))
        if isinstance(msg, Decline):
            return encode_session(self._on_decline(peer, msg))
        return encode_session(self._on_status(peer, msg))

    def _close(self, sid: bytes, state: str, reason: str) -> SessionRow:
        row = self.sessions.get(sid)
        assert row is not None
        if row.state not in ("proposed", "pending", "signed"):
            return row
        return self.sessions.move(sid, frozenset({row.state}), state, now_us=self.node.clock(),
                                  locks=False, reason=reason)

    def _mine(self, sid: bytes, role: str | None = None) -> SessionRow:
        row = self.sessions.get(sid)
        if row is None or (role is not None and row.role != role):
            raise LocalError(f"no {'incoming ' if role == COUNTERPARTY else ''}session {sid.hex()}")
        return row

    def find(self, text: str) -> SessionRow:
        row = self.sessions.find(text.strip())
        if row is None:
            raise LocalError(f"no session {text!r} (see `coledger pending`)")
        return row

    def _opened(self) -> None:
        self._maybe_open = True
        self._new_session.set()

    def sweep(self) -> list[SessionRow]:
        """Expire what ran out of time and holds nothing (proposals, pending offers);
        the sessions still open."""
        now = self.node.clock()
        still_open = []
        for row in self.sessions.all(OPEN_STATES):
            if row.state != "signed" and row.expires_us <= now:
                self._close(row.id, "expired", "the session expired")
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
                    now = self.node.clock()
                    for row in still_open:
                        if row.state == "signed" and row.id not in self._awaiting \
                                and self._resolve_at.get(row.id, 0) <= now:
                            self._resolve_at[row.id] = now + RESOLVE_INTERVAL_US
                            with trio.move_on_after(2 * REQUEST_TIMEOUT):
                                await self.resolve(row)
                if self._maybe_open:
                    await trio.sleep(0.5)
                else:  # nothing open: sleep until a session starts
                    await self._new_session.wait()
                    self._new_session = trio.Event()

    def _precheck(self, event: EconomicEvent, me: AgentId, other: AgentId, staged: Sequence[Record],
                  *, placeholder: bool) -> str | None:
        """Our side of the event under the network's rules; with `placeholder`, records
        we do not hold (the other party's) are not yet a reason to refuse."""
        view = self.ledger.view()
        deps = self.ledger.deps(list(staged))
        cosigners = frozenset({str(me), str(other)})
        try:
            outcome = judge_event(event, str(me), view, deps, cosigners)
        except MissingDependency as e:
            outcome = Unresolved(tuple(e.addresses))
        if isinstance(outcome, Invalid):
            return f"{outcome.rule}: {outcome.reason}"
        if isinstance(outcome, Unresolved) and not placeholder:
            missing = ", ".join(str(m) for m in outcome.missing[:3])
            return "it names records not held here: " + missing
        return None

    def _context_records(self, event: EconomicEvent) -> list[Record]:
        """The records of ours the event names (resources and their specifications, processes),
        for the other party to check the event without asking the network."""
        return self._own_records(event.to_content())

    def _own_records(self, content: dict[str, Any]) -> list[Record]:
        keys = ("resourceInventoriedAs", TO_RESOURCE, "resourceConformsTo", "inputOf", "outputOf")
        wanted = [content.get(k) for k in keys]
        found: list[Record] = []
        view = self.ledger.view()
        for text in wanted:
            if (
                isinstance(text, str)
                and text in view.resources
                and view.resources[text].conforms_to
            ):
                wanted.append(view.resources[text].conforms_to)
        for text in dict.fromkeys(w for w in wanted if isinstance(w, str)):
            try:
                record = self.store.get_record(Cid.parse(text))
            except CoreError:
                continue
            if record is not None:
                found.append(record)
        return found[:16]


def _quantity_unit(content: dict[str, Any]) -> str | None:
    quantity = content.get("resourceQuantity")
    unit = quantity.get("hasUnit") if isinstance(quantity, dict) else None
    return unit if isinstance(unit, str) else None


def _checked(raws: Any) -> list[Record]:
    out = []
    for raw in raws:
        record = raw.checked()
        if record is None:
            raise SessionRefused("a record sent with the session does not verify")
        out.append(record)
    return out


def session_json(row: SessionRow, at_us: int | None = None,
                 grace_us: int = RESOLVE_GRACE_US) -> dict[str, object]:
    """A session for `coledger pending` and the RPC: ids, parties, the event, state, and
    what an open one waits for (`waiting_for`)."""
    detail = row.detail
    out = row.to_json()
    out["event_draft"] = detail.get("final") or detail.get("event")
    out["to_new"] = detail.get("to_new")
    out["open"] = row.state in OPEN_STATES
    out["waiting_for"] = waiting_for(row, at_us if at_us is not None else now_us(), grace_us)
    return out


def waiting_for(row: SessionRow, at_us: int, grace_us: int = RESOLVE_GRACE_US) -> str | None:
    """What an open session waits for at `at_us`, and until when (ISO 8601, UTC); None
    once closed."""
    end = row.expires_us
    if row.state == "proposed":
        return f"waiting for the counterparty's signature until {_iso(end)}"
    if row.state == "pending":
        return f"waiting for you to accept or decline until {_iso(end)}"
    if row.state != "signed":
        return None
    if at_us < end + grace_us:
        return (f"signed; waiting for the initiator's decision until {_iso(end + grace_us)},"
                " then asking the network")
    return ("signed; the initiator's window is over: asking its agent-activity authorities"
            " whether it wrote the event (unlocks once they show it did not)")


def _iso(time_us: int) -> str:
    return datetime.fromtimestamp(time_us / 1e6, UTC).isoformat(timespec="seconds")


__all__ = ["ChainLocked", "Countersigner", "SessionClosed", "TransferRequest", "session_json"]
