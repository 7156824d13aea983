"""Issue #20 item 3: logs an operator can use. Every request has an id (a sane incoming X-Request-ID is
kept) returned in X-Request-ID and one access line (time, level, logger, request id, method, path,
status, duration), as text or JSON; an unhandled error logs one traceback with its request id and
answers in both languages (JSON under /api, a page elsewhere); no secret reaches the log, whatever
the request or the traceback held."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from starlette.testclient import TestClient
from webkit import PASSWORD, enterprise, free_port, registration, registration_code, serving

from core.samples import make_enrol, make_person
from core.services import Services
from core.services.accounts import AccountService
from core.services.applications import ApplicationService
from core.web.app import create_app
from core.web.logs import configured_logging
from core.web.security import SECURITY_HEADERS

DB_PASSWORD = "DbS3cret-pw-2026"
DB_URL = f"postgresql+psycopg://eportcard:{DB_PASSWORD}@db.internal/eportcard"
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"


@contextmanager
def captured(log_format: str = "text", level: int = logging.INFO, secrets: tuple[str, ...] = ()) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    with configured_logging(log_format, secrets=("test-secret-key", DB_PASSWORD, *secrets), stream=stream):
        if level < logging.INFO:
            logging.getLogger().setLevel(level)  # every library's debug lines too: nothing may slip through
        yield stream


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_every_request_gets_an_id_and_one_access_line(client: TestClient):
    with captured("json") as stream:
        answer = client.get("/regions/shenzhen?lang=en&secret=x")
        kept = client.get("/", headers={"X-Request-ID": "edge-7f3a.1"})
        refused = client.get("/", headers={"X-Request-ID": "bad id\nINFO forged line"})
        missing = client.get("/no/such/page")
    rid = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", rid)
    assert kept.headers["x-request-id"] == "edge-7f3a.1"
    assert re.fullmatch(r"[0-9a-f]{16}", refused.headers["x-request-id"])
    access = [e for e in json_lines(stream) if e["logger"] == "core.web.access"]
    assert [e["request_id"] for e in access] == [rid, "edge-7f3a.1", refused.headers["x-request-id"],
                                                 missing.headers["x-request-id"]]
    first = access[0]
    assert re.fullmatch(TIME, first["time"]) and first["level"] == "INFO"
    assert first["method"] == "GET" and first["path"] == "/regions/shenzhen" and first["status"] == 200
    assert first["route"] == "/regions/{region}" and isinstance(first["duration_ms"], float)
    assert "secret=x" not in stream.getvalue()  # query strings are not logged
    assert access[3]["status"] == 404 and access[3]["route"] == "(unmatched)"


def test_text_lines_carry_time_level_logger_and_request_id(client: TestClient):
    with captured("text") as stream:
        answer = client.get("/")
    rid = answer.headers["x-request-id"]
    line = next(line for line in stream.getvalue().splitlines() if "core.web.access" in line)
    assert re.fullmatch(rf"{TIME} INFO core\.web\.access \[{rid}\] GET / 200 [\d.]+ms client=testclient", line)


def test_lines_logged_during_a_request_carry_its_id(client: TestClient, services: Services, monkeypatch):
    seen = logging.getLogger("core.services.test")

    def noisy(*args, **kwargs):
        seen.info("checking a login")  # runs in the thread pool
        raise RuntimeError("boom")

    monkeypatch.setattr(AccountService, "authenticate", noisy)
    quiet = TestClient(create_app(services), raise_server_exceptions=False)
    with captured("json") as stream:
        answer = quiet.post("/api/session", json={"username": "x", "password": "y" * 10})
    rid = answer.headers["x-request-id"]
    lines = json_lines(stream)
    assert {"checking a login", "unhandled error in POST /api/session"} <= {e["message"] for e in lines
                                                                             if e["request_id"] == rid}


def _raising(message: str):
    def explode(*args, **kwargs):
        raise RuntimeError(message)

    return explode


def _explode(monkeypatch, message: str) -> None:
    monkeypatch.setattr(AccountService, "authenticate", _raising(message))


def test_a_500_under_api_is_bilingual_json_with_the_request_id(services: Services, monkeypatch):
    _explode(monkeypatch, "the database said no")
    client = TestClient(create_app(services), raise_server_exceptions=False)
    with captured("text") as stream:
        answer = client.post("/api/session", json={"username": "ent1", "password": PASSWORD})
    assert answer.status_code == 500
    error = answer.json()["error"]
    rid = answer.headers["x-request-id"]
    assert error["code"] == "internal" and error["request_id"] == rid
    assert rid in error["zh"] and rid in error["en"] and "系统" in error["zh"] and "administrator" in error["en"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    text = stream.getvalue()
    assert text.count("Traceback (most recent call last)") == 1 and "RuntimeError: the database said no" in text
    assert re.search(rf"ERROR core\.web\.errors \[{rid}\] unhandled error in POST /api/session", text)
    assert re.search(rf"core\.web\.access \[{rid}\] POST /api/session 500 ", text)


def test_a_500_on_a_page_is_a_plain_bilingual_page(services: Services, monkeypatch):
    _explode(monkeypatch, "the database said no")
    client = TestClient(create_app(services), raise_server_exceptions=False)
    page = client.get("/portal/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = client.post("/portal/login", data={"csrf_token": token, "username": "ent1", "password": PASSWORD})
    assert answer.status_code == 500 and answer.headers["content-type"].startswith("text/html")
    rid = answer.headers["x-request-id"]
    assert "系统错误" in answer.text and "Server error" in answer.text and rid in answer.text
    assert "Internal Server Error" not in answer.text
    assert {k.decode() for k, _ in SECURITY_HEADERS} <= set(answer.headers)


def test_no_secret_reaches_the_log(services: Services, monkeypatch):
    """Logins that work and fail, the portal's form login and logout, a submission signed with an SMS
    code, and a 500 whose message holds the password and the database URL: with every logger at DEBUG."""
    with captured("text", level=logging.DEBUG, secrets=()) as stream:
        client, csrf = enterprise(services, 1)  # logs in through /api/session
        cookie = client.cookies.get("eportcard_session")
        wrong = client.post("/api/session", json={"username": "ent1", "password": "Wr0ng-pass!x"})
        assert wrong.status_code in (401, 403)
        sample = make_enrol(1)
        made = client.post("/api/applications", headers=csrf, json={"business": "enrol"}).json()
        operator = make_person(12, "440304")
        edit = {"version": made["version"], "agent": {"name": sample.agent.name, "id_number": sample.agent.id_number,
                                                      "phone": sample.agent.phone, "id_valid_from": "2020-01-01"},
                "items": [made["items"][0], {"kind": "operator", "holder": {
                    "name": operator.name, "id_number": operator.id_number, "phone": operator.phone,
                    "id_valid_from": "2020-01-01"}}],
                "pickup": {"method": "counter", "outlet": "shenzhen_east_hall"}}
        assert client.patch(f"/api/applications/{made['id']}", headers=csrf, json=edit).status_code == 200
        assert client.post(f"/api/applications/{made['id']}/sms_code", headers=csrf).status_code == 202
        code = _outbox_code(services, sample.agent.phone)
        sent = client.post(f"/api/applications/{made['id']}/submit", headers=csrf,
                           json={"sms_code": code, "declaration": True})
        assert sent.status_code == 200, sent.text
        tell_all = f"refused {code} for session {cookie} and token {csrf['X-CSRF-Token']}"
        monkeypatch.setattr(ApplicationService, "submit_with_code", _raising(tell_all))
        failing = TestClient(create_app(services), raise_server_exceptions=False, cookies=client.cookies)
        assert failing.post(f"/api/applications/{made['id']}/submit", headers=csrf,
                            json={"sms_code": code, "declaration": True}).status_code == 500
        assert client.delete("/api/session", headers=csrf).status_code in (200, 204)

        portal = TestClient(create_app(services))
        form = registration(2, username="ent2")
        token = re.search(r'name="csrf_token" value="([^"]+)"', portal.get("/portal/register").text).group(1)
        form["sms_code"] = registration_code(portal, form["mobile"])
        assert portal.post("/portal/register", data={"csrf_token": token, **form},
                           follow_redirects=False).status_code == 303
        token = re.search(r'name="csrf_token" value="([^"]+)"', portal.get("/portal/login").text).group(1)
        assert portal.post("/portal/login", data={"csrf_token": token, "username": "ent2", "password": PASSWORD},
                           follow_redirects=False).status_code == 303
        portal_cookie = portal.cookies.get("eportcard_session")

        _explode(monkeypatch, f"cannot log in ent1 with {PASSWORD} on {DB_URL}")
        failing = TestClient(create_app(services), raise_server_exceptions=False)
        boom = failing.post("/api/session", json={"username": "ent1", "password": PASSWORD})
        assert boom.status_code == 500
    text = stream.getvalue()
    assert "Traceback" in text and "cannot log in ent1 with *** on postgresql+psycopg://eportcard:***@" in text
    assert "refused *** for session *** and token ***" in text
    assert boom.headers["x-request-id"] in text
    for secret in (PASSWORD, "Wr0ng-pass!x", code, cookie, portal_cookie, csrf["X-CSRF-Token"], token,
                   DB_PASSWORD, "test-secret-key"):
        assert secret and secret not in text, secret


def _outbox_code(services: Services, mobile: str) -> str:
    from core.store.accounts import SmsOutbox

    with services.store.transaction(readonly=True) as tx:
        message = next(m for m in SmsOutbox(tx).recent(20) if m.mobile == mobile)
    return re.search(r"验证码为(\d{6})", message.text).group(1)


def test_a_real_server_logs_one_traceback_per_failure(services: Services, monkeypatch):
    """Under uvicorn (as `eportcard serve` runs it), the server's own "Exception in ASGI application"
    traceback of an error the app logged already is dropped."""
    _explode(monkeypatch, "the database said no")
    port = free_port()
    with captured("text") as stream, serving(create_app(services), port):
        answer = httpx.post(f"http://127.0.0.1:{port}/api/session", json={"username": "a", "password": "b" * 8})
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal"
    text = stream.getvalue()
    assert text.count("Traceback (most recent call last)") == 1, text
    assert "Exception in ASGI application" not in text
    assert f"[{answer.headers['x-request-id']}] unhandled error" in text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_configure_logging_puts_the_apps_info_lines_out(log_format: str):
    with captured(log_format) as stream:
        logging.getLogger("core.services.cards.keys").info("card work is on")
        logging.getLogger("sqlalchemy.engine").info("a library's chatter")
    text = stream.getvalue()
    assert "card work is on" in text and "chatter" not in text
    assert "[-]" in text if log_format == "text" else json_lines(stream)[0]["request_id"] == "-"
