"""Security plumbing of the web front: headers, CSRF tokens, language choice, client address."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import Forbidden
from core.web.handlers import SAFE_METHODS, is_form, posted_form, read_body
from core.web.i18n import normalise_lang

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

# No inline script or style anywhere: the pages load /static files only.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (HSTS too when cookies are https-only)."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers = (*SECURITY_HEADERS, (b"strict-transport-security", b"max-age=31536000")) if hsts \
            else SECURITY_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LanguageMiddleware:
    """``?lang=en`` / ``?lang=zh`` on any page switches the language and remembers it in the session."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "session" in scope and b"lang=" in scope.get("query_string", b""):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            chosen = normalise_lang((query.get("lang") or [None])[0])
            if chosen:
                scope["session"]["lang"] = chosen
        await self.app(scope, receive, send)


def client_address(request: Request) -> str:
    """The client's address: the connection's peer, or, when that peer is one of ``[web]
    trusted_proxies``, the rightmost address in its ``X-Forwarded-For`` that is not a trusted proxy
    (the proxy middleware of core/web/app.py has put it in ``scope["client"]``). Login limits, SMS caps,
    the audit trail and the access log all count by it."""
    return request.client.host if request.client else "-"


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); forms carry it in a hidden field."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return str(token)


class CsrfRefused(Forbidden):
    code = "csrf"


def _refuse() -> CsrfRefused:
    return CsrfRefused("页面已过期或请求来源不明（CSRF 校验失败），请刷新页面后重试。",
                       "The page expired or the request did not come from this site (CSRF check failed); "
                       "reload the page and try again.", field=CSRF_FIELD)


def check_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request without the session's token (sync: for handlers that
    run in the thread pool, after :func:`core.web.handlers.blocking` read the form).

    Forms send it in the ``csrf_token`` field, the JSON API in the ``X-CSRF-Token`` header.
    """
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get(CSRF_FIELD)
    given = request.headers.get(CSRF_HEADER)
    if given is None and is_form(request):
        value = posted_form(request).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(str(expected), given):
        raise _refuse()


async def require_csrf(request: Request) -> None:
    """:func:`check_csrf` for a handler on the event loop: reads the body first."""
    await read_body(request)
    check_csrf(request)


__all__ = ["CSP", "CSRF_FIELD", "CSRF_HEADER", "CsrfRefused", "LanguageMiddleware",
           "SecurityHeadersMiddleware", "check_csrf", "client_address", "csrf_token", "require_csrf"]
