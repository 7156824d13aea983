"""SMS codes (issue #9 items 1 and 8): the development outbox exists only in development mode and only
for this machine; a deployment without a gateway says it cannot send codes; sends are capped per
number, per account and per client address, every send is audited (number masked, never the code),
and a flow sends only to the number it defines, whatever the request carries."""

from __future__ import annotations

import json
from datetime import timedelta

import attrs
import pytest
from starlette.testclient import TestClient
from webkit import PASSWORD, SYSTEM, enterprise, make_services, post, register_and_login, registration

from core.config import Settings, SmsSettings
from core.errors import ConfigError
from core.model import Person
from core.samples import make_enrol
from core.services import Services
from core.services.accounts import REGISTER_PURPOSE, create_user
from core.services.sms import NoGateway, OutboxGateway, gateway_for
from core.store.accounts import SmsOutbox
from core.web.app import create_app

AGENT = "13900000009"


@pytest.fixture
def services(store, tmp_path, clock) -> Services:
    """Both databases (the rate counters lock rows differently on each)."""
    return make_services(store, tmp_path, clock)


def with_settings(services: Services, *, web: dict | None = None, sms: dict | None = None) -> Services:
    settings = services.settings
    return attrs.evolve(services, settings=attrs.evolve(
        settings, web=attrs.evolve(settings.web, **(web or {})), sms=attrs.evolve(settings.sms, **(sms or {}))))


def deployment(services: Services) -> Services:
    """What `eportcard init` makes: no development mode, the default gateway."""
    return with_settings(services, web={"development": False}, sms={"gateway": SmsSettings().gateway})


def sent(services: Services) -> list:
    with services.store.transaction(readonly=True) as tx:
        return SmsOutbox(tx).recent(1000)


def sms_audit(services: Services) -> list:
    with services.store.transaction(readonly=True) as tx:
        return [e for e in tx.audit.all(limit=10_000) if e.action == "sms_sent"]


def draft_with_agent(services: Services, n: int, phone: str = AGENT) -> str:
    """A draft of sample enterprise ``n`` whose agent's mobile is ``phone``."""
    sample = make_enrol(n)
    agent: Person = attrs.evolve(sample.agent, phone=phone)
    return services.applications.create(attrs.evolve(sample, id="", agent=agent), SYSTEM).id


def ask(client: TestClient, csrf: dict[str, str], app_id: str, body: dict | None = None):
    return client.post(f"/api/applications/{app_id}/sms_code", headers=csrf, json=body or {})


# ---- item 1: the outbox is development-only and loopback-only -------------------------------------------

def test_a_default_deployment_has_no_outbox_and_no_gateway(services: Services):
    assert Settings().sms.gateway == "none" and Settings().web.development is False
    services = deployment(services)
    app = create_app(services)
    for address in ("127.0.0.1", "203.0.113.7"):
        client = TestClient(app, base_url="http://testserver", client=(address, 50000))
        assert client.get("/dev/outbox").status_code == 404
        assert 'href="/dev/outbox"' not in client.get("/").text


def test_the_outbox_gateway_needs_development_mode(services: Services):
    with pytest.raises(ConfigError) as refused:
        gateway_for(with_settings(services, web={"development": False}, sms={"gateway": "outbox"}).settings)
    assert refused.value.field == "sms.gateway" and "[web] development = true" in refused.value.en
    assert "开发" in refused.value.zh and "docs/deployment.md" in refused.value.en
    with pytest.raises(ConfigError):
        create_app(with_settings(services, web={"development": False}, sms={"gateway": "outbox"}))
    assert isinstance(gateway_for(services.settings), OutboxGateway)  # webkit opts in to development mode
    assert isinstance(gateway_for(deployment(services).settings), NoGateway)
    with pytest.raises(ConfigError):
        gateway_for(with_settings(services, sms={"gateway": "carrier-pigeon"}).settings)


