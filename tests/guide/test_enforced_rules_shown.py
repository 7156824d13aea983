"""Every rule a region plugin enforces is visible in its guide, in both languages, before anyone meets it.

The walk: a plugin makes its problems only through a declared ``Requirement`` (``Requirement.problem``; no
plugin module builds a ``Problem`` itself), every declared requirement is raised by some application below
(so each is a real check, not a stale line), every problem those applications meet names a requirement that
applies to their business, and every requirement is printed in the guide of each business it applies to.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import date
from pathlib import Path

import attrs
import pytest
from citations import assert_cited

from core.calendar import WorkCalendar
from core.guide.build import build_guide
from core.guide.render import render_text
from core.model import Application, Business, CardKind, CardRequest, MailAddress, Pickup, PickupChoice
from core.plugins import BUILTIN_REGIONS
from core.rulebook import Rulebook
from core.samples import make_enrol, make_person

ROOT = Path(__file__).resolve().parents[2]
REGIONS = [code for code, _ in BUILTIN_REGIONS]
B = Business


def business(region: str, chosen: Business, **changes) -> Application:
    return attrs.evolve(make_enrol(3, region), business=chosen, **changes)


def operator(n: int, **changes) -> CardRequest:
    return CardRequest(kind=CardKind.OPERATOR, holder=make_person(n), **changes)


def _hangzhou(chosen: Business, **changes) -> Application:
    """A Hangzhou declaration that passes every check but those ``changes`` break."""
    app = business("hangzhou", chosen)
    ready = {"items": (attrs.evolve(app.items[0], device_no="1234567890123"), operator(70, device_no="1234567890124")),
             "pickup": PickupChoice(method=Pickup.COUNTER, outlet="hz_centre")}
    return attrs.evolve(app, **(ready | changes))


NO_MAIL = PickupChoice(method=Pickup.MAIL, mail_to=MailAddress("", "", ""))
STAND_IN = "8900000002345"

SEEDS = {"shenzhen": "000_acc9b246733ddaa2.txt", "changchun": "001_56e603108c85a312.txt",
         "xiamen": "002_fb6811038571c536.txt", "hangzhou": "003_894e1885d52798d3.txt",
         "xian": "004_7ce9fda768e2b8de.txt"}
XA_MAIL = PickupChoice(method=Pickup.MAIL, mail_to=MailAddress("张三", "13900000001", "西安市雁塔区朱雀大街1号"))


def _rep(region: str) -> CardRequest:
    return CardRequest(kind=CardKind.OPERATOR, holder=make_enrol(3, region).enterprise.legal_rep)


# (region, requirement, the passage it enforces, an application that breaks it)
BREAKS: list[tuple[str, str, str, Callable[[], Application]]] = [
    ("shenzhen", "enrol_legal_card_fixed", "自动生成两条办卡信息，法人卡信息不可修改", lambda: attrs.evolve(
        make_enrol(3, "shenzhen"), items=(CardRequest(kind=CardKind.LEGAL, holder=make_person(99)),))),
    ("changchun", "making_centre", "其次选择制卡机构", lambda: make_enrol(3, "changchun")),
    ("changchun", "remarks_required", "备注必须按要求填写，否则会退单处理。",
     lambda: make_enrol(3, "changchun", making_centre="changchun_centre")),
    ("changchun", "remarks_mail", "选择邮寄企业请填写：企业收件地址+联系人+联系电话", lambda: attrs.evolve(
        make_enrol(3, "changchun", pickup=Pickup.MAIL, making_centre="changchun_centre"), remarks="请尽快寄出")),
    ("changchun", "remarks_pickup", "请填写：**自取+联系人+电话", lambda: attrs.evolve(
        make_enrol(3, "changchun", making_centre="changchun_centre"), remarks="张三 13900000001")),
    ("changchun", "remarks_legal_only", "如果只要一张法人卡不要操作员卡，请在备注中写上（只要一张法人卡）",
     lambda: attrs.evolve(make_enrol(3, "changchun", operators=0, making_centre="changchun_centre"),
                          remarks="自取 张三 13900000001")),
    ("changchun", "ccb_on_site", "如果选择建行制卡代理点，必须到现场办理业务。",
     lambda: make_enrol(3, "changchun", pickup=Pickup.MAIL, making_centre="changchun_ccb")),
    ("xiamen", "channel", "(1) [bookmark: _Toc150352289]无纸化入网企业制卡流程",
     lambda: attrs.evolve(make_enrol(3, "xiamen"), channel="on_site")),
    ("xiamen", "one_card_per_holder", "一个身份证号在同一家企业只能办理一张电子口岸操作员卡", lambda: attrs.evolve(
        make_enrol(3, "xiamen"), items=(*make_enrol(3, "xiamen").items, operator(40), operator(40)))),
    ("xiamen", "operator_cards_only", "4.增办    □ 操作员卡", lambda: business("xiamen", B.ADD_CARD, channel="post")),
    ("xiamen", "mail_address", "若因企业填写错误导致快递无法送达或拒收退回的，企业应承担往返产生的快递费用",
     lambda: attrs.evolve(make_enrol(3, "xiamen"), pickup=NO_MAIL)),
    ("hangzhou", "device_no", "填写中国电子口岸证书背面条码对应的数字", lambda: business("hangzhou", B.CHANGE_HOLDER)),
    ("hangzhou", "stand_in_not_legal", "可输入以89开头的13位随机数字(不能与法人设备编号相同)",
     lambda: _hangzhou(B.CHANGE_HOLDER, remarks="忘记设备编号", items=(
         attrs.evolve(_rep("hangzhou"), kind=CardKind.LEGAL, device_no=STAND_IN), operator(70, device_no=STAND_IN)))),
    ("hangzhou", "stand_in_remarks", "并在后面申请单的备注栏中注明忘记设备编号",
     lambda: _hangzhou(B.REISSUE, items=(operator(70, device_no=STAND_IN),))),
    ("hangzhou", "id_valid_from", "* 身份证有效起始日期", lambda: _hangzhou(B.CHANGE_HOLDER, items=(CardRequest(
        kind=CardKind.OPERATOR, holder=attrs.evolve(make_person(71), id_valid_from=None), device_no="1234567890124"),))),
    ("hangzhou", "channel_details", "如果选择在线办理，请提前填写好收件信息",
     lambda: _hangzhou(B.RENEW, pickup=PickupChoice(method=Pickup.COUNTER))),
    ("hangzhou", "menu", "(如果还有办理其他业务，可多选)",
     lambda: _hangzhou(B.CHANGE_HOLDER, also=(B.RENEW, B.RENEW, B.ENROL))),
    ("xian", "not_legal_rep", "（法人和操作员不能是同一个人）",
     lambda: attrs.evolve(make_enrol(3, "xian"), items=(*make_enrol(3, "xian").items, _rep("xian")))),
    ("xian", "operator_unlock_self_service", "选择需要解锁的操作员卡点击解锁",
     lambda: business("xian", B.UNLOCK, items=(operator(70),), pickup=XA_MAIL)),
    ("xian", "card_address", "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话",
     lambda: business("xian", B.RESET_PIN)),
]


def test_no_plugin_builds_a_problem_itself():
    """Problems come only from declared requirements (Requirement.problem), so each names one the guide shows."""
    for path in sorted((ROOT / "plugins").glob("*/__init__.py")):
        calls = [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Problem"]
        assert not calls, f"{path.relative_to(ROOT)} builds a Problem at line {calls[0].lineno}: use Requirement.problem"


@pytest.mark.parametrize(("region", "code", "passage", "make"), BREAKS, ids=[f"{r}-{c}" for r, c, _, _ in BREAKS])
def test_each_check_raises_its_declared_requirement(rulebook: Rulebook, region: str, code: str, passage: str,
                                                    make: Callable[[], Application]):
    assert_cited(SEEDS[region], passage)
    assert rulebook.region(region).requirement(code).source == SEEDS[region]
    app = make()
    problems = rulebook.validate(region, app)
    assert code in {p.rule for p in problems}, problems
    declared = {r.code: r for r in rulebook.region(region).requirements}
    for problem in problems:
        assert problem.rule in declared, f"{region} raised a problem naming no declared requirement: {problem}"
        assert declared[problem.rule].applies_to(app.business), (problem.rule, app.business)
        assert problem.zh and problem.en and problem.source == declared[problem.rule].source


@pytest.mark.parametrize("region", REGIONS)
def test_every_declared_requirement_is_a_check_someone_can_meet(rulebook: Rulebook, region: str):
    walked = {code for r, code, _, _ in BREAKS if r == region}
    assert {r.code for r in rulebook.region(region).requirements} == walked


@pytest.mark.parametrize("region", REGIONS)
def test_every_requirement_is_in_the_guide_of_each_business_it_applies_to(rulebook: Rulebook, region: str):
    requirements = rulebook.region(region).requirements
    for requirement in requirements:
        assert requirement.text.zh and requirement.text.en, requirement.code
    for offer in rulebook.offers(region):
        guide = build_guide(rulebook, WorkCalendar(), region, offer.business, date(2026, 9, 30))
        expected = [r for r in requirements if r.applies_to(offer.business)]
        assert list(guide.requirements) == expected
        zh, en = render_text(guide, "zh"), render_text(guide, "en")
        shown_zh = zh.split("【办理要求（提交时检查）】")[1].split("\n\n")[0]
        shown_en = en.split("== Requirements (checked when you submit) ==")[1].split("\n\n")[0]
        for requirement in expected:
            assert requirement.text.zh in shown_zh and requirement.text.en in shown_en, (offer.business, requirement)
        # the requirements come before the materials, channels' details aside: they are read first
        assert zh.index("【办理要求（提交时检查）】") < zh.index("【所需材料】")
