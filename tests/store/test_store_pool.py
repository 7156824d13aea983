"""PostgreSQL connections without a ping per request: an idle connection that died is pinged and
replaced before use; a busy one that dies fails once and the pool then starts afresh."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from core.store import Store
from core.store import store as store_module
from core.store.testing import pg_url


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


def _quick_pid(store: Store) -> int:
    return int(store.driver_rows("SELECT pg_backend_pid()", {})[0][0])


def test_a_driver_read_on_a_dead_connection_fails_once_then_the_pool_recovers(pg_store: Store):
    first = _quick_pid(pg_store)
    assert _quick_pid(pg_store) == first  # the pooled connection, not a new one per read
    _kill(first)
    with pytest.raises(pg_store.engine.dialect.loaded_dbapi.OperationalError):
        _quick_pid(pg_store)
    assert _quick_pid(pg_store) != first


def test_driver_reads_leave_pooled_connections_transactional(pg_store: Store):
    """A driver read runs in autocommit; the connection must go back to the pool as it came, or a later
    transaction on it would commit statement by statement."""
    _quick_pid(pg_store)
    with pytest.raises(ZeroDivisionError), pg_store.transaction() as tx:
        tx.next_sequence("half-done")
        1 / 0  # noqa: B018  (fails the transaction after its first write)
    with pg_store.transaction() as tx:
        assert tx.next_sequence("half-done") == 1  # the first write was rolled back
    with pytest.raises(pg_store.engine.dialect.loaded_dbapi.Error):
        pg_store.driver_rows("SELECT no_such_column FROM applications", {})
    with pytest.raises(ZeroDivisionError), pg_store.transaction() as tx:
        tx.next_sequence("after-error")
        1 / 0  # noqa: B018
    with pg_store.transaction() as tx:
        assert tx.next_sequence("after-error") == 1
