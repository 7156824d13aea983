"""`eportcard guide / deadline / new-region` as a newcomer runs them: no config file at all."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from core.cli import main
from core.plugins import BUILTIN_REGIONS


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no eportcard.toml here or anywhere the command looks
    monkeypatch.delenv("EPORTCARD_CONFIG", raising=False)
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    return run


def test_guide_in_chinese_by_default_and_english_on_request(cli):
    zh = cli("guide", "shenzhen", "enrol", "--today", "2026-09-30")
    assert zh.startswith("深圳") and "【所需材料】" in zh and "营业执照" in zh
    en = cli("guide", "shenzhen", "enrol", "--lang", "en", "--today", "2026-09-30")
    assert en.startswith("Shenzhen") and "== Materials ==" in en and "Business licence" in en


def test_guide_for_every_region_and_business_from_the_cli(cli, rulebook):
    for code, _ in BUILTIN_REGIONS:
        for offer in rulebook.offers(code):
            data = json.loads(cli("guide", code, offer.business.value, "--json"))
            assert data["region"]["code"] == code and data["business"] == offer.business.value
            assert offer.name.zh in cli("guide", code, offer.business.value)


def test_guide_json_counts_due_dates_from_today(cli):
    data = json.loads(cli("guide", "xiamen", "enrol", "--json", "--today", "2026-09-30"))
    assert data["today"] == "2026-09-30"
    assert data["due"] and all(date.fromisoformat(d["due"]) > date(2026, 10, 7) for d in data["due"])
    today = json.loads(cli("guide", "xiamen", "enrol", "--json"))["today"]
    assert date.fromisoformat(today)  # defaults to today's date in China


def test_deadline_lists_milestones_on_the_working_day_calendar(cli, working_day):
    rows = json.loads(cli("deadline", "xiamen", "enrol", "--from", "2026-09-30", "--json"))
    assert rows
    for row in rows:
        assert date.fromisoformat(row["due"]) > date(2026, 10, 7)
    text = cli("deadline", "xiamen", "enrol", "--from", "2026-09-30")
    assert all(row["due"] in text for row in rows)
    assert working_day(date(2026, 9, 30), rows[0]["days"]).isoformat() == rows[0]["due"]


def test_deadline_says_so_when_the_region_states_no_timeframe(cli):
    out = cli("deadline", "changchun", "enrol", "--from", "2026-03-02")
    assert "未说明办理时限" in out


def test_unknown_region_and_business_are_one_line_bilingual_errors_listing_valid_codes(cli):
    out = cli("guide", "atlantis", "enrol", ok=False)
    assert "未知或未启用的分中心" in out and "unknown or disabled region" in out
    assert all(code in out for code, _ in BUILTIN_REGIONS) and "Traceback" not in out
    out = cli("guide", "shenzhen", "teleport", ok=False)
    assert "未知的业务代码" in out and "unknown business code" in out and "enrol" in out
    out = cli("guide", "changchun", "temporary_card", ok=False)
    assert "does not offer temporary_card" in out and "enrol" in out
    out = cli("deadline", "xiamen", "enrol", "--from", "30/09/2026", ok=False)
    assert "YYYY-MM-DD" in out


def test_a_config_allow_list_limits_the_regions(cli, tmp_path):
    (tmp_path / "cfg.toml").write_text('[regions]\nenabled = ["xiamen"]\n[calendar]\nholidays = [2026-10-08]\n',
                                       encoding="utf-8")
    out = CliRunner().invoke(main, ["--config", str(tmp_path / "cfg.toml"), "guide", "shenzhen", "enrol"])
    assert out.exit_code == 1 and "xiamen" in out.output
    rows = json.loads(CliRunner().invoke(main, ["--config", str(tmp_path / "cfg.toml"), "deadline", "xiamen",
                                                "enrol", "--from", "2026-09-30", "--json"]).output)
    assert all(row["due"] != "2026-10-08" for row in rows)  # the deployment's extra day off is skipped


def test_new_region_writes_a_distribution_and_refuses_to_overwrite(cli, tmp_path):
    out = cli("new-region", "ningbo", "--dir", str(tmp_path), "--name-zh", "宁波", "--name-en", "Ningbo")
    dist = tmp_path / "eportcard-region-ningbo"
    assert str(dist) in out
    pyproject = (dist / "pyproject.toml").read_text(encoding="utf-8")
    assert 'ningbo = "eportcard_region_ningbo:plugin"' in pyproject and '"eportcard.regions"' in pyproject
    assert "宁波" in (dist / "eportcard_region_ningbo" / "region.toml").read_text(encoding="utf-8")
    assert (dist / "tests" / "test_conformance.py").exists() and (dist / "README.md").exists()
    before = (dist / "pyproject.toml").stat().st_mtime_ns
    assert "already exists" in cli("new-region", "ningbo", "--dir", str(tmp_path), ok=False)
    assert (dist / "pyproject.toml").stat().st_mtime_ns == before
    assert "invalid" in cli("new-region", "Bad-Code", "--dir", str(tmp_path), ok=False)
    assert "built in" in cli("new-region", "xiamen", "--dir", str(tmp_path), ok=False)


@pytest.mark.parametrize("option, day", [("--from", "9999-12-31"), ("--from", "0001-01-01"),
                                         ("--today", "2101-01-01"), ("--today", "1949-12-31")])
def test_a_day_outside_the_working_day_calendar_is_a_one_line_error(cli, option, day):
    """Issue #9.12: 9999-12-31 was a traceback (OverflowError), 0001-01-01 gave year-1 due dates."""
    command = ["deadline", "xiamen", "renew", "--from", day] if option == "--from" else \
        ["guide", "xiamen", "renew", "--today", day]
    out = cli(*command, ok=False)
    lines = out.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out, out
    assert f"{option} 的日期 {day} 超出工作日历的范围（1950–2100 年）" in out
    assert f"{option} {day} is outside the working-day calendar (1950–2100)" in out
    assert cli("deadline", "xiamen", "renew", "--from", "2100-12-31")  # the last year still counts


