"""Xi'an rules, read back through the Rulebook; each row cites the passage it encodes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import attrs
import pytest
from citations import assert_cited

from core.calendar import WorkCalendar
from core.guide.build import build_guide
from core.guide.render import render_text
from core.model import Application, Business, CardKind, CardRequest, Pickup, PickupChoice
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.rules import ChannelKind, Condition, MaterialForm, Milestone, StepActor
from core.samples import make_enrol, make_person
from core.testing import check_region
from plugins.xian import email_subject

XA = "xian"
SOURCE = "004_7ce9fda768e2b8de.txt"
B = Business
ALL = (B.ENROL, B.UNLOCK, B.RESET_PIN, B.REISSUE, B.ADD_CARD, B.RENEW, B.CANCEL_CARD, B.DEREGISTER)
CENTRE_ADDRESS = "西安市雁塔区朱雀大街397号老海关楼6楼（天街小厨旁求索文化楼）"


@pytest.fixture
def rulebook() -> Rulebook:
    # Only this region: its rules must not depend on another plugin's state.
    return Rulebook(get_plugin_manager(enabled=[XA]))


def channel(rb: Rulebook, business: Business, kind: ChannelKind, index: int = 0):
    return [c for c in rb.offer(XA, business).channels if c.kind is kind][index]


def steps(rb: Rulebook, business: Business, kind: ChannelKind, index: int = 0) -> str:
    return "".join(s.zh for s in channel(rb, business, kind, index).steps)


def email(rb: Rulebook, business: Business, kind: ChannelKind = ChannelKind.EMAIL, index: int = 0):
    rule = channel(rb, business, kind, index).email
    assert rule is not None
    return rule


def texts(values) -> list[str]:
    return [t.zh for t in values]


def material(rb: Rulebook, business: Business, code: str):
    (found,) = [m for m in rb.materials(XA, business) if m.code == code]
    return found


def deadlines(rb: Rulebook, business: Business) -> list[tuple[str, int | None, int, Milestone]]:
    return [(d.code, d.min_days, d.days, d.counted_from) for d in rb.timeframe(XA, business).deadlines]


Getter = Callable[[Rulebook], Any]
ROWS: list[tuple[str, Getter, Any, str]] = [
    # region and contacts ----------------------------------------------------------------------
    ("hotlines", lambda rb: rb.region(XA).hotlines, ("95198", "029-83196210"),
     "中国电子口岸客服热线：95198 或 029-83196210"),
    ("e-mail", lambda rb: rb.region(XA).emails, ("kefu@xaeport.com",), "发送申请邮件至：kefu@xaeport.com"),
    ("address", lambda rb: rb.region(XA).address.zh, CENTRE_ADDRESS, "邮寄至：" + CENTRE_ADDRESS),
    ("coverage: 陕西", lambda rb: rb.region(XA).covers("陕西省", "西安市"), True, "陕西省工商局审核"),
    ("no acceptance-number format shown", lambda rb: rb.region(XA).acceptance_prefix, "",
     "我们将卡邮寄后会将快递单号通过邮件回复给企业"),
    # the service desk ------------------------------------------------------------------------------
    ("service desk", lambda rb: [(o.name.zh, o.address.zh, o.phone) for o in rb.outlets(XA)],
     [("服务台（老海关楼6楼）", CENTRE_ADDRESS, "83196210")], "收货人：服务台；收货人电话：83196210"),
    ("cards are mailed back", lambda rb: rb.outlets(XA)[0].mail_possible, True,
     "我们将卡邮寄后会将快递单号通过邮件回复给企业"),
    ("no hours or appointment stated", lambda rb: (rb.outlets(XA)[0].hours, rb.outlets(XA)[0].appointment),
     (None, None), "收货人：服务台"),
    # card policy ---------------------------------------------------------------------------------------
    ("five wrong PINs in a day: advice in the seed's words, no retry limit stated",
     lambda rb: ("友情提示：请尽量不要当天输入5次错误密码，否则将被锁定" in rb.card_policy(XA).note.zh,
                 "pin_retry_limit" in rb.card_policy(XA).stated),
     (True, False), "友情提示：请尽量不要当天输入5次错误密码，否则将被锁定。"),
    ("initial PIN", lambda rb: rb.card_policy(XA).initial_pin, "88888888", "IC卡的初始口令为8个8"),
    ("PIN may not stay eight 8s", lambda rb: "不得将密码设置为8个8" in rb.card_policy(XA).note.zh, True,
     "使用中不得将密码设置为8个8"),
    ("certificate update resets the PIN", lambda rb: "更新IC卡数字证书" in rb.card_policy(XA).note.zh, True,
     "更新IC卡数字证书后，密码也会被重置为8个8"),
    ("legal rep is not an operator", lambda rb: rb.card_policy(XA).legal_rep_may_hold_operator, False,
     "（法人和操作员不能是同一个人）"),
    ("retry limit, validity and window are not stated",
     lambda rb: "未说明连续输错几次锁卡、证书有效期与延期时间窗口" in rb.card_policy(XA).note.zh,
     True, "法人卡自主延期（未过期）"),
    # businesses --------------------------------------------------------------------------------------
    ("businesses", lambda rb: tuple(o.business for o in rb.offers(XA)), ALL, "电子口岸入网指南"),
    ("unlock covers both cards", lambda rb: rb.offer(XA, B.UNLOCK).name.zh, "法人卡解锁 / 操作员卡解锁",
     "2、法人卡被锁住该如何解锁？"),
    ("reset_pin", lambda rb: rb.offer(XA, B.RESET_PIN).name.zh, "法人卡密码重置", "3、法人卡密码忘记，该如何重置？"),
    ("reissue covers three cards", lambda rb: rb.offer(XA, B.REISSUE).name.zh,
     "补办法人卡 / 补办操作员卡 / 补办报关员卡", "1、如何补办法人卡？"),
    ("add_card", lambda rb: rb.offer(XA, B.ADD_CARD).name.zh, "新增操作员卡", "4、如何新增操作员卡？"),
    ("renew", lambda rb: rb.offer(XA, B.RENEW).name.zh, "法人卡延期", "2、法人卡自主延期（未过期）"),
    ("cancel_card", lambda rb: rb.offer(XA, B.CANCEL_CARD).name.zh, "电子口岸卡注销", "1、电子口岸卡注销"),
    ("deregister", lambda rb: rb.offer(XA, B.DEREGISTER).name.zh, "电子口岸企业注销", "2、电子口岸企业注销"),
    ("deregistration stops the cards", lambda rb: rb.offer(XA, B.DEREGISTER).note.zh,
     "提交注销申请后企业将无法使用电子口岸卡及办理相关业务。", "提交注销申请后企业将无法使用电子口岸卡及办理相关业务"),
    # enrolment ----------------------------------------------------------------------------------------
    ("enrol on the Single Window", lambda rb: "管理员用户名和密码登陆" in steps(rb, B.ENROL, ChannelKind.WEB), True,
     "登陆中国（陕西）“单一窗口”网站，（管理员用户名和密码登陆）"),
    ("enrol: enterprise and operator pre-entry", lambda rb: all(
        s in steps(rb, B.ENROL, ChannelKind.WEB) for s in ("“三证合一信息管理”", "“操作员信息预录入”")), True,
     "进入“企业备案”--“三证合一信息管理”界面，点击“新增”录入企业信息，暂存后提交申请；再进入“企业操作员预录入”--“操作员信息预录入”界面"),
    ("enrol: AIC review after E-Port approval", lambda rb: [(s.code, s.after, s.actor) for s in rb.steps(XA, B.ENROL)],
     [("aic_review", "accepted", StepActor.EXTERNAL), ("mail_request", "accepted", StepActor.ENTERPRISE)],
     "办理流程: 企业录入信息 → 电子口岸审核 → 陕西省工商局审核 → 申请电子口岸卡邮寄"),
    ("enrol: originals for the AIC", lambda rb: [(m.code, m.form) for m in rb.materials(XA, B.ENROL)],
     [("business_licence_duplicate", MaterialForm.ORIGINAL), ("agent_id", MaterialForm.ORIGINAL)],
     "请携带营业执照副本原件和经办人身份证原件前往陕西省工商局审核"),
    ("enrol: review 1-2 working days, making 1-2 after the mail request", lambda rb: deadlines(rb, B.ENROL),
     [("review", 1, 2, Milestone.SUBMITTED), ("making", 1, 2, Milestone.STEP)],
     "电子口岸审核时限为1-2个工作日）4、 工商审核通过后，即可申请电子口岸卡邮寄；（详见邮寄方式，电子口岸制卡时限为1-2个工作日）"),
    ("enrol: cards by mail", lambda rb: (rb.courier(XA, B.ENROL).inbound.accepted, rb.courier(XA, B.ENROL).outbound.mail),
     (False, True), "工商审核通过后，即可申请电子口岸卡邮寄"),
    # unlock / PIN reset by e-mail ---------------------------------------------------------------------
    ("unlock: e-mail to kefu", lambda rb: (email(rb, B.UNLOCK).to, email(rb, B.UNLOCK).subject.zh),
     ("kefu@xaeport.com", "XX企业办理电子口岸的XX业务"),
     "发送申请邮件至：kefu@xaeport.com。邮件主题为XX企业办理电子口岸的XX业务"),
    ("unlock: e-mail body", lambda rb: texts(email(rb, B.UNLOCK).body),
     ["在办业务名称", "公司收卡地址", "联系人姓名电话", "寄卡快递单号", "办理业务的电子口岸卡号"],
     "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话、寄卡快递单号、办理业务的电子口岸卡号"),
    ("unlock: attachment", lambda rb: texts(email(rb, B.UNLOCK).attachments), ["营业执照原件扫描件"],
     "附件为营业执照原件扫描件"),
    ("unlock: tracking number by e-mail", lambda rb: email(rb, B.UNLOCK).reply.zh, "卡邮寄后将快递单号通过邮件回复给企业",
     "我们将卡邮寄后会将快递单号通过邮件回复给企业"),
    ("unlock: mail the locked legal card", lambda rb: (
        rb.courier(XA, B.UNLOCK).inbound.accepted, rb.courier(XA, B.UNLOCK).inbound.to.address.zh,
        rb.courier(XA, B.UNLOCK).inbound.to.recipient.zh, rb.courier(XA, B.UNLOCK).inbound.to.phone),
     (True, CENTRE_ADDRESS, "服务台", "83196210"),
     "将已锁定法人卡邮寄至：西安市雁塔区朱雀大街397号老海关楼6楼（天街小厨旁求索文化楼）；收货人：服务台；收货人电话：83196210"),
    ("unlock: materials", lambda rb: [(m.code, m.form, m.condition) for m in rb.materials(XA, B.UNLOCK)],
     [("business_licence_scan", MaterialForm.SCAN, Condition.HAS_LEGAL_CARD),
      ("locked_legal_card", MaterialForm.CARD, Condition.HAS_LEGAL_CARD)], "附件为营业执照原件扫描件。 2、将已锁定法人卡邮寄至"),
    ("unlock: 1-2 working days", lambda rb: deadlines(rb, B.UNLOCK), [("handling", 1, 2, Milestone.RECEIVED)],
     "3、电子口岸办理时限为1-2个工作日"),
    ("unlock: carrier and payer not stated", lambda rb: (rb.courier(XA, B.UNLOCK).inbound.carriers,
                                                         rb.courier(XA, B.UNLOCK).inbound.payer),
     ((), None), "将已锁定法人卡邮寄至"),
    ("operator unlock: legal-card self-service", lambda rb: (
        channel(rb, B.UNLOCK, ChannelKind.SELF_SERVICE).requires_legal_card,
        channel(rb, B.UNLOCK, ChannelKind.SELF_SERVICE).url), (True, "https://e.chinaport.gov.cn/"),
     "用法人卡登录中国电子口岸（https://e.chinaport.gov.cn/）"),
    ("operator unlock: menu path", lambda rb: "“企业操作员IC卡管理”" in steps(rb, B.UNLOCK, ChannelKind.SELF_SERVICE),
     True, "进入“身份认证管理系统”——“IC卡管理”——“企业操作员IC卡管理”"),
    ("operator unlock: PIN back to eight 8s", lambda rb: "初始密码8个8" in steps(rb, B.UNLOCK, ChannelKind.SELF_SERVICE),
     True, "解锁后操作员卡密码变更为初始密码8个8"),
    ("reset_pin: same e-mail", lambda rb: texts(email(rb, B.RESET_PIN).body), ["在办业务名称", "公司收卡地址", "联系人姓名电话", "寄卡快递单号", "办理业务的电子口岸卡号"],
     "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话、寄卡快递单号、办理业务的电子口岸卡号"),
    ("reset_pin: mail the card", lambda rb: (rb.courier(XA, B.RESET_PIN).inbound.what.zh,
                                             rb.courier(XA, B.RESET_PIN).inbound.to.recipient.zh),
     ("需要重置的法人卡", "服务台"), "将需要重置的法人卡邮寄至"),
    ("reset_pin: materials", lambda rb: [m.form for m in rb.materials(XA, B.RESET_PIN)],
     [MaterialForm.SCAN, MaterialForm.CARD], "附件为营业执照原件扫描件。 2、将需要重置的法人卡邮寄至"),
    ("reset_pin: 1-2 working days, tracking by e-mail", lambda rb: (deadlines(rb, B.RESET_PIN),
                                                                    rb.courier(XA, B.RESET_PIN).outbound.mail),
     ([("handling", 1, 2, Milestone.RECEIVED)], True),
     "3、电子口岸办理时限为1-2个工作日。我们将卡邮寄后会将快递单号通过邮件回复给企业。"),
    # reissue ---------------------------------------------------------------------------------------------
    ("reissue legal card on the Single Window", lambda rb: steps(rb, B.REISSUE, ChannelKind.WEB, 0),
     "登陆中国（陕西）国际贸易“单一窗口”，进入“其他业务”—“补办法人卡”界面，上传单据后提交申请。",
     "登陆中国（陕西）国际贸易“单一窗口”，进入“其他业务”---“补办法人卡”界面，上传单据后提交申请"),
    ("reissue legal card by e-mail", lambda rb: (email(rb, B.REISSUE, index=0).subject.zh,
                                                 texts(email(rb, B.REISSUE, index=0).body),
                                                 texts(email(rb, B.REISSUE, index=0).attachments)),
     ("XX企业办理电子口岸XX业务", ["公司收卡地址", "联系人姓名电话"], ["营业执照原件扫描件", "购卡订单凭证", "法人身份证扫描件"]),
     "邮件主题为XX企业办理电子口岸XX业务；附上公司收卡地址、联系人姓名电话；附件为营业执照原件扫描件、购卡订单凭证、法人身份证扫描件"),
    ("reissue operator card: upload the ID photos", lambda rb: "“操作员身份证正反面照片”" in
     steps(rb, B.REISSUE, ChannelKind.WEB, 1), True, "之后选择单据类型“操作员身份证正反面照片”"),
    ("reissue operator card: e-mail attachments", lambda rb: texts(email(rb, B.REISSUE, ChannelKind.WEB, 1).attachments),
     ["营业执照原件扫描件", "购卡订单凭证", "操作员身份证扫描件"],
     "邮件附件为营业执照原件扫描件、购卡订单凭证、操作员身份证扫描件"),
    ("reissue operator card: IC card registration", lambda rb: "“IC卡备案”" in steps(rb, B.REISSUE, ChannelKind.WEB, 1),
     True, "提交海关备案和外汇备案下的“IC卡备案”"),
    ("reissue declarant card: bought to the centre", lambda rb: "取货方式选择邮寄至分中心" in
     steps(rb, B.REISSUE, ChannelKind.EMAIL, 1), True, "取货方式选择邮寄至分中心，妥善保留购卡订单凭证"),
    ("reissue declarant card: attachments", lambda rb: texts(email(rb, B.REISSUE, index=1).attachments),
     ["营业执照原件扫描件", "购卡订单凭证", "报关员身份证扫描件"],
     "邮件附件为营业执照原件扫描件、购卡订单凭证、报关员身份证扫描件"),
    ("reissue declarant card: bind the declarant", lambda rb: "报关人员信息绑定" in
     steps(rb, B.REISSUE, ChannelKind.EMAIL, 1), True, "用报关员卡登录（http://web.chinaport.gov.cn/rasuc），进行报关人员信息绑定"),
    ("reissue materials by card kind", lambda rb: [(m.code, m.per_card, m.condition) for m in rb.materials(XA, B.REISSUE)],
     [("business_licence_scan", False, Condition.ALWAYS), ("purchase_order", False, Condition.ALWAYS),
      ("legal_rep_id_scan", False, Condition.HAS_LEGAL_CARD),
      ("operator_id_scan", True, Condition.HAS_OPERATOR_CARD), ("declarant_id_scan", True, Condition.HAS_DECLARANT)],
     "附件为营业执照原件扫描件、购卡订单凭证、法人身份证扫描件"),
    ("reissue: buy at th-mall and keep the order", lambda rb: (
        rb.medium(XA, B.REISSUE).free, rb.medium(XA, B.REISSUE).suppliers[0].url,
        "购卡订单凭证" in rb.medium(XA, B.REISSUE).proof.zh), (False, "http://th-mall.cn/", True),
     "登录（http://th-mall.cn/）在线购卡，购买前请详细阅读购买须知，妥善保留购卡订单凭证"),
    ("reissue: making 1-2 working days", lambda rb: deadlines(rb, B.REISSUE), [("making", 1, 2, Milestone.RECEIVED)],
     "电子口岸制卡（处理时限为1-2个工作日）"),
    ("reissue: cards mailed back", lambda rb: rb.courier(XA, B.REISSUE).outbound.mail, True,
     "我们将卡邮寄后会将快递单号通过邮件回复给企业，收到卡后请企业自行打开IE8浏览器"),
    # add_card ---------------------------------------------------------------------------------------
    ("add_card: declare on the Single Window", lambda rb: "“企业操作员信息申报”" in steps(rb, B.ADD_CARD, ChannelKind.WEB),
     True, "进入“数据录入”-企业操作员信息申报”界面，点击“新增”录入操作员信息，暂存后提交申请"),
    ("add_card: e-mail", lambda rb: (texts(email(rb, B.ADD_CARD, ChannelKind.WEB).body),
                                     texts(email(rb, B.ADD_CARD, ChannelKind.WEB).attachments)),
     (["在办业务名称", "公司收卡地址", "联系人姓名电话"], ["营业执照原件扫描件", "购卡订单凭证", "操作员身份证扫描件"]),
     "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话；附件为营业执照原件扫描件、购卡订单凭证、操作员身份证扫描件"),
    ("add_card: materials", lambda rb: [(m.code, m.per_card) for m in rb.materials(XA, B.ADD_CARD)],
     [("business_licence_scan", False), ("purchase_order", False), ("operator_id_scan", True)],
     "附件为营业执照原件扫描件、购卡订单凭证、操作员身份证扫描件"),
    ("add_card: th-mall", lambda rb: rb.medium(XA, B.ADD_CARD).suppliers[0].url, "http://th-mall.cn/",
     "登录（http://th-mall.cn/）在线购卡"),
    ("add_card: 1-2 working days", lambda rb: deadlines(rb, B.ADD_CARD), [("making", 1, 2, Milestone.RECEIVED)],
     "3、电子口岸制卡（处理时限为1-2个工作日）"),
    ("add_card: initial PIN", lambda rb: "卡初始密码为8个8" in steps(rb, B.ADD_CARD, ChannelKind.WEB), True,
     "5、卡初始密码为8个8。"),
    # renew -------------------------------------------------------------------------------------------
    ("renew unexpired: self-service client", lambda rb: (
        channel(rb, B.RENEW, ChannelKind.SELF_SERVICE).requires_legal_card,
        "自主延期客户端" in steps(rb, B.RENEW, ChannelKind.SELF_SERVICE)), (True, True),
     "对未过期的法人卡进行延期，下载安装 （电子口岸ic卡证书自主延期客户端）"),
    ("renew: PIN back to eight 8s", lambda rb: "初始密码8个8" in steps(rb, B.RENEW, ChannelKind.SELF_SERVICE), True,
     "延期后IC卡密码变更为初始密码8个8"),
    ("renew expired: e-mail", lambda rb: (email(rb, B.RENEW).subject.zh, texts(email(rb, B.RENEW).body),
                                          texts(email(rb, B.RENEW).attachments)),
     ("XX企业办理电子口岸XX业务", ["公司收卡地址", "联络人联系方式", "寄快递单号", "办理业务的电子口岸卡号"],
      ["营业执照的原件扫描件"]),
     "邮件内容：XX企业办理电子口岸XX业务；附上公司收卡地址，联络人联系方式，寄快递单号、办理业务的电子口岸卡号；附件为营业执照的原件扫描件"),
    ("renew: not self-service only", lambda rb: rb.offer(XA, B.RENEW).self_service_only, False,
     "2、已经过期的法人卡，发送邮件kefu@xaeport.com"),
    ("renew: no timeframe stated", lambda rb: rb.timeframe(XA, B.RENEW).source, None, "2、法人卡自主延期（未过期）"),
    # cancel_card / deregister ----------------------------------------------------------------------------
    ("cancel_card: e-mail then Single Window", lambda rb: (
        email(rb, B.CANCEL_CARD).subject.zh, texts(email(rb, B.CANCEL_CARD).attachments),
        "提交注销申请" in steps(rb, B.CANCEL_CARD, ChannelKind.EMAIL)),
     ("xx企业办理电子口岸的xx业务", ["营业执照原件扫描件", "电子口岸卡持卡人身份证正反面"], True),
     "邮件主题为xx企业办理电子口岸的xx业务，邮件内容包括再办业务名称，附件为营业执照原件扫描件、电子口岸卡持卡人身份证正反面"),
    ("cancel_card: holder ID per card", lambda rb: material(rb, B.CANCEL_CARD, "holder_id_both_sides").per_card, True,
     "电子口岸卡持卡人身份证正反面"),
    ("cancel_card: find the operator card", lambda rb: "查询需要注销的操作员卡" in steps(rb, B.CANCEL_CARD, ChannelKind.EMAIL),
     True, "进入“数据录入”-“企业操作员信息申报”中查询需要注销的操作员卡，提交注销申请"),
    ("deregister: e-mail attachments", lambda rb: texts(email(rb, B.DEREGISTER).attachments),
     ["营业执照原件扫描件", "海关注销回执"], "附件为营业执照原件扫描件、海关注销回执"),
    ("deregister: materials", lambda rb: [m.code for m in rb.materials(XA, B.DEREGISTER)],
     ["business_licence_scan", "customs_deregistration_receipt"], "海关注销回执"),
    ("deregister: 1-2 working days", lambda rb: deadlines(rb, B.DEREGISTER), [("handling", 1, 2, Milestone.RECEIVED)],
     "2、电子口岸办理时限为1-2个工作日，提交注销申请后企业将无法使用电子口岸卡及办理相关业务"),
    ("no upload limits stated", lambda rb: rb.upload(XA, B.REISSUE).source, None, "上传单据后提交申请"),
]


@pytest.mark.parametrize(("rule", "getter", "expected", "passage"), ROWS, ids=[r[0] for r in ROWS])
def test_rule(rulebook: Rulebook, rule: str, getter: Getter, expected: Any, passage: str) -> None:
    assert_cited(SOURCE, passage)
    assert getter(rulebook) == expected, rule


def test_every_rule_object_cites_the_source(rulebook: Rulebook) -> None:
    cited = [rulebook.region(XA), rulebook.card_policy(XA), *rulebook.outlets(XA)]
    for b in ALL:
        offer = rulebook.offer(XA, b)
        cited += [offer, *offer.channels, *rulebook.materials(XA, b), *rulebook.steps(XA, b)]
    assert {getattr(x, "source", None) for x in cited} == {SOURCE}


@pytest.mark.parametrize("business", ALL)
def test_every_business_is_complete(rulebook: Rulebook, business: Business) -> None:
    offer = rulebook.offer(XA, business)
    assert offer.channels and rulebook.outlets(XA)
    assert rulebook.materials(XA, business)
    assert rulebook.courier(XA, business) is not None
    assert rulebook.timeframe(XA, business) is not None
    # Where the guide states a timeframe or courier rule it is cited; otherwise the core default shows.
    silent_time = {B.RENEW, B.CANCEL_CARD}
    silent_courier = {B.CANCEL_CARD, B.DEREGISTER}
    assert (rulebook.timeframe(XA, business).source is None) == (business in silent_time)
    assert (rulebook.courier(XA, business).source is None) == (business in silent_courier)


def test_conformance_kit() -> None:
    check_region(get_plugin_manager(enabled=[XA]), XA)


def test_email_channels_all_go_to_kefu(rulebook: Rulebook) -> None:
    rules = [c.email for b in ALL for c in rulebook.offer(XA, b).channels if c.email]
    assert len(rules) == 9
    assert {r.to for r in rules} == {"kefu@xaeport.com"}
    assert all("办理电子口岸" in r.subject.zh for r in rules)






# --- logic: the e-mail subject and validation ---------------------------------------------------------

def legal_unlock() -> Application:
    """A valid e-mail unlock of the legal card, the card to be mailed back."""
    base = make_enrol(5, region=XA, operators=0, pickup=Pickup.MAIL)
    return attrs.evolve(base, business=B.UNLOCK, channel="email")


def with_operator(app: Application, holder=None) -> Application:
    person = holder or make_person(77, "610113")
    return attrs.evolve(app, items=(*app.items, CardRequest(kind=CardKind.OPERATOR, holder=person)))


def test_email_subject() -> None:
    assert_cited(SOURCE, "邮件主题为XX企业办理电子口岸的XX业务")
    app = legal_unlock()
    assert email_subject(app) == f"{app.enterprise.name}办理电子口岸的法人卡解锁业务"
    reissue = attrs.evolve(with_operator(app), business=B.REISSUE, items=with_operator(app).operators)
    assert email_subject(reissue) == f"{app.enterprise.name}办理电子口岸的补办操作员卡业务"


Mutation = Callable[[Application], Application]
NO_MAIL = PickupChoice(method=Pickup.COUNTER)
VALIDATION: list[tuple[str, Mutation, set[str], str]] = [
    ("valid legal-card unlock", lambda a: a, set(), "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话"),
    ("unlock e-mail needs the card address", lambda a: attrs.evolve(a, pickup=NO_MAIL), {"pickup.mail_to"},
     "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话"),
    ("reset_pin e-mail needs the card address", lambda a: attrs.evolve(a, business=B.RESET_PIN, pickup=NO_MAIL),
     {"pickup.mail_to"}, "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话、寄卡快递单号"),
    ("operator cards are unlocked by self-service",
     lambda a: with_operator(a), {"items[1].kind"}, "用法人卡登录中国电子口岸（https://e.chinaport.gov.cn/）"),
    ("legal rep may not be the operator",
     lambda a: with_operator(attrs.evolve(a, business=B.ENROL, channel="web"), holder=a.enterprise.legal_rep),
     {"items[1].holder.id_number"}, "（法人和操作员不能是同一个人）"),
    ("enrolment with a different operator", lambda a: with_operator(attrs.evolve(a, business=B.ENROL, channel="web")),
     set(), "再进入“企业操作员预录入”--“操作员信息预录入”界面，点击“新增”录入操作员信息，暂存即可"),
    ("add_card e-mail needs the card address",
     lambda a: attrs.evolve(with_operator(a), business=B.ADD_CARD, channel="web", pickup=NO_MAIL,
                            items=with_operator(a).operators),
     {"pickup.mail_to"}, "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话；附件为营业执照原件扫描件、购卡订单凭证、操作员身份证扫描件"),
    ("legal reissue on the Single Window alone", lambda a: attrs.evolve(a, business=B.REISSUE, channel="web",
                                                                        pickup=NO_MAIL),
     set(), "进入“其他业务”---“补办法人卡”界面，上传单据后提交申请"),
    ("legal reissue by e-mail needs the address", lambda a: attrs.evolve(a, business=B.REISSUE, pickup=NO_MAIL),
     {"pickup.mail_to"}, "附上公司收卡地址、联系人姓名电话"),
    ("operator reissue needs the address",
     lambda a: attrs.evolve(a, business=B.REISSUE, channel="web", pickup=NO_MAIL, items=with_operator(a).operators),
     {"pickup.mail_to"}, "邮件内容包括在办业务名称、公司收卡地址、联系人姓名电话；邮件附件为营业执照原件扫描件"),
    ("expired renewal by e-mail needs the address", lambda a: attrs.evolve(a, business=B.RENEW, pickup=NO_MAIL),
     {"pickup.mail_to"}, "附上公司收卡地址，联络人联系方式"),
    ("card cancellation returns no card", lambda a: attrs.evolve(a, business=B.CANCEL_CARD, pickup=NO_MAIL), set(),
     "邮件内容包括再办业务名称，附件为营业执照原件扫描件"),
]


@pytest.mark.parametrize(("rule", "mutate", "fields", "passage"), VALIDATION, ids=[r[0] for r in VALIDATION])
def test_validation(rulebook: Rulebook, rule: str, mutate: Mutation, fields: set[str], passage: str) -> None:
    assert_cited(SOURCE, passage)
    problems = rulebook.validate(XA, mutate(legal_unlock()))
    assert {p.field for p in problems} == fields, rule
    for p in problems:
        assert p.zh and p.en and p.source == SOURCE


def test_materials_follow_the_cards(rulebook: Rulebook) -> None:
    app = attrs.evolve(legal_unlock(), business=B.REISSUE)
    legal = {m.code for m in rulebook.materials(XA, B.REISSUE, app)}
    operators = {m.code for m in rulebook.materials(XA, B.REISSUE, attrs.evolve(app, items=with_operator(app).operators))}
    assert "legal_rep_id_scan" in legal and "operator_id_scan" not in legal
    assert "operator_id_scan" in operators and "legal_rep_id_scan" not in operators


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("business", ALL)
def test_guide_output_in_both_languages(rulebook: Rulebook, business: Business, lang: str) -> None:
    guide = build_guide(rulebook, WorkCalendar(), XA, business, date(2026, 3, 2))
    text = render_text(guide, lang)
    offer = rulebook.offer(XA, business)
    assert rulebook.region(XA).centre.get(lang) in text
    assert offer.name.get(lang) in text
    assert all(c.name.get(lang) in text for c in offer.channels)
    assert all(m.name.get(lang) in text for m in rulebook.materials(XA, business))
    assert rulebook.region(XA).source_title(SOURCE).get(lang) in text and SOURCE not in text  # by its title


# card making counts from the event the guide names; cards are mailed, never collected -------------------------


def test_enrolment_card_making_counts_from_the_mail_request_after_the_aic_review(rulebook: Rulebook) -> None:
    """办理流程: 企业录入信息 → 电子口岸审核 → 陕西省工商局审核 → 申请电子口岸卡邮寄; making (1-2 working days)
    follows the mail request, so it cannot share the review's dates nor be dated before the request."""
    from datetime import UTC, datetime

    from core.deadlines import due_dates
    from core.guide.build import deadline
    from core.model import AppState, Transition

    assert_cited(SOURCE, "办理流程: 企业录入信息 → 电子口岸审核 → 陕西省工商局审核 → 申请电子口岸卡邮寄")
    assert_cited(SOURCE, "4、 工商审核通过后，即可申请电子口岸卡邮寄；（详见邮寄方式，电子口岸制卡时限为1-2个工作日）")
    making = rulebook.timeframe(XA, B.ENROL).deadlines[1]
    assert (making.counted_from, making.step) == (Milestone.STEP, "mail_request")
    assert making.step in {s.code for s in rulebook.steps(XA, B.ENROL)}
    start = date(2026, 9, 30)
    (_, review_due), (_, making_due) = deadline(rulebook, WorkCalendar(), XA, B.ENROL, start)
    assert review_due == date(2026, 10, 9) and making_due is None
    guide = build_guide(rulebook, WorkCalendar(), XA, B.ENROL, start)
    assert guide.due[1].due is None and guide.due[1].after_step.zh == "申请电子口岸卡邮寄"
    zh = render_text(guide, "zh")
    assert "电子口岸制卡：“申请电子口岸卡邮寄”后1-2个工作日 → 日期取决于该步骤何时完成" in zh
    # An application: once the mail request is recorded, making is due 1-2 working days after it.
    requested = datetime(2026, 10, 12, 2, tzinfo=UTC)  # a Monday in China
    app = attrs.evolve(make_enrol(3, XA), state=AppState.ACCEPTED, history=(
        Transition("submit", AppState.DRAFT, AppState.SUBMITTED, "ent", datetime(2026, 9, 30, 2, tzinfo=UTC)),
        Transition("accept", AppState.SUBMITTED, AppState.ACCEPTED, "staff", datetime(2026, 10, 8, 2, tzinfo=UTC)),
        Transition("step:mail_request", AppState.ACCEPTED, AppState.ACCEPTED, "ent", requested)))
    dues = {d.code: d for d in due_dates(app, rulebook.timeframe(XA, B.ENROL), WorkCalendar(), date(2026, 10, 12))}
    assert dues["review"].due == date(2026, 10, 9) and not dues["review"].projected
    assert dues["making"].due == date(2026, 10, 14) and not dues["making"].projected


@pytest.mark.parametrize("business", ALL)
def test_no_guide_offers_a_counter_pickup_the_seed_does_not_describe(rulebook: Rulebook, business: Business) -> None:
    """Xi'an describes mailing only (我们将卡邮寄后会将快递单号通过邮件回复给企业)."""
    assert_cited(SOURCE, "我们将卡邮寄后会将快递单号通过邮件回复给企业")
    courier = rulebook.courier(XA, business)
    guide = build_guide(rulebook, WorkCalendar(), XA, business, date(2026, 9, 30))
    zh, en = render_text(guide, "zh"), render_text(guide, "en")
    if courier.source is None:  # the guide is silent: only the labelled core default may name a counter
        assert "courier" in guide.silent
        assert all(line.strip().startswith(("系统默认规则：", "窗口领取：")) for line in zh.splitlines()
                   if "窗口领取" in line)
        assert not any("领取" in t.zh for t in guide.what_you_do)
        return
    assert courier.outbound.counter_pickup is None and courier.outbound.mail
    assert "窗口领取" not in zh and "at the counter" not in en.lower()
    assert "领取：卡片邮寄给企业" in zh and "Collect: the cards are mailed to you" in en
