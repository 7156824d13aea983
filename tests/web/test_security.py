"""Security: CSRF on every form post, headers, cookie flags, login throttling, and the portal's
authorisation matrix (enterprise A cannot read or act on B's applications or attachments)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from webkit import (
    PASSWORD,
    PNG,
    csrf_of,
    fill_enrolment,
    make_services,
    post,
    register_and_login,
    registration,
)

from core.model import AppState
from core.services import Actor
from core.web.app import SESSION_COOKIE, create_app


def test_every_form_post_without_or_with_a_wrong_token_is_refused(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    from core.web import portal, public

    mine = [*public.routes, *portal.routes]  # the staff console and the API test their own routes
    posts = [r for r in mine if isinstance(r, Route) and "POST" in (r.methods or set())]
    assert len(posts) >= 8
    for route in posts:
        path = route.path.replace("{app_id}", app_id).replace("{step}", "pickup")
        for data in ({}, {"csrf_token": "forged"}):
            answer = client.post(path, data={"remarks": "changed", "business": "enrol", **data},
                                 follow_redirects=False)
            assert answer.status_code == 403, (path, data)
    me = Actor(id="ent1", kind="enterprise", uscc=registration(1)["uscc"])
    app = services.applications.get(app_id, me)
    assert app.state is AppState.DRAFT and app.remarks == ""
    # JSON clients send the token in a header instead.
    token = csrf_of(client)
    ok = client.post(f"/portal/apps/{app_id}/withdraw", headers={"X-CSRF-Token": token}, data={"confirm": "yes"},
                     follow_redirects=False)
    assert ok.status_code == 409  # the token passed; a draft cannot be withdrawn


def test_security_headers_on_pages_errors_and_static_files(client):
    for path in ("/", "/regions/nowhere", "/static/site.css", "/healthz"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY", path
        assert headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "'unsafe-inline'" not in headers["content-security-policy"], path
        assert headers["referrer-policy"] == "same-origin", path


def test_no_inline_script_or_style_in_pages(client):
    register_and_login(client)
    for path in ("/", "/portal", "/portal/apps/new", "/due"):
        text = client.get(path).text
        assert "<script>" not in text and "style=" not in text and "<style" not in text, path


def _cookie_header(answer) -> str:
    return next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)


def test_session_cookie_is_httponly_samesite_and_secure_when_configured(client, services, tmp_path):
    login = client.get("/portal/login")
    cookie = _cookie_header(login).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    web = attrs.evolve(services.settings.web, secret_key="k", secure_cookies=True)
    secure = attrs.evolve(services, settings=attrs.evolve(services.settings, web=web))
    with TestClient(create_app(secure), base_url="https://testserver") as https:
        answer = https.get("/portal/login")
        assert "secure" in _cookie_header(answer).lower()
        assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_login_is_throttled_per_account_and_recovers_after_15_minutes(client, services, clock):
    post(client, "/portal/register", registration(1))
    limit = services.settings.web.login_attempts
    for _ in range(limit):
        wrong = post(client, "/portal/login", {"username": "ent1", "password": "wrong-password1"})
        assert wrong.status_code == 403 and "用户名或密码错误" in wrong.text
    right = post(client, "/portal/login", {"username": "ent1", "password": PASSWORD})
    assert right.status_code == 403 and "15" in right.text and "/portal" not in right.headers.get("location", "")
    clock.now += timedelta(minutes=15)
    assert post(client, "/portal/login", {"username": "ent1", "password": PASSWORD}).status_code == 303


def test_one_address_trying_many_accounts_is_throttled(services):
    services = attrs.evolve(services, settings=attrs.evolve(services.settings, web=attrs.evolve(
        services.settings.web, login_attempts_per_address=3)))
    with TestClient(create_app(services)) as c:
        post(c, "/portal/register", registration(1))
        for n in range(3):
            assert post(c, "/portal/login", {"username": f"nobody{n}", "password": "x"}).status_code == 403
        blocked = post(c, "/portal/login", {"username": "ent1", "password": PASSWORD})
        assert blocked.status_code == 403 and "15" in blocked.text


def test_staff_accounts_cannot_use_the_enterprise_login(client, services):
    from core.services.accounts import create_user

    create_user(services, "reviewer-shenzhen", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    refused = post(client, "/portal/login", {"username": "reviewer-shenzhen", "password": PASSWORD})
    assert refused.status_code == 403
    assert client.get("/portal", follow_redirects=False).headers["location"].startswith("/portal/login")


@pytest.fixture
def matrix(store, tmp_path: Path, clock):
    services = make_services(store, tmp_path, clock)
    with TestClient(create_app(services)) as a, TestClient(create_app(services)) as b:
        register_and_login(a, 1)
        register_and_login(b, 2)
        app_id = fill_enrolment(a, services)
        post(a, f"/portal/apps/{app_id}/step/uploads", {"material": "licence_photo"},
             files={"file": ("licence.png", PNG, "image/png")})
        yield services, a, b, app_id


def test_authorisation_matrix_enterprise_b_cannot_touch_a(matrix):
    services, a, b, app_id = matrix
    owner = Actor(id="ent1", kind="enterprise", uscc=registration(1)["uscc"])
    before = services.applications.get(app_id, owner)
    att_id = before.attachments[0].attachment_id
    reads = [f"/portal/apps/{app_id}", f"/portal/apps/{app_id}/step/agent", f"/portal/apps/{app_id}/receipt.pdf",
             f"/portal/attachments/{att_id}", "/portal/apps/does-not-exist", "/portal/attachments/does-not-exist"]
    for path in reads:
        answer = b.get(path, follow_redirects=False)
        assert answer.status_code in (403, 404), path
        assert before.enterprise.name not in answer.text and PNG not in answer.content
    token = csrf_of(b)
    writes = [(f"/portal/apps/{app_id}/step/pickup", {"method": "mail", "remarks": "hijack", "action": "save"}),
              (f"/portal/apps/{app_id}/step/operators", {"op": "remove:1"}),
              (f"/portal/apps/{app_id}/sms", {}), (f"/portal/apps/{app_id}/submit", {"declaration": "yes"}),
              (f"/portal/apps/{app_id}/withdraw", {}), (f"/portal/apps/{app_id}/delete", {})]
    for path, data in writes:
        answer = b.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code == 403, path
    upload = b.post(f"/portal/apps/{app_id}/step/uploads", data={"csrf_token": token, "material": "x"},
                    files={"file": ("x.png", PNG, "image/png")}, follow_redirects=False)
    assert upload.status_code == 403
    after = services.applications.get(app_id, owner)
    assert after == before
    # B's own list does not show A's application; A still reads it.
    assert app_id not in b.get("/portal").text
    assert a.get(f"/portal/apps/{app_id}").status_code == 200
    assert a.get(f"/portal/attachments/{att_id}").content == PNG


def test_anonymous_visitors_are_sent_to_the_login(client):
    for path in ("/portal", "/portal/apps/new", "/portal/apps/x", "/portal/attachments/x"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/portal/login?next="), path


def test_accounts_tables_match_migration_0002(store):
    """core/store/accounts.py (what the web queries use) and migration 0002 (what exists) agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.store.accounts import accounts_metadata

    def ours(obj, name, type_, reflected, compare_to):
        return type_ != "table" or name in accounts_metadata.tables

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": ours})
        assert compare_metadata(context, accounts_metadata) == []
