"""The conformance kit every region plugin runs, built-in or external.

In a plugin's own tests::

    from core.plugins import get_plugin_manager
    from core.testing import check_region

    def test_conformance():
        check_region(get_plugin_manager(), "myregion")

``conformance_problems`` returns the problems as readable ``中文 / English`` lines (empty =
conformant); ``check_region`` raises one AssertionError listing all of them, so a plugin author
sees everything to fix at once rather than one failure per run. Placeholders the scaffold
(``eportcard new-region``) writes fail the kit until they are replaced.

The kit runs where it matters too: ``eportcard regions --check`` runs it over every enabled
region (:func:`conformance_report`), and ``eportcard serve`` runs its cheap part at start-up
(:func:`startup_check`: registration, hooks that raise, sources, overlapping coverage).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from enum import Enum
from functools import partial
from itertools import combinations
from typing import Any

import attrs
import pluggy

from core import defaults
from core.errors import ConfigError
from core.guide.scaffold import PLACEHOLDER_SOURCE
from core.model import Business
from core.plugin_faults import Origin, PluginFailed, PluginFault, one_line
from core.plugins import RegionPluginManager, declared_regions, region_plugins
from core.rulebook import Rulebook
from core.rules import Material, Problem, Region, Text
from core.samples import make_enrol

__all__ = ["check_region", "conformance_problems", "conformance_report", "overlaps", "startup_check"]

# firstresult hooks core answers by default: (hook name, Rulebook method, takes business).
FIRSTRESULT_HOOKS = (
    ("courier_policy", "courier", True),
    ("timeframe", "timeframe", True),
    ("medium_policy", "medium", True),
    ("upload_policy", "upload", True),
    ("card_policy", "card_policy", False),
)
# What `eportcard new-region` marks as an example to replace (core/guide/templates/region.toml.txt).
PLACEHOLDER_MARKS = ("【占位】", "[placeholder]", PLACEHOLDER_SOURCE)

Finding = tuple[str, str]  # (中文, English)


def _blank(text: Text | None) -> bool:
    return text is None or not text.zh.strip()


def _hook_names(pm: pluggy.PluginManager) -> list[str]:
    return [caller.name for caller in vars(pm.hook).values()
            if isinstance(caller, pluggy.HookCaller) and caller.has_spec()]


class _Kit:
    """Collects problems for one region; each check is guarded so one crash does not hide the rest.

    ``thorough`` False is serve's start-up subset: each hook called once, no purity, language,
    placeholder or marker checks."""

    def __init__(self, pm: pluggy.PluginManager, code: str, thorough: bool = True) -> None:
        self.pm = pm
        self.code = code
        self.thorough = thorough
        self.rulebook = Rulebook(pm, log_failures=False)
        self.findings: list[Finding] = []
        self.culprits: set[str] = set()  # plugins whose hookimpl raised
        self.application = make_enrol(1, region=code)

    def problem(self, zh: str, en: str) -> None:
        if (zh, en) not in self.findings:  # a hook that raises is met by more than one check
            self.findings.append((zh, en))

    def guarded(self, what: str, check: Callable[[], Any]) -> Any:
        try:
            return check()
        except Exception as exc:  # a plugin bug: report it and go on with the other checks
            cause: BaseException = exc
            if isinstance(exc, PluginFailed):
                self.culprits.update([exc.plugin] if exc.plugin else [])
                cause = exc.cause
            self.problem(f"{what} 出错：{one_line(cause)}", f"{what} raised {one_line(cause)}")
            return None

    def twice(self, what: str, call: Callable[[], Any]) -> Any:
        """Call a hook twice: a pure hook gives equal answers."""
        first = self.guarded(what, call)
        if not self.thorough:
            return first
        second = self.guarded(what, call)
        if first != second:
            self.problem(f"{what} 不是纯函数：两次调用的答复不同", f"{what} is not pure: two calls gave different answers")
        return first

    # -- checks ---------------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        if not self.check_registration():
            return self.findings
        offers = self.twice("businesses", lambda: self.rulebook.offers(self.code)) or []
        if not offers:
            self.problem("businesses 没有答复任何业务：分中心至少要办理一项业务",
                         "businesses answers no business: a region must offer at least one")
        known_forms = self.known_forms(offers)
        for offer in offers:
            self.check_offer(offer, known_forms)
        self.check_outlets()
        self.check_card_policy()
        self.check_application_hooks()
        if self.thorough:
            answers = self.answers(offers)
            self.check_bilingual(answers)
            self.check_placeholders(answers)
            self.check_source_titles(answers)
            self.check_hookimpl_markers()
        return self.findings

    def check_registration(self) -> bool:
        regions = [r for rs in self.guarded("register_regions", self.pm.hook.register_regions) or () if rs
                   for r in rs]
        mine = [r for r in regions if r.code == self.code]
        if len(mine) != 1:
            self.problem(f"分中心 {self.code!r} 注册了 {len(mine)} 次（应恰好一次）",
                         f"region {self.code!r} is registered {len(mine)} times (expected exactly once)")
            return False
        region = mine[0]
        for label, text in (("name", region.name), ("centre", region.centre)):
            if _blank(text) or not text.en.strip():
                self.problem(f"分中心的 {label} 需要中文和英文", f"region {label} needs both zh and en")
        plugin = self.pm.get_plugin(self.code)
        if plugin is None:
            self.problem(f"没有以 {self.code!r} 为名注册的插件（请用分中心代码作名称）",
                         f"no plugin is registered under the name {self.code!r} (use the region code)")
        elif self.code not in declared_regions(self.pm, plugin):
            # A plugin that declares no region is an add-on: it would hear every region's calls.
            self.problem(f"以 {self.code!r} 注册的插件没有在自己的 register_regions 中声明分中心 {self.code!r}，"
                         "该分中心的钩子不会路由给它",
                         f"the plugin registered as {self.code!r} does not declare region {self.code!r} "
                         "in its own register_regions, so the region's hooks are not routed to it")
        return True

    def known_forms(self, offers: list) -> set[str]:
        codes: set[str] = set()
        for offer in offers:
            forms = self.guarded(f"forms({offer.business})",
                                 partial(self.rulebook.forms, self.code, offer.business))
            codes.update(f.code for f in forms or ())
        codes.update(f.code for f in self.data_forms())
        return codes

    def data_forms(self) -> tuple:
        """The forms a DataRegion defines, linked to a business or not yet."""
        data = getattr(self.pm.get_plugin(self.code), "data", None)
        return tuple(getattr(data, "forms", ()))

    def check_offer(self, offer: Any, known_forms: set[str]) -> None:
        business: Business = offer.business
        where, zh = f"business {business}", f"业务 {business}"
        if _blank(offer.name):
            self.problem(f"{zh}：没有名称", f"{where}: the offer has no name")
        if not offer.source:
            self.problem(f"{zh}：没有注明来源（source）", f"{where}: the offer carries no source")
        if not offer.channels:
            self.problem(f"{zh}：没有办理渠道", f"{where}: no channel")
        for channel in offer.channels:
            if not (channel.source or offer.source):
                self.problem(f"{zh}：渠道 {channel.kind} 没有注明来源", f"{where}: channel {channel.kind} carries no source")
        materials: list[Material] = self.twice(
            f"{where}: required_materials", lambda: self.rulebook.materials(self.code, business)) or []
        if not materials and not offer.self_service_only:
            self.problem(f"{zh}：没有材料（只有 self_service_only 的业务可以不列材料）",
                         f"{where}: no materials (only self_service_only businesses may list none)")
        for m in materials:
            if not m.source:
                self.problem(f"{zh}：材料 {m.code!r} 没有注明来源", f"{where}: material {m.code!r} carries no source")
            if _blank(m.name):
                self.problem(f"{zh}：材料 {m.code!r} 没有名称", f"{where}: material {m.code!r} has no name")
            if m.template and m.template not in known_forms:
                self.problem(f"{zh}：材料 {m.code!r} 引用的表格 {m.template!r} 未定义（已定义：{sorted(known_forms)}）",
                             f"{where}: material {m.code!r} names template {m.template!r}, "
                             f"which the region does not define (forms: {sorted(known_forms)})")
        for hook, method, _ in FIRSTRESULT_HOOKS:
            if hook == "card_policy":
                continue
            self.twice(f"{where}: {hook}", partial(getattr(self.rulebook, method), self.code, business))
            self.check_source_of_own_answer(hook, (zh, where), region=self.code, business=business,
                                            **({"enterprise": None} if hook == "medium_policy" else {}))
        for step in self.twice(f"{where}: workflow_steps", lambda: self.rulebook.steps(self.code, business)) or []:
            if not step.source:
                self.problem(f"{zh}：步骤 {step.code!r} 没有注明来源", f"{where}: step {step.code!r} carries no source")
        for form in self.guarded(f"{where}: forms", lambda: self.rulebook.forms(self.code, business)) or []:
            if not form.source:
                self.problem(f"{zh}：表格 {form.code!r} 没有注明来源", f"{where}: form {form.code!r} carries no source")

    def check_source_of_own_answer(self, hook: str, where: Finding, **kwargs: Any) -> None:
        """A firstresult answer that is not core's default must say where it comes from."""
        without_defaults = self.pm.subset_hook_caller(
            hook, remove_plugins=[defaults, *self.rulebook.foreign_plugins(self.code)])
        own = self.guarded(f"{where[1]}: {hook}", lambda: without_defaults(**kwargs))
        if own is not None and not getattr(own, "source", None):
            self.problem(f"{where[0]}：{hook} 答复的规则没有注明来源", f"{where[1]}: {hook} answers a rule without a source")

    def check_outlets(self) -> None:
        for outlet in self.twice("outlets", lambda: self.rulebook.outlets(self.code)) or []:
            if _blank(outlet.name):
                self.problem(f"网点 {outlet.code!r} 没有名称", f"outlet {outlet.code!r} has no name")
            if _blank(outlet.address):
                self.problem(f"网点 {outlet.code!r} 没有地址", f"outlet {outlet.code!r} has no address")
            if not outlet.source:
                self.problem(f"网点 {outlet.code!r} 没有注明来源", f"outlet {outlet.code!r} carries no source")

    def check_card_policy(self) -> None:
        self.twice("card_policy", lambda: self.rulebook.card_policy(self.code))
        self.check_source_of_own_answer("card_policy", ("分中心", "region"), region=self.code)

    def check_application_hooks(self) -> None:
        app = self.application
        problems = self.twice("validate_application", lambda: self.rulebook.validate(self.code, app))
        if problems is not None and not all(isinstance(p, Problem) for p in problems):
            self.problem("validate_application 须答复 core.rules.Problem 的列表",
                         "validate_application must answer a list of core.rules.Problem")
        route = self.rulebook.route("acceptance_number", self.code)  # unwrapped: the kit reports a bad answer
        number = self.twice("acceptance_number", lambda: route(region=self.code, application=app, seq=1))
        if not isinstance(number, str) or not number.strip():
            self.problem(f"acceptance_number 须答复非空字符串，实际为 {number!r}",
                         f"acceptance_number must be a non-empty string, got {number!r}")

    def answers(self, offers: list) -> list[tuple[str, Any]]:
        """Every answer a person reads, labelled by where it comes from."""
        rb, code = self.rulebook, self.code
        asks: list[tuple[str, Callable[[], Any]]] = [
            ("region", lambda: rb.region(code)), ("outlets", lambda: rb.outlets(code)),
            ("card_policy", lambda: rb.card_policy(code)), ("forms", self.data_forms)]
        for offer in offers:
            b = offer.business
            asks += [(f"{b}", lambda o=offer: o)] + [
                (f"{b}.{label}", partial(method, code, b)) for label, method in (
                    ("materials", rb.materials), ("courier", rb.courier), ("timeframe", rb.timeframe),
                    ("steps", rb.steps), ("medium", rb.medium), ("forms", rb.forms), ("upload", rb.upload))]
        return [(where, self.guarded(where, ask)) for where, ask in asks]

    def check_bilingual(self, answers: list[tuple[str, Any]]) -> None:
        """Every text a person reads comes in Chinese and English (the guide is zh-first, en on request)."""
        for where, answer in answers:
            for path, text in _texts(answer, where):
                if not (text.zh.strip() and text.en.strip()):
                    self.problem(f"{path}：文字需要中文和英文（zh={text.zh!r}，en={text.en!r}）",
                                 f"{path}: text needs both zh and en (got zh={text.zh!r}, en={text.en!r})")

    def check_placeholders(self, answers: list[tuple[str, Any]]) -> None:
        """What the scaffold marks as an example must be replaced with the region's own rules."""
        seen: set[str] = set()
        for where, answer in answers:
            for path, value in _strings(answer, where):
                if path not in seen and any(mark in value for mark in PLACEHOLDER_MARKS):
                    seen.add(path)
                    self.problem(f"{path}：仍是占位内容（【占位】），请替换为分中心公布的规则",
                                 f"{path}: a placeholder is left ([placeholder]); replace it with the region's "
                                 "published rule")

    def check_source_titles(self, answers: list[tuple[str, Any]]) -> None:
        """Every cited document has a title: the guide shows it instead of a file name (it falls back to the
        file name, which people cannot read as a document)."""
        region = next((answer for where, answer in answers if where == "region"), None)
        if not isinstance(region, Region):
            return  # the region did not answer: reported where it was asked
        cited = dict.fromkeys(value for where, answer in answers for path, value in _strings(answer, where)
                              if path.endswith(".source"))
        for source in cited:
            if region.source_title(source) is None:
                self.problem(f"来源 {source!r} 没有在 [sources] 中给出标题（指引将只显示文件名）",
                             f"source {source!r} has no title in [sources] (the guide would show the file name)")

    def check_hookimpl_markers(self) -> None:
        """A public method named like a hook but without @hookimpl is never called: say so."""
        hooks = _hook_names(self.pm)
        owners = {id(p): p for p in [self.pm.get_plugin(self.code), *region_plugins(self.pm).get(self.code, [])]
                  if p is not None}
        for plugin in owners.values():
            registered = {caller.name for caller in self.pm.get_hookcallers(plugin) or ()}
            for hook in hooks:
                member = inspect.getattr_static(plugin, hook, None)
                if member is not None and callable(getattr(plugin, hook)) and hook not in registered:
                    self.problem(f"{hook} 与钩子同名但没有 @hookimpl，不会被调用：请加上 @hookimpl（from core import "
                                 "hookimpl）", f"{hook} is named like a hook but lacks @hookimpl, so it is never "
                                 "called: decorate it with @hookimpl (from core import hookimpl)")


