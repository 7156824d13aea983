"""The words of each notice (core's facts, a region's wording), the SMS length rules, and the gateways:
SMTP over implicit TLS, the HTTPS webhook, and the configuration mistakes each refuses."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs
import pytest
from notifykit import SMTP_PASSWORD, SmtpServer, notify_services, smtp_options

from core import hookimpl
from core.config import MailSettings, SmsSettings
from core.errors import ConfigError
from core.notices import (
    DEFAULT_WORDING,
    FACTS,
    SMS_PARTS,
    NoticeKind,
    Wording,
    WordingProblem,
    check_wording,
    render,
    sms_parts,
)
from core.notify.base import Outgoing, SendError
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.rules import Text
from core.services.notify import make_gateway

# ---- SMS length: Alibaba Cloud SMS 短信发送规则 (https://help.aliyun.com/document_detail/44335.htm) --------------


@pytest.mark.parametrize(("text", "signature", "parts"), [
    ("短" * 70, "", 1), ("短" * 71, "", 2), ("短" * 134, "", 2), ("短" * 135, "", 3),
    ("短" * 64, "电子口岸", 1), ("短" * 65, "电子口岸", 2),  # 【电子口岸】 counts: 6 characters
    ("a" * 160, "", 1), ("a" * 161, "", 2), ("a" * 306, "", 2), ("a" * 307, "", 3),
    ("a" * 70 + "é", "", 1), ("a" * 70 + "短", "", 2),  # one Chinese character: the whole text is UCS-2
])
def test_sms_parts_follow_the_providers_rules(text, signature, parts):
    assert sms_parts(text, signature) == parts


def _longest_facts(kind: NoticeKind) -> dict[str, Text]:
    """Every fact at its longest plausible length (a long enterprise name, several rejection reasons)."""
    long = Text("长" * 60, "L" * 120)
    return {name: long for name in (*FACTS[kind], "centre", "hotline", "enterprise")} | {
        "acceptance_no": Text("WSZ0000988"), "tracking_no": Text("EA123456789CN"), "not_after": Text("2027-05-01"),
        "days_left": Text("30"), "due": Text("2026-11-20"), "device_no": Text("8800000000001"), "carrier": Text("EMS")}


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_sms_fits_its_parts_with_the_longest_facts_and_keeps_numbers_whole(kind):
    check_wording(kind, DEFAULT_WORDING[kind])
    rendered = render(kind, DEFAULT_WORDING[kind], _longest_facts(kind), signature="电子口岸")
    for lang in ("zh", "en"):
        assert sms_parts(rendered.sms.get(lang), "电子口岸") <= SMS_PARTS[kind], (kind, lang, rendered.sms.get(lang))
    for number in ("WSZ0000988", "EA123456789CN", "2027-05-01"):
        if number in json.dumps(list(_longest_facts(kind).values()), default=str) and number in str(
                DEFAULT_WORDING[kind].sms):
            assert number in rendered.sms.zh


def test_a_short_chinese_sms_is_one_part_of_70_characters():
    facts = {"carrier": Text("EMS"), "tracking_no": Text("EA123456789CN")}
    rendered = render(NoticeKind.SHIPPED, DEFAULT_WORDING[NoticeKind.SHIPPED], facts, signature="电子口岸")
    assert rendered.sms.zh == "您的卡已由EMS寄出，运单号EA123456789CN，到付。"
    assert len("【电子口岸】" + rendered.sms.zh) <= 70 and sms_parts(rendered.sms.zh, "电子口岸") == 1
    assert rendered.sms_params[0] == ("EMS", "EA123456789CN")


@pytest.mark.parametrize(("sms", "problem"), [
    (Text("卡已寄出，运单号{tracking_no}", "Shipped {tracking_no}"), "leaves out ['carrier']"),
    (Text("{carrier}{tracking_no}{holder_id}", "{carrier} {tracking_no}"), "does not have: ['holder_id']"),
    (Text("{carrier}{tracking_no!r}", "{carrier} {tracking_no}"), "plain fact name"),
])
def test_a_wording_that_changes_the_facts_is_refused(sms, problem):
    base = DEFAULT_WORDING[NoticeKind.SHIPPED]
    with pytest.raises(WordingProblem) as refused:
        check_wording(NoticeKind.SHIPPED, Wording(base.subject, base.body, sms))
    assert problem in str(refused.value)


class RegionWording:
    """A deployment's add-on that words two notices its own way; one of them drops a fact."""

    @hookimpl
    def notice_wording(self, region, kind):
        base = DEFAULT_WORDING[kind]
        if kind == NoticeKind.SHIPPED:
            return Wording(base.subject, base.body, Text("深圳分中心已通过{carrier}寄出您的卡，单号{tracking_no}。",
                                                         "Shenzhen sent your cards by {carrier}: {tracking_no}."))
        if kind == NoticeKind.APPLICATION_RETURNED:
            return Wording(base.subject, base.body, Text("申请被退回。", "Returned."))  # no number, no reasons
        return None


