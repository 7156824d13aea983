"""``eportcard new-region CODE``: a region plugin distribution, ready to fill in, test and install.

The result is its own distribution (``eportcard-region-CODE/``) registering the entry point
``eportcard.regions: CODE = "eportcard_region_CODE:plugin"``, with a ``test`` extra (pytest), the
conformance kit as its first test, a CI script (``ci.sh``, run by ``.github/workflows/test.yml``) and a
README with the develop-install-test loop. Its data are placeholders, clearly marked, to be replaced
with the region's published rules: the kit fails until they are.
"""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from importlib.resources import files
from pathlib import Path
from string import Template

from core.errors import InvalidInput
from core.plugins import BUILTIN_REGIONS, ENTRY_POINT_GROUP

__all__ = ["PLACEHOLDER_SOURCE", "scaffold_region"]

CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,30}")
PLACEHOLDER_SOURCE = "占位：请替换为所依据的文件 / placeholder: replace with the document you encode"

# template name -> path inside the distribution ({package} is the import name)
LAYOUT = {
    "pyproject.toml.txt": "pyproject.toml",
    "README.md.txt": "README.md",
    "__init__.py.txt": "{package}/__init__.py",
    "region.toml.txt": "{package}/region.toml",
    "test_conformance.py.txt": "tests/test_conformance.py",
    "ci.sh.txt": "ci.sh",
    "test.yml.txt": ".github/workflows/test.yml",
    "gitignore.txt": ".gitignore",
}
EXECUTABLE = {"ci.sh"}


def _check_code(code: str) -> None:
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidInput(f"分中心代码 {code!r} 无效：须为 2-31 位小写字母、数字或下划线，以字母开头（如 ningbo）",
                           f"region code {code!r} is invalid: use 2-31 lowercase letters, digits or "
                           "underscores, starting with a letter (e.g. ningbo)", field="code")
    if code in {name for name, _ in BUILTIN_REGIONS}:
        raise InvalidInput(f"分中心 {code} 已内置，请换一个代码", f"region {code} is built in; choose another code",
                           field="code")
    # Any installed distribution's entry point, not only eportcard's: two plugins with one code are both
    # disabled when the plugin manager is built (core.plugins), so the second is refused here already.
    taken = next(iter(entry_points(group=ENTRY_POINT_GROUP, name=code)), None)
    if taken is not None:
        dist = f"{taken.dist.name} {taken.dist.version}" if taken.dist else taken.value
        raise InvalidInput(f"分中心代码 {code} 已被已安装的插件包 {dist} 使用（入口点 {ENTRY_POINT_GROUP}: {code}），"
                           "请换一个代码",
                           f"region code {code} is taken by the installed distribution {dist} (entry point "
                           f"{ENTRY_POINT_GROUP}: {code}); choose another code", field="code")


def scaffold_region(code: str, directory: Path | str = ".", *, name_zh: str = "", name_en: str = "") -> Path:
    """Write ``eportcard-region-CODE/`` under ``directory`` and return its path. Refuses to overwrite."""
    _check_code(code)
    target = Path(directory) / f"eportcard-region-{code}"
    if target.exists():
        raise InvalidInput(f"{target} 已存在，未作任何修改", f"{target} already exists; nothing was written",
                           field="dir")
    package = f"eportcard_region_{code}"
    values = {
        "code": code, "package": package,
        "class_name": "".join(part.capitalize() for part in code.split("_")) + "Region",
        "name_zh": name_zh or code, "name_en": name_en or code.replace("_", " ").title(),
        "prefix": re.sub(r"[^A-Z]", "", code.upper())[:3] or "REG",
        "source": PLACEHOLDER_SOURCE,
    }
    templates = files("core.guide.templates")
    rendered = {dest.format(package=package): Template(templates.joinpath(name).read_text(encoding="utf-8"))
                .substitute(values) for name, dest in LAYOUT.items()}
    for relative, text in rendered.items():  # all rendered first: a template error leaves nothing behind
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if relative in EXECUTABLE:
            path.chmod(0o755)
    return target
