"""Single-use server nonces (challenges) and release grants, kept in ``card_challenges`` (migration 0003).

A *challenge* is what the enterprise's legal card signs to authorise an operator-card action; a
*grant* is what the server hands out after checking that signature, for the hardware half of an
unlock or renewal that happens where the operator card is. Both are used at most once and expire
after a few minutes. The table lives in its own ``MetaData`` so ``core.store.tables`` stays the
engine's schema (as ``core.store.accounts`` does).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attrs import frozen
from sqlalchemy import CheckConstraint, Column, Index, MetaData, String, Table, insert, select, update

from core.errors import Forbidden
from core.store.types import UTCDateTime

if TYPE_CHECKING:
    from core.store.store import Transaction

CHALLENGE_TTL = timedelta(minutes=5)
NONCE_BYTES = 24

challenges_metadata = MetaData()

card_challenges = Table(
    "card_challenges", challenges_metadata,
    Column("nonce", String(64), primary_key=True),
    Column("purpose", String(16), nullable=False),  # "challenge" | "grant"
    Column("uscc", String(18), nullable=False),
    Column("card_id", String(64), nullable=False, server_default=""),  # grants: the operator card
    Column("action", String(32), nullable=False, server_default=""),  # grants: unlock | renew
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    CheckConstraint("purpose IN ('challenge', 'grant')", name="ck_card_challenges_purpose"),
    Index("ix_card_challenges_expires", "expires_at"),
)


@frozen
class Challenge:
    nonce: str  # URL-safe text; what is signed is :func:`operator_action_message`
    expires_at: datetime


@frozen
class Grant:
    """A released right to do the hardware half of ``action`` on ``card_id`` (single use)."""

    token: str
    card_id: str
    action: str
    expires_at: datetime


def operator_action_message(nonce: str, action: str, target_card_id: str) -> bytes:
    """Exactly what the legal card signs (SHA-256; PKCS#1 v1.5 for RSA, ECDSA for EC keys)."""
    return f"eportcard-operator-action|{nonce}|{action}|{target_card_id}".encode()


def _refused() -> Forbidden:
    # One answer for unknown, used and expired: a probe learns nothing.
    return Forbidden("授权码无效、已使用或已过期，请重新获取", "the challenge is unknown, used or expired; "
                     "request a new one", field="nonce")


class Challenges:
    def __init__(self, tx: Transaction) -> None:
        self._conn = tx.connection

    def _new(self, purpose: str, uscc: str, now: datetime, card_id: str = "", action: str = "") -> str:
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        self._conn.execute(insert(card_challenges).values(
            nonce=nonce, purpose=purpose, uscc=uscc, card_id=card_id, action=action, created_at=now,
            expires_at=now + CHALLENGE_TTL, used_at=None))
        return nonce

    def issue_challenge(self, uscc: str, now: datetime) -> Challenge:
        return Challenge(self._new("challenge", uscc, now), now + CHALLENGE_TTL)

    def issue_grant(self, uscc: str, card_id: str, action: str, now: datetime) -> Grant:
        return Grant(self._new("grant", uscc, now, card_id, action), card_id, action, now + CHALLENGE_TTL)

    def check(self, nonce: str, purpose: str, uscc: str, now: datetime, card_id: str = "",
              action: str = "") -> None:
        """Forbidden unless the nonce exists for this enterprise (and card / action), unused and unexpired."""
        row = self._conn.execute(select(card_challenges).where(card_challenges.c.nonce == nonce)).first()
        if (row is None or row.purpose != purpose or row.uscc != uscc or row.used_at is not None
                or row.expires_at <= now or (card_id and row.card_id != card_id)
                or (action and row.action != action)):
            raise _refused()

    def consume(self, nonce: str, purpose: str, uscc: str, now: datetime, card_id: str = "",
                action: str = "") -> None:
        """:meth:`check`, then mark the nonce used (only once, even under concurrent callers)."""
        self.check(nonce, purpose, uscc, now, card_id, action)
        done = self._conn.execute(update(card_challenges)
                                  .where(card_challenges.c.nonce == nonce, card_challenges.c.used_at.is_(None))
                                  .values(used_at=now))
        if done.rowcount != 1:  # someone used it between our read and write
            raise _refused()
