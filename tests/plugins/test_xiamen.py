"""Xiamen (厦门分中心) rules, read back through the Rulebook, each citing its source passage.

Source: ../shared/seeds/002_fb6811038571c536.txt. Every row calls ``assert_cited`` so a rule
whose passage does not stand in the document fails.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs
import pytest

from core.calendar import WorkCalendar
from core.guide.build import build_guide
from core.guide.render import render_text
from core.model import (
    Address,
    Application,
    Business,
    CardKind,
    CardRequest,
    Enterprise,
    MailAddress,
    Person,
    Pickup,
    PickupChoice,
)
from core.rules import (
    ChannelKind,
    Condition,
    MaterialForm,
    Milestone,
    OutletKind,
    StepActor,
    Text,
)
from plugins.xiamen import plugin
from tests.conftest import assert_cited

SRC = "002_fb6811038571c536.txt"
XM = "xiamen"
B = Business

POST_BUSINESSES = [
    B.ENROL,
    B.CHANGE_ENTERPRISE,
    B.CHANGE_HOLDER,
    B.ADD_CARD,
    B.REISSUE,
    B.RENEW,
    B.UNLOCK,
    B.DEREGISTER,
]
# Businesses whose cards go back "业务受理后第二个工作日后".
SECOND_DAY = [B.CHANGE_HOLDER, B.ADD_CARD, B.REISSUE, B.RENEW, B.UNLOCK, B.DEREGISTER]


def dig(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


# --- applications ---

LEGAL_REP = Person(name="陈法人", id_number="350203198001010011", phone="13900000001")
AGENT = Person(name="林经办", id_number="350203199002020022", phone="13900000002")
OP1 = Person(name="黄操作", id_number="350203199103030033")
OP2 = Person(name="吴操作", id_number="350203199204040044")
ENTERPRISE = Enterprise(
    uscc="91350200MA00000000",
    name="厦门示例贸易有限公司",
    legal_rep=LEGAL_REP,
    business_address=Address(province="福建省", city="厦门市", district="湖里区", detail="象兴一路1号"),
)
MAIL_TO = MailAddress(recipient="林经办", phone="13900000002", address="厦门市思明区某路1号")


def app(
    business: Business = B.ADD_CARD,
    channel: str = "post",
    items: tuple[CardRequest, ...] = (),
    pickup: PickupChoice | None = None,
) -> Application:
    return Application(
        id="a1",
        enterprise=ENTERPRISE,
        business=business,
        region=XM,
        channel=channel,
        items=items or (CardRequest(kind=CardKind.OPERATOR, holder=OP1),),
        agent=AGENT,
        pickup=pickup or PickupChoice(method=Pickup.MAIL, mail_to=MAIL_TO),
    )


def test_plugin_loads_and_answers_only_for_xiamen(rulebook):
    assert rulebook.region(XM).centre.zh == "中国电子口岸数据中心厦门分中心"
    twice = app(items=(CardRequest(kind=CardKind.OPERATOR, holder=OP1),) * 2)
    assert any(p.source == SRC for p in rulebook.validate(XM, twice))
    # The rulebook routes Shenzhen's calls past this plugin, which has no region guard of its own.
    in_shenzhen = attrs.evolve(twice, region="shenzhen")
    assert not [p for p in rulebook.validate("shenzhen", in_shenzhen) if p.source == SRC]
    assert not [o for o in rulebook.offers("shenzhen") if o.source == SRC]


# --- region and contacts ---

REGION_ROWS = [
    ("centre", "centre.zh", "中国电子口岸数据中心厦门分中心", "中国电子口岸数据中心厦门分中心"),
    ("hotline", "hotlines", ("0592-5653395",), "技术支持热线：0592-5653395"),
    (
        "hotline hours",
        "hotline_hours.zh",
        "7x24小时（非对外办理时间由全国统一热线服务）",
        "7x24小时（非对外办理时间由全国统一热线服务）",
    ),
    ("service mailbox", "emails", ("xmport@189.cn",), "厦门分中心客服邮箱（xmport@189.cn）"),
    (
        "status look-up site",
        "website",
        "https://icapprove.xmeport.cn/",
        "查询网址https://icapprove.xmeport.cn/",
    ),
    (
        "hall address",
        "address.zh",
        "厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅",
        "（一）服务大厅地址 厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅",
    ),
    (
        "counter hours",
        "hours.zh",
        "星期一至星期五（法定节假日除外）上午8:30~12:00，下午13:30~17:00",
        "星期一至星期五（法定节假日除外） 上午8：30 ~ 12：00    下午13：30~17：00",
    ),
    ("source", "source", SRC, "中国电子口岸数据中心厦门分中心"),
]


@pytest.mark.parametrize(
    ("rule", "path", "expected", "passage"), REGION_ROWS, ids=[r[0] for r in REGION_ROWS]
)
def test_region(rulebook, rule, path, expected, passage):
    assert_cited(SRC, passage)
    assert dig(rulebook.region(XM), path) == expected


def test_silent_rules_fall_back_to_core_defaults(rulebook):
    """The guide states no card policy, acceptance-number format or coverage: core answers, and the guide
    says so (no place is given to Xiamen as its home branch: 泉州 and 厦门 alike wait for a deployment's region)."""
    region = rulebook.region(XM)
    assert region.acceptance_prefix == "" and region.cities == () and region.provinces == ()
    assert not region.covers("福建省", "厦门市") and not region.covers("福建省", "泉州市")
    (silence,) = [r for r in region.readings if r.topic == "contacts"]
    assert_cited(SRC, silence.passage)
    guide = build_guide(rulebook, WorkCalendar(), XM, B.ENROL, date(2026, 9, 30))
    assert "〔解读〕指引未写明本分中心服务哪些地区的企业，因此未设定属地范围" in render_text(guide, "zh")
    assert rulebook.card_policy(XM).source is None
    assert rulebook.medium(XM, B.ENROL).source is None
    assert rulebook.timeframe(XM, B.BUY_READER).source is None  # no delay stated for readers
    assert rulebook.acceptance_number(XM, app(), 7) == "XIA0000007"  # core default format


# --- outlets ---

OUTLET_ROWS = [
    ("kind", "kind", OutletKind.CENTRE, "服务大厅"),
    (
        "address",
        "address.zh",
        "厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅",
        "厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅",
    ),
    ("phone", "phone", "0592-5653395", "收件电话：0592-5653395"),
    (
        "hours",
        "hours.zh",
        "星期一至星期五（法定节假日除外）上午8:30~12:00，下午13:30~17:00",
        "服务大厅对外办理时间： 星期一至星期五（法定节假日除外）",
    ),
    ("mail possible", "mail_possible", True, "□邮寄领卡"),
    ("counter pickup", "making_centre", True, "□窗口领卡"),
    ("no appointment stated", "appointment", None, "服务大厅对外办理时间"),
    ("choice not final", "final_choice", False, "领卡方式"),
    ("city", "city", "厦门市", "厦门市湖里区"),
    ("district", "district", "湖里区", "厦门市湖里区"),
    ("source", "source", SRC, "服务大厅地址"),
]


@pytest.mark.parametrize(
    ("rule", "path", "expected", "passage"), OUTLET_ROWS, ids=[r[0] for r in OUTLET_ROWS]
)
def test_outlet(rulebook, rule, path, expected, passage):
    assert_cited(SRC, passage)
    outlets = rulebook.outlets(XM)
    assert [o.code for o in outlets] == ["xiamen_service_hall"]
    assert dig(outlets[0], path) == expected
    assert rulebook.outlet("xiamen_service_hall")[0] == XM


# --- businesses and channels ---

BUSINESS_ROWS = [
    (B.ENROL, "新入网企业制卡", (ChannelKind.WEB, ChannelKind.POST), "中国电子口岸新入网企业制卡流程"),
    (
        B.CHANGE_ENTERPRISE,
        "企业基本信息变更",
        (ChannelKind.POST,),
        "2、 [bookmark: _Toc150352291]企业基本信息变更",
    ),
    (B.CHANGE_HOLDER, "变更电子口岸操作员卡", (ChannelKind.POST,), "变更电子口岸操作员卡"),
    (B.ADD_CARD, "新增电子口岸操作员卡", (ChannelKind.POST,), "新增电子口岸操作员卡"),
    (B.REISSUE, "补办电子口岸卡", (ChannelKind.POST,), "补办电子口岸卡"),
    (B.RENEW, "电子口岸卡证书更新", (ChannelKind.POST,), "电子口岸卡证书更新"),
    (B.UNLOCK, "电子口岸卡解锁", (ChannelKind.POST,), "电子口岸卡解锁"),
    (B.BUY_READER, "自购读卡器领取", (ChannelKind.MOBILE_APP, ChannelKind.EMAIL), "自购读卡器领取"),
    (B.DEREGISTER, "电子口岸注销", (ChannelKind.POST,), "电子口岸注销"),
]


def test_offers_exactly_the_nine_businesses_of_the_guide(rulebook):
    assert [o.business for o in rulebook.offers(XM)] == [r[0] for r in BUSINESS_ROWS]


@pytest.mark.parametrize(
    ("business", "name", "kinds", "passage"), BUSINESS_ROWS, ids=[r[0] for r in BUSINESS_ROWS]
)
def test_business_names_and_channels(rulebook, business, name, kinds, passage):
    assert_cited(SRC, passage)
    offer = rulebook.offer(XM, business)
    assert offer.name.zh == name
    assert tuple(c.kind for c in offer.channels) == kinds
    assert not offer.self_service_only and offer.source == SRC
    assert all(c.steps and c.source == SRC for c in offer.channels)


CHANNEL_ROWS = [
    # (business, channel kind, attribute or step index, expected fragment, passage)
    (B.ENROL, ChannelKind.WEB, "url", "https://e.chinaport.gov.cn", "网址： https://e.chinaport.gov.cn"),
    (
        B.ENROL,
        ChannelKind.WEB,
        0,
        "注册成为电子口岸用户",
        "企业自行登录e.chinaport.gov.cn注册成为电子口岸用户",
    ),
    (B.ENROL, ChannelKind.WEB, 1, "代理点录代码“20”", "发卡机构代理点录代码：“20”后系统返填“厦门制卡中心”"),
    (
        B.ENROL,
        ChannelKind.WEB,
        1,
        "“企业地址”须按营业执照地址完整填写",
        "“企业地址”栏内容需根据营业执照内的地址完整填写",
    ),
    (B.ENROL, ChannelKind.WEB, 2, "先“暂存”后“申报”", "附件上传完成后，先“暂存”后“申报”"),
    (B.ENROL, ChannelKind.WEB, 3, "操作员信息预录入", "企业操作员预录入——操作员信息预录入"),
    (
        B.ENROL,
        ChannelKind.WEB,
        4,
        "一个工作日后",
        "企业在一个工作日后，访问“身份认证管理系统-企业备案-法人信息录入”，查看制卡中心审核状态",
    ),
    (B.ENROL, ChannelKind.WEB, "note.zh", "Chrome 20 及以上", "谷歌 Chrome 20 及以上版本"),
    (B.ENROL, ChannelKind.WEB, "note.zh", "IE 9 及以上", "IE 9 及以上版本（推荐使用 IE 10 或 11 版本）"),
    (B.ENROL, ChannelKind.POST, 0, "附件1", "非无纸化入网企业制卡流程"),
    (B.ENROL, ChannelKind.POST, 1, "邮政EMS", "仅接收邮政EMS的资料寄递"),
    (
        B.CHANGE_ENTERPRISE,
        ChannelKind.POST,
        2,
        "icapprove.xmeport.cn",
        "请在递交申请三个工作日后访问http://icapprove.xmeport.cn/",
    ),
    (B.ADD_CARD, ChannelKind.POST, 0, "“厦门分中心，关区取货”", "注意选择“厦门分中心，关区取货”"),
    (B.REISSUE, ChannelKind.POST, 0, "“厦门分中心，关区取货”", "注意选择“厦门分中心，关区取货”"),
    (
        B.DEREGISTER,
        ChannelKind.POST,
        0,
        "单一窗口保险服务系统",
        "检查“海关税费电子支付系统”、“单一窗口金融服务系统”和“单一窗口保险服务系统”中是否存在生效的三方协议",
    ),
    (
        B.BUY_READER,
        ChannelKind.MOBILE_APP,
        1,
        "厂商按订单上的信息邮寄",
        "①选择厂商邮寄，厂商按订单上的信息邮寄给企业",
    ),
    (
        B.BUY_READER,
        ChannelKind.MOBILE_APP,
        "note.zh",
        "厂家邮寄",
        "如单独购买读卡器可选择厂家邮寄并准确填写邮寄信息",
    ),
    (
        B.BUY_READER,
        ChannelKind.EMAIL,
        1,
        "xmport@189.cn",
        "发送至中国电子口岸数据中心厦门分中心客服邮箱（xmport@189.cn）",
    ),
    (
        B.BUY_READER,
        ChannelKind.EMAIL,
        2,
        "快递到付",
        "厦门分中心根据企业授权，代为办理邮寄业务，企业应自行承担快递费用（快递到付）",
    ),
] + [
    (
        b,
        ChannelKind.POST,
        1 if b in (B.CHANGE_ENTERPRISE, B.CHANGE_HOLDER, B.RENEW, B.UNLOCK) else 2,
        "收件人：服务大厅",
        "（邮寄地址：厦门市湖里区象兴一路11号象屿保税区海关大楼7楼；收件人：服务大厅；收件电话：0592-5653395",
    )
    for b in (B.CHANGE_ENTERPRISE, B.CHANGE_HOLDER, B.ADD_CARD, B.REISSUE, B.RENEW, B.UNLOCK, B.DEREGISTER)
]


@pytest.mark.parametrize(("business", "kind", "where", "fragment", "passage"), CHANNEL_ROWS)
def test_channel_steps(rulebook, business, kind, where, fragment, passage):
    assert_cited(SRC, passage)
    channel = next(c for c in rulebook.offer(XM, business).channels if c.kind is kind)
    value = channel.steps[where].zh if isinstance(where, int) else dig(channel, where)
    assert fragment in value


# --- materials ---

MATERIAL_SETS = [
    (
        B.ENROL,
        [
            "business_licence_copy",
            "power_of_attorney",
            "acceptance_form",
            "card_register_form",
            "legal_rep_id_copy",
            "operator_id_copy",
            "agent_id_copy",
        ],
        "法人身份证件复印件、操作员身份证件复印件、经办人身份证件复印件",
    ),
    (
        B.CHANGE_ENTERPRISE,
        [
            "business_licence_copy",
            "acceptance_form",
            "card_register_form",
            "change_form",
            "legal_card",
            "operator_cards",
            "legal_rep_id_copy",
            "operator_id_copy",
            "agent_id_copy",
        ],
        "5) 电子口岸法人卡、电子口岸操作员卡。",
    ),
    (
        B.CHANGE_HOLDER,
        [
            "legal_card",
            "operator_card",
            "acceptance_form",
            "card_register_form",
            "operator_id_copy",
            "agent_id_copy",
        ],
        "1) 电子口岸法人卡和需变更的电子口岸操作员卡",
    ),
    (
        B.ADD_CARD,
        [
            "legal_card",
            "acceptance_form",
            "card_register_form",
            "payment_screenshot",
            "operator_id_copy",
            "agent_id_copy",
        ],
        "4) 安全产品成功支付页面截图——操作详见",
    ),
    (
        B.REISSUE,
        ["acceptance_form", "payment_screenshot", "holder_id_copy", "agent_id_copy"],
        "3) 持卡人身份证件复印件、经办人身份证件复印件。",
    ),
    (B.RENEW, ["card", "acceptance_form", "holder_id_copy", "agent_id_copy"], "1) 需要更新的电子口岸卡"),
    (B.UNLOCK, ["card", "acceptance_form", "holder_id_copy", "agent_id_copy"], "1) 需要解锁的电子口岸卡"),
    (B.BUY_READER, ["payment_screenshot", "power_of_attorney"], "安全产品成功支付页面截图（请加盖单位公章）"),
    (
        B.DEREGISTER,
        [
            "legal_card",
            "operator_cards",
            "acceptance_form",
            "deregistration_form",
            "legal_rep_id_copy",
            "agent_id_copy",
        ],
        "1) 电子口岸法人卡和操作员卡",
    ),
]


@pytest.mark.parametrize(("business", "codes", "passage"), MATERIAL_SETS, ids=[r[0] for r in MATERIAL_SETS])
def test_material_lists(rulebook, business, codes, passage):
    assert_cited(SRC, passage)
    materials = rulebook.materials(XM, business)
    assert [m.code for m in materials] == codes
    assert all(m.source == SRC and m.name.en for m in materials)


# "证件材料（请逐份加盖单位公章）": every paper item is stamped, the cards themselves are not.
STAMP_PASSAGE = "1. 证件材料（请逐份加盖单位公章）"

MATERIAL_ROWS = [
    # (business, material code, attribute, expected, passage)
    (B.ENROL, "business_licence_copy", "form", MaterialForm.COPY, "1) 营业执照复印件"),
    (B.ENROL, "business_licence_copy", "stamped", True, STAMP_PASSAGE),
    (B.ENROL, "power_of_attorney", "template", "附件5", "2) 《授权委托书》（附件5）"),
    (B.ENROL, "power_of_attorney", "channels", (ChannelKind.WEB,), "无纸化入网企业制卡流程"),
    (
        B.ENROL,
        "acceptance_form",
        "template",
        "附件1",
        "2) 《中国电子口岸数据中心厦门分中心制卡业务受理登记表》（附件1）",
    ),
    (B.ENROL, "acceptance_form", "channels", (ChannelKind.POST,), "非无纸化入网企业制卡流程"),
    (
        B.ENROL,
        "card_register_form",
        "template",
        "附件2",
        "3) 《中国电子口岸数据中心厦门分中心电子口岸卡登记表》（附件2）",
    ),
    (
        B.ENROL,
        "card_register_form",
        "per_card",
        True,
        "如申请多张操作员卡，则须按照企业指定的操作员人数每人填写一份",
    ),
    (B.ENROL, "card_register_form", "channels", (ChannelKind.POST,), "非无纸化入网企业制卡流程"),
    (B.ENROL, "operator_id_copy", "per_card", True, "操作员身份证件复印件"),
    (B.ENROL, "operator_id_copy", "condition", Condition.HAS_OPERATOR, "操作员身份证件复印件"),
    (
        B.ENROL,
        "legal_rep_id_copy",
        "note.zh",
        "无纸化入网时上传身份证正反面",
        "2、法人身份证正反面；3、经办人身份证正反面",
    ),
    (B.ENROL, "agent_id_copy", "stamped", True, STAMP_PASSAGE),
    (
        B.CHANGE_ENTERPRISE,
        "change_form",
        "template",
        "附件3",
        "4) 《中国电子口岸数据中心厦门分中心业务变更申请表》（附件3）",
    ),
    (B.CHANGE_ENTERPRISE, "legal_card", "form", MaterialForm.CARD, "电子口岸法人卡、电子口岸操作员卡"),
    (B.CHANGE_ENTERPRISE, "legal_card", "stamped", False, "电子口岸法人卡、电子口岸操作员卡"),
    (B.CHANGE_ENTERPRISE, "operator_cards", "per_card", True, "电子口岸法人卡、电子口岸操作员卡"),
    (
        B.CHANGE_ENTERPRISE,
        "card_register_form",
        "per_card",
        True,
        "如申请多张操作员卡，则须按照企业指定的操作员人数每人填写一份",
    ),
    (B.CHANGE_HOLDER, "operator_card", "form", MaterialForm.CARD, "需变更的电子口岸操作员卡"),
    (
        B.CHANGE_HOLDER,
        "operator_id_copy",
        "condition",
        Condition.ALWAYS,
        "4) 操作员身份证件复印件、经办人身份证件复印件。",
    ),
    (
        B.ADD_CARD,
        "card_register_form",
        "per_card",
        True,
        "新增一张电子口岸操作员卡，需填报一份《中国电子口岸数据中心厦门分中心电子口岸卡登记表》",
    ),
    (B.ADD_CARD, "payment_screenshot", "form", MaterialForm.SCREENSHOT, "安全产品成功支付页面截图"),
    (B.ADD_CARD, "payment_screenshot", "stamped", True, STAMP_PASSAGE),
    (
        B.ADD_CARD,
        "payment_screenshot",
        "note.zh",
        "附件7",
        "《安全产品小程序端销售平台用户操作指南》（附件7）",
    ),
    (B.ADD_CARD, "legal_card", "form", MaterialForm.CARD, "1) 电子口岸法人卡"),
    (B.REISSUE, "payment_screenshot", "form", MaterialForm.SCREENSHOT, "2) 安全产品成功支付页面截图"),
    (B.REISSUE, "holder_id_copy", "per_card", True, "持卡人身份证件复印件"),
    (B.RENEW, "card", "form", MaterialForm.CARD, "需要更新的电子口岸卡"),
    (B.RENEW, "holder_id_copy", "stamped", True, STAMP_PASSAGE),
    (B.UNLOCK, "card", "per_card", True, "需要解锁的电子口岸卡"),
    (B.BUY_READER, "payment_screenshot", "stamped", True, "安全产品成功支付页面截图（请加盖单位公章）"),
    (B.BUY_READER, "power_of_attorney", "template", "附件5", "将《授权委托书》加盖单位公章（附件5）"),
    (B.BUY_READER, "power_of_attorney", "condition", Condition.MAIL_PICKUP, "②选择关区取货，邮寄领取"),
    (
        B.DEREGISTER,
        "deregistration_form",
        "template",
        "附件4",
        "《中国电子口岸数据中心厦门分中心企业注销申请表》（附件4，一式两份）",
    ),
    (B.DEREGISTER, "deregistration_form", "copies", 2, "附件4，一式两份"),
    (B.DEREGISTER, "operator_cards", "condition", Condition.HAS_OPERATOR, "电子口岸法人卡和操作员卡"),
]


@pytest.mark.parametrize(("business", "code", "attr", "expected", "passage"), MATERIAL_ROWS)
def test_material_attributes(rulebook, business, code, attr, expected, passage):
    assert_cited(SRC, passage)
    material = next(m for m in rulebook.materials(XM, business) if m.code == code)
    value = dig(material, attr)
    assert (expected in value) if attr.endswith(".zh") else (value == expected)


@pytest.mark.parametrize("business", [b for b in [*POST_BUSINESSES, B.BUY_READER]])
def test_every_paper_item_is_stamped_and_cards_are_not(rulebook, business):
    assert_cited(SRC, STAMP_PASSAGE)
    for m in rulebook.materials(XM, business):
        assert m.stamped is (m.form is not MaterialForm.CARD), m.code


@pytest.mark.parametrize(
    ("channel", "present", "absent", "passage"),
    [
        ("web", {"power_of_attorney"}, {"acceptance_form", "card_register_form"}, "无纸化入网企业制卡流程"),
        (
            "post",
            {"acceptance_form", "card_register_form"},
            {"power_of_attorney"},
            "非无纸化入网企业制卡流程",
        ),
    ],
)
def test_enrolment_materials_depend_on_paperless_or_paper(rulebook, channel, present, absent, passage):
    assert_cited(SRC, passage)
    enrol = app(
        B.ENROL,
        channel=channel,
        items=(
            CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),
            CardRequest(kind=CardKind.OPERATOR, holder=OP1),
        ),
    )
    codes = {m.code for m in rulebook.materials(XM, B.ENROL, enrol)}
    assert present <= codes and not absent & codes
    assert {"business_licence_copy", "legal_rep_id_copy", "operator_id_copy", "agent_id_copy"} <= codes


