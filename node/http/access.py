"""Who may ask the node over HTTP: a bearer token (the home's `http-token`) or a session
cookie got by logging in with it; a CSRF token on every unsafe request a cookie carries;
no request from another origin; security headers on every answer. An ASGI middleware."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Collection
from urllib.parse import parse_qs, quote, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "coledger_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
PUBLIC = ("/login", "/static/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_SESSIONS = 256
SESSION_S = 12 * 3600
MAX_FORM = 1 << 20
"""An unsafe request's body read to find its CSRF token, at most (bytes)."""

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
     b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    (b"referrer-policy", b"same-origin"),
)


class Session:
    """A logged-in browser: its CSRF token and when it ends."""

    __slots__ = ("csrf", "ends")

    def __init__(self, csrf: str, ends: float) -> None:
        self.csrf, self.ends = csrf, ends


class Sessions:
    """The sessions in memory (a restart logs everyone out), kept by the hash of their id
    (what the cookie holds, random): the most recent `MAX_SESSIONS`, each for `SESSION_S`."""

    def __init__(self) -> None:
        self._by_hash: OrderedDict[str, Session] = OrderedDict()

    @staticmethod
    def _key(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def open(self) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), time.monotonic() + SESSION_S)
        self._by_hash[self._key(session_id)] = session
        while len(self._by_hash) > MAX_SESSIONS:
            self._by_hash.popitem(last=False)
        return session_id, session

    def find(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        key = self._key(session_id)
        session = self._by_hash.get(key)
        if session is not None and session.ends < time.monotonic():
            del self._by_hash[key]
            return None
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._by_hash.pop(self._key(session_id), None)


def same(given: str, secret: str) -> bool:
    """`given == secret` in constant time."""
    return hmac.compare_digest(given.encode(), secret.encode())


def origin_of(request: Request) -> str | None:
    """The request's Origin, else its Referer's origin; None when it says neither."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin
    referer = request.headers.get("referer")
    if referer is None:
        return None
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}"


class Access:
    """The middleware: refuse (403) another origin, let the public paths through, then ask
    for the token or a session (401), and a session's CSRF token on unsafe requests (403).
    Sets `request.state.auth` ("bearer" or "session") and `request.state.csrf_token`."""

    def __init__(self, app: ASGIApp, token: str, origins: Collection[str] | None,
                 sessions: Sessions) -> None:
        self.app, self.token, self.origins, self.sessions = app, token, origins, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        request = Request(scope, receive)
        state = scope.setdefault("state", {})
        state.setdefault("csrf_token", "")
        answer, receive = await self._check(request, state, receive)
        if answer is not None:
            await answer(scope, receive, send_with_headers)
        else:
            await self.app(scope, receive, send_with_headers)

    def own_origin(self, origin: str, request: Request) -> bool:
        """Whether `origin` is the node's own (with no origins given: the Host asked)."""
        if self.origins is None:
            host = request.headers.get("host")
            return host is not None and origin == f"{request.url.scheme}://{host}"
        return origin in self.origins

    async def _check(self, request: Request, state: dict[str, object],
                     receive: Receive) -> tuple[Response | None, Receive]:
        unsafe = request.method not in SAFE_METHODS
        origin = origin_of(request)
        authorization = request.headers.get("authorization")
        if origin is not None and not self.own_origin(origin, request):
            return refuse(403, "refused: a request from another origin"), receive
        path = request.url.path
        if any(path == p or (p.endswith("/") and path.startswith(p)) for p in PUBLIC):
            if unsafe and origin is None:  # (a browser's form says where it comes from)
                return refuse(403, "refused: an unsafe request that names no origin"), receive
            return None, receive
        if authorization is not None:
            scheme, _, given = authorization.partition(" ")
            if scheme.lower() == "bearer" and same(given.strip(), self.token):
                state["auth"] = "bearer"
                return None, receive
            return refuse(401, "the token is not this node's", bearer=True), receive
        session = self.sessions.find(request.cookies.get(COOKIE))
        if session is None:
            if not unsafe and "text/html" in request.headers.get("accept", ""):
                to = quote(path + (f"?{request.url.query}" if request.url.query else ""))
                return RedirectResponse(f"/login?next={to}", status_code=303), receive
            return refuse(401, "log in, or send Authorization: Bearer TOKEN", bearer=True), receive
        state["auth"], state["csrf_token"] = "session", session.csrf
        if not unsafe:
            return None, receive
        if origin is None:
            return refuse(403, "refused: an unsafe request that names no origin"), receive
        sent, receive = await csrf_given(request, receive)
        if sent is None or not same(sent, session.csrf):
            return refuse(403, "refused: the form's CSRF token is missing or stale"), receive
        return None, receive


async def csrf_given(request: Request, receive: Receive) -> tuple[str | None, Receive]:
    """The CSRF token the request carries (its header, else its form's `csrf_token` field),
    and a `receive` that gives the app the body again."""
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header, receive
    body = b""
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_FORM:
            return None, receive
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    found: str | None = None
    if kind == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD)
        found = values[0] if values else None
    elif kind == "multipart/form-data":
        form = await Request(request.scope, replay).form()
        value = form.get(CSRF_FIELD)
        found = value if isinstance(value, str) else None
        sent = False
    return found, replay


def refuse(status: int, message: str, *, bearer: bool = False) -> Response:
    """A refusal as JSON, naming no secret."""
    headers = {"WWW-Authenticate": "Bearer"} if bearer else None
    return JSONResponse({"error": message, "kind": "refused"}, status_code=status,
                        headers=headers)
