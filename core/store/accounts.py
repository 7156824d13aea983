"""Web accounts (enterprise administrators and staff) and the SMS outbox.

The tables come from migration 0002. They live in their own ``MetaData`` so
``core.store.tables`` stays the engine's schema; repositories are built from an
open transaction: ``Accounts(tx)``, ``SmsOutbox(tx)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from core.errors import ConflictError
from core.store.types import UTCDateTime

if TYPE_CHECKING:
    from core.store.store import Transaction

accounts_metadata = MetaData()

users = Table(
    "users", accounts_metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("uscc", String(18), nullable=False, server_default=""),
    Column("region", String(32), nullable=False, server_default=""),
    Column("roles", Text, nullable=False, server_default=""),
    Column("display_name", Text, nullable=False, server_default=""),
    Column("mobile", String(20), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("session_epoch", Integer, nullable=False, server_default="0"),
    Column("id_number", String(32), nullable=False, server_default=""),  # enterprise administrators (0013)
    Column("email", Text, nullable=False, server_default=""),
    CheckConstraint("kind IN ('enterprise', 'staff')", name="ck_users_kind"),
    UniqueConstraint("username", name="uq_users_username"),
    Index("ix_users_uscc", "uscc"),
)

sms_outbox = Table(
    "sms_outbox", accounts_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mobile", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("code_hash", String(64), nullable=False, server_default=""),
    Column("purpose", String(128), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("ix_sms_outbox_purpose", "purpose", "mobile"),
)

web_sessions = Table(
    "web_sessions", accounts_metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the cookie's session id
    Column("user_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # "account" | "card"
    Column("address", String(64), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Index("ix_web_sessions_user", "user_id"),
)

rate_counters = Table(
    "rate_counters", accounts_metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("hits", Integer, nullable=False, server_default="0"),
    Column("blocked_until", UTCDateTime, nullable=True),
)

USER_KINDS = ("enterprise", "staff")


def _role_set(roles: Iterable[str]) -> frozenset[str]:
    return frozenset(roles)


@frozen
class User:
    id: str
    username: str
    kind: str  # "enterprise" | "staff"
    password_hash: str = field(repr=False)
    uscc: str = ""  # enterprise administrators: their enterprise
    region: str = ""  # staff: their branch; enterprises: the region they registered with
    roles: frozenset[str] = field(default=frozenset(), converter=_role_set)
    display_name: str = ""
    mobile: str = ""
    created_at: datetime | None = None
    disabled: bool = False
    session_epoch: int = 0  # sessions issued before it was raised have ended
    id_number: str = ""  # an enterprise administrator's ID number, as the national system records it
    email: str = ""


@frozen
class SmsMessage:
    id: int
    mobile: str
    text: str
    code_hash: str
    purpose: str
    created_at: datetime
    used_at: datetime | None = None
    attempts: int = 0


def _user(row: Any) -> User:
    return User(id=row.id, username=row.username, kind=row.kind, password_hash=row.password_hash,
                uscc=row.uscc, region=row.region, roles=frozenset(r for r in row.roles.split(",") if r),
                display_name=row.display_name, mobile=row.mobile, created_at=row.created_at,
                disabled=bool(row.disabled), session_epoch=row.session_epoch, id_number=row.id_number,
                email=row.email)


class Accounts:
    """The ``users`` table inside one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def add(self, user: User) -> User:
        values = attrs.asdict(user, recurse=False) | {"roles": ",".join(sorted(user.roles))}
        try:
            with self._conn.begin_nested():
                self._conn.execute(insert(users).values(**values))
        except IntegrityError:
            raise ConflictError(f"用户名“{user.username}”已被使用，请换一个。",
                                f"The username '{user.username}' is taken; choose another.",
                                field="username") from None
        return user

    def get(self, user_id: str) -> User | None:
        row = self._conn.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def by_username(self, username: str) -> User | None:
        row = self._conn.execute(select(users).where(users.c.username == username)).first()
        return None if row is None else _user(row)

    def for_enterprise(self, uscc: str) -> list[User]:
        rows = self._conn.execute(select(users).where(users.c.uscc == uscc).order_by(users.c.username))
        return [_user(r) for r in rows]

    def staff(self, region: str | None = None, *, lock: bool = False) -> list[User]:
        """The staff accounts (of ``region``); ``lock``: row-locked until the transaction ends, so a
        rule over all of them (e.g. the branch keeps an administrator) holds against parallel changes."""
        query = select(users).where(users.c.kind == "staff")
        if region is not None:
            query = query.where(users.c.region == region)
        if lock:
            query = query.with_for_update()
        return [_user(r) for r in self._conn.execute(query.order_by(users.c.username))]

    def change(self, user: User, *, password_hash: str | None = None, roles: Iterable[str] | None = None,
               disabled: bool | None = None, now: datetime | None = None) -> User:
        """Set what a session relies on and end every session of the account (they stop working at
        their next request); the session epoch records how often that happened."""
        values: dict[str, Any] = {"session_epoch": users.c.session_epoch + 1}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if roles is not None:
            values["roles"] = ",".join(sorted(set(roles)))
        if disabled is not None:
            values["disabled"] = disabled
        self._conn.execute(update(users).where(users.c.id == user.id).values(**values))
        self.end_sessions(user.id, now or datetime.now(UTC))
        changed = self.get(user.id)
        assert changed is not None
        return changed


    def add_session(self, row_id: str, user_id: str, kind: str, address: str, now: datetime) -> None:
        self._conn.execute(insert(web_sessions).values(id=row_id, user_id=user_id, kind=kind,
                                                       address=address[:64], created_at=now))

    def end_session(self, row_id: str, now: datetime) -> str | None:
        """End one session; the account id it belonged to, None when it had already ended."""
        row = self._conn.execute(update(web_sessions).where(web_sessions.c.id == row_id,
                                                            web_sessions.c.ended_at.is_(None))
                                 .values(ended_at=now).returning(web_sessions.c.user_id)).first()
        return None if row is None else str(row.user_id)

    def end_sessions(self, user_id: str, now: datetime) -> int:
        result = self._conn.execute(update(web_sessions).where(web_sessions.c.user_id == user_id,
                                                               web_sessions.c.ended_at.is_(None))
                                    .values(ended_at=now))
        return int(result.rowcount or 0)


