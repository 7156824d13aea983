"""Request bodies have a size limit, enforced before and while they are read.

A body whose ``Content-Length`` is over the limit is refused (413) without reading a byte of it and
without running the handler; a body without one (chunked) is counted as it arrives and refused the
moment it passes the limit, whatever the handler was doing with it. Uploads (the routes in
:data:`UPLOAD_PATHS`) may be as large as ``[storage] max_upload_bytes`` plus the multipart framing;
everything else ``[web] max_body_bytes``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import EportError

# The routes that take a file: the API's attachment upload and the portal's upload step.
UPLOAD_PATHS = re.compile(r"/api/applications/[^/]+/attachments|/portal/apps/[^/]+/step/uploads")
# Boundaries, part headers, the material and CSRF fields around the file: a few hundred bytes in
# practice; 64 KiB keeps a file of exactly max_upload_bytes well inside.
MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(EportError):
    code = "too_large"


def too_large(limit: int) -> BodyTooLarge:
    shown = f"{limit / 1024 / 1024:.1f} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return BodyTooLarge(f"请求内容过大（上限 {shown}），未被处理。",
                        f"The request is too large (at most {shown}) and was not processed.", field="body")


class _Overrun(Exception):
    """Raised into the handler's read when the body passes the limit (caught below, never shown)."""


Refusal = Callable[[Request, Exception], Response]  # renders a page: run in the thread pool


class BodyLimitMiddleware:
    """Refuse a request body over its limit with 413, answered by ``refuse`` (the app's error page)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, refuse: Refusal) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes + MULTIPART_OVERHEAD
        self.refuse = refuse

    def limit_for(self, path: str) -> int:
        return self.max_upload_bytes if UPLOAD_PATHS.fullmatch(path) else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._answer(scope, receive, send, limit)
            return
        received = 0
        overrun = started = False

        async def counting_receive() -> Message:
            nonlocal received, overrun
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    overrun = True
                    raise _Overrun
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if overrun:
                return  # whatever the handler made of the cut-off body, the answer is 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not overrun:
                raise
        if overrun and not started:
            await self._answer(scope, receive, send, limit)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = await run_in_threadpool(self.refuse, Request(scope, receive), too_large(limit))
        # The unread rest of the body would be taken for the next request: end the connection.
        response.headers["connection"] = "close"
        await response(scope, receive, send)


__all__ = ["MULTIPART_OVERHEAD", "UPLOAD_PATHS", "BodyLimitMiddleware", "BodyTooLarge", "too_large"]
