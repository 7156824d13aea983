"""A keyed audit chain: each row names the key whose HMAC its hash is.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

``audit.key_id``: NULL for rows hashed with plain sha256 (every row written before this revision, and
rows of a deployment without an audit key); otherwise a short name of the key (not the key) whose
HMAC-SHA256 the row's hash is. ``audit_head.key_id``: the last row's, so that a process without
that key refuses to append rather than continue the chain unkeyed. Plain ADD COLUMN (no table copy on
SQLite), so the append-only triggers of 0001 stay in place. A frozen snapshot: later changes go in
new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit", sa.Column("key_id", sa.String(16), nullable=True))
    op.add_column("audit_head", sa.Column("key_id", sa.String(16), nullable=True))


def downgrade() -> None:
    # Keyed rows then no longer verify (their hash is an HMAC): a downgrade is for development only.
    op.drop_column("audit_head", "key_id")
    op.drop_column("audit", "key_id")
