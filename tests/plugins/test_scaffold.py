"""`eportcard new-region`: what it writes (the test extra, CI, the README's loop) and what it refuses.

The scaffold installed and run for real (pip, its CI script in a fresh environment) is in
test_external_plugin.py; here the files themselves and every refusal.
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from distkit import install_distribution
from docparse import blocks, read_doc

from core.cli import main
from core.errors import InvalidInput
from core.guide.scaffold import scaffold_region

CODE = "ningbo"


@pytest.fixture
def dist(tmp_path) -> Path:
    return scaffold_region(CODE, tmp_path, name_zh="宁波", name_en="Ningbo")


def test_the_distribution_has_a_test_extra_and_registers_its_entry_point(dist):
    project = tomllib.loads((dist / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == f"eportcard-region-{CODE}"
    assert project["project"]["dependencies"] == ["eportcard"]
    assert any(req.startswith("pytest") for req in project["project"]["optional-dependencies"]["test"])
    assert project["project"]["entry-points"]["eportcard.regions"] == {CODE: f"eportcard_region_{CODE}:plugin"}
    assert project["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert project["tool"]["setuptools"]["package-data"] == {f"eportcard_region_{CODE}": ["region.toml"]}


def test_the_ci_script_installs_tests_and_checks(dist):
    script = dist / "ci.sh"
    assert script.stat().st_mode & stat.S_IXUSR, "ci.sh is not executable"
    commands = [line.strip() for line in script.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert commands[0] == "set -eu"  # any failing step fails CI
    order = ['"$PYTHON" -m pip install "$EPORTCARD_SOURCE"', '"$PYTHON" -m pip install -e ".[test]"',
             '"$PYTHON" -m pytest -q tests', 'eportcard --config "$config" regions --check']
    assert [commands.index(c) for c in order] == sorted(commands.index(c) for c in order)
    assert "$$" not in script.read_text(encoding="utf-8")  # string.Template's escapes are all resolved


def test_the_github_workflow_runs_the_ci_script_with_eportcard_source(dist):
    workflow = yaml.safe_load((dist / ".github" / "workflows" / "test.yml").read_text(encoding="utf-8"))
    [job] = workflow["jobs"].values()
    [run] = [step for step in job["steps"] if "run" in step]
    assert run["run"] == "sh ci.sh" and run["env"] == {"EPORTCARD_SOURCE": "${{ vars.EPORTCARD_SOURCE }}"}
    assert workflow[True] == ["push", "pull_request"]  # YAML 1.1 reads the key `on` as true


def test_the_readme_gives_the_develop_install_test_loop(dist):
    readme = (dist / "README.md").read_text(encoding="utf-8")
    for step in ('pip install -e ".[test]"', "python -m pytest", f"eportcard guide {CODE} enrol",
                 f"eportcard guide {CODE} enrol --plugins-dir .", "sh ci.sh", "EPORTCARD_SOURCE",
                 "【占位】", f"eportcard_region_{CODE}/region.toml"):
        assert step in readme, f"the README does not show {step!r}"
    assert "$" + "code" not in readme and "$" + "package" not in readme


def test_new_region_writes_the_files_and_says_what_next(tmp_path):
    done = CliRunner().invoke(main, ["new-region", CODE, "--dir", str(tmp_path), "--name-zh", "宁波"])
    assert done.exit_code == 0, done.output
    dist = tmp_path / f"eportcard-region-{CODE}"
    written = sorted(str(p.relative_to(dist)) for p in dist.rglob("*") if p.is_file())
    assert written == [".github/workflows/test.yml", ".gitignore", "README.md", "ci.sh",
                       f"eportcard_region_{CODE}/__init__.py", f"eportcard_region_{CODE}/region.toml",
                       "pyproject.toml", "tests/test_conformance.py"]
    assert f"pip install -e '{dist}[test]'" in done.output and "README.md" in done.output


# -- refusals: one bilingual line, nothing written ---------------------------------------------------------


def refused(args: list[str], where: Path) -> str:
    before = sorted(where.rglob("*"))
    done = CliRunner().invoke(main, ["new-region", *args, "--dir", str(where)])
    assert done.exit_code == 1 and "Traceback" not in done.output, done.output
    assert sorted(where.rglob("*")) == before, "new-region wrote something after refusing"
    [line] = done.output.strip().splitlines()
    return line


@pytest.mark.parametrize(("code", "zh", "en"), [
    ("Ningbo", "分中心代码 'Ningbo' 无效", "region code 'Ningbo' is invalid"),
    ("n", "分中心代码 'n' 无效", "use 2-31 lowercase letters"),
    ("xiamen", "分中心 xiamen 已内置", "region xiamen is built in; choose another code"),
])
def test_new_region_refuses_a_bad_or_built_in_code(tmp_path, code, zh, en):
    line = refused([code], tmp_path)
    assert zh in line and en in line


def test_new_region_refuses_a_code_an_installed_distribution_registers(tmp_path, monkeypatch):
    site = tmp_path / "site"
    install_distribution(site, "eportcard-region-nb", f"{CODE} = eportcard_region_nb:plugin", version="2.1")
    monkeypatch.syspath_prepend(str(site))
    out = tmp_path / "out"
    out.mkdir()
    line = refused([CODE], out)
    assert "已被已安装的插件包 eportcard-region-nb 2.1 使用" in line and "请换一个代码" in line
    assert f"region code {CODE} is taken by the installed distribution eportcard-region-nb 2.1 " \
           f"(entry point eportcard.regions: {CODE}); choose another code" in line
    with pytest.raises(InvalidInput) as caught:
        scaffold_region(CODE, out)
    assert caught.value.field == "code"
    scaffold_region("ningbo2", out)  # another code is free


def test_new_region_refuses_an_existing_folder(tmp_path, dist):
    (dist / "README.md").write_text("mine", encoding="utf-8")
    line = refused([CODE], tmp_path)
    assert "已存在，未作任何修改" in line and "already exists; nothing was written" in line
    assert (dist / "README.md").read_text(encoding="utf-8") == "mine"



def test_the_plugin_guide_lists_what_new_region_writes(tmp_path):
    """docs/plugins.md, walk-through step 1: the tree it shows is the one written."""
    [tree] = [b for b in blocks(read_doc()) if b.lang == "" and "This writes `eportcard-region-qingdao/`" in b.caption]
    listed = sorted(line.split()[0] for line in tree.text.splitlines() if line and not line[0].isspace())
    dist = scaffold_region("qingdao", tmp_path)
    assert listed == sorted(str(p.relative_to(dist)) for p in dist.rglob("*") if p.is_file())
