"""Shenzhen rules, read back through the Rulebook; each row cites the passage it encodes."""

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
from core.model import Business, CardKind, CardRequest, Pickup
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.rules import ChannelKind, Condition, MaterialForm, Milestone, OutletKind
from core.samples import make_enrol, make_person

SZ = "shenzhen"
SOURCE = "000_acc9b246733ddaa2.txt"
B = Business


@pytest.fixture
def rulebook() -> Rulebook:
    # Only this region: its rules must not depend on another plugin's state.
    return Rulebook(get_plugin_manager(enabled=[SZ]))


COUNTER_BUSINESSES = (
    B.CHANGE_ENTERPRISE,
    B.CHANGE_HOLDER,
    B.ADD_CARD,
    B.REISSUE,
    B.RENEW,
    B.UNLOCK,
    B.DEREGISTER,
    B.CANCEL_CARD,
)


def material(rb: Rulebook, business: Business, code: str):
    found = [m for m in rb.materials(SZ, business) if m.code == code]
    assert len(found) == 1, f"{business}: material {code} not found once"
    return found[0]


def channels(rb: Rulebook, business: Business, kind: ChannelKind):
    return [c for c in rb.offer(SZ, business).channels if c.kind is kind]


def outlet(rb: Rulebook):
    (only,) = rb.outlets(SZ)
    return only


def steps_text(rb: Rulebook, business: Business, kind: ChannelKind) -> str:
    return "".join(s.zh for c in channels(rb, business, kind) for s in c.steps)


