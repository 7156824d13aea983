"""Uploaded files: stored by content hash, archived 30 days after the application is submitted."""

from __future__ import annotations

from datetime import datetime

from attrs import frozen


@frozen
class Attachment:
    id: str
    sha256: str
    filename: str
    media_type: str  # detected from the content, not the name
    size: int
    uploaded_at: datetime
    owner_uscc: str
    application_id: str = ""
    material: str = ""
