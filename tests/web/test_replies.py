"""The kept replies of the progress query and the staff queue (core/web/replies.py) on both backends: a kept
reply is served only while nothing changed; this process's writes show at once; another worker's writes show
as soon as the store's change token moves; who may see what is checked before anything kept is served; errors
are never kept."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.responses import JSONResponse
from starlette.testclient import TestClient
from webkit import SYSTEM, make_services, staff, submitted

from core.services import Actor, Services
from core.store import Store
from core.store.testing import other_store
from core.web.api import summary_json
from core.web.app import create_app

SETTLES_WITHIN = 10.0  # seconds for a PostgreSQL notification to reach the listener (a wait, not a timing)


def _eventually(probe: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + SETTLES_WITHIN
    while not probe():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@contextmanager
def _another_worker(services: Services, tmp_path: Path, clock) -> Iterator[Services]:
    """Services over their own engine and pool on the same database: another web worker."""
    with other_store(services.store, tmp_path / "worker-blobs") as other:
        yield make_services(other, tmp_path / "worker", clock)


def _listening(services: Services) -> None:
    from core.store.changes import PostgresWatch

    watch = services.store.changes
    if isinstance(watch, PostgresWatch):
        assert watch.wait_listening(SETTLES_WITHIN)


def test_progress_shows_another_workers_change(store: Store, tmp_path: Path, clock):
    services = make_services(store, tmp_path, clock)
    app = services.applications.get(submitted(services, 1), SYSTEM)
    _listening(services)
    client = TestClient(create_app(services))
    query = {"acceptance_no": app.acceptance_no, "uscc": app.enterprise.uscc}
    first = client.get("/api/progress", params=query)
    assert first.json()["state"] == "submitted"
    assert client.get("/api/progress", params=query).content == first.content  # kept

    with _another_worker(services, tmp_path, clock) as worker:
        worker.applications.accept(app.id, SYSTEM)
    _eventually(lambda: client.get("/api/progress", params=query).json()["state"] == "accepted",
                "the progress reply still shows the state before another worker's change")
    assert [h["action"] for h in client.get("/api/progress", params=query).json()["history"]][-1] == "accept"


def test_the_queue_shows_this_processs_writes_at_once(store: Store, tmp_path: Path, clock):
    services = make_services(store, tmp_path, clock)
    first, second = submitted(services, 1), submitted(services, 2)
    _listening(services)
    client, csrf = staff(services, ["reviewer"])
    assert {r["id"] for r in client.get("/api/staff/queue?state=submitted").json()["items"]} == {first, second}
    version = client.get(f"/api/applications/{first}").json()["version"]
    assert client.post(f"/api/applications/{first}/accept", headers=csrf, json={"version": version}).status_code == 200
    # no waiting: this process's own write retires what was kept before the reply to the POST is sent
    assert [r["id"] for r in client.get("/api/staff/queue?state=submitted").json()["items"]] == [second]


def test_the_queue_shows_another_workers_write(store: Store, tmp_path: Path, clock):
    services = make_services(store, tmp_path, clock)
    app_id = submitted(services, 1)
    _listening(services)
    client, _ = staff(services, ["reviewer"])
    assert [r["state"] for r in client.get("/api/staff/queue").json()["items"]] == ["submitted"]
    with _another_worker(services, tmp_path, clock) as worker:
        worker.applications.accept(app_id, SYSTEM)
    _eventually(lambda: [r["state"] for r in client.get("/api/staff/queue").json()["items"]] == ["accepted"],
                "the queue still shows the state before another worker's change")


def test_a_kept_queue_is_never_served_to_another_branch_or_to_nobody(store: Store, tmp_path: Path, clock):
    services = make_services(store, tmp_path, clock)
    mine = submitted(services, 1)
    _listening(services)
    app = create_app(services)  # one app and one cache; the same query string for both branches
    shenzhen, _ = staff(services, ["reviewer"], app=app)
    changchun, _ = staff(services, ["reviewer"], region="changchun", app=app)
    for client, expected in ((shenzhen, [mine]), (changchun, []), (shenzhen, [mine])):
        assert [r["id"] for r in client.get("/api/staff/queue?page=1").json()["items"]] == expected
    anonymous = TestClient(app)
    assert anonymous.get("/api/staff/queue?page=1").status_code == 401


def test_progress_is_never_served_for_a_wrong_uscc_and_errors_are_not_kept(store: Store, tmp_path: Path, clock):
    services = make_services(store, tmp_path, clock)
    app = services.applications.get(submitted(services, 1), SYSTEM)
    client = TestClient(create_app(services))
    right = {"acceptance_no": app.acceptance_no, "uscc": app.enterprise.uscc}
    wrong = right | {"uscc": "91440300MA0000002X"}
    for _ in range(2):
        assert client.get("/api/progress", params=right).status_code == 200
        assert client.get("/api/progress", params=wrong).status_code == 404
    reviewer, _ = staff(services, ["reviewer"])
    for _ in range(2):
        bad = reviewer.get("/api/staff/queue?page=x")
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "page"


def test_the_queue_body_is_what_jsonresponse_would_send(store: Store, tmp_path: Path, clock):
    services = make_services(store, tmp_path, clock)
    for n in range(1, 4):
        submitted(services, n)
    client, _ = staff(services, ["reviewer"])
    sent = client.get("/api/staff/queue?per_page=2").content
    user = Actor(id="reviewer", kind="staff", region="shenzhen", roles=frozenset({"reviewer"}))
    rows, cursor = services.applications.queue_page_after(user, "", "", "", 2)  # the first page: a keyset read
    today = services.today()
    more = cursor is not None
    content = {"items": [summary_json(r.summary, today) | {"overdue": r.overdue} for r in rows], "page": 1,
               "more": more, "next": cursor}
    assert more and len(rows) == 2
    assert sent == JSONResponse(content).body
    assert json.loads(sent) == content


# ---- the cache itself, over the in-memory store's watch (LocalWatch) ------------------------------------------

class _Unknown:
    """A watch that cannot tell (a PostgreSQL listener without its connection)."""

    def token(self) -> None:
        return None


def _counting(bodies: list[bytes]) -> Callable[[], bytes]:
    def make() -> bytes:
        bodies.append(b"x%d" % len(bodies))
        return bodies[-1]
    return make


def test_kept_until_the_token_moves_and_never_when_it_is_unknown():
    from core.store.changes import LocalWatch
    from core.web.replies import ReplyCache

    watch, made = LocalWatch(), []
    cache = ReplyCache(lambda: watch)
    assert [cache.body("k", _counting(made)) for _ in range(3)] == [b"x0"] * 3
    watch.bump()
    assert cache.body("k", _counting(made)) == b"x1" and cache.body("other", _counting(made)) == b"x2"
    unknown = ReplyCache(_Unknown)
    assert [unknown.body("k", _counting(made)) for _ in range(2)] == [b"x3", b"x4"]


def test_errors_are_not_kept_and_the_byte_budget_holds():
    from core.errors import NotFound
    from core.store.changes import LocalWatch
    from core.web.replies import ReplyCache

    watch = LocalWatch()
    cache = ReplyCache(lambda: watch, budget=10)

    def missing() -> bytes:
        raise NotFound("没有", "none", field="k")

    for _ in range(2):
        with pytest.raises(NotFound):
            cache.body("gone", missing)
    made: list[bytes] = []
    cache.body("a", lambda: b"123456")
    cache.body("b", lambda: b"abcdef")  # over the budget: what was kept is dropped first
    assert cache.body("a", _counting(made)) == b"x0" and made == [b"x0"]
    assert cache.body("a", _counting(made)) == b"x0"  # kept again