def test_deadline_and_guide_agree_that_card_making_follows_the_mail_request(cli):
    """Xi'an: 电子口岸审核 (1-2 working days) → 工商局审核 → 申请电子口岸卡邮寄 → 制卡 (1-2 working days): the
    making has no date until the mail request is made; the command and the guide say the same."""
    rows = json.loads(cli("deadline", "xian", "enrol", "--from", "2026-09-30", "--json"))
    assert [(r["code"], r["counted_from"], r["step"], r["due"]) for r in rows] == [
        ("review", "submitted", None, "2026-10-09"), ("making", "step", "mail_request", None)]
    text = cli("deadline", "xian", "enrol", "--from", "2026-09-30")
    assert "2026-10-09  电子口岸审核（提交后1-2个工作日）" in text
    assert "—  电子口岸制卡（“申请电子口岸卡邮寄”后1-2个工作日；日期取决于该步骤何时完成）" in text
    guide = cli("guide", "xian", "enrol", "--today", "2026-09-30")
    assert "电子口岸制卡：“申请电子口岸卡邮寄”后1-2个工作日 → 日期取决于该步骤何时完成" in guide
    en = cli("deadline", "xian", "enrol", "--from", "2026-09-30", "--lang", "en")
    assert "—  Card making (1-2 working days after “Request the cards by mail”; no date: it depends on when" in en


def test_guide_json_carries_the_requirements_readings_and_materials_by_channel(cli):
    data = json.loads(cli("guide", "xiamen", "enrol", "--json", "--today", "2026-09-30"))
    assert [r["code"] for r in data["requirements"]] == ["channel", "one_card_per_holder", "mail_address"]
    assert all(r["text"]["zh"] and r["text"]["en"] for r in data["requirements"])
    assert {r["kind"] for r in data["readings"]} == {"interpretation"}
    groups = {tuple(g["kinds"]): [m["material"]["code"] for m in g["materials"]] for g in data["material_groups"]}
    assert groups[("web",)] == ["power_of_attorney"] and groups[("post",)] == ["acceptance_form", "card_register_form"]
