"""Staff queue index: region, state, due, created_at, id cover the queue's filter and order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

With it the queue's page of ids is read from the index alone (no sort over the JSON rows), and only
that page's rows are loaded (ApplicationRepo.find). A frozen snapshot: later changes go in new revisions.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_applications_queue", "applications", ["region", "state", "due", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_applications_queue", table_name="applications")
