"""Delivery as a column, and the enterprise administrator's ID number and e-mail.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

``applications.delivery``: where a completed application's cards are (awaiting pickup, shipped,
delivered, returned, handed over; NULL before completion and for mail not yet sent). The counter
clerk's queues (to hand over, to mail, shipped) filter on it, with an index in the queue's order;
existing rows are filled from their ``data``. ``users.id_number`` and ``users.email``: what the
national system asks of an enterprise administrator at registration. A frozen snapshot: later
changes go in new revisions, never here.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 1_000


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("delivery", sa.String(32), nullable=True))
    table = sa.table("applications", sa.column("id", sa.String), sa.column("state", sa.String),
                     sa.column("data", sa.Text), sa.column("delivery", sa.String))
    conn = op.get_bind()
    last = ""
    while True:  # keyset batches over the completed rows only: the others have no delivery yet
        rows = conn.execute(sa.select(table.c.id, table.c.data)
                            .where(table.c.id > last, table.c.state == "completed")
                            .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            break
        changed = [{"row_id": r.id, "delivery": json.loads(r.data).get("delivery")} for r in rows]
        changed = [c for c in changed if c["delivery"]]
        if changed:
            conn.execute(table.update().where(table.c.id == sa.bindparam("row_id")), changed)
        last = rows[-1].id
    op.create_index("ix_applications_delivery", "applications",
                    ["region", "state", "delivery", "due", "created_at", "id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("id_number", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("email", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
        batch.drop_column("id_number")
    op.drop_index("ix_applications_delivery", table_name="applications")
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("delivery")
