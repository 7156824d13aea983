"""厦门 (Xiamen) region: rules from ../shared/seeds/002_fb6811038571c536.txt.

Everything declarative is in region.toml; the checks below are the rules that are logic.
"""

from collections import Counter
from pathlib import Path

from core import hookimpl
from core.model import Application, Business, Pickup
from core.regiondata import DataRegion, load_region_data
from core.rules import Problem, Requirement

CODE = "xiamen"
SOURCE = "002_fb6811038571c536.txt"

# 附件1 offers 增办 and 变更 for operator cards only; the legal card changes with the enterprise.
OPERATOR_ONLY = {
    Business.ADD_CARD: ("新增", "an additional"),
    Business.CHANGE_HOLDER: ("变更", "a changed"),
}


class Xiamen(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""

    @hookimpl
    def validate_application(self, region: str, application: Application) -> list[Problem] | None:
        return [
            *self._channel_offered(application),
            *self._one_card_per_holder(application),
            *self._operator_cards_only(application),
            *self._mail_address_complete(application),
        ]

    def _rule(self, code: str) -> Requirement:
        return self.data.region.requirement(code)

    def _channel_offered(self, app: Application) -> list[Problem]:
        rules = self.data.rules(app.business)
        if rules is None:
            return []  # core reports a business the region does not offer
        kinds = [c.kind.value for c in rules.channels]
        if app.channel in kinds:
            return []
        names_zh = "、".join(c.name.zh for c in rules.channels)
        names_en = "; ".join(c.name.get("en") for c in rules.channels)
        return [self._rule("channel").problem(
            "channel", f"厦门分中心的“{rules.name.zh}”业务只能通过以下方式办理：{names_zh}",
            f"Xiamen handles “{rules.name.en}” only through: {names_en}")]

    def _one_card_per_holder(self, app: Application) -> list[Problem]:
        counts = Counter(i.holder.id_number for i in app.items)
        return [self._rule("one_card_per_holder").problem(
            "items", f"证件号码 {number} 出现了 {n} 次：持卡人在同一家企业内不可重复办理电子口岸卡，"
                     "一个身份证号在同一家企业只能办理一张电子口岸操作员卡，请删除重复的持卡人",
            f"ID number {number} appears {n} times: a holder may hold only one E-Port card in "
            "the same enterprise; remove the duplicate holder") for number, n in counts.items() if n > 1]

    def _operator_cards_only(self, app: Application) -> list[Problem]:
        if app.business not in OPERATOR_ONLY or not app.legal_items:
            return []
        zh, en = OPERATOR_ONLY[app.business]
        return [self._rule("operator_cards_only").problem(
            "items", f"厦门分中心此业务只办理{zh}操作员卡，不含法人卡；法人卡请通过企业基本信息变更或补办办理",
            f"In Xiamen this business is for {en} operator card only, not the legal card; "
            "use change of enterprise information or reissue for the legal card")]

    def _mail_address_complete(self, app: Application) -> list[Problem]:
        if app.pickup.method is not Pickup.MAIL:
            return []
        missing = [MAIL_DETAIL_NAMES[name] for name in app.pickup.missing_mail_details()]
        if not missing:
            return []
        return [self._rule("mail_address").problem(
            "pickup.mail_to", f"邮寄领取须填写{'、'.join(z for z, _ in missing)}；"
                              "因填写错误导致快递无法送达或退回的，往返快递费用由企业承担",
            f"Mail pickup needs the {', '.join(e for _, e in missing)}; if delivery fails because "
            "of wrong details the enterprise pays the courier both ways")]


MAIL_DETAIL_NAMES = {"address": ("收件地址", "delivery address"), "recipient": ("收件人", "recipient"),
                     "phone": ("联系电话", "recipient's phone")}

plugin = Xiamen(load_region_data(Path(__file__).with_name("region.toml")))

__all__ = ["CODE", "SOURCE", "Xiamen", "plugin"]
