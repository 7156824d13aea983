"""Region plugins from a folder, without installing: [regions] plugins_dir (relative to the config) and
--plugins-dir (serve, regions, guide, deadline). Each *.py module or package defining `plugin` is a
region plugin registered under the code it declares; its faults read like an installed plugin's."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from distkit import region_module

from core.cli import main
from core.errors import ConfigError
from core.plugin_folder import PREFIX
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.rulebook import Rulebook

BUILT_IN = {code for code, _ in BUILTIN_REGIONS}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "regions-dev"
    made.mkdir()
    return made


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_module_and_a_package_are_loaded_under_their_region_codes(folder):
    write(folder / "ningbo_rules.py", region_module("ningbo", zh="宁波", en="Ningbo"))
    write(folder / "wenzhou" / "__init__.py", "from .data import plugin  # a package imports its own modules\n")
    write(folder / "wenzhou" / "data.py", region_module("wenzhou", zh="温州", en="Wenzhou"))
    write(folder / "helpers.py", "SHARED = 1  # no plugin: not a region\n")
    write(folder / "_scratch.py", "raise SystemExit('never imported')\n")
    write(folder / "notes" / "readme.txt", "a folder without __init__.py is no package\n")
    pm = get_plugin_manager(plugins_dir=folder)
    assert set(Rulebook(pm).regions()) == BUILT_IN | {"ningbo", "wenzhou"}
    assert pm.get_plugin("ningbo") is not None and pm.get_plugin("wenzhou") is not None  # named by region code
    assert pm.disabled == []
    assert "wenzhou" not in sys.modules and f"{PREFIX}wenzhou.data" in sys.modules  # no installed name taken


def test_each_load_imports_the_folder_afresh(folder):
    module = write(folder / "ningbo.py", region_module("ningbo", zh="宁波", en="Ningbo"))
    assert Rulebook(get_plugin_manager(plugins_dir=folder)).region("ningbo").name.en == "Ningbo"
    module.write_text(region_module("ningbo", zh="宁波", en="Ningbo (edited)"), encoding="utf-8")
    assert Rulebook(get_plugin_manager(plugins_dir=folder)).region("ningbo").name.en == "Ningbo (edited)"


@pytest.mark.parametrize("source, zh, en", [
    ("import eportcard_missing_dependency\n", "无法导入（ModuleNotFoundError",
     "cannot be imported (ModuleNotFoundError: No module named 'eportcard_missing_dependency')"),
    ("plugin = object()\n", "没有声明任何分中心（register_regions）", "declares no region (register_regions)"),
    (region_module("ningbo", '''
    @hookimpl
    def outlets(self, region, branch):
        return []
'''), "声明了钩子规范没有的参数 branch", "declares hook outlets with parameters branch"),
    (region_module("xiamen"), "注册的分中心代码 xiamen 已由 xiamen（内置）注册",
     "registers region code 'xiamen', which xiamen (built-in) registers too"),
])
def test_a_broken_module_in_the_folder_is_one_line_and_disables_only_itself(folder, source, zh, en, caplog):
    module = write(folder / "dev_region.py", source)
    with caplog.at_level(logging.WARNING):
        pm = get_plugin_manager(plugins_dir=folder)
    assert set(Rulebook(pm).regions()) == BUILT_IN and Rulebook(pm).region("xiamen").name.en == "Xiamen"
    [fault] = pm.disabled
    assert zh in fault.zh and f"（插件目录中的 {module}）" in fault.zh and fault.zh.endswith("或将 dev_region.py 移出插件目录")
    assert en in fault.en and f"({module} in the plugins folder)" in fault.en
    assert fault.en.endswith("or move dev_region.py out of the plugins folder")
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [fault.line]
    assert "\n" not in fault.line


def test_a_region_file_mistake_reaches_the_line_whole_in_each_language(folder):
    package = folder / "ningbo"
    write(package / "__init__.py", "from pathlib import Path\nfrom core.regiondata import DataRegion, "
          "load_region_data\nplugin = DataRegion(load_region_data(Path(__file__).with_name('region.toml')))\n")
    region = write(package / "region.toml", '[region]\ncode = "ningbo"\nname = "宁波"\ncentre = "宁波分中心"\n\n'
                   '[[outlets]]\ncode = "hall"\nname = "大厅"\nkind = "centre"\nmail_possible = "no"\n')
    [fault] = get_plugin_manager(plugins_dir=folder).disabled
    where = f"{region}:10: $.outlets[0].mail_possible:"  # the author's own words, not cut short
    assert f"{where} 应为布尔值" in fault.zh and f"{where} expected bool" in fault.en
    assert "expected" not in fault.zh and "应为" not in fault.en  # each half in its own language


def test_the_allow_list_reaches_into_the_folder(folder):
    write(folder / "ningbo.py", region_module("ningbo"))
    write(folder / "wenzhou.py", region_module("wenzhou"))
    assert set(Rulebook(get_plugin_manager(["xian", "ningbo"], plugins_dir=folder)).regions()) == {"xian", "ningbo"}
    write(folder / "wenzhou.py", "raise RuntimeError('half-written')\n")
    with pytest.raises(ConfigError) as caught:  # enabled by name, its fault stops start-up
        get_plugin_manager(["ningbo", "wenzhou"], plugins_dir=folder)
    assert "region plugin wenzhou" in caught.value.en and "RuntimeError: half-written" in caught.value.en
    assert caught.value.field == "regions.enabled"


def test_a_plugins_folder_that_is_not_there_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        get_plugin_manager(plugins_dir=tmp_path / "nowhere")
    assert caught.value.field == "regions.plugins_dir"
    assert f"the plugins folder {tmp_path / 'nowhere'} does not exist" in caught.value.en and "插件目录" in caught.value.zh


# -- the commands -------------------------------------------------------------------------------------------


UNLOCK_OFFER = '''
    @hookimpl
    def businesses(self, region):
        from core.model import Business
        from core.rules import BusinessOffer, Channel, ChannelKind

        online = Channel(ChannelKind.WEB, Text("网上自助", "Online self-service"), source="ningbo.txt")
        return [BusinessOffer(Business.UNLOCK, Text("解锁", "Unlock"), channels=(online,), self_service_only=True,
                              source="ningbo.txt")]
'''


def test_the_config_key_is_relative_to_the_config_file(tmp_path, monkeypatch):
    deployment = tmp_path / "srv"
    config = deployment / "eportcard.toml"
    assert cli("-c", str(config), "init").exit_code == 0
    write(deployment / "regions-dev" / "ningbo.py", region_module("ningbo", UNLOCK_OFFER, zh="宁波", en="Ningbo"))
    config.write_text(config.read_text(encoding="utf-8").replace('# plugins_dir = "plugins"',
                                                                 'plugins_dir = "regions-dev"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # elsewhere: the folder is found beside the config, not here
    listed = cli("-c", str(config), "regions")
    assert listed.exit_code == 0 and "ningbo     宁波 / Ningbo" in listed.output
    found = cli("-c", str(config), "guide", "ningbo", "unlock")
    assert found.exit_code == 0 and found.output.startswith("宁波") and "网上自助" in found.output


def test_the_option_loads_a_scaffolded_region_without_installing_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no eportcard.toml here: every installed region plus the folder's
    assert cli("new-region", "ningbo", "--name-zh", "宁波", "--name-en", "Ningbo").exit_code == 0
    dist = Path("eportcard-region-ningbo")
    assert "宁波" not in cli("guide", "xiamen", "enrol").output
    found = cli("guide", "ningbo", "enrol", "--plugins-dir", str(dist))
    assert found.exit_code == 0 and found.output.startswith("宁波") and "营业执照【占位】" in found.output
    due = cli("deadline", "ningbo", "enrol", "--from", "2026-03-02", "--plugins-dir", str(dist), "--lang", "en")
    assert due.exit_code == 0 and "2026-03" in due.output
    missing = cli("guide", "ningbo", "enrol", "--plugins-dir", "nowhere")
    assert missing.exit_code == 1 and "the plugins folder" in missing.output and "Traceback" not in missing.output


def test_regions_and_serve_take_the_option(tmp_path, folder, monkeypatch):
    config = tmp_path / "eportcard.toml"
    assert cli("-c", str(config), "init", "--enable", "shenzhen").exit_code == 0
    write(folder / "ningbo.py", region_module("ningbo"))
    assert "ningbo" not in cli("-c", str(config), "regions").output  # not enabled, folder or not
    config.write_text(config.read_text(encoding="utf-8").replace('enabled = ["shenzhen"]',
                                                                 'enabled = ["shenzhen", "ningbo"]'), encoding="utf-8")
    assert "ningbo" in cli("-c", str(config), "regions", "--plugins-dir", str(folder)).output
    write(folder / "ningbo.py", "import eportcard_missing_dependency\n")
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("serve started"))
    refused = cli("-c", str(config), "serve", "--port", "0", "--plugins-dir", str(folder))
    assert refused.exit_code == 1
    [line] = refused.output.strip().splitlines()
    assert line.startswith("Error: 分中心插件 ningbo（插件目录中的 ") and "cannot be imported" in line