Getter = Callable[[Rulebook], Any]
ROWS: list[tuple[str, Getter, Any, str]] = [
    # region and contacts --------------------------------------------------------------------
    (
        "centre",
        lambda rb: rb.region(SZ).centre.zh,
        "中国电子口岸数据中心深圳分中心",
        "中国电子口岸数据中心深圳分中心客服热线：0755-95198",
    ),
    ("hotline", lambda rb: rb.region(SZ).hotlines, ("0755-95198",), "客服热线：0755-95198"),
    (
        "wechat consultation",
        lambda rb: "深圳 95198" in rb.region(SZ).note.zh,
        True,
        "关注“深圳 95198”微信公众号进行咨询",
    ),
    # OCR: the text spells the portal szcpport / szcpot; the portal is www.szcport.cn
    (
        "portal (as written)",
        lambda rb: rb.region(SZ).website,
        "www.szcpport.cn",
        "登录深圳海关数据分中心门户网站（www.szcpport.cn），选择网上办理一制卡业务",
    ),
    (
        "coverage",
        lambda rb: rb.home_branch(make_enrol(1, SZ).enterprise.business_address),
        SZ,
        "中国（深圳）国际贸易“单一窗口”",
    ),
    (
        "window address",
        lambda rb: rb.region(SZ).address.zh,
        "深圳市市民中心行政服务大厅 B 区东厅 33-39 号窗口",
        "制卡窗口地址：深圳市市民中心行政服务大厅 B 区东厅 33-39 号窗口",
    ),
    # the outlet ------------------------------------------------------------------------------
    ("outlet kind", lambda rb: outlet(rb).kind, OutletKind.CENTRE, "制卡窗口地址"),
    (
        "outlet address",
        lambda rb: outlet(rb).address.zh,
        "深圳市市民中心行政服务大厅 B 区东厅 33-39 号窗口",
        "深圳市市民中心行政服务大厅 B 区东厅 33-39 号窗口",
    ),
    ("outlet phone", lambda rb: outlet(rb).phone, "0755-95198", "收件电话：0755-95198"),
    ("outlet mails cards", lambda rb: outlet(rb).mail_possible, True, "代邮寄至企业（到付）"),
    (
        "outlet appointment required",
        lambda rb: "预约成功后方可去现场办理" in outlet(rb).appointment.zh,
        True,
        "前往现场办理，需要在“i 深圳”APP 上选择“办事预约”或者微信关注“i 深圳”微信公众号进行预约，"
        "预约成功后方可去现场办理",
    ),
    (
        "appointment via app",
        lambda rb: (
            "“办事预约”-“深圳市”-“深圳市行政服务大厅-东厅”-“在线预约”-“电子口岸”-“我要预约”-“提交预约”"
            in outlet(rb).appointment.zh
        ),
        True,
        "选择”办事预约”-“深圳市”-“深圳市行政服务大厅-东厅”-“在线预约”-“电子口岸”-“我要预约”-“提交预约”",
    ),
    (
        "appointment via wechat",
        lambda rb: "“政务服务”-“大厅办事”-预约大厅-深圳市大厅东厅-“电子口岸”" in outlet(rb).appointment.zh,
        True,
        "点击下方“政务服务”-“大厅办事”-预约大厅-深圳市大厅东厅-“电子口岸”预约办理",
    ),
    ("outlet choice not final", lambda rb: outlet(rb).final_choice, False, "现场领卡或代邮寄至企业"),
    # businesses ------------------------------------------------------------------------------
    (
        "businesses offered",
        lambda rb: {o.business for o in rb.offers(SZ)},
        {B.ENROL, *COUNTER_BUSINESSES},
        "“备案资料变更”、“持卡人信息变更”、“新增/补办卡”、“证书更新/解锁”、“注销企业”、“注销操作员/注销报关员”",
    ),
    ("enrol name", lambda rb: rb.offer(SZ, B.ENROL).name.zh, "新入网", "新入网企业点击“新入网”进入系统"),
    # OCR: "富察资料变更" stands for 备案资料变更
    (
        "change_enterprise name",
        lambda rb: rb.offer(SZ, B.CHANGE_ENTERPRISE).name.zh,
        "备案资料变更",
        "办理项目——“富察资料变更”",
    ),
    (
        "change_holder name",
        lambda rb: rb.offer(SZ, B.CHANGE_HOLDER).name.zh,
        "持卡人信息变更",
        "6、办理持卡信息变更（如企业变更法定代表人、公司名称、海关编码等按此项办理）",
    ),
    (
        "change_holder covers rep/name/code",
        lambda rb: "法定代表人、公司名称、海关编码" in rb.offer(SZ, B.CHANGE_HOLDER).note.zh,
        True,
        "如企业变更法定代表人、公司名称、海关编码等按此项办理",
    ),
    (
        "dual customs codes",
        lambda rb: "“编码&编码”" in rb.offer(SZ, B.CHANGE_HOLDER).note.zh,
        True,
        "变更海关编码双码并存时，录入格式为“编码&编码”保存双编码",
    ),
    ("add_card name", lambda rb: rb.offer(SZ, B.ADD_CARD).name.zh, "新增/补办卡", "“新增/补办卡”"),
    ("reissue name", lambda rb: rb.offer(SZ, B.REISSUE).name.zh, "新增/补办卡", "“新增/补办卡”"),
    ("renew name", lambda rb: rb.offer(SZ, B.RENEW).name.zh, "证书更新/解锁", "“证书更新/解锁”"),
    ("unlock name", lambda rb: rb.offer(SZ, B.UNLOCK).name.zh, "证书更新/解锁", "“证书更新/解锁”"),
    ("deregister name", lambda rb: rb.offer(SZ, B.DEREGISTER).name.zh, "注销企业", "“注销企业”"),
    (
        "cancel_card name",
        lambda rb: rb.offer(SZ, B.CANCEL_CARD).name.zh,
        "注销操作员/注销报关员",
        "“注销操作员/注销报关员”",
    ),
    # channels --------------------------------------------------------------------------------
    *[
        (
            f"{b} three ways",
            (
                lambda rb, b=b: (
                    {c.kind for c in rb.offer(SZ, b).channels}
                    >= {ChannelKind.WEB, ChannelKind.MOBILE_APP, ChannelKind.ON_SITE}
                )
            ),
            True,
            "电子口岸制卡/变更/解锁可通过网上办理、掌上办理、现场办理三种方式办理制卡业务",
        )
        for b in (B.ENROL, *COUNTER_BUSINESSES)
    ],
    (
        "web login",
        lambda rb: "个人及游客用户无法登录" in steps_text(rb, B.ENROL, ChannelKind.WEB),
        True,
        "使用“单一窗口”注册的企业管理员或企业操作员帐号密码登录，个人及游客用户无法登录",
    ),
    (
        "web enrol rows",
        lambda rb: "非法定代表人信息办理操作员/报关员卡" in steps_text(rb, B.ENROL, ChannelKind.WEB),
        True,
        "如需以非法定代表人信息办理操作员/报关员卡，则企业可自行修改",
    ),
    (
        "web mail address default",
        lambda rb: "默认为营业执照地址" in steps_text(rb, B.ENROL, ChannelKind.WEB),
        True,
        "如果选择邮寄领卡，地址默认为营业执照地址，如需要邮寄至其他地址及收件人信息，可自行修改保存",
    ),
    (
        "web edit after rejection",
        lambda rb: "点击“编辑”修改后再次提交" in steps_text(rb, B.ENROL, ChannelKind.WEB),
        True,
        "对审核退单的数据，点击操作栏中的“编辑”按钮进行修改提交操作",
    ),
    (
        "web print receipt",
        lambda rb: "打印回执（A4纸）" in steps_text(rb, B.ENROL, ChannelKind.WEB),
        True,
        "打印回执（使用 A4 纸）后，带上回执及领卡人的身份证原件前往窗口领取",
    ),
    (
        "apps",
        lambda rb: [c.name.zh for c in channels(rb, B.ENROL, ChannelKind.MOBILE_APP)],
        ["掌上办理（“掌上海关”APP）", "掌上办理（“i深圳”APP）"],
        "(一) “掌上海关” APP",
    ),
    (
        "app 掌上海关 path",
        lambda rb: "“各关特色”中的“深圳海关”模块" in steps_text(rb, B.ENROL, ChannelKind.MOBILE_APP),
        True,
        "在首页选择“各关特色”中的“深圳海关”模块",
    ),
    (
        "app i深圳 path",
        lambda rb: (
            "“部门服务”—“中直单位”中的“深圳海关”模块" in steps_text(rb, B.ENROL, ChannelKind.MOBILE_APP)
        ),
        True,
        "在首页选择“部门服务”—“中直单位”中的“深圳海关”模块",
    ),
    (
        "on-site flow",
        lambda rb: [s.zh for s in channels(rb, B.ENROL, ChannelKind.ON_SITE)[0].steps][1:5],
        [
            "按照办理资料清单准备资料。",
            "在行政服务大厅东厅取办理电子口岸业务号。",
            "等待叫号。",
            "根据大屏幕上的显示到指定窗口办理业务。",
        ],
        "1 企业按照办理资料清单准备资料 - 2 在行政服务大厅东厅取办理电子口岸业务号 - 3 等待叫号 "
        "- 4 根据大屏幕上的显示到指定窗口办理业务",
    ),
    (
        "on-site collection",
        lambda rb: "快递领卡的无须再到窗口领取" in steps_text(rb, B.ENROL, ChannelKind.ON_SITE),
        True,
        "凭《深圳电子口岸制卡业务网上办理编码回执》身份证原件到电子口岸窗口领取（快递领卡的无须再到窗口领取）",
    ),
    # self-service with the legal card
    (
        "renew: legal card self-service",
        lambda rb: [c.requires_legal_card for c in channels(rb, B.RENEW, ChannelKind.SELF_SERVICE)],
        [True, True, True],
        "用法人 IC 卡登录中国电子口岸（<https://e.chinaport.gov.cn/>），选择身份认证管理系统",
    ),
    (
        "renew online path",
        lambda rb: "法人 IC 卡延期" in steps_text(rb, B.RENEW, ChannelKind.SELF_SERVICE),
        True,
        "点击左侧菜单“IC 卡管理—企业操作员 IC 卡管理—法人 IC 卡延期”，点击“证书延期”",
    ),
    (
        "renew: not expired or locked",
        lambda rb: (
            "已过期或已被锁的法人 IC 卡不适用" in channels(rb, B.RENEW, ChannelKind.SELF_SERVICE)[0].note.zh
        ),
        True,
        "已过期或已被锁的法人 IC 卡不适用该功能",
    ),
    (
        "renew online is a pilot",
        lambda rb: "试点功能" in channels(rb, B.RENEW, ChannelKind.SELF_SERVICE)[0].note.zh,
        True,
        "由于目前法人 IC 卡线上延期属于试点功能，非必要情况下不建议测试体验",
    ),
    (
        "renew client",
        lambda rb: "法人卡自助延期软件" in steps_text(rb, B.RENEW, ChannelKind.SELF_SERVICE),
        True,
        "下载法人卡自助延期软件安装包及操作手册，安装成功后插法人卡登陆",
    ),
    (
        "renew client window 0-180",
        lambda rb: "0-180天" in channels(rb, B.RENEW, ChannelKind.SELF_SERVICE)[1].note.zh,
        True,
        "IC 卡证书有效并距证书有效期结束时间相差 0-180 天之内",
    ),
    (
        "expired legal card at counter",
        lambda rb: "已过期的法人卡需持卡前往或邮寄至电子口岸现场延期" in rb.offer(SZ, B.RENEW).note.zh,
        True,
        "已过期的法人卡无法使用本程序,需持卡前往或邮寄至电子口岸现场进行延期",
    ),
    (
        "operator card renewal by legal card",
        lambda rb: "冻结、挂失、作废、解锁、证书延期" in steps_text(rb, B.RENEW, ChannelKind.SELF_SERVICE),
        True,
        "此页面可以给操作员 IC 卡做冻结、挂失、作废、解锁、证书延期操作",
    ),
    (
        "operator card unlock by legal card",
        lambda rb: [c.requires_legal_card for c in channels(rb, B.UNLOCK, ChannelKind.SELF_SERVICE)],
        [True],
        "企业用户可使用法人卡对本企业的操作员卡、报关员卡进行解锁、延期等操作",
    ),
    (
        "unlock resets PIN",
        lambda rb: "8个8" in channels(rb, B.UNLOCK, ChannelKind.SELF_SERVICE)[0].note.zh,
        True,
        "解锁/延期成功后密码会恢复为默认的8个8，登录时请以该密码登录",
    ),
    # materials: enrolment at the counter ----------------------------------------------------------
    (
        "licence original on site",
        lambda rb: (
            material(rb, B.ENROL, "business_licence").form,
            material(rb, B.ENROL, "business_licence").channels,
        ),
        (MaterialForm.ORIGINAL, (ChannelKind.ON_SITE,)),
        "1 多证合一《营业执照》原件",
    ),
    (
        "stamped copy instead of original",
        lambda rb: "加盖企业公章的复印件" in material(rb, B.ENROL, "business_licence").note.zh,
        True,
        "无法提供原件，则需要提供加盖企业公章的复印件资料",
    ),
    (
        "copies legible",
        lambda rb: "不得涂改" in material(rb, B.ENROL, "business_licence").note.zh,
        True,
        "如提供复印件必须清晰且与原件内容一致，不得涂改",
    ),
    (
        "holder IDs, one per card",
        lambda rb: (material(rb, B.ENROL, "holder_id").form, material(rb, B.ENROL, "holder_id").per_card),
        (MaterialForm.ORIGINAL, True),
        "2 法人、操作员的有效身份证原件",
    ),
    (
        "power of attorney",
        lambda rb: (
            material(rb, B.ENROL, "power_of_attorney").form,
            material(rb, B.ENROL, "power_of_attorney").condition,
        ),
        (MaterialForm.ORIGINAL, Condition.AGENT_NOT_LEGAL_REP),
        "3 法人授权委托书原件（经办人是企业法人的无需提供）",
    ),
    (
        "agent ID",
        lambda rb: material(rb, B.ENROL, "agent_id").form,
        MaterialForm.ORIGINAL,
        "4 经办人的有效身份证原件",
    ),
    (
        "declarant number",
        lambda rb: (
            material(rb, B.ENROL, "declarant_record_no").form,
            material(rb, B.ENROL, "declarant_record_no").condition,
        ),
        (MaterialForm.NUMBER, Condition.HAS_DECLARANT),
        "5 需办理报关员卡的，提供报关人员备案证明号",
    ),
    (
        "licence photo on mismatch",
        lambda rb: (
            material(rb, B.ENROL, "licence_photo").form,
            material(rb, B.ENROL, "licence_photo").condition,
        ),
        (MaterialForm.SCAN, Condition.DATA_MISMATCH),
        "比对数据一致则自动审核通过；如不一致则需拍（彩色）“营业执照”原件上传提交，提交后进入人工审核",
    ),
    # materials: the other businesses --------------------------------------------------------------
    *[
        (
            f"{b} legal card",
            (lambda rb, b=b: material(rb, b, "legal_card").form),
            MaterialForm.CARD,
            "以上办理项目需企业邮寄/自送法人卡至电子口岸窗口用于授权操作所需业务使用",
        )
        for b in COUNTER_BUSINESSES
    ],
    *[
        (
            f"{b} licence upload",
            (
                lambda rb, b=b: (
                    material(rb, b, "licence_upload").form,
                    material(rb, b, "licence_upload").channels,
                )
            ),
            (MaterialForm.SCAN, (ChannelKind.WEB, ChannelKind.MOBILE_APP)),
            "注：请上传“营业执照原件或复印件加盖公章”",
        )
        for b in COUNTER_BUSINESSES
    ],
    *[
        (
            f"{b} operator cards",
            (
                lambda rb, b=b, c=c: (
                    material(rb, b, "operator_cards").per_card,
                    material(rb, b, "operator_cards").condition,
                )
            ),
            (True, c),
            "如涉及操作员卡信息变更/注销，需一并邮寄/自送至窗口",
        )
        for b, c in (
            (B.CHANGE_HOLDER, Condition.HAS_OPERATOR),
            (B.DEREGISTER, Condition.HAS_OPERATOR),
            (B.CANCEL_CARD, Condition.ALWAYS),
        )
    ],
    *[
        (
            f"{b} holder ID upload",
            (lambda rb, b=b: material(rb, b, "holder_id_upload").per_card),
            True,
            "证件上传附件支持文件类型jpg/jpeg/png/gif/bmp",
        )
        for b in (B.CHANGE_HOLDER, B.ADD_CARD, B.REISSUE)
    ],
    *[
        (
            f"{b} declarant number",
            (lambda rb, b=b: material(rb, b, "declarant_record_no").condition),
            Condition.HAS_DECLARANT,
            "报关人员备案证明号",
        )
        for b in (B.CHANGE_HOLDER, B.ADD_CARD, B.REISSUE)
    ],
    # courier ----------------------------------------------------------------------------------------
    (
        "enrol: cards mailed COD",
        lambda rb: (rb.courier(SZ, B.ENROL).outbound.mail, rb.courier(SZ, B.ENROL).outbound.cod),
        (True, True),
        "企业可选择到深圳市行政服务大厅窗口现场领卡或代邮寄至企业（到付）",
    ),
    (
        "enrol: counter pickup",
        lambda rb: "回执及领卡人的身份证原件" in rb.courier(SZ, B.ENROL).outbound.counter_pickup.zh,
        True,
        "带上回执及领卡人的身份证原件前往窗口领取",
    ),
    (
        "enrol: nothing sent in",
        lambda rb: rb.courier(SZ, B.ENROL).inbound.accepted,
        False,
        "根据“单一窗口”或企管系统数据回填企业基本信息",
    ),
    *[
        (
            f"{b} legal card mailed in, sender pays",
            (lambda rb, b=b: (rb.courier(SZ, b).inbound.accepted, rb.courier(SZ, b).inbound.payer)),
            (True, "enterprise"),
            "企业将法人卡邮寄/自送至窗口（寄付）",
        )
        for b in COUNTER_BUSINESSES
    ],
    *[
        (
            f"{b} mail-in address",
            (lambda rb, b=b: (rb.courier(SZ, b).inbound.to.recipient.zh, rb.courier(SZ, b).inbound.to.phone)),
            ("电子口岸", "0755-95198"),
            "邮寄/自送地址：深圳市福田区福中三路市民中心行政服务大厅东厅电子口岸窗口，收件人：电子口岸，收件电话：0755-95198",
        )
        for b in COUNTER_BUSINESSES
    ],
    (
        "mail-in street",
        lambda rb: rb.courier(SZ, B.RENEW).inbound.to.address.zh,
        "深圳市福田区福中三路市民中心行政服务大厅东厅电子口岸窗口",
        "深圳市福田区福中三路市民中心行政服务大厅东厅电子口岸窗口",
    ),
    (
        "after acceptance",
        lambda rb: "受理确认后" in rb.courier(SZ, B.CHANGE_HOLDER).inbound.note.zh,
        True,
        "电子口岸窗口进行受理确认后，企业将法人卡邮寄/自送至窗口（寄付）",
    ),
    *[
        (
            f"{b} cards back COD or at the window",
            (lambda rb, b=b: (rb.courier(SZ, b).outbound.mail, rb.courier(SZ, b).outbound.cod)),
            (True, True),
            "企业可选择到深圳市行政服务大厅窗口现场领卡或代邮寄至企业（到付），登陆平台可查询业务办理状态",
        )
        for b in COUNTER_BUSINESSES
    ],
    # timeframe ----------------------------------------------------------------------------------------
    (
        "enrol 4 working days from acceptance",
        lambda rb: [(d.days, d.counted_from) for d in rb.timeframe(SZ, B.ENROL).deadlines],
        [(4, Milestone.ACCEPTED)],
        "新入网业务自受理之日起4个工作日办结",
    ),
    # steps ----------------------------------------------------------------------------------------------
    *[
        (
            f"{b} legal card step",
            (lambda rb, b=b: [(s.code, s.after.value) for s in rb.steps(SZ, b)]),
            [("legal_card_received", "accepted")],
            "电子口岸窗口进行受理确认后，企业将法人卡邮寄/自送至窗口（寄付）用于授权操作所需业务使用",
        )
        for b in COUNTER_BUSINESSES
    ],
    ("enrol has no extra step", lambda rb: rb.steps(SZ, B.ENROL), [], "提交后，提交数据自动与后台数据库校验"),
    # medium -----------------------------------------------------------------------------------------------
    (
        "enrol medium free",
        lambda rb: rb.medium(SZ, B.ENROL).free,
        True,
        "新入网企业**，免费提供一张法人卡和一张操作卡",
    ),
    *[
        (
            f"{b} medium bought",
            (lambda rb, b=b: rb.medium(SZ, b).free),
            False,
            "换卡/新增卡企业**，需要自行联系供应商购买电子口岸卡",
        )
        for b in (B.ADD_CARD, B.REISSUE)
    ],
    (
        "supplier 1",
        lambda rb: (
            rb.medium(SZ, B.ADD_CARD).suppliers[0].name.zh,
            "“深圳航天信息微服务”微信公众号" in rb.medium(SZ, B.ADD_CARD).suppliers[0].how.zh,
        ),
        ("航天信息股份有限公司（深圳航天信息有限公司）", True),
        "1、航天信息股份有限公司（深圳航天信息有限公司），进入“深圳航天信息微服务”微信公众号-商城-电子口岸操作购买",
    ),
    (
        "supplier 2",
        lambda rb: (
            rb.medium(SZ, B.ADD_CARD).suppliers[1].name.zh,
            rb.medium(SZ, B.ADD_CARD).suppliers[1].url,
        ),
        ("北京同方信息安全技术股份有限公司（清控高科(北京)科技有限公司）", "https://www.th-mall.cn"),
        "2、北京同方信息安全技术股份有限公司（清控高科(北京)科技有限公司），网店地址：<https://www.th-mall.cn>",
    ),
    (
        "supplier 3",
        lambda rb: (
            rb.medium(SZ, B.ADD_CARD).suppliers[2].name.zh,
            rb.medium(SZ, B.ADD_CARD).suppliers[2].url,
        ),
        (
            "广东南方信息安全产业基地有限公司",
            "https://market.east-port.cn/eportmarketqiye/loginRegister/login.sas",
        ),
        "3、广东南方信息安全产业基地有限公司，网店地址：<https://market.east-port.cn/eportmarketqiye/loginRegister/login.sas>",
    ),
    (
        "proof of purchase: the card itself",
        lambda rb: "携带或邮寄至制卡窗口" in rb.medium(SZ, B.REISSUE).proof.zh,
        True,
        "需在收到电子口岸卡后将其携带或邮寄至制卡窗口办理制卡业务",
    ),
    # upload -----------------------------------------------------------------------------------------------
    *[
        (
            f"{b} upload types",
            (lambda rb, b=b: set(rb.upload(SZ, b).media_types)),
            {"image/jpeg", "image/png", "image/gif", "image/bmp"},
            "证件上传附件支持文件类型jpg/jpeg/png/gif/bmp",
        )
        for b in (B.ENROL, *COUNTER_BUSINESSES)
    ],
    # card policy -------------------------------------------------------------------------------------------
    (
        "PIN locked after 3",
        lambda rb: rb.card_policy(SZ).pin_retry_limit,
        3,
        "密码连续三次输错，系统将自动锁卡，须办理密码解锁方可使用",
    ),
    ("initial PIN", lambda rb: rb.card_policy(SZ).initial_pin, "88888888", "电子口岸卡 初始密码（8个8）"),
    ("valid ten years", lambda rb: rb.card_policy(SZ).validity_years, 10, "自制卡之日起，有效期十年"),
    ("renewal window", lambda rb: rb.card_policy(SZ).renewal_window_days, 180, "相差 0-180 天之内"),
    (
        "legal rep may hold operator card",
        lambda rb: rb.card_policy(SZ).legal_rep_may_hold_operator,
        True,
        "操作员/报关员卡默认法定代表人信息办理",
    ),
    (
        "user changes PIN",
        lambda rb: "用户须自行修改密码并妥善保管" in rb.card_policy(SZ).note.zh,
        True,
        "用户须自行修改密码并妥善保管",
    ),
    (
        "new legal card needs no renewal",
        lambda rb: "新办的法人卡不用去延期" in rb.card_policy(SZ).note.zh,
        True,
        "新办的法人卡不用去延期,新办的默认 10 年有效",
    ),
]


