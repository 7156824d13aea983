"""Card challenges: single-use server nonces and release grants for legal-card authorisations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "card_challenges",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("card_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("action", sa.String(32), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.CheckConstraint("purpose IN ('challenge', 'grant')", name="ck_card_challenges_purpose"),
    )
    op.create_index("ix_card_challenges_expires", "card_challenges", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_card_challenges_expires", table_name="card_challenges")
    op.drop_table("card_challenges")
