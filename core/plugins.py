"""Building the plugin manager: core defaults, built-in regions, entry points, a plugins folder, allow-list.

Also the routing table: which plugins serve which region (:func:`region_plugins`). The
rulebook calls a region's hooks on that region's plugins only, so no hookimpl has to ask
whether the region is its own.

A broken plugin does not stop the others: it is checked as it is registered (it imports, its
hooks match the hookspecs by name and parameters, ``register_regions`` answers, no other plugin
has its region code) and on a fault it is disabled, with one bilingual line
(:class:`core.plugin_faults.PluginFault`) logged and kept in ``pm.disabled``. A plugin the
deployment's ``[regions] enabled`` names (or the caller passes in ``extra``) is required
instead: its fault is a ConfigError.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, cast

import pluggy
from attrs import frozen

from core import PROJECT, defaults, hookspecs
from core.errors import ConfigError
from core.plugin_faults import Origin, PluginFault
from core.plugin_folder import folder_modules, import_plugin, module_name
from core.rules import Region

log = logging.getLogger(__name__)

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
CORE_DEFAULTS = "core.defaults"


class RegionPluginManager(pluggy.PluginManager):
    """A pluggy manager that also knows where each plugin came from and which ones it disabled."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.origins: dict[str, Origin] = {}
        self.required: set[str] = set()  # plugins whose fault stops eportcard (named in [regions] enabled)
        self.disabled: list[PluginFault] = []

    def origin(self, name: str) -> Origin:
        return self.origins.get(name) or Origin.caller()

    def drop(self, fault: PluginFault, *, plugin: object = None, required: bool | None = None) -> None:
        """Disable ``plugin`` (when registered) and log why; raise the fault instead when the plugin is
        required (``required`` None: when it was registered as required)."""
        if fault.name in self.required if required is None else required:
            raise fault.error()
        if plugin is not None and self.is_registered(plugin):
            self.unregister(plugin)
        self.disabled.append(fault)
        if fault.line not in _WARNED:  # a process may build more than one manager (serve: rules, gateways)
            _WARNED.add(fault.line)
            log.warning("%s", fault.line)


_WARNED: set[str] = set()  # the fault lines this process has logged: each is logged once


def _declares(pm: pluggy.PluginManager, plugin: object) -> bool:
    """Whether ``plugin`` has a ``register_regions`` hookimpl (an add-on has none)."""
    return hasattr(plugin, "register_regions") and pm.parse_hookimpl_opts(plugin, "register_regions") is not None


def _declared(plugin: Any) -> list[Region]:
    """What the plugin's own ``register_regions`` hookimpl answers (it may raise: a plugin bug)."""
    answer = plugin.register_regions()
    if answer is None:
        return []
    if not isinstance(answer, list | tuple) or not all(isinstance(r, Region) for r in answer):
        raise _NotRegions(answer)
    return list(answer)


class _NotRegions(Exception):
    def __init__(self, got: object) -> None:
        self.got = got


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


# ---- loading -------------------------------------------------------------------------------------------


@frozen
class _Candidate:
    """A plugin to load: its name (entry-point name, module name or the caller's), origin and loader."""

    name: str
    origin: Origin
    load: Callable[[], object]  # the plugin object; None when a folder module defines no ``plugin``
    extra: bool = False
    from_folder: bool = False


def _origin(ep: EntryPoint) -> Origin:
    if ep.dist is None:
        return Origin.distribution(ep.value)
    return Origin.distribution(ep.dist.name, ep.dist.version)


def _discovered() -> list[_Candidate]:
    found = [_Candidate(name, Origin.builtin(), EntryPoint(name, value, ENTRY_POINT_GROUP).load)
             for name, value in BUILTIN_REGIONS]
    external = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if BUILTIN_VALUES.get(ep.name) != ep.value]
    # the built-in itself, declared again, is skipped above; every other entry point is a candidate
    external.sort(key=lambda ep: (ep.name, ep.dist.name if ep.dist else "", ep.value))  # the same order every run
    found += [_Candidate(ep.name, _origin(ep), ep.load) for ep in external]
    return found


