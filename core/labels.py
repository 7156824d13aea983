"""Every label a person reads, in Chinese and English: one catalogue for the web pages, the JSON API's
texts, the CLI, the guide and the PDF receipt.

A value that is an enum is labelled by the enum member itself, in one table per enum: ``StrEnum`` members
compare equal to their strings, so one shared table would mix up, say, the state ``submitted`` and the
milestone ``submitted``. Everything else (page texts, card actions, staff roles) has a dotted string key,
prefixed by the page or topic it belongs to (``staff.login.title`` is not ``login.title``). Chinese first;
a missing label shows its key or value (visible, never a crash), and tests/core/test_labels.py keeps the
catalogue complete: every member of every labelled enum, every key, both languages, every key a template uses.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from core.model.enums import AppState, Business, CardKind, CardState, RejectionReason
from core.rules import ChannelKind, Condition, MaterialForm, Milestone

Pair = tuple[str, str]
E = TypeVar("E", bound=StrEnum)

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

ENUM_LABELS: dict[type[StrEnum], dict[StrEnum, Pair]] = {
    Business: {
        Business.ENROL: ("新入网", "New enrolment"),
        Business.CHANGE_ENTERPRISE: ("企业基本信息变更", "Change of enterprise information"),
        Business.CHANGE_HOLDER: ("持卡人信息变更", "Change of card holder"),
        Business.ADD_CARD: ("新增操作员卡", "Additional operator card"),
        Business.REISSUE: ("补办", "Reissue (lost or damaged)"),
        Business.RENEW: ("证书更新", "Certificate renewal"),
        Business.UNLOCK: ("解锁", "Unlock"),
        Business.RESET_PIN: ("密码重置", "PIN reset"),
        Business.CANCEL_CARD: ("注销操作员卡", "Cancel an operator card"),
        Business.DEREGISTER: ("注销企业", "Deregister the enterprise"),
        Business.BUY_READER: ("购买读卡器", "Buy a card reader"),
        Business.TEMPORARY_CARD: ("临时卡", "Temporary card"),
    },
    AppState: {
        AppState.DRAFT: ("暂存", "Draft"),
        AppState.SUBMITTED: ("已提交", "Submitted"),
        AppState.ACCEPTED: ("受理中", "Accepted"),
        AppState.NEEDS_MEDIUM: ("需提供介质", "Needs medium"),
        AppState.MEDIUM_READY: ("已具备介质", "Medium ready"),
        AppState.IN_PRODUCTION: ("制卡中", "In production"),
        AppState.COMPLETED: ("已处理", "Completed"),
        AppState.REJECTED: ("已退单", "Rejected"),
        AppState.DELETED: ("已删除", "Deleted"),
    },
    RejectionReason: {
        RejectionReason.MATERIALS_INCOMPLETE: (
            "上传的证明材料要素不齐全（缺少公章、手写签注、签名或日期）或者附件模糊不清",
            "Materials incomplete (missing stamp, handwritten annotation, signature or date) or illegible"),
        RejectionReason.MATERIALS_MISMATCH: (
            "上传的证明材料与系统界面录入的申请信息不一致",
            "Uploaded materials do not match the information entered"),
        RejectionReason.AGENT_IDENTITY: ("经办人身份核验不通过", "The agent's identity could not be verified"),
        RejectionReason.ENTITY_IDENTITY: (
            "市场主体资格证明材料或者法定代表人身份核验不通过",
            "The enterprise's registration or the legal representative's identity could not be verified"),
        RejectionReason.REMARKS: ("申请单备注栏未填写，或未按要求填写", "Remarks missing or not in the required format"),
        RejectionReason.OTHER: ("存在其他不符合受理的情形", "Other grounds for non-acceptance"),
    },
    CardKind: {
        CardKind.LEGAL: ("法人卡", "legal card"),
        CardKind.OPERATOR: ("操作员卡", "operator card"),
        CardKind.DECLARANT: ("报关员卡", "declarant card"),
    },
    CardState: {
        CardState.BLANK: ("未制卡", "blank"),
        CardState.ACTIVE: ("正常", "active"),
        CardState.LOCKED: ("已锁", "locked"),
        CardState.FROZEN: ("已冻结", "frozen"),
        CardState.REPORTED_LOST: ("已挂失", "reported lost"),
        CardState.VOIDED: ("已作废", "voided"),
        CardState.CANCELLED: ("已注销", "cancelled"),
        CardState.REPLACED: ("已补办", "replaced"),
        CardState.EXPIRED: ("已过期", "expired"),
    },
    ChannelKind: {
        ChannelKind.WEB: ("网上办理", "online"),
        ChannelKind.MOBILE_APP: ("掌上办理", "mobile app"),
        ChannelKind.ON_SITE: ("现场办理", "on site"),
        ChannelKind.EMAIL: ("邮件申请", "by e-mail"),
        ChannelKind.POST: ("邮寄材料", "by post"),
        ChannelKind.SELF_SERVICE: ("法人卡自助", "self-service with the legal card"),
    },
    MaterialForm: {
        MaterialForm.ORIGINAL: ("原件", "original"),
        MaterialForm.COPY: ("复印件", "copy"),
        MaterialForm.SCAN: ("扫描件/照片", "scan/photo"),
        MaterialForm.SCREENSHOT: ("截图", "screenshot"),
        MaterialForm.CARD: ("卡片本身", "the card itself"),
        MaterialForm.FORM: ("填写表格", "filled-in form"),
        MaterialForm.NUMBER: ("填写编号", "number to enter"),
    },
    Condition: {  # when a material is needed (the guide's materials list)
        Condition.ALWAYS: ("必须提供", "always required"),
        Condition.AGENT_NOT_LEGAL_REP: ("经办人不是法定代表人时提供", "when the agent is not the legal representative"),
        Condition.HAS_DECLARANT: ("办理报关员卡时提供", "when a declarant card is requested"),
        Condition.HAS_OPERATOR: ("办理操作员卡时提供", "when operator cards are requested"),
        Condition.MAIL_PICKUP: ("选择邮寄领卡时提供", "when cards are to be mailed"),
        Condition.COUNTER_PICKUP: ("选择窗口领卡时提供", "when cards are collected at the counter"),
        Condition.MEDIUM_PURCHASED: ("需自行购买介质时提供", "when the medium had to be bought"),
        Condition.DATA_MISMATCH: ("系统自动比对不一致时提供", "when the automatic check finds a mismatch"),
        Condition.ORIGINAL_UNAVAILABLE: ("无法提供原件时提供", "when the original cannot be supplied"),
        Condition.AGENT_NOT_HOLDER: ("经办人不是法定代表人或本申请单中的操作员时提供",
                                     "when the agent is neither the legal representative nor an operator "
                                     "of this application"),
        Condition.HAS_LEGAL_CARD: ("办理法人卡时提供", "when the legal card is concerned"),
        Condition.HAS_OPERATOR_CARD: ("办理操作员卡（非报关员卡）时提供",
                                      "when an operator card (not a declarant card) is concerned"),
    },
    Milestone: {
        Milestone.SUBMITTED: ("提交", "submission"),
        Milestone.ACCEPTED: ("受理", "acceptance"),
        Milestone.APPROVED: ("审核通过", "approval"),
        Milestone.PRODUCED: ("制卡完成", "card production"),
        Milestone.RECEIVED: ("收到材料/卡", "receipt of the materials/cards"),
        Milestone.PREVIOUS: ("上一环节", "the previous step"),
    },
}

TEXTS: dict[str, Pair] = {
    # ---- the web pages: layout, public pages, enterprise portal (core/web/templates) ----
    # layout
    "site.title": ("电子口岸制发卡", "E-Port card service"),
    "nav.home": ("首页", "Home"),
    "nav.due": ("办结时限计算", "Due-date calculator"),
    "nav.progress": ("进度查询", "Track an application"),
    "nav.portal": ("企业办事", "Enterprise portal"),
    "nav.staff": ("工作人员", "Staff"),
    "nav.login": ("登录", "Log in"),
    "nav.logout": ("退出", "Log out"),
    "nav.logout_everywhere": ("退出所有设备", "Log out everywhere"),
    "nav.register": ("注册", "Register"),
    "nav.outbox": ("短信发件箱（开发）", "SMS outbox (development)"),
    "lang.switch": ("English", "中文"),
    "form.save": ("暂存", "Save draft"),
    "form.next": ("保存并下一步", "Save and continue"),
    "form.back": ("上一步", "Back"),
    "form.submit": ("提交", "Submit"),
    "form.query": ("查询", "Search"),
    "form.calculate": ("计算", "Calculate"),
    "form.required": ("必填", "required"),
    "error.title": ("出错了", "Something went wrong"),
    "error.fix": ("请修改以下问题：", "Please fix the following:"),
    "saved": ("已保存", "Saved"),
    # public
    "home.intro": ("选择分中心，查看办事指南、网点和办结时限。",
                   "Choose a branch centre to see its guides, outlets and timeframes."),
    "region.contacts": ("联系方式", "Contacts"),
    "region.hotline": ("咨询电话", "Hotline"),
    "region.hours": ("办公时间", "Office hours"),
    "region.address": ("地址", "Address"),
    "region.email": ("电子邮箱", "E-mail"),
    "region.businesses": ("业务办事指南", "Business guides"),
    "region.outlets": ("办理网点", "Outlets"),
    "outlet.appointment": ("预约", "Appointment"),
    "outlet.mail": ("可邮寄", "Cards can be mailed"),
    "outlet.no_mail": ("不邮寄，须现场领取", "No mailing: collect on site"),
    "outlet.phone": ("电话", "Phone"),
    "guide.channels": ("办理渠道", "Channels"),
    "guide.materials": ("所需材料", "Materials"),
    "guide.timeframe": ("办结时限", "Timeframe"),
    "guide.courier": ("寄递", "Post and delivery"),
    "guide.medium": ("介质", "Card medium"),
    "guide.steps": ("办理步骤", "Steps"),
    "guide.forms": ("表格", "Forms"),
    "guide.uploads": ("上传要求", "Uploads"),
    "guide.working_days": ("个工作日", "working days"),
    "guide.original": ("原件", "original"),
    "guide.copy": ("复印件", "copy"),
    "guide.stamped": ("加盖公章", "stamped with the company seal"),
    "guide.per_card": ("每张卡一份", "one per card"),
    "due.title": ("办结时限计算", "Due-date calculator"),
    "due.start": ("起算日期（提交/受理日）", "Start date (submission / acceptance)"),
    "due.result": ("各环节最迟日期", "Latest date of each milestone"),
    "due.region": ("分中心", "Branch centre"),
    "due.business": ("业务", "Business"),
    "progress.title": ("申请进度查询", "Application progress"),
    "progress.acceptance_no": ("受理编号", "Acceptance number"),
    "progress.uscc": ("统一社会信用代码", "Unified social credit code (USCC)"),
    "progress.state": ("当前状态", "Current state"),
    "progress.history": ("办理记录", "History"),
    # portal
    "portal.title": ("企业办事", "Enterprise portal"),
    "login.title": ("账号密码登录", "Log in with password"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.card_link": ("法人卡登录", "Log in with the legal card"),
    "login.card_hint": ("已有法人卡的企业办理其他业务须使用法人卡登录（需本机卡客户端）。",
                        "Enterprises that already hold a legal card log in with the card for other "
                        "businesses (needs the local card agent)."),
    "register.title": ("企业管理员注册", "Register the enterprise administrator"),
    "register.unit": ("单位信息", "Enterprise"),
    "register.legal_rep": ("法定代表人", "Legal representative"),
    "register.admin": ("管理员账号", "Administrator account"),
    "register.done": ("注册成功，请登录。", "Registered. Please log in."),
    "reset.done": ("新密码已设置，请登录。", "The new password is set. Please log in."),
    "login.forgot": ("忘记密码？", "Forgot the password?"),
    "field.uscc": ("统一社会信用代码", "Unified social credit code"),
    "field.org_code": ("组织机构代码", "Organisation code"),
    "field.name": ("单位中文名称", "Enterprise name (Chinese)"),
    "field.name_en": ("单位英文名称", "Enterprise name (English)"),
    "field.customs_codes": ("海关编码（双码用&分隔）", "Customs code(s) (two as A&B)"),
    "field.province": ("省", "Province"),
    "field.city": ("市", "City"),
    "field.district": ("区", "District"),
    "field.detail": ("详细地址", "Street address"),
    "field.region": ("所属分中心", "Branch centre"),
    "field.person_name": ("姓名", "Name"),
    "field.id_type": ("证件类型", "ID type"),
    "field.id_number": ("证件号码", "ID number"),
    "field.id_valid_from": ("证件有效期起（YYYYMMDD）", "ID valid from (YYYYMMDD)"),
    "field.id_valid_to": ("证件有效期止（YYYYMMDD，长期填00000000）", "ID valid to (YYYYMMDD, 00000000 = long-term)"),
    "field.nationality": ("国籍", "Nationality"),
    "field.mobile": ("手机号码", "Mobile"),
    "field.password2": ("确认密码", "Repeat the password"),
    "field.display_name": ("管理员姓名", "Administrator's name"),
    "dash.title": ("我的申请", "My applications"),
    "dash.new": ("新建申请", "New application"),
    "dash.none": ("暂无申请单", "No applications yet"),
    "app.id": ("申请单号", "Application"),
    "app.business": ("业务", "Business"),
    "app.state": ("状态", "State"),
    "app.due": ("办结期限", "Due"),
    "app.acceptance_no": ("受理编号", "Acceptance number"),
    "app.holders": ("持卡人", "Card holders"),
    "app.history": ("办理记录", "History"),
    "app.reasons": ("退单原因", "Reasons for rejection"),
    "app.deadlines": ("办结时限", "Deadlines"),
    "app.projected": ("预计", "projected"),
    "app.attachments": ("证明材料", "Attachments"),
    "app.archived": ("已归档（不可查看）", "archived (not viewable)"),
    "app.withdraw": ("撤回", "Withdraw"),
    "app.edit": ("修改", "Edit"),
    "app.resubmit": ("修改后重新提交", "Edit and resubmit"),
    "app.delete": ("删除", "Delete"),
    "app.receipt": ("打印受理回执（PDF）", "Print the receipt (PDF)"),
    "app.continue": ("继续填写", "Continue"),
    "app.choose_business": ("选择业务", "Choose the business"),
    "app.not_allowed": ("不能办理", "Not available"),
    "step.enterprise": ("单位信息", "Enterprise"),
    "step.legal": ("法人卡", "Legal card"),
    "step.operators": ("操作员卡", "Operator cards"),
    "step.agent": ("经办人", "Agent"),
    "step.pickup": ("取卡方式", "Pickup"),
    "step.uploads": ("上传材料", "Uploads"),
    "step.preview": ("预览并提交", "Preview and submit"),
    "op.kind": ("卡类型", "Card type"),
    "op.medium": ("介质", "Medium"),
    "op.device_no": ("设备编号", "Device number"),
    "op.declarant_no": ("报关人员备案证明号", "Declarant record number"),
    "op.confirmed": ("已确认", "Confirmed"),
    "op.pending": ("暂存（须确认）", "Saved only (confirm it)"),
    "op.add": ("添加一行", "Add a row"),
    "op.confirm": ("确认", "Confirm"),
    "op.edit": ("修改", "Edit"),
    "op.remove": ("删除", "Delete"),
    "agent.legal_rep": ("法定代表人", "The legal representative"),
    "agent.operator": ("操作员", "An operator"),
    "agent.other": ("其他人员", "Another person"),
    "pickup.counter": ("窗口领取", "Collect at the counter"),
    "pickup.mail": ("邮寄（到付）", "By post (cash on delivery)"),
    "pickup.outlet": ("领卡网点", "Outlet"),
    "pickup.making_centre": ("制卡机构", "Making centre"),
    "pickup.recipient": ("收件人", "Recipient"),
    "pickup.phone": ("收件人电话", "Recipient's phone"),
    "pickup.address": ("收件地址", "Delivery address"),
    "pickup.remarks": ("备注", "Remarks"),
    "upload.material": ("材料", "Material"),
    "upload.file": ("文件", "File"),
    "upload.allowed": ("允许的类型和大小", "Allowed types and size"),
    "upload.send": ("上传", "Upload"),
    "preview.problems": ("提交前须解决的问题", "Problems to solve before submitting"),
    "preview.ok": ("检查通过，可以提交。", "All checks passed; you may submit."),
    "preview.declaration": ("本单位承诺所填信息及上传材料真实、有效，如有虚假愿承担相应责任。",
                            "We declare that the information and materials are true and valid, and accept "
                            "responsibility for any falsehood."),
    "preview.send_code": ("发送短信验证码至经办人手机", "Send an SMS code to the agent's mobile"),
    "preview.code": ("短信验证码", "SMS code"),
    "preview.code_sent": ("验证码已发送至", "Code sent to"),
    "submitted": ("已提交，受理编号：", "Submitted. Acceptance number: "),
    "outbox.title": ("短信发件箱（开发网关）", "SMS outbox (development gateway)"),

    # ---- the staff console (core/web/templates/staff) ----
    "staff.login.title": ("工作人员登录", "Staff login"),
    "staff.queue.title": ("待办申请单", "Application queue"),
    "staff.queue.search": ("受理编号 / 企业名称 / 统一社会信用代码", "Acceptance no. / enterprise name / USCC"),
    "staff.queue.state": ("状态", "State"),
    "staff.queue.all_open": ("全部待办", "All open"),
    "staff.queue.overdue": ("已超期", "Overdue"),
    "staff.queue.enterprise": ("企业", "Enterprise"),
    "staff.queue.agent": ("经办人", "Agent"),
    "staff.queue.empty": ("没有符合条件的申请单", "No applications match"),
    "staff.queue.branch": ("分中心", "Branch"),
    "staff.queue.roles": ("角色", "Roles"),
    "staff.detail.title": ("申请单详情", "Application"),
    "staff.detail.version": ("版本", "Version"),
    "staff.detail.items": ("申请的卡", "Cards applied for"),
    "staff.detail.pickup": ("取卡方式", "Pickup"),
    "staff.detail.delivery": ("交付状态", "Delivery"),
    "staff.detail.tracking": ("快递单号", "Tracking number"),
    "staff.detail.audit": ("审计记录", "Audit trail"),
    "staff.detail.actions": ("可执行的操作", "Actions"),
    "staff.detail.no_actions": ("您的角色在当前状态下没有可执行的操作。",
                          "Your roles allow no action in this state."),
    "staff.detail.steps": ("分中心步骤", "Region steps"),
    "staff.detail.made": ("已制卡", "made"),
    "staff.detail.remarks": ("备注", "Remarks"),
    "staff.detail.done": ("操作已完成", "Done"),
    "staff.action.accept": ("受理", "Accept"),
    "staff.action.reject": ("退单", "Reject"),
    "staff.action.require_medium": ("需提供介质", "Medium required"),
    "staff.action.provide_medium": ("已具备介质", "Medium provided"),
    "staff.action.start_production": ("开始制卡", "Start production"),
    "staff.action.complete": ("办结", "Complete"),
    "staff.action.ship": ("邮寄寄出", "Ship"),
    "staff.action.hand_over": ("窗口交付", "Hand over"),
    "staff.action.step": ("完成步骤", "Complete step"),
    "staff.action.make": ("登记制卡", "Mark made"),
    "staff.field.note": ("说明", "Note"),
    "staff.field.reasons": ("退单原因（至少一项）", "Reasons (at least one)"),
    "staff.field.tracking_no": ("快递单号", "Tracking number"),
    "staff.field.receipt_no": ("回执上的受理编号", "Acceptance number on the receipt"),
    "staff.audit.at": ("时间", "Time"),
    "staff.audit.actor": ("操作人", "Actor"),
    "staff.audit.action": ("操作", "Action"),
    "staff.audit.detail": ("内容", "Detail"),
    "staff.personalise.title": ("读卡器制卡", "Personalise with the reader"),
    "staff.personalise.hint": ("将空白卡插入读卡器后点击：卡内生成密钥，写入证书并回读核对，密码为初始密码 88888888。"
                         "读卡器留空时使用配置的读卡器或第一个插了卡的读卡器。",
                         "Insert a blank card and press the button: the key is made on the card, the certificate "
                         "written and read back, the PIN is the initial 88888888. With no reader named, the "
                         "configured reader or the first reader holding a card is used."),
    "staff.personalise.button": ("用读卡器制卡", "Personalise with the reader"),
    "staff.personalise.reader": ("读卡器", "Reader"),
    "staff.personalise.no_service": ("本系统未配置发卡CA或制卡主密钥，不能在此页制卡：请用 eportcard counter personalize "
                               "制卡后“登记制卡”。",
                               "No card CA or card master secret is configured, so cards cannot be made from this "
                               "page: make the card with `eportcard counter personalize`, then use \"Mark made\"."),
    "staff.personalise.no_reader": ("未检测到读卡器（pcscd 未运行或未连接读卡器）：连接读卡器后刷新本页，或在别处制卡后"
                              "“登记制卡”。",
                              "No card reader found (pcscd is not running or no reader is connected): connect "
                              "one and reload this page, or make the card elsewhere and use \"Mark made\"."),
    "staff.personalise.done": ("已用读卡器制卡", "Card personalised"),
    "staff.personalise.card_serial": ("芯片序列号", "Chip serial"),
    "staff.personalise.cert_serial": ("证书序列号", "Certificate serial"),
    "staff.personalise.device_no": ("设备编号", "Device no."),
    # ---- card management: what the legal card may do to a card (core.cards.OPERATOR_ACTIONS_BY_LEGAL_CARD) ----
    "card.action.unlock": ("解锁", "Unlock"),
    "card.action.freeze": ("冻结", "Freeze"),
    "card.action.unfreeze": ("解冻", "Unfreeze"),
    "card.action.report_lost": ("挂失", "Report lost"),
    "card.action.void": ("作废", "Void"),
    "card.action.renew": ("证书延期", "Renew"),
    # ---- staff roles (core.services.actors.STAFF_ROLES) ----
    "role.reviewer": ("审核员", "Reviewer"),
    "role.card_maker": ("制卡员", "Card maker"),
    "role.counter_clerk": ("窗口柜员", "Counter clerk"),
    "role.branch_admin": ("分中心管理员", "Branch administrator"),
    # ---- the printed guide (core/guide/render.py): its labels, and the topics a region may be silent on ----
    "guide.text.guide": ("办事指南", "Guide"),
    "guide.text.contacts": ("联系方式", "Contacts"),
    "guide.text.hotline": ("咨询电话", "Hotline"),
    "guide.text.hotline_hours": ("电话服务时间", "Hotline hours"),
    "guide.text.email": ("电子邮箱", "E-mail"),
    "guide.text.website": ("网站", "Website"),
    "guide.text.address": ("地址", "Address"),
    "guide.text.hours": ("办公时间", "Opening hours"),
    "guide.text.channels": ("办理渠道", "Channels"),
    "guide.text.what_you_do": ("您需要做什么（按顺序）", "What you do, step by step"),
    "guide.text.materials": ("所需材料", "Materials"),
    "guide.text.forms": ("表格", "Forms"),
    "guide.text.courier": ("材料寄送与取卡", "Post and card delivery"),
    "guide.text.outlets": ("办理网点", "Outlets"),
    "guide.text.timeframe": ("办理时限", "Timeframe"),
    "guide.text.steps": ("分中心附加流程", "Region workflow steps"),
    "guide.text.medium": ("介质", "Medium"),
    "guide.text.upload": ("上传文件", "Uploads"),
    "guide.text.card_policy": ("卡片规则", "Card rules"),
    "guide.text.source": ("依据", "Source"),
    "guide.text.note": ("说明", "Note"),
    "guide.text.default": ("系统默认规则", "Core default"),
    "guide.topic.materials": ("所需材料", "the materials"),
    "guide.topic.courier": ("材料寄送与取卡方式", "how materials and cards travel"),
    "guide.topic.outlets": ("办理网点", "the outlets"),
    "guide.topic.timeframe": ("办理时限", "the timeframe"),
    "guide.topic.steps": ("分中心附加流程", "extra workflow steps"),
    "guide.topic.medium": ("介质（卡/Key）的提供方式", "how the medium (card/key) is provided"),
    "guide.topic.forms": ("需填写的表格", "forms to fill in"),
    "guide.topic.upload": ("上传文件的格式和大小", "file types and sizes for uploads"),
    "guide.topic.card_policy": ("卡片规则（密码、有效期、延期）", "card rules (PIN, validity, renewal)"),
}


def pair(key: StrEnum | str) -> Pair:
    """Both languages of ``key``: an enum member (by its enum's table) or a text key."""
    if isinstance(key, StrEnum):
        found = ENUM_LABELS.get(type(key), {}).get(key)
        return found if found is not None else (key.value, key.value)
    return TEXTS.get(key, (key, key))


def label(key: StrEnum | str, lang: str = DEFAULT_LANG) -> str:
    """The label of ``key`` in ``lang`` (Chinese unless ``lang`` is ``"en"``)."""
    zh, en = pair(key)
    return en if lang == "en" else zh


def enum_label(enum: type[E], value: str | None, lang: str = DEFAULT_LANG) -> str:
    """The label of ``value`` read as a member of ``enum`` (templates and tables hold plain strings too);
    a value that is not a member shows as it is."""
    try:
        member = enum(value)
    except ValueError:
        return str(value)
    return label(member, lang)


__all__ = ["DEFAULT_LANG", "ENUM_LABELS", "LANGS", "TEXTS", "Pair", "enum_label", "label", "pair"]
