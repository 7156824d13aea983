"""The conformance kit where it matters: `eportcard regions --check` over every enabled region, and
`eportcard serve`'s start-up checks (registration, hooks that raise, sources, overlapping coverage).
Also the kit's own checks for scaffold placeholders and hook-named methods without @hookimpl."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from distkit import region_module

from core import hookimpl
from core.cli import main
from core.config import load_settings
from core.errors import ConfigError
from core.guide.scaffold import scaffold_region
from core.model import Business
from core.plugin_faults import Origin
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.regiondata import DataRegion, load_region_data
from core.rulebook import Rulebook
from core.rules import BusinessOffer, Channel, ChannelKind, Region, Text
from core.services import Services
from core.testing import conformance_problems, overlaps, startup_check

BUILT_IN = sorted(code for code, _ in BUILTIN_REGIONS)


def region(code: str, provinces: tuple[str, ...] = (), cities: tuple[str, ...] = ()) -> Region:
    return Region(code=code, name=Text(code, code.title()), centre=Text(f"{code}分中心", f"{code} centre"),
                  provinces=provinces, cities=cities, source=f"{code}.txt")


class Tidy:
    """A region that passes the whole kit: one self-service business, sourced, in both languages."""

    def __init__(self, code: str, provinces: tuple[str, ...] = (), cities: tuple[str, ...] = ()) -> None:
        self.region = region(code, provinces, cities)

    @hookimpl
    def register_regions(self):
        return [self.region]

    @hookimpl
    def businesses(self, region):
        channel = Channel(ChannelKind.WEB, Text("网上", "Online"), source="s.txt")
        return [BusinessOffer(Business.UNLOCK, Text("解锁", "Unlock"), channels=(channel,), self_service_only=True,
                              source="s.txt")]


SLOPPY = '''
from core import hookimpl
from core.model import Business
from core.rules import BusinessOffer, Channel, ChannelKind, Region, Text


class Sloppy:
    @hookimpl
    def register_regions(self):
        return [Region(code="sloppy", name=Text("马虎", "Sloppy"), centre=Text("马虎分中心【占位】", "Sloppy centre"))]

    @hookimpl
    def businesses(self, region):
        channel = Channel(ChannelKind.WEB, Text("网上", "Online"))
        return [BusinessOffer(Business.UNLOCK, Text("解锁", "Unlock"), channels=(channel,), self_service_only=True)]

    def validate_application(self, region, application):  # no @hookimpl: never called
        return []

    @hookimpl
    def outlets(self, region):
        raise LookupError("outlet table")


plugin = Sloppy()
'''


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "eportcard.toml"
    made = CliRunner().invoke(main, ["-c", str(path), "init"])
    assert made.exit_code == 0, made.output
    return path


def regions_check(config: Path, *args: str):
    return CliRunner().invoke(main, ["-c", str(config), "regions", "--check", *args])


def test_regions_check_passes_the_built_in_regions_with_a_summary(config):
    result = regions_check(config)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:-1] == [f"{code}: 通过 / passes" for code in BUILT_IN]
    assert lines[-1] == ("5 个分中心全部通过一致性检查 / all 5 region(s) pass the conformance kit: "
                         "changchun, hangzhou, shenzhen, xiamen, xian")


def test_regions_check_lists_every_problem_and_exits_1(config, tmp_path):
    folder = tmp_path / "dev"
    folder.mkdir()
    (folder / "sloppy.py").write_text(SLOPPY, encoding="utf-8")
    result = regions_check(config, "--plugins-dir", str(folder))
    assert result.exit_code == 1
    out = result.output
    assert "sloppy: 5 个问题 / 5 problem(s)" in out and "xiamen: 通过 / passes" in out
    for problem in ("business unlock: the offer carries no source", "business unlock: channel web carries no source",
                    "outlets raised LookupError: outlet table",
                    "region.centre: a placeholder is left ([placeholder])",
                    "validate_application is named like a hook but lacks @hookimpl"):
        assert any(line.startswith("  - ") and problem in line for line in out.splitlines()), problem
    assert out.rstrip().splitlines()[-1] == ("Error: 1 个分中心未通过一致性检查（sloppy），0 个插件已停用 / "
                                             "1 region(s) fail the conformance kit (sloppy), 0 plugin(s) disabled")


def test_regions_check_counts_a_disabled_plugin_as_a_failure(config, tmp_path):
    folder = tmp_path / "dev"
    folder.mkdir()
    (folder / "broken.py").write_text("raise RuntimeError('half-written')\n", encoding="utf-8")
    result = regions_check(config, "--plugins-dir", str(folder))
    assert result.exit_code == 1
    assert "已停用 disabled: 分中心插件 broken（插件目录中的" in result.output
    assert "cannot be imported (RuntimeError: half-written)" in result.output
    assert result.output.rstrip().endswith("0 region(s) fail the conformance kit (-), 1 plugin(s) disabled")


def test_the_kit_fails_on_scaffold_placeholders_until_they_are_replaced(tmp_path):
    dist = scaffold_region("ningbo", tmp_path, name_zh="宁波", name_en="Ningbo")
    toml = dist / "eportcard_region_ningbo" / "region.toml"
    problems = conformance_problems(get_plugin_manager(extra=[("ningbo", DataRegion(load_region_data(toml)))]),
                                    "ningbo")
    paths = [p.split("：")[0] for p in problems]
    assert all("a placeholder is left ([placeholder])" in p for p in problems), problems
    for path in ("region.centre", "region.source", "outlets[0].name", "enrol.materials[0].name", "enrol.source"):
        assert path in paths
    assert len(paths) == len(set(paths))  # one problem per place, zh and en together
    text = toml.read_text(encoding="utf-8")
    for mark in ("【占位】", "[placeholder]"):
        text = text.replace(mark, "")
    toml.write_text(text.replace("占位：请替换为所依据的文件 / placeholder: replace with the document you encode",
                                 "ningbo-guide.txt"), encoding="utf-8")
    assert conformance_problems(get_plugin_manager(extra=[("ningbo", DataRegion(load_region_data(toml)))]),
                                "ningbo") == []


def test_the_kit_finds_a_hook_method_without_hookimpl_on_a_data_region():
    class Forgetful(DataRegion):
        def validate_application(self, region, application):  # overrides the base hookimpl, unmarked
            return []

    base = get_plugin_manager(enabled=["xian"]).get_plugin("xian")
    forgetful = Forgetful(base.data)
    problems = conformance_problems(get_plugin_manager(enabled=[], extra=[("xian", forgetful)]), "xian")
    assert problems == ["validate_application 与钩子同名但没有 @hookimpl，不会被调用：请加上 @hookimpl（from core import "
                        "hookimpl） / validate_application is named like a hook but lacks @hookimpl, so it is never "
                        "called: decorate it with @hookimpl (from core import hookimpl)"]


# -- overlapping coverage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b, where", [
    (region("fuzhou", provinces=("福建省",)), region("quanzhou", provinces=("福建省", "江西省")), "福建省"),
    (region("xmport", cities=("厦门市",)), region("xmtoo", cities=("厦门市", "漳州市")), "厦门市"),
    (region("fujian", provinces=("福建省",)), region("xm", provinces=("福建省",), cities=("厦门市",)), "厦门市 (福建省)"),
    (region("guangdong", provinces=("广东省",)), region("gz", provinces=("广东省",), cities=("广州市", "佛山市")),
     "广州市、佛山市 (广东省)"),
])
def test_overlapping_coverage_is_found(a, b, where):
    assert overlaps({a.code: a, b.code: b}) == [(*sorted((a.code, b.code)), where)]


@pytest.mark.parametrize("a, b", [
    (region("jilin", provinces=("吉林省",)), region("zhejiang", provinces=("浙江省",))),
    (region("xmport", cities=("厦门市",)), region("fz", cities=("福州市",))),
    (region("fujian", provinces=("福建省",)), region("gz", provinces=("广东省",), cities=("广州市",))),
    # a region listing cities but no province: core has no map of cities to provinces
    (region("sz", cities=("深圳市",)), region("guangdong", provinces=("广东省",))),
])
def test_disjoint_coverage_is_no_overlap(a, b):
    assert overlaps({a.code: a, b.code: b}) == []


def test_the_built_in_regions_do_not_overlap(rulebook):
    assert overlaps(rulebook.regions()) == []


# -- serve's start-up checks -------------------------------------------------------------------------------


def test_startup_check_disables_a_region_overlapping_a_built_in_one_and_keeps_the_rest(caplog):
    pm = get_plugin_manager()
    pm.register(Tidy("jilin", provinces=("吉林省",)), name="jilin")  # as an installed plugin would be
    pm.origins["jilin"] = Origin.distribution("eportcard-region-jilin", "0.2")
    with caplog.at_level(logging.WARNING):
        startup_check(pm)
    assert sorted(Rulebook(pm).regions()) == BUILT_IN
    [fault] = pm.disabled
    assert fault.en.startswith("region plugin jilin (distribution eportcard-region-jilin 0.2) covers addresses "
                               "region changchun covers too (吉林省): the home branch would be ambiguous")
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [fault.line]


def test_startup_check_refuses_an_overlap_between_regions_the_deployment_enables():
    pm = get_plugin_manager(enabled=["changchun", "jilin"], extra=[("jilin", Tidy("jilin", provinces=("吉林省",)))])
    with pytest.raises(ConfigError) as caught:
        startup_check(pm)
    assert "covers addresses region changchun covers too" in caught.value.en and "辖区重叠" in caught.value.zh
    assert "\n" not in str(caught.value)


def test_startup_check_refuses_two_built_in_regions_that_overlap():
    pm = get_plugin_manager(enabled=[], extra=[("north", Tidy("north", provinces=("吉林省",))),
                                               ("south", Tidy("south", provinces=("吉林省",)))])
    pm.origins["north"] = pm.origins["south"] = Origin.builtin()  # nothing that could be disabled
    with pytest.raises(ConfigError, match="built-in regions north and south overlap \\(吉林省\\)"):
        startup_check(pm)


class RaisingOffers(Tidy):
    @hookimpl
    def businesses(self, region):
        raise KeyError("menu")


def test_startup_check_disables_a_region_whose_hook_raises_on_a_sample_call():
    pm = get_plugin_manager()
    pm.register(RaisingOffers("wuhan", provinces=("湖北省",)), name="wuhan")
    startup_check(pm)
    assert "wuhan" not in Rulebook(pm).regions()
    [fault] = pm.disabled
    assert "fails the start-up checks: businesses raised KeyError: 'menu'" in fault.en
    assert "run `eportcard regions --check` to see every problem and fix them" in fault.en


def test_startup_check_passes_a_scaffolded_region_placeholders_and_all(tmp_path):
    """The cheap checks leave placeholders, language and purity to `regions --check`."""
    dist = scaffold_region("ningbo", tmp_path)
    plugin = DataRegion(load_region_data(dist / "eportcard_region_ningbo" / "region.toml"))
    pm = get_plugin_manager(extra=[("ningbo", plugin)])
    startup_check(pm)
    assert pm.disabled == [] and "ningbo" in Rulebook(pm).regions()


def write_config(config: Path, enabled: str, plugins_dir: str = "dev") -> None:
    text = config.read_text(encoding="utf-8").replace(
        '# enabled = ["shenzhen", "changchun", "xiamen", "hangzhou", "xian"]', enabled)
    config.write_text(text.replace('# plugins_dir = "plugins"', f'plugins_dir = "{plugins_dir}"'), encoding="utf-8")


RAISING_MODULE = region_module("wuhan", '''
    @hookimpl
    def businesses(self, region):
        raise KeyError("menu")
''', zh="武汉", en="Wuhan")


def test_serving_a_deployment_disables_a_failing_plugin_it_does_not_name(config, caplog):
    (config.parent / "dev").mkdir()
    (config.parent / "dev" / "wuhan.py").write_text(RAISING_MODULE, encoding="utf-8")
    write_config(config, "")
    with caplog.at_level(logging.WARNING):
        services = Services.from_settings(load_settings(config), serving=True)
    assert sorted(services.rulebook.regions()) == BUILT_IN
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "core.plugins"]
    assert "region plugin wuhan (" in line and "fails the start-up checks: businesses raised KeyError" in line


def test_serve_refuses_to_start_without_a_region_it_enables_that_fails_the_checks(config, monkeypatch):
    (config.parent / "dev").mkdir()
    (config.parent / "dev" / "wuhan.py").write_text(RAISING_MODULE, encoding="utf-8")
    write_config(config, 'enabled = ["shenzhen", "wuhan"]')
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("serve started"))
    result = CliRunner().invoke(main, ["-c", str(config), "serve", "--port", "0"])
    assert result.exit_code == 1 and "serving on" not in result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: 分中心插件 wuhan（插件目录中的 ") and "未通过启动检查" in line
    assert "fails the start-up checks: businesses raised KeyError: 'menu'" in line
    assert line.endswith("[regions] enabled names it, so eportcard does not start without it")
