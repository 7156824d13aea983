"""The zh/en message catalogue of the web front. Chinese first; English on request (``?lang=en``)."""

from __future__ import annotations

from typing import Any

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

MESSAGES: dict[str, tuple[str, str]] = {
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
}


def t(key: str, lang: str = DEFAULT_LANG) -> str:
    """The message for ``key`` in ``lang``; the key itself when it is missing (visible, never a crash)."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def pick(text: Any, lang: str = DEFAULT_LANG) -> str:
    """One language out of a ``core.rules.Text``, a (zh, en) pair or a bilingual error; '' for None."""
    if text is None:
        return ""
    if isinstance(text, tuple):
        zh, en = text
    else:
        zh, en = getattr(text, "zh", ""), getattr(text, "en", "")
    return (en or zh) if lang == "en" else (zh or en)


def normalise_lang(value: str | None) -> str | None:
    return value if value in LANGS else None


__all__ = ["DEFAULT_LANG", "LANGS", "MESSAGES", "normalise_lang", "pick", "t"]
