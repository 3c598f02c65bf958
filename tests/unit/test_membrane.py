"""Membrane proofs: invitations signed by the progenitor or a member, delegated by
appending, checked link by link. Each rejection has a test; random bytes never raise."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.cid import Cid
from node.core.errors import LocalError
from node.core.identity import AgentKey
from node.core.ops import OpType, produce_ops
from node.core.outcome import VALID, Invalid
from node.testing import MemoryAgent
from zomes.membrane.invitations import (
    TOKEN_PREFIX,
    Invitation,
    MembraneProof,
    SignedInvitation,
    check_membrane_proof,
    issue_invitation,
    proof_of_token,
    token_of,
    validate_agent_validation_pkg,
)

NETWORK = Cid.of(b"coop network")
OTHER_NETWORK = Cid.of(b"another network")
NOW = 1_700_000_000_000_000
LATER = NOW + 7 * 24 * 3600 * 1_000_000
PROGENITOR = AgentKey(b"\x01" * 32)
ALICE = AgentKey(b"\x02" * 32)
BOB = AgentKey(b"\x03" * 32)
MALLORY = AgentKey(b"\x04" * 32)


def invite(
    issuer: AgentKey,
    invitee: AgentKey,
    proof: bytes | None = None,
    *,
    network: Cid = NETWORK,
    expires: int = LATER,
) -> bytes:
    return issue_invitation(issuer, proof, network, invitee.agent_id, expires, b"nonce")


def reason(proof: bytes | None, author: AgentKey, at_us: int = NOW) -> str | None:
    return check_membrane_proof(
        proof,
        author=author.agent_id,
        network_id=NETWORK,
        progenitor=PROGENITOR.agent_id,
        at_us=at_us,
    )


def test_progenitor_needs_no_proof():
    assert reason(None, PROGENITOR) is None
    assert reason(b"", PROGENITOR) is None


def test_invitation_from_the_progenitor_is_accepted():
    assert reason(invite(PROGENITOR, ALICE), ALICE) is None


def test_two_hop_delegation_is_accepted():
    alice_proof = invite(PROGENITOR, ALICE)
    bob_proof = invite(ALICE, BOB, alice_proof)
    assert reason(bob_proof, BOB) is None
    links = MembraneProof.from_bytes(bob_proof).links
    assert [link.invitation.issuer for link in links] == [
        str(PROGENITOR.agent_id),
        str(ALICE.agent_id),
    ]


def test_missing_proof():
    assert "no membrane proof" in (reason(None, ALICE) or "")
    assert "no membrane proof" in (reason(b"", ALICE) or "")


def test_forged_signature():
    inv = Invitation(
        network_id=str(NETWORK),
        invitee=str(MALLORY.agent_id),
        issuer=str(PROGENITOR.agent_id),
        expires_us=LATER,
        nonce=b"n",
    )
    forged = SignedInvitation(invitation=inv, signature=MALLORY.sign(inv.signed_bytes()))
    proof = MembraneProof(links=(forged,)).to_bytes()
    assert "signature does not verify" in (reason(proof, MALLORY) or "")


def test_expired():
    proof = invite(PROGENITOR, ALICE, expires=NOW)
    assert "expired" in (reason(proof, ALICE, at_us=NOW) or "")
    assert reason(proof, ALICE, at_us=NOW - 1) is None


def test_wrong_invitee():
    proof = invite(PROGENITOR, ALICE)
    assert "not the joining agent" in (reason(proof, MALLORY) or "")


def test_issuer_not_a_member():
    proof = invite(MALLORY, BOB)  # Mallory was never invited
    assert "not a member" in (reason(proof, BOB) or "")
    # Mallory appends her own invitation to Alice's proof: she is not Alice's invitee.
    alice_link = MembraneProof.from_bytes(invite(PROGENITOR, ALICE)).links
    tail = MembraneProof.from_bytes(invite(MALLORY, BOB)).links
    proof = MembraneProof(links=alice_link + tail).to_bytes()
    assert "invitation 2 is issued by" in (reason(proof, BOB) or "")


def test_wrong_network():
    proof = invite(PROGENITOR, ALICE, network=OTHER_NETWORK)
    assert "is for network" in (reason(proof, ALICE) or "")


def test_undecodable_and_non_canonical():
    assert "does not decode" in (reason(b"\xa0", ALICE) or "")
    good = invite(PROGENITOR, ALICE)
    padded = good[:1] + b"\x00" + good[1:]  # not CBOR any more
    assert reason(padded, ALICE) is not None


def test_a_member_cannot_delegate_someone_elses_proof():
    with pytest.raises(LocalError, match="names another agent"):
        invite(BOB, MALLORY, invite(PROGENITOR, ALICE))
    with pytest.raises(LocalError, match="another network"):
        invite(ALICE, BOB, invite(PROGENITOR, ALICE), network=OTHER_NETWORK)
    with pytest.raises(LocalError, match="unreadable"):
        invite(ALICE, BOB, b"junk")


def test_token_round_trip_and_errors():
    proof = invite(ALICE, BOB, invite(PROGENITOR, ALICE))
    token = token_of(proof)
    assert token.startswith(TOKEN_PREFIX) and "\n" not in token and "=" not in token
    assert proof_of_token(f"  {token}\n") == proof
    for bad, why in [
        ("hello", "starts with"),
        (TOKEN_PREFIX + "!!!", "damaged"),
        (TOKEN_PREFIX + "abc", "damaged"),
        (token[:-7], "damaged"),
        (token_of(b"\xa0"), "damaged"),
    ]:
        with pytest.raises(LocalError, match=why) as err:
            proof_of_token(bad)
        assert "\n" not in str(err.value)


def _avp(proof: bytes | None, key: AgentKey):
    agent = MemoryAgent(key)
    agent.genesis(NETWORK, proof)
    return [op for r in agent.records for op in produce_ops(r)], agent


def test_agent_validation_pkg_ops():
    ops, agent = _avp(invite(PROGENITOR, ALICE), ALICE)
    for op in ops:
        assert (
            validate_agent_validation_pkg(op, network_id=NETWORK, progenitor=PROGENITOR.agent_id)
            == VALID
        )
    ops, _ = _avp(None, MALLORY)
    avp = next(op for op in ops if op.action.seq == 1 and op.type is OpType.STORE_RECORD)
    out = validate_agent_validation_pkg(avp, network_id=NETWORK, progenitor=PROGENITOR.agent_id)
    assert isinstance(out, Invalid) and out.rule == "check_membrane_proof"
    ops, _ = _avp(None, PROGENITOR)
    assert all(
        validate_agent_validation_pkg(op, network_id=NETWORK, progenitor=PROGENITOR.agent_id)
        == VALID
        for op in ops
    )


def test_expiry_is_judged_at_the_join_time():
    ops, agent = _avp(invite(PROGENITOR, ALICE, expires=NOW), ALICE)
    avp = next(op for op in ops if op.action.seq == 1)
    assert avp.action.timestamp >= NOW
    out = validate_agent_validation_pkg(avp, network_id=NETWORK, progenitor=PROGENITOR.agent_id)
    assert isinstance(out, Invalid) and "expired" in out.reason


@given(st.binary(max_size=400))
def test_random_bytes_give_a_reason_never_an_exception(data):
    out = reason(data, ALICE)
    assert isinstance(out, str) and "\n" not in out


_TWO_HOP = invite(ALICE, BOB, invite(PROGENITOR, ALICE))


@given(st.data())
def test_mutated_proofs_are_rejected(data):
    raw = bytearray(_TWO_HOP)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    out = reason(bytes(raw), BOB)
    assert isinstance(out, str)


def test_an_expired_invitation_says_when_in_iso_8601():
    proof = invite(PROGENITOR, ALICE, expires=NOW - 1)
    said = reason(proof, ALICE, at_us=NOW) or ""
    assert re.search(r"expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", said), said
    assert str(NOW) not in said
