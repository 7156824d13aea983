"""docs/plugins.md, followed end to end: scaffold a region, install it for real, see it discovered, run its CI.

The plugin is built and installed by pip, as a wheel into a temporary folder (what a deployment gets:
package data included) and, by the scaffold's own ``ci.sh``, editable into a fresh virtual environment
(what its author and CI get). The folder is put on ``sys.path`` only inside the tests that use it, so the
test process's environment stays clean; the CI script runs in its own process.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from distkit import install_distribution

from core.cli import main
from core.errors import ConfigError
from core.guide.scaffold import PLACEHOLDER_SOURCE
from core.plugins import BUILTIN_REGIONS, get_plugin_manager
from core.rulebook import Rulebook
from core.testing import conformance_problems

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
CODE = "testregion"
PACKAGE = f"eportcard_region_{CODE}"
# Nothing fetched: no index, and builds use this Python's setuptools. pip reads the --no-build-isolation switch
# from the environment inverted, "0" turning isolation off (https://github.com/pypa/pip/issues/5735).
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def _require_wheel_building() -> None:
    # --no-build-isolation builds with this Python's setuptools, which needs `wheel` before 70.1.
    probe = "from setuptools.dist import Distribution; Distribution().get_command_class('bdist_wheel')"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode != 0:
        pytest.fail("setuptools cannot build wheels here: `pip install wheel` (or setuptools>=70.1)")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Walk-through steps 1-2: new-region, pip install (a wheel, into a folder); returns (dist, site)."""
    _require_wheel_building()
    work = tmp_path_factory.mktemp("walkthrough")
    done = CliRunner().invoke(main, ["new-region", CODE, "--dir", str(work), "--name-zh", "测试区",
                                     "--name-en", "Test Region"])
    assert done.exit_code == 0, done.output
    dist, site = work / f"eportcard-region-{CODE}", work / "site"
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(dist)],
        {**os.environ, **OFFLINE_PIP}, work)
    return dist, site


@contextmanager
def on_path(site: Path) -> Iterator[None]:
    """``site``'s distributions installed for the duration (entry points and imports), then forgotten."""
    sys.path.insert(0, str(site))
    try:
        yield
    finally:
        sys.path.remove(str(site))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """``eportcard ARGS`` in this process, in an empty folder (no deployment config found by accident)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EPORTCARD_CONFIG", raising=False)
    return lambda *args: CliRunner().invoke(main, list(args))


def test_the_walkthrough_is_the_documented_one():
    text = DOCS.read_text(encoding="utf-8")
    for step in ("eportcard new-region", 'pip install -e ".[test]"', "python -m pytest", "eportcard regions",
                 "eportcard guide", "sh ci.sh"):
        assert step in text, f"docs/plugins.md does not show `{step}`"


def test_installed_plugin_is_discovered_through_its_entry_point(installed, cli):
    _, site = installed
    Path("eportcard.toml").write_text("", encoding="utf-8")  # a deployment enabling every installed region
    with on_path(site):
        listed = cli("--config", "eportcard.toml", "regions", "--json")
        guide, english = cli("guide", CODE, "enrol"), cli("guide", CODE, "enrol", "--lang", "en")
    assert listed.exit_code == 0, listed.output
    codes = {r["code"] for r in json.loads(listed.output)}
    assert CODE in codes and {code for code, _ in BUILTIN_REGIONS} <= codes
    assert guide.output.startswith("测试区") and "【所需材料】" in guide.output and "营业执照【占位】" in guide.output
    assert "Test Region" in english.output  # region.toml travelled in the wheel (package data)


def replace_placeholders(folder: Path) -> None:
    """What a plugin author does next: every 【占位】 / [placeholder] example replaced with the real rule."""
    for toml in folder.rglob("region.toml"):
        text = toml.read_text(encoding="utf-8").replace(PLACEHOLDER_SOURCE, "testregion-guide.txt")
        toml.write_text(text.replace("【占位】", "").replace(" [placeholder]", "").replace("[placeholder] ", ""),
                        encoding="utf-8")


def test_installed_plugin_fails_the_kit_on_placeholders_until_they_are_replaced(installed, tmp_path):
    dist, site = installed
    with on_path(site):
        pm = get_plugin_manager()
        assert type(pm.get_plugin(CODE)).__module__ == PACKAGE
        found = conformance_problems(pm, CODE)
    assert found and all("a placeholder is left ([placeholder])" in line for line in found), found
    assert any(line.startswith("region.centre：仍是占位内容") for line in found)
    # Replaced (in copies: the other tests keep the scaffold as written), the kit and the plugin's own tests pass.
    replaced, own = tmp_path / "site", tmp_path / dist.name
    shutil.copytree(site, replaced)
    shutil.copytree(dist, own)
    replace_placeholders(replaced)
    replace_placeholders(own)
    with on_path(replaced):
        assert conformance_problems(get_plugin_manager(), CODE) == []
        tests = runpy.run_path(str(own / "tests" / "test_conformance.py"))
        ran = [name for name, test in tests.items() if name.startswith("test_") and test() is None]
    assert ran == ["test_region_passes_the_conformance_kit"]


def test_installed_and_in_the_plugins_folder_is_one_region_twice(installed, cli, caplog):
    """The README's warning: use the install or ``--plugins-dir``, not both."""
    dist, site = installed
    with on_path(site):
        both = cli("guide", CODE, "enrol", "--plugins-dir", str(dist))
    assert both.exit_code == 1 and f"unknown or disabled region: {CODE}" in both.output
    disabled = [r.getMessage() for r in caplog.records if f"registers region code '{CODE}', which {CODE}" in r.getMessage()]
    assert len(disabled) == 2 and all(line.endswith("the plugin is disabled") for line in disabled)  # each names the other


