"""Issue #10's application bugs through the pages and the JSON API (the CLI's side is
tests/test_cli_applications.py, the service door's tests/services/test_application_rules.py)."""

from __future__ import annotations

import re

import attrs
from webkit import (
    SYSTEM,
    check_data,
    enterprise,
    fill_enrolment,
    last_code,
    post,
    register_and_login,
    submit_via_portal,
    submitted,
)
from webkit import staff as staff_api

from core.model import AppState, Delivery, Pickup, RejectionReason
from core.samples import make_enrol
from core.services import Services
from core.services.applications import ApplicationService
from core.store.accounts import SmsOutbox
from core.web.api import API_ROUTES


def sms_code(services: Services, mobile: str) -> str:
    with services.store.transaction(readonly=True) as tx:
        message = next(m for m in SmsOutbox(tx).recent(20) if m.mobile == mobile)
    return re.search(r"验证码为(\d{6})", message.text).group(1)


def rejected(services: Services, app_id: str) -> None:
    """Staff accept, then reject, ``app_id`` (a submitted application)."""
    services.applications.accept(app_id, SYSTEM)
    services.applications.reject(app_id, SYSTEM, [RejectionReason.REMARKS])


# ---- a rejected enrolment holds the slot ------------------------------------------------------------------------

def test_portal_a_second_enrolment_is_refused_while_the_first_is_rejected(client, services):
    register_and_login(client)
    first = fill_enrolment(client, services)
    assert submit_via_portal(client, services, first).status_code == 303
    rejected(services, first)
    second = fill_enrolment(client, services)
    refused = submit_via_portal(client, services, second)
    assert refused.status_code == 400 and "未办结的新办申请单" in refused.text
    assert services.applications.get(second, SYSTEM).state is AppState.DRAFT


def test_api_a_second_enrolment_is_refused_while_the_first_is_rejected(services):
    client, csrf = enterprise(services, 1)
    first = services.applications.create(make_enrol(1), SYSTEM)
    services.applications.submit(first.id, SYSTEM)
    rejected(services, first.id)
    second = services.applications.create(attrs.evolve(make_enrol(1), id=""), SYSTEM)
    assert client.post(f"/api/applications/{second.id}/sms_code", headers=csrf).status_code == 202
    reply = client.post(f"/api/applications/{second.id}/submit", headers=csrf, json={
        "sms_code": sms_code(services, second.agent.phone), "declaration": True, "version": second.version})
    assert reply.status_code == 422, reply.text
    assert any(p["field"] == "business" for p in reply.json()["error"]["problems"])
    assert services.applications.get(second.id, SYSTEM).state is AppState.DRAFT


# ---- the making centre never moves an application to another region -------------------------------------------

