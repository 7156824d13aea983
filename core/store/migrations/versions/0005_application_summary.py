"""Application list rows: a small ``summary`` JSON (agent and card holders) beside the columns.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

The staff queue and the application lists read the columns plus this summary instead of turning
every row's whole JSON aggregate into objects (most of a list request's time). Existing rows are
filled from their ``data`` here; later writes set it with every save (ApplicationRepo._columns).
A frozen snapshot: later changes go in new revisions, never here.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1_000


def summary_of(data: dict) -> str:
    agent = data.get("agent")
    return json.dumps({
        "agent": {"name": agent["name"], "id_number": agent["id_number"]} if agent else None,
        "holders": [{"kind": i["kind"], "name": i["holder"]["name"], "id_number": i["holder"]["id_number"]}
                    for i in data.get("items", [])],
    }, ensure_ascii=False)


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("summary", sa.Text(), nullable=True))
    table = sa.table("applications", sa.column("id", sa.String), sa.column("data", sa.Text),
                     sa.column("summary", sa.Text))
    conn = op.get_bind()
    last = ""
    while True:  # keyset batches: memory stays flat on large databases
        rows = conn.execute(sa.select(table.c.id, table.c.data).where(table.c.id > last)
                            .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(table.update().where(table.c.id == sa.bindparam("row_id")),
                     [{"row_id": r.id, "summary": summary_of(json.loads(r.data))} for r in rows])
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("summary")
