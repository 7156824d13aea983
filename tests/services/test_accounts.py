"""The account service on a real database (SQLite and PostgreSQL): enterprise registration, the
forgotten-password flow, staff accounts and the rules that keep a branch administrable (no self-lockout,
never without an enabled administrator). Every refusal is bilingual and changes nothing."""

from __future__ import annotations

import re
import threading

import attrs
import pytest

from core.errors import ConflictError, EportError, Forbidden, InvalidInput, NotFound
from core.samples import make_enterprise
from core.services import Actor, Services
from core.services.accounts import SessionCheck, User
from core.services.sms import NoGateway, OutboxGateway
from core.store.accounts import Accounts, SmsOutbox

PASSWORD, NEW = "Passw0rd-1", "N3w-passw0rd"
MOBILE = "13800000000"
CLI = Actor.system("cli")
SECRET = "test-secret"
GATEWAY = OutboxGateway()


def admin_of(user: User) -> Actor:
    """The actor a logged-in staff account acts as (what its session says)."""
    return Actor(id=user.username, kind="staff", region=user.region, roles=user.roles)


def rows(services: Services) -> tuple:
    """What an account change may touch: the accounts, the sample enterprise, the audit rows."""
    uscc = make_enterprise(1, "testland").uscc
    with services.store.transaction(readonly=True) as tx:
        accounts = Accounts(tx).staff() + Accounts(tx).for_enterprise(uscc)
        return tuple(accounts), tx.enterprises.get(uscc), len(tx.audit.all(limit=100_000))


def register(services: Services, username: str = "ent1", n: int = 1) -> User:
    return services.accounts.register_enterprise(make_enterprise(n, "testland"), username, PASSWORD,
                                                 region="testland", display_name="王经理", mobile=MOBILE)


def bilingual(exc: EportError, zh: str, en: str) -> None:
    assert zh in exc.zh and en in exc.en, (exc.zh, exc.en)


# ---- enterprise registration -------------------------------------------------------------------------------

def test_registration_makes_the_account_and_the_enterprise_in_one_audited_step(services):
    user = register(services)
    assert (user.kind, user.uscc, user.region, user.mobile) == ("enterprise", make_enterprise(1, "testland").uscc,
                                                                "testland", MOBILE)
    with services.store.transaction(readonly=True) as tx:
        assert tx.enterprises.get(user.uscc) is not None
        (entry,) = [e for e in tx.audit.all(limit=100) if e.entity == "user"]
    assert (entry.actor, entry.action, entry.payload["uscc"]) == ("enterprise:ent1", "register", user.uscc)
    assert services.accounts.authenticate("ent1", PASSWORD, "10.0.0.1", kind="enterprise") == user


def test_one_administrator_account_per_enterprise_and_refusals_change_nothing(services):
    register(services)
    before = rows(services)
    with pytest.raises(InvalidInput) as second:
        register(services, "ent1-again")
    bilingual(second.value, "已注册管理员账号", "already has an administrator account")
    with pytest.raises(ConflictError) as taken:
        register(services, "ent1", n=2)
    bilingual(taken.value, "已被使用", "is taken")
    with pytest.raises(InvalidInput) as elsewhere:
        services.accounts.register_enterprise(make_enterprise(3, "testland"), "ent3", PASSWORD, region="atlantis",
                                              display_name="x", mobile=MOBILE)
    bilingual(elsewhere.value, "未启用地区", "not enabled")
    huge = attrs.evolve(make_enterprise(4, "testland"), name="长" * 5000)
    with pytest.raises(EportError):
        services.accounts.register_enterprise(huge, "ent4", PASSWORD, region="testland", display_name="x",
                                              mobile=MOBILE)
    assert rows(services) == before


def test_a_login_of_the_wrong_kind_is_refused_only_after_the_right_password(services):
    register(services)
    with pytest.raises(Forbidden) as wrong_kind:
        services.accounts.authenticate("ent1", PASSWORD, "10.0.0.1", kind="staff")
    bilingual(wrong_kind.value, "不是工作人员账号", "not a staff account")
    with pytest.raises(Forbidden) as wrong:
        services.accounts.authenticate("ent1", "Wr0ng-password", "10.0.0.1", kind="staff")
    assert "Wrong username or password" in wrong.value.en


