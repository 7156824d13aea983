"""Issue #18, faults where data is written: the PostgreSQL backend serving a request is killed in the middle
of it (pg_terminate_backend from another connection, at a chosen statement of a submit or an accept, or
just before its COMMIT). The request fails cleanly (503 on the web, Retry-After), nothing is half-applied
(state, version and audit trail as before), and the pool recovers by itself: the same request then works.
(A SQLite database locked past its busy timeout answers 503 too: tests/web/test_login_security.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from faultkit import PASSWORD, SYSTEM, enterprise_with_draft, reviewer
from sqlalchemy import create_engine, event, text
from starlette.testclient import TestClient

from core.calendar import WorkCalendar
from core.config import Settings
from core.model import AppState
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.services import DatabaseUnavailable, Services
from core.store import Store
from core.store.testing import DatabaseUnavailable as NoPostgres
from core.store.testing import pg_url, temporary_store
from core.web.app import create_app


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    try:
        with temporary_store("postgres", tmp_path) as store:
            yield Services(settings=Settings(root=str(tmp_path)), store=store,
                           rulebook=Rulebook(get_plugin_manager()), calendar=WorkCalendar())
    except NoPostgres as exc:
        pytest.fail(str(exc))


@contextmanager
def backend_killed(store: Store, when: Callable[[str], bool], at_commit: bool = False) -> Iterator[list[int]]:
    """Kill (once) the backend of the connection about to run a statement ``when`` accepts, or about to
    commit; waits until it is gone (pg_terminate_backend's timeout), so the statement meets a dead
    connection. Yields the pids killed."""
    admin = create_engine(pg_url())
    killed: list[int] = []

    def kill(conn: Any) -> None:
        pid = conn.connection.dbapi_connection.info.backend_pid
        with admin.begin() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar_one()
        killed.append(pid)

    def before_statement(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if killed or not when(statement):
            return
        if at_commit:
            conn.info["kill_at_commit"] = True  # this transaction's COMMIT, once its statements ran
        else:
            kill(conn)

    def before_commit(conn: Any) -> None:
        if conn.info.pop("kill_at_commit", False) and not killed:
            kill(conn)

    event.listen(store.engine, "before_cursor_execute", before_statement)
    event.listen(store.engine, "commit", before_commit)
    try:
        yield killed
    finally:
        event.remove(store.engine, "before_cursor_execute", before_statement)
        event.remove(store.engine, "commit", before_commit)
        admin.dispose()


def _audit_rows(services: Services) -> int:
    return services.store.audit_verify().checked


def _writes_audit(statement: str) -> bool:
    return statement.lstrip().upper().startswith("INSERT INTO AUDIT ")


def test_a_submit_whose_backend_dies_mid_transaction_leaves_nothing_and_the_retry_works(services):
    _username, app_id = enterprise_with_draft(services, 1)
    before, rows = services.applications.get(app_id, SYSTEM), _audit_rows(services)
    with backend_killed(services.store, _writes_audit) as killed, pytest.raises(DatabaseUnavailable):
        services.applications.submit(app_id, SYSTEM)  # the application row was updated, then the backend died
    assert killed
    assert services.applications.get(app_id, SYSTEM) == before and _audit_rows(services) == rows
    submitted = services.applications.submit(app_id, SYSTEM)
    assert submitted.state is AppState.SUBMITTED and submitted.version == before.version + 1
    assert services.store.audit_verify().ok and _audit_rows(services) == rows + 1


@pytest.mark.parametrize("at_commit", [False, True], ids=["mid-transaction", "at-commit"])
def test_an_accept_whose_backend_dies_answers_503_and_the_retry_works(services, at_commit):
    _username, app_id = enterprise_with_draft(services, 2)
    services.applications.submit(app_id, SYSTEM)
    client = TestClient(create_app(services), base_url="http://testserver")
    reply = client.post("/api/session", json={"username": reviewer(services), "password": PASSWORD})
    csrf = {"X-CSRF-Token": reply.json()["csrf_token"]}
    seen = client.get(f"/api/applications/{app_id}").json()
    rows = _audit_rows(services)
    with backend_killed(services.store, _writes_audit, at_commit=at_commit) as killed:
        failed = client.post(f"/api/applications/{app_id}/accept", headers=csrf, json={"version": seen["version"]})
    assert killed and failed.status_code == 503 and failed.headers["retry-after"]
    assert failed.json()["error"]["zh"] and "nothing was changed" in failed.json()["error"]["en"]
    assert client.get(f"/api/applications/{app_id}").json() == seen and _audit_rows(services) == rows
    accepted = client.post(f"/api/applications/{app_id}/accept", headers=csrf, json={"version": seen["version"]})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert services.store.audit_verify().ok and _audit_rows(services) == rows + 1
