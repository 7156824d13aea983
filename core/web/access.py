"""Every request gets an id and one access line; an unhandled error one traceback and a clear 500.

:class:`RequestLogMiddleware` (the outermost of the app's middleware) takes a sane ``X-Request-ID``
from the client or proxy, or makes one, returns it in the response's ``X-Request-ID`` and logs
``GET /portal 200 12.4ms client=203.0.113.9`` on ``core.web.access`` when the request ends, and
counts it by route template for ``/metrics`` (core/metrics.py). Lines logged while the request
runs carry the id (core/web/logs.py).

:func:`internal_error` is the app's handler for an unhandled exception (Starlette runs it in its
``ServerErrorMiddleware``): it logs the traceback once with the request id and answers in both
languages, JSON under ``/api/`` and a plain page elsewhere, never a bare "Internal Server Error".
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.metrics import observe_request
from core.web.logs import REQUEST, SCOPE_KEY, RequestInfo, mark_logged, request_context
from core.web.security import SECURITY_HEADERS

access_log = logging.getLogger("core.web.access")
error_log = logging.getLogger("core.web.errors")

REQUEST_ID_HEADER = "x-request-id"
# Accepted from outside as it is: short, and nothing that could break a log line or a header.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
MAX_LOGGED_PATH = 512


def request_id_of(scope: Scope) -> str:
    """The request's id: the client's or proxy's ``X-Request-ID`` when sane, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER.encode():
            given = value.decode("latin-1").strip()
            if SANE_REQUEST_ID.fullmatch(given):
                return given
            break
    return secrets.token_hex(8)


def route_of(scope: Scope) -> str:
    """The route template the request matched (``/api/applications/{app_id}``), never the raw path
    (which would make one metric per application); ``(unmatched)`` when no route did."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "(unmatched)"
    return path + "/{path}" if type(route).__name__ == "Mount" else path or "/"


def _shown(path: str) -> str:
    path = UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", path)
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "…"


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = RequestInfo(request_id_of(scope), scope)
        scope[SCOPE_KEY] = info
        scope.setdefault("state", {})["request_id"] = info.id
        token = REQUEST.set(info)
        started = time.perf_counter()
        status = 500  # unless a response starts: the error handler answers 500 outside this middleware
        header = (REQUEST_ID_HEADER.encode(), info.id.encode())

        async def receive_kept() -> Message:
            message = await receive()
            info.capture(message)
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive_kept, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            fields = {"method": scope["method"], "path": _shown(scope["path"]), "route": route_of(scope),
                      "status": status, "duration_ms": round(seconds * 1000, 1), "client": _client(scope)}
            access_log.info("%s %s %s %.1fms client=%s", fields["method"], fields["path"], status,
                            fields["duration_ms"], fields["client"], extra=fields)
            observe_request(scope["method"], fields["route"], status, seconds)
            REQUEST.reset(token)


INTERNAL_ZH = "系统内部错误，请稍后重试；如仍出错，请联系管理员并告知请求编号 {rid}。"
INTERNAL_EN = "Something went wrong on our side; try again later. If it keeps happening, tell the " \
              "administrator the request id {rid}."


async def internal_error(request: Request, exc: Exception) -> Response:
    """The answer to an unhandled exception, after logging its traceback (once) with the request id.
    On the loop, not in the thread pool: it reads nothing, and an exhausted pool may be why it runs."""
    rid = str(request.scope.get("state", {}).get("request_id") or "-")
    with request_context(request.scope):
        error_log.error("unhandled error in %s %s", request.method, _shown(request.url.path), exc_info=exc)
    mark_logged(exc)  # the server's own "Exception in ASGI application" line is dropped (logs.AlreadyLogged)
    zh, en = INTERNAL_ZH.format(rid=rid), INTERNAL_EN.format(rid=rid)
    headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS} | {REQUEST_ID_HEADER: rid}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": {"code": "internal", "field": None, "zh": zh, "en": en, "request_id": rid}},
                            status_code=500, headers=headers)
    page = (f'<!doctype html><html lang="zh"><meta charset="utf-8"><title>500</title>'
            f"<h1>系统错误 / Server error</h1><p>{html.escape(zh)}</p><p lang=\"en\">{html.escape(en)}</p></html>")
    return HTMLResponse(page, status_code=500, headers=headers)


__all__ = ["REQUEST_ID_HEADER", "RequestLogMiddleware", "internal_error", "request_id_of", "route_of"]
