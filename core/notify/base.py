"""The gateway contract: one outgoing message in, the provider's reference out, or a :class:`SendError`.

A plugin adds a gateway with the ``register_gateways`` hook, returning :class:`GatewayKind` values::

    @hookimpl
    def register_gateways():
        return [GatewayKind("acme-sms", "sms", lambda context: AcmeSms(context.options))]

and a deployment picks it by name: ``[sms] gateway = "acme-sms"`` with its settings under
``[sms] options``. ``send`` is called from the job runner's thread, once per attempt; it must not
retry itself (the outbox retries with back-off) and should pass ``message.key`` on where the far end
can use it, so a repeat after a crash can be dropped there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from attrs import field, frozen

CHANNELS = ("sms", "mail")


@frozen
class Outgoing:
    channel: str  # "sms" | "mail"
    kind: str  # a NoticeKind value, or "verification_code"
    recipient: str  # a mobile number (11 digits) or an e-mail address
    text: str  # the SMS text, or the e-mail's plain-text body
    key: str  # idempotency key: the same message always has the same key
    subject: str = ""  # e-mail only
    params: tuple[str, ...] = ()  # the SMS's facts in the order its template uses them (template providers)
    language: str = "zh"  # the SMS's language ("zh" | "en"); an e-mail carries both


class SendError(Exception):
    """The message was not sent. ``permanent``: sending it again cannot help (a wrong number, a template
    the provider refuses); it goes straight to the dead letters. Otherwise it is retried with back-off."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Gateway(Protocol):
    name: str
    channel: str
    keeps_text: bool  # True: the development outbox, whose stored row is the delivered message

    def send(self, message: Outgoing) -> str:
        """Send ``message``; the provider's reference (may be ""). Raises :class:`SendError`."""
        ...


@frozen
class GatewayContext:
    """What a gateway is made from: its ``options`` table from the config, and its secrets."""

    channel: str
    options: Mapping[str, Any]
    secret: Callable[[str], str | None] = field(default=lambda _name: None)  # e.g. secret("password")
    development: bool = False

    @property
    def field(self) -> str:
        return f"{self.channel}.options"


@frozen
class GatewayKind:
    name: str
    channel: str  # "sms" | "mail"
    make: Callable[[GatewayContext], Gateway]


__all__ = ["CHANNELS", "Gateway", "GatewayContext", "GatewayKind", "Outgoing", "SendError"]