def test_portal_offers_and_takes_only_the_regions_own_making_centres(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    page = client.get(f"/portal/apps/{app_id}/step/pickup").text
    offered = re.findall(r'<option value="([^"]+)"', page[page.index('id="f-making_centre"'):].split("</select>")[0])
    assert offered == ["shenzhen_east_hall"]  # not Changchun's centres
    before = services.applications.get(app_id, SYSTEM)
    moved = post(client, f"/portal/apps/{app_id}/step/pickup", {
        "method": "counter", "outlet": "shenzhen_east_hall", "making_centre": "changchun_centre", "action": "next"})
    assert moved.status_code == 400 and "制卡机构" in moved.text
    after = services.applications.get(app_id, SYSTEM)
    assert after == before and after.region == "shenzhen"
    kept = post(client, f"/portal/apps/{app_id}/step/pickup", {
        "method": "counter", "outlet": "shenzhen_east_hall", "making_centre": "shenzhen_east_hall", "action": "next"})
    assert kept.status_code == 303
    assert submit_via_portal(client, services, app_id).status_code == 303
    done = services.applications.get(app_id, SYSTEM)
    assert done.region == "shenzhen" and done.acceptance_no.startswith("WSZ") and done.pickup.outlet


def test_api_refuses_another_regions_making_centre(services):
    client, csrf = enterprise(services, 1)
    made = client.post("/api/applications", headers=csrf, json={"business": "enrol", "making_centre": "changchun_centre"})
    assert made.status_code == 400 and made.json()["error"]["field"] == "making_centre", made.text
    made = client.post("/api/applications", headers=csrf, json={"business": "enrol"})
    app_id, version = made.json()["id"], made.json()["version"]
    moved = client.patch(f"/api/applications/{app_id}", headers=csrf,
                         json={"version": version, "making_centre": "changchun_centre"})
    assert moved.status_code == 400 and moved.json()["error"]["field"] == "making_centre", moved.text
    assert services.applications.get(app_id, SYSTEM).region == "shenzhen"
    kept = client.patch(f"/api/applications/{app_id}", headers=csrf,
                        json={"version": version, "making_centre": "shenzhen_east_hall"})
    assert kept.status_code == 200 and kept.json()["region"] == "shenzhen"


# ---- the staff console, the API and the service share one door ---------------------------------------------------

def staff_page(services: Services, roles: list[str]):
    from test_staff import staff_client

    return staff_client(services, roles)


def act(client, services: Services, app_id: str, action: str, **fields):
    from test_staff import act as staff_act

    return staff_act(client, services, app_id, action, **fields)


def forms_on(html: str) -> set[str]:
    return set(re.findall(r'id="action-([a-z_]+)"', html))


def produced(services: Services, n: int = 1, pickup: Pickup = Pickup.COUNTER) -> str:
    app_id = submitted(services, n, pickup=pickup)
    services.applications.start_production(services.applications.accept(app_id, SYSTEM).id, SYSTEM)
    return app_id


def race_on_make(monkeypatch) -> None:
    """Someone else records card 2 as made just before the request's own "make" runs: between a check
    of the version and the change, had they been two steps."""
    original = ApplicationService.mark_made

    def racing(self, app_id, index, actor, *args, **kwargs):
        monkeypatch.setattr(ApplicationService, "mark_made", original)
        original(self, app_id, 1, SYSTEM)
        return original(self, app_id, index, actor, *args, **kwargs)

    monkeypatch.setattr(ApplicationService, "mark_made", racing)


def test_portal_make_checks_the_version_inside_the_change(services, monkeypatch):
    app_id = produced(services)
    maker = staff_page(services, ["card_maker"])
    race_on_make(monkeypatch)
    raced = act(maker, services, app_id, "make", item="0")
    assert raced.status_code == 409 and "已被他人修改" in raced.text
    app = services.applications.get(app_id, SYSTEM)
    assert [i.made for i in app.items] == [False, True]  # the other change only
    assert act(maker, services, app_id, "make", item="0").status_code == 303


def test_api_make_checks_the_version_inside_the_change(services, monkeypatch):
    app_id = produced(services)
    client, csrf = staff_api(services, ["card_maker"])
    seen = services.applications.get(app_id, SYSTEM).version
    race_on_make(monkeypatch)
    raced = client.post(f"/api/applications/{app_id}/items/0/made", headers=csrf, json={"version": seen})
    assert raced.status_code == 409 and raced.json()["error"]["field"] == "version", raced.text
    assert [i.made for i in services.applications.get(app_id, SYSTEM).items] == [False, True]


def test_console_completion_asks_for_confirmation_and_the_unmade_cards_reason(services):
    app_id = produced(services)
    maker = staff_page(services, ["card_maker"])
    page = maker.get(f"/staff/apps/{app_id}").text
    form = page[page.index('id="action-complete"'):].split("</form>")[0]
    assert 'name="confirm" value="yes" required' in form and 'name="unmade_reason"' in form
    assert 'id="unmade-cards"' in form and "1、2" in form  # numbered as Chinese lists them
    before = services.applications.get(app_id, SYSTEM)
    unconfirmed = act(maker, services, app_id, "complete")
    assert unconfirmed.status_code == 400 and "勾选确认" in unconfirmed.text
    refused = act(maker, services, app_id, "complete", confirm="yes")
    assert refused.status_code == 422 and "第1、2张卡尚未制作" in refused.text
    assert services.applications.get(app_id, SYSTEM) == before
    assert act(maker, services, app_id, "make", item="0").status_code == 303
    form = maker.get(f"/staff/apps/{app_id}").text.split('id="action-complete"')[1].split("</form>")[0]
    assert "1, 2" not in form and "2" in form.split('id="unmade-cards"')[1]
    done = act(maker, services, app_id, "complete", confirm="yes", unmade_reason="企业撤回操作员卡")
    assert done.status_code == 303
    app = services.applications.get(app_id, SYSTEM)
    assert app.state is AppState.COMPLETED and "企业撤回操作员卡" in app.history[-1].note
    trail = maker.get(f"/staff/apps/{app_id}").text
    assert "企业撤回操作员卡" in trail


def test_console_all_made_completes_with_the_confirmation_alone(services):
    app_id = produced(services)
    maker = staff_page(services, ["card_maker"])
    for index in ("0", "1"):
        assert act(maker, services, app_id, "make", item=index).status_code == 303
    form = maker.get(f"/staff/apps/{app_id}").text.split('id="action-complete"')[1].split("</form>")[0]
    assert 'name="unmade_reason"' not in form
    assert act(maker, services, app_id, "complete", confirm="yes").status_code == 303


def test_api_completion_needs_every_card_made_or_a_reason(services):
    app_id = produced(services)
    client, csrf = staff_api(services, ["card_maker"])
    version = services.applications.get(app_id, SYSTEM).version
    refused = client.post(f"/api/applications/{app_id}/complete", headers=csrf, json={"version": version})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "items", refused.text
    done = client.post(f"/api/applications/{app_id}/complete", headers=csrf,
                       json={"version": version, "unmade_reason": "法定代表人未到场，申请作废"})
    assert done.status_code == 200 and done.json()["state"] == "completed", done.text
    assert "法定代表人未到场" in done.json()["history"][-1]["note"]


def test_console_delivers_or_returns_a_shipped_card_after_confirmation(services):
    app_id = produced(services, pickup=Pickup.MAIL)
    for index in range(2):
        services.applications.mark_made(app_id, index, SYSTEM)
    services.applications.complete(app_id, SYSTEM)
    clerk = staff_page(services, ["counter_clerk"])
    assert act(clerk, services, app_id, "ship", tracking_no="SF1").status_code == 303
    page = clerk.get(f"/staff/apps/{app_id}").text
    assert forms_on(page) == {"deliver", "return"}
    for name in ("deliver", "return"):
        assert 'name="confirm" value="yes" required' in page.split(f'id="action-{name}"')[1].split("</form>")[0]
    unconfirmed = act(clerk, services, app_id, "return")
    assert unconfirmed.status_code == 400 and services.applications.get(app_id, SYSTEM).delivery is Delivery.SHIPPED
    assert act(clerk, services, app_id, "return", confirm="yes", note="地址不详").status_code == 303
    app = services.applications.get(app_id, SYSTEM)
    assert app.delivery is Delivery.RETURNED and app.history[-1].note == "地址不详"
    assert forms_on(clerk.get(f"/staff/apps/{app_id}").text) == {"ship", "hand_over"}
    assert act(clerk, services, app_id, "ship", tracking_no="SF2").status_code == 303
    assert act(clerk, services, app_id, "deliver", confirm="yes").status_code == 303
    assert services.applications.get(app_id, SYSTEM).delivery is Delivery.DELIVERED
    reviewer = staff_page(services, ["reviewer"])
    assert act(reviewer, services, app_id, "deliver", confirm="yes").status_code == 403


def test_api_delivers_or_returns_a_shipped_card(services):
    app_id = produced(services, pickup=Pickup.MAIL)
    for index in range(2):
        services.applications.mark_made(app_id, index, SYSTEM)
    shipped = services.applications.ship(services.applications.complete(app_id, SYSTEM).id, "SF1", SYSTEM)
    client, csrf = staff_api(services, ["counter_clerk"])
    assert client.get(f"/api/applications/{app_id}").json()["actions"] == ["deliver", "return"]
    back = client.post(f"/api/applications/{app_id}/return", headers=csrf,
                       json={"version": shipped.version, "note": "拒收"})
    assert back.status_code == 200 and back.json()["delivery"] == "returned", back.text
    stale = client.post(f"/api/applications/{app_id}/deliver", headers=csrf, json={"version": shipped.version})
    assert stale.status_code == 409
    again = services.applications.ship(app_id, "SF2", SYSTEM)
    done = client.post(f"/api/applications/{app_id}/deliver", headers=csrf, json={"version": again.version})
    assert done.status_code == 200 and done.json()["delivery"] == "delivered"
    paths = {(r.method, r.path) for r in API_ROUTES}
    assert {("POST", "/api/applications/{app_id}/deliver"), ("POST", "/api/applications/{app_id}/return")} <= paths


# ---- the SMS code is spent only with the submission it signs -------------------------------------------------------

def test_portal_a_conflicting_submission_leaves_the_code_unused(client, services):
    register_and_login(client)
    app_id = fill_enrolment(client, services)
    preview = f"/portal/apps/{app_id}/step/preview"
    check_data(client, services, app_id)
    assert post(client, f"/portal/apps/{app_id}/sms", token_from=preview).status_code == 303
    code = last_code(services, "13900000001")
    seen = services.applications.get(app_id, SYSTEM).version
    stale = post(client, f"/portal/apps/{app_id}/submit",
                 {"declaration": "yes", "sms_code": code, "version": str(seen - 1)}, token_from=preview)
    assert stale.status_code == 400 and "已被他人修改" in stale.text
    done = post(client, f"/portal/apps/{app_id}/submit",
                {"declaration": "yes", "sms_code": code, "version": str(seen)}, token_from=preview)
    assert done.status_code == 303, done.text
    assert services.applications.get(app_id, SYSTEM).state is AppState.SUBMITTED


def test_api_a_conflicting_submission_leaves_the_code_unused(services):
    client, csrf = enterprise(services, 1)
    app = services.applications.create(make_enrol(1), SYSTEM)
    assert client.post(f"/api/applications/{app.id}/sms_code", headers=csrf).status_code == 202
    code = sms_code(services, app.agent.phone)
    stale = client.post(f"/api/applications/{app.id}/submit", headers=csrf,
                        json={"sms_code": code, "declaration": True, "version": app.version - 1})
    assert stale.status_code == 409, stale.text
    done = client.post(f"/api/applications/{app.id}/submit", headers=csrf,
                       json={"sms_code": code, "declaration": True, "version": app.version})
    assert done.status_code == 200 and done.json()["state"] == "submitted", done.text


# ---- after 办结 with the legal card made, the enterprise holds it ----------------------------------------------------

def completed_with_cards(services: Services, n: int = 1) -> str:
    app_id = produced(services, n)
    for index in range(2):
        services.applications.mark_made(app_id, index, SYSTEM)
    services.applications.complete(app_id, SYSTEM)
    return app_id


def test_portal_after_completion_enrolment_is_no_longer_offered(client, services):
    register_and_login(client)
    completed_with_cards(services)
    page = client.get("/portal/apps/new").text
    enrol = page.split('value="enrol"')[1].split("</label>")[0]
    assert "disabled" in enrol and "已有法人卡" in enrol
    refused = post(client, "/portal/apps/new", {"business": "enrol"}, token_from="/portal/apps/new")
    assert refused.status_code == 403 and "已有法人卡" in refused.text


def test_api_after_completion_enrolment_is_refused(services):
    completed_with_cards(services)
    client, csrf = enterprise(services, 1)
    refused = client.post("/api/applications", headers=csrf, json={"business": "enrol"})
    assert refused.status_code == 403 and "already holds a legal card" in refused.json()["error"]["en"]
