"""The conformance kit every region plugin runs, built-in or external.

In a plugin's own tests::

    from core.plugins import get_plugin_manager
    from core.testing import check_region

    def test_conformance():
        check_region(get_plugin_manager(), "myregion")

``conformance_problems`` returns the problems as readable lines (empty = conformant);
``check_region`` raises one AssertionError listing all of them, so a plugin author sees
everything to fix at once rather than one failure per run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import attrs
import pluggy

from core import defaults
from core.model import Business
from core.plugins import declared_regions
from core.rulebook import Rulebook
from core.rules import Material, Problem, Text
from core.samples import make_enrol

__all__ = ["check_region", "conformance_problems"]

# firstresult hooks core answers by default: (hook name, Rulebook method, takes business).
FIRSTRESULT_HOOKS = (
    ("courier_policy", "courier", True),
    ("timeframe", "timeframe", True),
    ("medium_policy", "medium", True),
    ("upload_policy", "upload", True),
    ("card_policy", "card_policy", False),
)


def _blank(text: Text | None) -> bool:
    return text is None or not text.zh.strip()


class _Kit:
    """Collects problems for one region; each check is guarded so one crash does not hide the rest."""

    def __init__(self, pm: pluggy.PluginManager, code: str) -> None:
        self.pm = pm
        self.code = code
        self.rulebook = Rulebook(pm)
        self.problems: list[str] = []
        self.application = make_enrol(1, region=code)

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def guarded(self, what: str, check: Callable[[], Any]) -> Any:
        try:
            return check()
        except Exception as exc:  # a plugin bug: report it and go on with the other checks
            self.problem(f"{what} raised {type(exc).__name__}: {exc}")
            return None

    def twice(self, what: str, call: Callable[[], Any]) -> Any:
        """Call a hook twice: a pure hook gives equal answers."""
        first = self.guarded(what, call)
        second = self.guarded(what, call)
        if first != second:
            self.problem(f"{what} is not pure: two calls gave different answers")
        return first

    # -- checks ---------------------------------------------------------------------------------

    def run(self) -> list[str]:
        if not self.check_registration():
            return self.problems
        offers = self.twice("businesses", lambda: self.rulebook.offers(self.code)) or []
        if not offers:
            self.problem("businesses answers no business: a region must offer at least one")
        known_forms = self.known_forms(offers)
        for offer in offers:
            self.check_offer(offer, known_forms)
        self.check_outlets()
        self.check_card_policy()
        self.check_application_hooks()
        self.check_bilingual(offers)
        return self.problems

    def check_registration(self) -> bool:
        regions = [r for rs in self.pm.hook.register_regions() if rs for r in rs]
        mine = [r for r in regions if r.code == self.code]
        if len(mine) != 1:
            self.problem(f"region {self.code!r} is registered {len(mine)} times (expected exactly once)")
            return False
        region = mine[0]
        for label, text in (("name", region.name), ("centre", region.centre)):
            if _blank(text) or not text.en.strip():
                self.problem(f"region {label} needs both zh and en")
        plugin = self.pm.get_plugin(self.code)
        if plugin is None:
            self.problem(f"no plugin is registered under the name {self.code!r} (use the region code)")
        elif self.code not in declared_regions(self.pm, plugin):
            # A plugin that declares no region is an add-on: it would hear every region's calls.
            self.problem(f"the plugin registered as {self.code!r} does not declare region {self.code!r} "
                         "in its own register_regions, so the region's hooks are not routed to it")
        return True

    def known_forms(self, offers: list) -> set[str]:
        codes: set[str] = set()
        for offer in offers:
            forms = self.guarded(f"forms({offer.business})",
                                 partial(self.rulebook.forms, self.code, offer.business))
            codes.update(f.code for f in forms or ())
        plugin = self.pm.get_plugin(self.code)
        data = getattr(plugin, "data", None)  # a DataRegion also defines forms no business links yet
        codes.update(f.code for f in getattr(data, "forms", ()))
        return codes

    def check_offer(self, offer: Any, known_forms: set[str]) -> None:
        business: Business = offer.business
        where = f"business {business}"
        if _blank(offer.name):
            self.problem(f"{where}: the offer has no name")
        if not offer.source:
            self.problem(f"{where}: the offer carries no source")
        if not offer.channels:
            self.problem(f"{where}: no channel")
        for channel in offer.channels:
            if not (channel.source or offer.source):
                self.problem(f"{where}: channel {channel.kind} carries no source")
        materials: list[Material] = self.twice(
            f"{where}: required_materials", lambda: self.rulebook.materials(self.code, business)) or []
        if not materials and not offer.self_service_only:
            self.problem(f"{where}: no materials (only self_service_only businesses may list none)")
        for m in materials:
            if not m.source:
                self.problem(f"{where}: material {m.code!r} carries no source")
            if _blank(m.name):
                self.problem(f"{where}: material {m.code!r} has no name")
            if m.template and m.template not in known_forms:
                self.problem(f"{where}: material {m.code!r} names template {m.template!r}, "
                             f"which the region does not define (forms: {sorted(known_forms)})")
        for hook, method, _ in FIRSTRESULT_HOOKS:
            if hook == "card_policy":
                continue
            self.twice(f"{where}: {hook}", partial(getattr(self.rulebook, method), self.code, business))
            self.check_source_of_own_answer(hook, where, region=self.code, business=business,
                                            **({"enterprise": None} if hook == "medium_policy" else {}))
        for step in self.twice(f"{where}: workflow_steps", lambda: self.rulebook.steps(self.code, business)) or []:
            if not step.source:
                self.problem(f"{where}: step {step.code!r} carries no source")
        for form in self.guarded(f"{where}: forms", lambda: self.rulebook.forms(self.code, business)) or []:
            if not form.source:
                self.problem(f"{where}: form {form.code!r} carries no source")

    def check_source_of_own_answer(self, hook: str, where: str, **kwargs: Any) -> None:
        """A firstresult answer that is not core's default must say where it comes from."""
        without_defaults = self.pm.subset_hook_caller(
            hook, remove_plugins=[defaults, *self.rulebook.foreign_plugins(self.code)])
        own = self.guarded(f"{where}: {hook}", lambda: without_defaults(**kwargs))
        if own is not None and not getattr(own, "source", None):
            self.problem(f"{where}: {hook} answers a rule without a source")

    def check_outlets(self) -> None:
        for outlet in self.twice("outlets", lambda: self.rulebook.outlets(self.code)) or []:
            if _blank(outlet.name):
                self.problem(f"outlet {outlet.code!r} has no name")
            if _blank(outlet.address):
                self.problem(f"outlet {outlet.code!r} has no address")
            if not outlet.source:
                self.problem(f"outlet {outlet.code!r} carries no source")

    def check_card_policy(self) -> None:
        self.twice("card_policy", lambda: self.rulebook.card_policy(self.code))
        self.check_source_of_own_answer("card_policy", "region", region=self.code)

    def check_application_hooks(self) -> None:
        app = self.application
        problems = self.twice("validate_application", lambda: self.rulebook.validate(self.code, app))
        if problems is not None and not all(isinstance(p, Problem) for p in problems):
            self.problem("validate_application must answer a list of core.rules.Problem")
        route = self.rulebook.route("acceptance_number", self.code)  # unwrapped: the kit reports a bad answer
        number = self.twice("acceptance_number", lambda: route(region=self.code, application=app, seq=1))
        if not isinstance(number, str) or not number.strip():
            self.problem(f"acceptance_number must be a non-empty string, got {number!r}")

    def check_bilingual(self, offers: list) -> None:
        """Every text a person reads comes in Chinese and English (the guide is zh-first, en on request)."""
        rb, code = self.rulebook, self.code
        answers: list[tuple[str, Any]] = [("region", rb.region(code)), ("outlets", rb.outlets(code)),
                                          ("card_policy", rb.card_policy(code))]
        for offer in offers:
            b = offer.business
            answers += [(f"{b}", offer), (f"{b}.materials", rb.materials(code, b)),
                        (f"{b}.courier", rb.courier(code, b)), (f"{b}.timeframe", rb.timeframe(code, b)),
                        (f"{b}.steps", rb.steps(code, b)), (f"{b}.medium", rb.medium(code, b)),
                        (f"{b}.forms", rb.forms(code, b)), (f"{b}.upload", rb.upload(code, b))]
        for where, answer in answers:
            for path, text in _texts(answer, where):
                if not (text.zh.strip() and text.en.strip()):
                    self.problem(f"{path}: text needs both zh and en (got zh={text.zh!r}, en={text.en!r})")


def _texts(value: Any, path: str) -> list[tuple[str, Text]]:
    if isinstance(value, Text):
        return [(path, value)]
    if isinstance(value, list | tuple):
        return [t for n, v in enumerate(value) for t in _texts(v, f"{path}[{n}]")]
    if attrs.has(type(value)):
        return [t for f in attrs.fields(type(value)) for t in _texts(getattr(value, f.name), f"{path}.{f.name}")]
    return []


def conformance_problems(pm: pluggy.PluginManager, region_code: str) -> list[str]:
    """Everything the region ``region_code`` does not yet do right (empty list = conformant)."""
    return _Kit(pm, region_code).run()


def check_region(pm: pluggy.PluginManager, code: str) -> None:
    """Raise AssertionError listing every conformance problem of region ``code``."""
    problems = conformance_problems(pm, code)
    if problems:
        raise AssertionError(f"region {code!r} fails the conformance kit ({len(problems)} problems):\n  "
                             + "\n  ".join(problems))
