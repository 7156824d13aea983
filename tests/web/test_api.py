"""The JSON API: the portal and staff stories end to end, error format and status codes, CSRF, and
the authorisation matrix (enterprise A vs B's ids, branch X vs Y, every staff role vs every action)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from starlette.testclient import TestClient
from webkit import PASSWORD, PNG, SYSTEM, draft, enterprise, make_services, staff, submitted

from core import lifecycle
from core.model import AppState, Delivery, Pickup
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.samples import make_enrol, make_person
from core.services import Services
from core.services.accounts import create_user
from core.services.actors import STAFF_ROLES
from core.store.accounts import SmsOutbox
from core.web.api import API_ROUTES
from core.web.app import create_app


def snapshot(services: Services, app_id: str):
    with services.store.transaction(readonly=True) as tx:
        return services.applications.get(app_id, SYSTEM), tx.attachments.for_application(app_id)


def sms_code(services: Services, mobile: str) -> str:
    with services.store.transaction(readonly=True) as tx:
        message = next(m for m in SmsOutbox(tx).recent(20) if m.mobile == mobile)
    return re.search(r"验证码为(\d{6})", message.text).group(1)


# ---- stories -----------------------------------------------------------------------------------------------

def test_the_portal_story_draft_edit_attach_submit_withdraw_and_resubmit(services):
    client, csrf = enterprise(services, 1)
    sample = make_enrol(1)
    made = client.post("/api/applications", headers=csrf, json={"business": "enrol"})
    assert made.status_code == 201, made.text
    app_id, version = made.json()["id"], made.json()["version"]
    assert made.json()["state"] == "draft" and made.json()["items"][0]["kind"] == "legal"
    operator = make_person(12, "440304")
    edit = {"version": version, "agent": {"name": sample.agent.name, "id_number": sample.agent.id_number,
                                           "phone": sample.agent.phone, "id_valid_from": "2020-01-01"},
            "items": [made.json()["items"][0], {"kind": "operator", "holder": {
                "name": operator.name, "id_number": operator.id_number, "phone": operator.phone,
                "id_valid_from": "2020-01-01"}}],
            "pickup": {"method": "counter", "outlet": "shenzhen_east_hall"}}
    edited = client.patch(f"/api/applications/{app_id}", headers=csrf, json=edit)
    assert edited.status_code == 200, edited.text
    assert edited.json()["agent"]["id_number"] == sample.agent.id_number  # its own enterprise sees it whole
    upload = client.post(f"/api/applications/{app_id}/attachments", headers=csrf,
                         data={"material": "business_licence"}, files={"file": ("licence.png", PNG, "image/png")})
    assert upload.status_code == 201, upload.text
    att_id = upload.json()["id"]
    assert [a["id"] for a in client.get(f"/api/applications/{app_id}/attachments").json()] == [att_id]
    download = client.get(f"/api/attachments/{att_id}")
    assert download.status_code == 200 and download.content == PNG
    assert client.post(f"/api/applications/{app_id}/sms_code", headers=csrf).status_code == 202
    wrong = client.post(f"/api/applications/{app_id}/submit", headers=csrf,
                        json={"sms_code": "000000" if sms_code(services, sample.agent.phone) != "000000" else "111111",
                              "declaration": True})
    assert wrong.status_code == 403 and wrong.json()["error"]["field"] == "sms_code"
    assert services.applications.get(app_id, SYSTEM).state is AppState.DRAFT
    sent = client.post(f"/api/applications/{app_id}/submit", headers=csrf,
                       json={"sms_code": sms_code(services, sample.agent.phone), "declaration": True})
    assert sent.status_code == 200, sent.text
    assert sent.json()["state"] == "submitted" and sent.json()["acceptance_no"].startswith("WSZ")
    back = client.post(f"/api/applications/{app_id}/withdraw", headers=csrf, json={"note": "改一下"})
    assert back.status_code == 200 and back.json()["state"] == "draft"
    # staff reject; the enterprise edits and resubmits with a fresh code
    services.applications.submit(app_id, SYSTEM)
    services.applications.accept(app_id, SYSTEM)
    services.applications.reject(app_id, SYSTEM, ["remarks"], "")
    rejected = client.get(f"/api/applications/{app_id}").json()
    assert rejected["state"] == "rejected"
    fixed = client.patch(f"/api/applications/{app_id}", headers=csrf,
                         json={"version": rejected["version"], "remarks": "自取"})
    assert fixed.status_code == 200
    services.clock.now += timedelta(minutes=2)  # past the resend pause
    assert client.post(f"/api/applications/{app_id}/sms_code", headers=csrf).status_code == 202
    again = client.post(f"/api/applications/{app_id}/submit", headers=csrf,
                        json={"sms_code": sms_code(services, sample.agent.phone), "declaration": True,
                              "version": fixed.json()["version"]})
    assert again.status_code == 200 and again.json()["state"] == "submitted"
    assert again.json()["acceptance_no"] == sent.json()["acceptance_no"]


def test_the_staff_story_queue_accept_reject_and_audit(services):
    app_id = submitted(services, 1)
    client, csrf = staff(services, ["reviewer"])
    queue = client.get("/api/staff/queue").json()
    assert [row["id"] for row in queue["items"]] == [app_id] and queue["more"] is False
    seen = client.get(f"/api/applications/{app_id}").json()
    assert seen["actions"] == ["accept"]
    accepted = client.post(f"/api/applications/{app_id}/accept", headers=csrf, json={"version": seen["version"]})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    stale = client.post(f"/api/applications/{app_id}/reject", headers=csrf,
                        json={"version": seen["version"], "reasons": ["remarks"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "conflict"
    unknown = client.post(f"/api/applications/{app_id}/reject", headers=csrf, json={"reasons": ["nonsense"]})
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "reasons"
    empty = client.post(f"/api/applications/{app_id}/reject", headers=csrf, json={"reasons": []})
    assert empty.status_code == 422
    rejected = client.post(f"/api/applications/{app_id}/reject", headers=csrf,
                           json={"reasons": ["materials_incomplete", "other"], "note": "盖章不清"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    trail = client.get(f"/api/applications/{app_id}/audit").json()
    assert [e["action"] for e in trail] == ["create", "submit", "accept", "reject"]
    assert trail[-1]["payload"]["reasons"] == ["materials_incomplete", "other"]
    assert "staff:shenzhen-reviewer" in {e["actor"] for e in trail}
    illegal = client.post(f"/api/applications/{app_id}/accept", headers=csrf, json={})
    assert illegal.status_code == 409 and illegal.json()["error"]["code"] == "illegal_transition"


def test_public_endpoints(services):
    client = TestClient(create_app(services))
    regions = client.get("/api/regions").json()
    assert {r["code"] for r in regions} == {"shenzhen", "changchun"}
    assert "enrol" in next(r for r in regions if r["code"] == "shenzhen")["businesses"]
    assert client.get("/api/regions/shenzhen/guides/enrol").status_code == 200
    assert client.get("/api/regions/nowhere/guides/enrol").status_code in (400, 404)
    due = client.get("/api/deadlines", params={"region": "shenzhen", "business": "enrol", "start": "2026-09-30"})
    assert due.status_code == 200 and due.json()["deadlines"]
    assert client.get("/api/deadlines", params={"region": "shenzhen", "business": "enrol",
                                                "start": "30/09/2026"}).status_code == 400
    app = services.applications.get(submitted(services, 1), SYSTEM)
    found = client.get("/api/progress", params={"acceptance_no": app.acceptance_no, "uscc": app.enterprise.uscc})
    assert found.status_code == 200 and found.json()["state"] == "submitted"
    assert app.agent.id_number not in found.text and app.enterprise.name not in found.text
    missing = client.get("/api/progress", params={"acceptance_no": app.acceptance_no, "uscc": "91440300MA0000002X"})
    assert missing.status_code == 404 and set(missing.json()["error"]) >= {"code", "field", "zh", "en"}


# ---- errors, login, CSRF ----------------------------------------------------------------------------------------

def test_not_logged_in_gets_401_json_on_every_non_public_route(services):
    client = TestClient(create_app(services))
    for route in API_ROUTES:
        if route.who == "public":
            continue
        path = re.sub(r"{([a-z_]+)(:int)?}", lambda m: "1" if m.group(2) else "x", route.path)
        reply = client.request(route.method, path, json={})
        assert reply.status_code == 401, (route.method, path, reply.status_code)
        assert reply.json()["error"]["code"] == "login_required"


def test_bad_bodies_are_400_never_500(services):
    app_id = draft(services, 1)
    client, csrf = enterprise(services, 1)
    for body in (b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"):
        reply = client.patch(f"/api/applications/{app_id}", headers=csrf | {"content-type": "application/json"},
                             content=body)
        assert reply.status_code == 400 and reply.json()["error"]["field"] == "body", body
    for fields in ({"version": "1"}, {"version": True}, {"items": "x"}, {"items": [{"kind": "nope"}]},
                   {"agent": {"name": 1}}, {"pickup": {"method": "teleport"}}, {"remarks": 5}):
        reply = client.patch(f"/api/applications/{app_id}", headers=csrf, json=fields)
        assert reply.status_code == 400, (fields, reply.text)
        assert reply.json()["error"]["zh"] and reply.json()["error"]["en"]
    assert client.get("/api/applications?page=0").status_code == 400
    assert client.get("/api/applications?per_page=1000").status_code == 400
    assert client.post("/api/session", content=b"username=a&password=b",
                       headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 400
    assert services.applications.get(app_id, SYSTEM).version == 1


def test_unsafe_requests_need_the_csrf_header_and_change_nothing_without_it(services):
    app_id = submitted(services, 1)
    client, _csrf = staff(services, ["branch_admin"])
    before = snapshot(services, app_id)
    for route in API_ROUTES:
        if route.method == "GET" or route.operation_id == "login":
            continue
        path = route.path.replace("{app_id}", app_id).replace("{step}", "x").replace("{index:int}", "0")
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            reply = client.request(route.method, path, headers=headers, json={})
            assert reply.status_code == 403 and reply.json()["error"]["code"] == "csrf", (route.method, path)
    assert snapshot(services, app_id) == before
    assert client.get("/api/session").status_code == 200  # still logged in


def test_login_is_throttled_and_wrong_passwords_say_so_in_both_languages(services):
    create_user(services, "someone", PASSWORD, "enterprise", uscc="91440300MA0000001L", region="shenzhen")
    client = TestClient(create_app(services))
    wrong = client.post("/api/session", json={"username": "someone", "password": "wrong-one-1"})
    assert wrong.status_code == 403 and wrong.json()["error"]["zh"] == "用户名或密码错误。"
    for _ in range(3):
        client.post("/api/session", json={"username": "someone", "password": "wrong-one-1"})
    locked = client.post("/api/session", json={"username": "someone", "password": PASSWORD})
    assert locked.status_code == 403 and "Too many" in locked.json()["error"]["en"]


# ---- the authorisation matrix ------------------------------------------------------------------------------------

def test_enterprise_a_cannot_read_or_change_bs_applications_or_attachments(services):
    mine = draft(services, 1)
    theirs = draft(services, 2)
    att = services.applications.attach(theirs, "business_licence", "b.png", PNG, SYSTEM)
    submitted_theirs = submitted(services, 3)
    client, csrf = enterprise(services, 1)
    before = {i: snapshot(services, i) for i in (theirs, submitted_theirs)}
    attempts = [
        ("GET", f"/api/applications/{theirs}", None), ("GET", f"/api/applications/{theirs}/attachments", None),
        ("GET", f"/api/applications/{theirs}/deadlines", None), ("GET", f"/api/attachments/{att.id}", None),
        ("PATCH", f"/api/applications/{theirs}", {"remarks": "hijacked"}),
        ("DELETE", f"/api/applications/{theirs}", {}),
        ("POST", f"/api/applications/{theirs}/sms_code", {}),
        ("POST", f"/api/applications/{theirs}/submit", {"sms_code": "123456", "declaration": True}),
        ("POST", f"/api/applications/{submitted_theirs}/withdraw", {}),
        ("POST", f"/api/applications/{submitted_theirs}/accept", {}),
        ("GET", f"/api/applications/{submitted_theirs}/audit", None),
        ("GET", "/api/applications/0123456789abcdef", None),  # a guessed id answers the same
    ]
    for method, path, body in attempts:
        kwargs = {"headers": csrf} | ({"json": body} if body is not None else {})
        reply = client.request(method, path, **kwargs)
        assert reply.status_code in (403, 404), (method, path, reply.status_code, reply.text)
        assert "hijacked" not in reply.text
    upload = client.post(f"/api/applications/{theirs}/attachments", headers=csrf, data={"material": "m"},
                         files={"file": ("x.png", PNG, "image/png")})
    assert upload.status_code == 403
    assert {i: snapshot(services, i) for i in (theirs, submitted_theirs)} == before
    listed = client.get("/api/applications").json()["items"]
    assert [row["id"] for row in listed] == [mine]


def test_staff_of_one_branch_cannot_act_on_anothers_applications(tmp_path: Path, sqlite_store, clock):
    services = make_services(sqlite_store, tmp_path, clock)
    app_id = submitted(services, 1)
    client, csrf = staff(services, ["branch_admin"], region="changchun")
    before = snapshot(services, app_id)
    assert client.get(f"/api/applications/{app_id}").status_code == 403
    assert client.get(f"/api/applications/{app_id}/audit").status_code == 403
    assert client.get("/api/staff/queue").json()["items"] == []
    for route in API_ROUTES:
        if route.operation_id.startswith("staff_") and route.method == "POST":
            path = route.path.replace("{app_id}", app_id).replace("{step}", "aic_review").replace("{index:int}", "0")
            reply = client.post(path, headers=csrf, json={"reasons": ["other"], "note": "x", "tracking_no": "1",
                                                          "acceptance_no": before[0].acceptance_no})
            assert reply.status_code == 403, (path, reply.text)
    assert snapshot(services, app_id) == before


def _prepare(services: Services, action: str, n: int) -> tuple[str, str]:
    """An application in which ``action`` is legal, and the API path that performs it."""
    apps = services.applications
    if action == "step":
        app_id = submitted(services, n, region="xian")
        apps.accept(app_id, SYSTEM)
        return app_id, f"/api/applications/{app_id}/steps/aic_review"
    mailed = action in ("ship", "deliver", "return")
    app_id = submitted(services, n, pickup=Pickup.MAIL if mailed else Pickup.COUNTER)
    made = ["accept", "start_production", "make", "make"]
    before = {"accept": [], "reject": ["accept"], "require_medium": ["accept"],
              "provide_medium": ["accept", "require_medium"], "start_production": ["accept"],
              "complete": made, "make": ["accept", "start_production"], "ship": [*made, "complete"],
              "deliver": [*made, "complete", "ship"], "return": [*made, "complete", "ship"],
              "hand_over": [*made, "complete"]}[action]
    for step in before:
        if step == "make":
            apps.mark_made(app_id, lifecycle.unmade_items(apps.get(app_id, SYSTEM))[0], SYSTEM)
        elif step == "ship":
            apps.ship(app_id, "SF0", SYSTEM)
        else:
            getattr(apps, step)(app_id, SYSTEM)
    suffix = "items/0/made" if action == "make" else action
    return app_id, f"/api/applications/{app_id}/{suffix}"


def test_each_staff_role_may_do_exactly_what_staff_roles_gives_it(tmp_path: Path, sqlite_store, clock):
    services = make_services(sqlite_store, tmp_path, clock)
    services = attrs.evolve(services, rulebook=Rulebook(get_plugin_manager(enabled=["shenzhen", "xian"])))
    actions = ["accept", "reject", "require_medium", "provide_medium", "start_production", "complete", "make",
               "ship", "deliver", "return", "hand_over", "step"]
    n = 0
    for role in STAFF_ROLES:
        region_clients = {region: staff(services, [role], region) for region in ("shenzhen", "xian")}
        for action in actions:
            n += 1
            app_id, path = _prepare(services, action, n)
            app = services.applications.get(app_id, SYSTEM)
            client, csrf = region_clients[app.region]
            reply = client.post(path, headers=csrf, json={
                "version": app.version, "reasons": ["remarks"], "tracking_no": "SF1", "acceptance_no": app.acceptance_no})
            allowed = action in STAFF_ROLES[role]
            assert reply.status_code == (200 if allowed else 403), (role, action, reply.text)
            after = services.applications.get(app_id, SYSTEM)
            assert (after.version > app.version) is allowed, (role, action)
    final = services.applications.get(_prepare(services, "hand_over", 999)[0], SYSTEM)
    assert final.delivery is Delivery.AWAITING_PICKUP


def test_lists_mask_identity_numbers_and_only_the_owner_sees_them_whole(services):
    app_id = submitted(services, 1)
    sample = make_enrol(1)
    numbers = {sample.agent.id_number, *(i.holder.id_number for i in sample.items)}
    owner, _ = enterprise(services, 1)
    reviewer, _ = staff(services, ["reviewer"])
    for client, path in ((owner, "/api/applications"), (reviewer, "/api/applications"),
                         (reviewer, "/api/staff/queue"), (reviewer, f"/api/applications/{app_id}"),
                         (reviewer, f"/api/applications/{app_id}/audit")):
        text = client.get(path).text
        assert not any(number in text for number in numbers), path
        assert f"{sample.agent.id_number[:6]}********{sample.agent.id_number[-4:]}" in text, path
    assert sample.agent.id_number in owner.get(f"/api/applications/{app_id}").text
    assert sample.agent.phone not in reviewer.get(f"/api/applications/{app_id}").text


@pytest.mark.parametrize("backend", ["postgres"])
def test_the_matrix_core_holds_on_postgresql(backend, tmp_path: Path, clock):
    from core.store.testing import temporary_store

    with temporary_store(backend, tmp_path) as store:
        services = make_services(store, tmp_path, clock)
        theirs = submitted(services, 2)
        client, csrf = enterprise(services, 1)
        before = snapshot(services, theirs)
        assert client.get(f"/api/applications/{theirs}").status_code == 403
        assert client.post(f"/api/applications/{theirs}/withdraw", headers=csrf, json={}).status_code == 403
        outsider, ocsrf = staff(services, ["branch_admin"], region="changchun")
        assert outsider.post(f"/api/applications/{theirs}/accept", headers=ocsrf, json={}).status_code == 403
        assert snapshot(services, theirs) == before
        reviewer, rcsrf = staff(services, ["reviewer"])
        assert reviewer.post(f"/api/applications/{theirs}/accept", headers=rcsrf, json={}).status_code == 200