def test_operator_materials_drop_without_operators(rulebook):
    assert_cited(SRC, "电子口岸法人卡和操作员卡")
    only_legal = app(B.DEREGISTER, items=(CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),))
    codes = {m.code for m in rulebook.materials(XM, B.DEREGISTER, only_legal)}
    assert "operator_cards" not in codes and "legal_card" in codes


def test_reader_power_of_attorney_only_for_mail_pickup(rulebook):
    assert_cited(SRC, "选择关区取货，邮寄领取。企业认购成功，将《授权委托书》加盖单位公章（附件5）")
    mail = app(B.BUY_READER, channel="email")
    counter = attrs.evolve(mail, pickup=PickupChoice(method=Pickup.COUNTER))
    assert "power_of_attorney" in {m.code for m in rulebook.materials(XM, B.BUY_READER, mail)}
    assert "power_of_attorney" not in {m.code for m in rulebook.materials(XM, B.BUY_READER, counter)}


# --- courier ---

EMS_ONLY = "根据《邮政法》规定，仅接收邮政EMS的资料寄递，其他快递企业的寄递一律不予签收，邮费需企业自理。"
COD = "企业应自行承担快递费用（快递到付）"
LIABILITY = "若因企业填写错误导致快递无法送达或拒收退回的，企业应承担往返产生的快递费用"
CHECK = "快递签收前请确认电子口岸卡齐备，如有丢失或损毁，请于当天联系厦门分中心协助处理"