def _message(row: Any) -> SmsMessage:
    return SmsMessage(id=row.id, mobile=row.mobile, text=row.text, code_hash=row.code_hash, purpose=row.purpose,
                      created_at=row.created_at, used_at=row.used_at, attempts=row.attempts)


class SmsOutbox:
    """The ``sms_outbox`` table: messages sent (development gateway) and the codes they carried."""

    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def add(self, mobile: str, text: str, code_hash: str, purpose: str, now: datetime) -> int:
        result = self._conn.execute(insert(sms_outbox).values(
            mobile=mobile, text=text, code_hash=code_hash, purpose=purpose, created_at=now)
            .returning(sms_outbox.c.id))
        return int(result.scalar_one())

    def latest(self, purpose: str, mobile: str) -> SmsMessage | None:
        row = self._conn.execute(
            select(sms_outbox).where(sms_outbox.c.purpose == purpose, sms_outbox.c.mobile == mobile)
            .order_by(sms_outbox.c.id.desc()).limit(1)).first()
        return None if row is None else _message(row)

    def mark_used(self, message_id: int, now: datetime) -> None:
        self._conn.execute(update(sms_outbox).where(sms_outbox.c.id == message_id).values(used_at=now))

    def count_attempt(self, message_id: int) -> None:
        self._conn.execute(update(sms_outbox).where(sms_outbox.c.id == message_id)
                           .values(attempts=sms_outbox.c.attempts + 1))

    def recent(self, limit: int = 50) -> list[SmsMessage]:
        rows = self._conn.execute(select(sms_outbox).order_by(sms_outbox.c.id.desc()).limit(limit))
        return [_message(r) for r in rows]


__all__ = ["USER_KINDS", "Accounts", "SmsMessage", "SmsOutbox", "User", "accounts_metadata", "sms_outbox",
           "users"]
