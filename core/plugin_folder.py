"""Region plugins from a folder (``[regions] plugins_dir``, ``--plugins-dir``): iterate without reinstalling.

As datasette's ``--plugins-dir`` does (https://docs.datasette.io/en/stable/plugins.html#one-off-plugins-using-plugins-dir):
every ``*.py`` module and every package (a folder with ``__init__.py``) in the folder is imported,
afresh on each load, and one that defines ``plugin`` is registered as a region plugin under the
region code it declares. Names starting with ``_`` or ``.`` are skipped. A package imports its own
modules relatively (``from . import rules``): it is imported under a private name, so that it never
replaces an installed module of the same name.
"""

from __future__ import annotations

import sys
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

from core.errors import ConfigError

__all__ = ["folder_modules", "import_plugin", "module_name"]

PREFIX = "_eportcard_plugins_dir_"


def folder_modules(folder: Path) -> list[Path]:
    """The modules and packages in ``folder``, sorted by name; a folder that is not there is a ConfigError."""
    if not folder.is_dir():
        raise ConfigError(f"插件目录 {folder} 不存在或不是目录：请改正 [regions] plugins_dir 或 --plugins-dir",
                          f"the plugins folder {folder} does not exist or is not a folder: correct [regions] "
                          "plugins_dir or --plugins-dir", field="regions.plugins_dir")
    return sorted(path for path in folder.iterdir()
                  if not path.name.startswith(("_", "."))
                  and ((path.suffix == ".py" and path.is_file()) or (path / "__init__.py").is_file()))


def module_name(path: Path) -> str:
    """The name the module is known by in messages: its file or package name without ``.py``."""
    return path.stem if path.suffix == ".py" else path.name


def import_plugin(path: Path) -> object | None:
    """Import the module or package at ``path`` afresh and return its ``plugin`` (None: it defines none)."""
    name = PREFIX + module_name(path)
    for loaded in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
        del sys.modules[loaded]  # afresh: the file may have changed since the last load
    if path.is_dir():
        spec = spec_from_file_location(name, path / "__init__.py", submodule_search_locations=[str(path)])
    else:
        spec = spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None  # a .py file or an __init__.py always has one
    module = module_from_spec(spec)
    sys.modules[name] = module  # a package's relative imports look it up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return getattr(module, "plugin", None)
