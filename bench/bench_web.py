"""Web benchmark: the progress query and the staff queue against a bare Starlette JSON endpoint,
on SQLite and on PostgreSQL, with 100,000 applications.

    python bench/bench_web.py [--quick] [--sqlite-only] [--duration SECONDS]

One uvicorn subprocess per backend (one worker, no access log, uvloop / httptools only when
installed) serves the real app *and* the baseline: the bench wraps ``create_app(...)`` in a tiny ASGI
dispatcher that sends ``/bench/bare`` to a bare Starlette app returning a small JSON, so both share
the same process, event loop and server settings. Load comes from Debian's ``wrk`` (C; one thread,
50 connections, ``--latency``), so the load generator costs the server little of the 2 cores.

Printed per backend: requests per second of bare / progress / queue, the ratios against bare
(target >= 0.5) and the p99 latencies (target < 50 ms). The app keeps finished progress and queue
replies while the applications table is unchanged (core/web/replies.py), so diagnostic rows also
show: the same reads with that cache off (``/cold/...``: a second app instance whose cache never
keeps anything: every request reads and encodes), the queue while another process writes to the
applications table 20 times a second (each write retires the kept replies), what the app's
middleware alone costs (``/bench/mw``: an empty JSON route inside the app, with and without the
session cookie) and the HTML staff queue (``/staff``: it renders a Jinja page). One more row measures
the progress query while 16 clients log in continuously (each login checks an argon2 hash): its p99
as a multiple of the progress p99 without them (target <= 2: a login must not stall the event loop).
No assertions:
numbers are printed. ``--quick`` seeds 10,000 rows and runs shorter.
PostgreSQL comes from EPORTCARD_TEST_PG_URL (default: the test URL of scripts/start-postgres.sh).
"""

from __future__ import annotations

