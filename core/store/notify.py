"""The notification tables of migration 0012: the outbox, each enterprise's choice, reminders sent.

Their own ``MetaData`` (like ``core.store.accounts``); repositories are built from an open transaction:
``Outbox(tx)``, ``NotifyChoices(tx)``, ``Reminders(tx)``.

A message is ``pending`` until a gateway takes it (``sent``) or it is given up (``dead``). A worker
*claims* a message before sending it (``claimed_until``, in a transaction of its own): a conditional
update, so two workers, or two machines, never hold the same message at once; a worker that dies
leaves a claim that simply runs out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from attrs import frozen
from sqlalchemy import (
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    cast,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from core.store.tables import applications, cards
from core.store.types import UTCDateTime

if TYPE_CHECKING:
    from core.store.store import Transaction

notify_metadata = MetaData()

notify_messages = Table(
    "notify_messages", notify_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idem_key", String(200), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("uscc", String(18), nullable=False, server_default=""),
    Column("region", String(32), nullable=False, server_default=""),
    Column("recipient", String(254), nullable=False),
    Column("language", String(8), nullable=False, server_default="zh"),
    Column("subject", Text, nullable=False, server_default=""),
    Column("body", Text, nullable=False),
    Column("params", Text, nullable=False, server_default="[]"),
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("gateway", String(32), nullable=False, server_default=""),
    Column("provider_ref", String(128), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    CheckConstraint("channel IN ('sms', 'mail')", name="ck_notify_messages_channel"),
    CheckConstraint("state IN ('pending', 'sent', 'dead')", name="ck_notify_messages_state"),
    UniqueConstraint("idem_key", name="uq_notify_messages_idem_key"),
    Index("ix_notify_messages_due", "state", "next_attempt_at"),
    Index("ix_notify_messages_uscc", "uscc"),
)

notify_settings = Table(
    "notify_settings", notify_metadata,
    Column("uscc", String(18), primary_key=True),
    Column("channels", String(8), nullable=False),
    Column("mobile", String(32), nullable=False, server_default=""),
    Column("email", String(254), nullable=False, server_default=""),
    Column("sms_language", String(8), nullable=False, server_default="zh"),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("channels IN ('sms', 'mail', 'both')", name="ck_notify_settings_channels"),
)

card_reminders = Table(
    "card_reminders", notify_metadata,
    Column("card_id", String(64), primary_key=True),
    Column("serial", String(64), primary_key=True),
    Column("days", Integer, primary_key=True, autoincrement=False),
    Column("sent_at", UTCDateTime, nullable=False),
)

STATES = ("pending", "sent", "dead")


@frozen
class Message:
    id: int
    idem_key: str
    channel: str
    kind: str
    uscc: str
    region: str
    recipient: str
    language: str
    subject: str
    body: str
    params: tuple[str, ...]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    gateway: str
    provider_ref: str
    created_at: datetime
    sent_at: datetime | None


@frozen
class NewMessage:
    idem_key: str
    channel: str
    kind: str
    recipient: str
    body: str
    uscc: str = ""
    region: str = ""
    language: str = "zh"
    subject: str = ""
    params: tuple[str, ...] = ()


@frozen
class NotifyChoice:
    uscc: str
    channels: str  # "sms" | "mail" | "both"
    mobile: str
    email: str
    sms_language: str
    updated_at: datetime


@frozen
class CardDue:
    """A card the reminder scan found: its record as stored (JSON) and the certificate's end."""

    card_id: str
    serial: str
    not_after: datetime
    data: str


def _message(row: Any) -> Message:
    values = dict(row._mapping)
    values.pop("claimed_until", None)
    values["params"] = tuple(json.loads(values["params"] or "[]"))
    return Message(**values)


