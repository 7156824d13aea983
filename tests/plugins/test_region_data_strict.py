"""Region data are read strictly, and every mistake names its file, line and path.

Each test writes one mistake into a small valid region file and asserts the exact line it was written
on, the path inside the document (list indexes kept) and the reason, in Chinese and in English.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import cattrs
import pytest
from attrs import frozen

from core.calendar import WorkCalendar
from core.config import parse_settings
from core.convert import make_config_converter, mistakes
from core.errors import ConfigError
from core.guide.build import Guide, build_guide, deadline
from core.guide.render import guide_json, render_deadlines, render_text
from core.model import Business
from core.plugins import get_plugin_manager
from core.regiondata import DataRegion, load_region_data
from core.rulebook import Rulebook
from core.rules import Condition, MaterialForm

CJK = re.compile(r"[\u4e00-\u9fff]")

VALID = """\
# A small region, valid as written: each test writes one mistake into it.
[region]
code = "testland"
name = { zh = "测试", en = "Testland" }
centre = { zh = "测试分中心", en = "Testland branch" }
hotlines = ["000-00000000"]
source = "test.txt"

[[outlets]]
code = "counter"
name = { zh = "窗口", en = "Counter" }
kind = "centre"
address = { zh = "某路1号", en = "1 Some Road" }
mail_possible = true
source = "test.txt"

[[forms]]
code = "附件1"
title = { zh = "登记表", en = "Registration form" }
source = "test.txt"

[[businesses]]
business = "enrol"
name = { zh = "新入网", en = "New enrolment" }
forms = ["附件1"]
source = "test.txt"

[[businesses.channels]]
kind = "web"
name = { zh = "网上办理", en = "Online" }
source = "test.txt"

[[businesses.materials]]
code = "licence"
name = { zh = "营业执照", en = "Business licence" }
form = "scan"
source = "test.txt"

[[businesses.materials]]
code = "registration"
name = { zh = "登记表", en = "Registration form" }
form = "form"
template = "附件1"
source = "test.txt"

[[businesses.materials]]
code = "power_of_attorney"
name = { zh = "授权委托书", en = "Power of attorney" }
form = "original"
stamped = true
copies = 2
condition = "agent_not_legal_rep"
source = "test.txt"

[businesses.timeframe]
source = "test.txt"
deadlines = [
  { code = "review", name = { zh = "审核", en = "Review" }, days = 1, counted_from = "submitted" },
  # a comment between elements: the next one is still deadlines[1]
  { code = "making", name = { zh = "制卡", en = "Card making" }, days = 3, counted_from = "previous" },
]

[[businesses]]
business = "unlock"
name = { zh = "解锁", en = "Unlock" }
source = "test.txt"

[[businesses.channels]]
kind = "on_site"
name = { zh = "现场办理", en = "On site" }
source = "test.txt"

[[businesses.materials]]
code = "legal_card"
name = { zh = "法人卡", en = "The legal card" }
form = "card"
source = "test.txt"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "region.toml"
    path.write_text(text, encoding="utf-8")
    return path


def with_mistake(old: str, new: str, nth: int = 1, text: str = VALID) -> tuple[str, int]:
    """``text`` with the ``nth`` line equal to ``old`` replaced by ``new`` (which may be empty: the line
    is deleted), and the 1-based number of that line."""
    lines = text.splitlines()
    found = [n for n, line in enumerate(lines) if line == old]
    assert len(found) >= nth, f"{old!r} is not in the valid file {nth} times"
    index = found[nth - 1]
    lines[index:index + 1] = [new] if new else []
    return "\n".join(lines) + "\n", index + 1


def refused(tmp_path: Path, text: str) -> tuple[Path, ConfigError]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_region_data(path)
    return path, err.value


def test_the_valid_file_loads_as_written(tmp_path):
    data = load_region_data(write(tmp_path, VALID))
    assert data.outlets[0].mail_possible is True
    enrol, unlock = data.businesses
    attorney = enrol.materials[2]
    assert (attorney.form, attorney.stamped, attorney.copies, attorney.condition) == (
        MaterialForm.ORIGINAL, True, 2, Condition.AGENT_NOT_LEGAL_REP)
    assert [d.days for d in enrol.timeframe.deadlines] == [1, 3]
    assert unlock.materials[0].form is MaterialForm.CARD


