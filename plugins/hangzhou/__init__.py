"""杭州 (Hangzhou) region: rules from ../shared/seeds/003_894e1885d52798d3.txt.

Data (outlets, businesses, materials, courier, uploads) lives in region.toml; this module holds
the rules that are logic: the business menu, device numbers and their 89-prefixed stand-in,
the required ID start date, the 设备办理渠道 (outlet or mailing address) and multi-select.
"""

from __future__ import annotations

import re
from pathlib import Path

from core import hookimpl
from core.errors import InvalidInput
from core.ids import is_standin_device_no
from core.model import Application, Business, CardKind, Pickup
from core.regiondata import DataRegion, load_region_data
from core.rules import Problem

CODE = "hangzhou"
SOURCE = "003_894e1885d52798d3.txt"

# 新增变更申报选择: the platform's business menu in the guide's order (multi-select).
# "证书更新" and "证书过期" are both renewal; "证书过期" is the item for an expired certificate.
MENU: tuple[tuple[str, Business], ...] = (
    ("电子口岸证书密码初始化", Business.RESET_PIN),
    ("变更企业操作员", Business.CHANGE_HOLDER),
    ("企业注销退网", Business.DEREGISTER),
    ("证书更新", Business.RENEW),
    ("购买读卡器", Business.BUY_READER),
    ("临时卡申请（仅用于更改企业信息）", Business.TEMPORARY_CARD),
    ("企业信息变更", Business.CHANGE_ENTERPRISE),
    ("新增企业操作员（报关员）", Business.ADD_CARD),
    ("遗失或损坏补办", Business.REISSUE),
    ("证书过期", Business.RENEW),
)

DEVICE_NO = re.compile(r"\d{13}")


# The person-facing messages (Chinese, English), worded after the guide's own hints.
MSG_DEVICE_REQUIRED = (
    "请填写设备编号：电子口岸证书背面条码对应的13位数字；"
    "如果遗失忘记，可输入以89开头的13位随机数字，并在备注栏中注明忘记设备编号",
    "Enter the device number: the 13 digits under the barcode on the back of the E-Port certificate; "
    "if it is lost or forgotten, enter a random 13-digit number starting with 89 "
    "and state in the remarks that the device number was forgotten",
)
MSG_STAND_IN_IS_LEGAL = (
    "以89开头的随机设备编号不能与法人设备编号相同",
    "A random device number starting with 89 must differ from the legal card's device number",
)
MSG_STAND_IN_REMARKS = (
    "使用以89开头的随机设备编号时，须在申请单备注栏中注明忘记设备编号",
    "When a random device number starting with 89 is used, "
    "the remarks must state that the device number was forgotten",
)
MSG_MAIL_TO = (
    "选择在线办理的，请提前填写好收件人、收件地址和联系方式",
    "For online handling, fill in the recipient, the address and the contact number",
)
MSG_OUTLET = (
    "选择线下网点办理的，请选择领取介质设备的网点",
    "For offline outlet handling, choose the outlet where the medium will be collected",
)


def business_for_menu_item(label: str) -> Business:
    """The business code of a menu label (full-width or ASCII brackets both accepted)."""
    wanted = label.strip().replace("(", "（").replace(")", "）").replace(" ", "")
    for item, business in MENU:
        if item == wanted:
            return business
    raise InvalidInput(f"杭州分中心业务菜单中没有此项：{label}",
                       f"not an item of the Hangzhou business menu: {label}", field="business")


def renewal_menu_item(expired: bool) -> str:
    """Which of the two renewal items to tick."""
    return "证书过期" if expired else "证书更新"


def is_stand_in(device_no: str) -> bool:
    """A stand-in device number entered when the real one is lost or forgotten."""
    return is_standin_device_no(device_no)


def remarks_note_forgotten(remarks: str) -> bool:
    """The remarks say the device number was forgotten ("注明忘记设备编号")."""
    text = "".join(remarks.split())
    return "设备编号" in text and ("忘记" in text or "遗失" in text)


def _problem(rule: str, field: str, zh: str, en: str) -> Problem:
    """A problem naming the requirement it breaks (declared in region.toml, printed in the guide)."""
    return plugin.data.region.requirement(rule).problem(field, zh, en)


def _known(rule: str, field: str, message: tuple[str, str]) -> Problem:
    return _problem(rule, field, *message)


class Hangzhou(DataRegion):
    """Data from region.toml; hookimpls here only for rules that are logic."""

    @hookimpl
    def validate_application(self, region: str, application: Application) -> list[Problem] | None:
        return [*self._device_problems(application), *self._holder_problems(application),
                *self._channel_problems(application), *self._menu_problems(application)]

    def _device_problems(self, app: Application) -> list[Problem]:
        problems: list[Problem] = []
        # A new medium (新增操作员) has no number yet; every other declaration names the current one.
        required = app.business is not Business.ADD_CARD
        legal_nos = {i.device_no for i in app.legal_items if i.device_no}
        for n, item in enumerate(app.items):
            field = f"items[{n}].device_no"
            if not item.device_no:
                if required:
                    problems.append(_known("device_no", field, MSG_DEVICE_REQUIRED))
                continue
            if not DEVICE_NO.fullmatch(item.device_no):
                problems.append(_problem(
                    "device_no", field, f"设备编号应为13位数字（证书背面条码对应的数字），当前为“{item.device_no}”",
                    f"The device number must be 13 digits (the number under the barcode on the back of the "
                    f"certificate), not “{item.device_no}”"))
                continue
            operator_stand_in = is_stand_in(item.device_no) and item.kind is not CardKind.LEGAL
            if operator_stand_in and item.device_no in legal_nos:
                problems.append(_known("stand_in_not_legal", field, MSG_STAND_IN_IS_LEGAL))
        if any(is_stand_in(i.device_no) for i in app.items) and not remarks_note_forgotten(app.remarks):
            problems.append(_known("stand_in_remarks", "remarks", MSG_STAND_IN_REMARKS))
        return problems

    def _holder_problems(self, app: Application) -> list[Problem]:
        # "* 身份证有效起始日期" is required on both card pages; the end date may be "长期" (None).
        return [
            _problem("id_valid_from", f"items[{n}].holder.id_valid_from",
                     f"请填写{item.holder.name}的身份证有效起始日期（须与身份证一致）",
                     f"Enter the start date of {item.holder.name}'s ID validity (as on the ID card)")
            for n, item in enumerate(app.items) if item.holder.id_valid_from is None
        ]

    def _channel_problems(self, app: Application) -> list[Problem]:
        pickup = app.pickup
        if pickup.method is Pickup.MAIL:
            return [_known("channel_details", "pickup.mail_to", MSG_MAIL_TO)] if pickup.missing_mail_details() else []
        outlets = {o.code for o in self.data.outlets}
        if pickup.outlet not in outlets:
            return [_known("channel_details", "pickup.outlet", MSG_OUTLET)]
        return []

    def _menu_problems(self, app: Application) -> list[Problem]:
        offered = {b.business for b in self.data.businesses}
        problems: list[Problem] = []
        seen = {app.business}
        for n, business in enumerate(app.also):
            if business not in offered:
                problems.append(_problem("menu", f"also[{n}]", f"杭州分中心业务菜单中没有此业务：{business}",
                                         f"The Hangzhou business menu has no business {business}"))
            elif business in seen:
                problems.append(_problem("menu", f"also[{n}]", f"业务重复勾选：{business}",
                                         f"Business ticked twice: {business}"))
            seen.add(business)
        return problems


plugin = Hangzhou(load_region_data(Path(__file__).with_name("region.toml")))
