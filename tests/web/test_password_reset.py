"""Forgotten enterprise password: an SMS code to the registered mobile (development outbox), a new password;
the old password and the sessions that used it stop working. The page never tells which usernames exist,
and every refusal is bilingual and changes nothing."""

from __future__ import annotations

from starlette.testclient import TestClient
from webkit import PASSWORD, last_code, post, register_and_login

from core.services import Services
from core.store.accounts import Accounts, SmsOutbox
from core.web.app import create_app

MOBILE = "13800000000"  # the administrator's mobile in webkit.registration()
NEW = "N3w-passw0rd-x"


def ask_code(client: TestClient, username: str, mobile: str = MOBILE):
    return post(client, "/portal/password-reset/code", {"username": username, "mobile": mobile},
                token_from="/portal/password-reset")


def set_new(client: TestClient, username: str, code: str, password: str = NEW, again: str | None = None):
    return post(client, "/portal/password-reset", {"username": username, "mobile": MOBILE, "sms_code": code,
                                                    "password": password, "password2": again or password},
                token_from="/portal/password-reset")


def sms_count(services: Services) -> int:
    with services.store.transaction(readonly=True) as tx:
        return len(SmsOutbox(tx).recent(1000))


def password_login(app, password: str) -> int:
    client = TestClient(app, base_url="http://testserver")
    return post(client, "/portal/login", {"username": "ent1", "password": password}).status_code


def test_an_enterprise_resets_its_forgotten_password(services: Services):
    app = create_app(services)
    session = TestClient(app, base_url="http://testserver")
    register_and_login(session)
    assert session.get("/portal", follow_redirects=False).status_code == 200
    assert 'id="password-reset-link"' in TestClient(app).get("/portal/login").text

    helper = TestClient(app, base_url="http://testserver")
    asked = ask_code(helper, "ent1")
    assert asked.status_code == 200 and 'id="reset-sent"' in asked.text
    wrong = set_new(helper, "ent1", "000000" if last_code(services, MOBILE) != "000000" else "111111")
    assert wrong.status_code == 403 and "短信验证码不正确" in wrong.text
    done = set_new(helper, "ent1", last_code(services, MOBILE))
    assert done.status_code == 303 and done.headers["location"] == "/portal/login?reset=1"
    assert "新密码已设置" in helper.get("/portal/login?reset=1").text

    assert session.get("/portal", follow_redirects=False).status_code == 303  # the old session ended
    assert password_login(app, PASSWORD) != 303 and password_login(app, NEW) == 303
    again = set_new(helper, "ent1", last_code(services, MOBILE), "An0ther-passw0rd")
    assert again.status_code == 403  # the code is used up
    with services.store.transaction(readonly=True) as tx:
        assert [e.action for e in tx.audit.all(limit=1000) if e.entity == "user"][-1] == "reset_password"


def test_unknown_accounts_look_the_same_and_get_no_sms(services: Services):
    app = create_app(services)
    register_and_login(TestClient(app, base_url="http://testserver"))
    client = TestClient(app, base_url="http://testserver")
    sent = sms_count(services)
    for username, mobile in (("nobody", MOBILE), ("ent1", "13900000000")):
        reply = ask_code(client, username, mobile)
        assert reply.status_code == 200 and 'id="reset-sent"' in reply.text
    assert sms_count(services) == sent
    refused = set_new(client, "nobody", "123456")
    assert refused.status_code == 403 and "短信验证码不正确" in refused.text


def test_bad_new_passwords_do_not_use_up_the_code(services: Services):
    app = create_app(services)
    register_and_login(TestClient(app, base_url="http://testserver"))
    client = TestClient(app, base_url="http://testserver")
    ask_code(client, "ent1")
    code = last_code(services, MOBILE)
    with services.store.transaction(readonly=True) as tx:
        before = Accounts(tx).by_username("ent1")
    for password, again, words in (("short1", None, "密码"), (NEW, NEW + "x", "两次输入的密码不一致")):
        reply = set_new(client, "ent1", code, password, again)
        assert reply.status_code == 400 and words in reply.text
    english = post(client, "/portal/password-reset?lang=en", {"username": "ent1", "mobile": MOBILE,
                                                              "sms_code": code, "password": NEW,
                                                              "password2": NEW + "x"},
                   token_from="/portal/password-reset")
    assert "The two passwords differ" in english.text
    no_token = client.post("/portal/password-reset", data={"username": "ent1"}, follow_redirects=False)
    assert no_token.status_code == 403
    with services.store.transaction(readonly=True) as tx:
        assert Accounts(tx).by_username("ent1") == before
    assert set_new(client, "ent1", code).status_code == 303  # the code still works