# (line in the valid file, the mistake written instead, occurrence, path, English reason, Chinese reason)
MISTAKES = [
    pytest.param("mail_possible = true", 'mail_possible = "no"', 1, "$.outlets[0].mail_possible",
                 "expected bool (true or false), got str 'no'", "应为布尔值（true 或 false），实际为 str 'no'",
                 id="string-for-bool"),
    pytest.param("stamped = true", 'stamped = "false"', 1, "$.businesses[0].materials[2].stamped",
                 "expected bool (true or false), got str 'false'", "应为布尔值", id="string-false-for-bool"),
    pytest.param("mail_possible = true", "mail_possible = 1", 1, "$.outlets[0].mail_possible",
                 "expected bool (true or false), got int 1", "应为布尔值", id="int-for-bool"),
    pytest.param("copies = 2", "copies = 3.7", 1, "$.businesses[0].materials[2].copies",
                 "expected int (a whole number), got float 3.7", "应为整数，实际为 float 3.7", id="float-for-int"),
    pytest.param("copies = 2", 'copies = "2"', 1, "$.businesses[0].materials[2].copies",
                 "expected int (a whole number), got str '2'", "应为整数", id="string-for-int"),
    pytest.param("copies = 2", "copies = true", 1, "$.businesses[0].materials[2].copies",
                 "expected int (a whole number), got bool True", "应为整数", id="bool-for-int"),
    pytest.param('code = "licence"', "code = 7", 1, "$.businesses[0].materials[0].code",
                 "expected str (a quoted string), got int 7", "应为字符串", id="int-for-string"),
    pytest.param('form = "original"', 'form = "onsite"', 1, "$.businesses[0].materials[2].form",
                 "'onsite' is not one of: original, copy, scan, screenshot, card, form, number",
                 "'onsite' 不是可选值之一：original, copy, scan, screenshot, card, form, number", id="bad-enum"),
    pytest.param('business = "unlock"', 'business = "unlok"', 1, "$.businesses[1].business",
                 "'unlok' is not one of: enrol,", "'unlok' 不是可选值之一：enrol,", id="bad-business-code"),
    # the second business's first material: per-parent counting of [[businesses.materials]]
    pytest.param('form = "card"', 'colour = "red"\nform = "card"', 1, "$.businesses[1].materials[0].colour",
                 "unknown key 'colour' (allowed: code, name, form,", "未知的键 'colour'", id="unknown-key"),
    pytest.param('hotlines = ["000-00000000"]', 'hotlines = "000-00000000"', 1, "$.region.hotlines",
                 "expected a list, got str '000-00000000'", "应为列表", id="string-for-list"),
    pytest.param('name = { zh = "窗口", en = "Counter" }', 'name = { zh = "窗口", fr = "Guichet" }', 1,
                 "$.outlets[0].name", "unknown keys ['fr'] in text (use zh / en)", "文本中有未知的键",
                 id="text-with-unknown-language"),
    pytest.param('  { code = "making", name = { zh = "制卡", en = "Card making" }, days = 3, counted_from = "previous" },',
                 '  { code = "making", name = { zh = "制卡", en = "Card making" }, days = "3", counted_from = "previous" },', 1,
                 "$.businesses[0].timeframe.deadlines[1].days", "expected int (a whole number), got str '3'",
                 "应为整数", id="inline-table-in-a-multiline-array"),
    pytest.param('forms = ["附件1"]', 'forms = ["附件1", "附件9"]', 1, "$.businesses[0].forms[1]",
                 "form '附件9' is not defined in [[forms]] (defined: 附件1)", "表格 '附件9' 未在 [[forms]] 中定义",
                 id="undefined-form-code"),
]


