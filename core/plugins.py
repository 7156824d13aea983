"""Building the plugin manager: core defaults, built-in regions, entry points, allow-list."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

import pluggy

from core import PROJECT, defaults, hookspecs
from core.errors import ConfigError

ENTRY_POINT_GROUP = "eportcard.regions"

# Built-in regions, registered exactly like external ones (name = region code).
BUILTIN_REGIONS: tuple[tuple[str, str], ...] = (
    ("shenzhen", "plugins.shenzhen:plugin"),
    ("changchun", "plugins.changchun:plugin"),
    ("xiamen", "plugins.xiamen:plugin"),
    ("hangzhou", "plugins.hangzhou:plugin"),
    ("xian", "plugins.xian:plugin"),
)


def _discovered() -> list[EntryPoint]:
    builtin = [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in BUILTIN_REGIONS]
    names = {ep.name for ep in builtin}
    external = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in names]
    return builtin + sorted(external, key=lambda ep: ep.name)


def get_plugin_manager(
    enabled: Iterable[str] | None = None, extra: Iterable[tuple[str, object]] = ()
) -> pluggy.PluginManager:
    """A fresh manager. ``enabled`` is the deployment's allow-list of region codes (None = all).

    ``extra`` registers additional (name, plugin) pairs, always: a test's throwaway region, an
    event listener. An allow-listed region that is not installed is a configuration error.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name="core.defaults")
    allow = None if enabled is None else set(enabled)
    found: set[str] = set()
    for ep in _discovered():
        found.add(ep.name)
        if allow is not None and ep.name not in allow:
            continue
        pm.register(ep.load(), name=ep.name)
    for name, plugin in extra:
        found.add(name)
        pm.register(plugin, name=name)
    if allow is not None and (missing := allow - found):
        raise ConfigError(
            f"配置启用的分中心插件未安装：{', '.join(sorted(missing))}",
            f"enabled regions are not installed: {', '.join(sorted(missing))}",
            field="regions.enabled",
        )
    pm.check_pending()
    return pm
