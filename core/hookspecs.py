"""The plugin contract: every hook a region plugin may implement.

Rule hooks are synchronous and pure: core loads the data and passes it in; a hook does
no I/O. Hooks that take ``region`` are routed (``core.rulebook.Rulebook.route``): called
on the plugins whose ``register_regions`` declares that region, on core's ``trylast``
defaults (``core.defaults``, so every firstresult hook always answers) and on plugins
that declare no region (add-ons, which get every region's calls); never on another
region's plugin, so a region's hookimpl needs no ``if region != CODE`` guard.

Region plugins implement these with ``from core import hookimpl``; most of them come
for free from ``core.regiondata.DataRegion``, which answers from a TOML file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import hookspec

if TYPE_CHECKING:
    from core.model import Application, Card, CardEvent, Enterprise, Transition
    from core.model.enums import Business
    from core.notices import NoticeKind, Wording
    from core.notify.base import GatewayKind
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


@hookspec
def register_regions() -> list[Region]:
    """Declare the regions (branch centres) this plugin serves.

    :returns: a list of :class:`core.rules.Region` (code, names, centre, hotlines,
        e-mails, coverage used to derive the home branch).

    All results are collected. Implemented by every region plugin; what it declares
    also routes the region's hooks to it (and only to it among region plugins).
    """


@hookspec(firstresult=True)
def businesses(region: str) -> list[BusinessOffer] | None:
    """Which businesses ``region`` offers and through which channels.

    :param region: the region code (one this plugin declares, unless it declares none).
    :returns: the list of :class:`core.rules.BusinessOffer`.

    firstresult. Core's default answers ``[]`` (a region that declares nothing offers nothing).
    """


@hookspec
def required_materials(
    region: str, business: Business, application: Application | None
) -> list[Material] | None:
    """The materials the enterprise must supply for ``business`` in ``region``.

    :param application: when given, conditional materials are filtered for it (e.g. the
        power of attorney is dropped when the agent is the legal representative); when
        ``None`` (a guide), every material is listed with its condition.
    :returns: a list of :class:`core.rules.Material`.

    All results are concatenated. Implemented by region plugins; other plugins may add
    materials (a deployment-specific declaration, say).
    """


@hookspec(firstresult=True)
def courier_policy(region: str, business: Business) -> CourierPolicy | None:
    """How materials and cards travel for ``business``: inbound and outbound.

    :returns: a :class:`core.rules.CourierPolicy`.

    firstresult. Core's default (``source=None``): no post either way; collect at the counter.
    """


@hookspec
def outlets(region: str) -> list[Outlet] | None:
    """The counters and agent outlets of ``region``.

    :returns: a list of :class:`core.rules.Outlet` (address, hours, mail, appointment,
        whether the choice is final, whether it can be chosen as making centre).

    All results are concatenated. Implemented by region plugins.
    """


@hookspec(firstresult=True)
def timeframe(region: str, business: Business) -> Timeframe | None:
    """Milestones for ``business`` in working days, each with what it counts from.

    :returns: a :class:`core.rules.Timeframe`.

    firstresult. Core's default is an empty timeframe marked as unstated.
    """


@hookspec
def workflow_steps(region: str, business: Business) -> list[Step] | None:
    """Extra steps the region inserts in the lifecycle (e.g. Xi'an's AIC review).

    :returns: a list of :class:`core.rules.Step`; each blocks leaving ``step.after``
        until it is recorded as done.

    All results are concatenated.
    """


@hookspec
def validate_application(region: str, application: Application) -> list[Problem] | None:
    """Region rules an application must satisfy before it can be submitted.

    :returns: a list of :class:`core.rules.Problem` (empty when all is well).

    All results are concatenated; core adds its own checks (core.lifecycle).
    """


@hookspec(firstresult=True)
def acceptance_number(region: str, application: Application, seq: int) -> str | None:
    """The acceptance number (受理编号) given to ``application``.

    :param seq: the next number of the application's series (from the store, starts at 1). A series
        is a number without its trailing digits: core first asks with ``seq=0`` to learn it, and each
        series counts on its own (Shenzhen's ``WSZ…`` and ``SZ…``).
    :returns: e.g. ``"WSZ0000988"``; must not depend on anything but ``application`` and ``seq``.

    firstresult. Core's default is the region's ``acceptance_prefix`` (or the first three letters
    of its code in capitals) followed by seven digits.
    """


@hookspec(firstresult=True)
def medium_policy(region: str, business: Business, enterprise: Enterprise | None) -> MediumPolicy | None:
    """Whether the medium is free or must be bought, from whom, and how proof is given.

    firstresult. Core's default: unstated, the enterprise provides the medium.
    """


@hookspec
def forms(region: str, business: Business) -> list[Form] | None:
    """Printable forms the region requires for ``business`` (rendered pre-filled by core).

    All results are concatenated.
    """


@hookspec(firstresult=True)
def upload_policy(region: str, business: Business) -> UploadPolicy | None:
    """Which file types and sizes uploads may have.

    firstresult. Core's default: JPEG, PNG and PDF up to the deployment's limit.
    """


@hookspec(firstresult=True)
def card_policy(region: str) -> CardPolicy | None:
    """PIN retry limit, validity and renewal window of cards issued in ``region``.

    firstresult. Core's default: 3 retries, 10 years, 0-180-day renewal window,
    initial PIN 88888888.
    """


@hookspec(firstresult=True)
def notice_wording(region: str, kind: NoticeKind) -> Wording | None:
    """The words of one notice (an SMS and an e-mail to the enterprise) in ``region``.

    :param kind: a :class:`core.notices.NoticeKind` (application returned, shipped, renewal reminder ...).
    :returns: a :class:`core.notices.Wording`: subject, body and SMS templates in Chinese and English,
        with ``{fact}`` placeholders. Core fixes the facts (``core.notices.FACTS``): a wording that uses a
        fact the kind does not have, or leaves out one it requires (``core.notices.REQUIRED``), is not
        used, and core's own is sent instead. The SMS must fit ``core.notices.SMS_PARTS``.

    firstresult. Core's default is ``core.notices.DEFAULT_WORDING``. A region overrides the words, for
    example to name its own counter or to say what its enterprises must bring.
    """


@hookspec
def register_gateways() -> list[GatewayKind]:
    """Add SMS or e-mail gateways a deployment may choose by name (``[sms] gateway``, ``[mail] gateway``).

    :returns: a list of :class:`core.notify.base.GatewayKind` (name, channel ``"sms"`` or ``"mail"``,
        and a factory given the gateway's ``options`` table and secrets).

    All results are collected; a name taken by a built-in gateway (``tencent``, ``webhook``, ``smtp``)
    or by another plugin is a configuration error. Implemented by add-on plugins (no region).
    """


# Events: called after the change is committed; return values are ignored.


@hookspec
def application_submitted(application: Application) -> None:
    """An application was submitted (first time or after rejection). For notifications."""


@hookspec
def application_transitioned(application: Application, transition: Transition) -> None:
    """An application moved between states (``transition`` is its newest history entry)."""


@hookspec
def card_transitioned(card: Card, event: CardEvent) -> None:
    """A card moved between states (``event`` is its newest history entry)."""
