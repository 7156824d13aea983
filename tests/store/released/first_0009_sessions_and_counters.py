# Migration 0009 as first released (commit 1e9bcce), before it was rewritten in place (cf50eb8).
# Kept verbatim so tests can build a database the way that release did; see 0011_one_history.py.
"""Server-side web sessions and shared rate counters.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

``web_sessions``: one row per login. The signed cookie names its row; a session stands only while
its row does and has not ended (logout, "log out everywhere", an account change), so a replayed or
forged cookie is refused by every process. ``rate_counters``: attempts per key (login per address and
per username, SMS per number, account and address) counted in one place that every process shares,
updated under a row lock so parallel requests cannot overshoot a limit. On PostgreSQL the sessions
table notifies listeners like the tables of 0007 (the function comes from there). A frozen
snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),  # sha256 of the cookie's session id
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),  # "account" | "card" (a card identity)
        sa.Column("address", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
    )
    op.create_index("ix_web_sessions_user", "web_sessions", ["user_id"])
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("hits", sa.Integer, nullable=False, server_default="0"),
        sa.Column("blocked_until", TS, nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE TRIGGER web_sessions_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON web_sessions
            FOR EACH STATEMENT EXECUTE FUNCTION eportcard_table_changed()""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER web_sessions_changed ON web_sessions")
    op.drop_table("rate_counters")
    op.drop_index("ix_web_sessions_user", "web_sessions")
    op.drop_table("web_sessions")
