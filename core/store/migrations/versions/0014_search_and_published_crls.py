"""Indexed staff search, published CRLs, the CRL's covering index, change notices for certificates.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

``applications.search``: what staff type to find an application, lowercased, each field between
``|`` (application id, acceptance number, USCC, enterprise name, agent and card holders' names).
It is indexed by trigrams: on SQLite an FTS5 table ``application_search`` with the ``trigram``
tokenizer, kept in step by triggers (SQLite docs, "FTS5", §4.3.5 "The Trigram Tokenizer"); on
PostgreSQL a GIN index with ``pg_trgm``'s ``gin_trgm_ops`` (PostgreSQL docs, F.35 "pg_trgm", §F.35.4
"Index Support": LIKE with at least one trigram). Existing rows are filled here.
``crls``: every CRL the CA published (number, validity, the DER), served as published instead of
signed per download; ``mark`` is the certificate status counter it was built at (a change since makes
it stale). ``ix_certificates_revoked``: the CRL's entries read from the index alone. On PostgreSQL,
``certificates`` and ``crls`` notify ``eportcard_changes`` like ``applications`` (migration 0007), so
every web process learns of a revocation or a new CRL at once. A frozen snapshot: later changes go in
new revisions, never here.
"""

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BATCH = 1_000
TS = sa.DateTime(timezone=True)
NOTIFY_TABLES = ("certificates", "crls")
_SPACE = re.compile(r"\s+")


def _field(text: str) -> str:
    return _SPACE.sub(" ", text.replace("|", " ")).strip().lower()


def search_text(row_id: str, acceptance_no: str | None, uscc: str, name: str, data: dict) -> str:
    people = [data["agent"]["name"]] if data.get("agent") else []
    people += [item["holder"]["name"] for item in data.get("items", [])]
    fields = [row_id, acceptance_no or "", uscc, name, *dict.fromkeys(people)]
    return "|" + "|".join(f for f in map(_field, fields) if f) + "|"


def _fill_search(conn: sa.Connection) -> None:
    table = sa.table("applications", sa.column("id", sa.String), sa.column("acceptance_no", sa.String),
                     sa.column("enterprise_uscc", sa.String), sa.column("enterprise_name", sa.Text),
                     sa.column("data", sa.Text), sa.column("search", sa.Text))
    last = ""
    while True:  # keyset batches: memory stays flat on large databases
        rows = conn.execute(sa.select(table.c.id, table.c.acceptance_no, table.c.enterprise_uscc,
                                      table.c.enterprise_name, table.c.data)
                            .where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(table.update().where(table.c.id == sa.bindparam("row_id")),
                     [{"row_id": r.id, "search": search_text(r.id, r.acceptance_no, r.enterprise_uscc,
                                                             r.enterprise_name, json.loads(r.data))}
                      for r in rows])
        last = rows[-1].id


SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE application_search USING fts5(search, tokenize = 'trigram')",
    "INSERT INTO application_search (rowid, search) SELECT rowid, search FROM applications",
    """CREATE TRIGGER application_search_insert AFTER INSERT ON applications BEGIN
           INSERT INTO application_search (rowid, search) VALUES (new.rowid, new.search);
       END""",
    """CREATE TRIGGER application_search_update AFTER UPDATE OF search ON applications
       WHEN old.search IS NOT new.search BEGIN
           UPDATE application_search SET search = new.search WHERE rowid = old.rowid;
       END""",
    """CREATE TRIGGER application_search_delete AFTER DELETE ON applications BEGIN
           DELETE FROM application_search WHERE rowid = old.rowid;
       END""",
)


def _trigram_schema(conn: sa.Connection) -> str:
    """The schema pg_trgm is in, installing it (in ``public`` when there is one) if need be: one per
    database, so every eportcard schema of the database shares it."""
    found = conn.execute(sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                 "WHERE extname = 'pg_trgm'")).scalar()
    if found:
        return str(found)
    public = conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'public'")).scalar()
    target = "public" if public else str(conn.execute(sa.text("SELECT current_schema()")).scalar())
    try:
        with conn.begin_nested():
            conn.execute(sa.text(f'CREATE EXTENSION pg_trgm SCHEMA "{target}"'))
    except sa.exc.DBAPIError as exc:
        raise RuntimeError(
            "无法安装 PostgreSQL 扩展 pg_trgm（申请单检索的索引需要它）：请由数据库所有者或超级用户执行 "
            f"CREATE EXTENSION pg_trgm; / cannot install the PostgreSQL extension pg_trgm (the application "
            f"search index needs it): have the database owner or a superuser run CREATE EXTENSION pg_trgm; "
            f"({str(exc.orig).strip().splitlines()[0] if exc.orig else exc})") from None
    return target


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("search", sa.Text(), nullable=True))
    _fill_search(conn)
    if conn.dialect.name == "postgresql":
        schema = _trigram_schema(conn)
        op.execute(f'CREATE INDEX ix_applications_search ON applications USING gin (search "{schema}".gin_trgm_ops)')
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)
    op.create_table(
        "crls",
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("this_update", TS, nullable=False),
        sa.Column("next_update", TS, nullable=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("mark", sa.Integer, nullable=False),
        sa.Column("der", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_certificates_revoked", "certificates", ["status", "revoked_at", "serial", "reason"])
    if conn.dialect.name == "postgresql":
        for table in NOTIFY_TABLES:
            op.execute(f"""
                CREATE TRIGGER {table}_changed
                AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION eportcard_table_changed()""")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for table in NOTIFY_TABLES:
            op.execute(f"DROP TRIGGER {table}_changed ON {table}")
    op.drop_index("ix_certificates_revoked", "certificates")
    op.drop_table("crls")
    if conn.dialect.name == "postgresql":
        op.drop_index("ix_applications_search", "applications")  # pg_trgm stays: other schemas may use it
    else:
        for name in ("application_search_insert", "application_search_update", "application_search_delete"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE application_search")
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("search")
