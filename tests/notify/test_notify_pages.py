"""The pages: the enterprise chooses SMS, e-mail or both (bad input: a bilingual error and nothing saved);
staff see the jobs, the failed notices with a retry button, and the expiring certificates with a CSV."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from notifykit import notify_services
from starlette.testclient import TestClient

from core.config import SmsSettings
from core.model import Card, CardKind, CardState, CertificateRef
from core.samples import make_enrol
from core.services import Actor
from core.services.accounts import create_user
from core.services.jobs import JOBS, Scheduler
from core.store.notify import NewMessage, Outbox
from core.web.app import create_app

PASSWORD = "Passw0rd!x"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def services(store, tmp_path, clock):
    made = notify_services(store, tmp_path, clock, sms=SmsSettings(gateway="outbox"), development=True)
    enterprise = make_enrol(1).enterprise
    with made.store.transaction() as tx:
        tx.enterprises.save(enterprise)
    create_user(made, "ent1", PASSWORD, "enterprise", uscc=enterprise.uscc, region="shenzhen", mobile="13800000000")
    create_user(made, "clerk", PASSWORD, "staff", region="shenzhen", roles=["counter_clerk"])
    return made


def _client(services, username: str) -> TestClient:
    client = TestClient(create_app(services), base_url="http://testserver")
    assert client.post("/api/session", json={"username": username, "password": PASSWORD}).status_code == 200
    return client


def _post(client: TestClient, path: str, data: dict, page: str) -> object:
    token = CSRF.search(client.get(page).text).group(1)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_the_enterprise_chooses_how_it_is_told(services):
    client = _client(services, "ent1")
    page = client.get("/portal/notify")
    assert page.status_code == 200 and 'value="sms" checked' in page.text  # nothing chosen yet: SMS
    saved = _post(client, "/portal/notify", {"channels": "both", "mobile": "", "email": "ops@example.com",
                                             "sms_language": "en"}, "/portal/notify")
    assert saved.status_code == 303 and saved.headers["location"] == "/portal/notify?done=saved"
    again = client.get("/portal/notify")
    assert 'value="both" checked' in again.text and 'value="ops@example.com"' in again.text
    owner = Actor(id="ent1", kind="enterprise", uscc=make_enrol(1).enterprise.uscc)
    assert services.notifications.choice(owner).channels == "both"
    with services.store.transaction(readonly=True) as tx:
        (entry,) = tx.audit.for_entity("enterprise", owner.uscc)
    assert entry.action == "notify_choice" and entry.payload["email"] == "o***@example.com"


@pytest.mark.parametrize(("form", "field"), [
    ({"channels": "mail", "mobile": "", "email": "", "sms_language": "zh"}, "email"),
    ({"channels": "sms", "mobile": "12345", "email": "", "sms_language": "zh"}, "mobile"),
    ({"channels": "both", "mobile": "", "email": "not-an-address", "sms_language": "zh"}, "email"),
    ({"channels": "fax", "mobile": "", "email": "", "sms_language": "zh"}, "channels"),
    ({"channels": "sms", "mobile": "", "email": "", "sms_language": "fr"}, "sms_language"),
])
def test_a_bad_choice_is_refused_in_both_languages_and_nothing_changes(services, form, field):
    client = _client(services, "ent1")
    refused = _post(client, "/portal/notify", form, "/portal/notify")
    assert refused.status_code == 422  # every problem of the form at once
    owner = Actor(id="ent1", kind="enterprise", uscc=make_enrol(1).enterprise.uscc)
    assert services.notifications.choice(owner).saved is False
    messages = {"email": ("电子邮箱", "e-mail"), "mobile": ("手机号码", "mobile"), "channels": ("短信", "SMS"),
                "sms_language": ("短信语言", "SMS language")}[field]
    assert messages[0] in refused.text
    english = client.get("/portal/notify?lang=en")  # the language switch: the same refusal in English
    assert english.status_code == 200
    assert messages[1].lower() in _post(client, "/portal/notify", form, "/portal/notify?lang=en").text.lower()


def test_staff_see_the_jobs_with_their_last_and_next_run(services):
    Scheduler(services).run_due()
    page = _client(services, "clerk").get("/staff/jobs")
    assert page.status_code == 200
    for job in JOBS:
        assert f'data-job="{job.name}" data-result="ok"' in page.text
    assert _client(services, "ent1").get("/staff/jobs", follow_redirects=False).status_code in (302, 303, 401, 403)


def test_staff_retry_a_failed_notice_from_its_page(services, clock):
    with services.store.transaction() as tx:
        (message_id,) = Outbox(tx).enqueue([NewMessage("k:sms", "sms", "completed", "13800000001", "done",
                                                       region="shenzhen")], clock.now)
        Outbox(tx).failed(message_id, "tencent", "InvalidParameterValue.IncorrectPhoneNumber", None)
    client = _client(services, "clerk")
    page = client.get("/staff/messages")
    assert f'data-message-id="{message_id}"' in page.text and "IncorrectPhoneNumber" in page.text
    retried = _post(client, f"/staff/messages/{message_id}/retry", {}, "/staff/messages")
    assert retried.status_code == 303
    assert 'id="no-dead-letters"' in client.get("/staff/messages").text
    again = _post(client, f"/staff/messages/{message_id}/retry", {}, "/staff/messages")
    assert again.status_code == 400 and "不在失败列表中" in again.text  # nothing to retry any more
    no_token = client.post(f"/staff/messages/{message_id}/retry", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    assert services.notifications.deliver_due().sent == 1


def test_staff_list_and_export_the_expiring_certificates(services, clock):
    holder = make_enrol(1).enterprise.legal_rep
    with services.store.transaction() as tx:
        tx.cards.add(Card(id="C1", enterprise_uscc=make_enrol(1).enterprise.uscc, kind=CardKind.LEGAL, holder=holder,
                          state=CardState.ACTIVE, device_no="8800000000001",
                          certificate=CertificateRef("ab01", clock.now - timedelta(days=3000),
                                                     clock.now + timedelta(days=20))))
    client = _client(services, "clerk")
    page = client.get("/staff/expiring")
    assert 'data-card-id="C1"' in page.text and holder.name in page.text
    assert 'id="no-expiring"' in client.get("/staff/expiring?within=10").text
    assert client.get("/staff/expiring?within=abc").status_code == 400
    export = client.get("/staff/expiring.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    lines = export.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("card_id,uscc") and lines[1].startswith("C1,")