@pytest.mark.parametrize(("rule", "getter", "expected", "passage"), ROWS, ids=[r[0] for r in ROWS])
def test_rule(rulebook: Rulebook, rule: str, getter: Getter, expected: Any, passage: str) -> None:
    assert_cited(SOURCE, passage)
    assert getter(rulebook) == expected, rule


def test_every_rule_object_cites_the_source(rulebook: Rulebook) -> None:
    assert rulebook.region(SZ).source == SOURCE
    assert rulebook.card_policy(SZ).source == SOURCE
    assert all(o.source == SOURCE for o in rulebook.outlets(SZ))
    for offer in rulebook.offers(SZ):
        b = offer.business
        assert offer.source == SOURCE
        assert all(c.source == SOURCE for c in offer.channels)
        assert all(m.source == SOURCE for m in rulebook.materials(SZ, b))
        assert rulebook.courier(SZ, b).source == SOURCE
        assert rulebook.upload(SZ, b).source == SOURCE
        assert all(s.source == SOURCE for s in rulebook.steps(SZ, b))


@pytest.mark.parametrize("business", [B.ENROL, *COUNTER_BUSINESSES])
def test_every_business_is_complete(rulebook: Rulebook, business: Business) -> None:
    offer = rulebook.offer(SZ, business)
    assert offer.channels
    assert rulebook.materials(SZ, business)
    assert rulebook.courier(SZ, business) is not None
    assert rulebook.timeframe(SZ, business) is not None