def test_a_region_words_a_notice_its_own_way_but_cannot_drop_a_fact(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    pm = get_plugin_manager(enabled=["shenzhen"], extra=[("wording", RegionWording())])
    notifications = attrs.evolve(services, rulebook=Rulebook(pm)).notifications
    shipped = notifications.wording("shenzhen", NoticeKind.SHIPPED)
    assert shipped.sms.zh.startswith("深圳分中心已通过")
    assert notifications.wording("shenzhen", NoticeKind.APPLICATION_RETURNED) == DEFAULT_WORDING[
        NoticeKind.APPLICATION_RETURNED]


# ---- SMTP over implicit TLS, and what the server refuses ----------------------------------------------------------


def test_smtp_over_implicit_tls_with_auth(tmp_path):
    with SmtpServer(tmp_path, implicit_tls=True) as server:
        settings = notify_services(None, tmp_path, None).settings
        configured = attrs.evolve(settings, mail=MailSettings(gateway="smtp",
                                                              options=smtp_options(server, security="ssl")))
        gateway = make_gateway(configured, "mail", get_plugin_manager(enabled=["shenzhen"]))
        reference = gateway.send(Outgoing("mail", "completed", "a@example.com", "已办结\n\nCompleted", "key-1",
                                          subject="申请已办结 / Completed"))
        (mail,) = server.parsed()
        assert mail["Subject"] == "申请已办结 / Completed" and mail["Message-ID"] == reference
        assert server.handler.messages[0][3]  # TLS from the first byte
        again = gateway.send(Outgoing("mail", "completed", "a@example.com", "x", "key-1", subject="s"))
        assert again == reference  # the same message (key) keeps its Message-ID


def test_smtp_with_a_wrong_password_is_retried_not_dropped(tmp_path):
    with SmtpServer(tmp_path) as server:
        (tmp_path / "wrong.password").write_text("wrong")
        settings = notify_services(None, tmp_path, None).settings
        options = smtp_options(server) | {"password_file": "wrong.password"}
        gateway = make_gateway(attrs.evolve(settings, mail=MailSettings(gateway="smtp", options=options)), "mail",
                               get_plugin_manager(enabled=["shenzhen"]))
        with pytest.raises(SendError) as failed:
            gateway.send(Outgoing("mail", "completed", "a@example.com", "x", "k", subject="s"))
        assert not failed.value.permanent and "535" in failed.value.reason
        assert server.handler.messages == [] and SMTP_PASSWORD != "wrong"


# ---- the webhook ------------------------------------------------------------------------------------------------


class Hook:
    def __init__(self) -> None:
        self.status = 200
        self.requests: list[tuple[dict, dict]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.requests.append((dict(self.headers), body))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_webhook_posts_the_body_template_with_the_key_and_the_token(tmp_path, monkeypatch):
    hook = Hook()
    try:
        monkeypatch.setenv("EPORTCARD_SMS_AUTH_TOKEN", "t0ken")
        settings = attrs.evolve(notify_services(None, tmp_path, None).settings, sms=SmsSettings(gateway="webhook", options={
            "url": hook.url, "body": {"mobile": "{recipient}", "content": "{text}", "vars": "{params}",
                                      "meta": {"id": "{key}"}}}))
        gateway = make_gateway(settings, "sms", get_plugin_manager(enabled=["shenzhen"]))
        gateway.send(Outgoing("sms", "shipped", "13800000001", "卡已寄出", "app:1:5:shipped:sms",
                              params=("EMS", "EA1")))
        headers, body = hook.requests[0]
        assert body == {"mobile": "13800000001", "content": "卡已寄出", "vars": ["EMS", "EA1"],
                        "meta": {"id": "app:1:5:shipped:sms"}}
        assert headers["Idempotency-Key"] == "app:1:5:shipped:sms" and headers["Authorization"] == "Bearer t0ken"
        for status, permanent in ((503, False), (429, False), (400, True)):
            hook.status = status
            with pytest.raises(SendError) as failed:
                gateway.send(Outgoing("sms", "shipped", "13800000001", "x", "k"))
            assert failed.value.permanent is permanent
    finally:
        hook.close()


# ---- what the configuration refuses --------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "section", "field"), [
    ("sms", SmsSettings(gateway="pigeon"), "sms.gateway"),
    ("sms", SmsSettings(gateway="outbox"), "sms.gateway"),  # not in development mode
    ("mail", MailSettings(gateway="outbox"), "mail.gateway"),
    ("sms", SmsSettings(gateway="tencent", options={"secret_id": "x", "sdk_app_id": "1", "sign_name": "s",
                                                    "templates": {}}), "sms.options.secret_key_file"),
    ("sms", SmsSettings(gateway="tencent", options={"secret_id": "x"}), "sms.options"),
    ("sms", SmsSettings(gateway="tencent", options={"secret_id": "x", "sdk_app_id": "1", "sign_name": "s",
                                                    "templates": {}, "protocol": "http",
                                                    "endpoint": "sms.example.com"}), "sms.options.protocol"),
    ("sms", SmsSettings(gateway="webhook", options={"url": "http://gateway.example.com/send"}), "sms.options.url"),
    ("sms", SmsSettings(gateway="webhook", options={"url": "https://g.example/send", "body": {"x": "{nope}"}}),
     "sms.options.body"),
    ("mail", MailSettings(gateway="smtp", options={"host": "mail.example.com", "sender": "a@b.c",
                                                   "security": "none"}), "mail.options.security"),
    ("mail", MailSettings(gateway="smtp", options={"host": "127.0.0.1", "sender": "a@b.c", "username": "u"}),
     "mail.options.password_file"),
])
def test_a_gateway_misconfigured_is_refused_in_both_languages(tmp_path, channel, section, field, monkeypatch):
    monkeypatch.delenv("EPORTCARD_SMS_SECRET_KEY", raising=False)
    monkeypatch.delenv("EPORTCARD_MAIL_PASSWORD", raising=False)
    settings = notify_services(None, tmp_path, None).settings
    (tmp_path / "tencent.key").unlink()
    (tmp_path / "smtp.password").unlink()
    settings = attrs.evolve(settings, **{channel: section})
    with pytest.raises(ConfigError) as refused:
        make_gateway(settings, channel, get_plugin_manager(enabled=["shenzhen"]))
    assert refused.value.field == field and refused.value.zh and refused.value.en
