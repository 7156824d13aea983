"""The Store: an engine, its migrations, transactions with repositories, and the blob store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool

from core.config import redact_url
from core.errors import ConfigError
from core.store.audit import AuditLog, CannotVerify, Checkpoint, verify_chain
from core.store.blobs import BlobStore
from core.store.changes import ChangeWatch, watch_for
from core.store.records import AuditEntry, AuditReport, Migration
from core.store.repos import (
    ApplicationRepo,
    AttachmentRepo,
    CardRepo,
    CertificateRepo,
    CrlRepo,
    EnterpriseRepo,
    QuickReads,
    next_value,
)
from core.store.space import is_disk_full, storage_full
from core.store.tables import audit, audit_head

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
MIGRATION_LOCK_KEY = 0x45504F5254  # "EPORT"
PG_POOL_SIZE = 15  # PostgreSQL connections a process keeps (docs/deployment.md, Sizing: 16 with the listener)
# A pooled PostgreSQL connection idle longer than this is pinged before use (see _ping_when_idle).
IDLE_PING_SECONDS = 10.0


class Transaction:
    """One database transaction and the repositories working inside it."""

    def __init__(self, conn: Connection, audit_key: bytes | None = None) -> None:
        self.connection = conn
        self._audit_key = audit_key

    # Made on first use: most transactions touch one or two of them.
    @cached_property
    def enterprises(self) -> EnterpriseRepo:
        return EnterpriseRepo(self.connection)

    @cached_property
    def applications(self) -> ApplicationRepo:
        return ApplicationRepo(self.connection)

    @cached_property
    def cards(self) -> CardRepo:
        return CardRepo(self.connection)

    @cached_property
    def certificates(self) -> CertificateRepo:
        return CertificateRepo(self.connection)

    @cached_property
    def attachments(self) -> AttachmentRepo:
        return AttachmentRepo(self.connection)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.connection, self._audit_key)

    @cached_property
    def crls(self) -> CrlRepo:
        return CrlRepo(self.connection)

    def next_sequence(self, name: str) -> int:
        """The next value of a named counter, starting at 1; atomic under concurrent callers."""
        return next_value(self.connection, name)


class Store:
    def __init__(self, engine: Engine, blob_dir: Path, audit_key: bytes | None = None) -> None:
        self.engine = engine
        self._audit_key = audit_key  # None: the audit chain is not keyed (see core/store/audit.py)
        self.blobs = BlobStore(blob_dir)
        # Reads on PostgreSQL run in autocommit: under READ COMMITTED every statement takes its own
        # snapshot inside a transaction too, so BEGIN and COMMIT (two round trips) bought nothing.
        # SQLite keeps a deferred BEGIN: there it gives several reads one snapshot, and costs no trip.
        if engine.dialect.name == "postgresql":
            self._read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        else:
            self._read_engine = engine.execution_options(sqlite_begin="BEGIN")
        self._changes: ChangeWatch | None = None
        self._changes_lock = threading.Lock()
        self._revision_checked = False  # whether the schema is known to be one of ours (_check_revision)
        self._driver_errors = engine.dialect.loaded_dbapi.Error
        self.quick = QuickReads(engine.dialect, self.driver_rows, lambda: self.transaction(readonly=True))

    @property
    def changes(self) -> ChangeWatch:
        """Whether the applications or users table may have changed (made on first use: a PostgreSQL
        watch starts a listener thread; see core/store/changes.py)."""
        if self._changes is None:  # asked on every request: lock only to make it
            with self._changes_lock:
                if self._changes is None:
                    self._changes = watch_for(self.engine)
        return self._changes

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _alembic_config(self, conn: Connection) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (default: the newest). Running it again changes nothing.
        A database migrated by a newer eportcard is refused (ConfigError), not touched."""
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Several web workers may start at once: one migrates, the others then find head.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            self._check_revision(conn)
            if self.dialect == "postgresql":
                _repair_first_0007(conn)
            command.upgrade(self._alembic_config(conn), revision)

    def downgrade(self, revision: str = "base") -> None:
        with self.engine.begin() as conn:
            command.downgrade(self._alembic_config(conn), revision)

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        return _scripts().get_current_head()

    def migrations(self) -> list[Migration]:
        """Every migration this eportcard has, oldest first, and whether the database has it.
        A database migrated by a newer eportcard is refused (ConfigError)."""
        with self.engine.connect() as conn:
            current = self._check_revision(conn)
        scripts = _scripts()
        applied = {s.revision for s in scripts.iterate_revisions(current, "base")} if current else set()
        return [Migration(s.revision, (s.doc or "").strip().splitlines()[0] if s.doc else "", s.revision in applied)
                for s in reversed(list(scripts.walk_revisions()))]

    def _check_revision(self, conn: Connection) -> str | None:
        """The database's schema revision; a ConfigError when it is not one of ours: a newer eportcard
        migrated it, and this one would misread it (and Alembic answers with a long traceback)."""
        current = MigrationContext.configure(conn).get_current_revision()
        if current is not None and current not in _known_revisions():
            raise ConfigError(f"数据库已由更新版本的 eportcard 迁移（结构版本 {current}），本版本无法使用：请升级 eportcard",
                              f"the database was migrated by a newer eportcard (revision {current}); "
                              "upgrade eportcard", field="database")
        self._revision_checked = True
        return current

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Transaction]:
        """One database transaction: committed when the block ends, rolled back on any exception.

        On SQLite a writing transaction takes the write lock at BEGIN (BEGIN IMMEDIATE), so a
        read-then-write never fails half-way on a lock; ``readonly=True`` skips that (and then
        must not write). Do not open a second writing transaction inside one on the same thread:
        on SQLite it waits for the first, which waits for it.
        """
        try:
            with (self._read_engine if readonly else self.engine).connect() as conn, conn.begin():
                if not self._revision_checked:  # once per store: its first use
                    self._check_revision(conn)
                yield Transaction(conn, self._audit_key)
        except OperationalError as exc:
            if is_disk_full(exc):  # rolled back: a clear "storage full", not "busy"
                raise storage_full("database") from exc
            raise
        if not readonly and self._changes is not None:
            self._changes.bump()  # committed: this process's caches see it at once

    def driver_rows(self, sql: str, args: Any) -> list[Any]:
        """The rows of one read-only statement, run straight on a pooled driver connection.

        No SQLAlchemy Connection and no transaction of ours: a single statement reads one consistent
        snapshot by itself (on PostgreSQL it runs in autocommit, so no BEGIN and ROLLBACK round trips).
        A connection the database dropped is invalidated, so the pool replaces it, and the error raised.
        """
        pooled = self.engine.raw_connection()
        try:
            driver: Any = pooled.driver_connection
            postgres = self.dialect == "postgresql"
            cursor = pooled.cursor()
            try:
                if postgres:
                    driver.autocommit = True
                cursor.execute(sql, args)
                return list(cursor.fetchall())
            except self._driver_errors as exc:
                if self.engine.dialect.is_disconnect(exc, driver, cursor):
                    pooled.invalidate(exc)
                raise
            finally:
                if pooled.is_valid:
                    cursor.close()
                    if postgres:
                        driver.autocommit = False  # the pool's other users expect transactions
        finally:
            pooled.close()

    def audit_verify(self, checkpoints: Sequence[Checkpoint] = ()) -> AuditReport:
        """Recompute the audit chain: reports edited, inserted, deleted or cut-off rows, and rows
        missing that ``checkpoints`` (exported earlier) saw. Raises CannotVerify when the database
        cannot be read."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(sqlite_begin="BEGIN")
                conn.begin()
                self._check_revision(conn)
                head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).first()
                rows = conn.execution_options(yield_per=1000).execute(select(audit).order_by(audit.c.seq))
                return verify_chain(rows, head, self._audit_key, checkpoints)
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise CannotVerify(f"无法读取审计记录（{reason}）；数据库是否可达、是否已执行 eportcard db upgrade？",
                               f"cannot read the audit trail ({reason}): is the database reachable and "
                               "migrated (`eportcard db upgrade`)?") from None

    def audit_checkpoint(self, now: datetime) -> Checkpoint:
        """The head of the audit chain signed with the audit key, to keep outside the database."""
        if self._audit_key is None:
            raise ConfigError("未配置审计密钥，无法签发检查点：请恢复密钥文件，或执行 eportcard audit init-key",
                              "no audit key is configured, so no checkpoint can be signed: restore the key "
                              "file, or run `eportcard audit init-key`", field="audit.key_file")
        with self.transaction(readonly=True) as tx:
            head = tx.connection.execute(select(audit_head.c.seq, audit_head.c.hash)
                                         .where(audit_head.c.id == 1)).one()
        return Checkpoint.sign(head.seq, head.hash, now, self._audit_key)

    def start_keyed_audit(self, actor: str) -> AuditEntry | None:
        """Key the audit chain from now on (see AuditLog.start_keyed); None if nothing was needed."""
        with self.transaction() as tx:
            return tx.audit.start_keyed(actor)

    def dispose(self) -> None:
        if self._changes is not None:
            self._changes.close()
            self._changes = None
        self.engine.dispose()


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


@cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


def _repair_first_0007(conn: Connection) -> None:
    """A PostgreSQL database migrated by the first, rewritten 0007 lacks the function 0009's trigger
    calls: repair it (migration 0011's repair) before migrating on."""
    repair = _scripts().get_revision("0011").module
    if repair.has_first_0007(conn):
        repair.repair_change_notify(conn)


def _bad_url(url: str, zh: str, en: str) -> ConfigError:
    shown = redact_url(url)
    return ConfigError(f"数据库地址 {shown} {zh}：请使用 sqlite:///路径 或 postgresql+psycopg://用户@主机/库",
                       f"the database URL {shown} {en}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
                       field="database.url")


def _sqlite_events(engine: Engine) -> None:
    # pysqlite's own transaction handling is bypassed so BEGIN is ours (and can be IMMEDIATE).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        begin = conn.get_execution_options().get("sqlite_begin", "BEGIN IMMEDIATE")
        if begin == "BEGIN":  # a deferred BEGIN takes no lock and cannot fail: straight to the driver
            conn.connection.dbapi_connection.execute(begin)  # type: ignore[union-attr]
        else:
            conn.exec_driver_sql(begin)


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle longer than IDLE_PING_SECONDS.

    ``pool_pre_ping`` pinged on every checkout: a round trip per request. A connection used moments
    ago is almost always alive; one idle for a while may have been cut by a database restart or a
    firewall, so that one is pinged, and a dead one is replaced (DisconnectionError makes the pool
    retry with a fresh connection). If the database restarts while connections are busy, the
    statements then running fail once; SQLAlchemy then invalidates every older pooled connection,
    so the next requests connect afresh.
    """
    errors = engine.dialect.loaded_dbapi.Error

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_conn.rollback()
        except errors as exc:
            raise DisconnectionError("idle connection is gone") from exc


def open_store(url: str, blob_dir: Path, *, schema: str | None = None, echo: bool = False,
               audit_key: bytes | None = None) -> Store:
    """A store on ``url`` (``sqlite:///path/eportcard.db`` or ``postgresql+psycopg://…``).

    ``schema`` (PostgreSQL only) puts every table in that schema via ``search_path``; tests use it
    to give each test a clean database. ``audit_key`` keys the audit chain (see core/store/audit.py).
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # their messages show the whole URL, password and all
        raise _bad_url(url, "无法解析", "cannot be parsed") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    engine_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:  # one in-memory database shared by every use of the engine
            engine_args["poolclass"] = StaticPool
        connect_args["check_same_thread"] = False
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_MS / 1000
    elif parsed.get_backend_name() == "postgresql":
        # 15 connections kept, none made and dropped beyond them: SQLAlchemy's default (5 kept, 10 more that
        # are closed when returned) opened a PostgreSQL connection (a server process forked and
        # authenticated) for every burst past 5, and 16 clients logging in spent the machine doing that
        # (bench_web: the kept progress read's p99 9 -> 200 ms). A 16th checkout waits for one to come back.
        engine_args.update(pool_size=PG_POOL_SIZE, max_overflow=0)
        # connect_args replace the URL's own ``?options=`` (e.g. a search_path): keep them, then add ours.
        options = [str(parsed.query.get("options", ""))]
        if schema is not None:
            options.append(f"-c search_path={schema}")
        # Store and compare datetimes in UTC whatever the server's default time zone is.
        options.append("-c timezone=UTC")
        connect_args["options"] = " ".join(o for o in options if o)
    else:
        raise _bad_url(url, "不受支持", "is not supported")
    try:
        # hide_parameters: a database error's message (logged with its traceback) names the statement
        # but not its values, which may be password hashes, session ids or code hashes.
        engine = create_engine(parsed, connect_args=connect_args, echo=echo, hide_parameters=True, **engine_args)
    except NoSuchModuleError:  # a misspelt driver, e.g. postgresql+psycog://
        raise _bad_url(url, "的驱动不受支持", "names a driver that is not supported") from None
    if parsed.get_backend_name() == "sqlite":
        _sqlite_events(engine)  # a local file: nothing to ping
    else:
        _ping_when_idle(engine)
    return Store(engine, Path(blob_dir), audit_key)
