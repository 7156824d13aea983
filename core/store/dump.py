"""A database's rows as files and back, in one consistent snapshot: the database part of a backup.

``snapshot`` copies the database while the server runs and writes every table's rows as JSON Lines:

* SQLite through its online backup API (``sqlite3.Connection.backup``, Python docs "sqlite3"), which
  copies the pages of one read transaction while writers carry on (WAL); the rows are then read from
  that copy, so they are the copy's own snapshot;
* PostgreSQL through ``pg_dump`` (custom format) on a snapshot exported by a REPEATABLE READ
  transaction (``pg_export_snapshot()``, PostgreSQL docs §9.27.5 "Snapshot Synchronization Functions";
  ``pg_dump --snapshot``), while that same transaction reads the rows: the dump and the rows are one
  and the same moment of the database.

The rows are what a restore loads (``load_rows``), into SQLite or PostgreSQL alike, after the target
was migrated to the archive's schema revision; the native copy (``sqlite.db``, ``postgres.dump``) is for
recovery with the database's own tools. Every table is read by reflection, so a table or column added by
a later migration is carried without a change here.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from attrs import frozen
from sqlalchemy import (
    Connection,
    Integer,
    MetaData,
    Table,
    create_engine,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import URL

from core.errors import ConfigError, InvalidInput
from core.store.store import Store

ROWS_FORMAT = "eportcard-rows/1"
SQLITE_COPY = "sqlite.db"
POSTGRES_DUMP = "postgres.dump"
NOT_DATA = frozenset({"alembic_version"})  # made by the migrations themselves
BATCH = 500


@frozen
class AuditHead:
    seq: int
    hash: str
    key_id: str | None


@frozen
class DatabaseSnapshot:
    backend: str  # "sqlite" | "postgresql"
    revision: str | None
    native: Path  # the SQLite copy or the pg_dump file
    rows: dict[str, Path]  # table -> its JSON Lines file
    counts: dict[str, int]
    audit_head: AuditHead | None
    attachment_blobs: tuple[str, ...]  # the SHA-256 of every attachment whose live copy the snapshot expects
    archived_blobs: tuple[str, ...] = ()  # ... and of every one in the archive area (migration 0015)


# ---- values as JSON -------------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):  # naive ones come from SQLite, which stores UTC (core.store.types)
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return {"dt": aware.astimezone(UTC).isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, bytes | memoryview):
        return {"b": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decoder(dialect: str) -> Any:
    def decode(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        if "dt" in value:
            moment = datetime.fromisoformat(value["dt"])
            return moment.replace(tzinfo=None) if dialect == "sqlite" else moment  # as UTCDateTime binds it
        if "d" in value:
            return date.fromisoformat(value["d"])
        return base64.b64decode(value["b"])

    return decode


# ---- reading --------------------------------------------------------------------------------------------------


def _data_tables(conn: Connection) -> list[Table]:
    metadata = MetaData()
    metadata.reflect(conn)
    return [t for t in metadata.sorted_tables if t.name not in NOT_DATA | _derived_tables(conn)]


def _derived_tables(conn: Connection) -> frozenset[str]:
    """SQLite's virtual tables and their shadow tables (the search index of migration 0014): triggers
    fill them from the rows loaded, so they are not data (``PRAGMA table_list``, SQLite 3.37+)."""
    if conn.dialect.name != "sqlite":
        return frozenset()
    return frozenset(row[1] for row in conn.exec_driver_sql("PRAGMA table_list") if row[2] in ("virtual", "shadow"))


def _write_rows(conn: Connection, table: Table, out: IO[str]) -> int:
    columns = [c.name for c in table.columns]
    out.write(json.dumps({"format": ROWS_FORMAT, "table": table.name, "columns": columns}) + "\n")
    order = list(table.primary_key.columns) or list(table.columns)
    count = 0
    for row in conn.execution_options(yield_per=BATCH).execute(select(table).order_by(*order)):
        out.write(json.dumps([_encode(v) for v in row], ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def _read_snapshot(conn: Connection, folder: Path, backend: str, native: Path) -> DatabaseSnapshot:
    tables = _data_tables(conn)
    names = {t.name for t in tables}
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar() \
        if inspect(conn).has_table("alembic_version") else None
    rows: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for table in tables:
        path = folder / f"{table.name}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            counts[table.name] = _write_rows(conn, table, out)
        rows[table.name] = path
    head = None
    if "audit_head" in names:
        found = conn.execute(text("SELECT * FROM audit_head WHERE id = 1")).mappings().first()
        if found is not None:
            head = AuditHead(int(found["seq"]), str(found["hash"]), found.get("key_id"))
    blobs: tuple[str, ...] = ()
    archived: tuple[str, ...] = ()
    if "attachments" in names:
        columns = {c["name"] for c in inspect(conn).get_columns("attachments")}
        live = "WHERE released_at IS NULL " if "released_at" in columns else ""
        blobs = tuple(conn.execute(text(f"SELECT DISTINCT sha256 FROM attachments {live}ORDER BY sha256")).scalars())
        if "archived_at" in columns:
            archived = tuple(conn.execute(text("SELECT DISTINCT sha256 FROM attachments "
                                               "WHERE archived_at IS NOT NULL ORDER BY sha256")).scalars())
    return DatabaseSnapshot(backend, revision, native, rows, counts, head, blobs, archived)


def snapshot(store: Store, folder: Path) -> DatabaseSnapshot:
    """Copy the database and write its rows into ``folder`` (which must exist), all of one moment."""
    if store.dialect == "sqlite":
        return _sqlite_snapshot(store, folder)
    return _postgres_snapshot(store, folder)


def _sqlite_snapshot(store: Store, folder: Path) -> DatabaseSnapshot:
    copy = folder / SQLITE_COPY
    pooled = store.engine.raw_connection()
    try:
        target = sqlite3.connect(copy)
        try:
            pooled.driver_connection.backup(target)  # type: ignore[union-attr]
        finally:
            target.close()
    finally:
        pooled.close()
    engine = create_engine(URL.create("sqlite", database=str(copy)))
    try:
        with engine.connect() as conn:
            return _read_snapshot(conn, folder, "sqlite", copy)
    finally:
        engine.dispose()


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program (pg_dump, pg_restore): Debian's postgresql-client."""
    found = shutil.which(name)
    if found is None:
        raise ConfigError(f"找不到 {name}：请安装 PostgreSQL 客户端（Debian：apt-get install postgresql-client）",
                          f"{name} was not found: install the PostgreSQL client programs (Debian: "
                          "apt-get install postgresql-client)", field="database")
    return found


