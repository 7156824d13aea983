"""Staff queue over several states: an index in the queue's own order, the state last.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

0004's index (region, state, due, ...) gives the order only for one state. The default queue asks
for every open state at once, and PostgreSQL then read and sorted the whole branch (100,000 rows:
~50 ms a page). With (region, due, created_at, id, state) it walks the branch in queue order and
checks the state from the index, stopping after one page (~0.1 ms). A frozen snapshot: later
changes go in new revisions, never here.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_applications_queue_order", "applications", ["region", "due", "created_at", "id", "state"])


def downgrade() -> None:
    op.drop_index("ix_applications_queue_order", table_name="applications")