@pytest.mark.slow
def test_the_scaffolds_ci_script_installs_tests_and_checks_in_a_fresh_environment(installed, tmp_path):
    """README: ``sh ci.sh`` in a fresh virtual environment (this machine's packages visible, nothing fetched),
    then the develop loop: an edit to region.toml shows at once, without reinstalling."""
    _require_wheel_building()
    dist = tmp_path / installed[0].name
    shutil.copytree(installed[0], dist)
    replace_placeholders(dist)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], dict(os.environ), tmp_path)
    python = venv / "bin" / "python"
    # eportcard's console script, as its own install would put it beside the venv's python
    (venv / "bin" / "eportcard").write_text(f'#!/bin/sh\nexec "{python}" -c "from core.cli import main; main()" "$@"\n')
    (venv / "bin" / "eportcard").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("EPORTCARD_CONFIG", "PYTHONPATH", "EPORTCARD_SOURCE")}
    env |= OFFLINE_PIP | {"PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}", "PYTHON": "python"}
    ci = run(["sh", "ci.sh"], env, dist).stdout
    assert "1 passed" in ci and f"{CODE}: 通过 / passes" in ci and "region(s) pass the conformance kit" in ci
    toml = dist / PACKAGE / "region.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('en = "New enrolment"', 'en = "Joining E-Port"'),
                    encoding="utf-8")
    guide = run(["eportcard", "guide", CODE, "enrol", "--lang", "en"], env, tmp_path).stdout
    assert "Joining E-Port" in guide


def test_the_ci_script_says_when_eportcard_is_missing(installed, tmp_path):
    venv = tmp_path / "bare"  # no eportcard (nor pip) in it, and no EPORTCARD_SOURCE
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], dict(os.environ), tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "EPORTCARD_SOURCE"} | {"PYTHON": str(venv / "bin" / "python")}
    done = subprocess.run(["sh", "ci.sh"], env=env, cwd=installed[0], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "未安装 eportcard：请将 EPORTCARD_SOURCE 设为 pip 能安装的来源（git 地址、源码目录或 wheel）",
        "eportcard is not installed: set EPORTCARD_SOURCE to something pip installs (a git URL, a source folder "
        "or a wheel)"]


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