# ---- the forgotten password ------------------------------------------------------------------------------------

def code_sent(services: Services) -> str:
    with services.store.transaction(readonly=True) as tx:
        (message, *_) = [m for m in SmsOutbox(tx).recent(20) if m.mobile == MOBILE]
    match = re.search(r"验证码为(\d{6})", message.text)
    assert match
    return match.group(1)


def sms_count(services: Services) -> int:
    with services.store.transaction(readonly=True) as tx:
        return len(SmsOutbox(tx).recent(1000))


def reset(services: Services, code: str, password: str = NEW, repeated: str | None = None,
          username: str = "ent1", mobile: str = MOBILE) -> User:
    return services.accounts.reset_forgotten_password(GATEWAY, SECRET, username, mobile, code, password,
                                                      repeated if repeated is not None else password, "10.0.0.9")


def test_a_forgotten_password_is_reset_with_the_code_sent_to_the_registered_mobile(services):
    user = register(services)
    sid = services.accounts.start_session(user, auth_method="password", address="10.0.0.1")
    services.accounts.send_reset_code(GATEWAY, SECRET, "ent1", MOBILE, "10.0.0.9")
    code = code_sent(services)
    changed = reset(services, code)
    assert changed.password_hash != user.password_hash
    assert services.accounts.authenticate("ent1", NEW, "10.0.0.1") == changed
    with pytest.raises(Forbidden):
        services.accounts.authenticate("ent1", PASSWORD, "10.0.0.1")
    assert not SessionCheck(services).stands(sid, user.id)  # the old session ended
    with services.store.transaction(readonly=True) as tx:
        assert [e.action for e in tx.audit.all(limit=100) if e.entity == "user"][-1] == "reset_password"
    with pytest.raises(Forbidden) as again:
        reset(services, code, "An0ther-passw0rd")  # used up
    bilingual(again.value, "短信验证码不正确或已失效", "wrong or has expired")


def test_details_matching_no_account_get_the_same_answer_and_no_sms(services):
    register(services)
    before = sms_count(services)
    for username, mobile in (("nobody", MOBILE), ("ent1", "13900000000")):
        assert services.accounts.send_reset_code(GATEWAY, SECRET, username, mobile, "10.0.0.9") is None
    assert sms_count(services) == before
    with pytest.raises(Forbidden) as refused:
        reset(services, "123456", username="nobody")
    bilingual(refused.value, "短信验证码不正确或已失效", "wrong or has expired")
    with pytest.raises(EportError) as closed:
        services.accounts.send_reset_code(NoGateway(), SECRET, "ent1", MOBILE, "10.0.0.9")
    assert closed.value.code == "unavailable"


def test_a_bad_new_password_or_a_wrong_code_leaves_the_code_usable(services):
    register(services)
    services.accounts.send_reset_code(GATEWAY, SECRET, "ent1", MOBILE, "10.0.0.9")
    code = code_sent(services)
    with services.store.transaction(readonly=True) as tx:
        before = Accounts(tx).by_username("ent1")
    with pytest.raises(InvalidInput) as differ:
        reset(services, code, NEW, NEW + "x")
    bilingual(differ.value, "两次输入的密码不一致", "The two passwords differ")
    with pytest.raises(InvalidInput):
        reset(services, code, "short")
    with pytest.raises(Forbidden):
        reset(services, "000000" if code != "000000" else "111111")
    with services.store.transaction(readonly=True) as tx:
        assert Accounts(tx).by_username("ent1") == before
    assert reset(services, code).password_hash != before.password_hash


