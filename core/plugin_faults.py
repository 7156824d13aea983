"""A region plugin's faults as one bilingual line: which plugin, which distribution, what to do.

A broken plugin (it cannot be imported, a hook has the wrong signature or a name no hookspec
has, ``register_regions`` raises, it claims a region code another plugin has, it fails the
start-up checks) becomes a :class:`PluginFault`. The plugin manager disables that plugin and logs
the line, or stops with it as a :class:`~core.errors.ConfigError` when the deployment's
``[regions] enabled`` names the plugin (``core.plugins.RegionPluginManager.drop``).

A hookimpl that raises while a request is answered becomes :class:`PluginFailed`, naming the
plugin found in the exception's traceback (:func:`culprit`), instead of pluggy's call chain.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import pluggy
from attrs import frozen

from core.errors import ConfigError, EportError, Unavailable

__all__ = ["Origin", "PluginFailed", "PluginFault", "culprit", "one_line"]

MAX_DETAIL = 200  # characters of an exception's message kept in a line


def one_line(exc: BaseException, lang: str = "") -> str:
    """``TypeError: message`` on one line, shortened (the full traceback is for the debug log).

    Our own errors already say what is wrong in both languages: ``lang`` ("zh" or "en") takes that
    language's text whole, e.g. a region file's ``FILE:LINE: path: reason`` lines, which the author needs.
    """
    if isinstance(exc, EportError) and lang in ("zh", "en"):
        return " ".join(getattr(exc, lang).split())
    text = " ".join(str(exc).split())
    if len(text) > MAX_DETAIL:
        text = text[:MAX_DETAIL - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@frozen
class Origin:
    """Where a plugin comes from, and how to take it out of the deployment."""

    zh: str
    en: str
    remove_zh: str
    remove_en: str

    @classmethod
    def builtin(cls) -> Origin:
        return cls("内置", "built-in", "向 eportcard 维护者报告", "report it to the eportcard maintainers")

    @classmethod
    def distribution(cls, name: str, version: str = "") -> Origin:
        label = f"{name} {version}".strip()
        return cls(f"插件包 {label}", f"distribution {label}", f"卸载插件包 {name}", f"uninstall {name}")

    @classmethod
    def folder(cls, path: Path) -> Origin:
        return cls(f"插件目录中的 {path}", f"{path} in the plugins folder", f"将 {path.name} 移出插件目录",
                   f"move {path.name} out of the plugins folder")

    @classmethod
    def caller(cls) -> Origin:
        return cls("由调用方注册", "registered by the caller", "不要注册它", "do not register it")


@frozen
class PluginFault:
    """One broken plugin: ``name`` (its entry-point name or region code) and what is wrong with it."""

    name: str
    origin: Origin
    problem_zh: str
    problem_en: str
    fix_zh: str
    fix_en: str
    regions: tuple[str, ...] = ()  # the region codes it declares, when known

    @property
    def zh(self) -> str:
        return f"分中心插件 {self.name}（{self.origin.zh}）{self.problem_zh}：请{self.fix_zh}，或{self.origin.remove_zh}"

    @property
    def en(self) -> str:
        return (f"region plugin {self.name} ({self.origin.en}) {self.problem_en}: {self.fix_en}, "
                f"or {self.origin.remove_en}")

    @property
    def line(self) -> str:
        """The warning logged (and shown by ``eportcard regions``) when the plugin is disabled."""
        return f"{self.zh}；该插件已停用 / {self.en}; the plugin is disabled"

    def error(self) -> ConfigError:
        """The fault of a plugin the deployment enabled by name: it cannot start without it."""
        return ConfigError(f"{self.zh}；[regions] enabled 启用了它，无法在缺少它的情况下启动",
                           f"{self.en}; [regions] enabled names it, so eportcard does not start without it",
                           field="regions.enabled")

    # -- the faults ------------------------------------------------------------------------------------

    @classmethod
    def import_failed(cls, name: str, origin: Origin, exc: BaseException) -> PluginFault:
        return cls(name, origin, f"无法导入（{one_line(exc, 'zh')}）", f"cannot be imported ({one_line(exc, 'en')})",
                   "修正该模块", "fix the module")

    @classmethod
    def not_registrable(cls, name: str, origin: Origin, exc: BaseException) -> PluginFault:
        return cls(name, origin, f"无法注册（{one_line(exc)}）", f"cannot be registered ({one_line(exc)})",
                   "修正该插件", "fix the plugin")

    @classmethod
    def bad_signature(cls, name: str, origin: Origin, hook: str, extra: Iterable[str],
                      spec: Sequence[str]) -> PluginFault:
        taken = ", ".join(sorted(extra))
        given_zh, given_en = (f"规范的参数：{', '.join(spec)}", f"it passes {', '.join(spec)}") if spec \
            else ("规范没有参数", "it passes none")
        return cls(name, origin, f"的钩子 {hook} 声明了钩子规范没有的参数 {taken}（{given_zh}）",
                   f"declares hook {hook} with parameters {taken}, which its hookspec does not pass "
                   f"({given_en})",
                   f"只使用规范中的参数（core/hookspecs.py 的 {hook}）",
                   f"take only the hookspec's parameters (core/hookspecs.py: {hook})")

    @classmethod
    def invalid_hook(cls, name: str, origin: Origin, exc: BaseException) -> PluginFault:
        """A pluggy validation error other than the parameters (a wrapper that is no generator ...)."""
        return cls(name, origin, f"的钩子实现无效（{one_line(exc)}）", f"has an invalid hookimpl ({one_line(exc)})",
                   "按 core/hookspecs.py 改正它", "correct it against core/hookspecs.py")

    @classmethod
    def unknown_hook(cls, name: str, origin: Origin, hook: str, known: Iterable[str]) -> PluginFault:
        close = difflib.get_close_matches(hook, list(known), n=1)
        guess_zh, guess_en = (f"（是否应为 {close[0]}？）", f" (did you mean {close[0]}?)") if close else ("", "")
        return cls(name, origin, f"实现了不存在的钩子 {hook}{guess_zh}", f"implements {hook}, which is no "
                   f"eportcard hook{guess_en}",
                   "改用 core/hookspecs.py 中的钩子名，或标记 @hookimpl(optionalhook=True)",
                   "use a hook name from core/hookspecs.py, or mark it @hookimpl(optionalhook=True)")

    @classmethod
    def raised(cls, name: str, origin: Origin, hook: str, exc: BaseException,
               regions: tuple[str, ...] = ()) -> PluginFault:
        return cls(name, origin, f"的 {hook} 出错（{one_line(exc)}）", f"raised in {hook} ({one_line(exc)})",
                   "修正该钩子", "fix the hook", regions)

    @classmethod
    def bad_declaration(cls, name: str, origin: Origin, got: object) -> PluginFault:
        return cls(name, origin, f"的 register_regions 返回了 {type(got).__name__}，不是 core.rules.Region 的列表",
                   f"answers register_regions with {type(got).__name__}, not a list of core.rules.Region",
                   "返回 Region 的列表", "return a list of Region")

    @classmethod
    def no_region(cls, name: str, origin: Origin) -> PluginFault:
        return cls(name, origin, "没有声明任何分中心（register_regions）", "declares no region (register_regions)",
                   "在 register_regions 中声明它的分中心", "declare its region in register_regions")

    @classmethod
    def duplicate(cls, name: str, origin: Origin, code: str, other: str, other_origin: Origin) -> PluginFault:
        return cls(name, origin, f"注册的分中心代码 {code} 已由 {other}（{other_origin.zh}）注册",
                   f"registers region code {code!r}, which {other} ({other_origin.en}) registers too",
                   "改用另一个分中心代码（入口点名称和 register_regions）",
                   "give it another region code (its entry-point name and register_regions)", (code,))

    @classmethod
    def same_object(cls, name: str, origin: Origin, other: str) -> PluginFault:
        return cls(name, origin, f"与已注册的插件 {other} 是同一个对象", f"is the same object as plugin {other}",
                   "让入口点指向它自己的插件对象", "point its entry point at a plugin object of its own")

    @classmethod
    def overlap(cls, name: str, origin: Origin, code: str, other: str, where: str) -> PluginFault:
        return cls(name, origin, f"的分中心 {code} 与分中心 {other} 的辖区重叠（{where}），无法判断企业所属分中心",
                   f"covers addresses region {other} covers too ({where}): the home branch would be ambiguous",
                   "缩小 Region.provinces / cities，或只启用其中一个分中心（[regions] enabled）",
                   "narrow its Region.provinces / cities, or enable only one of the two ([regions] enabled)",
                   (code,))

    @classmethod
    def failed_checks(cls, name: str, origin: Origin, regions: tuple[str, ...],
                      problems: Sequence[tuple[str, str]]) -> PluginFault:
        zh, en = problems[0]
        more_zh = f"（另有 {len(problems) - 1} 个问题）" if len(problems) > 1 else ""
        more_en = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(name, origin, f"未通过启动检查：{zh}{more_zh}", f"fails the start-up checks: {en}{more_en}",
                   "运行 eportcard regions --check 查看全部问题并修正",
                   "run `eportcard regions --check` to see every problem and fix them", regions)


class PluginFailed(Unavailable):
    """A hookimpl raised while answering: the region's rules cannot be given right now.

    What a person sees names the plugin and the hook, not the exception's text (it may hold the
    data being checked); the log line (:attr:`log_line`) has it."""

    code = "plugin_failed"

    def __init__(self, plugin: str, origin: Origin | None, hook: str, exc: BaseException) -> None:
        self.plugin = plugin
        self.hook = hook
        self.cause = exc
        where_zh, where_en = (f"（{origin.zh}）", f" ({origin.en})") if origin else ("", "")
        who_zh = f"分中心插件 {plugin}{where_zh}" if plugin else "某个分中心插件"
        who_en = f"region plugin {plugin}{where_en}" if plugin else "a region plugin"
        super().__init__(f"{who_zh}的 {hook} 出错（{type(exc).__name__}），暂时无法答复；请告知管理员",
                         f"{who_en} failed in {hook} ({type(exc).__name__}) and cannot answer now; "
                         "tell the administrator")
        fix_zh = f"请修正该插件，或{origin.remove_zh}" if origin else "请修正该插件"
        fix_en = f"fix the plugin, or {origin.remove_en}" if origin else "fix the plugin"
        self.log_line = (f"{who_zh}的 {hook} 出错（{one_line(exc)}）：{fix_zh} / "
                         f"{who_en} failed in {hook} ({one_line(exc)}): {fix_en}")


def _frames(tb: TracebackType | None) -> list[TracebackType]:
    found = []
    while tb is not None:
        found.append(tb)
        tb = tb.tb_next
    return found


def culprit(impls: Sequence[pluggy.HookImpl], exc: BaseException) -> pluggy.HookImpl | None:
    """The hookimpl whose function is the innermost one in ``exc``'s traceback (None: not one of them).

    Matched by code object and, for methods, by the instance in the frame: plugins of one class
    (``DataRegion``) share their methods' code."""
    for tb in reversed(_frames(exc.__traceback__)):
        frame = tb.tb_frame
        for impl in impls:
            function = getattr(impl.function, "__func__", impl.function)
            if getattr(function, "__code__", None) is not frame.f_code:
                continue
            bound = getattr(impl.function, "__self__", None)
            if bound is None or frame.f_locals.get(frame.f_code.co_varnames[0]) is bound:
                return impl
    return None
