"""Web benchmark: the app's busiest answers against a bare Starlette endpoint or a static file served by
the same process, on SQLite and on PostgreSQL, with 100,000 applications (issue #16 rows 1, 2, 5, 7).

    python bench/bench_web.py [--quick] [--sqlite-only] [--duration SECONDS] [--count N] [--skip-workers]

One uvicorn subprocess per backend (uvloop and httptools, no access log) serves the real app *and* the
baselines: the bench wraps ``create_app(...)`` in a tiny ASGI dispatcher that sends ``/bench/bare`` to a
bare Starlette app returning a small JSON and ``/bench/static/...`` to Starlette's StaticFiles, so all
share the same process, event loop and server settings. Load comes from Debian's ``wrk`` (C; one
thread, 50 connections, ``--latency``), so the load generator costs the server little of the 2 cores;
clients running beside a measurement (logins, searches, writes) are Python threads and do cost some.

Rows, each printed with its ratio and goal:

* progress and staff queue (kept replies, core/web/replies.py): ratio to bare >= 0.5, p99 < 50 ms;
  also uncached (``/cold/...``: a second app whose reply cache keeps nothing), the queue while another
  process writes 20 times a second, the app's middleware alone (``/bench/mw``) with a staff session;
* the HTML staff queue (``/staff``; row 5): ratio to bare >= 0.5, like the JSON queue;
* searches (``/cold/api/staff/queue?q=``: acceptance numbers, never kept), flat out, and the progress
  query's p99 while 8 clerks search, each four times a second, as a multiple of its p99 alone (row 1:
  <= 2; a search once stalled every other request for a second);
* the progress query's p99 while 16 clients log in continuously (each checks an argon2 hash), as a
  multiple of its p99 alone (<= 2: a login must not stall the event loop);
* ``GET /pki/crl.der`` (the published CRL: ``--count``/10 revoked certificates) against the same bytes as a
  static file (row 2: time per request <= 1.2x, i.e. ratio >= 0.83);
* a mixed workload (progress, queue, searches, new drafts written with their audit row, logins) at 1
  and 2 workers (``eportcard serve --workers``; row 7): requests per second and p99; on 2 cores, with
  wrk on them too, a second worker can add at most the share of a core the first one left idle.

No assertions: numbers are printed. ``--quick`` seeds 10,000 rows and runs shorter. PostgreSQL comes from
EPORTCARD_TEST_PG_URL (default: the test URL of scripts/start-postgres.sh).
"""

from __future__ import annotations

import os
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
COUNT = int(_option("--count", "10000" if QUICK else "100000"))
REVOKED = COUNT // 10
CONNECTIONS = 50
DURATION = int(_option("--duration", "5" if QUICK else "10"))
WARMUP = 2
PASSWORD = "Bench-passw0rd"
SECRET = "bench-secret-key"
CA_PASSPHRASE = "bench CA key passphrase"
BARE_PATH = "/bench/bare"
MIDDLEWARE_PATH = "/bench/mw"
STATIC_PREFIX = "/bench/static"
COLD_PREFIX = "/cold"  # the same app with its reply cache off
WRITES_PER_SECOND = 20
QUERY_SAMPLE = 500  # distinct progress queries wrk rotates through
LOGIN_CLIENTS = 16  # clients logging in continuously beside one progress measurement
SEARCH_CLIENTS = 8  # clerks searching beside one progress measurement...
SEARCH_EVERY = 0.25  # ...each every quarter of a second (32 searches a second: a very busy branch)
LOGINS_ROW = f"progress, {LOGIN_CLIENTS} logging in"
SEARCHES_ROW = f"progress, {SEARCH_CLIENTS} searching"
ENTERPRISES = 20  # enterprises writing drafts in the mixed workload (each draft reads its enterprise's others)
ENV = "EPORTCARD_BENCH_SERVER"  # url|schema|root, for the workers of the mixed-workload server


# ---- the server (runs in a subprocess) -----------------------------------------------------------------------

