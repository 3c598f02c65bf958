"""The transport interface: request/response over named protocols, bytes in and out.

Two backends implement `Transport` and pass one conformance suite
(`dht.testing`, public): `dht.memory` (many agents in one process)
and `dht.libp2p_backend` (TCP + Noise + Yamux). Library exceptions never leave a
backend: callers see `PeerUnreachable`, `RequestFailed` or `RequestTimeout`.

On a stream, one request is one frame and one response is one frame. A frame is an
unsigned-varint length, then that many bytes. A response frame's first byte is a
status (0 ok, 1 error) and the rest is the handler's bytes or a short UTF-8 error.
This module is pure apart from `read_frame_or_end`, which awaits a caller-supplied reader.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from node.core.cid import Cid
from node.core.cid import encode_varint as encode_varint  # frames are prefixed by one
from node.core.errors import CoreError, DecodeError
from node.core.identity import AgentId

MAX_MESSAGE: Final = 8 * 1024 * 1024
"""Largest payload of one request or response frame."""
MAX_ERROR_MESSAGE: Final = 200
_MAX_VARINT_BYTES: Final = 10
STATUS_OK: Final = 0
STATUS_ERROR: Final = 1
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")

Handler = Callable[[AgentId, bytes], Awaitable[bytes]]
"""Answers one request: (verified requester, request bytes) -> response bytes."""
PeerFilter = Callable[[AgentId], bool]
"""False for a peer that must be refused (non-member, warranted)."""
STRANGER_MAX_MESSAGE: Final = 64 * 1024
"""Largest frame from a peer not yet trusted: a hello fits, a flood does not."""


class TransportError(CoreError):
    """Base of the errors a transport raises to its caller."""


class PeerUnreachable(TransportError):
    """No connection to the peer could be had (dead, partitioned, refused, filtered)."""


class RequestFailed(TransportError):
    """The peer was reached but gave no answer: unknown protocol, a handler error
    (its short message is in `str(e)`), a reset stream or a malformed response."""


class NotServed(RequestFailed):
    """The peer does not serve the protocol: on libp2p, where protocol ids carry the
    network id, a node of another network."""


class MessageTooLarge(RequestFailed):
    """A request over the frame limit, refused before sending (batch smaller)."""


class AddressInUse(TransportError):
    """The listen address is taken (another node listens there)."""


class RequestTimeout(TransportError):
    """The peer did not answer within the request's timeout."""


class FrameError(DecodeError):
    """Bytes on a stream are not a well-formed frame within the size limit."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits shared by both backends."""

    max_message: int = MAX_MESSAGE
    outbound_per_peer: int = 8
    """Concurrent requests to one peer; more wait for a slot."""
    inbound_per_peer: int = 16
    """Concurrent requests served for one peer; more are reset."""
    inbound_total: int = 128
    """Concurrent requests served in all; more wait for a slot."""
    read_timeout: float = 30.0
    """Seconds for a whole request frame to arrive once its stream opened."""
    handler_timeout: float = 120.0
    """Seconds a handler may run before the request fails."""
    stranger_max_message: int = STRANGER_MAX_MESSAGE
    """Largest frame from (or answer by) a peer that is not trusted (`set_trust`);
    a larger one is refused from its length, before its body is read."""
    stranger_streams: int = 4
    """Inbound streams open at once from an untrusted peer; more are reset."""
    greet_deadline: float = 10.0
    """Seconds an untrusted peer may stay connected without becoming trusted."""
    frame_budget: int = 8 * MAX_MESSAGE
    """Bytes of frame bodies being read at once, from all peers together: a body waits
    for its share before it is read, so floods cannot pile up unread frames."""
    stranger_budget: int = 16 * STRANGER_MAX_MESSAGE
    """The untrusted peers' part of `frame_budget`: their frames take a share at once
    or are refused (they never wait, nor hold members' frames up)."""

    def __post_init__(self) -> None:
        if self.frame_budget <= self.max_message:  # (a response frame is one byte longer)
            raise ValueError("frame_budget must exceed max_message, or big frames never fit")