COURIER_ROWS = [
    *[(b, "inbound.accepted", True, "邮寄至厦门分中心办理") for b in POST_BUSINESSES],
    *[(b, "inbound.carriers", (Text("邮政EMS", "China Post EMS"),), EMS_ONLY) for b in POST_BUSINESSES],
    *[(b, "inbound.payer", "enterprise", "邮费需企业自理") for b in POST_BUSINESSES],
    *[(b, "inbound.to.recipient.zh", "服务大厅", "收件人：服务大厅") for b in POST_BUSINESSES],
    *[(b, "inbound.to.phone", "0592-5653395", "收件电话：0592-5653395") for b in POST_BUSINESSES],
    *[
        (
            b,
            "inbound.to.address.zh",
            "厦门市湖里区象兴一路11号象屿保税区海关大楼7楼",
            "邮寄地址：厦门市湖里区象兴一路11号象屿保税区海关大楼7楼",
        )
        for b in POST_BUSINESSES
    ],
    *[(b, "outbound.mail", True, "邮寄领卡") for b in POST_BUSINESSES],
    *[(b, "outbound.cod", True, COD) for b in [*POST_BUSINESSES, B.BUY_READER]],
    *[
        (b, "outbound.carrier.zh", "EMS", "我司授权贵单位在办理完成后将电子口岸卡通过EMS快递至以下我司地址")
        for b in POST_BUSINESSES
    ],
    (
        B.BUY_READER,
        "outbound.carrier.zh",
        "EMS",
        "我司授权贵单位在办理完成后将电子口岸安全产品通过EMS快递至以下我司地址",
    ),
    *[(b, "outbound.liability.zh", LIABILITY, LIABILITY) for b in [*POST_BUSINESSES, B.BUY_READER]],
    *[(b, "outbound.check_on_receipt.zh", CHECK, CHECK) for b in POST_BUSINESSES],
    (
        B.BUY_READER,
        "outbound.check_on_receipt.zh",
        "快递签收前请确认读卡器齐备，如有丢失或损毁，请于当天联系厦门分中心协助处理",
        "快递签收前请确认读卡器齐备，如有丢失或损毁，请于当天联系厦门分中心协助处理",
    ),
    (
        B.ENROL,
        "outbound.fallback.zh",
        "自行到厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅一号柜台领卡",
        "并自行到厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅一号柜台领卡",
    ),
    # Sections 2, 3, 6, 7, 9 drop the street number; it is the same hall (see region.toml).
    (
        B.CHANGE_ENTERPRISE,
        "outbound.fallback.zh",
        "自行到厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅一号柜台领卡",
        "并自行到厦门市湖里区象屿保税区海关大楼7楼服务大厅一号柜台领卡",
    ),
    (
        B.BUY_READER,
        "outbound.fallback.zh",
        "自行到厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅一号柜台领取",
        "并自行到厦门市湖里区象兴一路11号象屿保税区海关大楼7楼服务大厅一号柜台领取",
    ),
    (B.ENROL, "outbound.dispatch_after_days", 3, "在审核通过三个工作日后代为办理邮寄业务"),
    (B.ENROL, "outbound.counted_from", Milestone.APPROVED, "在审核通过三个工作日后代为办理邮寄业务"),
    (B.CHANGE_ENTERPRISE, "outbound.dispatch_after_days", 3, "在业务受理三个工作日后代为办理邮寄业务"),
    (
        B.CHANGE_ENTERPRISE,
        "outbound.counted_from",
        Milestone.ACCEPTED,
        "在业务受理三个工作日后代为办理邮寄业务",
    ),
    *[
        (b, "outbound.dispatch_after_days", 2, "在业务受理后第二个工作日后代为办理邮寄业务")
        for b in SECOND_DAY
    ],
    *[
        (b, "outbound.counted_from", Milestone.ACCEPTED, "在业务受理后第二个工作日后代为办理邮寄业务")
        for b in SECOND_DAY
    ],
    (B.BUY_READER, "outbound.dispatch_after_days", None, "厦门分中心根据企业授权，代为办理邮寄业务"),
    (
        B.BUY_READER,
        "inbound.accepted",
        False,
        "及安全产品成功支付页面截图，发送至中国电子口岸数据中心厦门分中心客服邮箱",
    ),
    (B.RENEW, "outbound.counter_pickup.zh", "打印领卡通知单，加盖企业公章", "打印领卡通知单，加盖企业公章"),
    (
        B.CHANGE_ENTERPRISE,
        "outbound.counter_pickup.zh",
        "打印《领卡通知书》",
        "待申请状态为“领卡”后打印《领卡通知书》",
    ),
]


