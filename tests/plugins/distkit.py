"""Real installed distributions for plugin tests, without pip: a ``*.dist-info`` folder (METADATA and
entry_points.txt, which is all importlib.metadata reads) and the modules, in a folder put on sys.path."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def install_distribution(site: Path, dist: str, entry_points: str, modules: dict[str, str] | None = None,
                         version: str = "0.1") -> None:
    """Install ``dist`` ``version`` into ``site``: ``entry_points`` are lines of the eportcard.regions
    group (``code = module:plugin``), ``modules`` maps module names to their source."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[eportcard.regions]\n{entry_points}\n", encoding="utf-8")
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(source, encoding="utf-8")


def region_module(code: str, body: str = "", zh: str = "测试", en: str = "Test") -> str:
    """A region plugin module declaring ``code``, with extra class ``body`` (indented hookimpls)."""
    return f'''
from core import hookimpl
from core.rules import Region, Text


class Plugin:
    @hookimpl
    def register_regions(self):
        return [Region(code={code!r}, name=Text({zh!r}, {en!r}), centre=Text("{zh}分中心", "{en} centre"))]
{body}

plugin = Plugin()
'''


def eportcard(args: list[str], cwd: Path, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed ``eportcard`` console script as a process, with ``site``'s distributions installed."""
    exe = shutil.which("eportcard")
    assert exe, "the eportcard console script is not installed"
    env = {k: v for k, v in os.environ.items() if k not in ("EPORTCARD_CONFIG", "EPORTCARD_CA_PASSPHRASE")}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)
