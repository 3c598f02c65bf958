"""The HTTP app (node/http) with Starlette's TestClient on trio: the token, the login
cookie, CSRF, the origin, the security headers, and refusals as one line naming the rule."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from node.core.errors import LocalError, NotFound
from node.core.refusals import NoNode
from node.http.access import COOKIE
from node.http.app import local_path, make_app
from node.http.door import Door, refused
from node.http.token import http_token

TOKEN = "t0ken-" + "x" * 38
ORIGIN = "http://127.0.0.1:8420"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class RuleBroken(LocalError):
    """Named as node.runtime.ledger's (the door knows it by name)."""


class FakeClient:
    warnings: list[str] = []

    def __init__(self) -> None:
        self.recorded: list[str] = []

    def status(self) -> dict[str, Any]:
        return {"peers": 0}

    def inventory(self) -> list[dict[str, Any]]:
        return [{"resource": "flour"}]

    def record(self, what: str) -> dict[str, Any]:
        if what == "bad":
            raise RuleBroken("rejected by vf.consume.too_much: consumes more than is on hand")
        if what == "bug":
            raise RuntimeError("a bug with /secret/path in it")
        self.recorded.append(what)
        return {"address": "bafy" + what}


async def record(request: Request) -> Response:
    form = await request.form()
    return JSONResponse(await request.app.state.door.call("record", str(form["what"])))


async def page(request: Request) -> Response:
    return request.app.state.templates.TemplateResponse(request, "home.html", {})


async def echo_graphql(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"data": {"myAgent": None}})(scope, receive, send)


def client(**kw: Any) -> tuple[TestClient, FakeClient]:
    fake = FakeClient()
    app = make_app(Door(fake), TOKEN, origin=ORIGIN, graphql=echo_graphql,  # type: ignore[arg-type]
                   pages=[Route("/", page), Route("/record", record, methods=["POST"])])
    return TestClient(app, base_url=ORIGIN, backend="trio", **kw), fake


def logged_in() -> tuple[TestClient, FakeClient, str]:
    """A client with a session cookie; the session's CSRF token (from the page's form)."""
    http, fake = client()
    done = http.post("/login", data={"token": TOKEN, "next": "/"}, headers={"Origin": ORIGIN},
                     follow_redirects=False)
    assert done.status_code == 303
    html = http.get("/", headers={"Accept": "text/html"}).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return http, fake, found.group(1)


