"""Alembic migrations run programmatically, on both backends, up and down."""

from __future__ import annotations

from sqlalchemy import inspect

from core.store import Store
from core.store.tables import metadata

TABLES = {"enterprises", "applications", "cards", "certificates", "attachments", "audit", "audit_head",
          "sequences", "crls"}


def _tables(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_upgrade_creates_every_table_and_is_idempotent(store: Store):
    assert store.current_revision() == store.head_revision() is not None
    assert _tables(store) >= TABLES
    assert set(metadata.tables) == TABLES
    with store.transaction() as tx:
        tx.next_sequence("x")
    store.upgrade()  # already at head: nothing happens, nothing is lost
    store.upgrade()
    assert store.current_revision() == store.head_revision()
    with store.transaction() as tx:
        assert tx.next_sequence("x") == 2


def test_indexes_for_queues_exist(store: Store):
    with store.engine.connect() as conn:
        indexes = {tuple(ix["column_names"]) for ix in inspect(conn).get_indexes("applications")}
        uniques = {tuple(u["column_names"]) for u in inspect(conn).get_unique_constraints("applications")}
    assert {("state", "due"), ("region", "state", "due"), ("enterprise_uscc",)} <= indexes
    assert ("acceptance_no",) in uniques | indexes


def test_downgrade_to_base_and_up_again(store: Store):
    store.downgrade("base")
    assert store.current_revision() is None
    assert not (TABLES & _tables(store))
    store.upgrade()
    assert _tables(store) >= TABLES
    assert store.audit_verify().ok


def test_tables_module_matches_the_migrated_schema(store: Store):
    """core/store/tables.py (what queries use) and the migrations (what exists) agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def ours(obj, name, type_, _reflected, _compare_to) -> bool:
        # Other modules (e.g. core.store.accounts) keep their own MetaData and test it themselves.
        table = name if type_ == "table" else obj.table.name
        if type_ == "index" and name == "ix_applications_search" and store.dialect != "postgresql":
            return False  # PostgreSQL only (ddl_if): SQLite searches through its FTS5 table (0014)
        return table in metadata.tables

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": ours})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_concurrent_upgrades_all_succeed(store: Store):
    """Web workers starting together each call upgrade(); none fails, the schema ends at head."""
    from concurrent.futures import ThreadPoolExecutor

    store.downgrade("base")
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: store.upgrade(), range(3)))
    assert store.current_revision() == store.head_revision()
    assert _tables(store) >= TABLES
