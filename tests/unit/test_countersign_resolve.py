"""What the initiator's chain on the network says about a signed session whose decision
the counterparty missed (node/runtime/countersign_resolve.py, pure):

  the envelope at the initiator's place     settle: committed, with its approval
  something else at that place              abandon: the chain moved on
  nothing there, the chain shown up to it   wait out the grace, then abandon
  the chain not shown up to the place       wait until LAST_RESORT_US, then abandon
"""

from __future__ import annotations

from dht.session_wire import Decision
from node.core.countersign import Envelope, next_party
from node.runtime.countersign_resolve import LAST_RESORT_US, Abandon, read_activity
from node.testing import MemoryAgent

ENTRY_TYPE = "app.CountersignedThing"
GRACE = 30_000_000


def pair() -> tuple[MemoryAgent, MemoryAgent]:
    initiator, counterparty = MemoryAgent(), MemoryAgent()
    initiator.genesis()
    counterparty.genesis()
    return initiator, counterparty


def test_the_envelope_at_the_initiators_place_settles_the_session():
    initiator, counterparty = pair()
    entry = initiator.countersign_with([counterparty], ENTRY_TYPE, {"thing": 1})
    envelope = Envelope.from_value(entry.value)
    place = envelope.session.parties[0]
    verdict = read_activity(envelope.session.id, ENTRY_TYPE, place, initiator.records,
                            now_us=0, end_us=envelope.session.end_us, grace_us=GRACE)
    assert verdict == Decision("committed", approval=envelope.approvals[0])
    other = read_activity(bytes(16), ENTRY_TYPE, place, initiator.records,
                          now_us=0, end_us=envelope.session.end_us, grace_us=GRACE)
    assert isinstance(other, Abandon) and "moved on" in other.reason


def test_another_record_at_the_place_means_the_chain_moved_on():
    initiator, _ = pair()
    place = next_party(initiator.agent_id, initiator.head, initiator.clock())
    initiator.create("app.Thing", {"thing": 2})
    verdict = read_activity(bytes(16), ENTRY_TYPE, place, initiator.records,
                            now_us=0, end_us=10, grace_us=GRACE)
    assert verdict == Abandon("the initiator's chain moved on without this session")


def test_nothing_at_the_place_waits_out_the_grace_then_unlocks():
    initiator, _ = pair()
    place = next_party(initiator.agent_id, initiator.head, initiator.clock())
    end = place.timestamp + 5_000_000
    shown = initiator.records  # up to the place, nothing there

    def at(now: int) -> Abandon | Decision | None:
        return read_activity(bytes(16), ENTRY_TYPE, place, shown, now_us=now, end_us=end,
                             grace_us=GRACE)

    assert at(end + GRACE - 1) is None
    verdict = at(end + GRACE)
    assert isinstance(verdict, Abandon) and verdict.window_out is not None
    assert "ends before the session's place" in verdict.reason


def test_a_chain_not_shown_up_to_the_place_waits_until_the_last_resort():
    initiator, _ = pair()
    place = next_party(initiator.agent_id, initiator.head, initiator.clock())
    end = place.timestamp + 5_000_000
    shown = initiator.records[:1]  # the network holds less of the chain than the place

    def at(now: int) -> Abandon | Decision | None:
        return read_activity(bytes(16), ENTRY_TYPE, place, shown, now_us=now, end_us=end,
                             grace_us=GRACE)

    assert at(end + GRACE) is None
    assert at(end + LAST_RESORT_US - 1) is None
    verdict = at(end + LAST_RESORT_US)
    assert isinstance(verdict, Abandon)
    assert "does not show its chain up to the session's place" in verdict.reason
