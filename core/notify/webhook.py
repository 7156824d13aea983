"""A generic HTTPS webhook: POST one JSON document per message to an in-house gateway.

``[sms] gateway = "webhook"`` (or ``[mail]``) with ``options.url``; the body is ``options.body``, a table
whose strings may name the message's fields (``{recipient}``, ``{text}``, ``{subject}``, ``{kind}``,
``{key}``, ``{language}``) and where the string ``"{params}"`` alone stands for the list of the SMS's
facts. The secret ``auth_token`` (``EPORTCARD_SMS_AUTH_TOKEN``, credential ``sms_auth_token`` or
``options.auth_token_file``) goes in the ``options.auth_header`` header (``Authorization`` by default,
with ``options.auth_scheme``, "Bearer", before it). Every request carries ``Idempotency-Key``: the key of
the message, the same on every attempt, so the gateway can drop a repeat.

2xx is sent; 408, 429 and 5xx (and no answer) are retried; any other answer is final (a dead letter).
"""

from __future__ import annotations

from typing import Any

import httpx
from attrs import field, frozen

from core.errors import ConfigError
from core.notify.base import GatewayContext, Outgoing, SendError
from core.notify.options import read_options, readable_file, refuse_plain_http

NAME = "webhook"
FIELDS = ("recipient", "text", "subject", "kind", "key", "language")
RETRIED = frozenset({408, 425, 429})


def _default_body() -> dict[str, Any]:
    return {"to": "{recipient}", "text": "{text}", "subject": "{subject}", "kind": "{kind}", "params": "{params}"}


@frozen
class WebhookOptions:
    url: str
    body: dict[str, Any] = field(factory=_default_body)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    auth_token_file: str = ""  # read by the secret reader
    ca_file: str = ""
    timeout_seconds: int = 10


def fill(template: Any, message: Outgoing) -> Any:
    """The body for ``message``: ``template``'s strings formatted with the message's fields."""
    if isinstance(template, dict):
        return {key: fill(value, message) for key, value in template.items()}
    if isinstance(template, list):
        return [fill(value, message) for value in template]
    if template == "{params}":
        return list(message.params)
    if isinstance(template, str):
        return template.format_map({name: getattr(message, name) for name in FIELDS})
    return template


class Webhook:
    name = NAME
    keeps_text = False

    def __init__(self, channel: str, options: WebhookOptions, token: str | None) -> None:
        self.channel = channel
        self.options = options
        self._token = token

    def send(self, message: Outgoing) -> str:
        headers = {"Idempotency-Key": message.key}
        if self._token:
            headers[self.options.auth_header] = f"{self.options.auth_scheme} {self._token}".strip()
        try:
            answer = httpx.post(self.options.url, json=fill(self.options.body, message), headers=headers,
                                timeout=self.options.timeout_seconds, verify=self.options.ca_file or True)
        except httpx.HTTPError as exc:
            raise SendError(f"no answer from the webhook ({type(exc).__name__})") from None
        if answer.is_success:
            return answer.headers.get("X-Request-ID", "")
        final = answer.status_code < 500 and answer.status_code not in RETRIED
        raise SendError(f"the webhook answered {answer.status_code}", permanent=final)


def make_for(channel: str):
    def make(context: GatewayContext) -> Webhook:
        options = read_options(WebhookOptions, context, NAME)
        scheme = options.url.split("://", 1)[0] if "://" in options.url else ""
        if scheme not in ("http", "https"):
            raise ConfigError(f"[{channel}] options.url 须为 https:// 地址", f"[{channel}] options.url must be an "
                              "https:// address", field=f"{context.field}.url")
        refuse_plain_http(options.url, scheme, context, "url", NAME)
        readable_file(options.ca_file, context, "ca_file", NAME)
        try:
            fill(options.body, Outgoing(channel, "x", "x", "x", "x"))
        except (KeyError, ValueError, IndexError) as exc:
            raise ConfigError(f"[{channel}] options.body 中的占位符有误：{exc}（可用：{', '.join(FIELDS)}、params）",
                              f"[{channel}] options.body has a wrong placeholder: {exc} (use {', '.join(FIELDS)}, "
                              "params)", field=f"{context.field}.body") from None
        return Webhook(channel, options, context.secret("auth_token"))
    return make


__all__ = ["NAME", "Webhook", "WebhookOptions", "fill", "make_for"]
