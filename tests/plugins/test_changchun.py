"""Changchun rules, read back through the Rulebook; each row cites the passage it encodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from citations import assert_cited

from core import lifecycle
from core.labels import label
from core.model import Application, Business, CardKind, CardRequest, MailAddress, Pickup, PickupChoice
from core.model.enums import AppState, RejectionReason
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.rules import ChannelKind, Condition, MaterialForm, OutletKind
from core.samples import make_enrol, make_person

CC = "changchun"
SOURCE = "001_56e603108c85a312.txt"
B = Business


@pytest.fixture
def rulebook() -> Rulebook:
    # Only this region: its rules must not depend on another plugin's state.
    return Rulebook(get_plugin_manager(enabled=[CC]))


def outlet(rb: Rulebook, code: str):
    (found,) = [o for o in rb.outlets(CC) if o.code == code]
    return found


def material(rb: Rulebook, code: str):
    (found,) = [m for m in rb.materials(CC, B.ENROL) if m.code == code]
    return found


def channel(rb: Rulebook, kind: ChannelKind):
    (found,) = [c for c in rb.offer(CC, B.ENROL).channels if c.kind is kind]
    return found


def web_steps(rb: Rulebook) -> str:
    return "".join(s.zh for s in channel(rb, ChannelKind.WEB).steps)


Getter = Callable[[Rulebook], Any]
ROWS: list[tuple[str, Getter, Any, str]] = [
    # region and contacts ---------------------------------------------------------------------------
    (
        "centre",
        lambda rb: rb.region(CC).centre.zh,
        "中国电子口岸数据中心长春分中心",
        "中国电子口岸数据中心长春分中心",
    ),
    ("hotline", lambda rb: rb.region(CC).hotlines, ("0431-84601888",), "长春制卡中心：0431-84601888"),
    (
        "coverage: Jilin pilot",
        lambda rb: rb.region(CC).provinces,
        ("吉林省",),
        "该制发卡服务系统操作手册仅限吉林省内试点地区用户首次办理电子口岸卡时参考使用",
    ),
    (
        "home branch from the business address",
        lambda rb: rb.home_branch(make_enrol(1, CC).enterprise.business_address),
        CC,
        "由系统根据用户提交的经营场所所在区域自动匹配",
    ),
    (
        "website",
        lambda rb: rb.region(CC).website,
        "https://e.chinaport.gov.cn",
        "https://e.chinaport.gov.cn 打开中国电子口岸执法",
    ),
    (
        "ask before entering",
        lambda rb: "咨询后录入" in rb.region(CC).note.zh,
        True,
        "请您在录入前，先联系制卡中心工作人员，咨询后录入",
    ),
    (
        "centre directory",
        lambda rb: "制卡机构联系方式查询" in rb.region(CC).note.zh,
        True,
        "查看全国制卡机构的名称、类型、热线电话、制卡电话、传真电话和地址等信息",
    ),
    # outlets ---------------------------------------------------------------------------------------
    (
        "outlets",
        lambda rb: [(o.code, o.kind, o.making_centre) for o in rb.outlets(CC)],
        [("changchun_centre", OutletKind.CENTRE, True), ("changchun_ccb", OutletKind.BANK_AGENT, True)],
        "发卡机构：企业根据需求选择 长春制卡中心（或省内建行制卡代理点）",
    ),
    (
        "centre phone",
        lambda rb: outlet(rb, "changchun_centre").phone,
        "0431-84601888",
        "长春制卡中心：0431-84601888",
    ),
    (
        "centre mails",
        lambda rb: outlet(rb, "changchun_centre").mail_possible,
        True,
        "如果选择长春制卡中心可以提供邮寄服务",
    ),
    (
        "centre choice not final",
        lambda rb: outlet(rb, "changchun_centre").final_choice,
        False,
        "用户可以为每个业务申请单指定一个制卡机构",
    ),
    (
        "CCB on-site only",
        lambda rb: outlet(rb, "changchun_ccb").mail_possible,
        False,
        "如果选择建行制卡代理点，必须到现场办理业务",
    ),
    (
        "CCB choice final",
        lambda rb: outlet(rb, "changchun_ccb").final_choice,
        True,
        "选择制卡代理点后，不能更改，只能在该代理点办理，请谨慎选择",
    ),
    (
        "no appointment stated",
        lambda rb: [o.appointment for o in rb.outlets(CC)],
        [None, None],
        "必须到现场办理业务",
    ),
    # businesses and channels -----------------------------------------------------------------------
    (
        "only new applications",
        lambda rb: [o.business for o in rb.offers(CC)],
        [B.ENROL],
        "为用户提供新办电子口岸卡申请录入和提交功能",
    ),
    (
        "enrol name",
        lambda rb: rb.offer(CC, B.ENROL).name.zh,
        "新办业务（无卡用户申请）",
        "5.1 新办业务（无卡用户申请）",
    ),
    (
        "channels",
        lambda rb: [c.kind for c in rb.offer(CC, B.ENROL).channels],
        [ChannelKind.WEB, ChannelKind.ON_SITE],
        "制发卡服务系统为浏览器版",
    ),
    (
        "web url",
        lambda rb: channel(rb, ChannelKind.WEB).url,
        "https://e.chinaport.gov.cn",
        "在浏览器地址栏中输入：https://e.chinaport.gov.cn",
    ),
    (
        "register admin",
        lambda rb: "无卡用户—注册" in web_steps(rb),
        True,
        "选择“无卡用户”中的“注册”进入注册界面",
    ),
    (
        "single window users skip",
        lambda rb: "“单一窗口”用户名和密码" in web_steps(rb),
        True,
        "直接使用中国国际贸易“单一窗口”用户名和密码登陆",
    ),
    (
        "system entry",
        lambda rb: "制发卡及数字证书服务系统入口" in web_steps(rb),
        True,
        "选择“身份认证管理系统”，在选择界面（如图4）中选择“制发卡及数字证书服务系统入口”进入本系统",
    ),
    ("menu", lambda rb: "新办业务-办卡申请" in web_steps(rb), True, "在系统左侧菜单点击“新办业务-办卡申请”"),
    (
        "address order",
        lambda rb: "按市场主体资格证明材料所载顺序选择省、市、区" in web_steps(rb),
        True,
        "须按市场主体资格证明材料所载信息顺序选择省、市、区",
    ),
    (
        "making centre choice",
        lambda rb: "先选“本省直辖市”或“跨区通办”" in web_steps(rb),
        True,
        "先选择“本省直辖市”或“跨区通办”，再按系统提示选择制卡机构",
    ),
    (
        "operators optional",
        lambda rb: "“暂不需要，继续”" in web_steps(rb),
        True,
        "点击“暂不需要，继续”则会跳过操作员卡信息录入环节",
    ),
    (
        "confirmed rows",
        lambda rb: "“确定录入”操作员卡信息（状态为“已确认”）" in web_steps(rb),
        True,
        "点击“确定录入”完成一条操作员制卡申请信息的录入，此时该操作员的申请状态将设置为“已确认”",
    ),
    (
        "declaration and SMS",
        lambda rb: "输入经办人手机短信验证码" in web_steps(rb),
        True,
        "勾选“申请单位声明”，最后输入经办人手机短信验证码，即可提交新办卡业务申请",
    ),
    (
        "query",
        lambda rb: "综合查询-申请单查询" in web_steps(rb),
        True,
        "在“综合查询-申请单查询”中查看本单位所有申请单办理状态和详情",
    ),
    (
        "environment",
        lambda rb: "1.5.49" in channel(rb, ChannelKind.WEB).note.zh,
        True,
        "客户端控件：1.5.49 及以上版本",
    ),
    (
        "keep the legal card in",
        lambda rb: "不要拔掉法人卡" in channel(rb, ChannelKind.WEB).note.zh,
        True,
        "操作过程中，请您不要拔掉法人卡",
    ),
    (
        "switch to on-site",
        lambda rb: "撤销或联系发卡机构退单" in channel(rb, ChannelKind.ON_SITE).note.zh,
        True,
        "需先将系统中的新办申请单撤销或联系发卡机构退单,再持相关手续到现场办理",
    ),
    (
        "1 legal + up to 10 operators",
        lambda rb: "1个法人卡和最多10个操作员卡" in rb.offer(CC, B.ENROL).note.zh,
        True,
        "首次可一次性申请办理1 个法人卡和最多10 个操作员卡",
    ),
    (
        "cancelled-card users",
        lambda rb: "已全部注销的用户也按此办理" in rb.offer(CC, B.ENROL).note.zh,
        True,
        "曾经办理过电子口岸卡但已全部注销的用户，也请参照本说明",
    ),
    (
        "password login with a legal card",
        lambda rb: "只能查询申请单，不能提交新办申请" in rb.offer(CC, B.ENROL).note.zh,
        True,
        "如您已经办过法人卡，使用管理员账户登录系统，只能查询申请单，不能提交新办申请",
    ),
    (
        "one open application",
        lambda rb: "有未办结的新办申请单时，无法再提交新办申请单" in rb.offer(CC, B.ENROL).note.zh,
        True,
        "当您有未办结的新办申请单时，无法再提交新办申请单",
    ),
    (
        "withdraw",
        lambda rb: "“已提交”状态的申请单可以撤回" in rb.offer(CC, B.ENROL).note.zh,
        True,
        "“已提交”状态的申请单尚未被RA 机构受理，可以由用户撤回，撤回的申请单经过修改之后可以重新提交",
    ),
    (
        "archived after 30 days",
        lambda rb: "30天后由系统归档留存" in rb.offer(CC, B.ENROL).note.zh,
        True,
        "将在申请单提交之日起的30天后由系统归档留存。归档留存的证明材料不能被查看",
    ),
    # materials -------------------------------------------------------------------------------------
    (
        "registration proof",
        lambda rb: material(rb, "entity_certificate").form,
        MaterialForm.SCAN,
        "务必与市场主体资格证明材料及个人身份证明材料所载信息完全一致",
    ),
    ("legal rep ID", lambda rb: material(rb, "legal_rep_id").condition, Condition.ALWAYS, "个人身份证明材料"),
    (
        "operator ID annotated, per card",
        lambda rb: (
            material(rb, "operator_id").per_card,
            material(rb, "operator_id").condition,
            "“同意办理电子口岸制发卡业务”、本人签字及日期" in material(rb, "operator_id").annotation.zh,
        ),
        (True, Condition.HAS_OPERATOR, True),
        "操作员和经办人身份证明材料还须由其本人在空白处手写签注“同意办理电子口岸制发卡业务”、"
        "本人签字及日期，3 项内容缺一不可",
    ),
    (
        "agent ID annotated",
        lambda rb: "3项内容缺一不可" in material(rb, "agent_id").annotation.zh,
        True,
        "3 项内容缺一不可",
    ),
    (
        "agent ID only for others",
        lambda rb: material(rb, "agent_id").condition,
        Condition.AGENT_NOT_HOLDER,
        "您可以指定法定代表人或本申请单中的操作员为经办人，无须重复填写信息和上传证明材料",
    ),
    # courier ---------------------------------------------------------------------------------------
    ("nothing posted in", lambda rb: rb.courier(CC, B.ENROL).inbound.accepted, False, "上传相应附件"),
    (
        "cards mailed",
        lambda rb: rb.courier(CC, B.ENROL).outbound.mail,
        True,
        "选择长春制卡中心，等待接收快递",
    ),
    (
        "CCB pickup",
        lambda rb: "联系所申报建行现场领卡" in rb.courier(CC, B.ENROL).outbound.counter_pickup.zh,
        True,
        "选择建行代理点企业，可联系所申报建行现场领卡",
    ),
    (
        "only the centre mails",
        lambda rb: "仅长春制卡中心提供邮寄服务" in rb.courier(CC, B.ENROL).outbound.fallback.zh,
        True,
        "如果选择长春制卡中心可以提供邮寄服务，如果选择建行制卡代理点，必须到现场办理业务",
    ),
    # medium ----------------------------------------------------------------------------------------
    (
        "medium: only users not qualifying for free issue provide one",
        lambda rb: (rb.medium(CC, B.ENROL).condition.zh, "需提供介质" in rb.medium(CC, B.ENROL).note.zh),
        ("不满足免费配发条件的用户", True),
        "表示用户需要向制卡机构提供卡介质（不满足免费配发条件的用户）",
    ),
    # card policy -----------------------------------------------------------------------------------
    (
        "legal rep holds no operator card",
        lambda rb: rb.card_policy(CC).legal_rep_may_hold_operator,
        False,
        "②法定代表人仅可办理法人卡，不能办理操作员卡",
    ),
    (
        "max 10 operators first time",
        lambda rb: rb.card_policy(CC).max_operators_first_application,
        10,
        "首次可一次性申请办理1 个法人卡和最多10 个操作员卡",
    ),
    (
        "one operator card per person",
        lambda rb: "一名操作员在同一单位名下仅可办理1个操作员卡" in rb.card_policy(CC).note.zh,
        True,
        "③一名操作员在同一单位名下仅可办理1 个操作员卡",
    ),
    (
        "legal card works as operator card",
        lambda rb: "法人卡已具备操作员卡的功能" in rb.card_policy(CC).note.zh,
        True,
        "法人卡已具备操作员卡的功能",
    ),
]


@pytest.mark.parametrize(("rule", "getter", "expected", "passage"), ROWS, ids=[r[0] for r in ROWS])
def test_rule(rulebook: Rulebook, rule: str, getter: Getter, expected: Any, passage: str) -> None:
    assert_cited(SOURCE, passage)
    assert getter(rulebook) == expected, rule


def test_every_rule_object_cites_the_source(rulebook: Rulebook) -> None:
    assert rulebook.region(CC).source == SOURCE
    assert rulebook.card_policy(CC).source == SOURCE
    assert all(o.source == SOURCE for o in rulebook.outlets(CC))
    offer = rulebook.offer(CC, B.ENROL)
    assert offer.source == SOURCE and all(c.source == SOURCE for c in offer.channels)
    assert all(m.source == SOURCE for m in rulebook.materials(CC, B.ENROL))
    assert rulebook.courier(CC, B.ENROL).source == SOURCE
    assert rulebook.medium(CC, B.ENROL).source == SOURCE


def test_every_business_is_complete(rulebook: Rulebook) -> None:
    for offer in rulebook.offers(CC):
        assert offer.channels
        assert rulebook.materials(CC, offer.business)
        assert rulebook.courier(CC, offer.business) is not None
        assert rulebook.timeframe(CC, offer.business) is not None


def test_silent_rules_fall_back_to_core(rulebook: Rulebook) -> None:
    # The manual states no time limit, upload types or sizes, PIN or validity rules.
    assert rulebook.timeframe(CC, B.ENROL).source is None
    assert rulebook.upload(CC, B.ENROL).source is None
    assert rulebook.steps(CC, B.ENROL) == []






# rejection reasons and states (core codes that encode this manual) -------------------------------


@pytest.mark.parametrize(
    ("reason", "passage"),
    [
        (
            RejectionReason.MATERIALS_INCOMPLETE,
            "上传的证明材料要素不齐全(缺少公章、手写签注、签名或日期中的一项或多项)或者附件模糊不清",
        ),
        (RejectionReason.MATERIALS_MISMATCH, "上传的证明材料与系统界面录入的申请信息不一致"),
        (RejectionReason.AGENT_IDENTITY, "经办人身份核验不通过"),
        (RejectionReason.ENTITY_IDENTITY, "市场主体资格证明材料或者法定代表人身份核验不通过"),
        (RejectionReason.REMARKS, "申请单确认界面中 备注栏未填写,或未按要求填写"),
        (RejectionReason.OTHER, "存在其他不符合受理的情形"),
    ],
)
def test_rejection_reasons(reason: RejectionReason, passage: str) -> None:
    assert_cited(SOURCE, passage)
    assert reason in set(RejectionReason)


@pytest.mark.parametrize("state", list(AppState)[:8])
def test_application_states(state: AppState) -> None:
    assert_cited(SOURCE, f"{label(state)}\t表示")


# validation --------------------------------------------------------------------------------------


def app_with(
    n: int,
    *,
    operators: int = 1,
    pickup: Pickup = Pickup.COUNTER,
    remarks: str = "",
    centre: str = "changchun_centre",
) -> Application:
    app = make_enrol(n, CC, operators=operators, pickup=pickup, making_centre=centre)
    return attrs.evolve(app, remarks=remarks)


def fields(rb: Rulebook, app: Application) -> list[str]:
    problems = rb.validate(CC, app)
    assert all(p.zh and p.en and p.source == SOURCE for p in problems)
    return [p.field for p in problems]


REMARKS_CASES = [
    # (operators, pickup, remarks, centre, expected problem fields, passage)
    (1, Pickup.MAIL, "", "changchun_centre", ["remarks"], "注意备注项必须填写"),
    (
        1,
        Pickup.MAIL,
        "吉林省长春市朝阳区示例路1号 {name} 13900000011",
        "changchun_centre",
        [],
        "选择邮寄企业请填写：企业收件地址+联系人+联系电话",
    ),
    (
        1,
        Pickup.MAIL,
        "{name} 13900000011",
        "changchun_centre",
        ["remarks"],
        "企业收件地址+联系人+联系电话，此为快递及联系重要信息，必填",
    ),
    (
        1,
        Pickup.MAIL,
        "吉林省长春市朝阳区示例路1号 {name}",
        "changchun_centre",
        ["remarks"],
        "企业收件地址+联系人+联系电话",
    ),
    (
        1,
        Pickup.COUNTER,
        "自取 {name} 0431-84601888",
        "changchun_centre",
        [],
        "自取+联系人+电话，如果只要一张法人卡不要操作员卡",
    ),
    (1, Pickup.COUNTER, "{name} 13900000011", "changchun_centre", ["remarks"], "自取+联系人+电话"),
    (1, Pickup.COUNTER, "自取 13900000011", "changchun_centre", ["remarks"], "自取+联系人+电话"),
    (
        0,
        Pickup.COUNTER,
        "自取 {name} 13900000011",
        "changchun_centre",
        ["remarks"],
        "如果只要一张法人卡不要操作员卡，请在备注中写上（只要一张法人卡）",
    ),
    (
        0,
        Pickup.COUNTER,
        "自取 {name} 13900000011 只要一张法人卡",
        "changchun_centre",
        [],
        "请在备注中写上（只要一张法人卡）",
    ),
    (
        0,
        Pickup.COUNTER,
        "",
        "changchun_ccb",
        [],
        "领卡机构为长春制卡中心企业，申请单确认界面下方备注填写要求",
    ),
    (1, Pickup.MAIL, "", "changchun_ccb", ["pickup.method"], "如果选择建行制卡代理点，必须到现场办理业务"),
    (1, Pickup.COUNTER, "", "", ["making_centre"], "其次选择制卡机构"),
]


@pytest.mark.parametrize(
    ("operators", "pickup", "remarks", "centre", "expected", "passage"),
    REMARKS_CASES,
    ids=[f"case{i}" for i in range(len(REMARKS_CASES))],
)
def test_remarks_and_outlet_rules(
    rulebook: Rulebook,
    operators: int,
    pickup: Pickup,
    remarks: str,
    centre: str,
    expected: list[str],
    passage: str,
) -> None:
    assert_cited(SOURCE, passage)
    app = app_with(8, operators=operators, pickup=pickup, centre=centre)
    app = attrs.evolve(app, remarks=remarks.format(name=app.enterprise.legal_rep.name))
    assert fields(rulebook, app) == expected


def test_mail_remarks_must_name_the_recipient(rulebook: Rulebook) -> None:
    app = app_with(9, pickup=Pickup.MAIL)
    mail_to = MailAddress("赵六", "13900000099", "吉林省长春市南关区示例街9号")
    app = attrs.evolve(app, pickup=PickupChoice(method=Pickup.MAIL, mail_to=mail_to))
    assert fields(rulebook, attrs.evolve(app, remarks="吉林省长春市南关区示例街9号 王五 13900000099")) == [
        "remarks"
    ]
    assert fields(rulebook, attrs.evolve(app, remarks="吉林省长春市南关区示例街9号 赵六 13900000099")) == []


def test_other_businesses_are_not_validated_here(rulebook: Rulebook) -> None:
    app = attrs.evolve(app_with(10), business=B.ADD_CARD)
    assert rulebook.validate(CC, app) == []


# materials filtered for an application -----------------------------------------------------------


def test_agent_documents_only_for_an_outsider(rulebook: Rulebook) -> None:
    app = app_with(11)  # agent = legal rep
    assert "agent_id" not in {m.code for m in rulebook.materials(CC, B.ENROL, app)}
    operator = app.operators[0].holder
    assert "agent_id" not in {
        m.code for m in rulebook.materials(CC, B.ENROL, attrs.evolve(app, agent=operator))
    }
    outsider = attrs.evolve(app, agent=make_person(555))
    assert "agent_id" in {m.code for m in rulebook.materials(CC, B.ENROL, outsider)}
    legal_only = app_with(12, operators=0)
    assert "operator_id" not in {m.code for m in rulebook.materials(CC, B.ENROL, legal_only)}


# core rules driven by this region's card policy --------------------------------------------------


def test_card_policy_drives_core_checks(rulebook: Rulebook) -> None:
    assert_cited(SOURCE, "“暂存”状态的操作员卡信息不能提交，需要将状态变为“已确认”之后方可提交")
    policy = rulebook.card_policy(CC)
    app = app_with(13, remarks="自取 王 13900000011")
    ctx = lifecycle.EnterpriseContext()
    assert lifecycle.check_content(app, ctx, policy) == []
    rep_as_operator = CardRequest(kind=CardKind.OPERATOR, holder=app.enterprise.legal_rep)
    draft_row = attrs.evolve(app.operators[0], confirmed=False)
    eleven = tuple(CardRequest(kind=CardKind.OPERATOR, holder=make_person(600 + i)) for i in range(11))
    for items in (
        (*app.legal_items, rep_as_operator),
        (*app.legal_items, draft_row),
        (*app.legal_items, *eleven),
        (*app.items, app.operators[0]),
    ):
        assert lifecycle.check_content(attrs.evolve(app, items=items), ctx, policy)


# the guide states what the plugin enforces, and the medium's condition ----------------------------------------


def _guide_text(rb: Rulebook, lang: str) -> str:
    from datetime import date

    from core.calendar import WorkCalendar
    from core.guide.build import build_guide
    from core.guide.render import render_text

    return render_text(build_guide(rb, WorkCalendar(), CC, B.ENROL, date(2026, 9, 30)), lang)


def test_the_guide_states_who_provides_the_medium_not_that_everyone_buys_it(rulebook: Rulebook) -> None:
    assert_cited(SOURCE, "表示用户需要向制卡机构提供卡介质（不满足免费配发条件的用户）")
    zh, en = _guide_text(rulebook, "zh"), _guide_text(rulebook, "en")
    assert "不满足免费配发条件的用户须自行提供介质" in zh and "介质需企业自行购买" not in zh
    assert "Enterprises that do not qualify for a free medium must provide the medium themselves" in en
    assert "must buy the medium" not in en


@pytest.mark.parametrize(("passage", "zh", "en"), [
    ("选择邮寄企业请填写：企业收件地址+联系人+联系电话", "企业收件地址+联系人+联系电话",
     "the enterprise's delivery address + contact person + phone"),
    ("选择自取企业，请填写：**自取+联系人+电话", "自取+联系人+电话", "自取 (self-pickup) + contact person + phone"),
    ("如果只要一张法人卡不要操作员卡，请在备注中写上（只要一张法人卡）", "请在备注中写上（只要一张法人卡）",
     "write 只要一张法人卡 (legal card only) in the remarks"),
    ("备注必须按要求填写，否则会退单处理。", "备注未填写或未按要求填写的，申请单会被退单", "is rejected (退单)"),
    ("如果选择建行制卡代理点，必须到现场办理业务。", "必须到现场办理业务、现场领卡，不能邮寄",
     "the cards are collected there, not mailed"),
])
def test_the_remark_rules_are_in_the_guide_before_anyone_is_rejected(rulebook: Rulebook, passage: str, zh: str,
                                                                      en: str) -> None:
    assert_cited(SOURCE, passage)
    requirements = _guide_text(rulebook, "zh").split("【办理要求（提交时检查）】")[1].split("【")[0]
    assert zh in requirements
    assert en in _guide_text(rulebook, "en").split("== Requirements (checked when you submit) ==")[1]