def _leaves(value: Any, path: str) -> list[tuple[str, Text | str]]:
    """Every text and string inside ``value`` (names, notes, sources ...) with its path; enum codes none."""
    if isinstance(value, Text | str) and not isinstance(value, Enum):
        return [(path, value)]
    if isinstance(value, list | tuple):
        return [leaf for n, v in enumerate(value) for leaf in _leaves(v, f"{path}[{n}]")]
    if attrs.has(type(value)):
        return [leaf for f in attrs.fields(type(value)) for leaf in _leaves(getattr(value, f.name), f"{path}.{f.name}")]
    return []


def _texts(value: Any, path: str) -> list[tuple[str, Text]]:
    return [(where, leaf) for where, leaf in _leaves(value, path) if isinstance(leaf, Text)]


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    """Each string, and each Text as one ``zh / en`` string."""
    return [(where, f"{leaf.zh} / {leaf.en}" if isinstance(leaf, Text) else leaf)
            for where, leaf in _leaves(value, path)]


def _line(finding: Finding) -> str:
    return f"{finding[0]} / {finding[1]}"


def conformance_problems(pm: pluggy.PluginManager, region_code: str) -> list[str]:
    """Everything the region ``region_code`` does not yet do right (empty list = conformant)."""
    return [_line(f) for f in _Kit(pm, region_code).run()]