def _conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for ``url`` (without its password) and the environment with the password
    (PGPASSWORD: never on a command line, where other users of the machine could read it)."""
    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = {"host": url.host, "port": str(url.port) if url.port else None, "user": url.username,
             "dbname": url.database}
    for key, value in url.query.items():  # sslmode and friends; "options" carries the search_path
        if isinstance(value, str):
            parts[key] = value
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return " ".join(f"{k}={quoted(v)}" for k, v in parts.items() if v), env


def _postgres_snapshot(store: Store, folder: Path) -> DatabaseSnapshot:
    dump = folder / POSTGRES_DUMP
    pg_dump = pg_tool("pg_dump")
    conninfo, env = _conninfo(store.engine.url)
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            exported = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            done = subprocess.run(
                [pg_dump, "--format=custom", "--no-owner", "--no-privileges", "--no-sync",
                 f"--snapshot={exported}", f"--schema={schema}", f"--file={dump}", f"--dbname={conninfo}"],
                env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1]
                raise ConfigError(f"pg_dump 失败：{reason}", f"pg_dump failed: {reason}", field="database")
            return _read_snapshot(conn, folder, "postgresql", dump)


# ---- writing --------------------------------------------------------------------------------------------------


def _rows_of(path: Path) -> tuple[dict[str, Any], Iterator[list[Any]]]:
    handle = path.open(encoding="utf-8")
    header = json.loads(handle.readline() or "{}")
    if header.get("format") != ROWS_FORMAT:
        handle.close()
        raise InvalidInput(f"{path.name} 不是 eportcard 的数据行文件", f"{path.name} is not an eportcard rows file",
                           field="archive")

    def rows() -> Iterator[list[Any]]:
        with handle:
            for line in handle:
                yield json.loads(line)

    return header, rows()


def data_counts(store: Store) -> dict[str, int]:
    """Rows per table that hold data (an audit head past row 0 counts as one); empty tables left out."""
    with store.engine.connect() as conn:
        found: dict[str, int] = {}
        for table in _data_tables(conn):
            if table.name == "audit_head":
                rows = conn.execute(text("SELECT count(*) FROM audit_head WHERE seq > 0")).scalar_one()
            else:
                rows = conn.execute(select(func.count()).select_from(table)).scalar_one()
            if rows:
                found[table.name] = int(rows)
        return found


def load_rows(store: Store, rows: dict[str, Path]) -> dict[str, int]:
    """Insert the rows of every table file into the store's (empty, migrated) tables, in one transaction.

    The migrations' own rows (the audit head at row 0) are replaced; on PostgreSQL each serial column's
    sequence then continues after the highest id loaded."""
    loaded: dict[str, int] = {}
    decode = _decoder(store.dialect)
    with store.engine.begin() as conn:
        tables = {t.name: t for t in _data_tables(conn)}
        unknown = sorted(set(rows) - set(tables))
        if unknown:
            raise InvalidInput(f"备份中的表 {', '.join(unknown)} 在目标数据库的结构中不存在",
                               f"the backup's tables {', '.join(unknown)} are not in the target's schema",
                               field="archive")
        for name, table in tables.items():  # dependency order
            if name not in rows:
                continue
            header, values = _rows_of(rows[name])
            columns = header["columns"]
            missing = [c for c in columns if c not in table.c]
            if missing:
                raise InvalidInput(f"表 {name} 的列 {', '.join(missing)} 在目标数据库中不存在",
                                   f"table {name}: the columns {', '.join(missing)} are not in the target",
                                   field="archive")
            conn.execute(table.delete())  # a migration's seed rows (audit_head); the audit table is empty
            loaded[name] = _insert_all(conn, table, columns, values, decode)
        if store.dialect == "postgresql":
            _continue_sequences(conn, tables.values())
    return loaded


def _insert_all(conn: Connection, table: Table, columns: list[str], values: Iterator[list[Any]],
                decode: Any) -> int:
    count = 0
    batch: list[dict[str, Any]] = []
    for row in values:
        batch.append({c: decode(v) for c, v in zip(columns, row, strict=True)})
        if len(batch) == BATCH:
            conn.execute(insert(table), batch)
            count, batch = count + len(batch), []
    if batch:
        conn.execute(insert(table), batch)
        count += len(batch)
    return count


def _continue_sequences(conn: Connection, tables: Any) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                    {"t": table.name, "c": column.name}).scalar()
            if sequence:
                top = conn.execute(select(func.max(column))).scalar()
                conn.execute(text("SELECT setval(:s, :v, :called)"),
                             {"s": sequence, "v": top or 1, "called": top is not None})


__all__ = ["NOT_DATA", "POSTGRES_DUMP", "SQLITE_COPY", "AuditHead", "DatabaseSnapshot", "data_counts",
           "load_rows", "pg_tool", "snapshot"]