def test_nothing_without_the_token() -> None:
    http, _ = client()
    for path in ("/", "/api/status", "/graphql"):
        answer = http.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == "Bearer"
    wrong = http.get("/", headers={"Authorization": "Bearer " + TOKEN[:-1] + "y"})
    assert wrong.status_code == 401
    browser = http.get("/graphql?x=1", headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303
    assert browser.headers["location"] == "/login?next=/graphql%3Fx%3D1"


def test_the_bearer_token_opens_every_route() -> None:
    http, _ = client()
    assert http.get("/", headers=BEARER).status_code == 200
    assert http.get("/api/status", headers=BEARER).json() == {"peers": 0}
    assert http.post("/graphql", headers=BEARER, json={}).json() == {"data": {"myAgent": None}}
    posted = http.post("/record", headers=BEARER, data={"what": "bread"})  # no Origin: an API
    assert posted.status_code == 200 and posted.json() == {"address": "bafybread"}


def test_login_sets_a_strict_httponly_cookie_that_is_not_the_token() -> None:
    http, _ = client()
    form = http.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    assert 'name="viewport"' in form.text and "/static/style.css" in form.text
    done = http.post("/login", data={"token": TOKEN, "next": "/graphql"},
                     headers={"Origin": ORIGIN}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/graphql"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert http.get("/api/status").status_code == 200  # the cookie is enough to read


def test_a_wrong_token_logs_nobody_in_and_is_not_shown() -> None:
    http, _ = client()
    done = http.post("/login", data={"token": "guess-" + TOKEN}, headers={"Origin": ORIGIN})
    assert done.status_code == 401 and "set-cookie" not in done.headers
    assert TOKEN not in done.text and "guess-" not in done.text


def test_a_cookie_post_needs_the_csrf_token() -> None:
    http, fake, csrf = logged_in()
    without = http.post("/record", data={"what": "bread"}, headers={"Origin": ORIGIN})
    assert without.status_code == 403 and "CSRF" in without.json()["error"]
    stale = http.post("/record", data={"what": "bread", "csrf_token": csrf + "x"},
                      headers={"Origin": ORIGIN})
    assert stale.status_code == 403
    assert fake.recorded == []
    form = http.post("/record", data={"what": "bread", "csrf_token": csrf},
                     headers={"Origin": ORIGIN})
    assert form.status_code == 200, form.text
    header = http.post("/record", data={"what": "rye"},
                       headers={"Origin": ORIGIN, "X-CSRF-Token": csrf})
    assert header.status_code == 200
    multipart = http.post("/record", data={"what": "spelt", "csrf_token": csrf},
                          files={"f": ("a.txt", b"x")}, headers={"Origin": ORIGIN})
    assert multipart.status_code == 200, multipart.text
    assert fake.recorded == ["bread", "rye", "spelt"]


def test_a_cookie_post_that_names_no_origin_is_refused() -> None:
    http, fake, csrf = logged_in()
    done = http.post("/record", data={"what": "bread", "csrf_token": csrf})
    assert done.status_code == 403 and fake.recorded == []
    login = http.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert login.status_code == 403 and "set-cookie" not in login.headers


def test_a_page_form_gets_the_sessions_csrf_token_and_a_bearer_call_none() -> None:
    http, _, csrf = logged_in()
    assert len(csrf) >= 43
    assert f'value="{csrf}"' in http.get("/", headers={"Accept": "text/html"}).text
    other, _, other_csrf = logged_in()
    assert other_csrf != csrf  # one per session
    fresh, _ = client()
    assert "csrf_token" not in fresh.get("/", headers=BEARER).text


def test_logout_ends_the_session() -> None:
    http, _, csrf = logged_in()
    assert http.post("/logout", headers={"Origin": ORIGIN}).status_code == 403  # no CSRF
    done = http.post("/logout", data={"csrf_token": csrf}, headers={"Origin": ORIGIN},
                     follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert http.get("/api/status").status_code == 401


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:8421"},
    {"Referer": "http://evil.example/page"},
])
def test_another_origin_is_refused_even_with_the_token(headers: dict[str, str]) -> None:
    http, fake = client()
    assert http.get("/", headers={**BEARER, **headers}).status_code == 403
    posted = http.post("/record", data={"what": "x"}, headers={**BEARER, **headers})
    assert posted.status_code == 403
    assert http.post("/login", data={"token": TOKEN}, headers=headers).status_code == 403
    assert fake.recorded == []


def test_every_answer_carries_the_security_headers() -> None:
    http, _ = client(raise_server_exceptions=False)
    answers = [http.get("/"), http.get("/", headers=BEARER), http.get("/login"),
               http.get("/static/style.css"), http.get("/nowhere", headers=BEARER),
               http.post("/record", headers=BEARER, data={"what": "bug"})]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe" not in csp


def test_a_broken_rule_is_one_line_naming_it() -> None:
    http, _ = client()
    done = http.post("/record", headers=BEARER, data={"what": "bad"})
    assert done.status_code == 422
    assert done.json() == {"error": "rejected by vf.consume.too_much: consumes more than is on "
                                    "hand", "kind": "rejected", "rule": "vf.consume.too_much"}


def test_a_bug_shows_no_stack_trace() -> None:
    http, _ = client(raise_server_exceptions=False)
    done = http.post("/record", headers=BEARER, data={"what": "bug"})
    assert done.status_code == 500
    assert "Traceback" not in done.text and "/secret/path" not in done.text


def test_refusals_by_kind() -> None:
    assert refused(NotFound("no such record")).status == 404
    assert refused(NoNode("no node is running for this home")).status == 503
    assert refused(LocalError("bad\nquantity")).message == "bad quantity"
    broken = refused(RuleBroken("rejected by vf.x: no"))
    assert (broken.status, broken.kind, broken.rule) == (422, "rejected", "vf.x")


def test_the_next_page_after_login_is_of_this_site() -> None:
    assert local_path("/inventory?x=1") == "/inventory?x=1"
    for elsewhere in ("//evil.example/", "http://evil.example/", "/\\evil", "", None, "x"):
        assert local_path(elsewhere) == "/"


def test_the_token_file_is_made_once_mode_0600_and_rotates(tmp_path: Path) -> None:
    token = http_token(tmp_path)
    path = tmp_path / "http-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) >= 43 and http_token(tmp_path) == token
    rotated = http_token(tmp_path, rotate=True)
    assert rotated != token and http_token(tmp_path) == rotated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(LocalError):
        http_token(tmp_path / "no-home")
