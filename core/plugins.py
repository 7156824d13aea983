"""Building the plugin manager: core defaults, built-in regions, entry points, allow-list.

Also the routing table: which plugins serve which region (:func:`region_plugins`). The
rulebook calls a region's hooks on that region's plugins only, so no hookimpl has to ask
whether the region is its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, cast

import pluggy

from core import PROJECT, defaults, hookspecs
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.rules import Region

ENTRY_POINT_GROUP = "eportcard.regions"

# Built-in regions, registered exactly like external ones (name = region code).
BUILTIN_REGIONS: tuple[tuple[str, str], ...] = (
    ("shenzhen", "plugins.shenzhen:plugin"),
    ("changchun", "plugins.changchun:plugin"),
    ("xiamen", "plugins.xiamen:plugin"),
    ("hangzhou", "plugins.hangzhou:plugin"),
    ("xian", "plugins.xian:plugin"),
)
BUILTIN_VALUES = dict(BUILTIN_REGIONS)


def _taken(ep: EntryPoint, code: str) -> ConfigError:
    """An external distribution claims a built-in region's code: refuse it, naming the fix."""
    dist = ep.dist.name if ep.dist is not None else ep.value
    return ConfigError(
        f"插件包 {dist} 注册的分中心 {code} 与内置分中心重名：请在该包的 {ENTRY_POINT_GROUP} 入口点和 region.toml "
        f"中改用另一个分中心代码，或卸载该包",
        f"the distribution {dist} registers region {code!r}, which is a built-in region: give it another "
        f"region code (its {ENTRY_POINT_GROUP} entry point and region.toml) or uninstall it",
        field="regions",
    )


def _discovered() -> list[EntryPoint]:
    builtin = [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in BUILTIN_REGIONS]
    external = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTIN_VALUES:
            if ep.value == BUILTIN_VALUES[ep.name]:
                continue  # the built-in itself, declared again
            raise _taken(ep, ep.name)
        external.append(ep)
    return builtin + sorted(external, key=lambda ep: ep.name)


def _declarations(pm: pluggy.PluginManager) -> list[tuple[object, str]]:
    """(plugin, region code) for every region a plugin's own ``register_regions`` declares."""
    return [(impl.plugin, region.code) for impl in pm.hook.register_regions.get_hookimpls()
            if not (impl.wrapper or impl.hookwrapper)
            for region in cast("list[Region] | None", impl.function()) or ()]


def declared_regions(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """The region codes ``plugin`` declares (none for an add-on such as an event listener)."""
    return [code for owner, code in _declarations(pm) if owner is plugin]


def region_plugins(pm: pluggy.PluginManager) -> dict[str, list[object]]:
    """Region code -> the plugins that declare it. Plugins that declare no region are not listed."""
    owners: dict[str, list[object]] = {}
    for plugin, code in _declarations(pm):
        if plugin not in owners.setdefault(code, []):
            owners[code].append(plugin)
    return owners


def get_plugin_manager(
    enabled: Iterable[str] | None = None, extra: Iterable[tuple[str, object]] = ()
) -> pluggy.PluginManager:
    """A fresh manager. ``enabled`` is the deployment's allow-list of region codes (None = all).

    ``extra`` registers additional (name, plugin) pairs, always: a test's throwaway region, an
    event listener. An allow-listed region that is not installed is a configuration error, and
    so is an installed distribution that claims a built-in region's code.
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
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
        if ep.name not in BUILTIN_VALUES and (taken := set(declared_regions(pm, plugin)) & BUILTIN_VALUES.keys()):
            raise _taken(ep, min(taken))
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
