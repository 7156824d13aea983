"""No handler blocks the event loop (issue #10 item 3): every route either runs in the thread pool
or is on a short list of handlers that only await; and a login checking its password in one request
does not hold up another request."""

from __future__ import annotations

import inspect
import threading

from starlette.routing import Route
from starlette.testclient import TestClient
from webkit import PASSWORD

from core.services import accounts
from core.services.accounts import create_user
from core.web.app import create_app

# Handlers that stay on the loop: each awaits only I/O it hands to the thread pool itself, or none.
ON_THE_LOOP = {
    "core.pki.ocsp.ocsp_routes.<locals>.post": "reads the body, answers in the thread pool",
    "core.pki.ocsp.ocsp_routes.<locals>.get": "answers in the thread pool",
    "core.web.ops.healthz": "touches nothing: the process is alive",
}


def _name(endpoint) -> str:
    return f"{endpoint.__module__}.{endpoint.__qualname__}"


def test_every_route_runs_its_blocking_work_in_the_thread_pool(services) -> None:
    app = create_app(services)
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert len(routes) > 60
    on_the_loop = [_name(r.endpoint) for r in routes if inspect.iscoroutinefunction(r.endpoint)
                   and not hasattr(r.endpoint, "blocking") and _name(r.endpoint) not in ON_THE_LOOP]
    assert on_the_loop == []


def test_a_login_checking_its_password_holds_up_no_other_request(services, monkeypatch) -> None:
    create_user(services, "ent1", PASSWORD, "enterprise", uscc="x", region="shenzhen")
    checking, release = threading.Event(), threading.Event()
    real_verify = accounts.verify_password

    def slow_verify(password_hash: str, password: str) -> bool:
        checking.set()
        release.wait(60)  # held until the other request has been answered
        return real_verify(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", slow_verify)
    with TestClient(create_app(services), base_url="http://testserver") as client:
        answers: list[int] = []
        login = threading.Thread(target=lambda: answers.append(
            client.post("/api/session", json={"username": "ent1", "password": PASSWORD}).status_code))
        login.start()
        assert checking.wait(60)
        answered = threading.Event()
        other = threading.Thread(target=lambda: answers.append(client.get("/api/regions").status_code)
                                 or answered.set())
        other.start()
        try:  # with the login on the event loop, nothing is answered until its password check ends
            assert answered.wait(60), "another request waited for a login's password check"
        finally:
            release.set()
            login.join(60)
            other.join(60)
    assert sorted(answers) == [200, 200]


def test_kept_replies_answered_on_the_loop_still_check_the_session(services) -> None:
    from webkit import staff, submitted

    from core.web.app import SESSION_COOKIE

    submitted(services, 1)
    app = create_app(services)
    clerk, csrf = staff(services, ["reviewer"], app=app)
    first = clerk.get("/api/staff/queue")
    assert first.status_code == 200 and first.json()["items"]
    assert clerk.get("/api/staff/queue").content == first.content  # now answered from what was kept
    saved = clerk.cookies[SESSION_COOKIE]
    assert clerk.delete("/api/session", headers=csrf).status_code == 204
    replay = TestClient(app, base_url="http://testserver")
    replay.cookies.set(SESSION_COOKIE, saved)
    assert replay.get("/api/staff/queue").status_code == 401
