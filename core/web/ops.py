"""What a load balancer and a monitoring system ask: ``/healthz``, ``/readyz`` and ``/metrics``.

* ``/healthz`` — the process is alive and answering (no database: a database outage must not get a
  healthy process restarted);
* ``/readyz`` — it can serve: database, blob store and CA, with the version and schema revision
  (503 while not);
* ``/metrics`` — Prometheus text, to the addresses ``[web] metrics_allow`` names only (404 to
  others): this process's counters (core/metrics.py) and the numbers the database holds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core import __version__
from core.services import ops
from core.web.render import web
from core.web.security import client_address

NO_STORE = {"Cache-Control": "no-store"}


async def healthz(request: Request) -> Response:
    """Alive: answered from memory (the enabled regions), never from the database."""
    return JSONResponse({"status": "ok", "regions": sorted(web(request).services.rulebook.regions())},
                        headers=NO_STORE)


def readyz(request: Request) -> Response:  # blocking: asks the database (runs in the thread pool)
    state = ops.readiness(web(request).services)
    return JSONResponse(state.as_dict(), status_code=200 if state.ready else 503, headers=NO_STORE)


def allowed(address: str, networks: Iterable[str]) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(network, strict=False) for network in networks)


class SnapshotCollector:
    """The database's numbers and the daily jobs, as Prometheus gauges (made for one scrape)."""

    def __init__(self, snapshot: ops.Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("eportcard_build_info", "The running eportcard", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        counts = self.snapshot.applications
        up = GaugeMetricFamily("eportcard_database_up", "Whether the database answered this scrape")
        up.add_metric([], 0 if counts is None else 1)
        yield up
        if counts is not None:
            queue = GaugeMetricFamily("eportcard_applications", "Applications by region and state",
                                      labels=["region", "state"])
            overdue = GaugeMetricFamily("eportcard_applications_overdue",
                                        "Applications past their due date, by region and state",
                                        labels=["region", "state"])
            for row in counts:
                queue.add_metric([row.region, row.state], row.applications)
                overdue.add_metric([row.region, row.state], row.overdue)
            yield queue
            yield overdue
        ran = GaugeMetricFamily("eportcard_job_last_run_timestamp_seconds", "When each daily job last ran",
                                labels=["job"])
        code = GaugeMetricFamily("eportcard_job_last_exit_code",
                                 "How each daily job last ended (0 done, 1 failed, 2 could not run or check)",
                                 labels=["job"])
        success = GaugeMetricFamily("eportcard_job_last_success_timestamp_seconds",
                                    "When each daily job last ended well", labels=["job"])
        for job in self.snapshot.jobs:
            ran.add_metric([job.job], job.last_run.timestamp())
            code.add_metric([job.job], job.exit_code)
            if job.last_success is not None:
                success.add_metric([job.job], job.last_success.timestamp())
        yield from (ran, code, success)


def metrics(request: Request) -> Response:  # blocking: asks the database (runs in the thread pool)
    services = web(request).services
    if not allowed(client_address(request), services.settings.web.metrics_allow):
        raise HTTPException(404)  # the same answer as a path that does not exist
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(SnapshotCollector(ops.snapshot(services)))
    return Response(generate_latest(REGISTRY) + generate_latest(scrape), media_type=CONTENT_TYPE_LATEST,
                    headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/healthz", healthz, name="healthz"),
    Route("/readyz", readyz, name="readyz"),
    Route("/metrics", metrics, name="metrics"),
]

__all__ = ["SnapshotCollector", "allowed", "routes"]
