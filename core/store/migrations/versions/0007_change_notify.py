"""PostgreSQL: notify listeners when the applications or users table changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

A statement trigger sends ``NOTIFY eportcard_changes`` with ``schema.table`` as payload; PostgreSQL
delivers it when the transaction commits (once per transaction and payload). Web processes listen
and so know when the replies they keep (staff queue, progress query) or the accounts they have
checked (a staff account disabled, its roles or password changed) may be out of date (see
core/store/changes.py). A trigger rather than application code, so that every writer counts: other
processes, the CLI, a migration or an administrator's SQL. SQLite needs nothing: its own
``PRAGMA data_version`` tells. A frozen snapshot: later changes go in new revisions, never here.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("applications", "users")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION eportcard_table_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('eportcard_changes', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
            RETURN NULL;
        END $$""")
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION eportcard_table_changed()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_changed ON {table}")
    op.execute("DROP FUNCTION eportcard_table_changed()")
