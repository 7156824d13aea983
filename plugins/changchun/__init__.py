"""长春 (Changchun) region: rules from ../shared/seeds/001_56e603108c85a312.txt.

Data in region.toml; the hookimpls below are the rules that are logic: the mandatory
remarks format and the CCB agent outlets being on-site only.
"""

import re
from pathlib import Path

from core import hookimpl
from core.model import Application, Business, Pickup
from core.regiondata import DataRegion, load_region_data
from core.rules import Problem

CODE = "changchun"
SOURCE = "001_56e603108c85a312.txt"
CENTRE = "changchun_centre"  # 长春制卡中心: remarks rules apply, mail possible
CCB = "changchun_ccb"  # 省内建行制卡代理点: on-site only, choice final

LEGAL_ONLY = "只要一张法人卡"
SELF_PICKUP = "自取"
# A mobile number or a landline with area code (0431-84601888).
PHONE = re.compile(r"(?<!\d)(1\d{10}|0\d{2,3}-?\d{7,8})(?!\d)")
# A postal address names at least one of these units.
ADDRESS_UNIT = re.compile(r"[省市区县旗镇乡村路街道巷号楼室]")
NAME = re.compile(r"[\u4e00-\u9fff]{2,}|[A-Za-z]{2,}")


def _problem(rule: str, field: str, zh: str, en: str) -> Problem:
    """A problem naming the requirement it breaks (declared in region.toml, printed in the guide)."""
    return plugin.data.region.requirement(rule).problem(field, zh, en)


def remarks_problems(app: Application) -> list[Problem]:
    """备注 for the Changchun centre: mail -> address + contact + phone; pickup -> 自取 + contact + phone."""
    remarks = app.remarks.strip()
    problems: list[Problem] = []
    if not remarks:
        return [
            _problem(
                "remarks_required", "remarks",
                "领卡机构为长春制卡中心的，申请单备注必须填写（邮寄：企业收件地址+联系人+联系电话；自取：自取+联系人+电话），"
                "否则会退单处理",
                "remarks are mandatory with the Changchun centre (mail: delivery address + contact + phone; "
                "self-pickup: 自取 + contact + phone), otherwise the application is rejected",
            )
        ]
    without_phone = PHONE.sub("", remarks)
    if app.pickup.method is Pickup.MAIL:
        mail_to = app.pickup.mail_to
        contact_ok = (
            (mail_to.recipient in remarks)
            if mail_to and mail_to.recipient
            else bool(NAME.search(without_phone))
        )
        if not (PHONE.search(remarks) and ADDRESS_UNIT.search(without_phone) and contact_ok):
            problems.append(
                _problem(
                    "remarks_mail", "remarks",
                    "选择邮寄的，备注须填写：企业收件地址+联系人+联系电话",
                    "for mail delivery the remarks must give: delivery address + contact person + phone",
                )
            )
    else:
        rest = without_phone.replace(SELF_PICKUP, "").replace(LEGAL_ONLY, "")
        if not (SELF_PICKUP in remarks and PHONE.search(remarks) and NAME.search(rest)):
            problems.append(
                _problem(
                    "remarks_pickup", "remarks",
                    "选择自取的，备注须填写：自取+联系人+电话",
                    "for self-pickup the remarks must give: 自取 (self-pickup) + contact person + phone",
                )
            )
    if not app.operators and LEGAL_ONLY not in remarks:
        problems.append(
            _problem(
                "remarks_legal_only", "remarks",
                "只要一张法人卡、不要操作员卡的，请在备注中写上（只要一张法人卡）",
                "when only the legal card is wanted, write 只要一张法人卡 (legal card only) in the remarks",
            )
        )
    return problems


class Changchun(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""

    @hookimpl
    def validate_application(self, region: str, application: Application) -> list[Problem] | None:
        if application.business is not Business.ENROL:
            return None
        app = application
        if not app.making_centre:
            return [
                _problem(
                    "making_centre", "making_centre",
                    "请选择制卡机构（长春制卡中心或省内建行制卡代理点）",
                    "choose the card-making centre (Changchun centre or a CCB agent outlet)",
                )
            ]
        if app.making_centre == CENTRE:
            return remarks_problems(app)
        if app.making_centre == CCB and app.pickup.method is Pickup.MAIL:
            return [
                _problem(
                    "ccb_on_site", "pickup.method",
                    "选择建行制卡代理点的，必须到现场办理业务、现场领卡，不能邮寄",
                    "CCB agent outlets are in person only: cards are collected there, not mailed",
                )
            ]
        return []


plugin = Changchun(load_region_data(Path(__file__).with_name("region.toml")))
