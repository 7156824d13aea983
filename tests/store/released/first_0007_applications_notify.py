# Migration 0007 as first released (commit d002ae6), before it was rewritten in place (7168459).
# Kept verbatim so tests can build a database the way that release did; see 0011_one_history.py.
"""PostgreSQL: notify listeners when the applications table changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

A statement trigger sends ``NOTIFY eportcard_applications`` with the table's schema; PostgreSQL
delivers it when the transaction commits (once per transaction and schema). Web processes listen
and so know when the staff queue and progress replies they cache may be out of date (see
core/store/changes.py). A trigger rather than application code, so that every writer counts:
other processes, the CLI, a migration or an administrator's SQL. SQLite needs nothing: its own
``PRAGMA data_version`` tells. A frozen snapshot: later changes go in new revisions, never here.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION eportcard_applications_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('eportcard_applications', TG_TABLE_SCHEMA);
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER applications_changed
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON applications
        FOR EACH STATEMENT EXECUTE FUNCTION eportcard_applications_changed()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER applications_changed ON applications")
    op.execute("DROP FUNCTION eportcard_applications_changed()")
