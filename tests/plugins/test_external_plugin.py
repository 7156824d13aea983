"""docs/plugins.md, followed end to end: scaffold a region, install it for real, see it discovered.

The plugin is installed (not editable) into a temporary folder with pip, and everything that
must discover it through its entry point runs in a subprocess with that folder on PYTHONPATH,
so this machine's environment stays clean.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from distkit import install_distribution

from core.errors import ConfigError
from core.guide.scaffold import PLACEHOLDER_SOURCE
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.rulebook import Rulebook

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
CODE = "testregion"


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Walk-through steps 1-3: new-region, (edit), pip install; returns (env, workdir, dist)."""
    work = tmp_path_factory.mktemp("walkthrough")
    # --no-build-isolation builds with this Python's setuptools, which needs `wheel` before 70.1.
    probe = "from setuptools.dist import Distribution; Distribution().get_command_class('bdist_wheel')"
    backend = subprocess.run([sys.executable, "-c", probe], capture_output=True)
    if backend.returncode != 0:
        pytest.fail("setuptools cannot build wheels here: `pip install wheel` (or setuptools>=70.1)")
    env = {**os.environ, "PYTHONPATH": ""}
    eportcard = [sys.executable, "-c", "from core.cli import main; main()"]
    run([*eportcard, "new-region", CODE, "--name-zh", "测试区", "--name-en", "Test Region"], env, work)
    dist = work / f"eportcard-region-{CODE}"
    site = work / "site"
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(dist)], env, work)
    env["PYTHONPATH"] = str(site)
    return env, work, dist, eportcard


def test_the_walkthrough_is_the_documented_one():
    text = DOCS.read_text(encoding="utf-8")
    for step in ("eportcard new-region", "pip install -e", "eportcard regions", "eportcard guide"):
        assert step in text, f"docs/plugins.md does not show `{step}`"


def test_installed_plugin_is_discovered_through_its_entry_point(installed):
    env, work, _, eportcard = installed
    run([*eportcard, "--config", str(work / "eportcard.toml"), "init"], env, work)
    regions = json.loads(run([*eportcard, "--config", str(work / "eportcard.toml"), "regions", "--json"],
                             env, work).stdout)
    codes = {r["code"] for r in regions}
    assert CODE in codes and {code for code, _ in BUILTIN_REGIONS} <= codes
    guide = run([*eportcard, "guide", CODE, "enrol"], env, work).stdout
    assert guide.startswith("测试区") and "【所需材料】" in guide and "营业执照【占位】" in guide
    assert "Test Region" in run([*eportcard, "guide", CODE, "enrol", "--lang", "en"], env, work).stdout


def replace_placeholders(folder: Path) -> None:
    """What a plugin author does next: every 【占位】 / [placeholder] example replaced with the real rule."""
    for toml in folder.rglob("region.toml"):
        text = toml.read_text(encoding="utf-8").replace(PLACEHOLDER_SOURCE, "testregion-guide.txt")
        toml.write_text(text.replace("【占位】", "").replace(" [placeholder]", "").replace("[placeholder] ", ""),
                        encoding="utf-8")


def test_installed_plugin_fails_the_kit_on_placeholders_until_they_are_replaced(installed, tmp_path):
    env, work, dist, _ = installed
    probe = ("from core.plugins import get_plugin_manager; from core.testing import conformance_problems; "
             f"pm = get_plugin_manager(); print(type(pm.get_plugin({CODE!r})).__module__); "
             f"print(*conformance_problems(pm, {CODE!r}), sep='\\n')")
    found = run([sys.executable, "-c", probe], env, work).stdout.splitlines()
    assert found[0] == f"eportcard_region_{CODE}" and len(found) > 1
    assert all("a placeholder is left ([placeholder])" in line for line in found[1:]), found
    assert any(line.startswith("region.centre：仍是占位内容") for line in found[1:])
    # Replaced (in copies: the other tests keep the scaffold as written), the kit and the plugin's own tests pass.
    site, own = tmp_path / "site", tmp_path / dist.name
    shutil.copytree(Path(env["PYTHONPATH"]), site)
    shutil.copytree(dist, own)
    replace_placeholders(site)
    replace_placeholders(own)
    env = {**env, "PYTHONPATH": str(site)}
    assert run([sys.executable, "-c", probe], env, work).stdout.strip().splitlines() == [f"eportcard_region_{CODE}"]
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(own / "tests")], env, own)


def test_not_installed_in_this_process():
    # The temporary install must not leak into the test process itself.
    assert CODE not in Rulebook(get_plugin_manager()).regions()


def test_the_allow_list_excludes_other_regions_and_refuses_missing_ones():
    rulebook = Rulebook(get_plugin_manager(enabled=["xiamen", "xian"]))
    assert set(rulebook.regions()) == {"xiamen", "xian"}
    with pytest.raises(ConfigError) as caught:
        get_plugin_manager(enabled=["xiamen", CODE])
    assert CODE in caught.value.zh and CODE in caught.value.en and caught.value.field == "regions.enabled"


# -- a distribution that claims a built-in region's code is disabled, not silently merged ------------------

IMPOSTOR = '''
from core import hookimpl
from core.rules import Region, Text


class Impostor:
    @hookimpl
    def register_regions(self):
        return [Region(code="xiamen", name=Text("假厦门", "Fake Xiamen"), centre=Text("假", "Fake"))]


plugin = Impostor()
'''


@pytest.mark.parametrize("entry_point", ["xiamen = eportcard_impostor:plugin",  # named like a built-in
                                         "fakexiamen = eportcard_impostor:plugin"])  # declares a built-in code
def test_an_external_region_named_like_a_built_in_one_is_disabled(tmp_path, monkeypatch, entry_point):
    install_distribution(tmp_path, "eportcard-region-impostor", entry_point, {"eportcard_impostor": IMPOSTOR})
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = get_plugin_manager()
    assert Rulebook(pm).region("xiamen").name.zh == "厦门"  # the built-in keeps its code
    [fault] = pm.disabled
    for text in (fault.zh, fault.en):
        assert "eportcard-region-impostor" in text and "xiamen" in text and "\n" not in text
    assert "another region code" in fault.en and "改用另一个分中心代码" in fault.zh
    assert "which xiamen (built-in) registers too" in fault.en
    name = entry_point.split()[0]  # enabled by name, it stops start-up instead
    with pytest.raises(ConfigError) as caught:
        get_plugin_manager(enabled=sorted({"xiamen", name}))
    assert caught.value.field == "regions.enabled" and "eportcard-region-impostor" in caught.value.en


def test_the_built_in_entry_point_declared_again_is_not_a_duplicate(tmp_path, monkeypatch):
    install_distribution(tmp_path, "eportcard-builtins-again", "xiamen = plugins.xiamen:plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    pm = get_plugin_manager()
    assert "xiamen" in Rulebook(pm).regions() and pm.disabled == []
