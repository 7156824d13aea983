"""The guide's words: no raw code where a person reads words, interpretations labelled and cited beside
their topic, and a source's own text kept as written."""

from __future__ import annotations

from datetime import date

import pytest
from citations import assert_cited
from guidekit import raw_codes

from core.calendar import WorkCalendar
from core.guide.build import SECTIONS, build_guide, offer_labels
from core.guide.render import guide_json, reading_line, render_text
from core.labels import label
from core.model import Business
from core.plugins import BUILTIN_REGIONS
from core.rules import ReadingKind

REGIONS = [code for code, _ in BUILTIN_REGIONS]
TODAY = date(2026, 9, 30)


def guides(rulebook):
    for code in REGIONS:
        for offer in rulebook.offers(code):
            yield build_guide(rulebook, WorkCalendar(), code, offer.business, TODAY)


def test_the_scan_would_find_a_raw_code():
    assert raw_codes("邮费承担：enterprise", "zh") == {"enterprise"}
    assert raw_codes("When: agent_not_legal_rep", "en") == {"agent_not_legal_rep"}
    assert raw_codes("见 https://e.chinaport.gov.cn/web/enrol 与 kefu@xaeport.com", "zh") == set()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_guide_prints_a_raw_code(rulebook, lang):
    for guide in guides(rulebook):
        text = render_text(guide, lang)
        assert not raw_codes(text, lang), (guide.region.code, guide.business, raw_codes(text, lang))


def test_no_two_businesses_of_a_region_share_a_name(rulebook):
    """Shenzhen's one form item 新增/补办卡 covers add_card and reissue, 证书更新/解锁 renew and unlock: lists
    name the business beside it, in both languages."""
    assert_cited("000_acc9b246733ddaa2.txt", "“新增/补办卡”、“证书更新/解锁”")
    for code in REGIONS:
        names = offer_labels(rulebook.offers(code))
        for lang in ("zh", "en"):
            shown = [n.get(lang) for n in names.values()]
            assert len(shown) == len(set(shown)), (code, lang, shown)
    sz = offer_labels(rulebook.offers("shenzhen"))
    assert sz[Business.ADD_CARD].zh == "新增/补办卡（新增操作员卡）" and sz[Business.REISSUE].zh == "新增/补办卡（补办）"
    assert sz[Business.ENROL].zh == "新入网"  # a name no other business shares stays as the region writes it


@pytest.mark.parametrize("region", REGIONS)
def test_every_reading_is_cited_labelled_and_printed_beside_its_topic(rulebook, region):
    readings = rulebook.region(region).readings
    for reading in readings:
        assert reading.topic in SECTIONS, reading
        assert reading.source, reading
        assert_cited(reading.source, reading.passage)
        assert reading.text.zh and reading.text.en
    for guide in (g for g in guides(rulebook) if g.region.code == region):
        zh, en = render_text(guide, "zh"), render_text(guide, "en")
        for reading in (r for r in readings if r.applies_to(guide.business)):
            heading = f"【{label('guide.text.' + reading.topic, 'zh')}】"
            section = zh.split(heading)[1].split("\n【")[0]
            assert reading_line(reading, "zh") in section, (guide.business, reading.topic)
            assert reading_line(reading, "en") in en
            assert f"〔{label(reading.kind, 'zh')}〕" in section
        data = guide_json(guide)
        assert [r["passage"] for r in data["readings"]] == [r.passage for r in guide.readings]


@pytest.mark.parametrize(("region", "written", "passage"), [
    ("hangzhou", "571-95198", "如有疑问，请联系数据分中心（571-95198）"),
    ("shenzhen", "www.szcpport.cn", "登录深圳海关数据分中心门户网站（www.szcpport.cn）"),
])
def test_a_sources_own_text_is_kept_as_written_with_the_doubt_beside_it(rulebook, region, written, passage):
    source = rulebook.region(region).source
    assert source
    assert_cited(source, passage)
    guide = next(g for g in guides(rulebook) if g.region.code == region)
    contacts = render_text(guide, "zh").split("【联系方式】")[1].split("\n【")[0]
    assert written in contacts and f"〔{label(ReadingKind.AS_WRITTEN, 'zh')}〕" in contacts
