"""SMS verification codes through a pluggable gateway.

A code is 6 digits, valid for 10 minutes, single use, at most 5 tries. Only its HMAC is kept
for checking; the development gateway (``outbox``) keeps the message text itself so the demo
can show it at ``/dev/outbox``, a real gateway's row keeps the text with the code blanked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Protocol

from core.errors import ConfigError, Forbidden, InvalidInput
from core.services import Services
from core.store.accounts import SmsOutbox

CODE_TTL = timedelta(minutes=10)
RESEND_AFTER = timedelta(seconds=60)
MAX_TRIES = 5


class SmsGateway(Protocol):
    name: str
    keeps_text: bool  # True: the outbox row is the delivered message (development)

    def send(self, mobile: str, text: str) -> None: ...


class OutboxGateway:
    """Development gateway: nothing leaves the machine; the outbox table is the phone."""

    name = "outbox"
    keeps_text = True

    def send(self, mobile: str, text: str) -> None:
        return None  # the caller already wrote the row


def gateway_for(name: str) -> SmsGateway:
    if name == "outbox":
        return OutboxGateway()
    raise ConfigError(f"未知的短信网关：{name}", f"unknown SMS gateway: {name}", field="sms.gateway")


def code_hash(secret: str, purpose: str, mobile: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}\n{mobile}\n{code}".encode(), hashlib.sha256).hexdigest()


def send_code(services: Services, gateway: SmsGateway, secret: str, mobile: str, purpose: str) -> None:
    """Send a fresh code for ``purpose`` (e.g. ``submit:<app id>``) to ``mobile``."""
    now = services.clock()
    code = f"{secrets.randbelow(10**6):06d}"
    text = f"【电子口岸】您的验证码为{code}，10分钟内有效，请勿泄露。/ Your E-Port code is {code}; valid 10 minutes."
    with services.store.transaction() as tx:
        outbox = SmsOutbox(tx)
        last = outbox.latest(purpose, mobile)
        if last is not None and last.used_at is None and now - last.created_at < RESEND_AFTER:
            raise InvalidInput("验证码已发送，请在60秒后再重新获取。",
                               "A code was just sent; wait 60 seconds before asking again.", field="sms_code")
        stored = text if gateway.keeps_text else text.replace(code, "******")
        outbox.add(mobile, stored, code_hash(secret, purpose, mobile, code), purpose, now)
    gateway.send(mobile, text)


def verify_code(services: Services, secret: str, mobile: str, purpose: str, code: str) -> None:
    """Use up the code for ``purpose``; ``Forbidden`` (field ``sms_code``) when it is wrong or stale."""
    now = services.clock()
    problem: Forbidden | None = None
    with services.store.transaction() as tx:
        outbox = SmsOutbox(tx)
        last = outbox.latest(purpose, mobile)
        if last is None or last.used_at is not None or now - last.created_at >= CODE_TTL \
                or last.attempts >= MAX_TRIES:
            problem = Forbidden("验证码已失效，请重新获取。", "The code has expired; ask for a new one.",
                                field="sms_code")
        elif not hmac.compare_digest(last.code_hash, code_hash(secret, purpose, mobile, code.strip())):
            outbox.count_attempt(last.id)
            problem = Forbidden("短信验证码不正确。", "The SMS code is wrong.", field="sms_code")
        else:
            outbox.mark_used(last.id, now)
    if problem is not None:
        raise problem


__all__ = ["CODE_TTL", "OutboxGateway", "SmsGateway", "code_hash", "gateway_for", "send_code", "verify_code"]
