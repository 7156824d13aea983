"""Logins and sessions under attack (issue #9, items 2, 3, 6, 9, 10): a logged-out or forged cookie
opens nothing, in any process; login limits are atomic and not reset by unrelated successes; the
answers do not tell which usernames exist; a flood of logins never holds the database's write lock;
a busy database answers 503, never 500."""

from __future__ import annotations

import json
import sqlite3
from base64 import b64encode
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import itsdangerous
import pytest
from starlette.testclient import TestClient
from webkit import PASSWORD, api_client, enterprise, make_services, post, registration, staff

from core.errors import Forbidden
from core.services import accounts
from core.services.accounts import create_user
from core.store import Store
from core.store.testing import other_store, temporary_store
from core.web.app import SESSION_COOKIE, create_app


@pytest.fixture
def both(store: Store, tmp_path: Path, clock):
    """Services on SQLite and PostgreSQL (the ``store`` fixture runs each test on both)."""
    return make_services(store, tmp_path, clock)


def _replay(cookie: str, app) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def _audit_actions(services, action: str) -> list:
    with services.store.transaction(readonly=True) as tx:
        return [e for e in tx.audit.all(limit=10_000) if e.action == action]


# ---- item 2: logout ends the session on the server ----------------------------------------------------------

def test_a_replayed_cookie_opens_nothing_after_logout_in_any_process(both, tmp_path: Path) -> None:
    client, csrf = enterprise(both, 1)
    saved = client.cookies[SESSION_COOKIE]
    assert client.delete("/api/session", headers=csrf).status_code == 204
    with other_store(both.store, tmp_path / "other") as other:
        second_worker = create_app(attrs.evolve(both, store=other))
        for app in (create_app(both), second_worker):
            replay = _replay(saved, app)
            assert replay.get("/api/session").status_code == 401
            assert replay.post("/api/applications", headers=csrf, json={"business": "enrol"}).status_code == 401
    assert [e.payload["address"] for e in _audit_actions(both, "logout")] == ["testclient"]


def test_the_logout_form_ends_the_session_too(both) -> None:
    client = TestClient(create_app(both), base_url="http://testserver")
    assert post(client, "/portal/register", registration(1)).status_code == 303
    assert post(client, "/portal/login", {"username": "ent1", "password": PASSWORD}).status_code == 303
    saved = client.cookies[SESSION_COOKIE]
    assert post(client, "/logout", token_from="/portal").status_code == 303
    assert _replay(saved, create_app(both)).get("/portal", follow_redirects=False).status_code == 303


def test_log_out_everywhere_ends_every_session_of_the_account(both) -> None:
    first, csrf = enterprise(both, 1)
    second, _ = api_client(both, "ent1")
    other_account, _ = enterprise(both, 2)
    assert first.delete("/api/sessions", headers=csrf).status_code == 204
    assert second.get("/api/session").status_code == 401
    assert first.get("/api/session").status_code == 401
    assert other_account.get("/api/session").status_code == 200


# ---- item 3: a forged session resolves to nothing ----------------------------------------------------------

def _forged(secret: str, payload: dict) -> str:
    return itsdangerous.TimestampSigner(secret).sign(b64encode(json.dumps(payload).encode())).decode()


@pytest.mark.parametrize("extra", [{"epoch": None}, {"epoch": 0}, {"sid": "made-up"}, {}])
def test_a_cookie_signed_with_the_key_but_made_up_is_refused(both, extra: dict) -> None:
    admin, _ = staff(both, ["branch_admin"])
    real = admin.get("/api/session").json()["user"]
    ghost = {"id": "0000000000000000", "username": "ghost-admin", "kind": "staff", "region": "shenzhen",
             "roles": ["branch_admin"], "display_name": "", "auth_method": "password"}
    app = create_app(both)
    for user in (ghost, real | {"roles": ["branch_admin"]}):
        cookie = _forged(both.settings.web.secret_key, {"user": user, "csrf_token": "t", **extra})
        forged = _replay(cookie, app)
        assert forged.get("/api/session").status_code == 401
        page = forged.post("/staff/accounts", data={"csrf_token": "t", "username": "mallory", "password": PASSWORD,
                                                    "roles": "branch_admin"}, follow_redirects=False)
        assert page.status_code in (303, 401, 403) and "/staff/login" in page.headers.get("location", "/staff/login")
    with both.store.transaction(readonly=True) as tx:
        from core.store.accounts import Accounts

        assert Accounts(tx).by_username("mallory") is None


# ---- items 9 and 10: limits that hold, and say nothing about who exists ------------------------------------

def _limited(services, per_address: int = 50):
    return attrs.evolve(services, settings=attrs.evolve(services.settings, web=attrs.evolve(
        services.settings.web, login_attempts_per_address=per_address)))


def test_a_successful_login_does_not_reset_the_address_limit(both) -> None:
    services = _limited(both, per_address=3)
    create_user(services, "ent1", PASSWORD, "enterprise", uscc="x", region="shenzhen")
    client = TestClient(create_app(services), base_url="http://testserver")
    answers = []
    for n in range(4):
        answers.append(client.post("/api/session", json={"username": f"nobody{n}", "password": "x"}).json())
        assert client.post("/api/session", json={"username": "ent1", "password": PASSWORD}).status_code in (200, 403)
    assert "15" in answers[-1]["error"]["en"] and "Too many" in answers[-1]["error"]["en"]