@pytest.mark.parametrize("business", COUNTER_BUSINESSES)
def test_silent_timeframes_fall_back_to_core(rulebook: Rulebook, business: Business) -> None:
    # Only 新入网 has a stated time limit; the guide is silent for the rest.
    timeframe = rulebook.timeframe(SZ, business)
    assert timeframe.source is None and timeframe.deadlines == ()


def test_businesses_not_offered(rulebook: Rulebook) -> None:
    offered = {o.business for o in rulebook.offers(SZ)}
    assert not offered & {B.RESET_PIN, B.BUY_READER, B.TEMPORARY_CARD}






# conditional materials, filtered for an application ---------------------------------------------------


def test_online_enrol_needs_no_originals(rulebook: Rulebook) -> None:
    app = make_enrol(3, SZ)  # lodged on the web, agent = legal rep
    codes = {m.code for m in rulebook.materials(SZ, B.ENROL, app)}
    assert codes == {"licence_photo"}


def test_counter_enrol_with_declarant_and_other_agent(rulebook: Rulebook) -> None:
    app = make_enrol(4, SZ)
    declarant = CardRequest(kind=CardKind.DECLARANT, holder=make_person(77), declarant_no="D123")
    app = attrs.evolve(app, channel="on_site", items=(*app.items, declarant), agent=make_person(78))
    codes = {m.code for m in rulebook.materials(SZ, B.ENROL, app)}
    assert codes == {
        "business_licence",
        "holder_id",
        "power_of_attorney",
        "agent_id",
        "declarant_record_no",
    }  # the licence photo is the online flow's (一、网上办理 step 5), not the counter's