@pytest.mark.parametrize(("old", "new", "nth", "where", "en", "zh"), MISTAKES)
def test_a_mistake_names_file_line_path_and_reason(tmp_path, old, new, nth, where, en, zh):
    text, line = with_mistake(old, new, nth)
    path, err = refused(tmp_path, text)
    assert f"\n{path}:{line}: {where}: {en}" in err.en
    assert f"\n{path}:{line}: {where}: {zh}" in err.zh
    assert err.en.startswith("region data is invalid:") and err.zh.startswith("分中心数据有误：")
    assert err.field == where


def test_a_missing_required_field_points_at_the_table_it_is_missing_from(tmp_path):
    text, deleted = with_mistake('code = "registration"', "")
    path, err = refused(tmp_path, text)
    header = deleted - 1  # the [[businesses.materials]] line just above the deleted one
    assert text.splitlines()[header - 1] == "[[businesses.materials]]"
    assert f"{path}:{header}: $.businesses[0].materials[1].code: required field missing" in err.en
    assert f"{path}:{header}: $.businesses[0].materials[1].code: 缺少必填项" in err.zh


def test_a_missing_top_level_table_points_at_the_first_line(tmp_path):
    path, err = refused(tmp_path, VALID.replace("[region]\n", "[regio]\n"))
    assert f"{path}:2: $.regio: unknown key 'regio'" in err.en
    assert f"{path}:1: $.region: required field missing" in err.en


def test_a_table_given_as_a_scalar_is_named(tmp_path):
    text, line = with_mistake('business = "unlock"', 'courier = "by post"\nbusiness = "unlock"')
    path, err = refused(tmp_path, text)
    assert f"{path}:{line}: $.businesses[1].courier: expected a table, got str 'by post'" in err.en
    assert f"{path}:{line}: $.businesses[1].courier: 应为表，实际为 str 'by post'" in err.zh


def test_every_mistake_is_reported_one_line_each_in_file_order(tmp_path):
    text, bool_line = with_mistake("mail_possible = true", 'mail_possible = "yes"')
    text = text.replace('form = "original"', 'form = "onsite"').replace("copies = 2", "copies = 2.5")
    lines = text.splitlines()
    enum_line, copies_line = lines.index('form = "onsite"') + 1, lines.index("copies = 2.5") + 1
    path, err = refused(tmp_path, text)
    reported = err.en.splitlines()[1:]
    assert [r.split(": ")[0] for r in reported] == [f"{path}:{bool_line}", f"{path}:{enum_line}",
                                                   f"{path}:{copies_line}"]
    assert len(err.zh.splitlines()) == len(err.en.splitlines()) == 4


def test_a_syntax_error_keeps_tomllibs_line(tmp_path):
    text, line = with_mistake('source = "test.txt"', 'source = "test.txt', 3)
    path, err = refused(tmp_path, text)
    assert f"\n{path}:{line}: " in err.en and f"\n{path}:{line}: " in err.zh
    assert "not valid TOML" in err.en and "不是合法的 TOML" in err.zh


def test_a_syntax_error_at_the_end_names_the_last_line(tmp_path):
    text = VALID + "deadlines = [\n"
    path, err = refused(tmp_path, text)
    assert f"\n{path}:{len(text.splitlines())}: " in err.en


def test_an_unreadable_file_is_a_bilingual_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_region_data(tmp_path / "absent.toml")
    assert "cannot read region data" in err.value.en and "无法读取分中心数据" in err.value.zh
    (tmp_path / "latin1.toml").write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot read region data"):
        load_region_data(tmp_path / "latin1.toml")


# -- the same strict converter reads every TOML document of the project --------------------------------


@frozen
class Measures:
    ratio: float
    count: int = 0
    label: str = ""
    flag: bool = False


@pytest.mark.parametrize(("raw", "expected"), [
    ({"ratio": 0.5}, Measures(0.5)),
    ({"ratio": 2}, Measures(2.0)),  # a TOML integer is a number too
    ({"ratio": 1.0, "count": 3, "label": "x", "flag": False}, Measures(1.0, 3, "x", False)),
])
def test_a_float_takes_a_toml_float_or_integer(raw, expected):
    value = make_config_converter().structure(raw, Measures)
    assert value == expected and type(value.ratio) is float