def check_region(pm: pluggy.PluginManager, code: str) -> None:
    """Raise AssertionError listing every conformance problem of region ``code``."""
    problems = conformance_problems(pm, code)
    if problems:
        raise AssertionError(f"region {code!r} fails the conformance kit ({len(problems)} problems):\n  "
                             + "\n  ".join(problems))


# ---- across regions ------------------------------------------------------------------------------------


def _overlap(a: Region, b: Region) -> str:
    """Where ``a`` and ``b`` both cover addresses, as ``Region.covers`` decides ('' = nowhere).

    A region listing cities covers those cities; the provinces it lists say where they lie. One that
    lists cities but no province is compared by city only (core knows no map of cities to provinces)."""
    if a.cities and b.cities:
        return "、".join(sorted(set(a.cities) & set(b.cities)))
    if a.cities or b.cities:
        narrow, wide = (a, b) if a.cities else (b, a)
        provinces = sorted(set(narrow.provinces) & set(wide.provinces))
        return f"{'、'.join(narrow.cities)} ({'、'.join(provinces)})" if provinces else ""
    return "、".join(sorted(set(a.provinces) & set(b.provinces)))


def overlaps(regions: Mapping[str, Region]) -> list[tuple[str, str, str]]:
    """(region, other region, where) for each pair whose coverage overlaps: an address there would
    have two home branches (``Rulebook.home_branch`` would pick by registration order)."""
    found = []
    for a, b in combinations(sorted(regions), 2):
        if where := _overlap(regions[a], regions[b]):
            found.append((a, b, where))
    return found