import importlib.util
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _option(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


QUICK = "--quick" in sys.argv
SQLITE_ONLY = "--sqlite-only" in sys.argv
COUNT = 10_000 if QUICK else 100_000
CONNECTIONS = 50
DURATION = int(_option("--duration", "5" if QUICK else "10"))
WARMUP = 2
PASSWORD = "Bench-passw0rd"
SECRET = "bench-secret-key"
BARE_PATH = "/bench/bare"
MIDDLEWARE_PATH = "/bench/mw"
COLD_PREFIX = "/cold"  # the same app with its reply cache off
WRITES_PER_SECOND = 20
QUERY_SAMPLE = 500  # distinct progress queries wrk rotates through
LOGIN_CLIENTS = 16  # clients logging in continuously beside one progress measurement
LOGINS_ROW = f"progress, {LOGIN_CLIENTS} logging in"


# ---- the server (runs in a subprocess) -----------------------------------------------------------------------

def _services(url: str, schema: str | None, root: str):
    import attrs

    from core.calendar import WorkCalendar
    from core.config import DatabaseSettings, Settings, WebSettings
    from core.plugins import get_plugin_manager
    from core.rulebook import Rulebook
    from core.services import Services
    from core.store import open_store

    settings = attrs.evolve(Settings(root=root), database=DatabaseSettings(url=url),
                            web=WebSettings(secret_key=SECRET, login_attempts=10**9,
                                            login_attempts_per_address=10**9))
    store = open_store(url, Path(root) / "blobs", schema=schema)
    return Services(settings=settings, store=store, rulebook=Rulebook(get_plugin_manager(enabled=["shenzhen"])),
                    calendar=WorkCalendar())


class _NeverKnown:
    """A change watch that never knows: the reply cache then makes every reply afresh."""

    def token(self) -> None:
        return None


def bench_app(url: str, schema: str | None, root: str):
    """The real app, plus ``/bench/bare`` (bare Starlette, outside the app), ``/bench/mw`` (inside it)
    and ``/cold/...`` (a second instance of the app with its reply cache off)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from core.web.app import create_app
    from core.web.replies import ReplyCache

    async def hello(request):
        return JSONResponse({"state": "submitted", "acceptance_no": "WSZ0000001"})

    bare = Starlette(routes=[Route(BARE_PATH, hello)])
    real = create_app(_services(url, schema, root))
    real.router.routes.insert(0, Route(MIDDLEWARE_PATH, hello))
    cold = create_app(_services(url, schema, root))
    cold.state.web.replies = ReplyCache(_NeverKnown)

    async def dispatch(scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and path == BARE_PATH:
            await bare(scope, receive, send)
        elif scope["type"] == "http" and path.startswith(COLD_PREFIX + "/"):
            inner = path[len(COLD_PREFIX):]
            await cold(dict(scope, path=inner, raw_path=inner.encode()), receive, send)
        else:
            await real(scope, receive, send)

    return dispatch


def server_options() -> dict[str, str]:
    """The same for every measurement: the fastest loop and HTTP parser that are installed."""
    return {"loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
            "http": "httptools" if importlib.util.find_spec("httptools") else "h11"}


def serve(port: int, url: str, schema: str, root: str) -> None:
    import uvicorn

    from core.web.app import settle

    app = bench_app(url, schema or None, root)
    settle()  # as `eportcard serve` does
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1,
                access_log=False, log_level="warning", **server_options())


# ---- seeding -------------------------------------------------------------------------------------------------

def seed(url: str, schema: str | None, root: str) -> list[tuple[str, str]]:
    """COUNT applications in the Shenzhen branch; returns (acceptance_no, uscc) pairs to query.

    Rows come from real Application aggregates through the repository's own column mapping, so the
    server reads them exactly as it reads rows it wrote itself; SQLAlchemy Core executemany makes it fast.
    """
    import attrs
    from sqlalchemy import insert

    from core.model import AppState
    from core.samples import make_enrol
    from core.services.accounts import create_user
    from core.store.repos import ApplicationRepo
    from core.store.tables import applications

    services = _services(url, schema, root)
    services.store.upgrade()
    create_user(services, "bench-staff", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    templates = [make_enrol(n, operators=1 + n % 3) for n in range(1, 51)]
    states = [AppState.SUBMITTED, AppState.ACCEPTED, AppState.IN_PRODUCTION, AppState.COMPLETED,
              AppState.REJECTED, AppState.DRAFT]
    rng = random.Random(7)
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    queries: list[tuple[str, str]] = []
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
        batch.append(ApplicationRepo._columns(app, now) | {"id": app.id, "created_at": now, "version": 1})
        if number:
            queries.append((number, app.enterprise.uscc))
        if len(batch) == 5_000:
            with engine.begin() as conn:
                conn.execute(insert(applications), batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(applications), batch)
    if services.store.dialect == "postgresql":
        # What autovacuum does to a live table: statistics, and the visibility map that lets the queue's
        # index-only scan skip the heap (right after a bulk load every index entry costs a heap visit).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE applications")
    print(f"  seeded {COUNT:,} applications in {time.perf_counter() - started:.1f} s")
    services.store.dispose()
    return rng.sample(queries, min(QUERY_SAMPLE, len(queries)))


# ---- load (wrk) --------------------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> tuple[float, float, int]:
    """(requests per second, p99 latency in ms, non-2xx/3xx responses + socket errors) from wrk's report."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's report:\n{output}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failures = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return float(rps.group(1)), float(p99.group(1)) * _UNITS_MS[p99.group(2)], failures


def rotation_script(paths: list[str], directory: Path) -> Path:
    """A wrk Lua script that cycles through ``paths`` (one request each, in turn)."""
    quoted = ",\n".join(f'  "{p}"' for p in paths)  # paths are ASCII query strings built here
    script = directory / f"rotate_{uuid.uuid4().hex[:8]}.lua"
    script.write_text(f"local paths = {{\n{quoted}\n}}\nlocal i = 0\n"
                      "request = function()\n  i = i % #paths + 1\n"
                      "  return wrk.format(\"GET\", paths[i])\nend\n")
    return script


def wrk(base: str, paths: list[str], seconds: int, workdir: Path, cookie: str = "") -> tuple[float, float, int]:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    if len(paths) > 1:
        command += ["-s", str(rotation_script(paths, workdir))]
    result = subprocess.run([*command, base + paths[0]], capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def measure(base: str, paths: list[str], workdir: Path, cookie: str = "") -> tuple[float, float, int]:
    wrk(base, paths, WARMUP, workdir, cookie)  # connections, caches and the JIT-less interpreter warm up
    return wrk(base, paths, DURATION, workdir, cookie)


# ---- the run ------------------------------------------------------------------------------------------------------

def write_continuously(url: str, schema: str, ids: list[str], stop) -> None:
    """Another process's writes to the applications table, WRITES_PER_SECOND a second, until ``stop``."""
    from sqlalchemy import update

    from core.store import open_store
    from core.store.tables import applications

    with tempfile.TemporaryDirectory() as blobs:
        store = open_store(url, Path(blobs), schema=schema or None)
        try:
            n = 0
            while not stop.wait(1 / WRITES_PER_SECOND):
                with store.engine.begin() as conn:
                    conn.execute(update(applications).where(applications.c.id == ids[n % len(ids)])
                                 .values(updated_at=datetime.now(UTC)))
                n += 1
        finally:
            store.dispose()


def log_in_continuously(base: str, stop) -> None:
    """One client logging in again and again (each login checks an argon2 hash in the server)."""
    import httpx

    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            client.post("/api/session", json={"username": "bench-staff", "password": PASSWORD}).raise_for_status()


def background(kind: str, url: str, schema: str, base: str, stop) -> list[threading.Thread]:
    """The load beside a measurement: another process's writes, or LOGIN_CLIENTS clients logging in."""
    if kind == "writes":
        ids = [f"B{i:09d}" for i in range(1000)]
        return [threading.Thread(target=write_continuously, args=(url, schema, ids, stop))]
    if kind == "logins":
        return [threading.Thread(target=log_in_continuously, args=(base, stop)) for _ in range(LOGIN_CLIENTS)]
    return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, schema: str, root: str) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), url, schema, root], cwd=str(ROOT))
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            httpx.get(base + BARE_PATH, timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def staff_cookie(base: str) -> str:
    """Log in once through the JSON API; wrk sends the session cookie with every request."""
    import httpx

    from core.web.app import SESSION_COOKIE

    reply = httpx.post(base + "/api/session", json={"username": "bench-staff", "password": PASSWORD})
    reply.raise_for_status()
    return f"{SESSION_COOKIE}={reply.cookies[SESSION_COOKIE]}"


def check_replies(base: str, cookie: str, progress: list[str], queue: list[str]) -> None:
    """One request of each kind must answer 200 with the expected body before we time anything."""
    import httpx

    reply = httpx.get(base + progress[0])
    if reply.status_code != 200 or "history" not in reply.json():
        raise RuntimeError(f"progress query failed: {reply.status_code} {reply.text[:200]}")
    reply = httpx.get(base + queue[0], headers={"Cookie": cookie})
    if reply.status_code != 200 or len(reply.json()["items"]) == 0:
        raise RuntimeError(f"staff queue failed: {reply.status_code} {reply.text[:200]}")


def check_html(base: str, cookie: str, path: str) -> None:
    import httpx

    reply = httpx.get(base + path, headers={"Cookie": cookie})
    if reply.status_code != 200 or "data-app-id" not in reply.text:
        raise RuntimeError(f"HTML staff queue failed: {reply.status_code} {reply.text[:200]}")


def verdict(ratio: float, p99: float) -> str:
    return "ok" if ratio >= 0.5 and p99 < 50 else "BELOW TARGET"


def run_backend(name: str, url: str, schema: str) -> dict[str, tuple[float, float, int]]:
    print(f"\n== {name} ==")
    results: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory() as root:
        workdir = Path(root)
        if name == "sqlite":
            url = f"sqlite:///{workdir / 'bench.db'}"
        queries = seed(url, schema or None, root)
        server, base = start_server(url, schema, root)
        try:
            cookie = staff_cookie(base)
            progress = [f"/api/progress?acceptance_no={no}&uscc={uscc}" for no, uscc in queries]
            queue = [f"/api/staff/queue?page={p}&per_page=20" for p in range(1, 11)] + \
                [f"/api/staff/queue?state=submitted&page={p}" for p in range(1, 6)]
            html_queue = [f"/staff?page={p}" for p in range(1, 11)]
            check_replies(base, cookie, progress, queue)
            check_html(base, cookie, html_queue[0])
            cold = [COLD_PREFIX + p for p in progress], [COLD_PREFIX + p for p in queue]
            plan = [("bare Starlette JSON", [BARE_PATH], "", ""),
                    ("app middleware only", [MIDDLEWARE_PATH], "", ""),
                    ("  + staff session", [MIDDLEWARE_PATH], cookie, ""),
                    ("progress query", progress, "", ""),
                    ("staff queue", queue, cookie, ""),
                    ("progress, uncached", cold[0], "", ""),
                    ("queue, uncached", cold[1], cookie, ""),
                    (f"queue, {WRITES_PER_SECOND} writes/s", queue, cookie, "writes"),
                    (LOGINS_ROW, progress, "", "logins"),
                    ("staff queue HTML", html_queue, cookie, "")]
            for label, paths, with_cookie, beside in plan:
                stop = threading.Event()
                threads = background(beside, url, schema, base, stop)
                for thread in threads:
                    thread.start()
                try:
                    results[label] = measure(base, paths, workdir, with_cookie)
                finally:
                    stop.set()
                    for thread in threads:
                        thread.join()
                rps, p99, failed = results[label]
                ratio = rps / results["bare Starlette JSON"][0]
                target = f"   {verdict(ratio, p99)}" if label in ("progress query", "staff queue") else ""
                if label == LOGINS_ROW:
                    target = f"   p99 {p99 / results['progress query'][1]:4.2f}x without logins (<= 2)"
                print(f"  {label:22} {rps:8.0f} req/s   p99 {p99:6.1f} ms   ratio {ratio:4.2f}{target}"
                      f"{f'   {failed} FAILED' if failed else ''}", flush=True)
        finally:
            server.terminate()
            server.wait(10)
    return results


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("bench_web needs wrk (Debian: apt-get install -y wrk; see scripts/install-system.sh)")
    options = server_options()
    print(f"bench_web: {COUNT:,} applications; wrk -t1 -c{CONNECTIONS} -d{DURATION}s --latency "
          f"(after a {WARMUP} s warm-up); uvicorn 1 worker, loop={options['loop']}, http={options['http']}, "
          "no access log; targets: ratio >= 0.5 of bare, p99 < 50 ms")
    summary = {"sqlite": run_backend("sqlite", "", "")}
    if not SQLITE_ONLY:
        from sqlalchemy import create_engine, text

        from core.store.testing import pg_url

        url = pg_url()
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            summary["postgresql"] = run_backend("postgresql", url, schema)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print("\nsummary (ratio against bare in the same run; p99 at 50 connections)")
    for backend, results in summary.items():
        bare = results["bare Starlette JSON"][0]
        for label in ("progress query", "staff queue"):
            rps, p99, _ = results[label]
            print(f"  {backend:10} {label:15} ratio {rps / bare:4.2f} (>= 0.5)   p99 {p99:6.1f} ms (< 50)   "
                  f"{verdict(rps / bare, p99)}")
        under_logins = results[LOGINS_ROW][1] / results["progress query"][1]
        print(f"  {backend:10} progress p99 with {LOGIN_CLIENTS} clients logging in: {under_logins:4.2f}x the p99 "
              f"without (<= 2)   {'ok' if under_logins <= 2 else 'ABOVE TARGET'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        main()
