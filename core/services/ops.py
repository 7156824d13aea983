"""What an operator watches: readiness, the numbers behind ``/metrics``, the daily jobs' outcomes.

* :func:`readiness` — can this process serve: the database answers at this eportcard's schema
  revision, the blob store is a writable folder, the CA (when there is one) is loaded and not expired.
* :func:`snapshot` — the numbers the database holds (applications per region and state, those
  overdue) and the last outcome of each daily job (recorded by the command line, core/store/jobs.py).
"""

from __future__ import annotations

import logging
import os

from attrs import frozen

from core import __version__
from core.services import DatabaseUnavailable
from core.services.context import Services
from core.store.jobs import JobOutcome, job_outcomes, jobs_dir
from core.store.records import StateCount

log = logging.getLogger(__name__)


@frozen
class Readiness:
    ready: bool
    version: str
    schema_revision: str | None
    schema_head: str | None
    checks: dict[str, str]  # part -> "ok", "off" (not configured) or what is wrong

    def as_dict(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not_ready", "version": self.version,
                "schema_revision": self.schema_revision, "schema_head": self.schema_head, "checks": self.checks}


@frozen
class Snapshot:
    applications: list[StateCount] | None  # None: the database did not answer
    jobs: list[JobOutcome]


def _unavailable(exc: Exception) -> str:
    return f"unavailable ({type(exc).__name__})"  # its kind only: a message may hold an address or more


def _database(services: Services, head: str | None) -> tuple[str, str | None]:
    try:
        services.check_database()
        revision = services.store.current_revision()
    except Exception as exc:
        return _unavailable(exc), None
    return ("ok" if revision == head else f"schema at {revision}, this eportcard needs {head}"), revision


def _blobs(services: Services) -> str:
    folder = services.settings.blob_dir
    if not folder.is_dir():
        return f"missing: {folder}"
    return "ok" if os.access(folder, os.W_OK | os.X_OK) else f"not writable: {folder}"


def _ca(services: Services) -> str:
    if services.card_keys is None:
        return "off"
    until = services.card_keys.ca.certificate.not_valid_after_utc
    if services.clock() > until:
        return f"certificate expired on {until:%Y-%m-%d}"
    probe = getattr(services.card_keys.ca.signer, "answers", None)  # a key on a token: does it answer now?
    return probe() if probe is not None else "ok"


def readiness(services: Services) -> Readiness:
    """Whether this process can serve; never raises (a failing part is named in ``checks``)."""
    head = services.store.head_revision()
    database, revision = _database(services, head)
    checks = {"database": database, "blobs": _blobs(services), "ca": _ca(services)}
    ready = all(value in ("ok", "off") for value in checks.values())
    return Readiness(ready, __version__, revision, head, checks)


def snapshot(services: Services) -> Snapshot:
    """Applications per region and state (with those overdue today) and the daily jobs' last outcomes;
    without the database, the jobs still (the process's own counters are the caller's)."""
    try:
        with services.store.transaction(readonly=True) as tx:
            counts: list[StateCount] | None = tx.applications.state_counts(services.today())
    except DatabaseUnavailable as exc:
        log.warning("metrics without the database's numbers: %s", _unavailable(exc))
        counts = None
    return Snapshot(counts, job_outcomes(jobs_dir(services.settings)))


__all__ = ["JobOutcome", "Readiness", "Snapshot", "readiness", "snapshot"]
