"""Notifications (outbox, the enterprise's choice, reminders sent), scheduled jobs, the expiry index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

``notify_messages``: every SMS and e-mail to send, kept until sent or given up (``dead``), so a
gateway that is down loses nothing; ``idem_key`` is unique, so an event or a reminder queued twice
is one message. ``notify_settings``: per enterprise, SMS, e-mail or both, and where to.
``card_reminders``: one row per card, certificate and reminder point sent (90, 30, 7 days ...).
``jobs``: one row per scheduled job: its lease (who runs it, until when), next run, last outcome.
``ix_cards_expiry``: the reminder scan's range query on a certificate's end. A frozen snapshot:
later changes go in new revisions, never here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notify_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idem_key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("uscc", sa.String(18), nullable=False, server_default=""),
        sa.Column("region", sa.String(32), nullable=False, server_default=""),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("language", sa.String(8), nullable=False, server_default="zh"),
        sa.Column("subject", sa.Text, nullable=False, server_default=""),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False, server_default="[]"),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("gateway", sa.String(32), nullable=False, server_default=""),
        sa.Column("provider_ref", sa.String(128), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.CheckConstraint("channel IN ('sms', 'mail')", name="ck_notify_messages_channel"),
        sa.CheckConstraint("state IN ('pending', 'sent', 'dead')", name="ck_notify_messages_state"),
        sa.UniqueConstraint("idem_key", name="uq_notify_messages_idem_key"),
    )
    op.create_index("ix_notify_messages_due", "notify_messages", ["state", "next_attempt_at"])
    op.create_index("ix_notify_messages_uscc", "notify_messages", ["uscc"])
    op.create_table(
        "notify_settings",
        sa.Column("uscc", sa.String(18), primary_key=True),
        sa.Column("channels", sa.String(8), nullable=False),
        sa.Column("mobile", sa.String(32), nullable=False, server_default=""),
        sa.Column("email", sa.String(254), nullable=False, server_default=""),
        sa.Column("sms_language", sa.String(8), nullable=False, server_default="zh"),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("channels IN ('sms', 'mail', 'both')", name="ck_notify_settings_channels"),
    )
    op.create_table(
        "card_reminders",
        sa.Column("card_id", sa.String(64), primary_key=True),
        sa.Column("serial", sa.String(64), primary_key=True),
        sa.Column("days", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sent_at", TS, nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("lease_owner", sa.String(128), nullable=False, server_default=""),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("next_run_at", TS, nullable=False),
        sa.Column("last_started_at", TS, nullable=True),
        sa.Column("last_finished_at", TS, nullable=True),
        sa.Column("last_result", sa.String(16), nullable=False, server_default=""),
        sa.Column("last_summary", sa.Text, nullable=False, server_default=""),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
    )
    # Covering the scan's columns: the reminder points' range and the check against card_reminders read
    # the index alone (an index-only scan); only the cards still to remind are fetched from the table.
    op.create_index("ix_cards_expiry", "cards", ["not_after", "state", "id", "certificate_serial"])


def downgrade() -> None:
    op.drop_index("ix_cards_expiry", "cards")
    op.drop_table("jobs")
    op.drop_table("card_reminders")
    op.drop_table("notify_settings")
    op.drop_index("ix_notify_messages_uscc", "notify_messages")
    op.drop_index("ix_notify_messages_due", "notify_messages")
    op.drop_table("notify_messages")
