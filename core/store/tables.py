"""SQLAlchemy Core tables: the queries' view of the schema that migrations/ creates.

Each aggregate lives whole in ``data`` (JSON text made by ``core.convert.make_json_converter``);
the other columns are copies for filtering and indexing, always written from the aggregate.
JSON is stored as text on both backends, so what is hashed and compared is the same everywhere.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.store.types import UTCDateTime

metadata = MetaData()

enterprises = Table(
    "enterprises", metadata,
    Column("uscc", String(18), primary_key=True),
    Column("name", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

applications = Table(
    "applications", metadata,
    Column("id", String(64), primary_key=True),
    Column("enterprise_uscc", String(18), nullable=False),
    Column("enterprise_name", Text, nullable=False),
    Column("business", String(32), nullable=False),
    Column("region", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    Column("acceptance_no", String(64), nullable=True),
    Column("due", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("submitted_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("summary", Text, nullable=True),  # list-row JSON (agent, holders); NULL only on rows written before 0005
    Column("delivery", String(32), nullable=True),  # core.model.Delivery once completed (0013); NULL: not yet / to mail
    Column("search", Text, nullable=True),  # what staff search, trigram-indexed (0014; repos.search_text)
    UniqueConstraint("acceptance_no", name="uq_applications_acceptance_no"),
    Index("ix_applications_state_due", "state", "due"),
    Index("ix_applications_region_state_due", "region", "state", "due"),
    Index("ix_applications_queue", "region", "state", "due", "created_at", "id"),  # covers the staff queue
    Index("ix_applications_queue_order", "region", "due", "created_at", "id", "state"),  # ... over several states
    Index("ix_applications_enterprise", "enterprise_uscc"),
    Index("ix_applications_delivery", "region", "state", "delivery", "due", "created_at", "id"),  # clerk's queues
    # PostgreSQL: pg_trgm's GIN index on search (0014); SQLite has the FTS5 table application_search instead.
    Index("ix_applications_search", "search", postgresql_using="gin",
          postgresql_ops={"search": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
)

cards = Table(
    "cards", metadata,
    Column("id", String(64), primary_key=True),
    Column("enterprise_uscc", String(18), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("device_no", String(32), nullable=True),
    Column("certificate_serial", String(64), nullable=True),
    Column("not_after", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_cards_enterprise", "enterprise_uscc"),
    Index("ix_cards_device_no", "device_no"),
    Index("ix_cards_certificate_serial", "certificate_serial"),
    Index("ix_cards_expiry", "not_after", "state", "id", "certificate_serial"),  # the reminder scan (0012)
)

certificates = Table(
    "certificates", metadata,
    Column("serial", String(64), primary_key=True),
    Column("card_id", String(64), nullable=False),
    Column("enterprise_uscc", String(18), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("not_before", UTCDateTime, nullable=False),
    Column("not_after", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(32), nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("pem", Text, nullable=False),
    CheckConstraint("status IN ('good', 'hold', 'revoked')", name="ck_certificates_status"),
    Index("ix_certificates_status", "status"),
    Index("ix_certificates_card", "card_id"),
    Index("ix_certificates_revoked", "status", "revoked_at", "serial", "reason"),  # a CRL from the index (0014)
)

# Every CRL the CA published (0014): served as published, re-signed only when stale.
crls = Table(
    "crls", metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("this_update", UTCDateTime, nullable=False),
    Column("next_update", UTCDateTime, nullable=False),
    Column("entries", Integer, nullable=False),
    Column("mark", Integer, nullable=False),  # the certificate status counter it was built at
    Column("der", LargeBinary, nullable=False),
)

attachments = Table(
    "attachments", metadata,
    Column("id", String(64), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("owner_uscc", String(18), nullable=False),
    Column("application_id", String(64), nullable=True),
    Column("material", String(64), nullable=False),
    Column("filename", Text, nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Column("archived_at", UTCDateTime, nullable=True),  # in the blob store's archive area (0015)
    Column("released_at", UTCDateTime, nullable=True),  # its live copy removed (0015)
    Index("ix_attachments_application", "application_id"),
    Index("ix_attachments_sha256", "sha256"),
    Index("ix_attachments_archived", "archived_at"),
    Index("ix_attachments_released", "released_at", "archived_at"),
)

audit = Table(
    "audit", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # Names the audit key whose HMAC ``hash`` is (NULL: plain sha256, written before the deployment
    # had a key). See core/store/audit.py.
    Column("key_id", String(16)),
    Index("ix_audit_entity", "entity", "entity_id"),
)

# One row (id = 1): the last sequence number and hash, updated with every append, so that
# cutting rows off the end of the chain is noticed too.
audit_head = Table(
    "audit_head", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("key_id", String(16)),  # the last row's: appending without that key is refused
)

sequences = Table(
    "sequences", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)
