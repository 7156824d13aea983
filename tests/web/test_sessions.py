"""The session middleware: Starlette's signed cookie, re-sent only when changed or due a refresh."""

from __future__ import annotations

import json
from base64 import b64encode

import itsdangerous
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from core.web.sessions import SessionMiddleware

SECRET = "test-secret"
MAX_AGE = 3600
REFRESH = 300


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def show(request: Request) -> JSONResponse:
    return JSONResponse(dict(request.session))


async def put(request: Request) -> JSONResponse:
    request.session[request.query_params["k"]] = request.query_params["v"]
    return JSONResponse(dict(request.session))


async def clear(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({})


async def untouched(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> TestClient:
    app = Starlette(routes=[Route("/show", show), Route("/put", put), Route("/clear", clear),
                            Route("/untouched", untouched)],
                    middleware=[Middleware(SessionMiddleware, secret_key=SECRET, session_cookie="s",
                                           max_age=MAX_AGE, refresh_after=REFRESH, clock=clock)])
    return TestClient(app)


def set_cookies(answer) -> list[str]:
    return [v for k, v in answer.headers.multi_items() if k == "set-cookie"]


def test_a_change_sends_the_cookie_with_starlettes_flags(client):
    answer = client.get("/put?k=a&v=1")
    [cookie] = set_cookies(answer)
    assert cookie.startswith("s=") and f"Max-Age={MAX_AGE}" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie and "secure" not in cookie
    assert client.get("/show").json() == {"a": "1"}


def test_an_unchanged_session_is_not_re_sent_until_the_refresh_interval(client, clock):
    client.get("/put?k=a&v=1")
    first = client.cookies["s"]
    clock.now += REFRESH - 1
    for path in ("/show", "/untouched"):
        assert set_cookies(client.get(path)) == [], path
    clock.now += 1
    [refreshed] = set_cookies(client.get("/untouched"))
    assert client.cookies["s"] != first and "Max-Age" in refreshed
    assert client.get("/show").json() == {"a": "1"}


def test_an_active_session_slides_and_an_idle_one_expires(client, clock):
    client.get("/put?k=a&v=1")
    for _ in range(30):  # 30 × 5 min of activity: well past MAX_AGE since login
        clock.now += REFRESH
        assert client.get("/show").json() == {"a": "1"}
    clock.now += MAX_AGE + 1
    assert client.get("/show").json() == {}


def test_a_forged_or_foreign_cookie_gives_an_empty_session(client):
    client.get("/put?k=user&v=alice")
    good = client.cookies["s"]
    other = itsdangerous.TimestampSigner("another-secret").sign(b64encode(b'{"user": "mallory"}')).decode()
    for value in (good[:-2] + "xx", other, "garbage", ""):
        client.cookies.clear()
        client.cookies["s"] = value
        assert client.get("/show").json() == {}, value
        assert set_cookies(client.get("/untouched")) == []


def test_clearing_deletes_the_cookie(client):
    client.get("/put?k=a&v=1")
    [gone] = set_cookies(client.get("/clear"))
    assert gone.startswith("s=null;") and "expires=Thu, 01 Jan 1970" in gone
    assert client.get("/show").json() == {}


def test_a_cookie_from_starlettes_middleware_is_accepted(client, clock):
    # Deployments upgrading keep their users logged in: the format is Starlette's.
    signer = itsdangerous.TimestampSigner(SECRET)
    signer.get_timestamp = lambda: int(clock.now)  # type: ignore[method-assign]
    client.cookies["s"] = signer.sign(b64encode(json.dumps({"lang": "en"}).encode())).decode()
    assert client.get("/show").json() == {"lang": "en"}


def test_reading_marks_vary_cookie(client):
    assert "cookie" in client.get("/show").headers.get("vary", "").lower()
    assert "vary" not in client.get("/untouched").headers
