"""Issue #10's application bugs through the pages and the JSON API (the CLI's side is
tests/test_cli_applications.py, the service door's tests/services/test_application_rules.py)."""

from __future__ import annotations

import re

import attrs
from webkit import (
    SYSTEM,
    enterprise,
    fill_enrolment,
    post,
    register_and_login,
    submit_via_portal,
)

from core.model import AppState, RejectionReason
from core.samples import make_enrol
from core.services import Services
from core.store.accounts import SmsOutbox


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
    offered = re.findall(r'<option value="([^"]+)"', page[page.index('id="f-centre"'):].split("</select>")[0])
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
