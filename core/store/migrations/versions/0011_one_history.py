"""One schema whichever released 0007 a database ran.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

A released revision was rewritten after release (none may be again:
tests/store/test_store_migration_history.py checksums every released revision):
0007, first released as "applications_notify": its trigger ``applications_changed`` called
  ``eportcard_applications_changed()``, which notifies the channel ``eportcard_applications`` that no
process listens to any more, and there was no ``users_changed`` trigger. On such a database the web
processes never learnt that an application or an account had changed (stale ``/api/progress``; a
disabled account kept working in another process). :func:`repair_change_notify` makes what the
current 0007 makes. ``Store.upgrade`` also runs it before 0009 on such a database, whose trigger
calls the current 0007's function.

On a database migrated by the current revisions this changes nothing but re-creating the same
function and triggers. A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NOTIFY_TABLES = ("applications", "users")
FIRST_0007_FUNCTION = "eportcard_applications_changed"


def repair_change_notify(conn: sa.Connection) -> None:
    """PostgreSQL: the current 0007's function and triggers, and none of the first 0007's."""
    conn.execute(sa.text("""
        CREATE OR REPLACE FUNCTION eportcard_table_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('eportcard_changes', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
            RETURN NULL;
        END $$"""))
    for table in NOTIFY_TABLES:
        conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}"))
        conn.execute(sa.text(f"""
            CREATE TRIGGER {table}_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION eportcard_table_changed()"""))
    conn.execute(sa.text(f"DROP FUNCTION IF EXISTS {FIRST_0007_FUNCTION}()"))


def has_first_0007(conn: sa.Connection) -> bool:
    """Whether this PostgreSQL database (its current schema) was migrated by the first 0007."""
    found = conn.execute(sa.text("SELECT to_regproc(:name)"), {"name": FIRST_0007_FUNCTION}).scalar()
    return found is not None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        repair_change_notify(bind)


def downgrade() -> None:
    # 0010 as the current revisions make it is this same schema; the first 0007's is not brought back.
    pass
