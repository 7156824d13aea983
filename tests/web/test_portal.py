"""The enterprise portal: registration, the multi-step application to submission with the SMS code,
withdraw, rejection and resubmission, uploads checked by content, masked lists, archived attachments."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from webkit import (
    MAX_UPLOAD,
    PASSWORD,
    PNG,
    check_data,
    csrf_of,
    fill_enrolment,
    last_code,
    post,
    register_and_login,
    registration,
    submit_via_portal,
)

from core.lifecycle import legal_card_refusal
from core.model import AppState, Business, RejectionReason
from core.services import Actor
from core.store.accounts import Accounts

STAFF = Actor(id="rev", kind="staff", region="shenzhen", roles={"branch_admin"})


def errors_of(page) -> dict[str, str]:
    return dict(re.findall(r'<li data-field="([^"]*)">(?:<a [^>]*>)?([^<]*)', page.text))


def _user_count(services) -> int:
    with services.store.transaction(readonly=True) as tx:
        return len(Accounts(tx).staff()) + sum(
            1 for n in range(1, 4) if Accounts(tx).by_username(f"ent{n}") is not None)


@pytest.mark.parametrize(("field", "value", "zh", "en"), [
    ("uscc", "91440300MA0000001A", "校验位", "check character"),
    ("org_code", "123456789", "组织机构代码", "organisation code"),
    ("legal_rep.id_number", "440304198506150112", "校验位", "check digit"),
    ("legal_rep.id_valid_to", "20301399", "证件有效期", "validity date"),
    ("mobile", "12345", "手机号码", "mobile number"),
    ("password", "short", "密码至少", "at least"),
    ("customs_codes", "44039&", "海关编码", "customs code"),
])
def test_registration_errors_are_bilingual_and_nothing_is_saved(client, services, field, value, zh, en):
    form = registration(1) | {field: value}
    if field == "password":
        form["password2"] = value
    page = post(client, "/portal/register", form)
    assert page.status_code == 400
    assert zh in errors_of(page)[field]
    english = post(client, "/portal/register?lang=en", form)
    assert en in errors_of(english)[field]
    assert "password" not in re.findall(r'name="(password2?)" value="', page.text)  # never echoed
    with services.store.transaction(readonly=True) as tx:
        assert Accounts(tx).by_username("ent1") is None
        assert tx.enterprises.get(form["uscc"] if field != "uscc" else registration(1)["uscc"]) is None


def test_registration_stores_an_argon2id_hash_and_one_admin_per_enterprise(client, services):
    register_and_login(client, 1)
    with services.store.transaction(readonly=True) as tx:
        user = Accounts(tx).by_username("ent1")
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert tx.enterprises.get(user.uscc) is not None
    again = post(client, "/portal/register", registration(1, username="other1"))
    assert again.status_code == 400 and "已注册" in errors_of(again)["uscc"]


def test_walk_an_enrolment_from_draft_to_submission(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    # An added operator row is only saved (暂存) until confirmed, and blocks submission.
    from core.samples import make_person

    extra = make_person(7, "440304")
    post(client, f"/portal/apps/{app_id}/step/operators", {
        "op": "save_row", "kind": "operator", "holder.name": extra.name, "holder.id_number": extra.id_number,
        "holder.id_valid_to": "00000000"})
    preview = client.get(f"/portal/apps/{app_id}/step/preview")
    assert "暂存" in errors_of(preview).get("items[3].confirmed", "")
    assert 'action="/portal/apps/' + app_id + '/submit"' not in preview.text
    assert post(client, f"/portal/apps/{app_id}/step/operators", {"op": "remove:2"}).status_code == 303
    preview = client.get(f"/portal/apps/{app_id}/step/preview")
    # The data check comes first: "确认无误", then the code and the submission.
    assert errors_of(preview) == {} and "/check" in preview.text and "/submit" not in preview.text
    check_data(client, services, app_id)
    preview = client.get(f"/portal/apps/{app_id}/step/preview")
    assert "/submit" in preview.text and "已确认无误" not in preview.text
    # Without the declaration, or with a wrong code, nothing is submitted.
    post(client, f"/portal/apps/{app_id}/sms", token_from=f"/portal/apps/{app_id}/step/preview")
    code = last_code(services, "13900000001")
    no_decl = post(client, f"/portal/apps/{app_id}/submit", {"sms_code": code},
                   token_from=f"/portal/apps/{app_id}/step/preview")
    assert no_decl.status_code == 400 and "declaration" in errors_of(no_decl)
    wrong = post(client, f"/portal/apps/{app_id}/submit", {"declaration": "yes",
                                                            "sms_code": f"{(int(code) + 1) % 10**6:06d}"},
                 token_from=f"/portal/apps/{app_id}/step/preview")
    assert wrong.status_code == 400 and "sms_code" in errors_of(wrong)
    me = Actor(id="ent1", kind="enterprise", uscc=registration(1)["uscc"])
    assert services.applications.get(app_id, me).state is AppState.DRAFT
    done = post(client, f"/portal/apps/{app_id}/submit", {"declaration": "yes", "sms_code": code},
                token_from=f"/portal/apps/{app_id}/step/preview")
    assert done.status_code == 303
    app = services.applications.get(app_id, me)
    assert app.state is AppState.SUBMITTED and app.acceptance_no.startswith("WSZ")
    assert app.agent is not None and app.agent.phone == "13900000001"
    detail = client.get(done.headers["location"])
    assert app.acceptance_no in detail.text and "已提交" in detail.text
    # The code was single use.
    reuse = post(client, f"/portal/apps/{app_id}/withdraw", {"confirm": "yes"})
    assert reuse.status_code == 303
    check_data(client, services, app_id)
    again = post(client, f"/portal/apps/{app_id}/submit", {"declaration": "yes", "sms_code": code},
                 token_from=f"/portal/apps/{app_id}/step/preview")
    assert again.status_code == 400 and "sms_code" in errors_of(again)


def test_withdraw_then_reject_edit_and_resubmit(client, services, clock):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    assert submit_via_portal(client, services, app_id).status_code == 303
    assert post(client, f"/portal/apps/{app_id}/withdraw", {"confirm": "yes"}).status_code == 303
    me = Actor(id="ent1", kind="enterprise", uscc=registration(1)["uscc"])
    assert services.applications.get(app_id, me).state is AppState.DRAFT
    clock.now += timedelta(minutes=2)
    assert submit_via_portal(client, services, app_id).status_code == 303
    services.applications.accept(app_id, STAFF)
    services.applications.reject(app_id, STAFF, [RejectionReason.REMARKS], note="请按要求填写备注")
    detail = client.get(f"/portal/apps/{app_id}")
    assert "已退单" in detail.text and "备注栏未填写" in detail.text and "请按要求填写备注" in detail.text
    fixed = post(client, f"/portal/apps/{app_id}/step/pickup", {"method": "counter", "outlet": "shenzhen_east_hall",
                                                                 "remarks": "自取", "action": "save"})
    assert fixed.status_code == 303
    clock.now += timedelta(minutes=2)
    assert submit_via_portal(client, services, app_id).status_code == 303
    app = services.applications.get(app_id, me)
    assert app.state is AppState.SUBMITTED and app.remarks == "自取"
    assert [h.action for h in app.history][-2:] == ["reject", "resubmit"]
    # No longer editable: the step pages send the enterprise back to the detail page.
    assert client.get(f"/portal/apps/{app_id}/step/pickup", follow_redirects=False).status_code == 303


def test_uploads_are_checked_by_content_and_size(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    step = f"/portal/apps/{app_id}/step/uploads"
    ok = post(client, step, {"material": "licence_photo"}, files={"file": ("licence.png", PNG, "image/png")})
    assert ok.status_code == 303
    disguised = post(client, step, {"material": "licence_photo"},
                     files={"file": ("licence.pdf", PNG, "application/pdf")})
    assert disguised.status_code == 400 and "扩展名" in errors_of(disguised)["attachment"]
    huge = PNG + b"\x00" * MAX_UPLOAD
    oversize = post(client, step, {"material": "licence_photo"}, files={"file": ("big.png", huge, "image/png")})
    assert oversize.status_code == 400 and "MB" in errors_of(oversize)["attachment"]
    me = Actor(id="ent1", kind="enterprise", uscc=registration(1)["uscc"])
    app = services.applications.get(app_id, me)
    assert [a.filename for a in app.attachments] == ["licence.png"]
    download = client.get(f"/portal/attachments/{app.attachments[0].attachment_id}")
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"


def test_archived_attachments_are_shown_as_archived_and_not_served(client, services, clock):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    post(client, f"/portal/apps/{app_id}/step/uploads", {"material": "licence_photo"},
         files={"file": ("licence.png", PNG, "image/png")})
    assert submit_via_portal(client, services, app_id).status_code == 303
    me = Actor(id="ent1", kind="enterprise", uscc=registration(1)["uscc"])
    att = services.applications.get(app_id, me).attachments[0].attachment_id
    clock.now += timedelta(days=services.settings.storage.archive_after_days)
    detail = client.get(f"/portal/apps/{app_id}")
    assert "已归档" in detail.text and f"/portal/attachments/{att}" not in detail.text
    assert client.get(f"/portal/attachments/{att}").status_code == 403


def test_lists_mask_identity_numbers(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    me = Actor(id="ent1", kind="enterprise", uscc=registration(1)["uscc"])
    app = services.applications.get(app_id, me)
    page = client.get("/portal")
    assert app_id in page.text
    for item in app.items:
        number = item.holder.id_number
        assert number not in page.text
        assert f"{number[:6]}********{number[-4:]}" in page.text


def test_new_application_offers_only_what_a_password_login_may_do(client, services):
    register_and_login(client)
    page = client.get("/portal/apps/new")
    assert 'value="enrol" >' in page.text or 'value="enrol">' in page.text.replace(" >", ">")
    refused = post(client, "/portal/apps/new", {"business": "renew"}, token_from="/portal/apps/new")
    assert refused.status_code == 403 and "新入网" in refused.text
    unknown = post(client, "/portal/apps/new", {"business": "teleport"}, token_from="/portal/apps/new")
    assert unknown.status_code == 400


@pytest.mark.parametrize(("has_card", "method", "business", "card_only", "allowed"), [
    (False, "password", Business.ENROL, False, True),
    (False, "password", Business.RENEW, False, False),
    (True, "password", Business.ENROL, False, False),
    # 001: a password login may apply for part of the businesses, a legal-card login for all
    (True, "password", Business.ADD_CARD, False, True),
    (True, "password", Business.UNLOCK, True, False),
    (True, "card", Business.ADD_CARD, False, True),
    (True, "card", Business.UNLOCK, True, True),
])
def test_may_apply_keeps_the_card_login_seam(has_card, method, business, card_only, allowed):
    reason = legal_card_refusal(business, has_card, card_login=method == "card", card_login_required=card_only)
    assert (reason is None) is allowed
    if reason is not None:
        assert reason.zh and reason.en


def test_login_page_keeps_the_next_target_inside_the_portal(client, services):
    post(client, "/portal/register", registration(1))
    token = csrf_of(client, "/portal/login")
    outside = client.post("/portal/login", data={"csrf_token": token, "username": "ent1", "password": PASSWORD,
                                                 "next": "https://evil.example/"}, follow_redirects=False)
    assert outside.headers["location"] == "/portal"


def test_demo_builds_every_state_through_the_services_and_is_idempotent(tmp_path):
    from starlette.testclient import TestClient

    from core.web.app import create_app
    from core.web.demo import DEMO_PASSWORD, build_demo

    services, logins, _ca = build_demo(tmp_path / "demo")
    try:
        with services.store.transaction(readonly=True) as tx:
            apps = tx.applications.find(limit=100)
        states = {a.state for a in apps}
        assert states >= {AppState.DRAFT, AppState.SUBMITTED, AppState.ACCEPTED, AppState.NEEDS_MEDIUM,
                          AppState.MEDIUM_READY, AppState.IN_PRODUCTION, AppState.COMPLETED, AppState.REJECTED}
        assert {a.delivery.value for a in apps if a.delivery} >= {"awaiting_pickup", "shipped"}
        assert services.store.audit_verify().ok
        with TestClient(create_app(services)) as c:
            assert post(c, "/portal/login", {"username": "demo-ent9", "password": DEMO_PASSWORD}).status_code == 303
            assert "已退单" in c.get("/portal").text
            assert c.get("/readyz").json()["status"] == "ready"  # a fresh demo is ready: its blob folder exists
    finally:
        services.store.dispose()
    again, logins_again, _ca_again = build_demo(tmp_path / "demo")
    try:
        with again.store.transaction(readonly=True) as tx:
            assert len(tx.applications.find(limit=100)) == len(apps)
        assert logins_again == logins
    finally:
        again.store.dispose()
