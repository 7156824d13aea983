"""What every service needs: the store, the rules, the calendar, the clock, the settings, and the card keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from attrs import define, field

from core.calendar import CalendarOverrides, WorkCalendar
from core.config import Settings
from core.deadlines import china_date
from core.errors import ConfigError
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.services.accounts import AccountService
from core.services.cards import CardKeys, Cards, load_card_keys
from core.store import Store, open_store
from core.store.audit import load_key
from core.testing import startup_check

if TYPE_CHECKING:
    from core.services.applications import ApplicationService
    from core.services.forms import FormService
    from core.services.notify import Notifications


def utc_now() -> datetime:
    return datetime.now(UTC)


def check_default_region(settings: Settings, rulebook: Rulebook) -> None:
    """``[regions] default`` (the staff console's and the guide's region) must be one that is enabled."""
    default = settings.regions.default
    enabled = sorted(rulebook.regions())
    if default and default not in enabled:
        raise ConfigError(f"配置有误：[regions] default = {default!r} 不是已启用的地区（已启用：{'、'.join(enabled)}）",
                          f"invalid configuration: [regions] default = {default!r} is not an enabled region "
                          f"(enabled: {', '.join(enabled)})", field="regions.default")


@define
class Services:
    settings: Settings
    store: Store
    rulebook: Rulebook
    calendar: WorkCalendar
    clock: Callable[[], datetime] = field(default=utc_now)
    card_keys: CardKeys | None = None  # the CA and the card master secret; None: card work is off

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime] = utc_now,
                      upgrade: bool = False, ca_passphrase: str | None = None, serving: bool = False) -> Services:
        """Open the deployment: store, plugins, calendar, and the card keys (see :func:`load_card_keys`:
        with ``ca_passphrase`` they are required, without it they load when the CA, the passphrase in
        ``[pki] passphrase_env`` and the master secret are all there).

        ``serving`` (the web front) refuses, before the database is touched, what would leave it
        running half-broken: a CA that cannot be unlocked (its certificates name this server's CRL
        and OCSP addresses), a region plugin ``[regions] enabled`` names failing the start-up checks
        (:func:`core.testing.startup_check`; one not named is disabled instead), a
        ``[regions] default`` that is not enabled, and an ``[sms]`` or ``[mail]`` gateway that could not send
        (core.services.notify.check_gateways)."""
        card_keys = load_card_keys(settings, ca_passphrase, required_with_ca=serving)
        pm = get_plugin_manager(settings.regions.enabled, plugins_dir=settings.plugins_dir)
        rulebook = Rulebook(pm)
        if serving:
            from core.services.notify import check_gateways  # imported here: it imports core.services

            startup_check(pm)
            check_default_region(settings, rulebook)
            check_gateways(settings, pm)
        store = open_store(settings.database_url, settings.blob_dir,
                           audit_key=load_key(settings.path(settings.audit.key_file)))
        if upgrade:
            store.upgrade()
        overrides = CalendarOverrides(holidays=settings.calendar.holidays, workdays=settings.calendar.workdays)
        return cls(settings=settings, store=store, rulebook=rulebook, calendar=WorkCalendar(overrides),
                   clock=clock, card_keys=card_keys)

    def today(self) -> date:
        """Today on China's calendar (working days are counted there, whatever the server's zone)."""
        return china_date(self.clock())

    def check_database(self) -> None:
        """Return once the database answers a query (the health check); raise when it does not."""
        with self.store.transaction(readonly=True) as tx:
            tx.connection.exec_driver_sql("SELECT 1")

    @property
    def cards(self) -> Cards:
        return Cards(self, self.card_keys)

    @property
    def accounts(self) -> AccountService:
        return AccountService(self)

    @property
    def applications(self) -> ApplicationService:
        from core.services.applications import ApplicationService  # imported here: it imports this module

        return ApplicationService(self)

    @property
    def forms(self) -> FormService:
        from core.services.forms import FormService  # imported here: it imports core.services

        return FormService(self)

    @property
    def notifications(self) -> Notifications:
        from core.services.notify import Notifications

        return Notifications(self)
