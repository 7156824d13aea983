"""Handlers that block (database, argon2, PDF, hardware) run in a worker thread, never on the event loop.

Starlette runs a plain ``def`` endpoint in its thread pool, but a plain ``def`` cannot await the
request body. :func:`blocking` closes that gap: on the event loop it reads the body (the form for
form and multipart posts, the raw bytes otherwise: the only awaits a handler needs), then runs the
plain handler in the thread pool, where :func:`posted_form` and :func:`posted_body` hand it what was
read. A request the loop has to wait for is therefore only ever one in which bytes still arrive.
:func:`kept_first` lets the two hottest reads answer from memory on the loop (a thread hop costs more
than the kept reply itself) and go to the thread pool only to make a reply.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

Handler = Callable[[Request], Response]


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith(FORM_TYPES)


async def read_body(request: Request, *, max_files: int = 1000, max_fields: int = 1000) -> None:
    """Read (and keep on the request) what a non-safe request carries."""
    if request.method in SAFE_METHODS:
        return
    if is_form(request):
        request.state.posted_form = await request.form(max_files=max_files, max_fields=max_fields)
    else:
        request.state.posted_body = await request.body()


def blocking(handler: Handler | None = None, *, max_files: int = 1000,
             max_fields: int = 1000) -> Any:
    """Decorate a plain ``def handler(request) -> Response``: the body is read on the loop, the handler
    runs in the thread pool. ``@blocking`` or ``@blocking(max_files=1, max_fields=10)``."""

    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            await read_body(request, max_files=max_files, max_fields=max_fields)
            return await run_in_threadpool(fn, request)

        endpoint.blocking = fn  # type: ignore[attr-defined]  # the plain handler, for the tests
        return endpoint

    return wrap(handler) if handler is not None else wrap


def kept_first(lookup: Callable[[Request], bytes | None], media_type: str = "application/json"
               ) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """For the hottest reads: ``lookup`` (memory only, no I/O) answers on the event loop with a body
    kept from before; only when it has none does the plain handler run, in the thread pool."""

    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        in_thread = blocking(fn)

        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            body = lookup(request)
            if body is not None:
                return Response(body, media_type=media_type)
            return await in_thread(request)

        endpoint.blocking = fn  # type: ignore[attr-defined]
        return endpoint

    return wrap


def posted_form(request: Request) -> FormData:
    """The form :func:`blocking` read (empty when the request carried none)."""
    form = getattr(request.state, "posted_form", None)
    return form if isinstance(form, FormData) else FormData()


def posted_body(request: Request) -> bytes:
    """The raw body :func:`blocking` read (empty for a form or a safe method)."""
    body = getattr(request.state, "posted_body", b"")
    return body if isinstance(body, bytes) else b""


__all__ = ["blocking", "is_form", "kept_first", "posted_body", "posted_form", "read_body"]
