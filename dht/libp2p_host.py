"""The libp2p host of one agent: its identity (the agent key is the libp2p key), how it
is built (TCP + Noise + Yamux, nothing else), why it could not listen, connection
events, and libp2p's logging tamed.

Part of the py-libp2p backend (`dht.libp2p_backend`); importing it imports libp2p
(about a second) and quiets libp2p's loggers, and makes libp2p's TCP listener bind
without SO_REUSEPORT.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from contextlib import suppress

import multiaddr  # type: ignore[import-untyped]
import trio
from libp2p import create_yamux_muxer_option, new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.ed25519 import Ed25519PrivateKey
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.network.config import ConnectionConfig
from libp2p.peer.id import ID
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.transport.tcp import tcp as _libp2p_tcp

from dht.transport import AddressInUse, TransportError
from node.core.errors import CoreError
from node.core.identity import AgentId, AgentKey

# `import libp2p` makes its logger stop propagating; we want its warnings in our logs.
logging.getLogger("libp2p").propagate = True


def _reuse_address_only(sock: trio.socket.SocketType) -> None:
    """libp2p listens with SO_REUSEPORT (for hole punching, which we do not use), so a
    second node on a taken port started silently and shared it: keep SO_REUSEADDR only
    (a restart may still bind over connections in TIME_WAIT)."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)


_libp2p_tcp._set_reuse_flags = _reuse_address_only


def show_libp2p_logs() -> None:
    """Let libp2p's log records reach the root logger (`--log-level debug`): once
    imported (as here), libp2p keeps them to itself, at WARNING and not propagated,
    unless LIBP2P_DEBUG is set."""
    chatter = logging.getLogger("libp2p")
    chatter.setLevel(logging.NOTSET)
    chatter.propagate = True


class _Quiet(logging.Filter):
    """Drops libp2p log records that describe normal events (a stream ending, a peer
    not speaking a protocol we asked for), which it logs at WARNING/ERROR."""

    NOISE = (
        "Failed to open stream to peer",
        "Failed to open TCP stream",  # a dead peer: we raise PeerUnreachable
        "Failed to start TCP listener",  # we raise AddressInUse (or say why)
        "MultiselectClient handshake",  # a connection that died under a new stream
        "ClosedResourceError",  # Yamux's reader when its connection closes at shutdown
        "Stream closed",
        "stream reset",
        "EOF",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL:
            return True
        message = record.getMessage()
        return not any(n in message for n in self.NOISE)


# A logger's filters see only its own records, so each noisy module is named.
for _name in (
    "libp2p.host.basic_host",
    "libp2p.stream_muxer.yamux.yamux",
    "libp2p.network.swarm",
    "libp2p.transport.tcp.tcp",
    "libp2p.protocol_muxer.multiselect_client",
):
    logging.getLogger(_name).addFilter(_Quiet())


def agent_of(peer_id: ID) -> AgentId | None:
    """The agent behind a libp2p peer id, or None for a non-Ed25519 peer."""
    try:
        return AgentId(peer_id.to_bytes())
    except CoreError:
        return None


def peer_id_of(agent: AgentId) -> ID:
    """The libp2p peer id of an agent (the same public key)."""
    return ID(agent.to_bytes())


def key_pair_of(key: AgentKey) -> KeyPair:
    """The libp2p key pair of an agent key: the same Ed25519 seed."""
    private = Ed25519PrivateKey.from_bytes(key.seed)
    return KeyPair(private, private.get_public_key())


def new_libp2p_host(key: AgentKey, listen: str) -> IHost:
    """A host for `key`, not yet running, that will listen on `listen`: Noise over TCP,
    Yamux, one connection per peer, no mDNS, QUIC, UPnP or auto-connector floor."""
    key_pair = key_pair_of(key)
    host = new_host(
        key_pair=key_pair,
        # Noise only: the default also offers TLS, SECIO and *plaintext*.
        sec_opt={
            NOISE_PROTOCOL_ID: NoiseTransport(
                key_pair, noise_privkey=create_new_x25519_key_pair().private_key
            )
        },
        muxer_opt=create_yamux_muxer_option(),
        listen_addrs=[multiaddr.Multiaddr(listen)],
        enable_mDNS=False,
        enable_quic=False,
        enable_upnp=False,
        # One connection per peer: without it a connect waits ~250 ms (happy eyeballs).
        # No auto-connector floor: the node decides whom to dial (and
        # `open_libp2p_transport` stops the auto-connector).
        connection_config=ConnectionConfig(
            max_connections_per_peer=1, min_connections=0, low_watermark=0
        ),
    )
    if host.get_id().to_bytes() != key.agent_id.to_bytes():
        raise AssertionError("libp2p derived a peer id other than the agent id")
    return host


class NotListening(Exception):
    """The host started without its listener."""


def listen_failure(listen: str) -> TransportError:
    """Why the host could not listen on `listen` (libp2p only logs it): a probe bind
    tells an address in use from other causes."""
    try:
        address = multiaddr.Multiaddr(listen)
        port = int(address.value_for_protocol("tcp"))
        family, host = socket.AF_INET, address.value_for_protocol("ip4")
    except Exception:  # not ip4/tcp: no probe, the plain message
        return TransportError(f"cannot listen on {listen}")
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return AddressInUse(f"address in use: {listen} (is another node running?)")
            return TransportError(f"cannot listen on {listen}: {e.strerror or e}")
    return TransportError(f"cannot listen on {listen}")


def multiaddr_problem(text: str, *, peer: bool) -> str | None:
    """What is wrong with `text` as an address to listen on (`peer` False:
    /ip4|ip6/ADDRESS/tcp/PORT) or a member's address to dial (`peer` True: ending in
    /p2p/<agent id>); None when it is fine. Checked before a node starts."""
    try:
        names = [p.name for p in multiaddr.Multiaddr(text).protocols()]
    except Exception:  # multiaddr raises many types on bad input
        return f"{text!r} is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001)"
    if peer and ("tcp" not in names or names[-1] != "p2p"):
        return f"{text!r}: a member's address is /ip4/ADDRESS/tcp/PORT/p2p/AGENT_ID"
    if not peer and (len(names) != 2 or names[0] not in ("ip4", "ip6") or names[1] != "tcp"):
        return f"{text!r}: listen on /ip4/ADDRESS/tcp/PORT or /ip6/ADDRESS/tcp/PORT"
    return None


class ConnectionWatch(INotifee):
    """Hands connection events to the transport without blocking the swarm."""

    def __init__(self, on_connected: Callable[[ID], None],
                 on_disconnected: Callable[[ID], None]) -> None:
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._on_connected(conn.muxed_conn.peer_id)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._on_disconnected(conn.muxed_conn.peer_id)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        pass
