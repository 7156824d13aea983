"""The staff console: login, the branch queue (due-date order, overdue flag, filters, search, pages,
masked IDs), the detail page's role- and state-dependent actions, every action through its form
(with CSRF and optimistic versions), region steps, the audit trail and branch scope."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient
from webkit import CSRF_RE, PASSWORD, make_services

from core.labels import label
from core.model import AppState, Delivery, Pickup, RejectionReason
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.accounts import create_user
from core.web import staff
from core.web.app import create_app

SYSTEM = Actor.system("test")


def submitted(services: Services, n: int, region: str = "shenzhen", pickup: Pickup = Pickup.COUNTER) -> str:
    draft = make_enrol(n, region, pickup=pickup)
    if region == "changchun":  # the Changchun centre wants its remarks format (自取+联系人+电话)
        rep = draft.enterprise.legal_rep
        draft = attrs.evolve(draft, making_centre="changchun_centre", remarks=f"自取+{rep.name}+{rep.phone}")
    app = services.applications.create(draft, SYSTEM)
    return services.applications.submit(app.id, SYSTEM).id


def made_and_completed(services: Services, app_id: str) -> None:
    """Accepted, produced, every card recorded as made, completed (办结)."""
    apps = services.applications
    produced = apps.start_production(apps.accept(app_id, SYSTEM).id, SYSTEM)
    for index in range(len(produced.items)):
        apps.mark_made(app_id, index, SYSTEM)
    apps.complete(app_id, SYSTEM)


def staff_client(services: Services, roles: list[str], region: str = "shenzhen",
                 username: str | None = None) -> TestClient:
    name = username or f"{region}-{'-'.join(roles)}"
    create_user(services, name, PASSWORD, "staff", region=region, roles=roles)
    client = TestClient(create_app(services), base_url="http://testserver")
    page = client.get("/staff/login")
    token = CSRF_RE.search(page.text).group(1)
    done = client.post("/staff/login", data={"csrf_token": token, "username": name, "password": PASSWORD},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/staff", done.text
    return client


def token(client: TestClient, app_id: str) -> str:
    return CSRF_RE.search(client.get(f"/staff/apps/{app_id}").text).group(1)


def act(client: TestClient, services: Services, app_id: str, action: str, **fields):
    version = services.applications.get(app_id, SYSTEM).version
    data = {"csrf_token": token(client, app_id), "version": str(version), **fields}
    return client.post(f"/staff/apps/{app_id}/{action}", data=data, follow_redirects=False)


def forms_on(html: str) -> set[str]:
    return set(re.findall(r'id="action-([a-z_]+)"', html))


# ---- login ----------------------------------------------------------------------------------------------

def test_staff_login_takes_staff_and_refuses_enterprise_accounts(services):
    create_user(services, "ent-admin", PASSWORD, "enterprise", uscc="91440300MA0000001L", region="shenzhen")
    client = TestClient(create_app(services))
    assert client.get("/staff", follow_redirects=False).headers["location"].startswith("/staff/login")
    tok = CSRF_RE.search(client.get("/staff/login").text).group(1)
    refused = client.post("/staff/login", data={"csrf_token": tok, "username": "ent-admin", "password": PASSWORD})
    assert refused.status_code == 403 and "不是工作人员账号" in refused.text
    assert client.get("/staff", follow_redirects=False).status_code == 303  # still logged out
    reviewer = staff_client(services, ["reviewer"])
    assert reviewer.get("/staff").status_code == 200


# ---- the queue ------------------------------------------------------------------------------------------

def test_queue_is_sorted_by_due_date_flags_overdue_masks_ids_and_keeps_to_the_branch(services, clock):
    first = submitted(services, 1)
    clock.now += timedelta(days=3)
    second = submitted(services, 2)
    other_branch = submitted(services, 3, region="changchun")
    client = staff_client(services, ["reviewer"])
    page = client.get("/staff").text
    order = re.findall(r'data-app-id="([^"]+)"', page)
    assert order == [first, second]  # soonest due first; Changchun's application is not shown
    assert other_branch not in page
    assert "已超期" not in page
    holder = make_enrol(1).enterprise.legal_rep.id_number
    assert holder not in page and f"{holder[:6]}********{holder[-4:]}" in page
    clock.now += timedelta(days=60)
    late = client.get("/staff").text
    assert late.count("overdue-row") == 2 and "已超期" in late
    assert "Overdue" in client.get("/staff?lang=en").text


def test_queue_filters_by_state_searches_and_pages(services):
    ids = [submitted(services, n) for n in range(1, 24)]
    services.applications.accept(ids[0], SYSTEM)
    client = staff_client(services, ["reviewer"])
    accepted = client.get("/staff?state=accepted").text
    assert re.findall(r'data-app-id="([^"]+)"', accepted) == [ids[0]]
    app5 = services.applications.get(ids[4], SYSTEM)
    for needle in (app5.acceptance_no, app5.enterprise.uscc, app5.enterprise.name):
        found = re.findall(r'data-app-id="([^"]+)"', client.get("/staff", params={"q": needle}).text)
        assert found == [ids[4]], needle
    first = re.findall(r'data-app-id="([^"]+)"', client.get("/staff").text)
    second = re.findall(r'data-app-id="([^"]+)"', client.get("/staff?page=2").text)
    assert len(first) == 20 and len(second) == 3 and not set(first) & set(second)
    assert set(first) | set(second) == set(ids)
    assert client.get("/staff?state=bogus").status_code == 400


# ---- detail and actions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("roles, expected", [
    (["reviewer"], {"accept"}),
    (["card_maker"], set()),
    (["counter_clerk"], set()),
    (["branch_admin"], {"accept"}),
])
def test_detail_offers_what_the_role_and_state_allow(services, roles, expected):
    app_id = submitted(services, 1)
    page = staff_client(services, roles).get(f"/staff/apps/{app_id}")
    assert page.status_code == 200
    assert forms_on(page.text) == expected
    assert f'name="version" value="{services.applications.get(app_id, SYSTEM).version}"' in page.text \
        or not expected


def test_reject_form_lists_every_standard_reason_and_records_reasons_and_note(services):
    app_id = submitted(services, 1)
    client = staff_client(services, ["reviewer"])
    assert act(client, services, app_id, "accept").status_code == 303
    page = client.get(f"/staff/apps/{app_id}").text
    for reason in RejectionReason:
        assert f'value="{reason.value}"' in page and label(reason) in page
    done = act(client, services, app_id, "reject", reasons=["materials_incomplete", "other"], note="营业执照模糊",
               confirm="yes")
    assert done.status_code == 303
    app = services.applications.get(app_id, SYSTEM)
    assert app.state is AppState.REJECTED
    assert app.last_reasons == (RejectionReason.MATERIALS_INCOMPLETE, RejectionReason.OTHER)
    assert app.last_rejection_note == "营业执照模糊"


def test_reject_without_a_reason_is_refused_and_changes_nothing(services):
    app_id = submitted(services, 1)
    client = staff_client(services, ["reviewer"])
    act(client, services, app_id, "accept")
    before = services.applications.get(app_id, SYSTEM)
    refused = act(client, services, app_id, "reject", note="x", confirm="yes")
    assert refused.status_code == 422 and "至少选择一条退单原因" in refused.text
    assert services.applications.get(app_id, SYSTEM) == before


def test_a_stale_version_shows_the_conflict_message_in_both_languages(services):
    app_id = submitted(services, 1)
    client = staff_client(services, ["reviewer"])
    seen = services.applications.get(app_id, SYSTEM).version
    form_token = token(client, app_id)
    services.applications.accept(app_id, SYSTEM)  # someone else acts first
    after = services.applications.get(app_id, SYSTEM)
    for lang, words in (("zh", "已被他人修改"), ("en", "changed meanwhile")):
        stale = client.post(f"/staff/apps/{app_id}/accept?lang={lang}",
                            data={"csrf_token": form_token, "version": str(seen)})
        assert stale.status_code == 409 and words in stale.text
    assert services.applications.get(app_id, SYSTEM) == after


def test_the_whole_counter_path_production_and_hand_over_with_the_receipt_check(services):
    app_id = submitted(services, 1)
    admin = staff_client(services, ["branch_admin"])
    for action in ("accept", "require_medium", "provide_medium", "start_production"):
        assert act(admin, services, app_id, action, note=action).status_code == 303, action
    assert "make" in forms_on(admin.get(f"/staff/apps/{app_id}").text)
    for index in range(2):
        assert act(admin, services, app_id, "make", item=str(index)).status_code == 303
    assert all(i.made for i in services.applications.get(app_id, SYSTEM).items)
    assert act(admin, services, app_id, "complete", confirm="yes").status_code == 303
    app = services.applications.get(app_id, SYSTEM)
    assert app.state is AppState.COMPLETED and app.delivery is Delivery.AWAITING_PICKUP
    assert forms_on(admin.get(f"/staff/apps/{app_id}").text) == {"hand_over"}  # counter pickup: no shipping
    wrong = act(admin, services, app_id, "hand_over", acceptance_no="WSZ9999999")
    assert wrong.status_code == 403 and "受理编号与申请单不符" in wrong.text
    assert services.applications.get(app_id, SYSTEM).delivery is Delivery.AWAITING_PICKUP
    assert act(admin, services, app_id, "hand_over", acceptance_no=app.acceptance_no.lower()).status_code == 303
    assert services.applications.get(app_id, SYSTEM).delivery is Delivery.HANDED_OVER


def test_mail_pickup_ships_with_a_tracking_number(services):
    app_id = submitted(services, 1, pickup=Pickup.MAIL)
    made_and_completed(services, app_id)
    clerk = staff_client(services, ["counter_clerk"])
    assert forms_on(clerk.get(f"/staff/apps/{app_id}").text) == {"ship", "hand_over"}
    assert act(clerk, services, app_id, "ship", tracking_no=" ").status_code == 422
    assert act(clerk, services, app_id, "ship", tracking_no="SF1234567890").status_code == 303
    app = services.applications.get(app_id, SYSTEM)
    assert app.delivery is Delivery.SHIPPED and app.tracking_no == "SF1234567890"
    assert "SF1234567890" in clerk.get(f"/staff/apps/{app_id}").text


def test_region_steps_are_offered_and_block_production_until_done(tmp_path: Path, sqlite_store, clock):
    services = make_services(sqlite_store, tmp_path, clock)
    services = attrs.evolve(services, rulebook=Rulebook(get_plugin_manager(enabled=["xian"])))
    app_id = submitted(services, 7, region="xian")
    services.applications.accept(app_id, SYSTEM)
    maker = staff_client(services, ["card_maker"], region="xian")
    page = maker.get(f"/staff/apps/{app_id}").text
    assert {"step", "start_production"} <= forms_on(page)
    pending = [s.code for s in services.applications.pending_steps(services.applications.get(app_id, SYSTEM))]
    assert pending and all(f'<option value="{code}">' in page for code in pending)
    blocked = act(maker, services, app_id, "start_production")
    assert blocked.status_code == 409 and "请先完成本分中心规定的步骤" in blocked.text
    for code in pending:
        assert act(maker, services, app_id, "step", step=code).status_code == 303
    assert "step" not in forms_on(maker.get(f"/staff/apps/{app_id}").text)
    assert act(maker, services, app_id, "start_production").status_code == 303
    assert services.applications.get(app_id, SYSTEM).state is AppState.IN_PRODUCTION


def test_audit_trail_is_shown_with_ids_masked(services):
    app_id = submitted(services, 1)
    client = staff_client(services, ["reviewer"])
    act(client, services, app_id, "accept")
    page = client.get(f"/staff/apps/{app_id}").text
    audit = page[page.index('id="audit"'):]
    assert audit.count("<tr>") == 4  # header + create, submit, accept
    assert "shenzhen-reviewer" in audit
    agent = make_enrol(1).agent.id_number
    assert agent not in page and f"{agent[:6]}********{agent[-4:]}" in audit


# ---- scope and CSRF ---------------------------------------------------------------------------------------

def test_staff_of_another_branch_can_neither_see_nor_act(services):
    app_id = submitted(services, 1)
    before = services.applications.get(app_id, SYSTEM)
    outsider = staff_client(services, ["branch_admin"], region="changchun")
    assert outsider.get(f"/staff/apps/{app_id}").status_code == 403
    tok = CSRF_RE.search(outsider.get("/staff").text).group(1)
    for action in staff.STAFF_ACTIONS:
        refused = outsider.post(f"/staff/apps/{app_id}/{action}",
                                data={"csrf_token": tok, "version": str(before.version), "reasons": "other",
                                      "note": "x", "tracking_no": "1", "acceptance_no": before.acceptance_no,
                                      "step": "x", "item": "0"})
        assert refused.status_code == 403, action
    assert services.applications.get(app_id, SYSTEM) == before


def test_a_role_cannot_do_what_it_is_not_given(services):
    app_id = submitted(services, 1)
    maker = staff_client(services, ["card_maker"])
    refused = act(maker, services, app_id, "accept")
    assert refused.status_code == 403
    assert services.applications.get(app_id, SYSTEM).state is AppState.SUBMITTED


def test_every_staff_post_needs_the_csrf_token(services):
    app_id = submitted(services, 1)
    client = staff_client(services, ["branch_admin"])
    before = services.applications.get(app_id, SYSTEM)
    posts = [r for r in staff.routes if isinstance(r, Route) and "POST" in (r.methods or set())]
    assert {r.path for r in posts} == {"/staff/login", "/staff/apps/{app_id}/{action}",
                                       "/staff/apps/{app_id}/personalize"}
    for action in (*staff.STAFF_ACTIONS, "personalize"):
        for bad in ({}, {"csrf_token": "forged"}):
            refused = client.post(f"/staff/apps/{app_id}/{action}", data={"version": str(before.version), **bad})
            assert refused.status_code == 403 and "CSRF" in refused.text
    fresh = TestClient(create_app(services))
    assert fresh.post("/staff/login", data={"username": "x", "password": "y"}).status_code == 403
    assert services.applications.get(app_id, SYSTEM) == before