@pytest.mark.parametrize(("business", "path", "expected", "passage"), COURIER_ROWS)
def test_courier(rulebook, business, path, expected, passage):
    assert_cited(SRC, passage)
    policy = rulebook.courier(XM, business)
    assert policy.source == SRC
    value = dig(policy, path)
    assert (expected in value) if path.endswith("counter_pickup.zh") else (value == expected)


# --- timeframes ---

TIMEFRAME_ROWS = [
    (
        B.ENROL,
        [("review", 1, Milestone.SUBMITTED), ("dispatch", 3, Milestone.APPROVED)],
        "企业在一个工作日后，访问“身份认证管理系统-企业备案-法人信息录入”，查看制卡中心审核状态",
    ),
    (
        B.CHANGE_ENTERPRISE,
        [("status_check", 3, Milestone.SUBMITTED), ("dispatch", 3, Milestone.ACCEPTED)],
        "请在递交申请三个工作日后访问http://icapprove.xmeport.cn/",
    ),
    *[
        (b, [("dispatch", 2, Milestone.ACCEPTED)], "在业务受理后第二个工作日后代为办理邮寄业务")
        for b in SECOND_DAY
    ],
]


@pytest.mark.parametrize(
    ("business", "deadlines", "passage"), TIMEFRAME_ROWS, ids=[r[0] for r in TIMEFRAME_ROWS]
)
def test_timeframes(rulebook, business, deadlines, passage):
    assert_cited(SRC, passage)
    tf = rulebook.timeframe(XM, business)
    assert tf.source == SRC
    assert [(d.code, d.days, d.counted_from) for d in tf.deadlines] == deadlines
    assert tf.total is not None and tf.total.code == "dispatch"