@dataclass(frozen=True, slots=True)
class TransportStatistics:
    """Counters since the transport opened."""

    requests_sent: int
    requests_received: int
    requests_failed: int
    """Outbound requests that raised (unreachable, failed, timed out)."""
    inbound_failed: int
    """Inbound requests that were refused, malformed, or whose handler raised."""
    bytes_sent: int
    bytes_received: int
    connected_peers: int
    frame_bytes_held: int = 0
    """Bytes of frame bodies being read now (see `Limits.frame_budget`)."""
    frame_bytes_peak: int = 0
    """The most that were ever held at once."""


@runtime_checkable
class Transport(Protocol):
    """What the node runtime needs from a network."""

    @property
    def local_id(self) -> AgentId: ...

    def listen_addrs(self) -> list[str]:
        """Multiaddrs others can `connect` to, each ending in /p2p/<agent id>."""
        ...

    def set_handler(self, name: str, handler: Handler) -> None:
        """Serve protocol `name` (mapped to /coledger/<network-id>/<name>/1)."""
        ...

    async def request(
        self, peer: AgentId, name: str, payload: bytes, *, timeout: float
    ) -> bytes:
        """One request, one response; dials the peer if needed."""
        ...

    async def connect(self, multiaddr: str) -> AgentId:
        """Connect to the peer at `multiaddr` (…/p2p/<id>) and return its verified id."""
        ...

    def connected_peers(self) -> list[AgentId]: ...

    async def disconnect(self, peer: AgentId) -> None: ...

    def known_peers(self) -> list[AgentId]:
        """The routing table plus the connected peers (never the local node)."""
        ...

    def peer_changes(self, since: object) -> tuple[object, frozenset[AgentId] | None]:
        """(a version to pass next time, the peers that came or went since version
        `since`), so that callers can keep what they derive from `known_peers()`,
        `connected_peers()` and `closest_peers()` until a change touches it. None
        instead of a set when anything may have changed (an unknown `since`, the peer
        filter was set, reachability was regrouped)."""
        ...

    def closest_peers(self, key: bytes, count: int) -> list[AgentId]:
        """The `count` known peers closest to `key` in Kademlia's XOR metric,
        the local node included (see `dht.authority`)."""
        ...

    def set_peer_filter(self, accept: PeerFilter) -> None:
        """Refuse peers for which `accept` returns False: their streams are reset,
        their connections closed, and requests to them raise PeerUnreachable."""
        ...

    def set_trust(self, trusted: PeerFilter) -> None:
        """Hold peers for which `trusted` returns False (strangers: no membrane proof
        shown yet) to the stranger limits of `Limits`. Until this is called every
        accepted peer is trusted."""
        ...

    def statistics(self) -> TransportStatistics: ...

    async def send_raw(self, peer: AgentId, name: str, data: bytes, *, timeout: float) -> bytes:
        """Test hook for the conformance suite: write `data` unframed on a request
        stream and return the raw bytes the peer writes back (RequestFailed on a
        reset). Not for production use."""
        ...


def peer_in(multiaddr: str) -> AgentId:
    """The peer a multiaddr names (its last part, /p2p/<agent id>); PeerUnreachable if
    it names none."""
    parts = multiaddr.rstrip("/").split("/")
    if len(parts) < 3 or parts[-2] != "p2p":
        raise PeerUnreachable(f"not a multiaddr ending in /p2p/<id>: {multiaddr!r}")
    try:
        return AgentId.parse(parts[-1])
    except Exception:
        raise PeerUnreachable(f"bad peer id in {multiaddr!r}") from None


def protocol_id(network_id: Cid, name: str) -> str:
    """The libp2p protocol id of a short protocol name on a network."""
    check_name(name)
    return f"/coledger/{network_id}/{name}/1"


