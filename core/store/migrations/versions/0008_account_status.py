"""Accounts that can be disabled, and whose sessions end when they change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

``disabled``: the account may not log in, and its sessions end. ``session_epoch``: sessions record
it at login; disabling, a new password or other roles raise it, so every session issued before
stops working at its next request. A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_epoch")
        batch.drop_column("disabled")
