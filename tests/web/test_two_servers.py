"""Two web servers on one PostgreSQL, as two machines behind a load balancer: each is the installed
`eportcard serve` (one of them with --workers 2), and a client goes to either. Sessions, kept replies,
login limits and scheduled jobs hold across them: what one process knows, every other learns through
the database."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from core.cli import main
from core.config import load_settings
from core.samples import make_enrol
from core.services import Services
from core.services.accounts import create_user
from core.services.actors import Actor
from core.store.testing import pg_url

PASSWORD = "Two-servers-passw0rd"
SYSTEM = Actor(id="system", kind="system")
DEADLINE = 60.0  # seconds a condition may take before the test fails (never a timing assertion)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Until ``condition()`` holds; fail after DEADLINE (a notification crosses processes in milliseconds)."""
    ends = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > ends:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Path]:
    """A deployment whose database is a fresh schema of the test PostgreSQL (fails, never skips, without it)."""
    schema = f"two_{os.getpid()}_{int(time.monotonic() * 1000) % 10**8}"
    admin = create_engine(pg_url())
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    config = tmp_path / "eportcard.toml"
    made = CliRunner().invoke(main, ["-c", str(config), "init", "--region", "shenzhen", "--enable", "shenzhen"])
    assert made.exit_code == 0, made.output
    url = pg_url() + ("&" if "?" in pg_url() else "?") + f"options=-csearch_path%3D{schema}"
    body = config.read_text().replace("[database]\n", f'[database]\nurl = "{url}"\n', 1)
    body = re.sub(r"(?m)^\[web\]\n", "[web]\nlogin_attempts = 3\n", body, count=1)
    config.write_text(body)
    try:
        yield config
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def servers(deployment: Path) -> Iterator[tuple[str, str]]:
    exe = shutil.which("eportcard")
    assert exe, "the eportcard console script is not installed"
    env = {k: v for k, v in os.environ.items() if k != "EPORTCARD_CONFIG"}
    started, bases = [], []
    try:
        for extra in ((), ("--workers", "2")):
            port = free_port()
            started.append(subprocess.Popen([exe, "-c", str(deployment), "serve", "--port", str(port),
                                             "--no-access-log", *extra], env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, text=True))
            bases.append(f"http://127.0.0.1:{port}")
        for process, base in zip(started, bases, strict=True):
            def answers(base: str = base, process: subprocess.Popen = process) -> bool:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                try:
                    return httpx.get(base + "/readyz", timeout=2).status_code == 200
                except httpx.TransportError:
                    return False
            wait_for(answers, f"{base} ready")
        yield bases[0], bases[1]
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def services(deployment: Path) -> Iterator[Services]:
    made = Services.from_settings(load_settings(deployment), upgrade=True)
    yield made
    made.store.dispose()


def login(base: str, cookies: httpx.Cookies | None = None, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(base + "/api/session", json={"username": "clerk", "password": password}, cookies=cookies)


def test_sessions_replies_login_limits_and_jobs_hold_across_two_servers(servers, services: Services,
                                                                       deployment: Path):
    a, b = servers
    create_user(services, "clerk", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    app_id = services.applications.submit(services.applications.create(make_enrol(1), SYSTEM).id, SYSTEM).id

    # A session made on one server is good on the other, and ends on both when it ends on either.
    logged = login(a)
    assert logged.status_code == 200
    cookies, csrf = logged.cookies, {"X-CSRF-Token": logged.json()["csrf_token"]}
    for base in (a, b, a):
        queue = httpx.get(base + "/api/staff/queue", cookies=cookies)
        assert queue.status_code == 200 and [i["state"] for i in queue.json()["items"]] == ["submitted"]

    # A change made through one server is in the other's kept queue reply (within a notification's trip).
    version = httpx.get(f"{b}/api/applications/{app_id}", cookies=cookies).json()["version"]
    accepted = httpx.post(f"{b}/api/applications/{app_id}/accept", json={"version": version}, cookies=cookies,
                          headers=csrf)
    assert accepted.status_code == 200, accepted.text
    wait_for(lambda: [i["state"] for i in httpx.get(a + "/api/staff/queue", cookies=cookies).json()["items"]]
             == ["accepted"], "server A's kept queue reply shows the accept made through B")

    assert httpx.request("DELETE", b + "/api/session", cookies=cookies, headers=csrf).status_code in (200, 204)
    assert httpx.get(a + "/api/staff/queue", cookies=cookies).status_code == 401

    # Failed logins count on both together: three wrong passwords spread over them, then neither lets in.
    assert [login(base, password="wrong").status_code for base in (a, b, a)] == [403, 403, 403]
    for base in (b, a):
        refused = login(base)  # the right password too: the account is throttled everywhere
        assert refused.status_code == 403 and refused.json()["error"]["en"].startswith("Too many tries"), refused.text

    # A scheduled job runs once however many runners start at once (the jobs table's lease).
    exe = shutil.which("eportcard")
    assert exe
    runners = [subprocess.Popen([exe, "-c", str(deployment), "jobs", "run-due"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for runner in runners:
        runner.wait(120)
    with services.store.engine.connect() as conn:
        runs = dict(conn.execute(text("SELECT name, runs FROM jobs")).all())
    assert runs and set(runs.values()) == {1}, runs
