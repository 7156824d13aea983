"""Renewal reminders, and the staff's list of certificates about to expire.

``[notify] reminder_days`` (90, 30, 7 by default) are the points: a card whose certificate ends within
7 days is reminded at the 7-day point, one that ends in 8 to 30 days at the 30-day point, and so on;
each card is reminded once per certificate and point (``card_reminders``), so a certificate first seen
at 25 days left gets the 30-day reminder only, then the 7-day one. A point beyond the region's renewal
window (``card_policy``: Shenzhen renews 0-180 days before expiry) is skipped for that region's cards:
the enterprise could not act on it. The reminder says what to do in that region: the channels of its
``renew`` business.

The scan is one range query per point on ``ix_cards_expiry`` (the certificate's end, the card's
state), each card checked against ``card_reminders`` by its primary key (bench/bench_reminders.py
times it at 1,000,000 cards). Marking the card and queueing its notice share one transaction, so two
runners at once remind each card once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attrs import frozen

from core.convert import make_json_converter
from core.deadlines import china_date
from core.errors import ConfigError
from core.labels import pair
from core.model import Business, Card, CardState
from core.notices import NoticeKind
from core.rules import Text
from core.services.actors import Actor
from core.services.notify import staff_region
from core.store.notify import CardDue, Reminders

if TYPE_CHECKING:
    from core.services.context import Services
    from core.store.store import Transaction

# States a reminder helps: the card can still be renewed (a locked or frozen one once unlocked or unfrozen).
REMINDED_STATES = (CardState.ACTIVE.value, CardState.LOCKED.value, CardState.FROZEN.value)
BATCH = 500
JSON = make_json_converter()


@frozen
class ReminderReport:
    found: int = 0
    queued: int = 0  # reminders recorded (each queues its notice on the channels the enterprise chose)
    skipped: int = 0  # beyond the region's renewal window

    def summary(self) -> str:
        return f"reminded {self.queued} card(s), skipped {self.skipped} outside their renewal window"


def points(services: Services) -> list[int]:
    days = sorted(set(services.settings.notify.reminder_days))
    if not days or days[0] < 1:
        raise ConfigError("[notify] reminder_days 须为正整数（如 [90, 30, 7]）",
                          "[notify] reminder_days must be whole numbers of days, at least 1 (e.g. [90, 30, 7])",
                          field="notify.reminder_days")
    return days


def renew_how(services: Services, region: str) -> Text:
    """What to do in ``region``: the channels its ``renew`` business runs through."""
    if region:
        for offer in services.rulebook.offers(region):
            if offer.business is Business.RENEW and offer.channels:
                return Text("、".join(c.name.zh for c in offer.channels),
                            ", ".join(c.name.get("en") for c in offer.channels))
    return Text("请联系分中心办理证书更新", "contact the branch centre to renew it")


def scan(services: Services) -> ReminderReport:
    """Remind every card that has reached a point and has not had that point's reminder."""
    notifications = services.notifications
    now = services.clock()
    found = queued = skipped = 0
    previous = 0
    for days in points(services):
        after, until = now + timedelta(days=previous), now + timedelta(days=days)
        while True:
            with services.store.transaction(readonly=True) as tx:
                batch = Reminders(tx).due(after, until, days, REMINDED_STATES, BATCH)
            for due in batch:
                found += 1
                with services.store.transaction() as tx:
                    if not Reminders(tx).mark(due.card_id, due.serial, days, now):
                        continue  # another runner reminded it meanwhile
                    card = JSON.structure(_card_json(due), Card)
                    region = notifications.card_region(tx, card)
                    window = services.rulebook.card_policy(region).renewal_window_days if region else days
                    if days > window:
                        skipped += 1
                        continue
                    facts = {**notifications.card_facts(tx, card), "renew_how": renew_how(services, region),
                             "days_left": Text(str(max(0, (china_date(due.not_after) - china_date(now)).days)))}
                    notifications.queue(tx, kind=NoticeKind.RENEWAL_REMINDER, region=region,
                                        uscc=card.enterprise_uscc, facts=facts, key=f"remind:{due.card_id}:"
                                        f"{due.serial}:{days}", fallback_mobile=card.holder.phone)
                    queued += 1
            if len(batch) < BATCH:
                break
        previous = days
    return ReminderReport(found, queued, skipped)


def _card_json(due: CardDue) -> dict:
    import json

    return json.loads(due.data)


# ---- the staff's list -------------------------------------------------------------------------------------------

@frozen
class ExpiringCard:
    card_id: str
    uscc: str
    enterprise: str
    kind: Text
    holder: str
    device_no: str
    state: str
    region: str
    not_after: datetime
    days_left: int
    reminded: tuple[int, ...]  # the points already reminded


def expiring(services: Services, actor: Actor, within_days: int | None = None, limit: int = 50, offset: int = 0
             ) -> list[ExpiringCard]:
    """Cards whose certificate ends within ``within_days`` (default: the largest reminder point), soonest first;
    staff see their own branch's."""
    return _page(services, staff_region(actor), within_days, limit, offset)


def _page(services: Services, region: str | None, within_days: int | None, limit: int, offset: int
          ) -> list[ExpiringCard]:
    """The cards of ``region`` (None: every branch) in the query itself, so a page holds ``limit`` of them."""
    now = services.clock()
    until = now + timedelta(days=within_days or max(points(services)))
    with services.store.transaction(readonly=True) as tx:
        rows = Reminders(tx).expiring(now, until, REMINDED_STATES, limit, offset, region=region,
                                      default_region=services.settings.regions.default)
        sent = Reminders(tx).sent_points([r.card_id for r in rows])
        return [_expiring(services, tx, row, sent, now) for row in rows]


def _expiring(services: Services, tx: Transaction, row: CardDue, sent: dict, now: datetime) -> ExpiringCard:
    card = JSON.structure(_card_json(row), Card)
    facts = services.notifications.card_facts(tx, card)
    return ExpiringCard(card.id, card.enterprise_uscc, facts["enterprise"].zh, Text(*pair(card.kind)),
                        card.holder.name, card.device_no, card.state.value,
                        services.notifications.card_region(tx, card), row.not_after,
                        (china_date(row.not_after) - china_date(now)).days,
                        tuple(sorted(sent.get((row.card_id, row.serial), []), reverse=True)))


CSV_HEADER = ("card_id", "uscc", "enterprise", "kind", "holder", "device_no", "state", "region", "not_after",
              "days_left", "reminded_days")


def expiring_csv(services: Services, actor: Actor, within_days: int | None = None) -> Iterator[str]:
    """The whole list as CSV (UTF-8 with a byte-order mark, so that spreadsheet programs read the Chinese)."""
    yield "\ufeff" + _line(CSV_HEADER)
    region = staff_region(actor)
    offset = 0
    while True:
        page = _page(services, region, within_days, BATCH, offset)
        for card in page:
            yield _line((card.card_id, card.uscc, card.enterprise, card.kind.zh, card.holder, card.device_no,
                         card.state, card.region, china_date(card.not_after).isoformat(), str(card.days_left),
                         " ".join(str(d) for d in card.reminded)))
        if len(page) < BATCH:
            return
        offset += BATCH


def _line(values: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_safe_cell(v) for v in values])
    return out.getvalue()


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet would run as a formula is kept as text (OWASP, CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


__all__ = ["CSV_HEADER", "REMINDED_STATES", "ExpiringCard", "ReminderReport", "expiring", "expiring_csv", "points",
           "renew_how", "scan"]
