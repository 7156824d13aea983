"""Typed wrappers around the hook calls (``pm.hook`` calls are untyped).

Everything outside core.plugins asks the rules through a :class:`Rulebook`. A hook that
takes ``region`` is routed: called on that region's own plugins, core's defaults and
plugins that serve no region (add-ons), never on another region's plugin.

A hookimpl that raises (other than an expected :class:`~core.errors.EportError`) is a plugin bug:
it is logged as one line naming the plugin and the hook, and surfaces as
:class:`~core.plugin_faults.PluginFailed` (a clear "cannot answer now" to the person asking)
instead of pluggy's call chain.
"""

from __future__ import annotations

import logging
from typing import Any

import pluggy

from core.errors import EportError, NotFound
from core.model import Address, Application, Business, Card, CardEvent, Enterprise, Transition
from core.plugin_faults import PluginFailed, culprit
from core.plugins import RegionPluginManager, region_plugins
from core.rules import (
    BusinessOffer,
    CardPolicy,
    CourierPolicy,
    Form,
    Material,
    MediumPolicy,
    Outlet,
    Problem,
    Region,
    Step,
    Timeframe,
    UploadPolicy,
)

log = logging.getLogger(__name__)


def _flat(results: list[Any]) -> list[Any]:
    return [item for result in results if result for item in result]


class Rulebook:
    def __init__(self, pm: pluggy.PluginManager, *, log_failures: bool = True) -> None:
        self.pm = pm
        self.hook = pm.hook
        self.log_failures = log_failures  # the conformance kit reports failures itself
        # What register_regions (a pure hook) answers, and the routes derived from it; rebuilt when a
        # region plugin comes or goes. Add-ons need no rebuild: a subset caller follows the hook.
        self._declarers: list[pluggy.HookImpl] = []
        self._regions: dict[str, Region] = {}
        self._owners: dict[str, list[object]] = {}
        self._routes: dict[tuple[str, str], pluggy.HookCaller] = {}

    # routing -----------------------------------------------------------------
    def _table(self) -> dict[str, list[object]]:
        declarers = self.hook.register_regions.get_hookimpls()
        if declarers != self._declarers:
            self._declarers, self._routes = declarers, {}
            self._regions = {r.code: r for r in _flat(self._call(self.hook.register_regions))}
            self._owners = region_plugins(self.pm)
        return self._owners

    def foreign_plugins(self, region: str) -> list[object]:
        """The plugins that serve other regions and not ``region``."""
        owners = self._table()
        own = owners.get(region, [])
        return [p for plugins in owners.values() for p in plugins if p not in own]

    def route(self, hook: str, region: str) -> pluggy.HookCaller:
        """The caller of ``hook`` for ``region``: every plugin but :meth:`foreign_plugins` (cached)."""
        self._table()
        caller = self._routes.get((hook, region))
        if caller is None:
            foreign = self.foreign_plugins(region)
            caller = self._routes[hook, region] = self.pm.subset_hook_caller(hook, remove_plugins=foreign)
        return caller

    def ask(self, hook: str, region: str, **kwargs: Any) -> Any:
        """Call ``hook`` for ``region`` on its route (see :meth:`route`)."""
        return self._call(self.route(hook, region), region=region, **kwargs)

    def _call(self, caller: pluggy.HookCaller, **kwargs: Any) -> Any:
        try:
            return caller(**kwargs)
        except EportError:
            raise  # a plugin's deliberate, bilingual refusal
        except Exception as exc:
            impl = culprit(caller.get_hookimpls(), exc)
            name = impl.plugin_name if impl else ""
            origin = self.pm.origin(name) if impl and isinstance(self.pm, RegionPluginManager) else None
            failed = PluginFailed(name, origin, caller.name, exc)
            if self.log_failures:
                log.error("%s", failed.log_line)
                log.debug("the failing hook's traceback", exc_info=exc)
            raise failed from exc

    # regions -----------------------------------------------------------------
    def regions(self) -> dict[str, Region]:
        self._table()
        return dict(self._regions)

    def region(self, code: str) -> Region:
        try:
            return self.regions()[code]
        except KeyError:
            raise NotFound(f"未启用的分中心：{code}", f"unknown or disabled region: {code}",
                           field="region") from None

    def home_branch(self, address: Address) -> str:
        """The region whose coverage includes the business address ('' if none enabled)."""
        for code, region in self.regions().items():
            if region.covers(address.province, address.city):
                return code
        return ""

    # businesses --------------------------------------------------------------
    def offers(self, region: str) -> list[BusinessOffer]:
        self.region(region)
        result = self.ask("businesses", region)
        assert result is not None
        return list(result)

    def offer(self, region: str, business: Business) -> BusinessOffer:
        for o in self.offers(region):
            if o.business == business:
                return o
        raise NotFound(f"{region} 分中心不办理此业务：{business}",
                       f"region {region} does not offer business {business}", field="business")

    def materials(self, region: str, business: Business, application: Application | None = None
                  ) -> list[Material]:
        return _flat(self.ask("required_materials", region, business=business, application=application))

    def courier(self, region: str, business: Business) -> CourierPolicy:
        result = self.ask("courier_policy", region, business=business)
        assert result is not None
        return result

    def outlets(self, region: str) -> list[Outlet]:
        return _flat(self.ask("outlets", region))

    def outlet(self, code: str) -> tuple[str, Outlet]:
        """(region, outlet) for an outlet code across all enabled regions."""
        for region in self.regions():
            for o in self.outlets(region):
                if o.code == code:
                    return region, o
        raise NotFound(f"未知的制卡机构：{code}", f"unknown making centre: {code}", field="making_centre")

    def making_centres(self, region: str) -> list[Outlet]:
        """The outlets an application of ``region`` may choose as its making centre (制卡机构): the region's
        own. The choice never moves an application to another region."""
        return [o for o in self.outlets(region) if o.making_centre]

    def timeframe(self, region: str, business: Business) -> Timeframe:
        result = self.ask("timeframe", region, business=business)
        assert result is not None
        return result

    def steps(self, region: str, business: Business) -> list[Step]:
        return _flat(self.ask("workflow_steps", region, business=business))

    def validate(self, region: str, application: Application) -> list[Problem]:
        return _flat(self.ask("validate_application", region, application=application))

    def acceptance_number(self, region: str, application: Application, seq: int) -> str:
        result = self.ask("acceptance_number", region, application=application, seq=seq)
        assert result
        return str(result)

    def medium(self, region: str, business: Business, enterprise: Enterprise | None = None) -> MediumPolicy:
        result = self.ask("medium_policy", region, business=business, enterprise=enterprise)
        assert result is not None
        return result

    def forms(self, region: str, business: Business) -> list[Form]:
        return _flat(self.ask("forms", region, business=business))

    def upload(self, region: str, business: Business) -> UploadPolicy:
        result = self.ask("upload_policy", region, business=business)
        assert result is not None
        return result

    def card_policy(self, region: str) -> CardPolicy:
        result = self.ask("card_policy", region)
        assert result is not None
        return result

    # events --------------------------------------------------------------------
    def submitted(self, application: Application) -> None:
        self._call(self.hook.application_submitted, application=application)

    def transitioned(self, application: Application, transition: Transition) -> None:
        self._call(self.hook.application_transitioned, application=application, transition=transition)

    def card_transitioned(self, card: Card, event: CardEvent) -> None:
        self._call(self.hook.card_transitioned, card=card, event=event)
