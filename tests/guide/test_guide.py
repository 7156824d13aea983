"""Guides built from the real region rules: both languages, JSON, silence, 2026 due dates."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from core.calendar import WorkCalendar
from core.guide.build import TOPICS, build_guide, deadline
from core.guide.render import guide_json, render_text, silent_line
from core.model import Business
from core.plugins import BUILTIN_REGIONS

REGIONS = [code for code, _ in BUILTIN_REGIONS]
EVE_OF_NATIONAL_DAY = date(2026, 9, 30)  # 2026: 1-7 October off, Saturday 10 October worked
CJK = re.compile(r"[\u4e00-\u9fff]")


def all_guides(rulebook, today=EVE_OF_NATIONAL_DAY):
    calendar = WorkCalendar()
    for code in REGIONS:
        for offer in rulebook.offers(code):
            yield build_guide(rulebook, calendar, code, offer.business, today)


def test_every_region_and_business_renders_in_both_languages(rulebook):
    count = 0
    for guide in all_guides(rulebook):
        zh, en = render_text(guide, "zh"), render_text(guide, "en")
        assert guide.region.centre.zh in zh and "【所需材料】" in zh and "【您需要做什么（按顺序）】" in zh
        assert "== Materials ==" in en and "== What you do, step by step ==" in en
        assert "【" not in en
        for item in guide.materials:
            assert item.material.name.zh in zh
            assert item.material.name.get("en") in en
        for channel in guide.offer.channels:
            assert channel.name.zh in zh
            for step in channel.steps:
                assert step.zh in zh and step.get("en") in en
        assert re.search(r"^1\. ", zh.split("【您需要做什么（按顺序）】")[1], re.M)  # numbered steps
        count += 1
    assert count >= len(REGIONS)


def test_english_guide_has_no_chinese_where_the_region_gave_english(rulebook):
    guide = build_guide(rulebook, WorkCalendar(), "xiamen", Business.ENROL, EVE_OF_NATIONAL_DAY)
    en = render_text(guide, "en")
    labels = [line for line in en.splitlines() if line.startswith("==")]
    assert labels and not any(CJK.search(line) for line in labels)
    assert guide.region.name.en in en and guide.region.name.zh not in en.splitlines()[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_silent_statements_appear_exactly_where_the_rule_is_a_core_default(rulebook, lang):
    for guide in all_guides(rulebook):
        stated = {"courier": guide.courier, "timeframe": guide.timeframe, "medium": guide.medium,
                  "upload": guide.upload, "card_policy": guide.card_policy}
        for topic, rule in stated.items():
            assert (topic in guide.silent) == (rule.source is None), (guide.region.code, guide.business, topic)
        listed = {"materials": guide.materials, "outlets": guide.outlets, "steps": guide.steps,
                  "forms": guide.forms}
        for topic, items in listed.items():
            assert (topic in guide.silent) == (not items)
        text = render_text(guide, lang)
        for topic in TOPICS:
            assert (silent_line(topic, lang) in text) == (topic in guide.silent), (guide.region.code, topic)


def test_a_silent_default_is_never_shown_as_the_regions_rule(rulebook):
    for guide in all_guides(rulebook):
        text = render_text(guide, "en")
        if "upload" in guide.silent:
            upload = text.split("== Uploads ==")[1].split("==")[0]
            assert "Core default:" in upload and "Source:" not in upload
        if "card_policy" in guide.silent:
            assert "Source:" not in text.split("== Card rules ==")[1]


def test_json_has_every_section_and_iso_dates(rulebook):
    guide = build_guide(rulebook, WorkCalendar(), "xiamen", Business.ENROL, EVE_OF_NATIONAL_DAY)
    data = json.loads(json.dumps(guide_json(guide), ensure_ascii=False))
    for key in ("region", "business", "offer", "materials", "courier", "outlets", "timeframe", "due", "steps",
                "medium", "forms", "upload", "card_policy", "what_you_do", "silent", "silent_statements"):
        assert key in data
    assert data["region"]["code"] == "xiamen" and data["business"] == "enrol"
    assert data["today"] == "2026-09-30"
    assert [d["due"] for d in data["due"]] == [d.due.isoformat() for d in guide.due]
    assert {s["topic"] for s in data["silent_statements"]} == set(guide.silent)
    for m in data["materials"]:
        assert m["material"]["name"]["zh"] and m["condition"]["zh"]


def test_due_dates_skip_national_day_on_every_region(rulebook, working_day):
    calendar = WorkCalendar()
    seen = 0
    for code in REGIONS:
        for offer in rulebook.offers(code):
            rows = deadline(rulebook, calendar, code, offer.business, EVE_OF_NATIONAL_DAY)
            previous: date | None = EVE_OF_NATIONAL_DAY
            for d, due in rows:
                if d.counted_from == "step":  # waits on a region step nobody can date ahead: no date
                    assert due is None, (code, offer.business, d.code)
                    previous = None
                    continue
                origin = previous if d.counted_from == "previous" else EVE_OF_NATIONAL_DAY
                assert origin is not None and due == working_day(origin, d.days), (code, offer.business, d.code)
                assert not date(2026, 10, 1) <= due <= date(2026, 10, 7)
                previous = due
                seen += 1
    assert seen, "no region states a timeframe"


def test_scaffolded_timeframe_counts_the_adjusted_saturday(testland, working_day):
    rows = deadline(testland, WorkCalendar(), "testland", Business.ENROL, EVE_OF_NATIONAL_DAY)
    review, making = rows
    assert review[1] == working_day(EVE_OF_NATIONAL_DAY, 1) == date(2026, 10, 8)
    # 3 working days after 8 October: Friday 9, Saturday 10 (调休 workday), Monday 12
    assert making[1] == working_day(review[1], 3) == date(2026, 10, 12)
    guide = build_guide(testland, WorkCalendar(), "testland", Business.ENROL, EVE_OF_NATIONAL_DAY)
    assert [d.due for d in guide.due] == [r[1] for r in rows]
    assert "2026-10-12" in render_text(guide, "zh") and "2026-10-12" in render_text(guide, "en")


def test_a_range_shows_its_earliest_and_latest_date(testland, rulebook):
    for guide in all_guides(rulebook):
        for item in guide.due:
            if item.deadline.min_days is not None and item.due is not None:
                assert item.earliest is not None and item.earliest <= item.due
                assert f"{item.earliest.isoformat()} ~ {item.due.isoformat()}" in render_text(guide, "en")
