"""Identifier validation: valid values pass normalised, bad ones raise a bilingual error naming the field.

Valid check characters are computed here with an independent implementation of the published
algorithms (GB 11643 for resident IDs, GB 32100 for USCCs) and cross-checked against stdnum.
"""

from __future__ import annotations

from datetime import date

import pytest
from citations import assert_cited
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from core import ids
from core.errors import InvalidInput
from core.model import Address, Enterprise, IdType, Person

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def ric_check(first17: str) -> str:
    """GB 11643-1999 ISO 7064 MOD 11-2: weights 2^(17-i) mod 11, check = (12 - sum % 11) % 11."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def uscc_check(first17: str) -> str:
    """GB 32100-2015: weights 3^i mod 31, check = 31 - sum % 31 (31 -> 0)."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def resident_id(first17: str) -> str:
    return first17 + ric_check(first17)


def make_uscc(first17: str) -> str:
    return first17 + uscc_check(first17)


def assert_problem(exc: InvalidInput, field: str) -> None:
    assert exc.field == field
    assert exc.zh and exc.en
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.zh), "Chinese message has no Chinese"
    assert exc.en.isascii(), "English message is not plain English"
    assert exc.zh in str(exc) and exc.en in str(exc)


def raises(expected_field: str, func, *args, **kwargs) -> InvalidInput:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as info:
        func(*args, **kwargs)
    assert_problem(info.value, expected_field)
    return info.value


# -- our reference check characters agree with stdnum -----------------------------------------

@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_reference_ric_check_agrees_with_stdnum(first17: str) -> None:
    assert ric_check(first17) == stdnum_ric.calc_check_digit(first17 + "0")


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
def test_reference_uscc_check_agrees_with_stdnum(first17: str) -> None:
    assert uscc_check(first17) == stdnum_uscc.calc_check_digit(first17)


def test_known_published_examples() -> None:
    # stdnum's own doctest numbers, valid by its full validation
    assert stdnum_ric.is_valid("360426199101010071")
    assert ids.validate_resident_id("360426199101010071", "id") == "360426199101010071"
    assert stdnum_uscc.is_valid("91110000600037341L")
    assert ids.validate_uscc("91110000600037341L") == "91110000600037341L"


# -- USCC ------------------------------------------------------------------------------------

def test_uscc_valid_is_normalised() -> None:
    number = make_uscc("91440300MA5DXXXX0")
    messy = " " + number.lower()[:9] + " " + number.lower()[9:] + "\u3000"
    assert ids.validate_uscc(messy) == number


def test_uscc_allows_letter_registration_department() -> None:
    # GB 32100: the first character may be a letter (e.g. Y = other registration authorities)
    number = make_uscc("Y1440300MA5D12345")
    assert ids.validate_uscc(number) == number


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "empty"),
        ("91440300MA5D1234", "too short"),
        ("91440300MA5D123456789", "too long"),
        ("91440300MA5DI2345X", "letter I is never used"),
        ("9144A300MA5D12345X", "area code not digits"),
    ],
)
def test_uscc_rejects_malformed(value: str, why: str) -> None:
    raises("uscc", ids.validate_uscc, value)


def test_uscc_rejects_wrong_check_character() -> None:
    number = make_uscc("91440300MA5D12345")
    wrong = next(c for c in "0123456789" if c != number[-1])
    exc = raises("enterprise.uscc", ids.validate_uscc, number[:-1] + wrong, field="enterprise.uscc")
    assert "校验位" in exc.zh and "check character" in exc.en


# -- resident ID -----------------------------------------------------------------------------

def test_resident_id_lower_x_is_upper_cased() -> None:
    # find an order code whose check digit is X
    candidates = (f"44030019900101{n:03d}" for n in range(1000))
    first17 = next(c for c in candidates if ric_check(c) == "X")
    number = first17 + "X"
    assert ids.validate_resident_id(first17 + "x", "legal_rep.id_number") == number


def test_resident_id_valid() -> None:
    number = resident_id("44090219900101123")
    assert ids.validate_resident_id(f" {number} ", "id_number") == number


@pytest.mark.parametrize(
    "first17",
    [
        "44090219900230123",  # 30 February
        "44090219901301123",  # month 13
        "44090218000101123",  # before 1900
        "44090229990101123",  # in the future
        "99090219900101123",  # no province 99
    ],
)
def test_resident_id_rejects_impossible_parts_even_with_valid_check(first17: str) -> None:
    raises("holder.id_number", ids.validate_resident_id, resident_id(first17), "holder.id_number")


