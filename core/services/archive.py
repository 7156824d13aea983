"""Attachment archiving: the ``archive_attachments`` job, and taking one archived file out on purpose.

The rule (seed 001_56e603108c85a312.txt, the national system's manual, 第六篇 综合查询, 小提示):
"您在申请单中上传的证明材料，将在申请单提交之日起的30天后由系统归档留存。归档留存的证明材料不能被查看。"
The materials uploaded with an application are archived and kept by the system 30 days after it was
submitted (``[storage] archive_after_days``), and archived materials cannot be viewed. So no page, no
API and no portal shows an archived attachment again (``ApplicationService.attachment`` refuses it);
they are kept for the record, and the one way out is :func:`retrieve`: a deliberate act of the branch's
administrator (or the operator at the command line), with a reason, audited.

**The job** (daily, core/services/jobs.py), for each attachment of an application submitted that long
ago and not archived yet: the content's live copy, checked against its SHA-256, is written
gzip-compressed into the blob store's archive area (``blob_dir/archive``), read back and checked
(:meth:`core.store.blobs.BlobStore.archive`); then one transaction records ``archived_at`` and the
audit row. Once no live attachment shares the content (the store keeps each content once), its live
copy is removed and ``released_at`` recorded, audited. Every step is idempotent, so a run cut short
(a crash, a full disk) is finished by the next: a good archive copy is kept, a missing live copy
whose archive copy is good still archives, a release is done again. A content neither copy holds is
reported (the job fails, naming how many) and audited, and tried again on the next run. An upload of
a file whose live copy was just released reads it back from the archive (``BlobStore.get``).

``eportcard backup`` holds the archive area too (core/services/backup.py), and a restore puts it back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attrs import frozen

from core.errors import Forbidden, InvalidInput, NotFound, Unavailable
from core.model import Attachment
from core.services.actors import Actor, authorise
from core.store.archive import Archive

if TYPE_CHECKING:
    from core.services.context import Services

log = logging.getLogger(__name__)

SYSTEM = "system:jobs"
BATCH = 200
MAX_REASON = 500


@frozen
class ArchiveReport:
    archived: int = 0
    released: int = 0
    failed: int = 0

    def summary(self) -> str:
        return (f"archived {self.archived} attachment(s), removed {self.released} live copy(ies), "
                f"{self.failed} could not be archived")


def run(services: Services) -> ArchiveReport:
    """Archive every attachment past the rule, then remove the live copies no live attachment needs."""
    now = services.clock()
    cutoff = now - timedelta(days=services.settings.storage.archive_after_days)
    archived = failed = 0
    after = ""
    while True:
        with services.store.transaction(readonly=True) as tx:
            batch = Archive(tx).due(cutoff, BATCH, after)
        for due in batch:
            try:
                size = services.store.blobs.archive(due.sha256)
            except NotFound as exc:
                failed += 1
                log.warning("attachment %s (%s) cannot be archived: %s", due.id, due.sha256, exc.en)
                with services.store.transaction() as tx:
                    tx.audit.append(SYSTEM, "archive_failed", "attachment", due.id,
                                    {"application": due.application_id, "sha256": due.sha256, "reason": exc.en},
                                    at=now)
                continue
            with services.store.transaction() as tx:
                if Archive(tx).mark_archived(due.id, now):
                    tx.audit.append(SYSTEM, "archive_attachment", "attachment", due.id,
                                    {"application": due.application_id, "sha256": due.sha256, "size": due.size,
                                     "archived_size": size}, at=now)
                    archived += 1
        if len(batch) < BATCH:
            break
        after = batch[-1].id
    report = ArchiveReport(archived, _release(services), failed)
    if failed:
        raise Unavailable(f"附件归档：{failed} 个附件的文件缺失或损坏，未能归档（见审计记录 archive_failed）",
                          f"{report.summary()}: their files are missing or damaged (see the audit trail, "
                          "archive_failed)", field="blob_dir")
    return report


def _release(services: Services) -> int:
    now = services.clock()
    released = 0
    after = ""
    while True:
        with services.store.transaction(readonly=True) as tx:
            batch = Archive(tx).releasable(BATCH, after)
        for sha in batch:
            services.store.blobs.release(sha)  # the archive copy checked again first: NotFound stops the job
            with services.store.transaction() as tx:
                holders = Archive(tx).mark_released(sha, now)
                tx.audit.append(SYSTEM, "archive_release", "blob", sha, {"attachments": holders}, at=now)
            released += 1
        if len(batch) < BATCH:
            return released
        after = batch[-1]


def retrieve(services: Services, att_id: str, actor: Actor, reason: str) -> tuple[Attachment, bytes]:
    """Take an archived attachment's content out of the archive for the record: the operator at the
    command line, or an administrator of the application's branch; a reason is required and audited
    with who and when. Not an archived attachment (one still viewable is viewed the usual way): refused."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"调取归档附件须写明理由（不超过 {MAX_REASON} 个字）。",
                           f"Taking an archived attachment out needs a reason (at most {MAX_REASON} characters).",
                           field="reason")
    now = services.clock()
    with services.store.transaction() as tx:
        try:
            att = tx.attachments.get(att_id)
            app = tx.applications.get(att.application_id)
        except NotFound:
            raise Forbidden("无权调取此附件", "you may not take this attachment out", field="attachment") from None
        try:
            authorise(actor, "admin", app)
        except Forbidden:
            raise Forbidden("只有本分中心管理员可以调取归档附件", "only an administrator of the application's "
                            "branch may take an archived attachment out", field="attachment") from None
        if Archive(tx).archived_at(att.id) is None:
            raise InvalidInput("此附件尚未归档，无需调取。", "This attachment is not archived; there is nothing to "
                               "take out.", field="attachment")
        content = services.store.blobs.archived(att.sha256)
        tx.audit.append(actor.label, "attachment_retrieved", "attachment", att.id,
                        {"application": app.id, "sha256": att.sha256, "reason": reason}, at=now)
    return att, content


def archived_of(services: Services, app_id: str, actor: Actor) -> dict[str, datetime]:
    """Which of the application's attachments are archived (id -> when), to whoever may see it."""
    services.applications.get(app_id, actor)  # the usual refusal for someone who may not see it
    with services.store.transaction(readonly=True) as tx:
        return dict(Archive(tx).archived_of(app_id))


__all__ = ["ArchiveReport", "archived_of", "retrieve", "run"]
