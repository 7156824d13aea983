"""Issue #20 item 2: released migrations never change, and every released history ends at one schema.

0007 was rewritten after release. A database migrated by the first 0007 kept its trigger on a channel
nobody listens to and never got the ``users`` trigger (and could not run 0009 at all). Each released
state is built here by running the migration code of its release (the first 0007 is kept verbatim in
``released/``), then
upgraded by this eportcard; its schema (tables, columns, indexes, constraints, triggers, functions)
must equal a fresh database's, on SQLite and PostgreSQL. Old code against a newer database says so in
one line."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Connection, text

from core.cli import main
from core.errors import ConfigError
from core.store import Store
from core.store.store import MIGRATIONS
from core.store.testing import DatabaseUnavailable, other_store, temporary_store

VERSIONS = MIGRATIONS / "versions"
RELEASED = Path(__file__).resolve().parent / "released"

# sha256 of every released migration. A released migration is never edited: a change goes in a new
# revision (see 0011_one_history.py for what editing 0007 in place did). A new migration
# adds its line here when it is committed.
CHECKSUMS = {
    "0001_initial.py": "a33c2898782d9dd8d52aa6a7b8c6988cf4d809f44347c75156cb819d14b85a6a",
    "0002_accounts.py": "3c4b9ac524b6b985354b35bc703ccc8493466de224e813c3d1b2f7e82180a496",
    "0003_challenges.py": "ab117ac3ca32f8065495f965aba0b82e97a9f8b4d2d8d49d046af73e170990b6",
    "0004_queue_index.py": "24580adf1f3e06e4daf6b2b731d730fb2543cdd381427bef686379f9ec31325b",
    "0005_application_summary.py": "4f820d59e2113656e6cc33b3059aebc05d36704dca547598675de06d7d5093a0",
    "0006_queue_order_index.py": "c59ab45a8468174a7ca9b34bf99a6ccde4c13ca5bf375b0d0ef9541a53d15745",
    "0007_change_notify.py": "ff168ab42efd54de4a897a884a4ab5c8e1c7ac508c8a27d73dd3d4c16c178133",
    "0008_account_status.py": "13da46208c765bbdbcdf9f123aa991067f3c9ef717bd8b35d1c99e1055322d6f",
    "0009_sessions_and_counters.py": "b8b7761bba00db306a4b8114c8f680be453fd8468873fd4eafa8052e82f1e6ee",
    "0010_audit_key.py": "f98746999ed97391baa8619c639a8a34c7718995eb7994aec81ae391969973b2",
    "0011_one_history.py": "08a9eb1180ed2009a830ba952b9fd729f186e4493c00773129fbb5088aba3626",
    "0012_notifications_and_jobs.py": "fb89a323233189fed39335912f38295beb7540ce40f562e251ae2e3fcd6195a6",
    "0013_delivery_and_admin_details.py": "e8666a32f0828941fb280bbd60754ff0366124308d46177d8c3621879589662f",
    "0014_search_and_published_crls.py": "90712f11286f9de9e9f5e373c0d2756c807b4b219fd39054e15d0f57f9c6facf",
    "0015_attachment_archive.py": "98ed7cadd1646b8a315483e08f56dee3e7ef9a696e04d878847963de22b88a29",
}


def test_released_migrations_are_unchanged():
    found = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
             for path in sorted(VERSIONS.glob("[0-9]*.py"))}
    assert found == CHECKSUMS


def _released(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"released_{name}", RELEASED / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIRST_0007 = _released("first_0007_applications_notify")

# Every schema state a released eportcard can have left: the steps that made it. A string is one of
# our revisions (unchanged since its release), a module a released revision since rewritten.
STATES: dict[str, list[Any]] = {
    "empty": [],
    **{revision: [revision] for revision in (f"{n:04d}" for n in range(1, 11))},
    "0007 first": ["0006", FIRST_0007],
    "0008 after the first 0007": ["0006", FIRST_0007, "0008"],
}


def _build(store: Store, steps: list[Any]) -> None:
    """Run the steps as the release that made them did: Alembic directly, not Store.upgrade."""
    with store.engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        for step in steps:
            if isinstance(step, str):
                command.upgrade(config, step)
                continue
            with Operations.context(MigrationContext.configure(conn)):
                step.upgrade()
            command.stamp(config, step.revision)


def _schema(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            rows = _rows(conn, "SELECT type, name, tbl_name, sql FROM sqlite_master "
                               "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
            return {"objects": [(kind, name, table, _constraints_sorted(sql)) for kind, name, table, sql in rows]}
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        ours = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
        queries = {
            "columns": "SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length, "
                       "is_nullable, column_default FROM information_schema.columns "
                       "WHERE table_schema = current_schema() ORDER BY 1, 2",
            "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
                       "WHERE schemaname = current_schema() ORDER BY 1, 2",
            "constraints": f"SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                           f"WHERE connamespace = {ours} ORDER BY 1, 2",
            "triggers": f"SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                        f"JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relnamespace = {ours} "
                        f"ORDER BY 1, 2",
            "functions": f"SELECT proname, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = {ours} "
                         f"ORDER BY 1",
        }
        # Each test has its own schema: its name is the one thing that differs.
        return {kind: [tuple(re.sub(rf"\b{schema}\b", "S", v) if isinstance(v, str) else v for v in row)
                       for row in _rows(conn, sql)] for kind, sql in queries.items()}


def _constraints_sorted(sql: str | None) -> str | None:
    """A table's CREATE statement with its table constraints in a fixed order: Alembic's batch mode
    (SQLite's ALTER TABLE) re-creates a table with them in no particular order."""
    if not sql or not sql.startswith("CREATE TABLE"):
        return sql
    items = sql.split(", \n\t")
    columns = [item for item in items if not item.startswith(("CONSTRAINT", "PRIMARY KEY", "UNIQUE", "CHECK",
                                                                "FOREIGN KEY"))]
    return ", \n\t".join(columns + sorted(item.rstrip("\n)") for item in items if item not in columns))


def _rows(conn: Connection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(text(sql))]


@pytest.fixture
def fresh_schema(store_backend: str, tmp_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    folder = tmp_path / "fresh"
    folder.mkdir()
    try:
        with temporary_store(store_backend, folder) as fresh:
            return _schema(fresh)
    except DatabaseUnavailable as exc:
        pytest.fail(str(exc))


@pytest.mark.parametrize("state", list(STATES))
def test_every_released_state_upgrades_to_the_fresh_schema(store_backend: str, tmp_path: Path, state: str,
                                                           fresh_schema: dict[str, list[tuple[Any, ...]]]):
    with temporary_store(store_backend, tmp_path, migrate=False) as store:
        _build(store, STATES[state])
        store.upgrade()
        assert store.current_revision() == store.head_revision()
        upgraded = _schema(store)
    for kind in fresh_schema:
        assert upgraded[kind] == fresh_schema[kind], kind
    if store_backend == "postgres":
        functions = [name for name, _ in fresh_schema["functions"]]
        assert "eportcard_table_changed" in functions and "eportcard_applications_changed" not in functions
        assert {(table, name) for table, name, _ in fresh_schema["triggers"]} >= {
            ("applications", "applications_changed"), ("users", "users_changed"),
            ("web_sessions", "web_sessions_changed")}


def _newer(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))


def test_a_database_migrated_by_a_newer_eportcard_is_refused_in_one_line(store: Store, tmp_path: Path):
    _newer(store)
    for use in ("upgrade", "transaction", "migrations", "audit_verify"):
        # another process, of the older eportcard
        with other_store(store, tmp_path / "blobs") as old, pytest.raises(ConfigError) as refused:
            getattr(old, use)().__enter__() if use == "transaction" else getattr(old, use)()
        assert "revision 0999" in refused.value.en and "upgrade eportcard" in refused.value.en, use
        assert "0999" in refused.value.zh
    assert store.current_revision() == "0999"  # untouched


def test_db_current_and_history_and_a_newer_database_on_the_command_line(tmp_path: Path):
    config = tmp_path / "eportcard.toml"
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(main, ["-c", str(config), *args])

    assert cli("init").exit_code == 0
    current = cli("db", "current")
    assert current.exit_code == 0 and "revision 0015, the newest" in current.output
    history = cli("db", "history").output.splitlines()
    assert [line.split()[1] for line in history] == list(
        name.split("_")[0] for name in CHECKSUMS)
    assert all(line.startswith("* ") for line in history) and history[-1].endswith("<- 当前 current")
    assert "0007  PostgreSQL: notify listeners" in history[6]

    with temporary_store("sqlite", tmp_path, migrate=False) as store:  # the init's database
        store.downgrade("0009")
    behind = cli("db", "current").output
    assert "revision 0009; 6 migration(s) to apply (0010, 0011, 0012, 0013, 0014, 0015)" in behind and "eportcard db upgrade" in behind
    assert cli("db", "history").output.splitlines()[9].startswith("  0010")
    assert cli("db", "upgrade").exit_code == 0

    with temporary_store("sqlite", tmp_path, migrate=False) as store:
        _newer(store)
    for args in (["db", "upgrade"], ["db", "current"], ["app", "list"], ["staff", "list"], ["serve"]):
        refused = cli(*args)
        assert refused.exit_code == 1, (args, refused.output)
        lines = refused.output.strip().splitlines()
        assert len(lines) == 1 and "newer eportcard (revision 0999); upgrade eportcard" in lines[0], args
