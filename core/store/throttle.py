"""Rate counters shared by every process: ``RateCounters(tx)`` over the ``rate_counters`` table.

A key (``login-address:10.0.0.1``, ``sms-mobile-day:13800138000`` ...) counts attempts in a window
that starts at its first attempt. :meth:`RateCounters.take` counts one more attempt unless the key
is at its limit, under a row lock (PostgreSQL ``SELECT … FOR UPDATE``; SQLite's writing transactions
hold the database write lock from BEGIN), so parallel requests can never take more than the limit
between them. Counting *before* the guarded work (a password check, a code check, an SMS) is what
makes that true; work that turns out not to count (a right password) gives its attempt back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from attrs import frozen
from sqlalchemy import Row, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from core.store.accounts import rate_counters

if TYPE_CHECKING:
    from core.store.store import Transaction


@frozen
class Limit:
    """At most ``count`` attempts per ``window``; reaching it blocks the key for ``block`` (default:
    until the window ends)."""

    count: int
    window: timedelta
    block: timedelta | None = None


class RateCounters:
    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def _locked_row(self, key: str, now: datetime) -> Row[Any]:
        """The key's row, made if new, locked until the transaction ends (a plain INSERT would let two
        first attempts race to create it: one would fail on the primary key)."""
        dialect_insert = sqlite_insert if self._conn.dialect.name == "sqlite" else postgresql_insert
        self._conn.execute(dialect_insert(rate_counters).values(key=key, window_start=now, hits=0)
                           .on_conflict_do_nothing(index_elements=["key"]))
        return self._conn.execute(
            select(rate_counters).where(rate_counters.c.key == key).with_for_update()).one()

    def take(self, key: str, now: datetime, limit: Limit) -> bool:
        """Count one attempt for ``key``; False (nothing counted) while the key is at its limit."""
        row = self._locked_row(key, now)
        hits, start, blocked_until = row.hits, row.window_start, row.blocked_until
        if blocked_until is not None and now < blocked_until:
            return False
        if now - start >= limit.window or blocked_until is not None:  # a new window
            hits, start = 0, now
        if hits >= limit.count:
            return False
        hits += 1
        block = None
        if hits >= limit.count and limit.block is not None:
            block = now + limit.block
        self._conn.execute(update(rate_counters).where(rate_counters.c.key == key)
                           .values(hits=hits, window_start=start, blocked_until=block))
        return True

    def give_back(self, key: str) -> None:
        """The attempt counted last did not count after all (e.g. the password was right)."""
        self._conn.execute(update(rate_counters).where(rate_counters.c.key == key, rate_counters.c.hits > 0)
                           .values(hits=rate_counters.c.hits - 1, blocked_until=None))

    def clear(self, key: str) -> None:
        self._conn.execute(delete(rate_counters).where(rate_counters.c.key == key))

    def blocked(self, key: str, now: datetime, limit: Limit) -> bool:
        """Whether :meth:`take` would refuse now (reads only)."""
        row = self._conn.execute(select(rate_counters).where(rate_counters.c.key == key)).first()
        if row is None:
            return False
        if row.blocked_until is not None:
            return now < row.blocked_until
        return now - row.window_start < limit.window and row.hits >= limit.count

    def prune(self, before: datetime) -> int:
        """Forget keys whose window and block both ended before ``before``."""
        result = self._conn.execute(delete(rate_counters).where(
            rate_counters.c.window_start < before,
            or_(rate_counters.c.blocked_until.is_(None), rate_counters.c.blocked_until < before)))
        return int(result.rowcount or 0)


__all__ = ["Limit", "RateCounters"]