def test_in_development_mode_the_outbox_is_shown_to_this_machine_only(services: Services):
    app = create_app(services)
    client, csrf = enterprise(services, 1)
    assert ask(client, csrf, draft_with_agent(services, 1)).status_code == 202
    for address in ("127.0.0.1", "::1"):
        local = TestClient(app, base_url="http://testserver", client=(address, 50000))
        page = local.get("/dev/outbox")
        assert page.status_code == 200 and "验证码为" in page.text
        assert 'href="/dev/outbox"' in local.get("/").text
    for address in ("203.0.113.7", "10.0.0.2", "testclient"):
        remote = TestClient(app, base_url="http://testserver", client=(address, 50000))
        assert remote.get("/dev/outbox").status_code == 404
        assert 'href="/dev/outbox"' not in remote.get("/").text


def test_without_a_gateway_every_code_flow_says_so_and_sends_nothing(services: Services):
    services = deployment(services)
    app = create_app(services)
    portal = TestClient(app, base_url="http://testserver")
    # registration proves the administrator's mobile with a code: without a gateway it says so too
    registering = post(portal, "/portal/register/code", {"mobile": "13800000000"}, token_from="/portal/register")
    assert registering.status_code == 503 and "未配置短信网关" in registering.text
    create_user(services, "ent1", PASSWORD, "enterprise", uscc=registration(1)["uscc"], region="shenzhen",
                mobile="13800000000")
    reset = post(TestClient(app, base_url="http://testserver"), "/portal/password-reset/code",
                 {"username": "ent1", "mobile": "13800000000"}, token_from="/portal/password-reset")
    assert reset.status_code == 503 and "未配置短信网关" in reset.text
    nobody = post(TestClient(app, base_url="http://testserver"), "/portal/password-reset/code",
                  {"username": "nobody", "mobile": "13800000000"}, token_from="/portal/password-reset")
    assert nobody.status_code == 503  # the same answer whether or not the account exists

    client, csrf = enterprise(services, 2)
    app_id = draft_with_agent(services, 2)
    refused = ask(client, csrf, app_id)
    assert refused.status_code == 503
    error = refused.json()["error"]
    assert error["code"] == "unavailable" and "[sms] gateway" in error["en"] and "短信网关" in error["zh"]
    submit = client.post(f"/api/applications/{app_id}/submit", headers=csrf,
                         json={"sms_code": "123456", "declaration": True})
    assert submit.status_code in (400, 503)  # the preflight may object first; never a submission
    assert services.applications.get(app_id, SYSTEM).state.value == "draft"
    assert sent(services) == [] and sms_audit(services) == []


# ---- item 8: caps, audit, only the flow's number ---------------------------------------------------------

def test_ten_drafts_do_not_send_ten_codes_to_one_number(services: Services):
    client, csrf = enterprise(services, 1)
    limits = SmsSettings()
    answers = [ask(client, csrf, draft_with_agent(services, 1)).status_code for _ in range(10)]
    assert answers == [202] * limits.per_mobile_hour + [429] * (10 - limits.per_mobile_hour)
    assert len(sent(services)) == limits.per_mobile_hour


@pytest.mark.parametrize("cap", ["mobile", "account", "address"])
def test_sends_are_capped_per_hour_and_per_day(services: Services, cap: str):
    """Limit 2 an hour and 3 a day on one key; the sends vary everything else."""
    services = with_settings(services, sms={f"per_{cap}_hour": 2, f"per_{cap}_day": 3})
    app = create_app(services)
    clients = {n: enterprise(services, n) for n in (1, 2, 3, 4, 5)}

    def send(i: int) -> int:
        n = 1 if cap == "account" else i % 5 + 1  # one account, or a different account each time
        phone = AGENT if cap == "mobile" else f"1390000{i:04d}"  # one number, or a fresh number
        address = "198.51.100.1" if cap == "address" else f"198.51.100.{i + 10}"
        client, csrf = clients[n]
        asking = TestClient(app, base_url="http://testserver", client=(address, 50000), cookies=client.cookies)
        return ask(asking, csrf, draft_with_agent(services, n, phone)).status_code

    assert [send(0), send(1)] == [202, 202]
    refused = send(2)
    assert refused == 429
    services.clock.now += timedelta(hours=1, seconds=1)
    assert [send(3), send(4)] == [202, 429]  # the day's third, then the day is full
    services.clock.now += timedelta(hours=2)
    assert send(5) == 429
    services.clock.now += timedelta(days=1)
    assert send(6) == 202
    assert len(sent(services)) == len(sms_audit(services)) == 4


