"""A broken region plugin is one bilingual line naming it, its distribution and the fix; it disables
itself and the other regions go on, unless [regions] enabled names it (then it stops start-up).

Each plugin here is a real installed distribution (tests/plugins/distkit.py) found through its
entry point, as pip would leave it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from distkit import eportcard, install_distribution, region_module
from starlette.testclient import TestClient

from core import hookimpl
from core.calendar import WorkCalendar
from core.config import Settings, SmsSettings, WebSettings
from core.errors import ConfigError, InvalidInput
from core.plugin_faults import PluginFailed
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.rulebook import Rulebook
from core.samples import make_enrol
from core.services import Services
from core.store.testing import temporary_store
from core.web.app import create_app

BUILT_IN = {code for code, _ in BUILTIN_REGIONS}

# name -> (module source, what the one line must say in Chinese, in English)
FAULTS = {
    "signature": (region_module("ningbo", '''
    @hookimpl
    def outlets(self, region, branch):
        return []
'''), "钩子 outlets 声明了钩子规范没有的参数 branch", "declares hook outlets with parameters branch, which its "
      "hookspec does not pass (it passes region)"),
    "unknown": (region_module("ningbo", '''
    @hookimpl
    def required_material(self, region, business, application):
        return []
'''), "实现了不存在的钩子 required_material（是否应为 required_materials？）",
                "implements required_material, which is no eportcard hook (did you mean required_materials?)"),
    "raises": ('''
from core import hookimpl


class Plugin:
    @hookimpl
    def register_regions(self):
        raise FileNotFoundError("region.toml is not there")


plugin = Plugin()
''', "的 register_regions 出错（FileNotFoundError: region.toml is not there）",
        "raised in register_regions (FileNotFoundError: region.toml is not there)"),
    "import": ("import eportcard_no_such_dependency\n",
               "无法导入（ModuleNotFoundError: No module named 'eportcard_no_such_dependency'）",
               "cannot be imported (ModuleNotFoundError: No module named 'eportcard_no_such_dependency')"),
    "declaration": ('''
from core import hookimpl


class Plugin:
    @hookimpl
    def register_regions(self):
        return "ningbo"


plugin = Plugin()
''', "register_regions 返回了 str，不是 core.rules.Region 的列表",
        "answers register_regions with str, not a list of core.rules.Region"),
}


def only_line(text: str) -> None:
    assert "\n" not in text and "Traceback" not in text, text


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.plugins" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_a_broken_plugin_is_one_line_and_disables_only_itself(kind, site, caplog):
    source, zh, en = FAULTS[kind]
    module = f"eportcard_region_fault_{kind}"
    install_distribution(site, "eportcard-region-ningbo", f"ningbo = {module}:plugin", {module: source},
                         version="0.3")
    with caplog.at_level(logging.WARNING):
        pm = get_plugin_manager()
        again = get_plugin_manager()  # a second manager in the process (serve builds one for gateways too)
    assert again.disabled == pm.disabled
    assert set(Rulebook(pm).regions()) == BUILT_IN  # the others go on
    assert pm.get_plugin("ningbo") is None
    [fault] = pm.disabled
    for text in (fault.zh, fault.en, fault.line):
        only_line(text)
    assert fault.zh.startswith("分中心插件 ningbo（插件包 eportcard-region-ningbo 0.3）") and zh in fault.zh
    assert fault.en.startswith("region plugin ningbo (distribution eportcard-region-ningbo 0.3)") and en in fault.en
    assert fault.zh.endswith("或卸载插件包 eportcard-region-ningbo")
    assert fault.en.endswith("or uninstall eportcard-region-ningbo")
    assert warnings_of(caplog) == [fault.line]  # logged once a process
    assert fault.line.endswith("the plugin is disabled")


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_a_broken_plugin_the_deployment_enables_stops_it(kind, site):
    source, zh, en = FAULTS[kind]
    module = f"eportcard_region_enabled_{kind}"
    install_distribution(site, "eportcard-region-ningbo", f"ningbo = {module}:plugin", {module: source})
    with pytest.raises(ConfigError) as caught:
        get_plugin_manager(enabled=["xiamen", "ningbo"])
    error = caught.value
    assert error.field == "regions.enabled"
    only_line(str(error))
    assert zh in error.zh and "[regions] enabled 启用了它" in error.zh
    assert en in error.en and "[regions] enabled names it, so eportcard does not start without it" in error.en


def test_a_broken_plugin_the_caller_passes_in_is_an_error():
    class Misspelt:
        @hookimpl
        def register_region(self):
            return []

    with pytest.raises(ConfigError) as caught:
        get_plugin_manager(enabled=[], extra=[("misspelt", Misspelt())])
    assert "implements register_region, which is no eportcard hook (did you mean register_regions?)" \
        in caught.value.en and "registered by the caller" in caught.value.en


# -- two distributions, one region code ---------------------------------------------------------------------


@pytest.mark.parametrize("second_name", ["ningbo", "ningbo_too"])
def test_two_distributions_with_one_region_code_are_both_disabled(second_name, site, caplog):
    install_distribution(site, "eportcard-region-ningbo", "ningbo = eportcard_ningbo_one:plugin",
                         {"eportcard_ningbo_one": region_module("ningbo")}, version="1.0")
    install_distribution(site, "ningbo-rules", f"{second_name} = eportcard_ningbo_two:plugin",
                         {"eportcard_ningbo_two": region_module("ningbo")}, version="2.1")
    with caplog.at_level(logging.WARNING):
        pm = get_plugin_manager()
    assert "ningbo" not in Rulebook(pm).regions() and set(Rulebook(pm).regions()) == BUILT_IN
    lines = sorted(fault.en for fault in pm.disabled)
    assert len(lines) == 2 and len(warnings_of(caplog)) == 2
    one = "region plugin ningbo (distribution eportcard-region-ningbo 1.0)"
    two = f"region plugin {second_name} (distribution ningbo-rules 2.1)"
    assert {line.split(" registers region code 'ningbo', which ")[0] for line in lines} == {one, two}
    assert any(line.startswith(one) and f"which {second_name} (distribution ningbo-rules 2.1) registers too" in line
               for line in lines)
    assert any(line.startswith(two) and "which ningbo (distribution eportcard-region-ningbo 1.0) registers too" in line
               for line in lines)
    for fault in pm.disabled:
        only_line(fault.line)
        assert "give it another region code" in fault.en and "改用另一个分中心代码" in fault.zh


def test_one_of_two_distributions_enabled_by_name_stops_start_up(site):
    install_distribution(site, "eportcard-region-ningbo", "ningbo = eportcard_ningbo_three:plugin",
                         {"eportcard_ningbo_three": region_module("ningbo")})
    install_distribution(site, "ningbo-rules", "ningbo_too = eportcard_ningbo_four:plugin",
                         {"eportcard_ningbo_four": region_module("ningbo")})
    assert "ningbo" in Rulebook(get_plugin_manager(enabled=["ningbo"])).regions()  # the other one is not loaded
    with pytest.raises(ConfigError, match="registers region code 'ningbo'"):
        get_plugin_manager(enabled=["ningbo", "ningbo_too"])


def test_the_same_plugin_object_under_two_entry_points(site):
    install_distribution(site, "eportcard-region-twice", "twice = eportcard_twice:plugin\nagain = eportcard_twice:plugin",
                         {"eportcard_twice": region_module("twice")})
    pm = get_plugin_manager()
    assert "twice" in Rulebook(pm).regions()
    [fault] = pm.disabled  # entry points load in name order: "again" first
    assert fault.name == "twice" and "is the same object as plugin again" in fault.en


# -- the commands go on without the broken plugin --------------------------------------------------------


def test_guide_regions_and_serve_with_a_broken_plugin_installed(site, tmp_path):
    source, _, en = FAULTS["raises"]
    install_distribution(site, "eportcard-region-ningbo", "ningbo = eportcard_region_cli_raises:plugin",
                         {"eportcard_region_cli_raises": source})
    guide = eportcard(["guide", "xiamen", "enrol"], tmp_path, site)
    assert guide.returncode == 0 and guide.stdout.startswith("厦门")
    [warning] = guide.stderr.strip().splitlines()  # the one line, no traceback
    assert en in warning and warning.endswith("the plugin is disabled")

    config = tmp_path / "eportcard.toml"
    assert eportcard(["-c", str(config), "init"], tmp_path, site).returncode == 0
    listed = eportcard(["-c", str(config), "regions"], tmp_path, site)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    lines = listed.stdout.splitlines()
    assert sorted(line.split()[0] for line in lines[:-1]) == sorted(BUILT_IN)
    assert lines[-1].startswith("已停用 disabled: 分中心插件 ningbo（插件包 eportcard-region-ningbo 0.1）") and en in lines[-1]

    config.write_text(config.read_text(encoding="utf-8").replace(
        '# enabled = ["shenzhen", "changchun", "xiamen", "hangzhou", "xian"]', 'enabled = ["xiamen", "ningbo"]'),
        encoding="utf-8")
    refused = eportcard(["-c", str(config), "serve", "--port", "0"], tmp_path, site)
    assert refused.returncode == 1 and "serving on" not in refused.stdout + refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("Error: 分中心插件 ningbo") and en in line and "[regions] enabled names it" in line


# -- at run time: a hookimpl that raises names its plugin ------------------------------------------------------


class Flaky:
    """One class, several plugins: the culprit is found by instance, not only by code."""

    def __init__(self, code: str, broken: bool) -> None:
        self.code, self.broken = code, broken

    @hookimpl
    def register_regions(self):
        return []  # an add-on: it hears every region's calls

    @hookimpl
    def application_submitted(self, application):
        if self.broken:
            raise KeyError("remarks")

    @hookimpl
    def validate_application(self, region, application):
        if self.broken:
            raise InvalidInput("备注格式不对", "the remarks are not in the required format", field="remarks")
        return []


def test_a_hook_raising_at_run_time_is_one_log_line_naming_the_plugin(caplog):
    pm = get_plugin_manager(enabled=["xiamen"], extra=[("calm", Flaky("calm", False)), ("flaky", Flaky("flaky", True))])
    rulebook = Rulebook(pm)
    with caplog.at_level(logging.DEBUG, logger="core.rulebook"), pytest.raises(PluginFailed) as caught:
        rulebook.submitted(make_enrol(1, region="xiamen"))
    failed = caught.value
    assert failed.plugin == "flaky" and isinstance(failed.__cause__, KeyError)
    assert failed.en == ("region plugin flaky (registered by the caller) failed in application_submitted (KeyError) "
                         "and cannot answer now; tell the administrator")
    assert "remarks" not in str(failed)  # the exception's text stays in the log, not before a person
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert line.endswith("region plugin flaky (registered by the caller) failed in application_submitted "
                         "(KeyError: 'remarks'): fix the plugin, or do not register it")
    only_line(line)


def test_a_plugins_deliberate_refusal_passes_through():
    rulebook = Rulebook(get_plugin_manager(enabled=["xiamen"], extra=[("flaky", Flaky("flaky", True))]))
    with pytest.raises(InvalidInput, match="remarks are not in the required format"):
        rulebook.validate("xiamen", make_enrol(1, region="xiamen"))


class BrokenTimeframe:
    @hookimpl
    def register_regions(self):
        return []

    @hookimpl(tryfirst=True)
    def timeframe(self, region, business):
        raise ZeroDivisionError("working days / 0")


def test_a_request_meeting_a_raising_hook_gets_503_and_the_log_names_the_plugin(tmp_path, caplog):
    pm = get_plugin_manager(enabled=["xiamen"], extra=[("deadline-addon", BrokenTimeframe())])
    settings = Settings(root=str(tmp_path), web=WebSettings(secret_key="test-secret-key", development=True,
                                                            base_url="http://testserver"),
                        sms=SmsSettings(gateway="outbox"))
    with temporary_store("sqlite", tmp_path) as store, caplog.at_level(logging.ERROR):
        services = Services(settings=settings, store=store, rulebook=Rulebook(pm), calendar=WorkCalendar())
        with TestClient(create_app(services), base_url="http://testserver") as client:
            answer = client.get("/regions/xiamen/enrol")
            english = client.get("/regions/xiamen/enrol?lang=en")
    assert answer.status_code == english.status_code == 503
    assert "分中心插件 deadline-addon（由调用方注册）的 timeframe 出错（ZeroDivisionError），暂时无法答复" in answer.text
    assert "region plugin deadline-addon (registered by the caller) failed in timeframe (ZeroDivisionError)" \
        in english.text
    assert "working days / 0" not in answer.text + english.text
    logged = [r for r in caplog.records if r.name == "core.rulebook"]
    assert [r.getMessage() for r in logged] == 2 * [
        "分中心插件 deadline-addon（由调用方注册）的 timeframe 出错（ZeroDivisionError: working days / 0）：请修正该插件，"
        "或不要注册它 / region plugin deadline-addon (registered by the caller) failed in timeframe "
        "(ZeroDivisionError: working days / 0): fix the plugin, or do not register it"]
    assert not [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]  # no call chain
