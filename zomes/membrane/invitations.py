"""Invitations and membrane proofs: who may join a network.

An `Invitation` names a network, an invitee and its issuer, and expires; the issuer
signs its canonical DAG-CBOR bytes. A `MembraneProof` is a delegation chain of signed
invitations: the first issued by the progenitor, each next one issued by the previous
one's invitee, the last naming the joining agent. A member invites by appending its
own signed invitation to its own proof. The proof's bytes go in AgentValidationPkg;
`token_of` prints them for the command line (`coledger invite`, `coledger join`).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from node.core.actions import AgentValidationPkg
from node.core.cid import Cid
from node.core.encoding import decode, encode
from node.core.errors import AddressError, CoreError, DecodeError, LocalError, SignatureError
from node.core.identity import SIGNATURE_SIZE, AgentId, AgentKey
from node.core.ops import Op
from node.core.outcome import VALID, Invalid, Outcome

TOKEN_PREFIX: Final = "coledger-invite:"
PROOF_VERSION: Final = 1
MAX_PROOF_LINKS: Final = 32
"""Delegation depth limit; a 32-link proof is ~10 KB, within MAX_ACTION_SIZE."""
MAX_NONCE_SIZE: Final = 64


class Invitation(BaseModel):
    """An issuer's invitation of one agent to one network, valid until `expires_us`."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    network_id: str
    invitee: str
    issuer: str
    expires_us: int = Field(ge=0, lt=2**63)
    nonce: bytes = Field(max_length=MAX_NONCE_SIZE)

    @field_validator("network_id")
    @classmethod
    def _network_id(cls, v: str) -> str:
        try:
            canonical = str(Cid.parse(v))
        except AddressError as e:
            raise ValueError(str(e)) from None
        if canonical != v:
            raise ValueError("network id is not in canonical base32 form")
        return v

    @field_validator("invitee", "issuer")
    @classmethod
    def _agent_id(cls, v: str) -> str:
        try:
            canonical = str(AgentId.parse(v))
        except AddressError as e:
            raise ValueError(str(e)) from None
        if canonical != v:
            raise ValueError("agent id is not in canonical form")
        return v

    def to_obj(self) -> dict[str, Any]:
        return {"type": "Invitation", **self.model_dump()}

    def signed_bytes(self) -> bytes:
        """What the issuer signs: the canonical encoding, tagged with its type."""
        return encode(self.to_obj())


class SignedInvitation(BaseModel):
    """An invitation and its issuer's signature over `invitation.signed_bytes()`."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    invitation: Invitation
    signature: bytes = Field(min_length=SIGNATURE_SIZE, max_length=SIGNATURE_SIZE)

    def verify(self) -> None:
        """Raise SignatureError unless the named issuer signed this invitation."""
        issuer = AgentId.parse(self.invitation.issuer)
        issuer.verify(self.invitation.signed_bytes(), self.signature)

    def to_obj(self) -> dict[str, Any]:
        return {"invitation": self.invitation.to_obj(), "signature": self.signature}


class MembraneProof(BaseModel):
    """A delegation chain of signed invitations, from the progenitor to the invitee."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    links: tuple[SignedInvitation, ...] = Field(min_length=1, max_length=MAX_PROOF_LINKS)

    @property
    def last(self) -> Invitation:
        return self.links[-1].invitation

    def to_obj(self) -> dict[str, Any]:
        return {"version": PROOF_VERSION, "links": [link.to_obj() for link in self.links]}

    def to_bytes(self) -> bytes:
        return encode(self.to_obj())

    @classmethod
    def from_bytes(cls, data: bytes) -> MembraneProof:
        """Decode canonical proof bytes; DecodeError on anything else (signatures unchecked)."""
        obj = decode(data)
        if not isinstance(obj, dict) or obj.get("version") != PROOF_VERSION:
            raise DecodeError(f"not a version {PROOF_VERSION} membrane proof")
        links = obj.get("links")
        if set(obj) != {"version", "links"} or not isinstance(links, list):
            raise DecodeError("a membrane proof is a map of version and links")
        try:
            proof = cls(links=tuple(_link_from_obj(x) for x in links))
        except ValidationError as e:
            raise DecodeError(f"bad membrane proof: {_first_error(e)}") from None
        if proof.to_bytes() != data:
            raise DecodeError("membrane proof bytes are not the encoding of its invitations")
        return proof


def _link_from_obj(obj: Any) -> SignedInvitation:
    if not isinstance(obj, dict) or set(obj) != {"invitation", "signature"}:
        raise DecodeError("a proof link is a map of invitation and signature")
    inv = obj["invitation"]
    if not isinstance(inv, dict) or inv.get("type") != "Invitation":
        raise DecodeError("a proof link must hold an Invitation")
    fields = {k: v for k, v in inv.items() if k != "type"}
    try:
        return SignedInvitation(invitation=Invitation(**fields), signature=obj["signature"])
    except ValidationError as e:
        raise DecodeError(f"bad invitation: {_first_error(e)}") from None