def test_resident_id_rejects_bad_check_digit() -> None:
    number = resident_id("44090219900101123")
    wrong = next(c for c in "0123456789X" if c != number[-1])
    exc = raises("id_number", ids.validate_resident_id, number[:-1] + wrong, "id_number")
    assert "校验位" in exc.zh


@pytest.mark.parametrize("value", ["", "4409021990010112", "44090219900101123A", "4409021990A101123X"])
def test_resident_id_rejects_malformed(value: str) -> None:
    raises("id_number", ids.validate_resident_id, value, "id_number")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_resident_id_accepts_exactly_the_right_check_digit(first17: str) -> None:
    for check in "0123456789X":
        candidate = first17 + check
        plausible = (
            int(first17[:2]) in ids._PROVINCE_PREFIXES
            and ids._parse_yyyymmdd(first17[6:14]) is not None
            and date(1900, 1, 1) <= ids._parse_yyyymmdd(first17[6:14]) <= date.today()  # type: ignore[operator]
        )
        if plausible and check == ric_check(first17):
            assert ids.validate_resident_id(candidate, "f") == candidate
        else:
            raises("f", ids.validate_resident_id, candidate, "f")


# -- other person IDs ------------------------------------------------------------------------

def test_person_id_resident_is_strict() -> None:
    raises("p.id_number", ids.validate_person_id, IdType.RESIDENT_ID, "E12345678", "p.id_number")


@pytest.mark.parametrize(
    ("id_type", "value", "normalised"),
    [
        (IdType.PASSPORT, " e1234 5678 ", "E12345678"),
        (IdType.HK_MACAO_PERMIT, "H12345678", "H12345678"),
        (IdType.TAIWAN_PERMIT, "12345678", "12345678"),
        (IdType.FOREIGN_PERMANENT, "USA123456789012", "USA123456789012"),
    ],
)
def test_person_id_other_types(id_type: IdType, value: str, normalised: str) -> None:
    assert ids.validate_person_id(id_type, value, "p.id_number") == normalised


@pytest.mark.parametrize("value", ["", "A12", "E1234-5678", "张三12345", "A" * 21])
def test_person_id_other_types_reject(value: str) -> None:
    exc = raises("p.id_number", ids.validate_person_id, IdType.PASSPORT, value, "p.id_number")
    assert "护照" in exc.zh and "passport" in exc.en


# -- customs code ----------------------------------------------------------------------------

def test_customs_code_dual_format_is_from_the_shenzhen_guide() -> None:
    assert_cited("000_acc9b246733ddaa2.txt", "变更海关编码双码并存时，录入格式为“编码&编码”保存双编码。")


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("4403960ABC", ("4403960ABC",)),
        ("4403960abc", ("4403960ABC",)),
        ("4403960ABC&4403961234", ("4403960ABC", "4403961234")),
        (" 4403960ABC ＆ 4403961234 ", ("4403960ABC", "4403961234")),
    ],
)
def test_customs_code_valid(value: str, codes: tuple[str, ...]) -> None:
    assert ids.validate_customs_code(value) == codes


@pytest.mark.parametrize(
    "value",
    [
        "",
        "440396012",  # 9 characters
        "44039601234",  # 11 characters
        "4403960AB-",
        "4403960ABC&",
        "&4403960ABC",
        "4403960ABC&4403960ABC",  # duplicate
        "4403960ABC&4403961234&4403965678",  # three
    ],
)
def test_customs_code_invalid(value: str) -> None:
    raises("customs_codes", ids.validate_customs_code, value)


# -- mobile ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "number"),
    [("13812345678", "13812345678"), ("+86 199 1234 5678", "19912345678"), ("138-1234-5678", "13812345678")],
)
def test_mobile_valid(value: str, number: str) -> None:
    assert ids.validate_mobile(value) == number


@pytest.mark.parametrize(
    "value", ["", "12812345678", "1381234567", "138123456789", "0755-95198", "1381234567a"]
)
def test_mobile_invalid(value: str) -> None:
    raises("agent.phone", ids.validate_mobile, value, "agent.phone")


# -- device number ---------------------------------------------------------------------------

def test_standin_rule_is_from_the_hangzhou_guide() -> None:
    assert_cited("003_894e1885d52798d3.txt", "如果遗失忘记,可输入以89开头的13位随机数字")


def test_device_no_valid() -> None:
    assert ids.validate_device_no(" 1234567890123 ") == "1234567890123"
    assert not ids.is_standin_device_no("1234567890123")


