"""The change token behind the reply caches (core/store/changes.py): it moves whenever a committed write may
have changed the applications table, by this store, another store (another worker) or another OS process, on
both backends; and on PostgreSQL it is unknown (None) while its listener has no connection."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Hashable
from pathlib import Path

from sqlalchemy import create_engine, text, update
from store_samples import make_application

from core.store import Store, open_store
from core.store.changes import LocalWatch, PostgresWatch, SqliteFileWatch
from core.store.tables import applications
from core.store.testing import other_store

ROOT = Path(__file__).resolve().parents[2]
SETTLES_WITHIN = 10.0  # seconds for a PostgreSQL notification or a listener reconnect (a wait, not a timing)


def _url_and_schema(store: Store) -> tuple[str, str | None]:
    url = store.engine.url.render_as_string(hide_password=False)
    if store.dialect != "postgresql":
        return url, None
    with store.engine.connect() as conn:
        return url, conn.exec_driver_sql("SELECT current_schema()").scalar_one()


def _ready(store: Store) -> Hashable:
    watch = store.changes
    if isinstance(watch, PostgresWatch):
        assert watch.wait_listening(SETTLES_WITHIN), "the change listener did not connect"
    token = watch.token()
    assert token is not None
    return token


def _moves_from(store: Store, before: Hashable) -> Hashable:
    """The token once it differs from ``before`` (SQLite: at once; PostgreSQL: when the notification lands)."""
    deadline = time.monotonic() + SETTLES_WITHIN
    while (now := store.changes.token()) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert now != before, "the change token did not move after a committed write"
    return now


def _rename(store: Store, app_id: str, name: str) -> None:
    with store.transaction() as tx:
        tx.connection.execute(update(applications).where(applications.c.id == app_id).values(enterprise_name=name))


def test_the_watch_fits_the_database(store: Store, tmp_path: Path):
    kind = PostgresWatch if store.dialect == "postgresql" else SqliteFileWatch
    assert isinstance(store.changes, kind)
    memory = open_store("sqlite://", tmp_path / "blobs")
    try:
        assert type(memory.changes) is LocalWatch
    finally:
        memory.dispose()


def test_own_writes_move_the_token_at_commit_and_reads_do_not(store: Store):
    with store.transaction() as tx:
        tx.applications.add(make_application("C1"))
    before = _ready(store)
    with store.transaction(readonly=True) as tx:
        tx.applications.get("C1")
    store.quick.find_summaries(limit=5)
    assert store.changes.token() == before
    _rename(store, "C1", "本进程改名")
    assert store.changes.token() != before  # at once, without waiting for a notification


def test_a_write_by_another_store_moves_the_token(store: Store, tmp_path: Path):
    with store.transaction() as tx:
        tx.applications.add(make_application("C2"))
    before = _ready(store)
    with other_store(store, tmp_path / "other-blobs") as other:
        _rename(other, "C2", "另一个工作进程改名")
    _moves_from(store, before)


def test_a_write_by_another_process_moves_the_token(store: Store):
    with store.transaction() as tx:
        tx.applications.add(make_application("C3"))
    before = _ready(store)
    url, schema = _url_and_schema(store)
    script = ("import sys; from sqlalchemy import create_engine, text\n"
              "url, schema = sys.argv[1], sys.argv[2]\n"
              "args = {'options': f'-c search_path={schema}'} if schema else {}\n"
              "engine = create_engine(url, connect_args=args)\n"
              "with engine.begin() as conn:\n"
              "    conn.execute(text(\"UPDATE applications SET enterprise_name = 'psql' WHERE id = 'C3'\"))\n")
    subprocess.run([sys.executable, "-c", script, url, schema or ""], check=True, cwd=ROOT, timeout=60)
    _moves_from(store, before)


def test_a_write_to_another_schema_does_not_move_a_postgres_token(pg_store: Store, tmp_path: Path):
    from core.store.testing import temporary_store

    before = _ready(pg_store)
    with temporary_store("postgres", tmp_path / "elsewhere") as elsewhere:
        with elsewhere.transaction() as tx:
            tx.applications.add(make_application("C4"))
        with pg_store.engine.begin() as conn:  # then one of our own schema (not through transaction(): no bump)
            conn.execute(update(applications).values(enterprise_name="本库"))
        own = _moves_from(pg_store, before)
        assert own[:2] == (before[0], before[1] + 1)  # one notification counted: ours, not the other schema's


def test_a_postgres_listener_that_lost_its_connection_reports_unknown_then_recovers(pg_store: Store):
    before = _ready(pg_store)
    watch = pg_store.changes
    assert isinstance(watch, PostgresWatch) and watch.listener_pid is not None
    admin = create_engine(pg_store.engine.url)
    try:
        with admin.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": watch.listener_pid}).scalar_one()
    finally:
        admin.dispose()
    deadline = time.monotonic() + SETTLES_WITHIN
    while (after := watch.token()) in (None, before):
        assert time.monotonic() < deadline, "the change listener did not reconnect"
        time.sleep(0.05)
    assert after[0] == before[0] + 1  # a new epoch: whatever changed while nobody listened counts as changed


def test_postgres_tokens_are_per_table(pg_store: Store):
    from core.store.accounts import users

    before_apps, before_users = _ready(pg_store), pg_store.changes.token("users")
    with pg_store.engine.begin() as conn:  # not through transaction(): only the notification tells
        conn.execute(update(users).values(display_name="x"))  # no rows: the statement trigger fires all the same
    deadline = time.monotonic() + SETTLES_WITHIN
    while pg_store.changes.token("users") == before_users:
        assert time.monotonic() < deadline, "the users token did not move"
        time.sleep(0.01)
    assert pg_store.changes.token("applications") == before_apps