def test_the_code_is_spent_only_when_the_new_password_is_stored(services, monkeypatch):
    """One transaction: a failure while the password is stored leaves the code unused (before, the code was
    used up in a transaction of its own first)."""
    register(services)
    services.accounts.send_reset_code(GATEWAY, SECRET, "ent1", MOBILE, "10.0.0.9")
    code = code_sent(services)

    def broken(self, user, **change):
        raise ConflictError("存储失败", "the store failed")

    with monkeypatch.context() as patch:
        patch.setattr(Accounts, "change", broken)
        with pytest.raises(ConflictError):
            reset(services, code)
    assert services.accounts.authenticate("ent1", PASSWORD, "10.0.0.1").username == "ent1"
    reset(services, code)  # the code still works
    assert services.accounts.authenticate("ent1", NEW, "10.0.0.1").username == "ent1"


# ---- staff accounts ------------------------------------------------------------------------------------------

def test_the_command_line_and_a_branch_administrator_add_and_change_staff(services):
    boss = services.accounts.add_staff(CLI, "boss", PASSWORD, "testland", ["branch_admin"], "老板")
    admin = admin_of(boss)
    wang = services.accounts.add_staff(admin, "wang", PASSWORD, "testland", ["reviewer"])
    assert (wang.region, wang.roles) == ("testland", {"reviewer"})
    assert [u.username for u in services.accounts.staff(admin)] == ["boss", "wang"]
    services.accounts.change_staff(admin, "wang", "roles", roles=["card_maker", "counter_clerk"])
    services.accounts.change_staff(admin, "wang", "password", password=NEW)
    services.accounts.change_staff(admin, "wang", "disable")
    changed = services.accounts.change_staff(CLI, "wang", "enable")
    assert changed.roles == {"card_maker", "counter_clerk"} and not changed.disabled
    assert services.accounts.authenticate("wang", NEW, "10.0.0.1", kind="staff").id == wang.id
    with services.store.transaction(readonly=True) as tx:
        trail = [(e.actor, e.action, e.payload) for e in tx.audit.all(limit=100) if e.entity == "user"]
    assert [(actor, action) for actor, action, _ in trail[2:]] == [
        ("staff:boss", "set_roles"), ("staff:boss", "set_password"), ("staff:boss", "disable"),
        ("system:cli", "enable")]
    assert trail[2][2]["roles"] == ["card_maker", "counter_clerk"]
    assert all("password_hash" not in payload for _, _, payload in trail)


def test_staff_refusals_are_bilingual_and_change_nothing(services):
    boss = services.accounts.add_staff(CLI, "boss", PASSWORD, "testland", ["branch_admin"])
    rev = services.accounts.add_staff(CLI, "rev", PASSWORD, "testland", ["reviewer"])
    elsewhere = Actor(id="boss-x", kind="staff", region="elsewhere", roles=frozenset({"branch_admin"}))
    admin = admin_of(boss)
    before = rows(services)
    refusals = [
        (lambda: services.accounts.change_staff(admin_of(rev), "boss", "disable"), Forbidden, "仅分中心管理员"),
        (lambda: services.accounts.staff(admin_of(rev)), Forbidden, "仅分中心管理员"),
        (lambda: services.accounts.add_staff(admin, "new1", PASSWORD, "elsewhere", ["reviewer"]), Forbidden,
         "本分中心"),
        (lambda: services.accounts.change_staff(elsewhere, "rev", "disable"), NotFound, "没有工作人员账号"),
        (lambda: services.accounts.change_staff(CLI, "nobody", "disable"), NotFound, "没有工作人员账号"),
        (lambda: services.accounts.change_staff(admin, "rev", "roles", roles=[]), InvalidInput, "至少选择一个角色"),
        (lambda: services.accounts.change_staff(admin, "rev", "roles", roles=["boss"]), InvalidInput, "未知的角色"),
        (lambda: services.accounts.change_staff(admin, "rev", "password", password="short"), InvalidInput, "密码"),
        (lambda: services.accounts.change_staff(admin, "rev", "sideways"), InvalidInput, "未知的操作"),
        (lambda: services.accounts.add_staff(CLI, "new2", PASSWORD, "atlantis", ["reviewer"]), InvalidInput,
         "未启用地区"),
        (lambda: services.accounts.add_staff(CLI, "new3", PASSWORD, "testland", []), InvalidInput, "至少选择一个角色"),
        (lambda: services.accounts.add_staff(CLI, "rev", PASSWORD, "testland", ["reviewer"]), ConflictError,
         "已被使用"),
    ]
    for call, kind, words in refusals:
        with pytest.raises(kind) as refused:
            call()
        assert words in refused.value.zh and refused.value.en, words
    assert rows(services) == before


