"""Identifier validation: USCC, resident ID, other person IDs, customs code, mobile, device number.

Each ``validate_*`` function returns the normalised value or raises ``InvalidInput`` that names
the field and says, in Chinese and English, what is wrong and what to do. ``validate_person`` and
``validate_enterprise`` collect every problem instead of stopping at the first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from stdnum.cn import ric, uscc

from core.errors import InvalidInput
from core.model.enums import IdType
from core.model.parties import Enterprise, Person
from core.privacy import mask_id  # re-exported: one masking rule for the whole system

__all__ = [
    "is_standin_device_no", "mask_id", "parse_id_validity", "validate_customs_code", "validate_device_no",
    "validate_enterprise", "validate_mobile", "validate_person", "validate_person_id",
    "validate_resident_id", "validate_uscc",
]

# GB 32100-2015 alphabet (no I, O, S, V, Z); stdnum uses the same one for the check digit.
_USCC_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")
# First two digits of a resident ID: provinces, plus 71/81/82/83 used by residence permits
# for Taiwan, Hong Kong and Macao residents.
_PROVINCE_PREFIXES = frozenset(
    {*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66),
     71, 81, 82, 83}
)
_OTHER_ID_RE = re.compile(r"[A-Z0-9]{5,20}")
_CUSTOMS_CODE_RE = re.compile(r"[0-9A-Z]{10}")
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_DEVICE_NO_RE = re.compile(r"[0-9]{13}")
_STANDIN_PREFIX = "89"
_LONG_TERM = "00000000"

_ID_TYPE_NAMES = {
    IdType.PASSPORT: ("护照号码", "passport number"),
    IdType.HK_MACAO_PERMIT: ("港澳居民来往内地通行证号码", "Mainland Travel Permit (HK/Macao) number"),
    IdType.TAIWAN_PERMIT: ("台湾居民来往大陆通行证号码", "Mainland Travel Permit (Taiwan) number"),
    IdType.FOREIGN_PERMANENT: ("外国人永久居留身份证号码", "Foreign Permanent Resident ID number"),
}


def _squeeze(value: str) -> str:
    """Upper-case and drop every kind of whitespace (including full-width spaces)."""
    return "".join(str(value).split()).upper()


def _invalid(field: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput(zh, en, field=field)


def validate_uscc(value: str, field: str = "uscc") -> str:
    """统一社会信用代码: 18 characters from the GB 32100 alphabet with a valid check character."""
    number = _squeeze(value)
    if not number:
        raise _invalid(field, "请填写统一社会信用代码（18位）。",
                       "Enter the unified social credit code (18 characters).")
    if len(number) != 18:
        raise _invalid(field, f"统一社会信用代码应为18位，当前为{len(number)}位；请对照营业执照核对。",
                       f"The unified social credit code must have 18 characters, not {len(number)}; "
                       "check it against the business licence.")
    bad = sorted({c for c in number if c not in _USCC_ALPHABET})
    if bad:
        raise _invalid(field, f"统一社会信用代码含有不允许的字符 {''.join(bad)}"
                              "（不使用 I、O、S、V、Z）；请对照营业执照核对。",
                       f"The unified social credit code contains characters that are not allowed: "
                       f"{''.join(bad)} (I, O, S, V and Z are never used); check it against the licence.")
    if not number[2:8].isdigit():
        raise _invalid(field, "统一社会信用代码第3至8位应为行政区划代码（数字）；请对照营业执照核对。",
                       "Characters 3 to 8 of the unified social credit code are the area code and "
                       "must be digits; check it against the business licence.")
    if number[-1] != uscc.calc_check_digit(number):
        raise _invalid(field, "统一社会信用代码校验位不正确，可能有字符录入错误；请对照营业执照逐位核对。",
                       "The check character of the unified social credit code is wrong, so a "
                       "character was probably mistyped; check it against the business licence.")
    return number


def validate_resident_id(value: str, field: str) -> str:
    """18-digit resident ID (居民身份证): province, real birth date, check digit; ``x`` becomes ``X``."""
    number = _squeeze(value)
    if not number:
        raise _invalid(field, "请填写18位居民身份证号码。", "Enter the 18-digit resident ID number.")
    if len(number) != 18:
        raise _invalid(field, f"居民身份证号码应为18位，当前为{len(number)}位；请对照身份证核对。",
                       f"A resident ID number has 18 characters, not {len(number)}; "
                       "check it against the ID card.")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise _invalid(field, "居民身份证号码前17位应为数字，最后一位为数字或X；请对照身份证核对。",
                       "The first 17 characters of a resident ID number are digits and the last is a "
                       "digit or X; check it against the ID card.")
    if int(number[:2]) not in _PROVINCE_PREFIXES:
        raise _invalid(field, "居民身份证号码前两位不是有效的省级行政区代码；请对照身份证核对。",
                       "The first two digits of the resident ID number are not a valid province code; "
                       "check it against the ID card.")
    birth = _parse_yyyymmdd(number[6:14])
    if birth is None or birth.year < 1900 or birth > date.today():
        raise _invalid(field, "居民身份证号码中的出生日期（第7至14位）不是有效日期；请对照身份证核对。",
                       "The birth date in the resident ID number (characters 7 to 14) is not a real "
                       "date; check it against the ID card.")
    # The birthplace table in stdnum lags new county codes, so only the checksum is taken from it.
    if number[-1] != ric.calc_check_digit(number):
        raise _invalid(field, "居民身份证号码校验位不正确，可能有数字录入错误；请对照身份证逐位核对。",
                       "The check digit of the resident ID number is wrong, so a digit was probably "
                       "mistyped; check it against the ID card.")
    return number


def validate_person_id(id_type: IdType, value: str, field: str) -> str:
    """A person's ID number: resident IDs strictly; other documents by length and character set."""
    if id_type == IdType.RESIDENT_ID:
        return validate_resident_id(value, field)
    zh_name, en_name = _ID_TYPE_NAMES.get(id_type, ("证件号码", "ID number"))
    number = _squeeze(value).replace("(", "").replace(")", "").replace("（", "").replace("）", "")
    if not number:
        raise _invalid(field, f"请填写{zh_name}。", f"Enter the {en_name}.")
    if not _OTHER_ID_RE.fullmatch(number):
        raise _invalid(field, f"{zh_name}应为5至20位字母或数字；请对照证件核对。",
                       f"The {en_name} must be 5 to 20 letters or digits; check it against the document.")
    return number


