"""PostgreSQL connections without a ping per request: an idle connection that died is pinged and
replaced before use; a busy one that dies fails once and the pool then starts afresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from core.store import Store
from core.store import store as store_module
from core.store.testing import DatabaseUnavailable, pg_url, temporary_store


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Store]:
    try:
        with temporary_store("postgres", tmp_path) as made:
            yield made
    except DatabaseUnavailable as exc:
        pytest.fail(str(exc))


def _backend_pid(store: Store) -> int:
    with store.transaction(readonly=True) as tx:
        return int(tx.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _kill(pid: int) -> None:
    admin = create_engine(pg_url())
    try:
        with admin.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        admin.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(pg_store: Store, monkeypatch):
    first = _backend_pid(pg_store)
    assert _backend_pid(pg_store) == first  # reused from the pool, no new connection per request
    _kill(first)
    monkeypatch.setattr(store_module, "IDLE_PING_SECONDS", 0.0)  # as if it sat idle for a while
    second = _backend_pid(pg_store)
    assert second != first
    with pg_store.transaction() as tx:  # writes work on the fresh connection too
        assert tx.next_sequence("pool-test") == 1


def test_a_connection_that_died_while_recently_used_fails_once_then_the_pool_recovers(pg_store: Store):
    first = _backend_pid(pg_store)
    _kill(first)
    with pytest.raises(DBAPIError) as failed:
        _backend_pid(pg_store)
    assert failed.value.connection_invalidated
    assert _backend_pid(pg_store) != first
