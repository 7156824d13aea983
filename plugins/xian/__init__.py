"""西安 (Xi'an) region: rules from ../shared/seeds/004_7ce9fda768e2b8de.txt.

Data (businesses, e-mail rules, materials, courier, timeframes, the AIC review step) lives in
region.toml; this module holds the rules that are logic: the e-mail subject for an application,
legal representative vs operator, operator-card unlock by self-service only, and the card
address the application e-mail must carry.
"""

from __future__ import annotations

from pathlib import Path

from core import hookimpl
from core.model import Application, Business, CardKind, Pickup
from core.regiondata import DataRegion, load_region_data
from core.rules import ChannelKind, Problem

CODE = "xian"
SOURCE = "004_7ce9fda768e2b8de.txt"

# The business names the e-mail subject uses: the guide's own section titles.
SUBJECT_BUSINESS: dict[Business, str] = {
    Business.UNLOCK: "法人卡解锁",
    Business.RESET_PIN: "法人卡密码重置",
    Business.ADD_CARD: "新增操作员卡",
    Business.RENEW: "法人卡延期",
    Business.CANCEL_CARD: "电子口岸卡注销",
    Business.DEREGISTER: "电子口岸企业注销",
}
REISSUE_SUBJECT: dict[CardKind, str] = {
    CardKind.LEGAL: "补办法人卡",
    CardKind.OPERATOR: "补办操作员卡",
    CardKind.DECLARANT: "补办报关员卡",
}

# The application e-mail of these must give "公司收卡地址" and "联系人姓名电话".
ALWAYS_MAILED_BACK = frozenset({Business.UNLOCK, Business.RESET_PIN, Business.ADD_CARD})

MSG_SAME_PERSON = ("法人和操作员不能是同一个人，请为操作员卡填写法定代表人以外的人员",
                   "The legal representative and an operator may not be the same person; "
                   "enter someone else for the operator card")
MSG_OPERATOR_UNLOCK = ("操作员卡解锁请用法人卡登录中国电子口岸（https://e.chinaport.gov.cn/）自助办理，"
                       "无需申请",
                       "Operator cards are unlocked by self-service: log in to China E-Port "
                       "(https://e.chinaport.gov.cn/) with the legal card; no application is needed")
MSG_MAIL_TO = ("申请邮件须写明公司收卡地址和联系人姓名电话：请选择邮寄并填写收件人、电话和地址",
               "The application e-mail must give the company's card address and the contact's name and "
               "phone: choose mail and enter the recipient, phone and address")


def business_label(application: Application) -> str:
    """The business as the e-mail subject names it."""
    if application.business is Business.REISSUE:
        kinds = [i.kind for i in application.items] or [CardKind.LEGAL]
        return "、".join(dict.fromkeys(REISSUE_SUBJECT[k] for k in kinds))
    return SUBJECT_BUSINESS.get(application.business, str(application.business))


def email_subject(application: Application) -> str:
    """The subject "XX企业办理电子口岸的XX业务" filled in for ``application``."""
    return f"{application.enterprise.name}办理电子口岸的{business_label(application)}业务"


def _problem(rule: str, field: str, message: tuple[str, str]) -> Problem:
    """A problem naming the requirement it breaks (declared in region.toml, printed in the guide)."""
    return plugin.data.region.requirement(rule).problem(field, *message)


def _needs_mail_address(app: Application) -> bool:
    if app.business in ALWAYS_MAILED_BACK:
        return True
    if app.business is Business.REISSUE:
        # The legal card may be reissued on the Single Window alone; every e-mail route asks for the address.
        return app.channel == ChannelKind.EMAIL or any(i.kind is not CardKind.LEGAL for i in app.items)
    return app.business is Business.RENEW and app.channel == ChannelKind.EMAIL


class Xian(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""

    @hookimpl
    def validate_application(self, region: str, application: Application) -> list[Problem] | None:
        app = application
        problems: list[Problem] = []
        legal_rep_id = app.enterprise.legal_rep.id_number
        for n, item in enumerate(app.items):
            if item.kind is not CardKind.LEGAL and item.holder.id_number == legal_rep_id:
                problems.append(_problem("not_legal_rep", f"items[{n}].holder.id_number", MSG_SAME_PERSON))
            if app.business is Business.UNLOCK and item.kind is not CardKind.LEGAL:
                problems.append(_problem("operator_unlock_self_service", f"items[{n}].kind", MSG_OPERATOR_UNLOCK))
        if _needs_mail_address(app) and (app.pickup.method is not Pickup.MAIL
                                         or app.pickup.missing_mail_details()):
            problems.append(_problem("card_address", "pickup.mail_to", MSG_MAIL_TO))
        return problems


plugin = Xian(load_region_data(Path(__file__).with_name("region.toml")))
