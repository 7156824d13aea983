"""A PostgreSQL store keeps the connections a burst opened (up to PG_POOL_SIZE): the next burst reuses
them instead of making new ones (a new PostgreSQL connection is a server process forked and logged in;
opening one per burst past 5 made 16 clients logging in eat the machine)."""

from __future__ import annotations

from core.store import Store
from core.store.store import PG_POOL_SIZE


def _burst(store: Store, size: int) -> set[int]:
    held = [store.engine.connect() for _ in range(size)]
    try:
        return {conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() for conn in held}
    finally:
        for conn in held:
            conn.close()


def test_a_second_burst_reuses_every_connection_of_the_first(pg_store: Store):
    size = PG_POOL_SIZE - 2  # well past SQLAlchemy's default of 5 kept
    first = _burst(pg_store, size)
    assert len(first) == size
    assert _burst(pg_store, size) == first
