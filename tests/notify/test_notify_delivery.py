"""Done-when of issue #15: a returned application, a shipment and an expiring card each reach the
enterprise through the Tencent Cloud SMS SDK (against its stand-in) and SMTP (aiosmtpd); a gateway
that is down loses nothing and retries; a message the provider refuses for good is a dead letter
that staff can send again."""

from __future__ import annotations

from datetime import timedelta
from email.header import decode_header, make_header

import attrs
from notifykit import (
    ENTERPRISE_EMAIL,
    ENTERPRISE_MOBILE,
    SDK_APP_ID,
    SIGN_NAME,
    STAFF,
    TEMPLATES,
    ent,
    gateways,
)

from core.model import Pickup, RejectionReason
from core.samples import make_enrol
from core.services.jobs import Scheduler
from core.store.notify import Outbox


def _submitted(services, n=1, pickup=Pickup.COUNTER):
    app = make_enrol(n, "shenzhen", pickup=pickup)
    me = ent(app.enterprise.uscc)
    services.notifications.set_choice(me, "both", ENTERPRISE_MOBILE, ENTERPRISE_EMAIL, "zh")
    made = services.applications.create(attrs.evolve(app, id=""), me)
    return services.applications.submit(made.id, me)


def _returned(services):
    sub = _submitted(services)
    acc = services.applications.accept(sub.id, STAFF)
    return services.applications.reject(acc.id, STAFF, [RejectionReason.REMARKS, RejectionReason.AGENT_IDENTITY],
                                        note="备注栏未写联系人")


def _raw_header(raw: bytes, name: str) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # every header is ASCII on the wire
    lines = head.replace("\r\n ", " ").replace("\r\n\t", " ").split("\r\n")
    return next(line.split(":", 1)[1].strip() for line in lines if line.lower().startswith(name.lower() + ":"))


def test_a_returned_application_reaches_the_enterprise_by_sms_and_mail(store, tmp_path, clock):
    with gateways(store, tmp_path, clock) as (services, tencent, smtp):
        app = _returned(services)
        results = {r.name: r for r in Scheduler(services).run_due()}
        assert results["deliver_messages"].ok and results["deliver_messages"].summary.startswith("sent 4")  # accepted, returned
        sms = [r for r in tencent.accepted if r["TemplateId"] == TEMPLATES["application_returned"]]
        assert tencent.refused == [] and len(sms) == 1
        request = sms[0]
        assert request["PhoneNumberSet"] == [f"+86{ENTERPRISE_MOBILE}"]
        assert (request["SmsSdkAppId"], request["SignName"]) == (SDK_APP_ID, SIGN_NAME)
        acceptance, reasons = request["TemplateParamSet"]
        assert acceptance == app.acceptance_no
        assert reasons.startswith("申请单备注栏未填写")  # the reasons, shortened to fit two SMS parts
        assert request["SessionContext"].startswith(f"app:{app.id}:")

        returned = [(mail, raw) for mail, (_f, _t, raw, _tls) in zip(smtp.parsed(), smtp.handler.messages, strict=True)
                    if "退回" in mail["Subject"]]
        assert len(returned) == 1 and all(tls for *_rest, tls in smtp.handler.messages)  # over STARTTLS
        mail, raw = returned[0]
        subject = _raw_header(raw, "Subject")
        assert "=?utf-8?" in subject.lower()  # RFC 2047 encoded words on the wire
        decoded = str(make_header(decode_header(subject)))  # RFC 2047 decoding by the standard library
        assert decoded == f"申请被退回：{app.acceptance_no} / Application returned: {app.acceptance_no}"
        assert mail.get_content_type() == "text/plain" and mail.get_content_charset() == "utf-8"
        assert mail["Content-Transfer-Encoding"] == "base64" and mail["MIME-Version"] == "1.0"
        body = mail.get_content()
        assert "申请单备注栏未填写，或未按要求填写" in body and "Remarks missing or not in the required format" in body
        assert "经办人身份核验不通过" in body and "备注栏未写联系人" in body
        assert smtp.handler.messages[-1][1] == [ENTERPRISE_EMAIL]


def test_a_shipment_names_the_carrier_and_the_tracking_number(store, tmp_path, clock):
    with gateways(store, tmp_path, clock) as (services, tencent, smtp):
        svc = services.applications
        sub = _submitted(services, pickup=Pickup.MAIL)
        app = svc.start_production(svc.accept(sub.id, STAFF).id, STAFF)
        for item in range(len(app.items)):
            app = svc.mark_made(app.id, item, STAFF)
        svc.complete(app.id, STAFF)
        svc.ship(app.id, "EA123456789CN", STAFF)
        services.notifications.deliver_due()
        shipped = [r for r in tencent.accepted if r["TemplateId"] == TEMPLATES["shipped"]]
        assert len(shipped) == 1 and shipped[0]["TemplateParamSet"][-1] == "EA123456789CN"
        carrier = services.rulebook.courier("shenzhen", app.business).outbound.carrier
        expected_carrier = (carrier.zh if hasattr(carrier, "zh") else carrier) or "快递"
        assert shipped[0]["TemplateParamSet"][0] == expected_carrier
        mail = next(m for m in smtp.parsed() if "EA123456789CN" in m["Subject"])
        assert "EA123456789CN" in mail.get_content() and "cash on delivery" in mail.get_content()
        # completing a mailed application told them it was done, not to come to a counter
        kinds = {m.kind for m in Outbox_all(services)}
        assert "completed" in kinds and "ready_for_pickup" not in kinds