def test_parallel_guesses_check_no_more_passwords_than_the_limit(both) -> None:
    create_user(both, "victim", PASSWORD, "enterprise", uscc="x", region="shenzhen")
    limit = both.settings.web.login_attempts

    def guess(n: int) -> str:
        try:
            both.accounts.authenticate("victim", f"wrong-{n}", f"10.0.0.{n}")
        except Forbidden as exc:
            return exc.en
        return "in"

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(guess, range(40)))
    assert answers.count("Wrong username or password.") == limit
    assert len(_audit_actions(both, "login_failed")) == limit  # every checked guess is audited, with its address
    with pytest.raises(Forbidden, match="Too many"):
        both.accounts.authenticate("victim", PASSWORD, "10.0.1.1")


def test_an_unknown_username_is_answered_exactly_like_a_real_one(both) -> None:
    create_user(both, "real-user", PASSWORD, "enterprise", uscc="x", region="shenzhen")
    client = TestClient(create_app(both), base_url="http://testserver")

    def story(username: str) -> list[tuple[int, str]]:
        replies = [client.post("/api/session", json={"username": username, "password": "wrong-pass1"})
                   for _ in range(both.settings.web.login_attempts + 2)]
        return [(r.status_code, r.json()["error"]["en"]) for r in replies]

    assert story("real-user") == story("no-such-user")


def test_password_reset_answers_the_same_for_real_and_made_up_details(client, services) -> None:
    from webkit import last_code

    assert post(client, "/portal/register", registration(1)).status_code == 303
    real, fake = {"username": "ent1", "mobile": "13800000000"}, {"username": "ent1", "mobile": "13800000009"}

    def step_one(details):
        return post(client, "/portal/password-reset/code", details, token_from="/portal/password-reset")

    def step_two(details, code: str):
        return post(client, "/portal/password-reset", details | {"sms_code": code, "password": "NewPassw0rd",
                                                                 "password2": "NewPassw0rd"},
                    token_from="/portal/password-reset")

    for attempt in range(2):  # the second request comes within the 60-second resend guard
        a, b = step_one(real), step_one(fake)
        assert (a.status_code, a.text.replace("13800000000", "")) == (b.status_code, b.text.replace("13800000009", "")), attempt
    code = last_code(services, "13800000000")
    wrong = "000000" if code != "000000" else "111111"
    a, b = step_two(real, wrong), step_two(fake, wrong)
    assert a.status_code == b.status_code == 403
    assert a.text.replace("13800000000", "") == b.text.replace("13800000009", "")
    assert step_two(real, code).status_code == 303  # the right code still works


# ---- item 6: the password is checked outside any transaction; a busy database is a 503 ---------------------

def test_a_login_holds_no_database_lock_while_the_password_is_checked(tmp_path: Path, clock, monkeypatch) -> None:
    with temporary_store("sqlite", tmp_path) as store:
        services = make_services(store, tmp_path, clock)
        create_user(services, "ent1", PASSWORD, "enterprise", uscc="x", region="shenzhen")
        database = store.engine.url.database
        writes: list[str] = []
        real_verify = accounts.verify_password

        def verify_while_another_process_writes(password_hash: str, password: str) -> bool:
            other = sqlite3.connect(database, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # fails at once if the login holds the write lock
                other.execute("ROLLBACK")
                writes.append("ok")
            finally:
                other.close()
            return real_verify(password_hash, password)

        monkeypatch.setattr(accounts, "verify_password", verify_while_another_process_writes)
        services.accounts.authenticate("ent1", PASSWORD, "127.0.0.1")
        with pytest.raises(Forbidden):
            services.accounts.authenticate("ent1", "wrong-pass1", "127.0.0.1")
        assert writes == ["ok", "ok"]


def test_a_database_locked_past_its_busy_timeout_answers_503_and_changes_nothing(tmp_path: Path, clock,
                                                                                  monkeypatch) -> None:
    import core.store.store as store_module

    monkeypatch.setattr(store_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    with temporary_store("sqlite", tmp_path) as store:
        services = make_services(store, tmp_path, clock)
        create_user(services, "ent1", PASSWORD, "enterprise", uscc="x", region="shenzhen")
        client = TestClient(create_app(services), base_url="http://testserver")
        holder = sqlite3.connect(store.engine.url.database, timeout=0, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            answer = client.post("/api/session", json={"username": "ent1", "password": PASSWORD})
            page = post(client, "/portal/login", {"username": "ent1", "password": PASSWORD})
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert answer.status_code == 503 and answer.headers["retry-after"]
        assert "busy" in answer.json()["error"]["en"] and answer.json()["error"]["zh"]
        assert page.status_code == 503 and "The system is busy" in page.text
        assert _audit_actions(services, "login") == []
        assert client.post("/api/session", json={"username": "ent1", "password": PASSWORD}).status_code == 200