def test_an_administrator_cannot_lock_themselves_out(services):
    boss = services.accounts.add_staff(CLI, "boss", PASSWORD, "testland", ["branch_admin"])
    services.accounts.add_staff(CLI, "boss2", PASSWORD, "testland", ["branch_admin"])  # not the last one
    before = rows(services)
    for operation, roles in (("disable", ()), ("roles", ["reviewer"])):
        with pytest.raises(InvalidInput) as refused:
            services.accounts.change_staff(admin_of(boss), "boss", operation, roles=roles)
        bilingual(refused.value, "不能停用自己的账号或取消自己的管理员角色",
                  "cannot disable your own account or drop your own administrator role")
    assert rows(services) == before
    services.accounts.change_staff(admin_of(boss), "boss", "password", password=NEW)  # their own password: fine
    services.accounts.change_staff(admin_of(boss), "boss", "roles", roles=["branch_admin", "reviewer"])


def test_a_branch_never_loses_its_last_enabled_administrator(services):
    services.accounts.add_staff(CLI, "boss", PASSWORD, "testland", ["branch_admin"])
    services.accounts.add_staff(CLI, "old", PASSWORD, "testland", ["branch_admin"])
    services.accounts.change_staff(CLI, "old", "disable")  # a disabled administrator does not count
    services.accounts.add_staff(CLI, "rev", PASSWORD, "testland", ["reviewer", "branch_admin"])
    services.accounts.change_staff(CLI, "rev", "roles", roles=["reviewer"])  # boss is still there
    before = rows(services)
    for operation, roles in (("disable", ()), ("roles", ["reviewer"])):
        with pytest.raises(InvalidInput) as refused:
            services.accounts.change_staff(CLI, "boss", operation, roles=roles)
        bilingual(refused.value, "最后一个启用的管理员", "last enabled branch administrator")
    assert rows(services) == before
    services.accounts.change_staff(CLI, "old", "enable")
    services.accounts.change_staff(CLI, "boss", "disable")  # now "old" keeps the branch
    assert [u.username for u in services.accounts.staff(CLI, "testland") if not u.disabled] == ["old", "rev"]


def test_two_administrators_removing_each_other_leave_one(services):
    """Each acts on what their session said a moment ago (both still administrators): the second change
    sees the first and is refused, sequentially and when both run at once."""
    a = services.accounts.add_staff(CLI, "admin-a", PASSWORD, "testland", ["branch_admin"])
    b = services.accounts.add_staff(CLI, "admin-b", PASSWORD, "testland", ["branch_admin"])
    services.accounts.change_staff(admin_of(a), "admin-b", "disable")
    with pytest.raises(InvalidInput) as refused:
        services.accounts.change_staff(admin_of(b), "admin-a", "roles", roles=["reviewer"])
    bilingual(refused.value, "最后一个启用的管理员", "last enabled branch administrator")

    services.accounts.change_staff(CLI, "admin-b", "enable")
    results: list[str] = []
    start = threading.Barrier(2)

    def remove(actor: Actor, target: str) -> None:
        start.wait()
        try:
            services.accounts.change_staff(actor, target, "disable")
            results.append("done")
        except InvalidInput:
            results.append("refused")

    threads = [threading.Thread(target=remove, args=(admin_of(a), "admin-b")),
               threading.Thread(target=remove, args=(admin_of(b), "admin-a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["done", "refused"]
    assert len([u for u in services.accounts.staff(CLI, "testland") if not u.disabled]) == 1
