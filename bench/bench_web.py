"""Web benchmark: the progress query and the staff queue against a bare Starlette JSON endpoint,
all served by uvicorn subprocesses with the same settings, on SQLite and on PostgreSQL.

    python bench/bench_web.py [--quick] [--sqlite-only]

Seeds 100,000 applications (bulk insert through the store's own column mapping), starts uvicorn
(one worker, loopback only), drives it with 50 concurrent asyncio httpx clients for a bounded number
of requests and a bounded time, and prints requests per second as a ratio against the bare endpoint
(target >= 0.5) and the p99 latency (target < 50 ms). No assertions: numbers are printed.
PostgreSQL comes from EPORTCARD_TEST_PG_URL (default: the test URL of scripts/start-postgres.sh).
"""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUICK = "--quick" in sys.argv
SQLITE_ONLY = "--sqlite-only" in sys.argv
COUNT = 10_000 if QUICK else 100_000
CONCURRENCY = 50
REQUESTS = 1_000 if QUICK else 4_000
TIME_LIMIT = 15.0 if QUICK else 30.0
PASSWORD = "Bench-passw0rd"
SECRET = "bench-secret-key"


# ---- the servers (run in subprocesses) ---------------------------------------------------------------

def _services(url: str, schema: str | None, root: str):
    import attrs

    from core.calendar import WorkCalendar
    from core.config import DatabaseSettings, Settings, WebSettings
    from core.plugins import get_plugin_manager
    from core.rulebook import Rulebook
    from core.services import Services
    from core.store import open_store

    settings = attrs.evolve(Settings(root=root), database=DatabaseSettings(url=url),
                            web=WebSettings(secret_key=SECRET, login_attempts=1000))
    store = open_store(url, Path(root) / "blobs", schema=schema)
    return Services(settings=settings, store=store, rulebook=Rulebook(get_plugin_manager(enabled=["shenzhen"])),
                    calendar=WorkCalendar())


def bare_app():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request):
        return JSONResponse({"state": "submitted", "acceptance_no": "WSZ0000001"})

    return Starlette(routes=[Route("/bare", hello)])


def serve(kind: str, port: int, url: str, schema: str, root: str) -> None:
    import uvicorn

    if kind == "bare":
        app = bare_app()
    else:
        from core.web.app import create_app

        app = create_app(_services(url, schema or None, root), login_limit_per_address=10_000)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, workers=1)


# ---- seeding -------------------------------------------------------------------------------------------------

def seed(url: str, schema: str | None, root: str) -> list[tuple[str, str]]:
    """COUNT applications in the Shenzhen branch; returns (acceptance_no, uscc) pairs to query."""
    import attrs
    from sqlalchemy import insert

    from core.model import AppState
    from core.samples import make_enrol
    from core.store.repos import ApplicationRepo
    from core.store.tables import applications
    from core.web.auth import create_user

    services = _services(url, schema, root)
    services.store.upgrade()
    create_user(services, "bench-staff", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    templates = [make_enrol(n) for n in range(1, 51)]
    states = [AppState.SUBMITTED, AppState.ACCEPTED, AppState.IN_PRODUCTION, AppState.COMPLETED,
              AppState.REJECTED, AppState.DRAFT]
    rng = random.Random(7)
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    queries = []
    batch = []
    engine = services.store.engine
    started = time.perf_counter()
    for i in range(COUNT):
        base = templates[i % len(templates)]
        state = states[i % len(states)]
        number = f"WSZ{i + 1:07d}" if state is not AppState.DRAFT else ""
        app = attrs.evolve(base, id=f"B{i:09d}", state=state, acceptance_no=number, version=1,
                           due=date(2026, 11, 2) + timedelta(days=rng.randint(-30, 60)),
                           submitted_at=now if number else None)
        row = ApplicationRepo._columns(app, now) | {"id": app.id, "created_at": now, "version": 1}
        batch.append(row)
        if number and i % 97 == 0:
            queries.append((number, app.enterprise.uscc))
        if len(batch) == 5_000:
            with engine.begin() as conn:
                conn.execute(insert(applications), batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(applications), batch)
    print(f"  seeded {COUNT:,} applications in {time.perf_counter() - started:.1f} s")
    services.store.dispose()
    return queries


# ---- load -----------------------------------------------------------------------------------------------------

async def drive(base: str, paths: list[str], login: bool) -> tuple[float, float, int]:
    """(requests per second, p99 latency in ms, failures) for REQUESTS requests or TIME_LIMIT seconds."""
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        if login:
            reply = await client.post("/api/session", json={"username": "bench-staff", "password": PASSWORD})
            reply.raise_for_status()
        for path in paths[:CONCURRENCY]:  # warm up connections and caches
            await client.get(path)
        latencies: list[float] = []
        failures = 0
        counter = iter(range(REQUESTS))
        deadline = time.perf_counter() + TIME_LIMIT

        async def worker() -> None:
            nonlocal failures
            for n in counter:
                if time.perf_counter() > deadline:
                    return
                t0 = time.perf_counter()
                reply = await client.get(paths[n % len(paths)])
                latencies.append(time.perf_counter() - t0)
                if reply.status_code != 200:
                    failures += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    return len(latencies) / elapsed, p99, failures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(kind: str, url: str, schema: str, root: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, str(port), url, schema, root],
                            cwd=str(ROOT))
    base = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(200):
        try:
            httpx.get(f"{base}/{'bare' if kind == 'bare' else 'healthz'}", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the {kind} server did not start")


def run_backend(name: str, url: str, schema: str) -> None:
    print(f"\n== {name} ==")
    with tempfile.TemporaryDirectory() as root:
        if name == "sqlite":
            url = f"sqlite:///{Path(root) / 'bench.db'}"
        queries = seed(url, schema or None, root)
        bare, bare_base = start("bare", url, schema, root)
        app, app_base = start("app", url, schema, root)
        try:
            baseline, base_p99, _ = asyncio.run(drive(bare_base, ["/bare"], login=False))
            print(f"  bare Starlette JSON      {baseline:8.0f} req/s   p99 {base_p99:6.1f} ms")
            progress = [f"/api/progress?acceptance_no={no}&uscc={uscc}" for no, uscc in queries]
            queue = [f"/api/staff/queue?page={p}&per_page=20" for p in range(1, 11)] + \
                [f"/api/staff/queue?state=submitted&page={p}" for p in range(1, 6)]
            for label, paths in (("progress query", progress), ("staff queue", queue)):
                rps, p99, failed = asyncio.run(drive(app_base, paths, login=label == "staff queue"))
                ratio = rps / baseline
                verdict = "ok" if ratio >= 0.5 and p99 < 50 else "BELOW TARGET"
                print(f"  {label:24} {rps:8.0f} req/s   p99 {p99:6.1f} ms   ratio {ratio:4.2f} "
                      f"(target >= 0.5, p99 < 50 ms: {verdict}){f'  {failed} failed' if failed else ''}")
        finally:
            for proc in (bare, app):
                proc.terminate()
                proc.wait(10)


def main() -> None:
    print(f"bench_web: {COUNT:,} applications, {CONCURRENCY} concurrent clients, "
          f"at most {REQUESTS:,} requests / {TIME_LIMIT:.0f} s per measurement")
    run_backend("sqlite", "", "")
    if SQLITE_ONLY:
        return
    from sqlalchemy import create_engine, text

    from core.store.testing import pg_url

    url = pg_url()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        run_backend("postgresql", url, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
    else:
        main()