def Outbox_all(services):
    with services.store.transaction(readonly=True) as tx:
        return Outbox(tx).listing("sent", 100)


def test_a_gateway_that_is_down_loses_nothing_and_retries_with_back_off(store, tmp_path, clock):
    with gateways(store, tmp_path, clock) as (services, tencent, _smtp):
        tencent.mode = "down"
        _returned(services)
        start = clock.now
        report = services.notifications.deliver_due()
        assert (report.sent, report.retried, report.dead) == (2, 2, 0)  # the mails went; the SMS wait
        waiting = _pending(services)
        assert [(m.kind, m.attempts, m.next_attempt_at) for m in waiting] == [
            ("application_returned", 1, start + timedelta(seconds=60)),
            ("application_accepted", 1, start + timedelta(seconds=60))]
        assert all("ServerNetworkError" in m.last_error for m in waiting)
        assert services.notifications.deliver_due().retried == 0  # not due yet: nothing tried
        clock.now = start + timedelta(seconds=60)
        services.notifications.deliver_due()
        assert {(m.attempts, m.next_attempt_at) for m in _pending(services)} == {(2, clock.now + timedelta(seconds=120))}
        tencent.mode = "ok"
        clock.now += timedelta(seconds=120)
        assert services.notifications.deliver_due().sent == 2
        assert sorted(r["TemplateId"] for r in tencent.accepted) == sorted(
            [TEMPLATES["application_returned"], TEMPLATES["application_accepted"]])
        with services.store.transaction(readonly=True) as tx:
            assert Outbox(tx).counts() == {"pending": 0, "sent": 4, "dead": 0}
            trail = [e.action for e in tx.audit.for_entity("notify", str(waiting[0].id))]
        assert trail == ["notify_queued", "notify_failed", "notify_failed", "notify_sent"]


def _pending(services):
    with services.store.transaction(readonly=True) as tx:
        return Outbox(tx).listing("pending", 10)


def test_a_refused_message_is_a_dead_letter_staff_can_send_again(store, tmp_path, clock):
    with gateways(store, tmp_path, clock) as (services, tencent, _smtp):
        tencent.mode = "InvalidParameterValue.IncorrectPhoneNumber"
        _returned(services)
        assert services.notifications.deliver_due().dead == 2  # accepted and returned, by SMS
        dead = next(m for m in services.notifications.dead_letters(STAFF) if m.kind == "application_returned")
        assert dead.channel == "sms" and "IncorrectPhoneNumber" in dead.last_error
        tencent.mode = "ok"
        services.notifications.retry(STAFF, dead.id)
        assert services.notifications.deliver_due().sent == 1
        assert [m.kind for m in services.notifications.dead_letters(STAFF)] == ["application_accepted"]
        assert len(tencent.accepted) == 3  # the two refused tries, then the one sent


def test_too_many_failures_make_a_dead_letter(store, tmp_path, clock):
    from core.config import NotifySettings

    with gateways(store, tmp_path, clock, notify=NotifySettings(max_attempts=3, retry_after_seconds=10)) as (
            services, tencent, _smtp):
        tencent.mode = "down"
        _returned(services)
        for _ in range(3):
            services.notifications.deliver_due()
            clock.now += timedelta(hours=1)
        dead = services.notifications.dead_letters(STAFF)
        assert [(m.attempts, m.state) for m in dead] == [(3, "dead"), (3, "dead")]


def test_a_verification_code_goes_through_the_same_sdk_gateway_at_once(store, tmp_path, clock):
    from core.services import sms

    with gateways(store, tmp_path, clock) as (services, tencent, _smtp):
        sms.send_code(services, sms.gateway_for(services.settings), "s3cret", ENTERPRISE_MOBILE, "submit:A1",
                      sms.Asker("enterprise:ent1", "10.0.0.9"))
        (request,) = tencent.accepted
        assert request["TemplateId"] == TEMPLATES["verification_code"]
        code, minutes = request["TemplateParamSet"]
        assert len(code) == 6 and code.isdigit() and minutes == "10"
        with services.store.transaction(readonly=True) as tx:
            assert Outbox(tx).counts()["pending"] == 0  # a code is not queued: it is worth nothing ten minutes later
        sms.verify_code(services, sms.gateway_for(services.settings), "s3cret", ENTERPRISE_MOBILE, "submit:A1", code)
        tencent.mode = "down"
        clock.now += timedelta(minutes=2)
        import pytest

        with pytest.raises(sms.GatewayFailed) as failed:
            sms.send_code(services, sms.gateway_for(services.settings), "s3cret", ENTERPRISE_MOBILE, "submit:A2",
                          sms.Asker("enterprise:ent1", "10.0.0.9"))
        assert failed.value.zh and failed.value.en