def test_timeframe_dispatch_agrees_with_courier(rulebook):
    """The mailing delay is stated once in the text; timeframe and courier must not drift apart."""
    assert_cited(SRC, "邮寄领卡")
    for b in POST_BUSINESSES:
        total, out = rulebook.timeframe(XM, b).total, rulebook.courier(XM, b).outbound
        assert total is not None
        assert (total.days, total.counted_from) == (out.dispatch_after_days, out.counted_from)


# --- workflow steps ---

STEP_ROWS = [
    *[
        (
            b,
            "paper_received",
            "submitted",
            StepActor.STAFF,
            (ChannelKind.POST,),
            "仅接收邮政EMS的资料寄递，其他快递企业的寄递一律不予签收",
        )
        for b in POST_BUSINESSES
    ],
    (
        B.ADD_CARD,
        "buy_medium",
        "draft",
        StepActor.ENTERPRISE,
        (),
        "1) 企业自行完成安全产品小程序端的购买，注意选择“厦门分中心，关区取货”。",
    ),
    (
        B.REISSUE,
        "buy_medium",
        "draft",
        StepActor.ENTERPRISE,
        (),
        "1) 企业自行完成安全产品小程序端的购买，注意选择“厦门分中心，关区取货”。",
    ),
    (
        B.DEREGISTER,
        "cancel_tripartite_agreements",
        "draft",
        StepActor.ENTERPRISE,
        (),
        "如存在生效的三方协议，需使用法人卡进行解约操作。避免造成银行由于存在三方协议无法销户的问题。",
    ),
]