def _services(url: str, schema: str | None, root: str):
    import attrs

    from core.calendar import WorkCalendar
    from core.config import DatabaseSettings, PkiSettings, Settings, WebSettings
    from core.pki.ca import CertificateAuthority
    from core.plugins import get_plugin_manager
    from core.rulebook import Rulebook
    from core.services import Services
    from core.services.cards import CardKeys
    from core.store import open_store

    settings = attrs.evolve(Settings(root=root), database=DatabaseSettings(url=url),
                            web=WebSettings(secret_key=SECRET, login_attempts=10**9,
                                            login_attempts_per_address=10**9),
                            pki=PkiSettings(ca_dir=str(Path(root) / "ca")))
    store = open_store(url, Path(root) / "blobs", schema=schema)
    keys = None
    if (Path(root) / "ca").exists():
        keys = CardKeys(CertificateAuthority.load(Path(root) / "ca", CA_PASSPHRASE), bytes(range(32)))
    return Services(settings=settings, store=store, rulebook=Rulebook(get_plugin_manager(enabled=["shenzhen"])),
                    calendar=WorkCalendar(), card_keys=keys)


class _NeverKnown:
    """A change watch that never knows: the reply cache then makes every reply afresh."""

    def token(self, table: str = "applications") -> None:
        return None


