"""The branch administrator's staff-accounts page: add, roles, password, disable, enable for their own branch;
refusals (other roles, other branches, no CSRF token, bad input, locking oneself out) are bilingual and
change nothing."""

from __future__ import annotations

import re

from starlette.testclient import TestClient
from webkit import PASSWORD, csrf_of

from core.services import Services
from core.services.accounts import create_user
from core.store.accounts import Accounts, User
from core.web.app import create_app

NEW = "N3w-passw0rd"


def staff_login(app, username: str, password: str = PASSWORD) -> tuple[TestClient, int]:
    client = TestClient(app, base_url="http://testserver")
    token = csrf_of(client, "/staff/login")
    reply = client.post("/staff/login", data={"csrf_token": token, "username": username, "password": password},
                        follow_redirects=False)
    return client, reply.status_code


def submit(client: TestClient, path: str, data: dict | None = None, **kwargs):
    confirm = {"confirm": "yes"} if path.endswith("/disable") else {}  # the box a disable is confirmed with
    return client.post(path, data={"csrf_token": csrf_of(client, "/staff/accounts"), **confirm, **(data or {})},
                       follow_redirects=False, **kwargs)


def account(services: Services, username: str) -> User | None:
    with services.store.transaction(readonly=True) as tx:
        return Accounts(tx).by_username(username)


def snapshot(services: Services) -> tuple:
    with services.store.transaction(readonly=True) as tx:
        # Logins are audited too (entity "session"): what must not change is every other row.
        return tuple(Accounts(tx).staff()), len([e for e in tx.audit.all(limit=100000) if e.entity != "session"])


def test_the_branch_administrator_manages_their_branch(services: Services):
    create_user(services, "boss-sz", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    create_user(services, "boss-cc", PASSWORD, "staff", region="changchun", roles=["branch_admin"])
    app = create_app(services)
    admin, status = staff_login(app, "boss-sz")
    assert status == 303
    assert 'id="staff-accounts-link"' in admin.get("/staff").text
    page = admin.get("/staff/accounts")
    assert page.status_code == 200 and 'data-username="boss-sz"' in page.text and "boss-cc" not in page.text

    added = submit(admin, "/staff/accounts", {"username": "wang-sz", "display_name": "王", "password": PASSWORD,
                                              "roles": ["reviewer", "counter_clerk"]})
    assert added.status_code == 303 and added.headers["location"] == "/staff/accounts?done=added"
    made = account(services, "wang-sz")
    assert made and made.region == "shenzhen" and made.roles == {"reviewer", "counter_clerk"}
    wang, status = staff_login(app, "wang-sz")
    assert status == 303 and wang.get("/staff").status_code == 200

    assert submit(admin, "/staff/accounts/wang-sz/roles", {"roles": ["card_maker"]}).status_code == 303
    assert account(services, "wang-sz").roles == {"card_maker"}
    assert wang.get("/staff", follow_redirects=False).status_code == 303  # logged out: back to the login page

    assert submit(admin, "/staff/accounts/wang-sz/password", {"password": NEW}).status_code == 303
    assert staff_login(app, "wang-sz")[1] != 303 and staff_login(app, "wang-sz", NEW)[1] == 303

    assert submit(admin, "/staff/accounts/wang-sz/disable").status_code == 303
    assert account(services, "wang-sz").disabled and staff_login(app, "wang-sz", NEW)[1] != 303
    row = re.search(r'<tr data-username="wang-sz" data-status="(\w+)"', admin.get("/staff/accounts?lang=en").text)
    assert row and row.group(1) == "disabled"
    assert submit(admin, "/staff/accounts/wang-sz/enable").status_code == 303
    assert staff_login(app, "wang-sz", NEW)[1] == 303
    with services.store.transaction(readonly=True) as tx:
        trail = [(e.actor, e.action) for e in tx.audit.all(limit=1000) if e.entity == "user"][-4:]
    assert trail == [("staff:boss-sz", a) for a in ("set_roles", "set_password", "disable", "enable")]


def test_refusals_change_nothing(services: Services):
    create_user(services, "boss-sz", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    create_user(services, "boss-cc", PASSWORD, "staff", region="changchun", roles=["branch_admin"])
    create_user(services, "rev-sz", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    app = create_app(services)
    before = snapshot(services)

    reviewer = staff_login(app, "rev-sz")[0]
    assert reviewer.get("/staff/accounts").status_code == 403
    assert submit(reviewer, "/staff/accounts/rev-sz/roles", {"roles": ["branch_admin"]}).status_code == 403

    other_branch = staff_login(app, "boss-cc")[0]
    refused = submit(other_branch, "/staff/accounts/rev-sz/disable")
    assert refused.status_code == 404 and "没有工作人员账号" in refused.text

    admin = staff_login(app, "boss-sz")[0]
    no_token = admin.post("/staff/accounts/rev-sz/disable", follow_redirects=False)
    assert no_token.status_code == 403
    for path, data, words in [
        ("/staff/accounts/boss-sz/disable", {}, "不能停用自己的账号"),
        ("/staff/accounts/boss-sz/roles", {"roles": ["reviewer"]}, "不能停用自己的账号或取消自己的管理员角色"),
        ("/staff/accounts/rev-sz/roles", {}, "请至少选择一个角色"),
        ("/staff/accounts/rev-sz/roles", {"roles": ["boss"]}, "未知的角色"),
        ("/staff/accounts/rev-sz/password", {"password": "short"}, "密码"),
        ("/staff/accounts/rev-sz/sideways", {}, "未知的操作"),
        ("/staff/accounts", {"username": "x", "password": PASSWORD, "roles": ["reviewer"]}, "用户名"),
        ("/staff/accounts", {"username": "rev-sz", "password": PASSWORD, "roles": ["reviewer"]}, "已被使用"),
        ("/staff/accounts", {"username": "new-one", "password": "weak", "roles": ["reviewer"]}, "密码"),
    ]:
        reply = submit(admin, path, data)
        assert reply.status_code in (400, 409, 422), (path, data, reply.status_code)
        assert words in reply.text, (path, data)
    english = submit(admin, "/staff/accounts/rev-sz/roles?lang=en", {})
    assert "choose at least one role" in english.text
    assert snapshot(services) == before


class StandsStill:
    """Sessions checked in a moment ago: the other administrator's change has not reached them yet."""

    def stands(self, sid: str, user_id: str) -> bool:
        return True


def test_two_administrators_removing_each_other_leave_the_branch_one(services: Services):
    create_user(services, "boss-a", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    create_user(services, "boss-b", PASSWORD, "staff", region="shenzhen", roles=["branch_admin"])
    app = create_app(services)
    a, b = staff_login(app, "boss-a")[0], staff_login(app, "boss-b")[0]
    b_token = csrf_of(b, "/staff/accounts")
    assert submit(a, "/staff/accounts/boss-b/disable").status_code == 303
    before = snapshot(services)
    app.state.web.sessions = StandsStill()  # b's request was let in before a's change committed
    for operation, data in (("disable", {"confirm": "yes"}), ("roles", {"roles": ["reviewer"]})):
        refused = b.post(f"/staff/accounts/boss-a/{operation}", data={"csrf_token": b_token, **data},
                         follow_redirects=False)
        assert refused.status_code == 400 and "最后一个启用的管理员" in refused.text, operation
    english = b.post("/staff/accounts/boss-a/disable?lang=en", data={"csrf_token": b_token, "confirm": "yes"},
                     follow_redirects=False)
    assert "last enabled branch administrator" in english.text
    assert snapshot(services) == before and not account(services, "boss-a").disabled
