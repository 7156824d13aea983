"""The Starlette application: one route list assembled from the page modules, and its middleware.

    app = create_app(services)              # tests, the demo
    app = create_app_from_settings(settings)  # `eportcard serve`
"""

from __future__ import annotations

import gc
import importlib
import logging
import secrets
from datetime import timedelta
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from core.config import Settings
from core.errors import EportError
from core.services import DatabaseUnavailable, Services
from core.services.accounts import SessionCheck
from core.services.sms import SmsGateway, gateway_for
from core.web.access import RequestLogMiddleware, internal_error
from core.web.auth import LoginRequired
from core.web.cards import pki_routes
from core.web.limits import BodyLimitMiddleware
from core.web.render import HERE, WebState, error_lines, render
from core.web.replies import ReplyCache
from core.web.routing import FixedPathRouter
from core.web.security import LanguageMiddleware, SecurityHeadersMiddleware
from core.web.sessions import SessionMiddleware
from core.web.status import status_for

log = logging.getLogger(__name__)

# core.web.ops first: its /healthz (no database) is the one that answers.
ROUTE_MODULES = ("core.web.ops", "core.web.public", "core.web.portal", "core.web.password_reset", "core.web.staff",
                 "core.web.staff_accounts", "core.web.notify_pages", "core.web.mailings", "core.web.api", "core.web.cards")
SESSION_COOKIE = "eportcard_session"
SESSION_MAX_AGE = int(timedelta(hours=8).total_seconds())
LOGIN_PAGES = {"enterprise": "/portal/login", "staff": "/staff/login"}


def collect_routes(modules: tuple[str, ...] = ROUTE_MODULES) -> list[BaseRoute]:
    """Every module's ``routes`` (a module that cannot be imported stops the app from starting)."""
    routes: list[BaseRoute] = []
    for name in modules:
        routes.extend(importlib.import_module(name).routes)
    routes.append(Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"))
    routes.append(Route("/favicon.ico", _favicon, name="favicon"))  # browsers ask for it at the root
    return routes


def _favicon(request: Request) -> Response:  # plain def: Starlette runs it in the thread pool
    return FileResponse(HERE / "static" / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})


ERROR_TITLES = {403: "error.forbidden", 404: "error.not_found", 409: "error.conflict"}


def error_page(request: Request, errors: list[EportError], status: int) -> Response:
    """A refusal as a page of its own: what happened in plain words (not "fix the following")."""
    return render(request, "error.html", {"errors": errors, "error_page": True, "status": status,
                                          "error_title": ERROR_TITLES.get(status, "error.title")}, status=status)


def _eport_error(request: Request, exc: Exception) -> Response:  # renders: runs in the thread pool
    assert isinstance(exc, EportError)
    status = status_for(exc)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.as_dict()}, status_code=status)
    return error_page(request, error_lines(exc), status)


class DatabaseBusy(EportError):
    code = "database_busy"


async def _database_error(request: Request, exc: Exception) -> Response:
    """The database stayed locked past its busy timeout, or could not be reached: a clear 503 to
    retry, never a 500 (nothing was changed: the transaction rolled back)."""
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, type(exc).__name__)
    busy = DatabaseBusy("系统繁忙，请稍后重试（未做任何更改）。",
                        "The system is busy; try again shortly (nothing was changed).")
    if request.url.path.startswith("/api/"):
        answer: Response = JSONResponse({"error": busy.as_dict()}, status_code=503)
    else:  # a plain page: the usual one reads the session from the database that just failed
        answer = HTMLResponse(f"<!doctype html><html lang=\"zh\"><title>503</title><p>{busy.zh}</p>"
                              f"<p lang=\"en\">{busy.en}</p></html>", status_code=503)
    answer.headers["Retry-After"] = "5"
    return answer