def bench_app(url: str, schema: str | None, root: str):
    """The real app, plus ``/bench/bare`` (bare Starlette, outside the app), ``/bench/mw`` (inside it),
    ``/bench/static/...`` (StaticFiles) and ``/cold/...`` (a second instance of the app with its reply
    cache off)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from core.web.app import create_app
    from core.web.replies import ReplyCache

    async def hello(request):
        return JSONResponse({"state": "submitted", "acceptance_no": "WSZ0000001"})

    bare = Starlette(routes=[Route(BARE_PATH, hello),
                             Mount(STATIC_PREFIX, app=StaticFiles(directory=str(Path(root) / "static")))])
    real = create_app(_services(url, schema, root))
    real.router.routes.insert(0, Route(MIDDLEWARE_PATH, hello))
    cold = create_app(_services(url, schema, root))
    cold.state.web.replies = ReplyCache(_NeverKnown)

    async def dispatch(scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == BARE_PATH or path.startswith(STATIC_PREFIX + "/")):
            await bare(scope, receive, send)
        elif scope["type"] == "http" and path.startswith(COLD_PREFIX + "/"):
            inner = path[len(COLD_PREFIX):]
            await cold(dict(scope, path=inner, raw_path=inner.encode()), receive, send)
        else:
            await real(scope, receive, send)

    return dispatch


def worker_app():
    """The bench app in each worker of a multi-worker server (uvicorn's factory; settings from ENV)."""
    from core.web.app import settle

    url, schema, root = os.environ[ENV].split("|")
    app = bench_app(url, schema or None, root)
    settle()
    return app


def serve(port: int, url: str, schema: str, root: str, workers: int) -> None:
    import uvicorn

    from core.web.app import settle
    from core.web.cli import server_options

    options = {"host": "127.0.0.1", "port": port, "access_log": False, "log_level": "warning", **server_options()}
    if workers == 1:
        app = bench_app(url, schema or None, root)
        settle()  # as `eportcard serve` does
        uvicorn.run(app, **options)
    else:  # as `eportcard serve --workers N` does
        os.environ[ENV] = f"{url}|{schema}|{root}"
        sys.path.insert(0, str(Path(__file__).parent))
        uvicorn.run("bench_web:worker_app", factory=True, workers=workers, timeout_worker_healthcheck=120,
                    **options)


# ---- seeding -------------------------------------------------------------------------------------------------

def seed(url: str, schema: str | None, root: str) -> list[tuple[str, str, str]]:
    """COUNT applications in the Shenzhen branch, a CA with REVOKED revoked certificates and its published
    CRL (also as a static file); returns (acceptance_no, uscc, enterprise name) triples to query.

    Rows come from real Application aggregates through the repository's own column mapping, so the
    server reads them exactly as it reads rows it wrote itself; SQLAlchemy Core executemany makes it fast.
    """
    import attrs
    from sqlalchemy import insert

    from core.model import AppState
    from core.pki.ca import CertificateAuthority
    from core.samples import make_enrol
    from core.services.accounts import create_user
    from core.services.crl_publication import CrlPublisher
    from core.store.repos import ApplicationRepo
    from core.store.tables import applications, certificates

    services = _services(url, schema, root)
    services.store.upgrade()
    create_user(services, "bench-staff", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    templates = [make_enrol(n, operators=1 + n % 3) for n in range(1, 51)]
    for n in range(ENTERPRISES):  # the mixed workload's enterprises: none of the seeded rows are theirs
        own = make_enrol(90_000 + n).enterprise
        with services.store.transaction() as tx:
            tx.enterprises.save(own)
        create_user(services, f"bench-ent-{n}", PASSWORD, "enterprise", uscc=own.uscc, region="shenzhen",
                    mobile="13800000000")
    states = [AppState.SUBMITTED, AppState.ACCEPTED, AppState.IN_PRODUCTION, AppState.COMPLETED,
              AppState.REJECTED, AppState.DRAFT]
    rng = random.Random(7)
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    queries: list[tuple[str, str, str]] = []
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
            queries.append((number, app.enterprise.uscc, app.enterprise.name))
        if len(batch) == 5_000:
            with engine.begin() as conn:
                conn.execute(insert(applications), batch)
            batch = []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(applications), batch)
    ca = CertificateAuthority.init(Path(root) / "ca", "Bench CA", CA_PASSPHRASE, "ec-p256")
    rows = [{"serial": f"{n + 1:x}", "card_id": f"C{n}", "enterprise_uscc": "91440300MA5EXAMPLA", "kind": "legal",
             "subject": "", "not_before": now, "not_after": now + timedelta(days=3650),
             "status": "revoked", "reason": "keyCompromise", "revoked_at": now - timedelta(seconds=n), "pem": ""}
            for n in range(REVOKED)]
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(certificates), rows[start:start + 10_000])
    if services.store.dialect == "postgresql":
        # What autovacuum does to a live table: statistics, and the visibility map that lets the queue's
        # index-only scan skip the heap (right after a bulk load every index entry costs a heap visit).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE applications")
            conn.exec_driver_sql("VACUUM ANALYZE certificates")
    crl = CrlPublisher(services.store, ca, 24).current()
    (Path(root) / "static").mkdir()
    (Path(root) / "static" / "crl.der").write_bytes(crl.der)
    print(f"  seeded {COUNT:,} applications and {REVOKED:,} revoked certificates (CRL {len(crl.der):,} bytes) in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
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


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rotation_script(requests: list[tuple[str, str, dict[str, str], str]], directory: Path) -> Path:
    """A wrk Lua script that cycles through ``requests`` (method, path, headers, body), one each in turn."""
    items = ",\n".join("  {" + f"{_lua(m)}, {_lua(p)}, {{" + ", ".join(f"[{_lua(k)}]={_lua(v)}" for k, v in h.items())
                       + f"}}, {_lua(b) if b else 'nil'}" + "}" for m, p, h, b in requests)
    script = directory / f"rotate_{uuid.uuid4().hex[:8]}.lua"
    script.write_text(f"local requests = {{\n{items}\n}}\nlocal i = 0\n"
                      "request = function()\n  i = i % #requests + 1\n  local r = requests[i]\n"
                      "  return wrk.format(r[1], r[2], r[3], r[4])\nend\n")
    return script


def wrk(base: str, paths: list[str], seconds: int, workdir: Path, cookie: str = "",
        requests: list[tuple[str, str, dict[str, str], str]] | None = None) -> tuple[float, float, int]:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    headers = {"Cookie": cookie} if cookie else {}
    plan = requests or [("GET", p, headers, "") for p in paths]
    if len(plan) > 1 or plan[0][0] != "GET":
        command += ["-s", str(rotation_script(plan, workdir))]
    elif cookie:
        command += ["-H", f"Cookie: {cookie}"]
    result = subprocess.run([*command, base + plan[0][1]], capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout)


def measure(base: str, paths: list[str], workdir: Path, cookie: str = "",
            requests: list[tuple[str, str, dict[str, str], str]] | None = None) -> tuple[float, float, int]:
    wrk(base, paths, WARMUP, workdir, cookie, requests)  # connections, caches and the interpreter warm up
    return wrk(base, paths, DURATION, workdir, cookie, requests)


# ---- clients beside a measurement ----------------------------------------------------------------------------

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


def search_continuously(base: str, cookie: str, needles: list[str], stop) -> None:
    """One clerk searching every SEARCH_EVERY seconds, never from kept replies (the cold app)."""
    import httpx

    rng = random.Random(threading.get_ident())
    with httpx.Client(base_url=base, timeout=30, headers={"Cookie": cookie}) as client:
        while not stop.wait(SEARCH_EVERY):
            client.get(f"{COLD_PREFIX}/api/staff/queue", params={"q": rng.choice(needles)}).raise_for_status()


def background(kind: str, url: str, schema: str, base: str, stop, cookie: str = "",
               needles: list[str] | None = None) -> list[threading.Thread]:
    """The load beside a measurement: another process's writes, clients logging in, or clients searching."""
    if kind == "writes":
        ids = [f"B{i:09d}" for i in range(min(1000, COUNT))]
        return [threading.Thread(target=write_continuously, args=(url, schema, ids, stop))]
    if kind == "logins":
        return [threading.Thread(target=log_in_continuously, args=(base, stop)) for _ in range(LOGIN_CLIENTS)]
    if kind == "searches":
        return [threading.Thread(target=search_continuously, args=(base, cookie, needles or [], stop))
                for _ in range(SEARCH_CLIENTS)]
    return []


# ---- servers -------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, schema: str, root: str, workers: int = 1) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), url, schema, root, str(workers)],
                            cwd=str(ROOT))
    base = f"http://127.0.0.1:{port}"
    ends = time.monotonic() + 180
    while time.monotonic() < ends:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            httpx.get(base + BARE_PATH, timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def session(base: str, username: str) -> tuple[str, str]:
    """Log in once through the JSON API: (Cookie header value, CSRF token)."""
    import httpx

    from core.web.app import SESSION_COOKIE

    reply = httpx.post(base + "/api/session", json={"username": username, "password": PASSWORD})
    reply.raise_for_status()
    return f"{SESSION_COOKIE}={reply.cookies[SESSION_COOKIE]}", reply.json()["csrf_token"]


def check_replies(base: str, cookie: str, progress: list[str], queue: list[str], html: str) -> None:
    """One request of each kind must answer 200 with the expected body before we time anything."""
    import httpx

    reply = httpx.get(base + progress[0])
    if reply.status_code != 200 or "history" not in reply.json():
        raise RuntimeError(f"progress query failed: {reply.status_code} {reply.text[:200]}")
    reply = httpx.get(base + queue[0], headers={"Cookie": cookie})
    if reply.status_code != 200 or len(reply.json()["items"]) == 0:
        raise RuntimeError(f"staff queue failed: {reply.status_code} {reply.text[:200]}")
    reply = httpx.get(base + html, headers={"Cookie": cookie})
    if reply.status_code != 200 or "data-app-id" not in reply.text:
        raise RuntimeError(f"HTML staff queue failed: {reply.status_code} {reply.text[:200]}")
    reply = httpx.get(base + "/pki/crl.der")
    if reply.status_code != 200 or reply.content != httpx.get(base + STATIC_PREFIX + "/crl.der").content:
        raise RuntimeError(f"the CRL differs from the static file: {reply.status_code}")


def verdict(ratio: float, p99: float) -> str:
    return "ok" if ratio >= 0.5 and p99 < 50 else "BELOW TARGET"


# ---- the run ------------------------------------------------------------------------------------------------------

def mixed_requests(progress: list[str], queue: list[str], needles: list[str], staff: str,
                   enterprises: list[tuple[str, str]]) -> list[tuple[str, str, dict[str, str], str]]:
    """500 requests in the proportions of a working day: some 72% progress queries, 14% queue pages, 6%
    searches, 6% new drafts (written with their audit row, by ENTERPRISES enterprises in turn) and one
    login (an argon2 check: a core for some 100 ms; logins are bounded to cores - 1 at once, so more of
    them only queue)."""
    login = ("POST", "/api/session", {"Content-Type": "application/json"},
             f'{{"username": "bench-staff", "password": "{PASSWORD}"}}')
    plan: list[tuple[str, str, dict[str, str], str]] = []
    for n in range(500):
        if n == 499:
            plan.append(login)
        elif n % 17 == 16:
            cookie, csrf = enterprises[n % len(enterprises)]
            plan.append(("POST", "/api/applications", {"Cookie": cookie, "X-CSRF-Token": csrf,
                                                       "Content-Type": "application/json"}, '{"business": "enrol"}'))
        elif n % 16 == 15:
            plan.append(("GET", f"{COLD_PREFIX}/api/staff/queue?q={needles[n % len(needles)]}", {"Cookie": staff}, ""))
        elif n % 7 == 6:
            plan.append(("GET", queue[n % len(queue)], {"Cookie": staff}, ""))
        else:
            plan.append(("GET", progress[n % len(progress)], {}, ""))
    return plan


def run_backend(name: str, url: str, schema: str) -> dict[str, tuple[float, float, int]]:
    print(f"\n== {name} ==", flush=True)
    results: dict[str, tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory() as root:
        workdir = Path(root)
        if name == "sqlite":
            url = f"sqlite:///{workdir / 'bench.db'}"
        queries = seed(url, schema or None, root)
        progress = [f"/api/progress?acceptance_no={no}&uscc={uscc}" for no, uscc, _ in queries]
        queue = [f"/api/staff/queue?page={p}&per_page=20" for p in range(1, 11)] + \
            [f"/api/staff/queue?state=submitted&page={p}" for p in range(1, 6)]
        html_queue = [f"/staff?page={p}" for p in range(1, 11)]
        from urllib.parse import quote

        # What staff type: acceptance numbers, whole or their last digits (bench_store times names and people
        # over varied data; here every enterprise is one of 50 samples, so a name would match thousands).
        needles = [quote(q) for no, _, _ in queries[:50] for q in (no, no[-6:])]
        server, base = start_server(url, schema, root)
        try:
            cookie, _ = session(base, "bench-staff")
            check_replies(base, cookie, progress, queue, html_queue[0])
            cold = [COLD_PREFIX + p for p in progress], [COLD_PREFIX + p for p in queue]
            searches = [f"{COLD_PREFIX}/api/staff/queue?q={n}" for n in needles]
            plan = [("bare Starlette JSON", [BARE_PATH], "", ""),
                    ("app middleware only", [MIDDLEWARE_PATH], "", ""),
                    ("  + staff session", [MIDDLEWARE_PATH], cookie, ""),
                    ("progress query", progress, "", ""),
                    ("staff queue", queue, cookie, ""),
                    ("progress, uncached", cold[0], "", ""),
                    ("queue, uncached", cold[1], cookie, ""),
                    (f"queue, {WRITES_PER_SECOND} writes/s", queue, cookie, "writes"),
                    (LOGINS_ROW, progress, "", "logins"),
                    ("staff queue HTML", html_queue, cookie, ""),
                    ("searches (uncached)", searches, cookie, ""),
                    (SEARCHES_ROW, progress, "", "searches"),
                    ("static file (CRL bytes)", [STATIC_PREFIX + "/crl.der"], "", ""),
                    ("CRL GET /pki/crl.der", ["/pki/crl.der"], "", "")]
            for label, paths, with_cookie, beside in plan:
                stop = threading.Event()
                threads = background(beside, url, schema, base, stop, cookie, needles)
                for thread in threads:
                    thread.start()
                try:
                    results[label] = measure(base, paths, workdir, with_cookie)
                finally:
                    stop.set()
                    for thread in threads:
                        thread.join()
                report(label, results)
        finally:
            server.terminate()
            server.wait(30)
        if "--skip-workers" not in sys.argv:
            for workers in (1, 2):
                server, base = start_server(url, schema, root, workers)
                try:
                    staff, _ = session(base, "bench-staff")
                    mixed = mixed_requests(progress, queue, needles, staff,
                                           [session(base, f"bench-ent-{n}") for n in range(ENTERPRISES)])
                    label = f"mixed, {workers} worker{'s' if workers > 1 else ''}"
                    results[label] = measure(base, [], workdir, requests=mixed)
                    report(label, results)
                finally:
                    server.terminate()
                    server.wait(30)
            one, two = results["mixed, 1 worker"], results["mixed, 2 workers"]
            print(f"  mixed workload: 2 workers {two[0] / one[0]:4.2f}x the requests per second of 1, p99 "
                  f"{one[1]:.1f} -> {two[1]:.1f} ms (2 cores, the load generator on them too)", flush=True)
    return results


def report(label: str, results: dict[str, tuple[float, float, int]]) -> None:
    rps, p99, failed = results[label]
    ratio = rps / results["bare Starlette JSON"][0] if "bare Starlette JSON" in results else 0.0
    target = ""
    if label in ("progress query", "staff queue", "staff queue HTML"):
        target = f"   {verdict(ratio, p99)} (>= 0.5 of bare)"
    elif label == LOGINS_ROW:
        target = f"   p99 {p99 / results['progress query'][1]:4.2f}x without logins (<= 2)"
    elif label == SEARCHES_ROW:
        target = f"   p99 {p99 / results['progress query'][1]:4.2f}x without searches (<= 2)"
    elif label.startswith("CRL GET"):
        static = results["static file (CRL bytes)"][0]
        target = f"   {static / rps:4.2f}x the static file's time per request (<= 1.2)"
    print(f"  {label:24} {rps:8.0f} req/s   p99 {p99:7.1f} ms   ratio {ratio:4.2f}{target}"
          f"{f'   {failed} FAILED' if failed else ''}", flush=True)


def main() -> None:
    from core.web.cli import server_options

    if shutil.which("wrk") is None:
        sys.exit("bench_web needs wrk (Debian: apt-get install -y wrk; see scripts/install-system.sh)")
    options = server_options()
    print(f"bench_web: {COUNT:,} applications; wrk -t1 -c{CONNECTIONS} -d{DURATION}s --latency "
          f"(after a {WARMUP} s warm-up); uvicorn loop={options['loop']}, http={options['http']}, "
          "no access log; ratios against a bare Starlette JSON endpoint in the same process")
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
        for label in ("progress query", "staff queue", "staff queue HTML"):
            rps, p99, _ = results[label]
            print(f"  {backend:10} {label:17} ratio {rps / bare:4.2f} (>= 0.5)   p99 {p99:6.1f} ms (< 50)   "
                  f"{verdict(rps / bare, p99)}")
        alone = results["progress query"][1]
        for row, what in ((LOGINS_ROW, f"{LOGIN_CLIENTS} clients logging in"),
                          (SEARCHES_ROW, f"{SEARCH_CLIENTS} clients searching")):
            times = results[row][1] / alone
            print(f"  {backend:10} progress p99 with {what}: {times:4.2f}x the p99 without (<= 2)   "
                  f"{'ok' if times <= 2 else 'ABOVE TARGET'}")
        crl = results["static file (CRL bytes)"][0] / results["CRL GET /pki/crl.der"][0]
        print(f"  {backend:10} CRL GET {crl:4.2f}x a static file's time per request (<= 1.2)   "
              f"{'ok' if crl <= 1.2 else 'ABOVE TARGET'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        main()