def _given(plugin: object) -> Callable[[], object]:
    return lambda: plugin


def _in_folder(folder: Path) -> list[_Candidate]:
    return [_Candidate(module_name(path), Origin.folder(path), partial(import_plugin, path),
                       from_folder=True) for path in folder_modules(folder)]


class _Loader:
    """Registers candidates one by one, each checked before the next comes."""

    def __init__(self, pm: RegionPluginManager, allow: set[str] | None) -> None:
        self.pm = pm
        self.allow = allow
        self.found: set[str] = set()  # region codes and entry-point names seen, loaded or not (allow-list)
        self.owner: dict[str, str] = {}  # region code -> the name of the plugin that declares it

    def named(self, *names: str) -> bool:
        return self.allow is not None and bool(self.allow & set(names))

    def load(self, candidate: _Candidate) -> None:
        if candidate.from_folder:
            self.load_from_folder(candidate)
            return
        self.found.add(candidate.name)
        if not candidate.extra and self.allow is not None and candidate.name not in self.allow:
            return  # not enabled: not even imported
        required = candidate.extra or self.allow is not None  # past the allow-list, it names the plugin
        try:
            plugin = candidate.load()
        except Exception as exc:  # any error while importing: the plugin's own bug
            self.pm.drop(PluginFault.import_failed(candidate.name, candidate.origin, exc), required=required)
            return
        self.register(candidate.name, candidate.origin, plugin, required)

    def load_from_folder(self, candidate: _Candidate) -> None:
        """A folder module is imported to learn its region (and registered under that code)."""
        origin = candidate.origin
        guess = self.named(candidate.name)  # before its region is known, the allow-list may name the module
        try:
            plugin = candidate.load()
        except Exception as exc:
            self.pm.drop(PluginFault.import_failed(candidate.name, origin, exc), required=guess)
            return
        if plugin is None:
            return  # a helper module: it defines no ``plugin``
        if (fault := _signature_fault(self.pm, candidate.name, origin, plugin)) is not None:
            self.pm.drop(fault, required=guess)  # before register_regions is called with the hookspec's arguments
            return
        try:
            codes = [r.code for r in _declared(plugin)] if _declares(self.pm, plugin) else []
        except _NotRegions as bad:
            self.pm.drop(PluginFault.bad_declaration(candidate.name, origin, bad.got), required=guess)
            return
        except Exception as exc:
            self.pm.drop(PluginFault.raised(candidate.name, origin, "register_regions", exc), required=guess)
            return
        if not codes:
            self.pm.drop(PluginFault.no_region(candidate.name, origin), required=guess)
            return
        self.found.update(codes)
        if self.allow is not None and not self.named(*codes):
            return
        name = codes[0] if len(codes) == 1 else candidate.name
        self.register(name, origin, plugin, required=self.allow is not None)

    def register(self, name: str, origin: Origin, plugin: object, required: bool) -> None:
        pm = self.pm
        if pm.has_plugin(name):  # two entry points (or a module and an entry point) with one name
            self.collide(name, origin, None, name, name, required)
            return
        if pm.is_registered(plugin):
            pm.drop(PluginFault.same_object(name, origin, pm.get_name(plugin) or "?"), required=required)
            return
        pm.origins[name] = origin
        if required:
            pm.required.add(name)
        if (fault := self.registration_fault(name, origin, plugin)) is not None:
            pm.drop(fault, plugin=plugin)
            return
        self.claim(name, origin, plugin)

    def registration_fault(self, name: str, origin: Origin, plugin: object) -> PluginFault | None:
        """Register ``plugin``; the fault that makes it unusable, if any (it stays registered for ``drop``:
        pluggy keeps a plugin it failed to validate half-registered)."""
        pm = self.pm
        try:
            pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            return _signature_fault(pm, name, origin, plugin) or PluginFault.invalid_hook(name, origin, exc)
        except Exception as exc:  # an attribute that raises while pluggy looks for hookimpls
            return PluginFault.not_registrable(name, origin, exc)
        for caller in pm.get_hookcallers(plugin) or ():
            if not caller.has_spec() and any(not i.optionalhook for i in caller.get_hookimpls() if i.plugin is plugin):
                return PluginFault.unknown_hook(name, origin, caller.name, _spec_names(pm))
        if not _declares(pm, plugin):
            return None  # an add-on: it declares no region
        try:
            _declared(plugin)
        except _NotRegions as bad:
            return PluginFault.bad_declaration(name, origin, bad.got)
        except Exception as exc:
            return PluginFault.raised(name, origin, "register_regions", exc)
        return None

    def claim(self, name: str, origin: Origin, plugin: object) -> None:
        """Record the region codes ``plugin`` declares; one another plugin declares already collides."""
        for code in declared_regions(self.pm, plugin):
            other = self.owner.setdefault(code, name)
            if other != name:
                self.collide(name, origin, plugin, code, other)
                return

    def collide(self, name: str, origin: Origin, plugin: object, code: str, other: str,
                required: bool | None = None) -> None:
        """Two plugins claim one region code: both are disabled, as which distribution is meant is the
        operator's choice; a built-in keeps its own code."""
        pm = self.pm
        rival, rival_origin = pm.get_plugin(other), pm.origin(other)
        pm.drop(PluginFault.duplicate(name, origin, code, other, rival_origin), plugin=plugin, required=required)
        if rival_origin != Origin.builtin() and rival is not None:
            pm.drop(PluginFault.duplicate(other, rival_origin, code, name, origin), plugin=rival)