def test_a_refused_send_is_bilingual_counts_nothing_and_shows_on_the_page(services: Services):
    services = with_settings(services, sms={"per_account_hour": 1})
    client, csrf = enterprise(services, 1)
    assert ask(client, csrf, draft_with_agent(services, 1, "13900000001")).status_code == 202
    before = (sent(services), sms_audit(services))
    refused = ask(client, csrf, draft_with_agent(services, 1, "13900000002"))
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "too_many_requests" and error["field"] == "sms_code"
    assert "上限" in error["zh"] and "Too many codes" in error["en"]
    assert (sent(services), sms_audit(services)) == before
    # the refusal took no count from the number: another account may still send to it
    other, other_csrf = enterprise(services, 2)
    assert ask(other, other_csrf, draft_with_agent(services, 2, "13900000002")).status_code == 202

    portal = TestClient(create_app(services), base_url="http://testserver")
    register_and_login(portal, 3)
    app_id = draft_with_agent(services, 3)
    assert post(portal, f"/portal/apps/{app_id}/sms", token_from=f"/portal/apps/{app_id}/step/preview"
                ).status_code == 303
    page = post(portal, f"/portal/apps/{draft_with_agent(services, 3)}/sms", token_from="/portal")
    assert page.status_code == 429 and "验证码发送次数已达上限" in page.text


def test_every_send_is_audited_with_the_number_masked_and_never_the_code(services: Services):
    client, csrf = enterprise(services, 1)
    app_id = draft_with_agent(services, 1)
    assert ask(client, csrf, app_id).status_code == 202
    [entry] = sms_audit(services)
    [message] = sent(services)
    code = message.text.split("验证码为")[1][:6]
    assert entry.actor == "enterprise:ent1" and entry.entity == "sms" and entry.entity_id == f"submit:{app_id}"
    assert entry.payload["mobile"] == "139****0009" and entry.payload["gateway"] == "outbox"
    assert entry.payload["address"] == "testclient"
    assert AGENT not in json.dumps(entry.payload) and code not in json.dumps(entry.payload)


def test_codes_go_only_to_the_number_the_flow_defines(services: Services):
    client, csrf = enterprise(services, 1)
    app_id = draft_with_agent(services, 1)
    extra = {"mobile": "13111111111", "phone": "13111111111", "agent_phone": "13111111111"}
    reply = ask(client, csrf, app_id, extra)
    assert reply.status_code == 202 and reply.json() == {"sent_to": "139****0009"}
    assert [m.mobile for m in sent(services)] == [AGENT]
    # another enterprise's application: refused, nothing sent
    theirs = draft_with_agent(services, 2, "13222222222")
    assert ask(client, csrf, theirs).status_code in (403, 404)
    assert [m.mobile for m in sent(services)] == [AGENT]

    portal = TestClient(create_app(services), base_url="http://testserver")
    register_and_login(portal, 3)
    mine = draft_with_agent(services, 3, "13933333333")
    assert post(portal, f"/portal/apps/{mine}/sms", extra, token_from=f"/portal/apps/{mine}/step/preview"
                ).status_code == 303
    # registration's code went to the mobile the form named; the submission's to the agent's
    assert [(m.purpose, m.mobile) for m in sent(services)][:2] == [(f"submit:{mine}", "13933333333"),
                                                                   (REGISTER_PURPOSE, registration(3)["mobile"])]
    assert [m.mobile for m in sent(services) if m.purpose != REGISTER_PURPOSE] == ["13933333333", AGENT]
