"""Finished JSON bodies of the hottest reads (public progress query, staff queue), kept while valid.

Every page view of the staff queue and every progress query used to read, decode and encode the same
rows again. Here a body is kept with the store's change token (core/store/changes.py) read before it
was made, and served again only while the token is unchanged: any committed change to the
applications table, by any process, retires every entry. The key must hold everything else the body
depends on (who may see it, the query, the day). Errors are never kept: they are raised afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from core.store.changes import ChangeWatch

DEFAULT_BUDGET = 32 * 1024 * 1024  # bytes of kept bodies; a full cache starts again empty (refills in one pass)


def json_body(content: Any) -> bytes:
    """The bytes Starlette's JSONResponse would send for ``content``."""
    return bytes(JSONResponse(content).body)


class ReplyCache:
    def __init__(self, watch: Callable[[], ChangeWatch], budget: int = DEFAULT_BUDGET) -> None:
        self._watch = watch  # the store's watch is made on first use (a PostgreSQL one starts a thread)
        self._budget = budget
        self._held = 0  # bytes, counted when kept (a replaced entry still counts: the next clear evens it)
        self._entries: dict[Hashable, tuple[Hashable, bytes]] = {}
        self._lock = threading.Lock()

    def kept(self, key: Hashable) -> bytes | None:
        """The body kept for ``key`` while it is still current, else None (makes nothing)."""
        token = self._watch().token()
        entry = self._entries.get(key)
        return entry[1] if token is not None and entry is not None and entry[0] == token else None

    def body(self, key: Hashable, make: Callable[[], bytes]) -> bytes:
        """The cached body for ``key``, or ``make()``'s (then kept) when there is none or it is stale."""
        token = self._watch().token()
        if token is None:
            return make()
        entry = self._entries.get(key)
        if entry is not None and entry[0] == token:
            return entry[1]
        body = make()
        with self._lock:
            if self._held + len(body) > self._budget:
                self._entries.clear()
                self._held = 0
            self._entries[key] = (token, body)
            self._held += len(body)
        return body

    def response(self, key: Hashable, make: Callable[[], Any]) -> Response:
        """A JSON response whose body is :meth:`body` of ``json_body(make())``."""
        return Response(self.body(key, lambda: json_body(make())), media_type="application/json")


T = TypeVar("T")


class KeptPublication(Generic[T]):
    """One published document (the CRL) kept in memory, served on the event loop while none of
    ``tables`` may have changed (the store's change tokens, as for :class:`ReplyCache`) and until the
    time ``until`` gives for it; otherwise :meth:`refresh` fetches it again (in a worker thread)."""

    def __init__(self, watch: Callable[[], ChangeWatch], tables: tuple[str, ...]) -> None:
        self._watch = watch
        self._tables = tables
        self._entry: tuple[tuple[Hashable, ...], T, datetime] | None = None

    def _tokens(self) -> tuple[Hashable, ...] | None:
        watch = self._watch()
        tokens = tuple(watch.token(table) for table in self._tables)
        return None if any(t is None for t in tokens) else tokens

    def kept(self, now: datetime) -> T | None:
        entry, tokens = self._entry, self._tokens()
        if entry is None or tokens is None or entry[0] != tokens or now >= entry[2]:
            return None
        return entry[1]

    def refresh(self, fetch: Callable[[], T], until: Callable[[T], datetime]) -> T:
        tokens = self._tokens()  # before fetching: a change meanwhile retires what is fetched
        value = fetch()
        if tokens is not None:
            self._entry = (tokens, value, until(value))
        return value


__all__ = ["DEFAULT_BUDGET", "KeptPublication", "ReplyCache", "json_body"]
