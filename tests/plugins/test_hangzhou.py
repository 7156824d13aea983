"""Hangzhou rules, read back through the Rulebook; each row cites the passage it encodes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import attrs
import pytest
from citations import assert_cited

from core.calendar import WorkCalendar
from core.errors import InvalidInput
from core.guide.build import build_guide
from core.guide.render import render_text
from core.model import Application, Business, CardKind, CardRequest, MailAddress, Pickup, PickupChoice
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.rules import ChannelKind, Condition, MaterialForm, OutletKind, StepActor
from core.samples import make_enrol, make_person
from core.testing import check_region
from plugins.hangzhou import MENU, business_for_menu_item, renewal_menu_item

HZ = "hangzhou"
SOURCE = "003_894e1885d52798d3.txt"
B = Business
OPERATOR_PAGE = (B.CHANGE_HOLDER, B.ADD_CARD, B.REISSUE, B.DEREGISTER)
ALL = (B.RESET_PIN, B.CHANGE_HOLDER, B.DEREGISTER, B.RENEW, B.BUY_READER, B.TEMPORARY_CARD,
       B.CHANGE_ENTERPRISE, B.ADD_CARD, B.REISSUE)


@pytest.fixture
def rulebook() -> Rulebook:
    # Only this region: its rules must not depend on another plugin's state.
    return Rulebook(get_plugin_manager(enabled=[HZ]))


def outlet(rb: Rulebook, code: str):
    (found,) = [o for o in rb.outlets(HZ) if o.code == code]
    return found


def material(rb: Rulebook, business: Business, code: str):
    (found,) = [m for m in rb.materials(HZ, business) if m.code == code]
    return found


def web_steps(rb: Rulebook, business: Business) -> str:
    (channel,) = rb.offer(HZ, business).channels
    return "".join(s.zh for s in channel.steps)


def step(rb: Rulebook, business: Business, code: str):
    (found,) = [s for s in rb.steps(HZ, business) if s.code == code]
    return found


Getter = Callable[[Rulebook], Any]
ROWS: list[tuple[str, Getter, Any, str]] = [
    # region and contacts ----------------------------------------------------------------------
    ("centre", lambda rb: rb.region(HZ).centre.zh, "中国电子口岸数据中心杭州分中心",
     "中国电子口岸 数据中心杭州分中心"),
    ("hotline as printed", lambda rb: rb.region(HZ).hotlines, ("571-95198",),
     "如有疑问，请联系数据分中心（571-95198）"),
    # 杭州关区企业: the customs district's places are not listed, so no coverage (not all of 浙江省: 宁波, 舟山)
    ("coverage: none encoded for 杭州关区", lambda rb: (rb.region(HZ).provinces, rb.region(HZ).cities), ((), ()),
     "杭州关区企业"),
    ("coverage: 宁波 is not assigned to Hangzhou", lambda rb: rb.region(HZ).covers("浙江省", "宁波市"),
     False, "杭州关区企业 电子口岸证书介质 变更操作员操作流程"),
    ("coverage: the reading says so", lambda rb: [r.passage for r in rb.region(HZ).readings if "杭州关区" in r.text.zh],
     ["杭州关区企业 电子口岸证书介质 变更操作员操作流程"], "杭州关区企业 电子口岸证书介质 变更操作员操作流程"),
    ("register first", lambda rb: "请先注册关联" in rb.region(HZ).note.zh, True,
     "首次注册平台的企业请先注册关联（请参看“分中心企业准入服务平台用户注册及管理操作手册”）"),
    ("no acceptance-number format shown", lambda rb: rb.region(HZ).acceptance_prefix, "",
     "提示申报成功表示申报完成"),
    # outlets ------------------------------------------------------------------------------------
    ("two outlets", lambda rb: sorted(o.code for o in rb.outlets(HZ)), ["hz_ccb_xiaoshan", "hz_centre"],
     "线下网点办理 * 选择网点"),
    ("CCB outlet", lambda rb: (outlet(rb, "hz_ccb_xiaoshan").name.zh, outlet(rb, "hz_ccb_xiaoshan").address.zh,
                               outlet(rb, "hz_ccb_xiaoshan").phone),
     ("建行萧山支行银行代理点", "杭州萧山经济技术开发区建设一路79号", "0571-82831491"),
     "建行萧山支行银行代理点 杭州萧山经济技术开发区建设一路79号 0571-82831491"),
    ("CCB outlet is a bank agent outlet", lambda rb: outlet(rb, "hz_ccb_xiaoshan").kind, OutletKind.BANK_AGENT,
     "建行萧山支行银行代理点"),
    ("centre outlet", lambda rb: (outlet(rb, "hz_centre").name.zh, outlet(rb, "hz_centre").address.zh,
                                  outlet(rb, "hz_centre").phone),
     ("中国电子口岸数据中心杭州分中心", "解放东路18号市行政服务中心H楼2楼1号窗口", "571-95198"),
     "中国电子口岸数据中心杭州分中心 解放东路18号市行政服务中心H楼2楼1号窗口 571-95198"),
    ("centre outlet kind", lambda rb: outlet(rb, "hz_centre").kind, OutletKind.CENTRE, "1号窗口"),
    ("outlets are in 浙江省 杭州市", lambda rb: {(o.province, o.city) for o in rb.outlets(HZ)},
     {("浙江省", "杭州市")}, "选择网点： 浙江省 杭州市 全部区"),
    ("cards are issued by 杭州制卡中心, not the CCB outlet",
     lambda rb: [o.code for o in rb.making_centres(HZ)], ["hz_centre"], "* 发卡机构: 杭州制卡中心"),
    ("online handling mails from the centre", lambda rb: outlet(rb, "hz_centre").mail_possible, True,
     "线上办理流程完结后，介质设备将以快递到付的形式寄出"),
    ("the CCB outlet is for collection", lambda rb: outlet(rb, "hz_ccb_xiaoshan").mail_possible, False,
     "线下办理提交申请后，等待申请单状态为“已完结”，自行去选择的网点取卡"),
    ("the channel can still be changed", lambda rb: any(o.final_choice for o in rb.outlets(HZ)), False,
     "'变更设备办理渠道' (Change Equipment Handling Channel), and '撤回申报'"),
    ("no appointment stated", lambda rb: [o.appointment for o in rb.outlets(HZ)], [None, None],
     "自行去选择的网点取卡"),
    # businesses: the menu -------------------------------------------------------------------------
    ("the menu's businesses", lambda rb: tuple(o.business for o in rb.offers(HZ)), ALL,
     "请根据实际情况选择需要办理的业务 电子口岸证书密码初始化 变更企业操作员 企业注销退网 证书更新 购买读卡器"),
    ("reset_pin name", lambda rb: rb.offer(HZ, B.RESET_PIN).name.zh, "电子口岸证书密码初始化", "电子口岸证书密码初始化"),
    ("change_holder name", lambda rb: rb.offer(HZ, B.CHANGE_HOLDER).name.zh, "变更企业操作员",
     "勾选“变更企业操作员”点击“下一步”"),
    ("deregister name", lambda rb: rb.offer(HZ, B.DEREGISTER).name.zh, "企业注销退网", "企业注销退网"),
    ("renew covers 证书更新 and 证书过期", lambda rb: rb.offer(HZ, B.RENEW).name.zh, "证书更新 / 证书过期",
     "证书更新 购买读卡器"),
    ("renew: 证书过期", lambda rb: "证书过期" in rb.offer(HZ, B.RENEW).note.zh, True, "遗失或损坏补办 证书过期"),
    ("buy_reader name", lambda rb: rb.offer(HZ, B.BUY_READER).name.zh, "购买读卡器", "购买读卡器"),
    ("temporary card only for enterprise changes", lambda rb: rb.offer(HZ, B.TEMPORARY_CARD).note.zh,
     "临时卡仅用于更改企业信息。", "临时卡申请 (仅用于更改企业信息)"),
    ("change_enterprise name", lambda rb: rb.offer(HZ, B.CHANGE_ENTERPRISE).name.zh, "企业信息变更", "企业信息变更"),
    ("add_card name", lambda rb: rb.offer(HZ, B.ADD_CARD).name.zh, "新增企业操作员（报关员）",
     "新增企业操作员 (报关员)"),
    ("reissue name", lambda rb: rb.offer(HZ, B.REISSUE).name.zh, "遗失或损坏补办", "遗失或损坏补办"),
    ("change_enterprise follows the licence", lambda rb: "按当前有效营业执照填写" in
     rb.offer(HZ, B.CHANGE_ENTERPRISE).note.zh, True, "此页面按当前有效营业执照填写，标*栏为必填"),
    # channels: every business is declared on the platform ------------------------------------------
    ("one web channel each", lambda rb: {tuple(c.kind for c in rb.offer(HZ, b).channels) for b in ALL},
     {(ChannelKind.WEB,)}, "点击“分中心企业准入服务平台”申办业务"),
    ("step: paperless platform", lambda rb: "业务无纸化办理平台" in web_steps(rb, B.RENEW), True,
     "企业打开中国电子口岸杭州分中心业务无纸化办理平台登录"),
    ("step: anyone who ever had a card uses 有卡用户入口",
     lambda rb: "不论遗失还是损坏，均进入“有卡用户入口”" in web_steps(rb, B.REISSUE), True,
     "只要曾经办理过电子口岸证书，不论遗失还是损坏，均进入“有卡用户入口”"),
    ("step: manual entry when lost", lambda rb: "“手动录入”" in web_steps(rb, B.REISSUE), True,
     "如果电子口岸证书遗失或损坏，此页面可选择“手动录入”"),
    ("step: returning users click 新增变更申报", lambda rb: "“新增变更申报”" in web_steps(rb, B.CHANGE_HOLDER), True,
     "直接进入申请记录页面，点击如图“新增变更申报”"),
    ("step: multi-select", lambda rb: "可多选" in web_steps(rb, B.DEREGISTER), True,
     "(如果还有办理其他业务，可多选)"),
    ("step: choose the device channel", lambda rb: "线下网点办理" in web_steps(rb, B.ADD_CARD), True,
     "设备办理渠道 线下网点办理 在线办理"),
    ("step: confirm the declaration", lambda rb: "申报成功" in web_steps(rb, B.TEMPORARY_CARD), True,
     "提示申报成功表示申报完成"),
    ("step: watch the status", lambda rb: "关注申请单状态变化" in web_steps(rb, B.BUY_READER), True,
     "会回到申请记录页面，请关注申请单状态变化"),
    ("channel note: withdraw while pending", lambda rb: "撤回申报" in rb.offer(HZ, B.RESET_PIN).channels[0].note.zh,
     True, "撤回申报"),
    # materials (the operator-card page) -------------------------------------------------------------
    ("operator page serves change, reissue, 注销 and new operators",
     lambda rb: {b for b in ALL if any(m.code == "operator_identity" for m in rb.materials(HZ, b))},
     set(OPERATOR_PAGE), "变更业务请填写变更后的操作员信息，遗失补办或注销请填写需补办或注销的操作员信息"),
    ("add_card uses the operator page", lambda rb: material(rb, B.ADD_CARD, "operator_identity").per_card, True,
     "新增操作员卡"),
    ("business licence: photo of the original", lambda rb: (material(rb, B.CHANGE_HOLDER, "business_licence").form,
                                                             material(rb, B.CHANGE_HOLDER, "business_licence").condition),
     (MaterialForm.SCAN, Condition.ALWAYS), "正本或副本原件拍照上传 《营业执照》原件"),
    ("application form is a template", lambda rb: (material(rb, B.REISSUE, "application_form").form,
                                                   material(rb, B.REISSUE, "application_form").template),
     (MaterialForm.FORM, "电子口岸制发卡业务申请书"), "电子口岸制发卡业务申请书: [下载模板]"),
    ("application form matches the page", lambda rb: material(rb, B.REISSUE, "application_form").note.zh,
     "表格填写操作员信息须与页面上填写一致。", "表格填写操作员信息须与页面上填写一致"),
    ("operator identity: one per card, by template", lambda rb: (
        material(rb, B.CHANGE_HOLDER, "operator_identity").per_card,
        material(rb, B.CHANGE_HOLDER, "operator_identity").template,
        material(rb, B.CHANGE_HOLDER, "operator_identity").condition),
     (True, "操作员身份证明材料", Condition.HAS_OPERATOR), "操作员身份证明材料（按示例模板提交）"),
    ("identity documents follow the sample", lambda rb: "请严格按照示例格式上传身份信息" in
     material(rb, B.CHANGE_HOLDER, "operator_identity").note.zh, True, "请严格按照示例格式上传身份信息"),
    ("legal rep identity in the change flow", lambda rb: (
        material(rb, B.CHANGE_HOLDER, "legal_rep_identity").template,
        material(rb, B.CHANGE_HOLDER, "legal_rep_identity").condition),
     ("法人代表身份证明材料", Condition.ALWAYS), "法人代表身份证明材料: [下载模板]"),
    ("legal rep identity when the legal card is concerned",
     lambda rb: material(rb, B.REISSUE, "legal_rep_identity").condition, Condition.HAS_LEGAL_CARD,
     "当法人发生变更时, 填写新法人信息"),
    ("ID validity may be long-term", lambda rb: "长期" in material(rb, B.ADD_CARD, "legal_rep_identity").note.zh,
     True, "身份证有效截止日期: [选择日期] 长期"),
    ("power of attorney to collect at the outlet", lambda rb: (
        material(rb, B.CHANGE_HOLDER, "power_of_attorney").form,
        material(rb, B.CHANGE_HOLDER, "power_of_attorney").condition),
     (MaterialForm.ORIGINAL, Condition.COUNTER_PICKUP), "请携带：《企业授权委托书》至网点领取介质设备"),
    ("other businesses: only the power of attorney to collect the medium",
     lambda rb: {b: [(m.code, m.condition) for m in rb.materials(HZ, b)] for b in ALL if b not in OPERATOR_PAGE},
     {b: [("power_of_attorney", Condition.COUNTER_PICKUP)] for b in ALL if b not in OPERATOR_PAGE},
     "请携带：《企业授权委托书》至网点领取介质设备"),
    ("deregistration hands out no medium", lambda rb: "power_of_attorney" in
     {m.code for m in rb.materials(HZ, B.DEREGISTER)}, False, "企业注销退网"),
    # forms ------------------------------------------------------------------------------------------
    ("template forms", lambda rb: [f.code for f in rb.forms(HZ, B.CHANGE_HOLDER)],
     ["电子口岸制发卡业务申请书", "法人代表身份证明材料", "操作员身份证明材料"], "下载模板"),
    ("operator template per operator card", lambda rb: rb.forms(HZ, B.ADD_CARD)[2].per_card_kind, CardKind.OPERATOR,
     "操作员身份证明材料（按示例模板提交）: [下载模板]"),
    # courier ----------------------------------------------------------------------------------------
    ("nothing is posted in", lambda rb: rb.courier(HZ, B.CHANGE_HOLDER).inbound.accepted, False,
     "资质文件需上传扫描件"),
    ("online: cash on delivery", lambda rb: (rb.courier(HZ, B.REISSUE).outbound.mail,
                                             rb.courier(HZ, B.REISSUE).outbound.cod),
     (True, True), "介质设备将以快递到付的形式寄出"),
    ("online: do not refuse", lambda rb: "请勿拒收" in rb.courier(HZ, B.RENEW).outbound.note.zh, True,
     "介质设备将以快递到付的形式寄出，请勿拒收"),
    ("online: fill in the recipient first", lambda rb: "收件人、收件地址、联系方式" in
     rb.courier(HZ, B.ADD_CARD).outbound.note.zh, True, "如果选择在线办理，请提前填写好收件信息"),
    ("offline: collect when 已完结 with the power of attorney",
     lambda rb: all(s in rb.courier(HZ, B.CHANGE_HOLDER).outbound.counter_pickup.zh
                    for s in ("已完结", "《企业授权委托书》")), True,
     "请携带：《企业授权委托书》至网点领取介质设备"),
    ("no dispatch delay stated", lambda rb: rb.courier(HZ, B.CHANGE_HOLDER).outbound.dispatch_after_days, None,
     "线上办理流程完结后，介质设备将以快递到付的形式寄出"),
    # steps ------------------------------------------------------------------------------------------
    ("change flow steps", lambda rb: [s.code for s in rb.steps(HZ, B.CHANGE_HOLDER)],
     ["channel_choice", "declaration", "medium_purchase", "medium_return"],
     "1 设备办理渠道选择 线下网点办理 审核意见：- 2 企业申报信息填报 操作员卡申请 审核意见：- 3 介质购买"),
    ("medium purchase: payment on the platform", lambda rb: (step(rb, B.CHANGE_HOLDER, "medium_purchase").after,
                                                             step(rb, B.CHANGE_HOLDER, "medium_purchase").actor),
     ("needs_medium", StepActor.ENTERPRISE), "3 介质购买 设备收款"),
    ("medium return after completion", lambda rb: (step(rb, B.CHANGE_HOLDER, "medium_return").name.zh,
                                                   step(rb, B.CHANGE_HOLDER, "medium_return").after),
     ("介质寄回", "completed"), "4 介质寄回"),
    ("deregister: customs first", lambda rb: (step(rb, B.DEREGISTER, "customs_deregistration").after,
                                              "税费协议解约" in step(rb, B.DEREGISTER, "customs_deregistration")
                                              .description.zh),
     ("draft", True), "若申请企业注销退网，请完成海关关注销或相关业务(如税费协议解约)的解绑操作"),
    # medium -----------------------------------------------------------------------------------------
    ("media must be bought", lambda rb: rb.medium(HZ, B.CHANGE_HOLDER).free, False, "3 介质购买"),
    ("media types", lambda rb: all(m in rb.medium(HZ, B.CHANGE_HOLDER).note.zh for m in ("U盾", "共享盾", "IC卡")),
     True, "U盾 共享盾 IC卡"),
    # uploads ----------------------------------------------------------------------------------------
    ("upload types", lambda rb: set(rb.upload(HZ, B.CHANGE_HOLDER).media_types),
     {"image/jpeg", "image/png", "application/pdf"}, "支持 jpg, jpeg, png, pdf 格式"),
    ("upload size", lambda rb: rb.upload(HZ, B.DEREGISTER).max_bytes, 2 * 1024 * 1024, "单个文件大小不能超过2M"),
]


@pytest.mark.parametrize(("rule", "getter", "expected", "passage"), ROWS, ids=[r[0] for r in ROWS])
def test_rule(rulebook: Rulebook, rule: str, getter: Getter, expected: Any, passage: str) -> None:
    assert_cited(SOURCE, passage)
    assert getter(rulebook) == expected, rule


def test_every_rule_object_cites_the_source(rulebook: Rulebook) -> None:
    cited = [rulebook.region(HZ), *rulebook.outlets(HZ), rulebook.upload(HZ, B.RENEW)]
    for b in ALL:
        offer = rulebook.offer(HZ, b)
        cited += [offer, *offer.channels, *rulebook.materials(HZ, b), *rulebook.steps(HZ, b),
                  *rulebook.forms(HZ, b), rulebook.courier(HZ, b)]
    assert {getattr(x, "source", None) for x in cited} == {SOURCE}


@pytest.mark.parametrize("business", ALL)
def test_guide_silence_leaves_core_defaults(rulebook: Rulebook, business: Business) -> None:
    # The guide states no timeframe and no card policy: core defaults, marked unstated.
    assert rulebook.timeframe(HZ, business).source is None
    assert rulebook.timeframe(HZ, business).deadlines == ()
    assert rulebook.card_policy(HZ).source is None


@pytest.mark.parametrize("business", ALL)
def test_every_business_is_complete(rulebook: Rulebook, business: Business) -> None:
    offer = rulebook.offer(HZ, business)
    assert offer.channels and not offer.self_service_only
    assert rulebook.courier(HZ, business).source == SOURCE
    assert rulebook.timeframe(HZ, business) is not None
    assert rulebook.outlets(HZ)
    assert rulebook.materials(HZ, business)


def test_conformance_kit() -> None:
    check_region(get_plugin_manager(enabled=[HZ]), HZ)






# --- the menu -------------------------------------------------------------------------------------

def test_menu_maps_every_item(rulebook: Rulebook) -> None:
    passage = ("电子口岸证书密码初始化 变更企业操作员 企业注销退网 证书更新 购买读卡器 临时卡申请 (仅用于更改企业信息) "
               "企业信息变更 新增企业操作员 (报关员) 遗失或损坏补办 证书过期")
    assert_cited(SOURCE, passage)
    assert len(MENU) == 10
    assert {b for _, b in MENU} == {o.business for o in rulebook.offers(HZ)}
    assert business_for_menu_item("临时卡申请 (仅用于更改企业信息)") is B.TEMPORARY_CARD
    assert business_for_menu_item("新增企业操作员 (报关员)") is B.ADD_CARD
    assert business_for_menu_item("证书过期") is B.RENEW is business_for_menu_item("证书更新")
    assert (renewal_menu_item(expired=True), renewal_menu_item(expired=False)) == ("证书过期", "证书更新")


def test_unknown_menu_item_is_a_bilingual_error() -> None:
    with pytest.raises(InvalidInput) as err:
        business_for_menu_item("法人卡解锁")
    assert err.value.field == "business" and err.value.zh and err.value.en


def test_materials_follow_the_channel_choice(rulebook: Rulebook) -> None:
    counter = changed(counter_outlet="hz_ccb_xiaoshan")
    mailed = attrs.evolve(counter, pickup=PickupChoice(method=Pickup.MAIL, mail_to=MailAddress("王伟", "13900000000",
                                                                                                  "杭州市上城区示例路1号")))
    assert "power_of_attorney" in {m.code for m in rulebook.materials(HZ, B.CHANGE_HOLDER, counter)}
    assert "power_of_attorney" not in {m.code for m in rulebook.materials(HZ, B.CHANGE_HOLDER, mailed)}
    legal_only = attrs.evolve(counter, business=B.REISSUE, items=counter.legal_items)
    codes = {m.code for m in rulebook.materials(HZ, B.REISSUE, legal_only)}
    assert "legal_rep_identity" in codes and "operator_identity" not in codes


# --- validation -------------------------------------------------------------------------------------

LEGAL_NO = "1234567890123"
OPERATOR_NO = "2234567890123"


def changed(counter_outlet: str = "hz_centre") -> Application:
    """A valid 变更企业操作员 declaration: both current device numbers, collected at an outlet."""
    base = make_enrol(7, region=HZ, operators=1)
    legal, operator = base.items
    return attrs.evolve(
        base, business=B.CHANGE_HOLDER,
        items=(attrs.evolve(legal, device_no=LEGAL_NO), attrs.evolve(operator, device_no=OPERATOR_NO)),
        pickup=PickupChoice(method=Pickup.COUNTER, outlet=counter_outlet))


def with_device(app: Application, index: int, device_no: str) -> Application:
    items = list(app.items)
    items[index] = attrs.evolve(items[index], device_no=device_no)
    return attrs.evolve(app, items=tuple(items))


Mutation = Callable[[Application], Application]
VALIDATION: list[tuple[str, Mutation, set[str], str]] = [
    ("valid change declaration", lambda a: a, set(), "填写中国电子口岸证书背面条码对应的数字"),
    ("device number is required", lambda a: with_device(a, 1, ""), {"items[1].device_no"}, "* 设备编号:"),
    ("device number is 13 digits", lambda a: with_device(a, 0, "12345"), {"items[0].device_no"},
     "填写中国电子口岸证书背面条码对应的数字"),
    ("device number is digits only", lambda a: with_device(a, 0, "12345678901AB"), {"items[0].device_no"},
     "填写中国电子口岸证书背面条码对应的数字"),
    ("a new operator has no device yet",
     lambda a: attrs.evolve(with_device(a, 1, ""), business=B.ADD_CARD), set(), "新增企业操作员 (报关员)"),
    ("89 stand-in needs the remarks", lambda a: with_device(a, 1, "8900000002345"), {"remarks"},
     "并在后面申请单的备注栏中注明忘记设备编号"),
    ("89 stand-in with the remarks",
     lambda a: attrs.evolve(with_device(a, 1, "8900000002345"), remarks="操作员忘记设备编号"), set(),
     "如果遗失忘记,可输入以89开头的13位随机数字"),
    ("89 stand-in of a lost card, remarks say so",
     lambda a: attrs.evolve(with_device(a, 0, "8900000002345"), remarks="法人卡遗失，设备编号忘记"), set(),
     "如果遗失忘记, 可输入以89开头的13位随机数字"),
    ("89 stand-in must be 13 digits", lambda a: attrs.evolve(with_device(a, 1, "89123"), remarks="忘记设备编号"),
     {"items[1].device_no"}, "可输入以89开头的13位随机数字"),
    ("operator stand-in may not repeat the legal card's",
     lambda a: attrs.evolve(with_device(with_device(a, 0, "8900000002345"), 1, "8900000002345"),
                            remarks="忘记设备编号"),
     {"items[1].device_no"}, "(不能与法人设备编号相同)"),
    ("ID start date is required",
     lambda a: attrs.evolve(a, items=(a.items[0], attrs.evolve(a.items[1], holder=attrs.evolve(
         a.items[1].holder, id_valid_from=None)))),
     {"items[1].holder.id_valid_from"}, "* 身份证有效起始日期"),
    ("long-term ID is accepted",
     lambda a: attrs.evolve(a, items=(a.items[0], attrs.evolve(a.items[1], holder=attrs.evolve(
         a.items[1].holder, id_valid_to=None)))),
     set(), "* 身份证有效截止日期: [输入框] 长期"),
    ("offline: an outlet must be chosen", lambda a: attrs.evolve(a, pickup=PickupChoice(method=Pickup.COUNTER)),
     {"pickup.outlet"}, "* 选择网点："),
    ("offline: only the listed outlets",
     lambda a: attrs.evolve(a, pickup=PickupChoice(method=Pickup.COUNTER, outlet="sz_window")),
     {"pickup.outlet"}, "* 选择网点："),
    ("online: recipient information first", lambda a: attrs.evolve(a, pickup=PickupChoice(method=Pickup.MAIL)),
     {"pickup.mail_to"}, "如果选择在线办理，请提前填写好收件信息"),
    ("online: a blank phone is not enough",
     lambda a: attrs.evolve(a, pickup=PickupChoice(method=Pickup.MAIL, mail_to=MailAddress("王伟", " ", "杭州市"))),
     {"pickup.mail_to"}, "'收件人' (Recipient), '收件地址' (Address), and '联系方式' (Contact Information)"),
    ("online: complete recipient",
     lambda a: attrs.evolve(a, pickup=PickupChoice(method=Pickup.MAIL, mail_to=MailAddress(
         "王伟", "13900000000", "杭州市上城区示例路1号"))), set(), "请提前填写好收件信息"),
    ("multi-select from the menu", lambda a: attrs.evolve(a, also=(B.CHANGE_ENTERPRISE, B.RENEW)), set(),
     "(如果还有办理其他业务，可多选)"),
    ("multi-select: only menu items", lambda a: attrs.evolve(a, also=(B.RENEW, B.UNLOCK)), {"also[1]"},
     "请根据实际情况选择需要办理的业务"),
    ("multi-select: no item twice", lambda a: attrs.evolve(a, also=(B.CHANGE_HOLDER,)), {"also[0]"},
     "请根据实际情况选择需要办理的业务"),
]


@pytest.mark.parametrize(("rule", "mutate", "fields", "passage"), VALIDATION, ids=[r[0] for r in VALIDATION])
def test_validation(rulebook: Rulebook, rule: str, mutate: Mutation, fields: set[str], passage: str) -> None:
    assert_cited(SOURCE, passage)
    problems = rulebook.validate(HZ, mutate(changed()))
    assert {p.field for p in problems} == fields, rule
    for p in problems:
        assert p.zh and p.en and p.source == SOURCE


def test_validation_answers_only_for_hangzhou() -> None:
    rb = Rulebook(get_plugin_manager(enabled=[HZ, "xian"]))
    app = attrs.evolve(changed(), region="xian", items=(CardRequest(kind=CardKind.LEGAL, holder=make_person(3),
                                                                    device_no="bad"),))
    assert not [p for p in rb.validate("xian", app) if p.source == SOURCE]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("business", ALL)
def test_guide_output_in_both_languages(rulebook: Rulebook, business: Business, lang: str) -> None:
    guide = build_guide(rulebook, WorkCalendar(), HZ, business, date(2026, 3, 2))
    text = render_text(guide, lang)
    offer = rulebook.offer(HZ, business)
    assert rulebook.region(HZ).centre.get(lang) in text
    assert offer.name.get(lang) in text
    assert all(c.name.get(lang) in text for c in offer.channels)
    assert all(m.name.get(lang) in text for m in rulebook.materials(HZ, business))
    assert rulebook.region(HZ).source_title(SOURCE).get(lang) in text and SOURCE not in text  # by its title
