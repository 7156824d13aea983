"""Two rules of the sources through the service door, on SQLite and PostgreSQL: Shenzhen's acceptance numbers
run in two independent series, and a password login may apply for part of the businesses (seed 001)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from citations import assert_cited
from test_application_rules import STAFF as TESTLAND_STAFF
from test_application_rules import draft, ent
from testland import TESTLAND

from core.calendar import WorkCalendar
from core.config import Settings
from core.model import Business
from core.plugins import get_plugin_manager
from core.regiondata import BusinessRules, DataRegion
from core.rulebook import Rulebook
from core.rules import Channel, ChannelKind, Text
from core.samples import make_enrol
from core.services import Actor, Services

SZ = "000_acc9b246733ddaa2.txt"
CC = "001_56e603108c85a312.txt"


@pytest.fixture
def shenzhen(store, clock, tmp_path: Path) -> Services:
    pm = get_plugin_manager(enabled=["shenzhen"])
    return Services(settings=Settings(root=str(tmp_path)), store=store, rulebook=Rulebook(pm), calendar=WorkCalendar(),
                    clock=clock)


def submit(services: Services, n: int, channel: str, number: str = "") -> str:
    app = attrs.evolve(make_enrol(n, "shenzhen"), id="", channel=channel, acceptance_no=number)
    actor = Actor(id="admin", kind="enterprise", uscc=app.enterprise.uscc)
    created = services.applications.create(app, actor)
    return services.applications.submit(created.id, actor).acceptance_no


def test_shenzhen_numbers_two_series_each_on_its_own(shenzhen):
    """The query screen shows WSZ0000987-988 and SZ0001049-1127 on the same day: two counters, not one."""
    assert_cited(SZ, "WSZ0000987 分中心退单 6 2018年07月10日 08:30:07")
    assert_cited(SZ, "SZ0001127 已审核待收卡 张帆 2018年07月10日 14:10:55")
    numbers = [submit(shenzhen, n, channel) for n, channel in
               enumerate(["web", "mobile_app", "web", "on_site", "web"], start=1)]
    assert numbers == ["WSZ0000001", "SZ0000001", "WSZ0000002", "SZ0000002", "WSZ0000003"]


def test_a_number_the_shared_counter_gave_before_is_passed_over(shenzhen):
    """Before the split both series shared one counter: an SZ number already held is never given twice."""
    held = submit(shenzhen, 1, "on_site", number="SZ0000001")
    assert held == "SZ0000001"
    assert submit(shenzhen, 2, "on_site") == "SZ0000002"
    assert submit(shenzhen, 3, "web") == "WSZ0000001"


# ---- 001, 2.3 有卡用户: a password login applies for part of the businesses, a legal-card login for all ---------

CARD_ONLY = BusinessRules(business=Business.UNLOCK, name=Text("解锁", "Unlock"), channels=(
    Channel(kind=ChannelKind.SELF_SERVICE, name=Text("法人卡自助", "With the legal card"), requires_legal_card=True),))


@pytest.fixture
def holder(store, clock, tmp_path: Path):
    """An enterprise holding its legal card, in a region where unlock needs the legal card on every channel."""
    region = attrs.evolve(TESTLAND, businesses=(*TESTLAND.businesses, CARD_ONLY))
    pm = get_plugin_manager(enabled=["testland"], extra=[("testland", DataRegion(region))])
    services = Services(settings=Settings(root=str(tmp_path)), store=store, rulebook=Rulebook(pm),
                        calendar=WorkCalendar(), clock=clock)
    svc = services.applications
    app = draft(services, operators=0)
    made = svc.start_production(svc.accept(svc.submit(app.id, ent(app)).id, TESTLAND_STAFF).id, TESTLAND_STAFF)
    svc.complete(svc.mark_made(made.id, 0, TESTLAND_STAFF).id, TESTLAND_STAFF)
    assert svc.holds_legal_card(app.enterprise.uscc)
    return services, attrs.evolve(ent(app), region="testland")


def test_a_password_login_applies_for_what_the_region_does_not_keep_for_the_legal_card(holder):
    assert_cited(CC, "使用管理员账号密码登录系统仅可办理部分制发卡业务申请，使用法人卡登录系统可以办理全部制发卡业务申请")
    services, actor = holder
    refusals = {offer.business: reason for offer, reason in services.applications.offers_for(actor, card_login=False)}
    assert refusals[Business.ADD_CARD] is None  # the core no longer keeps every business for the legal card
    assert refusals[Business.UNLOCK] is not None
    assert "法人卡登录" in refusals[Business.UNLOCK].zh and "legal-card login" in refusals[Business.UNLOCK].en
    assert refusals[Business.ENROL] is not None  # it holds its legal card already
    started = services.applications.start(actor, Business.ADD_CARD, card_login=False)
    assert started.business is Business.ADD_CARD


def test_a_legal_card_login_applies_for_everything_the_region_offers(holder):
    services, actor = holder
    refusals = {offer.business: reason for offer, reason in services.applications.offers_for(actor, card_login=True)}
    assert refusals[Business.ADD_CARD] is None and refusals[Business.UNLOCK] is None
    assert services.applications.may_apply(actor, Business.UNLOCK, card_login=True) is None
    refused = services.applications.may_apply(actor, Business.UNLOCK, card_login=False)
    assert refused is not None and refused.field == "business"
