"""Scheduled jobs: one registry, and ``run_due``, which runs each due job exactly once across machines.

**The registry** is :data:`JOBS`, the one place a job is added. A job is a name, a title, how often it
runs and a function ``run(services) -> str`` (a one-line summary; raising means it failed). To add one,
write the function beside the feature it belongs to and append a line here, e.g. a nightly backup::

    Job("backup", Text("备份", "Backup"), timedelta(days=1), _backup, lease=timedelta(hours=3)),

with ``def _backup(services): return services_backup.run_scheduled(services)``. A deployment changes a
job's interval with ``[jobs] every_minutes = { backup = 720 }`` or turns it off with
``[jobs] disabled = ["backup"]``.

**Running** (``eportcard jobs run-due``, from a systemd timer or cron on one or more machines): for each
job that is due, take its lease in the ``jobs`` table (core/store/jobs.py) with one conditional update;
only the runner that took it runs the job, then records the result and the next run and gives the
lease back. The lease lasts ``lease`` (longer than the job ever takes): a runner that dies mid-job
blocks that job until then, and the next runner after it runs the job again. Jobs run one after
another; a failing job is recorded as failed and the others still run.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attrs import frozen

from core.errors import ConfigError, Forbidden, NotFound
from core.pki import revocation
from core.rules import Text
from core.services.actors import Actor
from core.store.jobs import JobLeases, JobRow

if TYPE_CHECKING:
    from core.services.context import Services

log = logging.getLogger(__name__)

SYSTEM = "system:jobs"
RENEWAL_CONFIRM_DAYS = 7  # as `eportcard ca expire-renewals` (docs/deployment.md)


@frozen
class Job:
    name: str
    title: Text
    every: timedelta
    run: Callable[[Services], str]
    lease: timedelta = timedelta(hours=1)


def _deliver(services: Services) -> str:
    return services.notifications.deliver_due().summary()


def _reminders(services: Services) -> str:
    from core.services.notify_reminders import scan

    return scan(services).summary()


def _expire_renewals(services: Services) -> str:
    """Revoke renewed certificates released to a card through the agent and never confirmed in 7 days."""
    now = services.clock()
    with services.store.transaction() as tx:
        expired = revocation.expire_pending_renewals(tx.certificates, now - timedelta(days=RENEWAL_CONFIRM_DAYS))
        for record in expired:
            tx.audit.append(SYSTEM, "expire_renewal", "certificate", record.serial,
                            {"reason": record.reason, "card_id": record.card_id}, at=now)
    return f"revoked {len(expired)} unconfirmed renewal(s)"


def _backup(services: Services) -> str:
    from core.services.backup import run_scheduled  # the archive code loads only when the job runs

    return run_scheduled(services)


def _reconcile_cards(services: Services) -> str:
    from core.services.cards.recovery import reconcile_daily

    return reconcile_daily(services, SYSTEM)


def _archive(services: Services) -> str:
    from core.services.archive import run  # the attachments' archive (seed 001: 30 days after submission)

    return run(services).summary()


def _crl(services: Services) -> str:
    """A fresh CRL in ``[pki] ca_dir``/crl.der for whoever publishes it as a file (``/pki/crl.der`` makes its own)."""
    if not services.cards.enabled:
        return "skipped: the CA is not unlocked here (no passphrase)"
    der = services.cards.certificates.crl_der()
    target = services.settings.path(services.settings.pki.ca_dir) / "crl.der"
    temporary = target.with_suffix(".der.tmp")
    temporary.write_bytes(der)
    temporary.replace(target)  # whole or not at all, for a web server reading it meanwhile
    return f"wrote {target} ({len(der)} bytes)"


# The registry: every scheduled job, in the order run-due runs them (messages last, so that the
# reminders queued just before go out in the same run).
JOBS: tuple[Job, ...] = (
    Job("renewal_reminders", Text("证书到期提醒", "Certificate expiry reminders"), timedelta(days=1), _reminders),
    Job("expire_renewals", Text("撤销未确认的更新证书", "Revoke unconfirmed renewals"), timedelta(days=1),
        _expire_renewals),
    Job("crl_refresh", Text("更新证书吊销列表", "Refresh the CRL"), timedelta(hours=6), _crl),
    Job("reconcile_cards", Text("清理未完成的制卡", "Give up unfinished card making"), timedelta(days=1),
        _reconcile_cards),
    Job("archive_attachments", Text("附件归档（提交30天后）", "Archive attachments (30 days after submission)"),
        timedelta(days=1), _archive, lease=timedelta(hours=3)),
    Job("backup", Text("备份", "Backup"), timedelta(days=1), _backup, lease=timedelta(hours=3)),
    Job("deliver_messages", Text("发送通知（含重试）", "Send notices (and retries)"), timedelta(minutes=5), _deliver,
        lease=timedelta(minutes=30)),
)


@frozen
class JobResult:
    name: str
    ran: bool  # False: not due, or another runner holds it
    ok: bool
    summary: str


@frozen
class JobStatus:
    job: Job
    row: JobRow | None
    enabled: bool


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Scheduler:
    def __init__(self, services: Services, jobs: tuple[Job, ...] = JOBS) -> None:
        self.s = services
        settings = services.settings.jobs
        names = {job.name for job in jobs}
        for key, field in (("disabled", settings.disabled), ("every_minutes", tuple(settings.every_minutes))):
            if unknown := [name for name in field if name not in names]:
                raise ConfigError(f"[jobs] {key} 中有未知的任务：{', '.join(unknown)}（可选：{', '.join(sorted(names))}）",
                                  f"[jobs] {key} names unknown jobs: {', '.join(unknown)} (jobs: "
                                  f"{', '.join(sorted(names))})", field=f"jobs.{key}")
        if bad := [name for name, minutes in settings.every_minutes.items() if minutes < 1]:
            raise ConfigError(f"[jobs] every_minutes 须为正整数：{', '.join(bad)}",
                              f"[jobs] every_minutes must be at least 1: {', '.join(bad)}", field="jobs.every_minutes")
        self.jobs = jobs

    def every(self, job: Job) -> timedelta:
        minutes = self.s.settings.jobs.every_minutes.get(job.name)
        return timedelta(minutes=minutes) if minutes else job.every

    def enabled(self, job: Job) -> bool:
        return job.name not in self.s.settings.jobs.disabled

    def run_due(self, owner: str | None = None, only: str | None = None) -> list[JobResult]:
        """Run every enabled job that is due and whose lease this runner takes (``only``: that job alone)."""
        owner = owner or runner_id()
        chosen = [job for job in self.jobs if self.enabled(job) and (only is None or job.name == only)]
        with self.s.store.transaction() as tx:
            JobLeases(tx).ensure([job.name for job in self.jobs], self.s.clock())
        return [self._run(job, owner) for job in chosen]

    def _run(self, job: Job, owner: str) -> JobResult:
        started = self.s.clock()
        with self.s.store.transaction() as tx:
            taken = JobLeases(tx).take(job.name, owner, started, started + job.lease)
        if not taken:
            return JobResult(job.name, False, True, "not due, or running elsewhere")
        try:
            summary, ok = job.run(self.s), True
        except Exception as exc:  # recorded and reported; the other jobs still run
            log.exception("job %s failed", job.name)
            summary, ok = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500], False
        finished = self.s.clock()
        with self.s.store.transaction() as tx:
            kept = JobLeases(tx).finish(job.name, owner, finished, "ok" if ok else "failed", summary,
                                        _next_run(started, self.every(job)))
            tx.audit.append(SYSTEM, "job_run", "job", job.name, {"result": "ok" if ok else "failed",
                                                                 "summary": summary, "runner": owner}, at=finished)
        if not kept:
            log.warning("job %s outlived its lease (%s); another runner may have run it too", job.name, job.lease)
        return JobResult(job.name, True, ok, summary)

    def status(self, actor: Actor | None = None) -> list[JobStatus]:
        """Each job with its last run, result and next run (staff: any role; the command line: the system)."""
        if actor is not None and actor.kind not in ("staff", "system"):
            raise Forbidden("只有分中心工作人员可以查看计划任务。", "Only branch staff see the scheduled jobs.", field="jobs")
        with self.s.store.transaction(readonly=True) as tx:
            rows = {row.name: row for row in JobLeases(tx).all()}
        return [JobStatus(job, rows.get(job.name), self.enabled(job)) for job in self.jobs]

    def run_now(self, name: str) -> None:
        """Make ``name`` due now (the next run-due runs it)."""
        if name not in {job.name for job in self.jobs}:
            raise NotFound(f"没有名为 {name} 的任务", f"there is no job named {name}", field="job")
        with self.s.store.transaction() as tx:
            leases = JobLeases(tx)
            leases.ensure([name], self.s.clock())
            leases.due_now(name, self.s.clock())


def _next_run(started: datetime, every: timedelta) -> datetime:
    return started + every


__all__ = ["JOBS", "Job", "JobResult", "JobStatus", "Scheduler", "runner_id"]
