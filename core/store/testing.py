"""Test support: a migrated, empty store on SQLite or on a real PostgreSQL.

Reuse from any test folder's conftest.py::

    from core.store.testing import pg_store, store, store_backend  # noqa: F401  (pytest fixtures)

``store`` is parametrised over ("sqlite", "postgres"); every test gets its own empty database
(a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards). PostgreSQL comes from
``EPORTCARD_TEST_PG_URL`` (default below); when it cannot be reached the test FAILS, never skips.
``drop_audit_triggers`` and ``rewrite_audit`` tamper with the audit trail as someone with database
access (and without the audit key) would.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.exc import OperationalError

from core.store.audit import GENESIS_HASH, entry_hash
from core.store.store import Store, open_store
from core.store.tables import audit, audit_head

PG_URL_ENV = "EPORTCARD_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://eportcard:eportcard@127.0.0.1:5432/eportcard_test"
BACKENDS = ("sqlite", "postgres")


class DatabaseUnavailable(RuntimeError):
    pass


def pg_url() -> str:
    return os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)


@contextmanager
def temporary_store(backend: str, workdir: Path, *, migrate: bool = True) -> Iterator[Store]:
    """An empty store (migrated to head unless ``migrate=False``), removed afterwards."""
    blob_dir = workdir / "blobs"
    if backend == "sqlite":
        store = open_store(f"sqlite:///{workdir / 'eportcard.db'}", blob_dir)
        try:
            if migrate:
                store.upgrade()
            yield store
        finally:
            store.dispose()
        return
    if backend != "postgres":
        raise ValueError(f"unknown backend {backend!r}")
    url = pg_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        raise DatabaseUnavailable(
            f"PostgreSQL at {url} cannot be reached ({exc.orig}). Start it with "
            f"`bash scripts/start-postgres.sh` or set {PG_URL_ENV}.") from exc
    store = open_store(url, blob_dir, schema=schema)
    try:
        if migrate:
            store.upgrade()
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def other_store(store: Store, blob_dir: Path) -> Iterator[Store]:
    """Another engine with its own pool on ``store``'s database (and schema): as another web worker."""
    url = store.engine.url.render_as_string(hide_password=False)
    schema = None
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    other = open_store(url, blob_dir, schema=schema)
    try:
        yield other
    finally:
        other.dispose()


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _store_or_fail(backend: str, workdir: Path) -> Iterator[Store]:
    try:
        with temporary_store(backend, workdir) as made:
            yield made
    except DatabaseUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def store(store_backend: str, tmp_path: Path) -> Iterator[Store]:
    yield from _store_or_fail(store_backend, tmp_path)


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Store]:
    """A store on PostgreSQL only, for what only PostgreSQL has (connections, schemas, NOTIFY)."""
    yield from _store_or_fail("postgres", tmp_path)


# ---- an attacker with database access (and without the audit key) --------------------------------------------


def drop_audit_triggers(store: Store) -> None:
    """What an attacker with direct database access would do first."""
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("DROP TRIGGER audit_no_update_delete ON audit"))
        else:
            conn.execute(text("DROP TRIGGER audit_no_update"))
            conn.execute(text("DROP TRIGGER audit_no_delete"))


def rewrite_audit(store: Store, edits: Mapping[int, Mapping[str, Any]] | None = None, *,
                  keep_until: int | None = None, unkeyed: bool = True) -> None:
    """Tamper with the audit trail as someone holding the database but not the key would: apply
    ``edits`` (seq -> column values), delete the rows after ``keep_until``, recompute the hash of
    every row from the first edited one with plain sha256 (marked unkeyed unless ``unkeyed=False``),
    and point audit_head at the new last row. The append-only triggers are dropped first."""
    edits = edits or {}
    first = min(edits, default=None)
    drop_audit_triggers(store)
    with store.engine.begin() as conn:
        if keep_until is not None:
            conn.execute(delete(audit).where(audit.c.seq > keep_until))
        values: dict[str, Any] = {"seq": 0, "hash": GENESIS_HASH, "key_id": None}
        for row in conn.execute(select(audit).order_by(audit.c.seq)).all():
            prev_hash = values["hash"]
            values = {**row._asdict(), **edits.get(row.seq, {})}
            if first is not None and row.seq >= first:
                values["prev_hash"] = prev_hash
                values["hash"] = entry_hash(prev_hash, row.seq, values["at"], values["actor"], values["action"],
                                            values["entity"], values["entity_id"], json.loads(values["payload"]))
                values["key_id"] = None if unkeyed else values["key_id"]
                conn.execute(update(audit).where(audit.c.seq == row.seq).values(values))
        conn.execute(update(audit_head).where(audit_head.c.id == 1)
                     .values(seq=values["seq"], hash=values["hash"], key_id=values["key_id"]))
