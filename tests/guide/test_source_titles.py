"""Guides name each rule's source by the document's title, not its seed file name (依据：电子口岸制卡/变更/
解锁/延期业务操作指引, not 依据：000_acc9b246733ddaa2.txt): the region data's ``[sources."FILE"]`` tables.
The JSON keeps ``source`` as the file name and adds the titles. Each title is the document's own heading, or
is marked in the region file as a descriptive title where the document has none."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from citations import seed_text

from core.calendar import WorkCalendar
from core.errors import ConfigError
from core.guide.build import build_guide
from core.guide.render import guide_json, render_text
from core.plugins import BUILTIN_REGIONS
from core.regiondata import load_region_data
from core.rules import Text

REGIONS = [code for code, _ in BUILTIN_REGIONS]
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
SEED_NAME = re.compile(r"\d{3}_[0-9a-f]{16}\.txt")
DESCRIPTIVE = "# A descriptive title, not the document's own"
SMALLEST = """[region]
code = "example"
name = { zh = "示例", en = "Example" }
centre = { zh = "示例分中心", en = "Example centre" }

[[businesses]]
business = "enrol"
name = { zh = "新入网", en = "New enrolment" }
"""


def guides(rulebook):
    for code in REGIONS:
        for offer in rulebook.offers(code):
            yield build_guide(rulebook, WorkCalendar(), code, offer.business, date(2026, 9, 30))


@pytest.mark.parametrize("code", REGIONS)
def test_every_document_a_built_in_region_cites_has_a_title(rulebook, code):
    region = rulebook.region(code)
    cited = {document for guide in guides(rulebook) if guide.region.code == code for document in guide.sources}
    assert cited and all(region.source_title(document.file) == document.title for document in cited)
    for document in region.sources:
        assert SEED_NAME.fullmatch(document.file)
        assert document.title.zh and document.title.en and not SEED_NAME.search(document.title.zh + document.title.en)


@pytest.mark.parametrize("code", REGIONS)
def test_a_title_is_the_documents_own_heading_or_marked_descriptive(rulebook, code):
    toml = (PLUGINS / code / "region.toml").read_text(encoding="utf-8")
    for document in rulebook.region(code).sources:
        comment = toml.split(f'[sources."{document.file}"]')[0].rstrip().rsplit("\n\n", 1)[-1]
        opening = "".join(seed_text(document.file).split())[:200]  # headings stand at the top
        if DESCRIPTIVE in comment:
            assert "".join(document.title.zh.split()) not in opening
        else:
            assert "".join(document.title.zh.split()) in opening, (document.file, comment)


def test_the_seed_headings_are_taken_verbatim(rulebook):
    titles = {d.file: d.title.zh for code in REGIONS for d in rulebook.region(code).sources}
    assert titles["000_acc9b246733ddaa2.txt"] == "电子口岸制卡/变更/解锁/延期业务操作指引"
    assert titles["001_56e603108c85a312.txt"] == "中国电子口岸 新办业务 制发卡及数字证书服务系统 操作手册"
    assert titles["003_894e1885d52798d3.txt"] == "杭州关区企业 电子口岸证书介质 变更操作员操作流程"
    assert "厦门分中心" in titles["002_fb6811038571c536.txt"] and "西安分中心" in titles["004_7ce9fda768e2b8de.txt"]


def test_the_terminal_guide_names_sources_by_title_in_both_languages(rulebook):
    count = 0
    for guide in guides(rulebook):
        for lang, prefix in (("zh", "依据："), ("en", "Source: ")):
            text = render_text(guide, lang)
            shown = [line.strip().removeprefix(prefix) for line in text.splitlines() if line.strip().startswith(prefix)]
            assert shown, (guide.region.code, guide.business, lang)
            assert set(shown) <= {d.title.get(lang) for d in guide.region.sources}
            assert not SEED_NAME.search(text), (guide.region.code, guide.business, lang)
            count += 1
    assert count >= 2 * len(REGIONS)


def test_the_json_keeps_the_file_name_and_adds_the_title(rulebook):
    guide = build_guide(rulebook, WorkCalendar(), "shenzhen", next(iter(rulebook.offers("shenzhen"))).business,
                        date(2026, 9, 30))
    data = guide_json(guide)
    assert data["offer"]["source"] == "000_acc9b246733ddaa2.txt"
    assert data["sources"] == [{"file": "000_acc9b246733ddaa2.txt", "title": {
        "zh": "电子口岸制卡/变更/解锁/延期业务操作指引", "en": "E-Port card making / change / unlock / renewal: operating guide"}}]


def test_a_source_without_a_title_is_shown_by_its_file_name(tmp_path):
    path = tmp_path / "region.toml"
    path.write_text(SMALLEST + 'source = "a.txt"\n\n[sources."b.txt"]\ntitle = { zh = "乙", en = "B" }\n',
                    encoding="utf-8")
    region = load_region_data(path).region
    assert region.source_title("b.txt") == Text("乙", "B") and region.source_title("a.txt") is None


@pytest.mark.parametrize(("tail", "line", "where", "en"), [
    ('[sources."a.txt"]\ntitle = 3\n', 11, "$.sources.a.txt.title", "expected a string or a table with zh / en"),
    ('[sources."a.txt"]\nname = "甲"\n', 11, "$.sources.a.txt.name", "unknown key 'name' (allowed: title)"),
    ('[sources."a.txt"]\n', 10, "$.sources.a.txt.title", "required field missing"),
    ('[region.sources]\n', 10, "$.region.sources", 'write source titles in top-level [sources."FILE"] tables'),
])
def test_a_bad_sources_table_is_refused_at_its_line(tmp_path, tail, line, where, en):
    path = tmp_path / "region.toml"
    path.write_text(SMALLEST + "\n" + tail, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_region_data(path)
    assert f"{path}:{line}: {where}: {en}" in refused.value.en
    assert f"{path}:{line}: {where}: " in refused.value.zh and en not in refused.value.zh