@pytest.mark.parametrize(("raw", "where", "reason"), [
    ({"ratio": True}, ("ratio",), "expected float (a number), got bool True"),
    ({"ratio": "0.5"}, ("ratio",), "expected float (a number), got str '0.5'"),
    ({"ratio": 1.0, "count": False}, ("count",), "expected int (a whole number), got bool False"),
    ({"ratio": 1.0, "label": 12}, ("label",), "expected str (a quoted string), got int 12"),
    ({"ratio": 1.0, "flag": 0}, ("flag",), "expected bool (true or false), got int 0"),
])
def test_a_scalar_of_another_toml_type_is_refused(raw, where, reason):
    with pytest.raises(cattrs.ClassValidationError) as err:
        make_config_converter().structure(raw, Measures)
    assert [(m.path, m.en) for m in mistakes(err.value)] == [(where, reason)]


@pytest.mark.parametrize(("text", "where", "reason"), [
    ('[web]\nsecure_cookies = "false"\n', "$.web.secure_cookies", "expected bool (true or false), got str 'false'"),
    ("[web]\nport = 8000.0\n", "$.web.port", "expected int (a whole number), got float 8000.0"),
    ("[storage]\nmax_upload_bytes = true\n", "$.storage.max_upload_bytes", "expected int (a whole number), got bool"),
])
def test_the_deployment_config_is_strict_too(text, where, reason):
    with pytest.raises(ConfigError) as err:
        parse_settings(text)
    assert where in err.value.en and reason in err.value.en


def test_list_items_keep_their_index_in_the_config_path():
    with pytest.raises(ConfigError) as err:
        parse_settings('[calendar]\nholidays = [2031-01-01, "2031-13-01"]\n')
    assert "$.calendar.holidays[1]" in err.value.en and "not a date (YYYY-MM-DD): '2031-13-01'" in err.value.en


# -- what people read: every courier text in both languages, English counts that agree ---------------

COURIER_AND_ONES = VALID + """
[businesses.courier]
source = "test.txt"
[businesses.courier.inbound]
accepted = true
carriers = [{ zh = "邮政EMS", en = "China Post EMS" }, { zh = "顺丰速运", en = "SF Express" }]
payer = "enterprise"
to = { address = { zh = "某路1号", en = "1 Some Road" }, recipient = { zh = "服务台", en = "service desk" }, phone = "000-1" }
[businesses.courier.outbound]
mail = true
dispatch_after_days = 1
counted_from = "received"
carrier = { zh = "邮政EMS", en = "China Post EMS" }

[businesses.timeframe]
source = "test.txt"
deadlines = [{ code = "handling", name = { zh = "办理", en = "Handling" }, days = 1, counted_from = "received" }]

[[businesses.steps]]
code = "card_received"
name = { zh = "收到法人卡", en = "Legal card received" }
after = "accepted"
actor = "staff"
channels = ["post"]
source = "test.txt"

[card_policy]
pin_retry_limit = 1
validity_years = 1
renewal_window_days = 1
source = "test.txt"
"""
TODAY = date(2026, 9, 30)


def rulebook_of(tmp_path: Path, text: str = COURIER_AND_ONES) -> Rulebook:
    plugin = DataRegion(load_region_data(write(tmp_path, text)))
    return Rulebook(get_plugin_manager(extra=[("testland", plugin)]))


def guide(tmp_path: Path, business: Business, text: str = COURIER_AND_ONES) -> Guide:
    return build_guide(rulebook_of(tmp_path, text), WorkCalendar(), "testland", business, TODAY)