def _insert(conn: Any) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class Outbox:
    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def enqueue(self, messages: Iterable[NewMessage], now: datetime) -> list[int | None]:
        """Queue each message unless one with its key is queued already: its new id, or None."""
        made: list[int | None] = []
        for m in messages:
            stmt = (_insert(self._conn)(notify_messages).values(
                idem_key=m.idem_key, channel=m.channel, kind=m.kind, uscc=m.uscc, region=m.region,
                recipient=m.recipient, language=m.language, subject=m.subject, body=m.body,
                params=json.dumps(list(m.params), ensure_ascii=False), state="pending", attempts=0,
                next_attempt_at=now, created_at=now)
                .on_conflict_do_nothing(index_elements=["idem_key"]).returning(notify_messages.c.id))
            found = self._conn.execute(stmt).scalar()
            made.append(None if found is None else int(found))
        return made

    def due_ids(self, now: datetime, limit: int) -> list[int]:
        """Pending messages whose time has come and that nobody holds, oldest first."""
        rows = self._conn.execute(
            select(notify_messages.c.id)
            .where(notify_messages.c.state == "pending", notify_messages.c.next_attempt_at <= now,
                   or_(notify_messages.c.claimed_until.is_(None), notify_messages.c.claimed_until < now))
            .order_by(notify_messages.c.next_attempt_at, notify_messages.c.id).limit(limit))
        return [int(r.id) for r in rows]

    def claim(self, message_id: int, now: datetime, hold: timedelta) -> Message | None:
        """Hold the message for ``hold`` if it is still pending and free; None if another worker has it."""
        result = self._conn.execute(
            update(notify_messages)
            .where(notify_messages.c.id == message_id, notify_messages.c.state == "pending",
                   notify_messages.c.next_attempt_at <= now,
                   or_(notify_messages.c.claimed_until.is_(None), notify_messages.c.claimed_until < now))
            .values(claimed_until=now + hold))
        return self.get(message_id) if result.rowcount == 1 else None

    def get(self, message_id: int) -> Message | None:
        row = self._conn.execute(select(notify_messages).where(notify_messages.c.id == message_id)).first()
        return None if row is None else _message(row)

    def sent(self, message_id: int, now: datetime, gateway: str, reference: str) -> None:
        self._conn.execute(update(notify_messages).where(notify_messages.c.id == message_id).values(
            state="sent", sent_at=now, attempts=notify_messages.c.attempts + 1, claimed_until=None,
            gateway=gateway, provider_ref=reference[:128], last_error=""))

    def failed(self, message_id: int, gateway: str, error: str, retry_at: datetime | None) -> None:
        """One failed try: retried at ``retry_at``, or a dead letter when None."""
        values: dict[str, Any] = {"attempts": notify_messages.c.attempts + 1, "claimed_until": None,
                                  "gateway": gateway, "last_error": error[:1000]}
        if retry_at is None:
            values["state"] = "dead"
        else:
            values["next_attempt_at"] = retry_at
        self._conn.execute(update(notify_messages).where(notify_messages.c.id == message_id).values(values))

    def retry(self, message_id: int, now: datetime) -> bool:
        """A dead letter back in the queue, due now, with its tries counted afresh; False if it is not dead."""
        result = self._conn.execute(
            update(notify_messages).where(notify_messages.c.id == message_id, notify_messages.c.state == "dead")
            .values(state="pending", attempts=0, next_attempt_at=now, claimed_until=None))
        return result.rowcount == 1

    def listing(self, state: str, limit: int, offset: int = 0, region: str | None = None) -> list[Message]:
        query = select(notify_messages).where(notify_messages.c.state == state)
        if region is not None:
            query = query.where(notify_messages.c.region == region)
        order = notify_messages.c.id.desc()
        return [_message(r) for r in self._conn.execute(query.order_by(order).limit(limit).offset(offset))]

    def counts(self, region: str | None = None) -> dict[str, int]:
        query = select(notify_messages.c.state, func.count()).group_by(notify_messages.c.state)
        if region is not None:
            query = query.where(notify_messages.c.region == region)
        found = {state: 0 for state in STATES}
        found.update({r[0]: int(r[1]) for r in self._conn.execute(query)})
        return found

    def for_key_prefix(self, prefix: str) -> list[Message]:
        rows = self._conn.execute(select(notify_messages).where(notify_messages.c.idem_key.startswith(prefix))
                                  .order_by(notify_messages.c.id))
        return [_message(r) for r in rows]


class NotifyChoices:
    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def get(self, uscc: str) -> NotifyChoice | None:
        row = self._conn.execute(select(notify_settings).where(notify_settings.c.uscc == uscc)).first()
        return None if row is None else NotifyChoice(**row._mapping)

    def put(self, choice: NotifyChoice) -> None:
        values = {"channels": choice.channels, "mobile": choice.mobile, "email": choice.email,
                  "sms_language": choice.sms_language, "updated_at": choice.updated_at}
        stmt = (_insert(self._conn)(notify_settings).values(uscc=choice.uscc, **values)
                .on_conflict_do_update(index_elements=["uscc"], set_=values))
        self._conn.execute(stmt)


