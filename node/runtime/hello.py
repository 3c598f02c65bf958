"""The membership handshake: peers show each other the AgentValidationPkg they joined with.

A node serves its data only to members: an agent whose membrane proof checks out
(pure, no dependencies) for this network. The answer also lists the member peers
the responder knows, with their addresses, so a new node finds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from node.core.actions import AgentValidationPkg
from node.core.cid import Cid
from node.core.encoding import decode, encode_trusted
from node.core.errors import CoreError, DecodeError
from node.core.identity import AgentId
from node.core.records import SignedAction
from zomes.membrane.invitations import check_membrane_proof

MAX_PEERS: Final = 256
MAX_ADDRS: Final = 8
HELLO_BYTES: Final = 48 * 1024
"""What the peer list of a hello we send may take: a hello must fit in the frame a
node allows a peer it does not trust yet (dht.transport.STRANGER_MAX_MESSAGE)."""


@dataclass(frozen=True, slots=True)
class Hello:
    avp: SignedAction
    peers: tuple[tuple[AgentId, tuple[str, ...]], ...] = ()

    def to_bytes(self) -> bytes:
        return encode_trusted({
            "t": "hello",
            "avp": [self.avp.data, self.avp.signature],
            "peers": [[p.to_bytes(), list(addrs)] for p, addrs in self.peers],
        })

    @classmethod
    def from_bytes(cls, data: bytes) -> Hello:
        """Decode defensively; DecodeError on anything malformed."""
        obj = decode(data)
        if (
            not isinstance(obj, dict)
            or obj.get("t") != "hello"
            or set(obj) != {"t", "avp", "peers"}
        ):
            raise DecodeError("not a hello message")
        avp, peers = obj["avp"], obj["peers"]
        if not (isinstance(avp, list) and len(avp) == 2):
            raise DecodeError("hello: avp must be [action, signature]")
        action, signature = avp
        if not (isinstance(action, bytes) and isinstance(signature, bytes)):
            raise DecodeError("hello: avp must be [action, signature]")
        if not isinstance(peers, list) or len(peers) > MAX_PEERS:
            raise DecodeError("hello: too many peers")
        out: list[tuple[AgentId, tuple[str, ...]]] = []
        for item in peers:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], bytes)
                    and isinstance(item[1], list) and len(item[1]) <= MAX_ADDRS
                    and all(isinstance(a, str) and len(a) < 300 for a in item[1])):
                raise DecodeError("hello: a peer is [agent id, [multiaddr...]]")
            try:
                out.append((AgentId(item[0]), tuple(str(a) for a in item[1])))
            except CoreError as e:
                raise DecodeError(f"hello: {e}") from None
        return cls(SignedAction.from_bytes(action, signature), tuple(out))


def fitting(
    peers: tuple[tuple[AgentId, tuple[str, ...]], ...], limit: int = HELLO_BYTES
) -> tuple[tuple[AgentId, tuple[str, ...]], ...]:
    """The first of `peers` whose entries take at most `limit` bytes in a hello."""
    used = 0
    for i, (peer, addrs) in enumerate(peers):
        used += len(peer.to_bytes()) + 8 + sum(len(a.encode()) + 3 for a in addrs)
        if used > limit:
            return peers[:i]
    return peers


def check_hello(hello: Hello, peer: AgentId, *, network_id: Cid, progenitor: AgentId) -> str | None:
    """Why `peer` is not a member according to its hello, or None if it is."""
    action = hello.avp.action
    if not isinstance(action, AgentValidationPkg) or action.seq != 1:
        return "the handshake must carry the peer's AgentValidationPkg"
    if action.author != peer:
        return "the AgentValidationPkg is another agent's"
    try:
        hello.avp.verify_signature()
    except CoreError as e:
        return str(e)
    return check_membrane_proof(
        action.membrane_proof, author=peer, network_id=network_id, progenitor=progenitor,
        at_us=action.timestamp,
    )