@pytest.mark.parametrize(("business", "code", "after", "actor", "channels", "passage"), STEP_ROWS)
def test_workflow_steps(rulebook, business, code, after, actor, channels, passage):
    assert_cited(SRC, passage)
    step = next(s for s in rulebook.steps(XM, business) if s.code == code)
    assert (step.after.value, step.actor, step.channels, step.source) == (after, actor, channels, SRC)


def test_paper_step_does_not_apply_to_paperless_enrolment(rulebook):
    assert_cited(SRC, "无纸化入网企业制卡流程")
    step = next(s for s in rulebook.steps(XM, B.ENROL) if s.code == "paper_received")
    assert step.applies_to("post") and not step.applies_to("web")
    assert rulebook.steps(XM, B.BUY_READER) == []  # nothing posted for readers


# --- medium ---

MEDIUM_ROWS = [
    (B.ADD_CARD, "free", False, "企业自行完成安全产品小程序端的购买"),
    (B.ADD_CARD, "suppliers.0.name.zh", "南方信安", "在微信上搜索南方信安小程序"),
    (B.ADD_CARD, "suppliers.0.how.zh", "“厦门分中心，关区取货”", "注意选择“厦门分中心，关区取货”"),
    (B.ADD_CARD, "proof.zh", "安全产品成功支付页面截图", "4) 安全产品成功支付页面截图"),
    (B.REISSUE, "free", False, "企业自行完成安全产品小程序端的购买"),
    (B.REISSUE, "proof.zh", "加盖单位公章", STAMP_PASSAGE),
    (B.BUY_READER, "free", False, "企业自行完成安全产品小程序端的购买"),
    (
        B.BUY_READER,
        "proof.zh",
        "xmport@189.cn",
        "发送至中国电子口岸数据中心厦门分中心客服邮箱（xmport@189.cn）",
    ),
    (B.BUY_READER, "suppliers.0.how.zh", "厂商邮寄或关区取货", "按认购方式领取产品"),
]


@pytest.mark.parametrize(("business", "path", "expected", "passage"), MEDIUM_ROWS)
def test_medium_policy(rulebook, business, path, expected, passage):
    assert_cited(SRC, passage)
    policy = rulebook.medium(XM, business)
    assert policy.source == SRC
    obj: Any = policy
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    assert (expected in obj) if isinstance(expected, str) else (obj == expected)


# --- forms ---

FORM_SETS = [
    (
        B.ENROL,
        ["附件1", "附件2", "附件5", "附件6"],
        "操作步骤可详见《中国电子口岸数据中心厦门分中心无纸化入网操作手册》（附件6）",
    ),
    (
        B.CHANGE_ENTERPRISE,
        ["附件1", "附件2", "附件3"],
        "《中国电子口岸数据中心厦门分中心业务变更申请表》（附件3）",
    ),
    (B.CHANGE_HOLDER, ["附件1", "附件2"], "3) 《中国电子口岸数据中心厦门分中心电子口岸卡登记表》（附件2）"),
    (B.ADD_CARD, ["附件1", "附件2", "附件7"], "操作详见《安全产品小程序端销售平台用户操作指南》（附件7）"),
    (B.REISSUE, ["附件1", "附件7"], "1) 《中国电子口岸数据中心厦门分中心制卡业务受理登记表》（附件1）"),
    (B.RENEW, ["附件1"], "2) 《中国电子口岸数据中心厦门分中心制卡业务受理登记表》（附件1）"),
    (B.UNLOCK, ["附件1"], "2) 《中国电子口岸数据中心厦门分中心制卡业务受理登记表》（附件1）"),
    (B.BUY_READER, ["附件5", "附件7"], "将《授权委托书》加盖单位公章（附件5）"),
    (B.DEREGISTER, ["附件1", "附件4"], "《中国电子口岸数据中心厦门分中心企业注销申请表》（附件4，一式两份）"),
]


