"""Serving the app in the node's own trio process: the socket bound before the node starts
(a port in use is one line), then hypercorn's trio worker until the node stops."""

from __future__ import annotations

import errno
import importlib.util
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from node.core.errors import LocalError
from node.store.home import PassphraseSource

log = logging.getLogger("coledger.http")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8420


class HttpAddressInUse(LocalError):
    """Another process serves the HTTP address asked for."""


def parse_http_addr(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8420` for IPv6) as (host, port); ValueError if it is not one."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8420)")
    return host, int(port)


def bind_http(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); HttpAddressInUse, or LocalError, if not."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise LocalError(f"cannot serve HTTP on {where}: {e.strerror or e}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise HttpAddressInUse(
                f"HTTP address in use: {where} (is another node running?)") from None
        raise LocalError(f"cannot serve HTTP on {where}: {e.strerror or e}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def origins_of(sock: socket.socket) -> list[str] | None:
    """The node's own origins: its bound address (and `localhost` on loopback); None for a
    wildcard address (any of the machine's: the Host a request asks is the origin)."""
    host, port = sock.getsockname()[:2]
    ip = ipaddress.ip_address(host)
    if ip.is_unspecified:
        return None
    own = [url_of(sock)]
    if ip.is_loopback:
        own.append(f"http://localhost:{port}")
    return own


def plug_ins(door: object) -> tuple[object | None, object | None]:
    """The GraphQL app (node/http/graphql.py's `asgi(door)`) and the dashboard's routes
    (node/http/pages.py's `routes(door)`), each None while its module does not exist."""
    graphql = pages = None
    if importlib.util.find_spec("node.http.graphql") is not None:
        import node.http.graphql as module  # type: ignore[import-not-found,unused-ignore]

        graphql = module.asgi(door)
    if importlib.util.find_spec("node.http.pages") is not None:
        import node.http.pages as module2  # type: ignore[import-not-found,unused-ignore]

        pages = module2.routes(door)
    return graphql, pages


async def serve_http(home: Path, passphrase: PassphraseSource, sock: socket.socket,
                     shutdown: Callable[[], Awaitable[None]], *,
                     task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the home's app on `sock` (bound) until `shutdown` returns; started, its URL.
    The app asks the home's running node (its socket) through the front door."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    from node.api import log_event, open_client
    from node.http.app import make_app
    from node.http.door import Door
    from node.http.token import http_token

    url, origins = url_of(sock), origins_of(sock)
    loopback = ipaddress.ip_address(sock.getsockname()[0]).is_loopback
    door = Door(open_client(home, passphrase))
    graphql, pages = plug_ins(door)
    app = make_app(door, http_token(home), origin=origins, graphql=graphql,  # type: ignore[arg-type]
                   pages=pages)  # type: ignore[arg-type]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the socket from here
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    if loopback:
        log.info("serving HTTP on %s (this machine only)", url,
                 extra=log_event("http_started", url=url, loopback=True))
    else:
        log.warning("serving HTTP on %s: reachable from other machines (the token guards it)",
                    url, extra=log_event("http_started", url=url, loopback=False))
    await serve(app, config, shutdown_trigger=shutdown,  # type: ignore[arg-type]
                task_status=TaskStarted(task_status, url))


class TaskStarted:
    """Hypercorn's `started(binds)` passed on as our URL."""

    def __init__(self, status: Any, url: str) -> None:
        self.status, self.url = status, url

    def started(self, value: object = None) -> None:
        self.status.started(self.url)
