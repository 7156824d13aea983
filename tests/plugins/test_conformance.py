"""The conformance kit over every built-in region, and proof that the kit catches a bad plugin."""

from __future__ import annotations

from datetime import date

import pytest

from core import hookimpl
from core.calendar import WorkCalendar
from core.guide.build import build_guide
from core.model import Business
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.rulebook import Rulebook
from core.rules import (
    BusinessOffer,
    Channel,
    ChannelKind,
    Material,
    MaterialForm,
    Region,
    SourceDocument,
    Text,
    Timeframe,
)
from core.testing import check_region, conformance_problems

REGIONS = [code for code, _ in BUILTIN_REGIONS]


@pytest.mark.parametrize("code", REGIONS)
def test_built_in_region_passes_the_conformance_kit(pm, code):
    check_region(pm, code)


@pytest.mark.parametrize("code", REGIONS)
def test_every_business_has_materials_courier_timeframe_and_a_way_in(rulebook, code):
    offers = rulebook.offers(code)
    assert offers, f"{code} offers nothing"
    for offer in offers:
        b = offer.business
        assert rulebook.materials(code, b) or offer.self_service_only, f"{code}/{b}: no materials"
        assert offer.channels or rulebook.outlets(code), f"{code}/{b}: no channel and no outlet"
        courier, timeframe = rulebook.courier(code, b), rulebook.timeframe(code, b)
        silent = build_guide(rulebook, WorkCalendar(), code, b, date(2026, 3, 2)).silent
        # Either the region states the rule, or the guide says that its source is silent.
        assert courier.source is not None or "courier" in silent
        assert (timeframe.source is not None) != ("timeframe" in silent), f"{code}/{b}"


class Sloppy:
    """A region that breaks the contract in several ways at once."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def register_regions(self):
        return [Region(code="sloppy", name=Text("马虎"), centre=Text("马虎分中心", "Sloppy centre"))]

    @hookimpl
    def businesses(self, region):
        return [BusinessOffer(Business.ENROL, Text("新入网"), channels=(), source="x.txt")]

    @hookimpl
    def required_materials(self, region, business, application):
        self.calls += 1  # impure: a different answer each call
        return [Material(f"m{self.calls}", Text("材料"), MaterialForm.FORM, template="附件9")]

    @hookimpl
    def timeframe(self, region, business):
        return Timeframe(deadlines=())  # a rule without a source

    @hookimpl
    def acceptance_number(self, region, application, seq):
        return None


def test_the_kit_lists_every_breach_of_the_contract():
    problems = "\n".join(conformance_problems(get_plugin_manager(extra=[("sloppy", Sloppy())]), "sloppy"))
    for expected in ("name needs both zh and en", "no channel", "material 'm1' carries no source",
                     "template '附件9'", "is not pure", "timeframe answers a rule without a source",
                     "enrol.materials[0].name: text needs both zh and en"):
        assert expected in problems, f"{expected!r} missing from:\n{problems}"


def test_check_region_raises_listing_the_problems_and_passes_a_clean_region(pm):
    with pytest.raises(AssertionError, match="registered 0 times"):
        check_region(pm, "atlantis")
    tidy = Channel(ChannelKind.WEB, Text("网上", "online"), source="s.txt")

    class Tidy:
        @hookimpl
        def register_regions(self):
            return [Region(code="tidy", name=Text("整洁", "Tidy"), centre=Text("整洁分中心", "Tidy centre"),
                           sources=(SourceDocument("s.txt", Text("整洁办事指南", "Tidy guide")),))]

        @hookimpl
        def businesses(self, region):
            return [BusinessOffer(Business.UNLOCK, Text("解锁", "Unlock"), channels=(tidy,),
                                  self_service_only=True, source="s.txt")]

    check_region(get_plugin_manager(extra=[("tidy", Tidy())]), "tidy")
    assert Rulebook(get_plugin_manager(extra=[("tidy", Tidy())])).offers("tidy")[0].self_service_only


class Hollow:
    """Registered under a region's code but declaring no region: an add-on, heard by every region."""

    @hookimpl
    def businesses(self, region):
        return [BusinessOffer(Business.ENROL, Text("新入网", "Enrol"), channels=(), source="h.txt")]


class HollowDeclarer:
    @hookimpl
    def register_regions(self):
        return [Region(code="hollow", name=Text("空", "Hollow"), centre=Text("空分中心", "Hollow centre"))]


def test_the_kit_refuses_a_region_plugin_that_does_not_declare_its_region():
    pm = get_plugin_manager(extra=[("hollow", Hollow()), ("hollow-regions", HollowDeclarer())])
    problems = "\n".join(conformance_problems(pm, "hollow"))
    assert "the plugin registered as 'hollow' does not declare region 'hollow'" in problems


class Untitled:
    """Cites its documents but gives one of them no title: the guide could show only its file name."""

    @hookimpl
    def register_regions(self):
        return [Region(code="untitled", name=Text("无题", "Untitled"), centre=Text("无题分中心", "Untitled centre"),
                       source="a.txt", sources=(SourceDocument("a.txt", Text("甲指南", "Guide A")),))]

    @hookimpl
    def businesses(self, region):
        web = Channel(ChannelKind.WEB, Text("网上", "online"), source="a.txt")
        return [BusinessOffer(Business.UNLOCK, Text("解锁", "Unlock"), channels=(web,), self_service_only=True,
                              source="b.txt")]


def test_the_kit_flags_a_cited_source_without_a_title():
    pm = get_plugin_manager(extra=[("untitled", Untitled())])
    assert conformance_problems(pm, "untitled") == [
        "来源 'b.txt' 没有在 [sources] 中给出标题（指引将只显示文件名） / "
        "source 'b.txt' has no title in [sources] (the guide would show the file name)"]
    guide = build_guide(Rulebook(pm), WorkCalendar(), "untitled", Business.UNLOCK, date(2026, 3, 2))
    assert guide.source_title("a.txt") == Text("甲指南", "Guide A")
    assert guide.source_title("b.txt") == Text("b.txt")  # the file name, as the kit warned
