"""Attachments moved into the archive area.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

``attachments.archived_at``: when the attachment's content was put, compressed and checked, in the
blob store's archive area (``blob_dir/archive``) by the ``archive_attachments`` job, the configured
days (30) after its application was submitted (seed 001_56e603108c85a312.txt, 第六篇 综合查询,
小提示: "将在申请单提交之日起的30天后由系统归档留存。归档留存的证明材料不能被查看。").
``attachments.released_at``: when the live copy of that content was removed (once no live attachment
shares it). Both NULL: a live attachment, as every existing row is. ``ix_attachments_archived`` finds
the attachments still to archive; ``ix_attachments_released`` the archived ones whose live copy is
still to remove. A frozen snapshot: later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("archived_at", TS, nullable=True))
        batch.add_column(sa.Column("released_at", TS, nullable=True))
    op.create_index("ix_attachments_archived", "attachments", ["archived_at"])
    op.create_index("ix_attachments_released", "attachments", ["released_at", "archived_at"])


def downgrade() -> None:
    op.drop_index("ix_attachments_released", table_name="attachments")
    op.drop_index("ix_attachments_archived", table_name="attachments")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("released_at")
        batch.drop_column("archived_at")
