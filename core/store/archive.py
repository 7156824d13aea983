"""The attachments' archive state (migration 0015): which are due to go into the archive area, which are
there, and which still have a live copy to remove. Built from an open transaction: ``Archive(tx)``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from attrs import frozen
from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased

from core.store.tables import applications, attachments

if TYPE_CHECKING:
    from core.store.store import Transaction


@frozen
class DueAttachment:
    id: str
    sha256: str
    application_id: str
    size: int


class Archive:
    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def due(self, submitted_before: datetime, limit: int, after: str = "") -> list[DueAttachment]:
        """Attachments not archived yet of applications submitted at or before ``submitted_before``, by id
        from after ``after`` (keyset pages: one that could not be archived is not read again in a run)."""
        rows = self._conn.execute(
            select(attachments.c.id, attachments.c.sha256, attachments.c.application_id, attachments.c.size)
            .join(applications, applications.c.id == attachments.c.application_id)
            .where(attachments.c.archived_at.is_(None), applications.c.submitted_at <= submitted_before,
                   attachments.c.id > after)
            .order_by(attachments.c.id).limit(limit))
        return [DueAttachment(r.id, r.sha256, r.application_id or "", r.size) for r in rows]

    def mark_archived(self, att_id: str, now: datetime) -> bool:
        """Record that the attachment's content is in the archive area; False if it was recorded already."""
        done = self._conn.execute(update(attachments).where(attachments.c.id == att_id,
                                                            attachments.c.archived_at.is_(None))
                                  .values(archived_at=now))
        return done.rowcount == 1

    def releasable(self, limit: int, after: str = "") -> list[str]:
        """Contents whose live copy may go: archived attachments hold them, with the live copy not yet removed,
        and no attachment still live shares them (by hash from after ``after``)."""
        live = aliased(attachments)
        shared = exists().where(live.c.sha256 == attachments.c.sha256, live.c.archived_at.is_(None))
        return list(self._conn.execute(
            select(attachments.c.sha256).distinct()
            .where(attachments.c.released_at.is_(None), attachments.c.archived_at.is_not(None),
                   attachments.c.sha256 > after, ~shared)
            .order_by(attachments.c.sha256).limit(limit)).scalars())

    def mark_released(self, sha256: str, now: datetime) -> int:
        """Record that the live copy of ``sha256`` is gone, on every archived attachment holding it."""
        return self._conn.execute(update(attachments).where(attachments.c.sha256 == sha256,
                                                            attachments.c.archived_at.is_not(None),
                                                            attachments.c.released_at.is_(None))
                                  .values(released_at=now)).rowcount

    def archived_at(self, att_id: str) -> datetime | None:
        return self._conn.execute(select(attachments.c.archived_at).where(attachments.c.id == att_id)).scalar()

    def live_hashes(self) -> list[str]:
        """The contents whose live copy attachments expect (every one not released), each once, sorted."""
        return list(self._conn.execute(select(attachments.c.sha256).distinct()
                                       .where(attachments.c.released_at.is_(None)).order_by(attachments.c.sha256))
                    .scalars())

    def archived_hashes(self) -> list[str]:
        """The contents the archive area holds for archived attachments, each once, sorted."""
        return list(self._conn.execute(select(attachments.c.sha256).distinct()
                                       .where(attachments.c.archived_at.is_not(None))
                                       .order_by(attachments.c.sha256)).scalars())

    def archived_of(self, app_id: str) -> dict[str, datetime]:
        """The archived attachments of an application: id -> when."""
        return dict(self._conn.execute(select(attachments.c.id, attachments.c.archived_at)
                                       .where(attachments.c.application_id == app_id,
                                              attachments.c.archived_at.is_not(None))).all())


__all__ = ["Archive", "DueAttachment"]