def _first_error(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


# -- issuing and the printable token ----------------------------------------------------


def issue_invitation(
    key: AgentKey,
    issuer_proof: bytes | None,
    network_id: Cid,
    invitee: AgentId,
    expires_us: int,
    nonce: bytes,
) -> bytes:
    """The invitee's proof bytes: the issuer's own proof (None for the progenitor) plus
    a new invitation signed by `key`. LocalError if the issuer's proof is not its own."""
    links: tuple[SignedInvitation, ...] = ()
    if issuer_proof:
        try:
            links = MembraneProof.from_bytes(issuer_proof).links
        except CoreError as e:
            raise LocalError(f"your own membrane proof is unreadable: {e}") from None
        if links[-1].invitation.invitee != str(key.agent_id):
            raise LocalError("your membrane proof names another agent: you cannot delegate it")
        if links[-1].invitation.network_id != str(network_id):
            raise LocalError("your membrane proof is for another network")
        if len(links) >= MAX_PROOF_LINKS:
            raise LocalError(f"invitation chains are limited to {MAX_PROOF_LINKS} links")
    invitation = Invitation(
        network_id=str(network_id),
        invitee=str(invitee),
        issuer=str(key.agent_id),
        expires_us=expires_us,
        nonce=nonce,
    )
    signed = SignedInvitation(invitation=invitation, signature=key.sign(invitation.signed_bytes()))
    return MembraneProof(links=(*links, signed)).to_bytes()


def token_of(proof_bytes: bytes) -> str:
    """The printable form of a proof: `coledger-invite:` + unpadded base64url."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(proof_bytes).decode("ascii").rstrip("=")


def proof_of_token(token: str) -> bytes:
    """Proof bytes from a token; LocalError with a one-line reason if it is not one."""
    text = token.strip() if isinstance(token, str) else ""
    if not text.startswith(TOKEN_PREFIX):
        raise LocalError(f"an invitation token starts with {TOKEN_PREFIX!r}")
    body = text[len(TOKEN_PREFIX) :]
    try:
        data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise LocalError("the invitation token is damaged (not base64url)") from None
    if token_of(data) != text:
        raise LocalError("the invitation token is damaged (not base64url)")
    try:
        MembraneProof.from_bytes(data)
    except CoreError as e:
        raise LocalError(f"the invitation token is damaged: {e}") from None
    return data


# -- checking --------------------------------------------------------------------------


def check_membrane_proof(
    proof: bytes | None, *, author: AgentId, network_id: Cid, progenitor: AgentId, at_us: int
) -> str | None:
    """None if `proof` lets `author` join `network_id` at `at_us`, else a one-line reason."""
    if author == progenitor:
        return None
    if not proof:
        return "no membrane proof: joining this network needs an invitation"
    try:
        links = MembraneProof.from_bytes(proof).links
    except CoreError as e:
        return f"membrane proof does not decode: {e}"
    member = str(progenitor)
    for n, link in enumerate(links, 1):
        inv = link.invitation
        if inv.issuer != member:
            who = "the progenitor" if n == 1 else "the invitee of the link before"
            return f"invitation {n} is issued by {inv.issuer}, who is not a member ({who} is)"
        try:
            link.verify()
        except SignatureError:
            return f"invitation {n}: the signature does not verify for its issuer {inv.issuer}"
        if inv.network_id != str(network_id):
            return f"invitation {n} is for network {inv.network_id}, not {network_id}"
        member = inv.invitee
    last = links[-1].invitation
    if last.invitee != str(author):
        return f"the invitation names {last.invitee}, not the joining agent {author}"
    if last.expires_us <= at_us:
        return f"the invitation expired at {_iso(last.expires_us)}, before joining at {_iso(at_us)}"
    return None


def _iso(us: int) -> str:
    """Microseconds since the epoch as ISO 8601 UTC, for messages."""
    try:
        return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return f"{us} µs after 1970"


def validate_agent_validation_pkg(op: Op, *, network_id: Cid, progenitor: AgentId) -> Outcome:
    """Check the membrane proof an AgentValidationPkg carries; other actions pass."""
    action = op.action
    if not isinstance(action, AgentValidationPkg):
        return VALID
    reason = check_membrane_proof(
        action.membrane_proof,
        author=action.author,
        network_id=network_id,
        progenitor=progenitor,
        at_us=action.timestamp,
    )
    return VALID if reason is None else Invalid("check_membrane_proof", reason)