API_HTTP_ERRORS = {404: ("not_found", "没有这个接口（见 /openapi.json）。", "No such endpoint (see /openapi.json)."),
                   405: ("method_not_allowed", "此接口不接受这种请求方法（见 /openapi.json）。",
                         "This endpoint does not take that method (see /openapi.json).")}


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's own refusals (no route, wrong method): JSON in both languages under /api/, like
    every other API error; Starlette's plain text elsewhere."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/"):
        code, zh, en = API_HTTP_ERRORS.get(exc.status_code, ("http_error", str(exc.detail), str(exc.detail)))
        return JSONResponse({"error": {"code": code, "field": None, "zh": zh, "en": en}},
                            status_code=exc.status_code, headers=exc.headers)
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=exc.headers)
    if exc.status_code == 404:  # a page that is not there: said plainly, in the visitor's language
        return await run_in_threadpool(error_page, request, [], 404)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": {"code": "login_required", "zh": "请先登录", "en": "log in first"}},
                            status_code=401)
    target = LOGIN_PAGES.get(exc.kind, "/portal/login")
    # The query comes along: a guide's "apply online" (?region=…&business=…) lands on its business after login.
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{target}?next={quote(wanted)}", status_code=303)


def create_app(services: Services, *, sms: SmsGateway | None = None, secret_key: str | None = None) -> Starlette:
    """The web front over ``services``. Sessions are signed with the config's ``web.secret_key``.

    Card keys in ``services`` (:attr:`Services.card_keys`: the deployment's CA and card master secret)
    switch on card login, card management and the PKI endpoints ``/pki/ocsp`` and ``/pki/crl.der``;
    without them those pages explain they are off.
    """
    settings = services.settings
    secret = secret_key or settings.web.secret_key
    if not secret:
        log.warning("web.secret_key is empty: sessions last until the server restarts")
        secret = secrets.token_urlsafe(32)
    state = WebState(services=services, sms=sms or gateway_for(settings), secret=secret,
                     replies=ReplyCache(lambda: services.store.changes), sessions=SessionCheck(services))

    # Outermost, so that everything inside (the access line, login limits, audit) sees the real client.
    proxies = [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.web.trusted_proxies))] \
        if settings.web.trusted_proxies else []
    middleware = [
        *proxies,
        Middleware(RequestLogMiddleware),  # the request id and access line cover everything inside
        Middleware(SecurityHeadersMiddleware, hsts=settings.web.secure_cookies),
        Middleware(SessionMiddleware, secret_key=secret, session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE,
                   same_site="lax", https_only=settings.web.secure_cookies),
        Middleware(LanguageMiddleware),
        # Inside the session middleware, so a refusal is a page in the visitor's language.
        Middleware(BodyLimitMiddleware, max_body_bytes=settings.web.max_body_bytes,
                   max_upload_bytes=settings.storage.max_upload_bytes, refuse=_eport_error),
    ]
    routes = collect_routes()
    if services.cards.enabled:
        routes = pki_routes(services) + routes
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={EportError: _eport_error, LoginRequired: _login_required,
                                        DatabaseUnavailable: _database_error, HTTPException: _http_error,
                                        Exception: internal_error})
    app.router = FixedPathRouter(routes)
    app.state.web = state  # what every handler shares (core.web.render.web)
    return app


def settle() -> None:
    """Move what start-up made (rules, labels, templates, the plugin manager) out of the garbage
    collector's sight: the full collections that otherwise walk it stall every request for tens of
    milliseconds (bench: p99 of the kept progress read 52 -> 13 ms)."""
    gc.collect()
    gc.freeze()


def create_app_from_settings(settings: Settings) -> Starlette:
    services = Services.from_settings(settings, upgrade=True, serving=True)
    return create_app(services)


__all__ = [
    "ERROR_TITLES",
    "LOGIN_PAGES",
    "ROUTE_MODULES",
    "SESSION_COOKIE",
    "collect_routes",
    "create_app",
    "create_app_from_settings",
    "error_page",
    "settle",
    "status_for",
]
