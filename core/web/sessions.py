"""Signed-cookie sessions that re-send the cookie only when needed.

The cookie is Starlette's: base64 JSON signed with itsdangerous' ``TimestampSigner`` and checked
against ``max_age`` on every request, with the same flags (HttpOnly, SameSite, Secure when
configured) - so cookies issued by ``starlette.middleware.sessions.SessionMiddleware`` stay valid.

What differs is cost. A response carries ``Set-Cookie`` only when the session changed, was
cleared, or its signature is older than ``refresh_after`` (a sliding expiry: an active session
lives up to ``max_age`` after its last request, less at most ``refresh_after``). Unchanged requests
neither re-sign nor re-send, and a cookie already verified is recognised from a small bounded cache
instead of being verified again (the cache holds only values whose signature was checked; their
age is checked on every request all the same).
"""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode
from typing import Any, Literal

import itsdangerous
from itsdangerous.exc import BadSignature
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_REFRESH_AFTER = 5 * 60
VERIFIED_CACHE_SIZE = 4096


class Session(dict[str, Any]):
    """The session dict; remembers whether a handler read or changed it."""

    accessed = False
    modified = False

    def mark_accessed(self) -> None:  # Starlette's ``request.session`` calls it
        self.accessed = True

    def _changed(self) -> None:
        self.accessed = self.modified = True

    def __setitem__(self, key: str, value: Any) -> None:
        self._changed()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._changed()
        super().__delitem__(key)

    def clear(self) -> None:
        self._changed()
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        self._changed()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._changed()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().update(*args, **kwargs)

    def __ior__(self, other: Any) -> Session:  # type: ignore[override,misc]
        self._changed()
        return super().__ior__(other)


class SessionMiddleware:
    """Puts a :class:`Session` in ``scope["session"]``; see the module docstring for when it answers
    with ``Set-Cookie``."""

    def __init__(self, app: ASGIApp, secret_key: str, session_cookie: str = "session",
                 max_age: int = 14 * 24 * 3600, path: str = "/",
                 same_site: Literal["lax", "strict", "none"] = "lax", https_only: bool = False,
                 refresh_after: int = DEFAULT_REFRESH_AFTER, clock: Any = time.time) -> None:
        self.app = app
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self.signer.get_timestamp = lambda: int(clock())  # type: ignore[method-assign]  # one clock for sign and check
        self.cookie_name = session_cookie
        self.max_age = max_age
        self.refresh_after = min(refresh_after, max_age)
        self.clock = clock
        self.path = path
        self.https_only = https_only
        self.flags = f"httponly; samesite={same_site}"
        # cookie value -> (signed at, payload JSON): only values whose signature verified.
        self._verified: dict[str, tuple[int, bytes]] = {}

    def _read(self, value: str) -> tuple[int, bytes] | None:
        """(signed at, payload) of a valid cookie value, None when forged or older than max_age."""
        known = self._verified.get(value)
        if known is None:
            try:
                payload, signed_at = self.signer.unsign(value.encode(), return_timestamp=True)
            except BadSignature:
                return None
            known = (int(signed_at.timestamp()), b64decode(payload))
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()  # bounded; re-verifying a cookie once is cheap
            self._verified[value] = known
        if self.clock() - known[0] > self.max_age:
            return None
        return known

    def _flags(self, scope: Scope) -> str:
        """Secure when configured, and on any request that came over HTTPS (the scheme a trusted proxy's
        X-Forwarded-Proto gives it, core/web/app.py), so a cookie set over TLS never travels in clear."""
        return self.flags + ("; secure" if self.https_only or scope.get("scheme") in ("https", "wss") else "")

    def _cookie(self, session: Session, flags: str) -> str:
        signed = self.signer.sign(b64encode(json.dumps(session).encode())).decode()
        return f"{self.cookie_name}={signed}; path={self.path}; Max-Age={self.max_age}; {flags}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        signed_at: int | None = None
        session = Session()
        for name, raw in scope["headers"]:
            if name == b"cookie":
                value = cookie_parser(raw.decode("latin-1")).get(self.cookie_name)
                found = self._read(value) if value else None
                if found is not None:
                    signed_at = found[0]
                    session = Session(json.loads(found[1]))
                break
        scope["session"] = session

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if session.accessed:
                    headers.add_vary_header("Cookie")
                if session and (session.modified or self.clock() - (signed_at or 0) >= self.refresh_after):
                    headers.append("Set-Cookie", self._cookie(session, self._flags(scope)))
                elif session.modified and not session and signed_at is not None:
                    # Cleared: tell the browser to drop the cookie.
                    headers.append("Set-Cookie", f"{self.cookie_name}=null; path={self.path}; "
                                                 f"expires=Thu, 01 Jan 1970 00:00:00 GMT; {self._flags(scope)}")
            await send(message)

        await self.app(scope, receive, send_wrapper)


__all__ = ["DEFAULT_REFRESH_AFTER", "Session", "SessionMiddleware"]