# validation and acceptance numbers ---------------------------------------------------------------------


def test_enrol_legal_card_cannot_be_changed(rulebook: Rulebook) -> None:
    assert_cited(SOURCE, "自动生成两条办卡信息，法人卡信息不可修改")
    good = make_enrol(5, SZ)
    assert rulebook.validate(SZ, good) == []
    other = CardRequest(kind=CardKind.LEGAL, holder=make_person(99))
    bad = attrs.evolve(good, items=(other, *good.items[1:]))
    (problem,) = rulebook.validate(SZ, bad)
    assert problem.field == "items[1].holder"
    assert problem.zh and problem.en and problem.source == SOURCE


def test_legal_rep_operator_card_is_fine_in_shenzhen(rulebook: Rulebook) -> None:
    app = make_enrol(6, SZ, operators=0)
    rep_operator = CardRequest(kind=CardKind.OPERATOR, holder=app.enterprise.legal_rep)
    app = attrs.evolve(
        app, items=(*app.items, rep_operator), pickup=attrs.evolve(app.pickup, method=Pickup.MAIL)
    )
    assert rulebook.validate(SZ, app) == []


@pytest.mark.parametrize(
    ("channel", "seq", "expected"),
    [("web", 988, "WSZ0000988"), ("mobile_app", 1067, "SZ0001067"), ("on_site", 1127, "SZ0001127"),
     ("self_service", 1049, "SZ0001049")],
)
def test_acceptance_numbers(rulebook: Rulebook, channel: str, seq: int, expected: str) -> None:
    """Two series: W for the portal (网上), SZ for the rest. The query screen shows both series on one day and
    an SZ number in the online review state, so SZ is not "the counter"; which series is which is not stated,
    and the guide prints this reading as an interpretation."""
    assert_cited(SOURCE, expected)
    assert_cited(SOURCE, "SZ0001067 已提交待审核 张帆 2018年07月10日 11:44:23")
    assert_cited(SOURCE, "WSZ0000988 已提交待审核 54544 2018年07月10日 08:31:16")
    app = attrs.evolve(make_enrol(7, SZ), channel=channel)
    assert rulebook.acceptance_number(SZ, app, seq) == expected
    (reading,) = [r for r in rulebook.region(SZ).readings if "WSZ" in r.text.zh]
    assert reading.topic == "channels" and reading.kind == "interpretation"
    assert_cited(SOURCE, reading.passage)
    guide = build_guide(rulebook, WorkCalendar(), SZ, B.ENROL, date(2026, 9, 30))
    assert "〔解读〕受理编号分两个独立序列" in render_text(guide, "zh")
    assert "[Interpretation] Acceptance numbers run in two independent series" in render_text(guide, "en")


