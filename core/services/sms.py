"""SMS verification codes: sent through the configured gateway, capped, audited, checked.

A code is 6 digits, valid for 10 minutes, single use, at most 5 tries. Only its HMAC is kept for
checking; the development gateway (``outbox``) keeps the message text itself so a developer can read
it at ``/dev/outbox``, a real gateway's row keeps the text with the code blanked.

Gateways (``[sms] gateway``): ``none`` (the default) sends nothing, and every flow that needs a code
says no gateway is configured; ``outbox`` is for development only (``[web] development = true``):
whoever reads the outbox has every code.

Every send is counted in the shared rate counters (per number, per account asking, per client
address, per hour and per day; limits in ``[sms]``) and audited, in the transaction that records
it, so a refused send changes nothing. A flow sends only to the number it defines: the agent's
mobile of the caller's own application, the account's registered mobile for a password reset.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attrs import frozen

from core.config import Settings
from core.errors import Forbidden, InvalidInput, TooManyRequests, Unavailable
from core.metrics import sms_outcome
from core.model import Application
from core.notify.base import Gateway, Outgoing, SendError
from core.notify.dev import NoGateway, OutboxGateway
from core.privacy import mask_phone
from core.store.accounts import SmsMessage, SmsOutbox
from core.store.throttle import Limit, RateCounters

if TYPE_CHECKING:
    from core.services.context import Services  # context imports the services that import this module
    from core.store.store import Transaction

CODE_TTL = timedelta(minutes=10)
RESEND_AFTER = timedelta(seconds=60)
MAX_TRIES = 5
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


class GatewayFailed(Unavailable):
    """The gateway refused or could not take the code (the person may ask again after a minute)."""


SmsGateway = Gateway  # the contract of every gateway (core/notify/base.py), SMS or e-mail


def no_gateway() -> Unavailable:
    return Unavailable("本系统未配置短信网关，无法发送验证码。请联系管理员在 eportcard.toml 的 [sms] gateway 中配置"
                       "（见 docs/deployment.md）。",
                       "No SMS gateway is configured, so no code can be sent; an administrator sets [sms] gateway "
                       "in eportcard.toml (see docs/deployment.md).", field="sms_code")


def require_gateway(gateway: SmsGateway) -> None:
    """``Unavailable`` when no gateway is configured (before a flow asks for anything)."""
    if isinstance(gateway, NoGateway):
        raise no_gateway()


def gateway_for(settings: Settings) -> SmsGateway:
    """The gateway ``[sms] gateway`` names (core/services/notify.py); the outbox only in development mode."""
    from core.services.notify import make_gateway  # imported here: notify imports the store's SMS outbox too

    return make_gateway(settings, "sms")


@frozen
class Asker:
    """Who asks for a code: the account the send is counted against, as the audit names it
    (``enterprise:<username>``), and the client address."""

    account: str
    address: str


def code_hash(secret: str, purpose: str, mobile: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}\n{mobile}\n{code}".encode(), hashlib.sha256).hexdigest()


def _caps(services: Services, mobile: str, asker: Asker) -> list[tuple[str, Limit]]:
    sms = services.settings.sms
    return [
        (f"sms-mobile-hour:{mobile}", Limit(sms.per_mobile_hour, HOUR)),
        (f"sms-mobile-day:{mobile}", Limit(sms.per_mobile_day, DAY)),
        (f"sms-account-hour:{asker.account}", Limit(sms.per_account_hour, HOUR)),
        (f"sms-account-day:{asker.account}", Limit(sms.per_account_day, DAY)),
        (f"sms-address-hour:{asker.address}", Limit(sms.per_address_hour, HOUR)),
        (f"sms-address-day:{asker.address}", Limit(sms.per_address_day, DAY)),
    ]


def send_code(services: Services, gateway: SmsGateway, secret: str, mobile: str, purpose: str,
              asker: Asker) -> None:
    """Send a fresh code for ``purpose`` (e.g. ``submit:<app id>``) to ``mobile``.

    Refused (nothing recorded) within 60 seconds of the last unused code, and with ``TooManyRequests``
    when the number, the account or the address is at its hourly or daily cap. Each outcome is counted
    (core/metrics.py: sent, no_gateway, too_soon, capped, failed)."""
    outcome = "failed"  # the gateway (or the database) raised
    try:
        _send_code(services, gateway, secret, mobile, purpose, asker)
        outcome = "sent"
    except GatewayFailed:
        raise  # "failed"
    except Unavailable:
        outcome = "no_gateway"
        raise
    except TooManyRequests:
        outcome = "capped"
        raise
    except InvalidInput:
        outcome = "too_soon"
        raise
    finally:
        sms_outcome("send", purpose, outcome)


def _send_code(services: Services, gateway: SmsGateway, secret: str, mobile: str, purpose: str,
               asker: Asker) -> None:
    require_gateway(gateway)
    now = services.clock()
    code = f"{secrets.randbelow(10**6):06d}"
    text = f"【电子口岸】您的验证码为{code}，10分钟内有效，请勿泄露。/ Your E-Port code is {code}; valid 10 minutes."
    with services.store.transaction() as tx:
        outbox = SmsOutbox(tx)
        last = outbox.latest(purpose, mobile)
        if last is not None and last.used_at is None and now - last.created_at < RESEND_AFTER:
            raise InvalidInput("验证码已发送，请在60秒后再重新获取。",
                               "A code was just sent; wait 60 seconds before asking again.", field="sms_code")
        counters = RateCounters(tx)
        if not all(counters.take(key, now, limit) for key, limit in _caps(services, mobile, asker)):
            raise TooManyRequests("验证码发送次数已达上限，请稍后再试。",
                                  "Too many codes were sent; try again later.", field="sms_code")
        stored = text if gateway.keeps_text else text.replace(code, "******")
        row = outbox.add(mobile, stored, code_hash(secret, purpose, mobile, code), purpose, now)
        tx.audit.append(asker.account, "sms_sent", "sms", purpose,
                        {"mobile": mobile, "gateway": gateway.name, "address": asker.address}, at=now)
    # A code is sent at once, not through the outbox: it is worth nothing ten minutes later.
    message = Outgoing("sms", "verification_code", mobile, text, f"code:{row}", params=(code, "10"))
    try:
        gateway.send(message)
    except SendError as exc:
        raise GatewayFailed("短信发送失败，请稍后重试。", "The SMS could not be sent; try again later.",
                            field="sms_code") from exc


def use_code(tx: Transaction, secret: str, mobile: str, purpose: str, code: str, now: datetime) -> Forbidden | None:
    """Use up the code for ``purpose`` inside the caller's transaction, so the code is spent only when
    what it proves commits too. Returns the refusal (field ``sms_code``) when it is wrong or stale: the
    caller commits (a wrong try counts) and raises it afterwards."""
    outbox = SmsOutbox(tx)
    last = outbox.latest(purpose, mobile)
    if last is None or last.used_at is not None or now - last.created_at >= CODE_TTL \
            or last.attempts >= MAX_TRIES:
        sms_outcome("check", purpose, "expired")
        return Forbidden("验证码已失效，请重新获取。", "The code has expired; ask for a new one.", field="sms_code")
    if not hmac.compare_digest(last.code_hash, code_hash(secret, purpose, mobile, code.strip())):
        outbox.count_attempt(last.id)
        sms_outcome("check", purpose, "wrong")
        return Forbidden("短信验证码不正确。", "The SMS code is wrong.", field="sms_code")
    outbox.mark_used(last.id, now)
    sms_outcome("check", purpose, "accepted")
    return None


def verify_code(services: Services, gateway: SmsGateway, secret: str, mobile: str, purpose: str,
                code: str) -> None:
    """Use up the code for ``purpose``; ``Forbidden`` (field ``sms_code``) when it is wrong or stale."""
    require_gateway(gateway)
    with services.store.transaction() as tx:
        problem = use_code(tx, secret, mobile, purpose, code, services.clock())
    if problem is not None:
        raise problem


def outbox(services: Services, limit: int) -> list[SmsMessage]:
    """The latest messages of the development gateway (the caller checked development mode)."""
    with services.store.transaction(readonly=True) as tx:
        return SmsOutbox(tx).recent(limit)


# ---- the submission code: to the agent's mobile of the caller's own application ------------------------------

def _agent_mobile(app: Application) -> str:
    if app.agent is None or not app.agent.phone:
        raise InvalidInput("请先指定经办人及其手机号码。", "Choose the agent and their mobile first.", field="agent")
    return app.agent.phone


def send_submission_code(services: Services, gateway: SmsGateway, secret: str, app: Application,
                         asker: Asker) -> str:
    """The code that signs ``app``'s submission, to its agent's mobile (``app`` is one the caller may
    edit: the caller checked that); returns the number masked, to show where it went."""
    mobile = _agent_mobile(app)
    send_code(services, gateway, secret, mobile, f"submit:{app.id}", asker)
    return mask_phone(mobile)


def verify_submission_code(services: Services, gateway: SmsGateway, secret: str, app: Application,
                           code: str) -> None:
    verify_code(services, gateway, secret, app.agent.phone if app.agent else "", f"submit:{app.id}", code)


__all__ = ["CODE_TTL", "Asker", "GatewayFailed", "NoGateway", "OutboxGateway", "SmsGateway", "code_hash", "gateway_for",
           "no_gateway", "outbox", "require_gateway", "send_code", "send_submission_code", "use_code", "verify_code",
           "verify_submission_code"]
