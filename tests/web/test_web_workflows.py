"""The web front's workflows page by page (the Chromium walk, test_web_walk.py, runs them end to end):
form attributes and errors beside their fields, plain refusal pages, each role's queue, the day's mailings
and their PDFs, confirmations, the data check, registration with its SMS code and agreement, the returned
pop-up, the portal's filters, operators named before, titles without internal ids, and the demo's port."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from starlette.testclient import TestClient
from webkit import (
    PASSWORD,
    check_data,
    csrf_of,
    fill_enrolment,
    post,
    register_and_login,
    registration,
    submit_via_portal,
)

from core import lifecycle
from core.model import AppState, Delivery, Pickup, RejectionReason
from core.samples import make_enrol, make_person
from core.services import Actor, Services
from core.services.accounts import create_user
from core.store.accounts import Accounts
from core.web.app import create_app

SYSTEM = Actor.system("test")
HEX_ID = re.compile(r"\b[0-9a-f]{16}\b")


def _staff(services: Services, name: str, role: str) -> TestClient:
    create_user(services, name, PASSWORD, "staff", region="shenzhen", roles=[role])
    client = TestClient(create_app(services), base_url="http://testserver")
    assert post(client, "/staff/login", {"username": name, "password": PASSWORD},
                token_from="/staff/login").status_code == 303
    return client


def _completed(services: Services, n: int, pickup: Pickup = Pickup.COUNTER) -> str:
    svc = services.applications
    sample = make_enrol(n, "shenzhen", pickup=pickup)
    owner = Actor(id=f"e{n}", kind="enterprise", uscc=sample.enterprise.uscc)
    app = svc.create(attrs.evolve(sample, id="", created_at=None), owner)
    app = svc.submit(app.id, owner)
    for move in ("accept", "start_production"):
        app = getattr(svc, move)(app.id, SYSTEM)
    for index in lifecycle.unmade_items(app):
        app = svc.mark_made(app.id, index, SYSTEM)
    return svc.complete(app.id, SYSTEM).id


def _pdf(content: bytes, folder: Path, name: str) -> str:
    path = folder / name
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


# ---- forms: attributes rendered once, errors beside their fields -------------------------------------------

def test_field_attributes_arrive_unescaped(client):
    page = client.get("/portal/register").text
    uscc = re.search(r'<input id="f-uscc"[^>]*>', page).group(0)
    mobile = re.search(r'<input id="f-mobile"[^>]*>', page).group(0)
    assert ' maxlength="18"' in uscc and ' required' in uscc
    assert ' inputmode="numeric"' in mobile and ' maxlength="11"' in mobile and ' autocomplete="tel"' in mobile
    assert "&quot;" not in page and "&#34;" not in page
    reset = client.get("/portal/password-reset").text
    assert 'autocomplete="username"' in reset and 'maxlength="11"' in reset


def test_a_server_side_error_is_marked_on_its_field_and_linked_from_the_summary(client, services):
    page = post(client, "/portal/register", registration(1) | {"email": "nope", "agree": ""})
    assert page.status_code == 400
    html = page.text
    assert re.search(r'id="f-email"[^>]*aria-invalid="true" aria-describedby="err-email"', html)
    assert re.search(r'<span class="field-error" id="err-email">请填写有效的电子邮箱', html)
    assert '<a href="#f-email">' in html and '<a href="#f-agree">' in html
    assert 'id="f-uscc"' in html and not re.search(r'id="f-uscc"[^>]*aria-invalid', html)  # only the wrong ones
    with services.store.transaction(readonly=True) as tx:
        assert Accounts(tx).by_username("ent1") is None


# ---- refusals said plainly; the favicon ------------------------------------------------------------------------

def test_forbidden_and_missing_pages_say_so_plainly_in_both_languages(services):
    clerk = _staff(services, "wang", "counter_clerk")
    page = clerk.get("/staff/accounts")
    assert page.status_code == 403 and "<h1>无权访问</h1>" in page.text and "仅分中心管理员" in page.text
    assert "请修改以下问题" not in page.text and "出错了" not in page.text
    english = clerk.get("/staff/accounts?lang=en")
    assert "<h1>Not allowed</h1>" in english.text and "only a branch administrator" in english.text
    missing = clerk.get("/staff/no-such-page?lang=zh")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "<h1>找不到</h1>" in missing.text and "找不到这个页面" in missing.text
    assert "<h1>Not found</h1>" in clerk.get("/no/such/page?lang=en").text
    api = clerk.get("/api/no-such-endpoint")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"  # the API stays JSON


def test_the_favicon_is_an_icon(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # the ICO header
    assert '<link rel="icon" href="/favicon.ico">' in client.get("/").text


# ---- each role's queue, the outcome of each action, confirmations ------------------------------------------

def test_each_role_opens_on_its_own_work_with_counts(services):
    submitted = make_enrol(1, "shenzhen")
    owner = Actor(id="e1", kind="enterprise", uscc=submitted.enterprise.uscc)
    first = services.applications.create(attrs.evolve(submitted, id="", created_at=None), owner)
    services.applications.submit(first.id, owner)
    counter = _completed(services, 2)
    mailed = _completed(services, 3, Pickup.MAIL)
    for name, role, queue, shown in (("zhang", "reviewer", "review", first.id), ("liu", "card_maker", "make", None),
                                     ("wang", "counter_clerk", "hand_over", counter),
                                     ("zhao", "branch_admin", "open", first.id)):
        page = _staff(services, name, role).get("/staff").text
        current = re.search(r'data-queue="([a-z_]+)" aria-current="page"', page)
        assert current and current.group(1) == queue, name
        if shown:
            assert f'data-app-id="{shown}"' in page
        assert re.search(r'data-queue="mail">待寄出 <span class="count">1</span>', page)
    clerk = _staff(services, "wang2", "counter_clerk")
    mail = clerk.get("/staff?queue=mail").text
    assert f'data-app-id="{mailed}"' in mail and f'data-app-id="{counter}"' not in mail
    assert re.search(rf'data-app-id="{mailed}".*?data-delivery="">已办结，待寄出', mail, re.S)
    done = clerk.get("/staff?queue=done").text
    assert "交付状态" in done and "已办结，待领取" in done
    assert clerk.get("/staff?queue=nowhere").status_code == 400


def test_an_action_says_what_happened_and_returning_asks_to_confirm(services):
    owner_app = make_enrol(1, "shenzhen")
    owner = Actor(id="e1", kind="enterprise", uscc=owner_app.enterprise.uscc)
    app = services.applications.create(attrs.evolve(owner_app, id="", created_at=None), owner)
    app = services.applications.submit(app.id, owner)
    reviewer = _staff(services, "zhang", "reviewer")
    token = csrf_of(reviewer, f"/staff/apps/{app.id}")
    accepted = reviewer.post(f"/staff/apps/{app.id}/accept", data={"csrf_token": token, "version": str(app.version)})
    assert accepted.status_code == 200 and f"已受理 {app.acceptance_no}" in accepted.text
    before = services.applications.get(app.id, SYSTEM)
    refused = reviewer.post(f"/staff/apps/{app.id}/reject", data={
        "csrf_token": token, "version": str(before.version), "reasons": "remarks"}, follow_redirects=False)
    assert refused.status_code == 400 and "请勾选确认" in refused.text
    assert services.applications.get(app.id, SYSTEM) == before
    title = re.search(r"<title>(.*?)</title>", refused.text).group(1)
    assert app.acceptance_no in title and app.id not in title
    assert f"Accepted {app.acceptance_no}" in reviewer.get(f"/staff/apps/{app.id}?done=accept&lang=en").text


def test_the_history_reads_where_the_cards_went(services):
    app_id = _completed(services, 4, Pickup.MAIL)
    services.applications.ship(app_id, "SF1", SYSTEM)
    page = _staff(services, "wang", "counter_clerk").get(f"/staff/apps/{app_id}").text
    line = re.search(r'<li data-action="ship">(.*?)</li>', page).group(1)
    assert "寄出 · 已办结，待寄出 → 已寄出" in line and "completed" not in line
    assert "已处理 → 已处理" not in page
    app = services.applications.get(app_id, SYSTEM)
    assert f'<dd id="mail-phone">{app.pickup.mail_to.phone}</dd>' in page


# ---- the day's mailings --------------------------------------------------------------------------------------

def test_the_days_mailings_list_and_label_sheet(services, tmp_path):
    mailed = [_completed(services, n, Pickup.MAIL) for n in range(10, 25)]  # 15 parcels: two label sheets
    counter = _completed(services, 30)
    clerk = _staff(services, "wang", "counter_clerk")
    page = clerk.get("/staff/mailings").text
    for app_id in mailed:
        app = services.applications.get(app_id, SYSTEM)
        assert f'data-app-id="{app_id}"' in page and app.pickup.mail_to.address in page
    assert f'data-app-id="{counter}"' not in page
    listing = clerk.get("/staff/mailings/list.pdf")
    assert listing.status_code == 200 and listing.headers["content-type"] == "application/pdf"
    assert "private" in listing.headers["cache-control"]
    text = _pdf(listing.content, tmp_path, "list.pdf")
    first = services.applications.get(mailed[0], SYSTEM)
    assert first.acceptance_no in text and first.pickup.mail_to.phone in text and "寄件清单" in text
    labels = clerk.get("/staff/mailings/labels.pdf")
    text = _pdf(labels.content, tmp_path, "labels.pdf")
    assert all(services.applications.get(a, SYSTEM).acceptance_no in text for a in mailed)
    from pypdf import PdfReader

    reader = PdfReader(tmp_path / "labels.pdf")
    assert len(reader.pages) == 2 and [len(p.images) for p in reader.pages] == [14, 1]  # a QR code a label
    # once shipped it leaves the list; a reviewer may not read it
    services.applications.ship(mailed[0], "SF9", SYSTEM)
    assert f'data-app-id="{mailed[0]}"' not in clerk.get("/staff/mailings").text
    reviewer = _staff(services, "zhang", "reviewer")
    assert reviewer.get("/staff/mailings").status_code == 403
    assert reviewer.get("/staff/mailings/labels.pdf").status_code == 403
    assert "无待寄" not in clerk.get("/staff/mailings?lang=en").text


def test_nothing_to_mail_says_so(services, tmp_path):
    clerk = _staff(services, "wang", "counter_clerk")
    assert 'id="no-mailings"' in clerk.get("/staff/mailings").text
    assert "没有待寄出的卡" in _pdf(clerk.get("/staff/mailings/list.pdf").content, tmp_path, "empty.pdf")


# ---- the portal: titles, confirmations, the data check, receipts ----------------------------------------------

def test_titles_and_pages_never_show_the_internal_id(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    for path in ("/portal", f"/portal/apps/{app_id}", f"/portal/apps/{app_id}/step/preview"):
        page = client.get(path).text
        visible = re.sub(r"<[^>]+>", " ", page)
        assert app_id not in visible, path
        assert not HEX_ID.search(re.sub(r'(href|action|value)="[^"]*"', "", visible)), path
    title = re.search(r"<title>(.*?)</title>", client.get(f"/portal/apps/{app_id}").text).group(1)
    assert title.startswith("新入网（暂存，")


def test_submission_needs_the_data_check_of_the_version_shown(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    preview = f"/portal/apps/{app_id}/step/preview"
    page = client.get(preview).text
    assert 'id="check-confirm"' in page and 'id="submit-form"' not in page
    refused = post(client, f"/portal/apps/{app_id}/submit", {"declaration": "yes", "sms_code": "123456"},
                   token_from=preview)
    assert refused.status_code == 400 and "确认无误" in refused.text
    check_data(client, services, app_id)
    assert 'id="submit-form"' in client.get(preview).text
    # an edit after the check needs a new one
    post(client, f"/portal/apps/{app_id}/step/pickup", {"method": "counter", "outlet": "shenzhen_east_hall",
                                                         "remarks": "changed", "action": "save"})
    assert 'id="submit-form"' not in client.get(preview).text
    stale = post(client, f"/portal/apps/{app_id}/check", {"version": "1"}, token_from=preview)
    assert stale.status_code == 409 and "重新核对" in stale.text
    assert services.applications.get(app_id, SYSTEM).state is AppState.DRAFT


def test_the_preview_shows_the_mailing_address(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    post(client, f"/portal/apps/{app_id}/step/pickup", {
        "method": "mail", "recipient": "陈收件", "mail_phone": "13700000007", "mail_address": "深圳市福田区收件路8号",
        "making_centre": "shenzhen_east_hall", "action": "save"})
    page = client.get(f"/portal/apps/{app_id}/step/preview").text
    mail_to = re.search(r'<dd id="check-mail-to">(.*?)</dd>', page).group(1)
    assert "陈收件" in mail_to and "137****0007" in mail_to and "深圳市福田区收件路8号" in mail_to


def test_withdrawing_asks_to_confirm_and_a_withdrawn_draft_has_no_receipt(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    assert submit_via_portal(client, services, app_id).status_code == 303
    detail = client.get(f"/portal/apps/{app_id}").text
    assert 'id="receipt-link"' in detail and 'id="f-withdraw-confirm"' in detail
    refused = post(client, f"/portal/apps/{app_id}/withdraw", token_from=f"/portal/apps/{app_id}")
    assert refused.status_code == 400 and services.applications.get(app_id, SYSTEM).state is AppState.SUBMITTED
    done = post(client, f"/portal/apps/{app_id}/withdraw", {"confirm": "yes"}, token_from=f"/portal/apps/{app_id}")
    assert done.headers["location"].endswith("?done=withdraw")
    page = client.get(done.headers["location"]).text
    app = services.applications.get(app_id, SYSTEM)
    assert app.state is AppState.DRAFT and app.acceptance_no and f"已撤回 {app.acceptance_no}" in page
    assert 'id="receipt-link"' not in page
    assert client.get(f"/portal/apps/{app_id}/receipt.pdf").status_code == 400
    refused = post(client, f"/portal/apps/{app_id}/delete", token_from=f"/portal/apps/{app_id}")
    assert refused.status_code == 400 and services.applications.get(app_id, SYSTEM).state is AppState.DRAFT
    assert post(client, f"/portal/apps/{app_id}/delete", {"confirm": "yes"},
                token_from=f"/portal/apps/{app_id}").headers["location"] == "/portal?done=delete"


def test_registration_asks_for_the_sms_code_the_agreement_and_the_administrator(client, services):
    form = registration(1)
    for missing, field in (({"agree": ""}, "agree"), ({"admin_id": "110101199003070012"}, "admin_id"),
                           ({"sms_code": "000000"}, "sms_code")):
        page = post(client, "/portal/register", form | missing)
        assert page.status_code in (400, 403) and f'id="err-{field}"' in page.text, field
        with services.store.transaction(readonly=True) as tx:
            assert Accounts(tx).by_username("ent1") is None
    bad = post(client, "/portal/register/code", {"mobile": "12345"}, token_from="/portal/register")
    assert bad.status_code == 400 and 'id="err-mobile"' in bad.text
    made = post(client, "/portal/register", form)
    assert made.status_code == 303
    with services.store.transaction(readonly=True) as tx:
        user = Accounts(tx).by_username("ent1")
    assert user is not None and user.email == "admin1@example.com" and user.id_number == form["admin_id"]


def test_the_returned_pop_up_shows_once_after_login(client, services):
    register_and_login(client)
    assert 'id="returned-dialog"' not in client.get("/portal").text  # nothing returned yet
    app_id = fill_enrolment(client, services)
    assert submit_via_portal(client, services, app_id).status_code == 303
    services.applications.accept(app_id, SYSTEM)
    services.applications.reject(app_id, SYSTEM, [RejectionReason.REMARKS], note="备注请写明取卡人")
    assert 'id="returned-dialog"' not in client.get("/portal").text  # not a new login
    post(client, "/portal/login", {"username": "ent1", "password": PASSWORD})
    first = client.get("/portal").text
    assert 'id="returned-dialog"' in first and "备注请写明取卡人" in first and "备注栏未填写" in first
    assert 'id="returned-dialog"' not in client.get("/portal").text


def test_the_portal_filters_by_business_state_and_dates(client, services, clock):
    register_and_login(client)
    first = fill_enrolment(client, services)
    assert submit_via_portal(client, services, first).status_code == 303
    today = clock.now.date()
    rows = lambda page: set(re.findall(r'<tr data-app-id="([0-9a-f]+)"', page.text))  # noqa: E731
    assert rows(client.get("/portal?state=submitted")) == {first}
    assert rows(client.get("/portal?state=draft")) == set()
    assert rows(client.get("/portal?business=enrol")) == {first}
    assert rows(client.get(f"/portal?created_from={today}&created_to={today}")) == {first}
    assert rows(client.get(f"/portal?created_to={today - timedelta(days=1)}")) == set()
    bad = client.get("/portal?created_from=2026-13-40")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    reversed_range = client.get(f"/portal?created_from={today}&created_to={today - timedelta(days=2)}")
    assert reversed_range.status_code == 400 and "起始日期不能晚于结束日期" in reversed_range.text
    assert "The first date cannot be after the last" in client.get(
        f"/portal?created_from={today}&created_to={today - timedelta(days=2)}&lang=en").text


def test_an_enrolment_asks_for_operator_cards_and_offers_operators_named_before(client, services):
    form = register_and_login(client)
    owner = Actor(id="ent1", kind="enterprise", uscc=form["uscc"])
    named = make_person(77, "440304")
    earlier = services.applications.create(attrs.evolve(
        make_enrol(1, "shenzhen"), id="", created_at=None,
        items=(make_enrol(1, "shenzhen").items[0],)), owner)
    services.applications.edit(earlier.id, owner, items=(*earlier.items, attrs.evolve(
        earlier.items[0], kind=make_enrol(1).items[1].kind, holder=named)))
    services.applications.delete(earlier.id, owner)
    made = post(client, "/portal/apps/new", {"business": "enrol"})
    app_id = made.headers["location"].split("/")[3]
    step = f"/portal/apps/{app_id}/step/operators"
    ask = client.get(step).text
    assert "是否同时申请操作员卡" in ask and "暂不需要，继续" in ask and f'href="/portal/apps/{app_id}/step/agent"' in ask
    offered = client.get(f"{step}?add=1").text
    assert "选择已有未制卡操作员" in offered and named.name in offered and named.id_number not in offered
    assert post(client, step, {"op": "pick:0"}).status_code == 303
    app = services.applications.get(app_id, owner)
    assert [i.holder.id_number for i in app.operators] == [named.id_number] and app.operators[0].confirmed
    assert post(client, step, {"op": "pick:5"}).status_code == 400


def test_staff_accounts_ask_to_confirm_a_disable_and_report_every_problem(services):
    admin = _staff(services, "zhao", "branch_admin")
    create_user(services, "sun", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    token = csrf_of(admin, "/staff/accounts")
    refused = admin.post("/staff/accounts/sun/disable", data={"csrf_token": token})
    assert refused.status_code == 400 and "请勾选确认" in refused.text
    with services.store.transaction(readonly=True) as tx:
        assert not Accounts(tx).by_username("sun").disabled
    wrong = admin.post("/staff/accounts", data={"csrf_token": token, "username": "x", "password": "short"})
    assert wrong.status_code == 422
    for field in ("username", "password", "roles"):
        assert f'id="err-{field}"' in wrong.text, field


# ---- the demo follows --port ---------------------------------------------------------------------------------

def test_the_demo_follows_its_port(tmp_path):
    from core.web.demo import build_demo
    from core.web.receipt import progress_url

    services, _logins, _ca = build_demo(tmp_path / "demo", port=8123)
    try:
        settings = services.settings
        assert settings.web.port == 8123 and settings.web.base_url == "http://127.0.0.1:8123"
        assert settings.agent.allowed_origins == ("http://127.0.0.1:8123", "http://localhost:8123")
        assert settings.agent.server_url == "http://127.0.0.1:8123"
        shipped = [a for a in services.applications.list_for(SYSTEM, [AppState.COMPLETED]) if a.acceptance_no]
        assert progress_url(settings.web.base_url, shipped[0]).startswith("http://127.0.0.1:8123/progress?")
        assert any(a.pickup.method is Pickup.MAIL and a.delivery is None for a in shipped)  # the clerk's list
        assert any(a.delivery is Delivery.SHIPPED for a in shipped)
    finally:
        services.store.dispose()
    again, _l, _c = build_demo(tmp_path / "demo", port=8124)  # the same folder served elsewhere
    try:
        assert again.settings.web.base_url == "http://127.0.0.1:8124"
        text = (tmp_path / "demo" / "eportcard.toml").read_text()
        assert ":8000" not in text and text.count("server_url") == 1
    finally:
        again.store.dispose()


def test_app_show_tells_the_clerk_where_to_mail(services, tmp_path, monkeypatch):
    from core.cli import describe

    app_id = _completed(services, 40, Pickup.MAIL)
    app = services.applications.get(app_id, SYSTEM)
    text = describe(app, services)
    mail = app.pickup.mail_to
    assert f"寄送 mail to:   {mail.recipient}  {mail.phone}  {mail.address}" in text
    assert "邮寄（到付） / By post (cash on delivery)" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_labels_replace_codes_on_the_portal_detail(client, services, lang):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    page = client.get(f"/portal/apps/{app_id}?lang={lang}").text
    visible = re.sub(r"<[^>]+>", " ", page)
    codes = ["ic_card", "shenzhen_east_hall", "resident_id", "awaiting_pickup"]
    if lang == "zh":  # English words are labels on an English page ("legal card"), codes on a Chinese one
        codes += ["operator", "legal", "counter", "create", "draft"]
    for code in codes:
        assert not re.search(rf"\b{code}\b", visible), code