def _overlap_finding(other: str, where: str) -> Finding:
    return (f"辖区与分中心 {other} 重叠（{where}），无法判断企业所属分中心",
            f"its coverage overlaps region {other}'s ({where}): the home branch would be ambiguous")


def conformance_report(pm: pluggy.PluginManager) -> dict[str, list[str]]:
    """The kit over every region ``pm`` serves, plus overlapping coverage: region code -> problems."""
    regions = Rulebook(pm).regions()
    report = {code: conformance_problems(pm, code) for code in sorted(regions)}
    for a, b, where in overlaps(regions):
        report[a].append(_line(_overlap_finding(b, where)))
        report[b].append(_line(_overlap_finding(a, where)))
    return report


def startup_check(pm: pluggy.PluginManager) -> None:
    """``eportcard serve``'s cheap checks: each region registered once by its own plugin, every rule hook
    answering a sample call without raising, sources present, no two regions covering the same addresses.

    A region that fails disables its plugin (one warning line, ``pm.disabled``); a plugin the
    deployment's ``[regions] enabled`` names makes it a ConfigError that stops start-up instead."""
    rulebook = Rulebook(pm)
    owners = region_plugins(pm)
    for code in sorted(rulebook.regions()):
        if code not in rulebook.regions():
            continue  # its plugin was disabled with another of its regions
        kit = _Kit(pm, code, thorough=False)
        findings = kit.run()
        if findings:
            blamed = sorted(kit.culprits) or [pm.get_name(p) or code for p in owners.get(code, [])]
            for name in blamed:
                _drop(pm, PluginFault.failed_checks(name, _origin(pm, name), (code,), findings), name)
    regions = rulebook.regions()
    owners = region_plugins(pm)
    for a, b, where in overlaps(regions):
        names = list(dict.fromkeys(pm.get_name(p) or code for code in (a, b) for p in owners.get(code, [])))
        suspects = [name for name in names if _origin(pm, name) != Origin.builtin()]
        if not suspects:  # two built-in regions: nothing to disable, the data need fixing
            raise ConfigError(f"内置分中心 {a} 与 {b} 的辖区重叠（{where}）", f"built-in regions {a} and {b} "
                              f"overlap ({where}): enable only one of them ([regions] enabled)",
                              field="regions.enabled")
        for name in suspects:
            code, other = (a, b) if a in declared_regions(pm, pm.get_plugin(name)) else (b, a)
            _drop(pm, PluginFault.overlap(name, _origin(pm, name), code, other, where), name)


def _origin(pm: pluggy.PluginManager, name: str) -> Origin:
    return pm.origin(name) if isinstance(pm, RegionPluginManager) else Origin.caller()


def _drop(pm: pluggy.PluginManager, fault: PluginFault, name: str) -> None:
    plugin = pm.get_plugin(name)
    if isinstance(pm, RegionPluginManager):
        pm.drop(fault, plugin=plugin)
    else:  # a plain pluggy manager has no notion of disabled plugins: stop
        raise fault.error()