@pytest.mark.parametrize(("business", "codes", "passage"), FORM_SETS, ids=[r[0] for r in FORM_SETS])
def test_forms_per_business(rulebook, business, codes, passage):
    assert_cited(SRC, passage)
    assert [f.code for f in rulebook.forms(XM, business)] == codes
    # every template a material names is among the business's forms
    templates = {m.template for m in rulebook.materials(XM, business) if m.template}
    assert templates <= set(codes)


FORM_ROWS = [
    (
        "附件1",
        "中国电子口岸数据中心厦门分中心制卡业务受理登记表",
        ["社会统一信用代码", "经办人", "领卡方式", "收件地址", "收件人"],
        "我司授权贵单位在办理完成后将电子口岸卡通过EMS快递至以下我司地址",
    ),
    (
        "附件2",
        "中国电子口岸数据中心厦门分中心电子口岸卡登记表",
        ["学历", "出生日期", "用户地址", "传真"],
        "持卡人在同一家企业内不可重复办理电子口岸卡",
    ),
    (
        "附件3",
        "中国电子口岸数据中心厦门分中心业务变更申请表",
        ["变更内容", "联系人"],
        "输入企业组织机构代码或统一社会信用代码查询变更申请审批进度",
    ),
    (
        "附件4",
        "中国电子口岸数据中心厦门分中心企业注销申请表",
        ["电子口岸法人卡号", "电子口岸操作员卡号"],
        "《中国电子口岸企业注销申请表》需一式两份",
    ),
    (
        "附件5",
        "授权委托书",
        ["法人姓名", "法人电话（手机）", "签署日期"],
        "此委托书需如实填写完整并加盖授权单位公章生效",
    ),
    ("附件6", "中国电子口岸数据中心厦门分中心无纸化入网操作手册", [], "每张图片大小不超过4M"),
    ("附件7", "安全产品小程序端销售平台用户操作指南", [], "选择【我的】页面点击【授权登录】"),
]


@pytest.mark.parametrize(("code", "title", "labels", "passage"), FORM_ROWS, ids=[r[0] for r in FORM_ROWS])
def test_form_definitions(rulebook, code, title, labels, passage):
    assert_cited(SRC, title)
    assert_cited(SRC, passage)
    by_code = {f.code: f for b in rulebook.offers(XM) for f in rulebook.forms(XM, b.business)}
    form = by_code[code]
    assert form.title.zh == title and form.title.en and form.source == SRC
    assert set(labels) <= {f.label.zh for f in form.fields}
    assert form.body is not None and "".join(passage.split()) in "".join(form.body.zh.split())
    for label in labels:
        assert_cited(SRC, label)


@pytest.mark.parametrize(
    ("code", "attr", "expected", "passage"),
    [
        ("附件4", "copies", 2, "需一式两份"),
        (
            "附件2",
            "per_card_kind",
            CardKind.OPERATOR,
            "如申请多张操作员卡，则须按照企业指定的操作员人数每人填写一份",
        ),
        ("附件1", "copies", 1, "申办日期"),
    ],
)
def test_form_multiplicity(rulebook, code, attr, expected, passage):
    assert_cited(SRC, passage)
    by_code = {f.code: f for b in rulebook.offers(XM) for f in rulebook.forms(XM, b.business)}
    assert getattr(by_code[code], attr) == expected


# --- uploads ---


def test_upload_policy_for_paperless_enrolment(rulebook):
    assert_cited(SRC, "拍照或扫描进行上传。每张图片大小不超过4M，超过请压缩后再上传")
    policy = rulebook.upload(XM, B.ENROL)
    assert policy.source == SRC
    assert policy.max_bytes == 4 * 1024 * 1024
    assert set(policy.media_types) == {"image/jpeg", "image/png"}  # 图片: pictures only
    assert rulebook.upload(XM, B.RENEW).source is None  # nothing is uploaded for paper businesses


# --- validation ---


def _fields(problems) -> list[str]:
    return [p.field for p in problems]


VALID = [
    (
        "paperless enrolment",
        app(
            B.ENROL,
            channel="web",
            items=(
                CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),
                CardRequest(kind=CardKind.OPERATOR, holder=OP1),
            ),
        ),
    ),
    (
        "paper enrolment, counter pickup",
        app(
            B.ENROL,
            items=(CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),),
            pickup=PickupChoice(method=Pickup.COUNTER),
        ),
    ),
    (
        "two operators added",
        app(
            B.ADD_CARD,
            items=(
                CardRequest(kind=CardKind.OPERATOR, holder=OP1),
                CardRequest(kind=CardKind.OPERATOR, holder=OP2),
            ),
        ),
    ),
    ("legal card reissued", app(B.REISSUE, items=(CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),))),
    ("reader by mail", app(B.BUY_READER, channel="email")),
]


@pytest.mark.parametrize(("case", "application"), VALID, ids=[v[0] for v in VALID])
def test_valid_applications_pass(rulebook, case, application):
    assert_cited(SRC, "邮寄领卡")
    assert rulebook.validate(XM, application) == []