def test_device_no_standin_only_where_allowed() -> None:
    standin = "8900000002345"  # the example in the Hangzhou guide
    assert ids.is_standin_device_no(standin)
    assert ids.validate_device_no(standin, allow_standin=True) == standin
    exc = raises("device_no", ids.validate_device_no, standin)
    assert "89" in exc.zh and "89" in exc.en


@pytest.mark.parametrize("value", ["", "123456789012", "12345678901234", "123456789012A", "89000000023"])
def test_device_no_invalid(value: str) -> None:
    raises("cards[0].device_no", ids.validate_device_no, value, "cards[0].device_no", allow_standin=True)
    assert not ids.is_standin_device_no(value)


def test_device_no_error_mentions_standin_where_allowed() -> None:
    exc = raises("device_no", ids.validate_device_no, "12", allow_standin=True)
    assert "89" in exc.zh and "89" in exc.en


# -- ID validity -----------------------------------------------------------------------------

def test_id_validity() -> None:
    assert ids.parse_id_validity("20300131", "v") == date(2030, 1, 31)
    assert ids.parse_id_validity("00000000", "v") is None


@pytest.mark.parametrize("value", ["", "20300230", "20301301", "2030-01-31", "2030013", "长期", "18991231"])
def test_id_validity_invalid(value: str) -> None:
    raises("legal_rep.id_valid_to", ids.parse_id_validity, value, "legal_rep.id_valid_to")


# -- masking ---------------------------------------------------------------------------------

def test_mask_id_keeps_first_six_and_last_four() -> None:
    assert ids.mask_id("440902199001011234") == "440902********1234"


# -- whole records ---------------------------------------------------------------------------

def good_person(**changes: object) -> Person:
    values: dict[str, object] = {
        "name": "张三", "id_number": resident_id("44090219900101123"), "phone": "13812345678",
        "id_valid_from": date(2020, 1, 1), "id_valid_to": date(2040, 1, 1),
    }
    values.update(changes)
    return Person(**values)  # type: ignore[arg-type]


def good_enterprise(**changes: object) -> Enterprise:
    values: dict[str, object] = {
        "uscc": make_uscc("91440300MA5D12345"), "name": "深圳某某贸易有限公司", "legal_rep": good_person(),
        "business_address": Address("广东省", "深圳市", "福田区"), "customs_codes": ("4403960ABC",),
    }
    values.update(changes)
    return Enterprise(**values)  # type: ignore[arg-type]


def test_valid_records_have_no_problems() -> None:
    assert ids.validate_person(good_person(), "legal_rep") == []
    assert ids.validate_enterprise(good_enterprise(), today=date(2026, 1, 1)) == []
    assert ids.validate_enterprise(good_enterprise(customs_codes=())) == []
    passport_holder = good_person(id_type=IdType.PASSPORT, id_number="E12345678", nationality="USA")
    assert ids.validate_person(passport_holder, "operators[0]") == []


def test_person_problems_are_all_collected() -> None:
    person = good_person(name=" ", id_number="123", phone="12345", id_valid_to=date(2019, 1, 1))
    problems = ids.validate_person(person, "operators[2]")
    assert [p.field for p in problems] == [
        "operators[2].name", "operators[2].id_number", "operators[2].phone", "operators[2].id_valid_to",
    ]
    for problem in problems:
        assert_problem(problem, problem.field or "")


def test_expired_id_is_reported_only_against_a_given_today() -> None:
    person = good_person(id_valid_to=date(2026, 3, 1))
    assert ids.validate_person(person, "p") == []
    assert ids.validate_person(person, "p", today=date(2026, 3, 1)) == []
    [problem] = ids.validate_person(person, "p", today=date(2026, 3, 2))
    assert problem.field == "p.id_valid_to"


def test_long_term_id_never_expires() -> None:
    assert ids.validate_person(good_person(id_valid_to=None), "p", today=date(2099, 1, 1)) == []


def test_enterprise_problems_are_all_collected() -> None:
    enterprise = good_enterprise(
        uscc="91440300MA5D12345", name="", customs_codes=("4403960ABC", "4403960ABC"),
        legal_rep=good_person(id_number=resident_id("44090219900101123")[:-1] + "Y"),
    )
    problems = ids.validate_enterprise(enterprise)
    assert [p.field for p in problems] == ["uscc", "name", "customs_codes", "legal_rep.id_number"]
    for problem in problems:
        assert_problem(problem, problem.field or "")
