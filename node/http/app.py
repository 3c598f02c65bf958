"""`make_app`: the node's Starlette app. `/login` and `/logout`, `/static`, the GraphQL API
at `/graphql` and the dashboard's pages at `/` when given, all behind `Access`.

How the parts plug in: `graphql` is an ASGI app served at exactly `/graphql` (GET and POST),
e.g. an ariadne `GraphQL`; `pages` are Starlette routes added after these (the dashboard's,
at `/`). Both reach the front door as `request.app.state.door` and the templates as
`request.app.state.templates` (templates in node/http/templates extend `base.html`); a
template's context has `csrf_token`, which every form posts as its `csrf_token` field.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from node.http.access import COOKIE, SECURITY_HEADERS, Access, Sessions, same
from node.http.door import Door, Refused

HERE = Path(__file__).parent
log = logging.getLogger("coledger.http")


def csrf_context(request: Request) -> dict[str, Any]:
    """What every template may use: `csrf_token`, this session's (empty without one)."""
    return {"csrf_token": getattr(request.state, "csrf_token", "")}


def make_templates() -> Jinja2Templates:
    """The templates of node/http/templates (autoescaped), with `csrf_token` in context."""
    return Jinja2Templates(directory=HERE / "templates", context_processors=[csrf_context])


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def local_path(text: str | None) -> str:
    """`text` if it is a path of this site (no scheme, no host), else "/"."""
    if not text or not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    parts = urlsplit(text)
    return text if not parts.scheme and not parts.netloc else "/"


def make_app(door: Door, token: str, *, origin: str | Collection[str] | None,
             graphql: ASGIApp | None = None,
             pages: Sequence[BaseRoute] | None = None) -> Starlette:
    """The app for `door`, reachable with `token`; `origin`, the node's own (a request from
    another is refused; None: the Host it asks). See the module's doc for the plug-ins."""
    sessions = Sessions()
    templates = make_templates()
    origins = [origin] if isinstance(origin, str) else origin

    async def login_form(request: Request) -> Response:
        return templates.TemplateResponse(
            request, "login.html", {"next": local_path(request.query_params.get("next"))})

    async def login(request: Request) -> Response:
        form = await request.form()
        given, to = form.get("token"), local_path(str(form.get("next") or "/"))
        if not isinstance(given, str) or not same(given.strip(), token):
            return templates.TemplateResponse(
                request, "login.html", {"next": to, "failed": True}, status_code=401)
        session_id, _ = sessions.open()
        answer = RedirectResponse(to, status_code=303)
        answer.set_cookie(COOKIE, session_id, httponly=True, samesite="strict", path="/")
        return answer

    async def logout(request: Request) -> Response:
        sessions.close(request.cookies.get(COOKIE))
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    async def home(request: Request) -> Response:
        """The place of the dashboard until its pages are given."""
        return templates.TemplateResponse(request, "home.html", {})

    async def status(request: Request) -> Response:
        """The running node's status, as `coledger status --json` gives it."""
        return JSONResponse(await door.call("status"))

    routes: list[BaseRoute] = [
        Route("/api/status", status, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    if graphql is not None:
        routes.append(Route("/graphql", AsgiApp(graphql), methods=["GET", "POST"]))
    routes.extend(pages if pages is not None else [Route("/", home, methods=["GET"])])
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Access, token=token, origins=origins, sessions=sessions)],
        exception_handlers={Refused: refused_answer, Exception: internal_error},
    )
    app.state.door = door
    app.state.templates = templates
    return app


class AsgiApp:
    """`app` as a Route serves it: whole, even a plain function (which Route would call
    with a Request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


async def refused_answer(request: Request, error: Exception) -> Response:
    """A refusal of the front door: its one line and rule's name, as JSON or a page."""
    assert isinstance(error, Refused)
    if wants_html(request):
        templates: Jinja2Templates = request.app.state.templates
        return templates.TemplateResponse(request, "error.html", {"error": error},
                                          status_code=error.status)
    return JSONResponse(error.as_json(), status_code=error.status)


async def internal_error(request: Request, error: Exception) -> Response:
    """A bug of ours: logged here, and one line to the asker (no stack trace, no secret)."""
    log.error("internal error answering %s %s", request.method, request.url.path,
              exc_info=error)
    return JSONResponse({"error": "internal error (see the node's log)", "kind": "internal"},
                        status_code=500, headers={k.decode(): v.decode()
                                                  for k, v in SECURITY_HEADERS})