INVALID = [
    (
        "same holder twice",
        app(
            B.ADD_CARD,
            items=(
                CardRequest(kind=CardKind.OPERATOR, holder=OP1),
                CardRequest(kind=CardKind.OPERATOR, holder=OP1),
            ),
        ),
        ["items"],
        "一个身份证号在同一家企业只能办理一张电子口岸操作员卡",
    ),
    (
        "holder of legal and operator card",
        app(
            B.ENROL,
            items=(
                CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),
                CardRequest(kind=CardKind.OPERATOR, holder=LEGAL_REP),
            ),
        ),
        ["items"],
        "备注：持卡人在同一家企业内不可重复办理电子口岸卡",
    ),
    (
        "legal card in add_card",
        app(B.ADD_CARD, items=(CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),)),
        ["items"],
        "4.增办    □ 操作员卡",
    ),
    (
        "legal card in change_holder",
        app(B.CHANGE_HOLDER, items=(CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),)),
        ["items"],
        "6.□ 企业操作员卡变更",
    ),
    (
        "mail without address",
        app(B.RENEW, pickup=PickupChoice(method=Pickup.MAIL)),
        ["pickup.mail_to"],
        "收件地址： 收件人： 联系电话：",
    ),
    (
        "mail with blank phone",
        app(B.UNLOCK, pickup=PickupChoice(method=Pickup.MAIL, mail_to=attrs.evolve(MAIL_TO, phone=" "))),
        ["pickup.mail_to"],
        "若因企业填写错误导致快递无法送达或拒收退回的",
    ),
    ("renew on site", app(B.RENEW, channel="on_site"), ["channel"], "邮寄至厦门分中心办理"),
    ("enrol through the app", app(B.ENROL, channel="mobile_app"), ["channel"], "办理流程"),
]


@pytest.mark.parametrize(("case", "application", "fields", "passage"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_applications_name_the_field(rulebook, case, application, fields, passage):
    assert_cited(SRC, passage)
    problems = rulebook.validate(XM, application)
    assert _fields(problems) == fields
    for p in problems:
        assert p.zh and p.en and p.source == SRC


def test_mail_problem_lists_what_is_missing(rulebook):
    assert_cited(SRC, "收件人：")
    missing_phone = app(
        B.RENEW, pickup=PickupChoice(method=Pickup.MAIL, mail_to=attrs.evolve(MAIL_TO, phone=""))
    )
    (problem,) = rulebook.validate(XM, missing_phone)
    assert "联系电话" in problem.zh and "收件人、" not in problem.zh and "phone" in problem.en


def test_validation_does_not_change_the_application(rulebook):
    bad = app(B.ADD_CARD, items=(CardRequest(kind=CardKind.LEGAL, holder=LEGAL_REP),))
    before = attrs.asdict(bad)
    assert rulebook.validate(XM, bad)
    assert attrs.asdict(bad) == before


# --- completeness and language ---


def test_every_business_has_materials_courier_timeframe_and_channel(rulebook):
    """Readers are the one business whose timing the guide does not state (left to core)."""
    for offer in rulebook.offers(XM):
        b = offer.business
        assert offer.channels, b
        if not offer.self_service_only:
            assert rulebook.materials(XM, b), b
        assert rulebook.courier(XM, b).source == SRC, b
        tf = rulebook.timeframe(XM, b)
        if b is B.BUY_READER:
            assert tf.source is None
        else:
            assert tf.source == SRC and tf.deadlines, b
    assert rulebook.outlets(XM)






def test_every_rule_object_cites_the_seed():
    """Every rule object carries source = the Xiamen seed (none is a silent default)."""
    data = plugin.data
    objects: list[Any] = [data.region, *data.outlets, *data.forms]
    for b in data.businesses:
        objects += [b, *b.channels, *b.materials, *b.steps]
        objects += [x for x in (b.courier, b.timeframe, b.medium, b.upload) if x is not None]
    assert all(o.source == SRC for o in objects)


# --- the guide shows materials per channel and mailing "after", as the source does ---


def test_enrolment_materials_are_grouped_by_the_channel_that_needs_them(rulebook):
    """附件1/附件2 are the paper (非无纸化) route's, 附件5 the paperless route's; the rest both need."""
    assert_cited(SRC, "(2) [bookmark: _Toc150352290]非无纸化入网企业制卡流程 1. 证件材料（请逐份加盖单位公章） 1) 营业执照复印件 "
                      "2) 《中国电子口岸数据中心厦门分中心制卡业务受理登记表》（附件1）")
    assert_cited(SRC, "2) 《授权委托书》（附件5）")
    guide = build_guide(rulebook, WorkCalendar(), XM, B.ENROL, date(2026, 9, 30))
    groups = {g.kinds: {i.material.template or i.material.code for i in g.materials} for g in guide.material_groups}
    assert groups[(ChannelKind.WEB,)] == {"附件5"}
    assert groups[(ChannelKind.POST,)] == {"附件1", "附件2"}
    assert "附件1" not in groups[()] and "附件5" not in groups[()]
    zh, en = render_text(guide, "zh"), render_text(guide, "en")
    paper = zh.split("仅以下渠道需要（非无纸化入网（邮寄纸质材料））：")[1]
    assert "模板：附件1" in paper and "模板：附件5" not in paper
    online = zh.split("仅以下渠道需要（无纸化入网）：")[1].split("仅以下渠道需要")[0]
    assert "模板：附件5" in online and "模板：附件1" not in online
    assert "Only for Paper enrolment (documents by post):" in en


@pytest.mark.parametrize(("business", "days", "passage"), [
    (B.ENROL, 3, "在审核通过三个工作日后代为办理邮寄业务"),
    (B.CHANGE_HOLDER, 2, "在业务受理后第二个工作日后代为办理邮寄业务"),
])
def test_mailing_happens_after_the_working_days_not_within(rulebook, business, days, passage):
    assert_cited(SRC, passage)
    guide = build_guide(rulebook, WorkCalendar(), XM, business, date(2026, 9, 30))
    dispatch = next(d for d in guide.due if d.deadline.code == "dispatch")
    assert dispatch.deadline.not_before and dispatch.deadline.days == days
    zh, en = render_text(guide, "zh"), render_text(guide, "en")
    assert f"{days}个工作日后寄出" in zh and "工作日内寄出" not in zh
    assert f"mailed no earlier than {days} working days after" in en and "dispatched within" not in en
    assert f"→ {dispatch.due.isoformat()} 起" in zh and f"→ from {dispatch.due.isoformat()}" in en