def validate_customs_code(value: str, field: str = "customs_codes") -> tuple[str, ...]:
    """海关编码: 10 digits / upper-case letters; two codes side by side are entered as ``A&B``."""
    text = _squeeze(value).replace("＆", "&")  # full-width ampersand from Chinese input methods
    if not text:
        raise _invalid(field, "请填写10位海关编码；双码并存时录入格式为“编码&编码”。",
                       "Enter the 10-character customs code; enter two codes as \"code&code\".")
    codes = tuple(text.split("&"))
    if len(codes) > 2:
        raise _invalid(field, f"最多录入两个海关编码（双码并存），当前为{len(codes)}个。",
                       f"At most two customs codes may be entered (dual codes), not {len(codes)}.")
    if any(not code for code in codes):
        raise _invalid(field, "海关编码不能为空；双码并存时录入格式为“编码&编码”，&两侧都要有编码。",
                       "A customs code is empty; enter two codes as \"code&code\" with a code on both "
                       "sides of &.")
    for code in codes:
        if not _CUSTOMS_CODE_RE.fullmatch(code):
            raise _invalid(field, f"海关编码“{code}”应为10位数字或大写字母；请对照海关备案回执核对。",
                           f"The customs code \"{code}\" must be 10 digits or capital letters; check it "
                           "against the customs registration receipt.")
    if len(set(codes)) != len(codes):
        raise _invalid(field, "两个海关编码相同；双码并存时请录入两个不同的编码。",
                       "The two customs codes are the same; for dual codes enter two different codes.")
    return codes


def validate_mobile(value: str, field: str = "phone") -> str:
    """Mainland mobile number: 11 digits starting 1[3-9]; an optional +86 / 0086 prefix is dropped."""
    number = _squeeze(value).replace("-", "")
    for prefix in ("+86", "0086"):
        if number.startswith(prefix) and len(number) == 11 + len(prefix):
            number = number[len(prefix):]
    if not _MOBILE_RE.fullmatch(number):
        raise _invalid(field, "请填写11位中国大陆手机号码（以13至19开头）。",
                       "Enter an 11-digit mainland China mobile number (starting 13 to 19).")
    return number


