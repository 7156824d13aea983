"""The jobs' records: how each daily job last ended (a file), and each scheduled job's row (the database).

The daily jobs (``audit verify``, ``audit checkpoint``, ``ca expire-renewals``, ``jobs run-due``) run
from the command line, in processes of their own; the web front reports their outcomes at ``/metrics``
(core/services/ops.py). One small file per job in ``jobs/`` beside the config, not the database:
"the database could not be reached" is one of the outcomes to report.

The scheduled jobs of ``eportcard jobs run-due`` (core/services/jobs.py) keep one row each in the
``jobs`` table (migration 0012): when it runs next, and its *lease*. A runner takes the lease with one
conditional update (due, and no lease or an expired one), so of several runners on several machines
exactly one runs each job; a runner that dies leaves a lease that runs out.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import frozen
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from core.config import Settings
from core.store.permissions import make_private_dir, write_private
from core.store.types import UTCDateTime

if TYPE_CHECKING:
    from core.store.store import Transaction

log = logging.getLogger(__name__)

JOBS_DIR = "jobs"


@frozen
class JobOutcome:
    job: str
    last_run: datetime
    exit_code: int  # 0 done; 1 failed (`audit verify`: the trail is broken); 2 could not run or check
    last_success: datetime | None


def jobs_dir(settings: Settings) -> Path:
    return settings.path(JOBS_DIR)


def record_job(folder: Path, job: str, exit_code: int, at: datetime | None = None) -> None:
    """Note how ``job`` ended. A failure to write is logged, never raised: the job's own exit code is
    what its caller (systemd) acts on."""
    at = at or datetime.now(UTC)
    path = folder / f"{job}.json"
    previous = _read_job(path)
    success = at if exit_code == 0 else (previous.last_success if previous else None)
    text = json.dumps({"job": job, "last_run": at.isoformat(), "exit_code": exit_code,
                       "last_success": success.isoformat() if success else None})
    try:
        make_private_dir(folder)
        temporary = path.with_suffix(".tmp")
        write_private(temporary, text)
        temporary.replace(path)  # whole or not at all, for a scrape reading it meanwhile
    except OSError as exc:
        log.warning("cannot record the outcome of job %s in %s: %s", job, folder, exc.strerror)


def _read_job(path: Path) -> JobOutcome | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        success = data.get("last_success")
        return JobOutcome(str(data["job"]), datetime.fromisoformat(data["last_run"]), int(data["exit_code"]),
                          datetime.fromisoformat(success) if success else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def job_outcomes(folder: Path) -> list[JobOutcome]:
    """Every job's last outcome, by job name (none before the first run)."""
    found = (_read_job(path) for path in sorted(folder.glob("*.json"))) if folder.is_dir() else ()
    return [outcome for outcome in found if outcome is not None]


# ---- the scheduled jobs' rows --------------------------------------------------------------------------------

jobs_metadata = MetaData()

jobs = Table(
    "jobs", jobs_metadata,
    Column("name", String(64), primary_key=True),
    Column("lease_owner", String(128), nullable=False, server_default=""),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("next_run_at", UTCDateTime, nullable=False),
    Column("last_started_at", UTCDateTime, nullable=True),
    Column("last_finished_at", UTCDateTime, nullable=True),
    Column("last_result", String(16), nullable=False, server_default=""),
    Column("last_summary", Text, nullable=False, server_default=""),
    Column("runs", Integer, nullable=False, server_default="0"),
)


@frozen
class JobRow:
    name: str
    lease_owner: str
    lease_until: datetime | None
    next_run_at: datetime
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_result: str  # "" (never ran), "ok", "failed"
    last_summary: str
    runs: int


class JobLeases:
    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def ensure(self, names: list[str], now: datetime) -> None:
        """A row for each job (due now) that has none yet."""
        insert = postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        for name in names:
            self._conn.execute(insert(jobs).values(name=name, next_run_at=now)
                               .on_conflict_do_nothing(index_elements=["name"]))

    def take(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        """The lease of a due job that nobody holds (or whose holder's lease ran out); False otherwise."""
        result = self._conn.execute(
            update(jobs).where(jobs.c.name == name, jobs.c.next_run_at <= now,
                               or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < now))
            .values(lease_owner=owner, lease_until=until, last_started_at=now))
        return result.rowcount == 1

    def finish(self, name: str, owner: str, now: datetime, result: str, summary: str, next_run: datetime) -> bool:
        """Record how the run ended and give the lease back; False if the lease was no longer ``owner``'s."""
        done = self._conn.execute(
            update(jobs).where(jobs.c.name == name, jobs.c.lease_owner == owner)
            .values(lease_owner="", lease_until=None, last_finished_at=now, last_result=result,
                    last_summary=summary[:2000], next_run_at=next_run, runs=jobs.c.runs + 1))
        return done.rowcount == 1

    def release_all(self) -> None:
        """Give back every lease: a restored deployment's jobs were held by runners of the old one."""
        self._conn.execute(update(jobs).where(jobs.c.lease_owner != "").values(lease_owner="", lease_until=None))

    def due_now(self, name: str, now: datetime) -> None:
        self._conn.execute(update(jobs).where(jobs.c.name == name).values(next_run_at=now))

    def all(self) -> list[JobRow]:
        return [JobRow(**r._mapping) for r in self._conn.execute(select(jobs).order_by(jobs.c.name))]


__all__ = ["JOBS_DIR", "JobLeases", "JobOutcome", "JobRow", "job_outcomes", "jobs", "jobs_dir", "jobs_metadata",
           "record_job"]