def test_the_courier_reads_in_each_language(tmp_path):
    unlock = guide(tmp_path, Business.UNLOCK)
    en, zh = render_text(unlock, "en"), render_text(unlock, "zh")
    assert "  Carriers: China Post EMS, SF Express\n" in en
    assert "  限用快递：邮政EMS、顺丰速运\n" in zh
    assert "  Postage paid by: the enterprise (sender pays)\n" in en
    assert "  邮费承担：企业自付（寄付）\n" in zh
    assert "  Send to: 1 Some Road; recipient: service desk; phone: 000-1\n" in en
    assert "  寄至：某路1号；收件人：服务台；电话：000-1\n" in zh
    assert "  Carrier: China Post EMS\n" in en and "  承运：邮政EMS\n" in zh
    assert "Send the materials (only by China Post EMS, SF Express) to: 1 Some Road." in en
    assert "寄送材料（仅限邮政EMS、顺丰速运）至：某路1号。" in zh
    courier = en.split("== Post and card delivery ==")[1].split("\n==")[0]
    assert not CJK.search(courier), courier


def test_a_region_step_names_who_does_it_and_when_in_each_language(tmp_path):
    unlock = guide(tmp_path, Business.UNLOCK)
    en, zh = render_text(unlock, "en"), render_text(unlock, "zh")
    assert "- Legal card received (done by the branch centre, once the application is “Accepted”)\n" in en
    assert "  Only for: by post\n" in en
    assert "- 收到法人卡（分中心办理，申请“受理中”后）\n" in zh and "  仅适用于：邮寄材料\n" in zh


def test_the_json_guide_gives_both_languages_and_the_payer_code(tmp_path):
    inbound = guide_json(guide(tmp_path, Business.UNLOCK))["courier"]["inbound"]
    assert inbound["carriers"] == [{"zh": "邮政EMS", "en": "China Post EMS"}, {"zh": "顺丰速运", "en": "SF Express"}]
    assert inbound["to"]["recipient"] == {"zh": "服务台", "en": "service desk"}
    assert inbound["payer"] == "enterprise"


def test_a_payer_the_source_does_not_state_is_not_printed(tmp_path):
    text = COURIER_AND_ONES.replace('payer = "enterprise"\n', "")
    unlock = guide(tmp_path, Business.UNLOCK, text)
    assert unlock.courier.inbound.payer is None
    assert "Postage paid by" not in render_text(unlock, "en") and "邮费承担" not in render_text(unlock, "zh")


def test_an_unknown_payer_lists_the_payers(tmp_path):
    text, line = with_mistake('payer = "enterprise"', 'payer = "sender"', text=COURIER_AND_ONES)
    path, err = refused(tmp_path, text)
    assert f"{path}:{line}: $.businesses[1].courier.inbound.payer: 'sender' is not one of: enterprise, centre" in err.en


def test_one_of_anything_is_singular_in_english(tmp_path):
    unlock = guide(tmp_path, Business.UNLOCK)
    en, zh = render_text(unlock, "en"), render_text(unlock, "zh")
    assert "mailed no earlier than 1 working day after receipt of the materials/cards\n" in en
    assert "- Handling: 1 working day after receipt of the materials/cards → 2026-10-08\n" in en
    assert "locked after 1 wrong PIN; valid 1 year; self-service renewal within 1 day before expiry" in en
    assert not re.search(r"\b1 (working days|copies|days|years|wrong PINs)\b", en)
    # Chinese has no plural: the same sentences as always
    assert "收到材料/卡1个工作日后寄出" in zh and "- 办理：收到材料/卡后1个工作日 → 2026-10-08" in zh
    assert "连续输错 1 次锁卡；有效期 1 年；到期前 1 天内可自助延期" in zh
    rows = deadline(rulebook_of(tmp_path), WorkCalendar(), "testland", Business.UNLOCK, TODAY)
    assert render_deadlines(rows, "en") == "2026-10-08  Handling (1 working day after receipt of the materials/cards)"


def test_more_than_one_is_plural_in_english(tmp_path):
    enrol = guide(tmp_path, Business.ENROL)
    en = render_text(enrol, "en")
    assert "3. Power of attorney (original, stamped with the company seal, 2 copies)\n" in en
    assert "- Card making: 3 working days after the previous step" in en
    assert "1 working day after submission" in en  # the review, one day
