"""How each daily job last ended: one small file per job in ``jobs/`` beside the config.

The daily jobs (``audit verify``, ``audit checkpoint``, ``ca expire-renewals``) run from the command
line, in processes of their own; the web front reports their outcomes at ``/metrics``
(core/services/ops.py). A file, not the database: "the database could not be reached" is one of the
outcomes to report.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from attrs import frozen

from core.config import Settings
from core.store.permissions import make_private_dir, write_private

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


__all__ = ["JOBS_DIR", "JobOutcome", "job_outcomes", "jobs_dir", "record_job"]
