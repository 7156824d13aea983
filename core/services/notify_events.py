"""The listener that turns committed events into queued notices (registered by ``Services``).

It runs after the change has committed, in the process that made it: a failure to queue is logged,
never raised, because the change itself stands and the person who made it must see it did.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core import hookimpl
from core.model import Application, Card, CardEvent, Transition

if TYPE_CHECKING:
    from core.services.context import Services

log = logging.getLogger(__name__)

PLUGIN_NAME = "core.notify"


class NotifyListener:
    def __init__(self, services: Services) -> None:
        self.services = services

    @hookimpl
    def application_transitioned(self, application: Application, transition: Transition) -> None:
        try:
            self.services.notifications.application_event(application, transition)
        except Exception:
            log.exception("could not queue the notice of %s on application %s", transition.action, application.id)

    @hookimpl
    def card_transitioned(self, card: Card, event: CardEvent) -> None:
        try:
            self.services.notifications.card_event(card, event)
        except Exception:
            log.exception("could not queue the notice of %s on card %s", event.action, card.id)


def listen(services: Services) -> None:
    """Register ``services``' listener on its plugin manager (once per manager: the first services wins)."""
    pm = services.rulebook.pm
    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(NotifyListener(services), name=PLUGIN_NAME)


__all__ = ["PLUGIN_NAME", "NotifyListener", "listen"]