def _spec_names(pm: pluggy.PluginManager) -> list[str]:
    return [caller.name for caller in vars(pm.hook).values()
            if isinstance(caller, pluggy.HookCaller) and caller.has_spec()]


def _signature_fault(pm: pluggy.PluginManager, name: str, origin: Origin, plugin: object) -> PluginFault | None:
    """The hookimpl whose parameters its hookspec does not pass, said plainly (pluggy's message spans lines)."""
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        hook = getattr(pm.hook, opts.get("specname") or attr, None)
        if hook is None or hook.spec is None:
            continue
        impl = pluggy.HookImpl(plugin, name, getattr(plugin, attr), opts)
        if extra := set(impl.argnames) - set(hook.spec.argnames):
            return PluginFault.bad_signature(name, origin, hook.name, extra, hook.spec.argnames)
    return None


def get_plugin_manager(
    enabled: Iterable[str] | None = None, extra: Iterable[tuple[str, object]] = (),
    plugins_dir: Path | None = None,
) -> RegionPluginManager:
    """A fresh manager. ``enabled`` is the deployment's allow-list of region codes (None = all).

    ``extra`` registers additional (name, plugin) pairs, always: a test's throwaway region, an
    event listener. ``plugins_dir`` adds the region plugins in that folder (:mod:`core.plugin_folder`).
    A broken plugin is disabled (``pm.disabled`` says why) unless ``enabled`` names it or ``extra``
    passes it: then its fault is a ConfigError, as is an allow-listed region that is not installed.
    """
    pm = RegionPluginManager()
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name=CORE_DEFAULTS)
    pm.origins[CORE_DEFAULTS] = Origin.builtin()
    allow = None if enabled is None else set(enabled)
    loader = _Loader(pm, allow)
    candidates = _discovered()
    if plugins_dir is not None:
        candidates += _in_folder(plugins_dir)
    candidates += [_Candidate(name, Origin.caller(), _given(plugin), extra=True) for name, plugin in extra]
    for candidate in candidates:
        loader.load(candidate)
    if allow is not None and (missing := allow - loader.found):
        raise ConfigError(
            f"配置启用的分中心插件未安装：{', '.join(sorted(missing))}",
            f"enabled regions are not installed: {', '.join(sorted(missing))}",
            field="regions.enabled",
        )
    pm.check_pending()  # every unknown hook was caught per plugin above; this only guards that
    return pm