def is_standin_device_no(value: str) -> bool:
    """A 13-digit number starting with 89: the stand-in entered when a device's number is lost."""
    number = _squeeze(value)
    return bool(_DEVICE_NO_RE.fullmatch(number)) and number.startswith(_STANDIN_PREFIX)


def validate_device_no(value: str, field: str = "device_no", allow_standin: bool = False) -> str:
    """设备编号: the 13 digits under the barcode on the back of the card / key.

    Where the region allows it (Hangzhou), a lost number may be replaced by a 13-digit number
    starting with 89; elsewhere such a number is refused because it is not a real device's.
    """
    number = _squeeze(value)
    if not _DEVICE_NO_RE.fullmatch(number):
        zh = "设备编号应为13位数字，即电子口岸卡背面条码下方的数字。"
        en = "The device number has 13 digits: the number under the barcode on the back of the card."
        if allow_standin:
            zh += "如编号遗失，可填写以89开头的13位数字，并在备注栏注明忘记设备编号。"
            en += (" If it is lost, enter a 13-digit number starting with 89 and say in the remarks "
                   "that the device number was forgotten.")
        raise _invalid(field, zh, en)
    if number.startswith(_STANDIN_PREFIX) and not allow_standin:
        raise _invalid(field, "以89开头的编号是遗失时的替代编号，本地区不接受；"
                              "请填写卡背面条码下方的13位设备编号。",
                       "Numbers starting with 89 stand in for a lost device number and are not "
                       "accepted here; enter the 13 digits under the barcode on the back of the card.")
    return number


def _parse_yyyymmdd(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def parse_id_validity(value: str, field: str) -> date | None:
    """An ID's validity date as YYYYMMDD; ``00000000`` means long-term and returns None."""
    text = _squeeze(value)
    if text == _LONG_TERM:
        return None
    parsed = _parse_yyyymmdd(text)
    if parsed is None or parsed.year < 1900:
        raise _invalid(field, "证件有效期应为8位日期（年月日，如20300131）；长期有效请填写00000000。",
                       "Enter the ID validity date as 8 digits, year month day (e.g. 20300131); "
                       "enter 00000000 for long-term.")
    return parsed


def _collect(problems: list[InvalidInput], check: Callable[..., object], *args: object) -> None:
    try:
        check(*args)
    except InvalidInput as problem:
        problems.append(problem)


def validate_person(person: Person, field_prefix: str, *, today: date | None = None) -> list[InvalidInput]:
    """Every problem with a person's identifiers, each naming ``<field_prefix>.<attribute>``.

    With ``today`` an ID that has already expired is reported too.
    """
    problems: list[InvalidInput] = []
    if not person.name.strip():
        problems.append(_invalid(f"{field_prefix}.name", "请填写姓名。", "Enter the name."))
    _collect(problems, validate_person_id, person.id_type, person.id_number, f"{field_prefix}.id_number")
    if person.phone:  # whether a phone is required is a regional rule; a given one must be valid
        _collect(problems, validate_mobile, person.phone, f"{field_prefix}.phone")
    valid_from, valid_to = person.id_valid_from, person.id_valid_to
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        problems.append(_invalid(f"{field_prefix}.id_valid_to",
                                 "证件有效期截止日期早于起始日期；请对照证件核对。",
                                 "The ID's expiry date is before its issue date; check them against the "
                                 "document."))
    elif today is not None and valid_to is not None and valid_to < today:
        problems.append(_invalid(f"{field_prefix}.id_valid_to", "证件已过有效期；请使用有效证件。",
                                 "The ID has expired; use a valid identity document."))
    return problems


def validate_enterprise(enterprise: Enterprise, *, today: date | None = None) -> list[InvalidInput]:
    """Every problem with an enterprise's identifiers and its legal representative's."""
    problems: list[InvalidInput] = []
    _collect(problems, validate_uscc, enterprise.uscc, "uscc")
    if not enterprise.name.strip():
        problems.append(_invalid("name", "请填写单位中文名称。", "Enter the enterprise's Chinese name."))
    if enterprise.customs_codes:  # an enterprise may not have registered with customs yet
        _collect(problems, validate_customs_code, enterprise.customs_code_text, "customs_codes")
    problems.extend(validate_person(enterprise.legal_rep, "legal_rep", today=today))
    return problems