def check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"protocol name must match {_NAME.pattern}: {name!r}")


def decode_varint(data: bytes, pos: int = 0) -> tuple[int, int]:
    """(value, position after it); FrameError if truncated or longer than 10 bytes."""
    value = shift = 0
    for i in range(pos, min(len(data), pos + _MAX_VARINT_BYTES)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and i > pos:
                raise FrameError("varint is not minimal")
            return value, i + 1
        shift += 7
    raise FrameError("truncated or overlong varint")


def encode_frame(payload: bytes, limit: int = MAX_MESSAGE) -> bytes:
    if len(payload) > limit:
        raise FrameError(f"message of {len(payload)} bytes exceeds {limit}")
    return encode_varint(len(payload)) + payload


def parse_frame(data: bytes, limit: int = MAX_MESSAGE) -> bytes:
    """The payload of a buffer holding exactly one frame; FrameError otherwise."""
    length, pos = decode_varint(data)
    if length > limit:
        raise FrameError(f"frame of {length} bytes exceeds {limit}")
    if len(data) - pos != length:
        raise FrameError("frame length does not match the bytes received")
    return data[pos:]


def encode_response(ok: bool, body: bytes, limit: int = MAX_MESSAGE) -> bytes:
    """A response frame: status byte then body."""
    return encode_frame(bytes([STATUS_OK if ok else STATUS_ERROR]) + body, limit + 1)


def error_text(error: BaseException) -> bytes:
    """A short, one-line message for an error frame."""
    text = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(
        error
    ).__name__
    return text[:MAX_ERROR_MESSAGE].encode("utf-8", "replace")


def parse_response(frame_payload: bytes) -> bytes:
    """The body of an ok response; RequestFailed for an error or a malformed one."""
    if not frame_payload:
        raise RequestFailed("empty response frame")
    status, body = frame_payload[0], frame_payload[1:]
    if status == STATUS_OK:
        return body
    if status == STATUS_ERROR:
        message = body[:MAX_ERROR_MESSAGE].decode("utf-8", "replace")
        raise RequestFailed(f"peer failed the request: {message}")
    raise RequestFailed(f"unknown response status {status}")


class FrameBudget(Protocol):
    """Bytes a reader takes before it reads a frame's body and gives back after."""

    async def acquire(self, n: int) -> None:
        """Take `n` bytes (maybe after a wait); FrameError if they cannot be had."""
        ...

    def release(self, n: int) -> None: ...


async def read_frame_or_end(
    read: Callable[[int], Awaitable[bytes]], limit: int = MAX_MESSAGE,
    budget: FrameBudget | None = None,
) -> bytes | None:
    """Read one frame's payload with `read(max_bytes)` (b'' at end of stream); None for
    an end of stream before the frame's first byte (the stream's last frame was the one
    before: a stream may carry several). FrameError on a bad varint, a length over
    `limit`, an end inside the frame, or no room in `budget` for its body (held while
    the body is read)."""
    header = bytearray()
    while True:
        chunk = await read(1)
        if not chunk:
            if not header:
                return None
            raise FrameError("stream ended inside a frame's length")
        header += chunk
        if not chunk[0] & 0x80:
            break
        if len(header) >= _MAX_VARINT_BYTES:
            raise FrameError("overlong varint")
    length, _ = decode_varint(bytes(header))
    if length > limit:
        raise FrameError(f"frame of {length} bytes exceeds {limit}")
    if budget is not None:
        await budget.acquire(length)
    try:
        parts: list[bytes] = []
        remaining = length
        while remaining:
            chunk = await read(min(remaining, 1 << 16))
            if not chunk:
                raise FrameError(f"stream ended {remaining} bytes short of a frame")
            parts.append(chunk)
            remaining -= len(chunk)
        return b"".join(parts)
    finally:
        if budget is not None:
            budget.release(length)