def test_materials_of_the_counter_list_are_shown_for_the_counter_only(rulebook: Rulebook) -> None:
    """办理资料清单 is the on-site page's list: the original licence and the power of attorney belong to it."""
    assert_cited(SOURCE, "三、现场办理")
    assert_cited(SOURCE, "1 多证合一《营业执照》原件；")
    assert_cited(SOURCE, "3 法人授权委托书原件（经办人是企业法人的无需提供）；")
    for code in ("business_licence", "holder_id", "power_of_attorney", "agent_id"):
        (found,) = [m for m in rulebook.materials(SZ, B.ENROL) if m.code == code]
        assert found.channels == ("on_site",), code
    web = attrs.evolve(make_enrol(4, SZ), channel="web", agent=make_person(78))
    assert "power_of_attorney" not in {m.code for m in rulebook.materials(SZ, B.ENROL, web)}
    guide = build_guide(rulebook, WorkCalendar(), SZ, B.ENROL, date(2026, 9, 30))
    groups = {g.kinds: [i.material.code for i in g.materials] for g in guide.material_groups}
    assert groups[("on_site",)] == ["business_licence", "holder_id", "power_of_attorney", "agent_id"]
    assert "declarant_record_no" in groups[()] and "licence_photo" in groups[("web",)]
    zh = render_text(guide, "zh")
    assert "仅以下渠道需要（现场办理（市民中心行政服务大厅东厅））：" in zh
    assert zh.index("仅以下渠道需要（现场办理") < zh.index("多证合一《营业执照》")


def test_the_portal_address_is_kept_as_written_and_said_to_disagree(rulebook: Rulebook) -> None:
    assert_cited(SOURCE, "登录深圳海关数据分中心门户网站（www.szcpport.cn）")
    assert_cited(SOURCE, "深圳海关数据分中心门户网站(www.szcpot.cn)")
    channels = [c for o in rulebook.offers(SZ) for c in o.channels]
    assert {c.url for c in channels if c.kind == "web"} == {"www.szcpport.cn"}
    assert not any("szcport.cn" in step.zh for c in channels for step in c.steps)
    guide = build_guide(rulebook, WorkCalendar(), SZ, B.RENEW, date(2026, 9, 30))
    contacts = render_text(guide, "zh").split("【办理渠道】")[0]
    assert "网站：www.szcpport.cn" in contacts and "〔原文如此〕门户网站地址按原文保留" in contacts
