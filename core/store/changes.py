"""Knowing cheaply whether a table may have changed: the token behind read caches.

``watch.token(table)`` returns a value that differs from every earlier one once a committed write may
have changed ``table`` ("applications" or "users"), in this process or any other, or ``None`` while that
cannot be known; then nothing may be served from a cache. A cache reads the token *before* it queries
and serves an entry only while the token is still the one stored with it, so an entry is never older
than its token.

* SQLite file: ``PRAGMA data_version`` on a connection of the watch's own that never writes. SQLite
  changes it whenever another connection, of this process or any other, commits to the file (any
  table: a cache then refills once more than it had to).
* PostgreSQL: statement triggers (migration 0007) send ``NOTIFY eportcard_changes`` with
  ``schema.table`` when a transaction that changed the table commits; a listener thread counts them
  per table. Delivery takes a moment, so this process's own writes also bump every token at their
  commit (read-your-writes); a write by another process is seen once its notification arrives
  (milliseconds). While the listener is not connected the token is ``None``.
* in-memory SQLite: no other process can write to it, so this process's own count is enough.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Hashable
from typing import Any, Protocol

from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "eportcard_changes"
RECONNECT_AFTER = 1.0  # seconds between attempts when the listener's connection is gone
POLL = 0.25  # seconds the listener waits for notifications before checking whether to stop


class ChangeWatch(Protocol):
    def token(self, table: str = "applications") -> Hashable | None: ...

    def bump(self) -> None:
        """This process committed a write (called after the commit)."""

    def close(self) -> None: ...


class LocalWatch:
    """Counts this process's writes: enough when nothing else can write (in-memory SQLite)."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def token(self, table: str = "applications") -> Hashable | None:
        return self._count

    def bump(self) -> None:
        with self._lock:
            self._count += 1

    def close(self) -> None:
        """Nothing to release: a counter."""


class SqliteFileWatch(LocalWatch):
    """``PRAGMA data_version`` of a SQLite file, read on a private connection that never writes."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._read_lock = threading.Lock()

    def token(self, table: str = "applications") -> Hashable | None:
        with self._read_lock:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return version, self._count

    def close(self) -> None:
        with self._read_lock:
            self._conn.close()


class PostgresWatch(LocalWatch):
    """Counts ``NOTIFY eportcard_changes`` per table of this store's schema on a listening connection."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        # (connection epoch, notifications per table) while listening
        self._state: tuple[int, dict[str, int]] | None = None
        self.listener_pid: int | None = None  # the listening connection's server process
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eportcard-change-listener", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """True once the listener is connected (tests and start-up checks)."""
        return self._listening.wait(timeout)

    def token(self, table: str = "applications") -> Hashable | None:
        state = self._state
        return None if state is None else (state[0], state[1].get(table, 0), self._count)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=POLL + 1)

    def _listen(self) -> tuple[Any, str]:
        # Detached from the pool: it is held for the life of the process. search_path and the
        # rest of the engine's connect arguments apply, so current_schema() is the store's schema.
        pooled = self._engine.raw_connection()
        conn: Any = pooled.driver_connection
        pooled.detach()
        conn.autocommit = True
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        conn.execute(f"LISTEN {CHANNEL}")
        self.listener_pid = conn.info.backend_pid
        return conn, schema

    def _run(self) -> None:
        epoch = 0
        while not self._stop.is_set():
            conn = None
            try:
                conn, schema = self._listen()
                epoch += 1  # anything may have changed while nobody listened
                seen: dict[str, int] = {}
                self._state = (epoch, seen)
                self._listening.set()
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=POLL):
                        noted_schema, _, table = note.payload.rpartition(".")
                        if noted_schema == schema:
                            seen[table] = seen.get(table, 0) + 1  # one int store: readers see old or new
            except Exception as exc:  # the database went away: caches off until it is back
                log.warning("change listener lost its PostgreSQL connection (%s); retrying", type(exc).__name__)
            finally:
                self._state = None
                self._listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):  # already broken
                        conn.close()
            self._stop.wait(RECONNECT_AFTER)


def watch_for(engine: Engine) -> ChangeWatch:
    """The watch that fits ``engine``'s database."""
    if engine.dialect.name == "postgresql":
        return PostgresWatch(engine)
    database = engine.url.database
    if database and database != ":memory:":
        return SqliteFileWatch(database)
    return LocalWatch()


__all__ = ["CHANNEL", "ChangeWatch", "LocalWatch", "PostgresWatch", "SqliteFileWatch", "watch_for"]