class Reminders:
    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def due(self, after: datetime, until: datetime, days: int, states: Sequence[str], limit: int) -> list[CardDue]:
        """Cards in ``states`` whose certificate ends in (``after``, ``until``] and that have had no reminder
        for this certificate at the ``days`` point. Two steps: the range and the check against
        ``card_reminders`` (by its primary key) read ``ix_cards_expiry`` alone, which holds every column
        they need; then the records of the cards found, by primary key."""
        reminded = exists().where(card_reminders.c.card_id == cards.c.id,
                                  card_reminders.c.serial == cards.c.certificate_serial,
                                  card_reminders.c.days == days)
        found = self._conn.execute(
            select(cards.c.id, cards.c.certificate_serial, cards.c.not_after)
            .where(and_(cards.c.not_after > after, cards.c.not_after <= until, cards.c.state.in_(list(states)),
                        cards.c.certificate_serial.is_not(None), ~reminded))
            .order_by(cards.c.not_after, cards.c.id).limit(limit)).all()
        data = self._records([r.id for r in found])
        return [CardDue(r.id, r.certificate_serial, r.not_after, data[r.id]) for r in found]

    def _records(self, card_ids: list[str]) -> dict[str, str]:
        records: dict[str, str] = {}
        for start in range(0, len(card_ids), 1000):
            chunk = card_ids[start:start + 1000]
            records.update(self._conn.execute(select(cards.c.id, cards.c.data).where(cards.c.id.in_(chunk))).all())
        return records

    def mark(self, card_id: str, serial: str, days: int, now: datetime) -> bool:
        """Record the reminder; False when it was recorded already (another runner got there first)."""
        stmt = (_insert(self._conn)(card_reminders).values(card_id=card_id, serial=serial, days=days, sent_at=now)
                .on_conflict_do_nothing(index_elements=["card_id", "serial", "days"])
                .returning(card_reminders.c.card_id))  # a row back only when inserted (rowcount is -1 on some)
        return self._conn.execute(stmt).scalar() is not None

    def expiring(self, after: datetime, until: datetime, states: Sequence[str], limit: int, offset: int = 0,
                 region: str | None = None, default_region: str = "") -> list[CardDue]:
        """Cards whose certificate ends in (``after``, ``until``], soonest first (the staff's list); ``region``:
        only that branch's, a card's branch being its application's region (``default_region`` for a card
        made without one), filtered in the query so that a page is a whole page."""
        query = (select(cards.c.id, cards.c.certificate_serial, cards.c.not_after, cards.c.data)
                 .where(cards.c.not_after > after, cards.c.not_after <= until, cards.c.state.in_(list(states))))
        if region is not None:
            made_for = applications.c.id == _json_text(self._conn.dialect.name, cards.c.data, "application_id")
            query = (query.select_from(cards.outerjoin(applications, made_for))
                     .where(func.coalesce(applications.c.region, default_region) == region))
        rows = self._conn.execute(query.order_by(cards.c.not_after, cards.c.id).limit(limit).offset(offset))
        return [CardDue(r.id, r.certificate_serial or "", r.not_after, r.data) for r in rows]

    def sent_points(self, card_ids: Sequence[str]) -> dict[tuple[str, str], list[int]]:
        if not card_ids:
            return {}
        found: dict[tuple[str, str], list[int]] = {}
        for r in self._conn.execute(select(card_reminders).where(card_reminders.c.card_id.in_(list(card_ids)))):
            found.setdefault((r.card_id, r.serial), []).append(int(r.days))
        return found


def _json_text(dialect: str, column: Any, key: str) -> Any:
    """The text of ``key`` in a JSON record column: ``->>`` on PostgreSQL (its manual, §9.16.1 "Processing
    and Creating JSON Data"), ``json_extract`` on SQLite (https://sqlite.org/json1.html#jex)."""
    if dialect == "postgresql":
        return cast(column, postgresql.JSON)[key].astext
    return func.json_extract(column, f"$.{key}")


__all__ = ["STATES", "CardDue", "Message", "NewMessage", "NotifyChoice", "NotifyChoices", "Outbox", "Reminders",
           "card_reminders", "notify_messages", "notify_metadata", "notify_settings"]
