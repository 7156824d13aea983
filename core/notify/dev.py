"""The two gateways that send nothing: ``none`` (nothing can be sent) and the development ``outbox``.

The outbox is for a developer's machine only (``[web] development = true``): the message stays in the
database, text and all, and the SMS among them are shown at ``/dev/outbox`` (loopback only), codes
included, so whoever can read it could take over any account (docs/security.md).
"""

from __future__ import annotations

from core.notify.base import Outgoing, SendError


class NoGateway:
    """No gateway configured for the channel: nothing can be sent."""

    name = "none"
    keeps_text = False

    def __init__(self, channel: str = "sms") -> None:
        self.channel = channel

    def send(self, message: Outgoing) -> str:
        raise SendError(f"no {self.channel} gateway is configured")


class OutboxGateway:
    """Development gateway: nothing leaves the machine; the stored row is the delivered message."""

    name = "outbox"
    keeps_text = True

    def __init__(self, channel: str = "sms") -> None:
        self.channel = channel

    def send(self, message: Outgoing) -> str:
        return ""  # the caller keeps the row


__all__ = ["NoGateway", "OutboxGateway"]
