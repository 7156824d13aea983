"""Accounts of the web front (enterprise administrators and staff) and the SMS outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False, server_default=""),
        sa.Column("region", sa.String(32), nullable=False, server_default=""),
        sa.Column("roles", sa.Text, nullable=False, server_default=""),
        sa.Column("display_name", sa.Text, nullable=False, server_default=""),
        sa.Column("mobile", sa.String(20), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_failed_at", TS, nullable=True),
        sa.Column("locked_until", TS, nullable=True),
        sa.CheckConstraint("kind IN ('enterprise', 'staff')", name="ck_users_kind"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_index("ix_users_uscc", "users", ["uscc"])
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mobile", sa.String(20), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("purpose", sa.String(128), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_sms_outbox_purpose", "sms_outbox", ["purpose", "mobile"])


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_purpose", table_name="sms_outbox")
    op.drop_table("sms_outbox")
    op.drop_index("ix_users_uscc", table_name="users")
    op.drop_table("users")
