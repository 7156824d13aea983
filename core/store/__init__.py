"""Persistence: SQLAlchemy Core tables, repositories, Alembic migrations, audit trail, blob store.

    store = open_store("sqlite:///eportcard.db", blob_dir)
    store.upgrade()
    with store.transaction() as tx:
        app = tx.applications.get(app_id)
        tx.applications.update(transition(app))   # ConflictError if someone got there first
        tx.audit.append(actor, "accept", "application", app.id, {...})
"""

from core.store.audit import GENESIS_HASH, AuditLog
from core.store.blobs import BlobStore, check_upload, is_archived, sniff_media_type
from core.store.records import AuditEntry, AuditReport, CertificateRecord, CertStatus
from core.store.store import Store, Transaction, open_store

__all__ = [
    "GENESIS_HASH", "AuditEntry", "AuditLog", "AuditReport", "BlobStore", "CertStatus",
    "CertificateRecord", "Store", "Transaction", "check_upload", "is_archived", "open_store",
    "sniff_media_type",
]
