"""Region routing: a region's hooks reach that region's plugins (and core's defaults and add-ons) only.

The plugins below have no ``if region != CODE`` guard: routing in the rulebook keeps their answers
inside their own region.
"""

from __future__ import annotations

import inspect

from core import defaults, hookimpl, hookspecs
from core.model import Business
from core.plugins import BUILTIN_REGIONS, get_plugin_manager, region_plugins
from core.rulebook import Rulebook
from core.rules import (
    CourierPolicy,
    Inbound,
    Material,
    MaterialForm,
    Outbound,
    Outlet,
    OutletKind,
    Problem,
    Region,
    Text,
)
from core.samples import make_enrol

ENROL = Business.ENROL
REGION_HOOKS = [name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "eportcard_spec")
                and "region" in inspect.signature(getattr(hookspecs, name)).parameters]


def region(code: str) -> Region:
    return Region(code=code, name=Text(code, code), centre=Text(code, code))


def material(code: str) -> Material:
    return Material(code, Text(code, code), MaterialForm.COPY, source=f"{code}.txt")


class Unguarded:
    """A region plugin whose hooks answer whatever region they are asked about."""

    def __init__(self, code: str) -> None:
        self.code = code

    @hookimpl
    def register_regions(self):
        return [region(self.code)]

    @hookimpl
    def required_materials(self, region, business, application):
        return [material(f"{self.code}_licence")]

    @hookimpl
    def outlets(self, region):
        return [Outlet(f"{self.code}_counter", Text(self.code, self.code), OutletKind.CENTRE,
                       Text("地址", "address"), source=f"{self.code}.txt")]

    @hookimpl
    def validate_application(self, region, application):
        return [Problem(field="remarks", zh=f"{self.code} 的规则", en=f"{self.code}'s rule")]

    @hookimpl
    def courier_policy(self, region, business):
        return CourierPolicy(inbound=Inbound(accepted=True), outbound=Outbound(mail=True), source=f"{self.code}.txt")


class Declaration:
    """An add-on that declares no region: it hears every region and adds one material to each."""

    @hookimpl
    def required_materials(self, region, business, application):
        return [material(f"declaration_for_{region}")]


class Guarded:
    """An older plugin that still checks the region itself: the guard is harmless."""

    @hookimpl
    def register_regions(self):
        return [region("gamma")]

    @hookimpl
    def required_materials(self, region, business, application):
        if region != "gamma":
            return None
        return [material("gamma_licence")]


class TwoRegions(Unguarded):
    @hookimpl
    def register_regions(self):
        return [region("north"), region("south")]


def codes(materials: list[Material]) -> list[str]:
    return sorted(m.code for m in materials)


def test_an_unguarded_list_hook_does_not_leak_into_another_region():
    alpha, beta = Unguarded("alpha"), Unguarded("beta")
    rulebook = Rulebook(get_plugin_manager(enabled=[], extra=[("alpha", alpha), ("beta", beta)]))
    assert codes(rulebook.materials("alpha", ENROL)) == ["alpha_licence"]
    assert codes(rulebook.materials("beta", ENROL)) == ["beta_licence"]
    assert [o.code for o in rulebook.outlets("alpha")] == ["alpha_counter"]
    assert [p.zh for p in rulebook.validate("beta", make_enrol(1, region="beta"))] == ["beta 的规则"]
    # firstresult: beta, registered last, would answer first for alpha without routing.
    assert rulebook.courier("alpha", ENROL).source == "alpha.txt"
    assert [o.code for o in rulebook.making_centres("alpha")] == ["alpha_counter"]
    assert [o.code for o in rulebook.making_centres("beta")] == ["beta_counter"]


def test_a_region_no_plugin_declares_gets_core_defaults_only():
    rulebook = Rulebook(get_plugin_manager(enabled=[], extra=[("alpha", Unguarded("alpha"))]))
    assert rulebook.materials("atlantis", ENROL) == []
    assert rulebook.courier("atlantis", ENROL) is defaults.DEFAULT_COURIER


def test_add_ons_hear_every_region_and_a_plugin_hears_every_region_it_declares():
    pm = get_plugin_manager(enabled=[], extra=[("alpha", Unguarded("alpha")), ("compass", TwoRegions("compass")),
                                               ("declaration", Declaration())])
    rulebook = Rulebook(pm)
    assert codes(rulebook.materials("alpha", ENROL)) == ["alpha_licence", "declaration_for_alpha"]
    assert codes(rulebook.materials("north", ENROL)) == ["compass_licence", "declaration_for_north"]
    assert codes(rulebook.materials("south", ENROL)) == ["compass_licence", "declaration_for_south"]
    assert region_plugins(pm) == {"alpha": [pm.get_plugin("alpha")], "north": [pm.get_plugin("compass")],
                                  "south": [pm.get_plugin("compass")]}


def test_routes_are_cached_and_follow_plugins_registered_later():
    pm = get_plugin_manager(enabled=[], extra=[("alpha", Unguarded("alpha"))])
    rulebook = Rulebook(pm)
    assert rulebook.route("outlets", "alpha") is rulebook.route("outlets", "alpha")
    assert rulebook.materials("gamma", ENROL) == []  # nobody's region yet
    pm.register(Guarded(), name="gamma")
    assert "gamma" in rulebook.regions()
    assert codes(rulebook.materials("gamma", ENROL)) == ["gamma_licence"]
    assert codes(rulebook.materials("alpha", ENROL)) == ["alpha_licence"]
    pm.register(Declaration(), name="declaration")  # an add-on needs no rebuild
    assert codes(rulebook.materials("gamma", ENROL)) == ["declaration_for_gamma", "gamma_licence"]


def test_each_built_in_region_is_answered_by_its_own_plugin_and_core_defaults(pm, rulebook):
    for code, _ in BUILTIN_REGIONS:
        for hook in REGION_HOOKS:
            heard = {impl.plugin for impl in rulebook.route(hook, code).get_hookimpls()}
            assert heard <= {pm.get_plugin(code), defaults}, (code, hook)
