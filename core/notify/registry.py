"""The gateways a deployment can name: the built-in ones and those plugins add (``register_gateways``)."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import ConfigError
from core.notify.base import CHANNELS, GatewayContext, GatewayKind


def _tencent(context: GatewayContext):
    from core.notify import tencent  # the SDK loads only when the deployment uses it

    return tencent.make(context)


def _smtp(context: GatewayContext):
    from core.notify import smtp

    return smtp.make(context)


def _webhook(channel: str):
    def make(context: GatewayContext):
        from core.notify import webhook

        return webhook.make_for(channel)(context)
    return make


BUILTIN: tuple[GatewayKind, ...] = (
    GatewayKind("tencent", "sms", _tencent),
    GatewayKind("webhook", "sms", _webhook("sms")),
    GatewayKind("smtp", "mail", _smtp),
    GatewayKind("webhook", "mail", _webhook("mail")),
)
RESERVED = ("none", "outbox")  # core's own, for every channel


def kinds_by_name(extra: Iterable[GatewayKind] = ()) -> dict[tuple[str, str], GatewayKind]:
    """(channel, name) -> kind, the built-in ones first; a plugin's kind that takes a name already taken
    (or a channel that does not exist) is a configuration error."""
    found: dict[tuple[str, str], GatewayKind] = {}
    for kind in (*BUILTIN, *extra):
        if kind.channel not in CHANNELS:
            raise ConfigError(f"网关 {kind.name} 的通道 {kind.channel!r} 无效（只能是 sms 或 mail）",
                              f"gateway {kind.name}: channel {kind.channel!r} is neither sms nor mail",
                              field=f"{kind.channel}.gateway")
        if (kind.channel, kind.name) in found or kind.name in RESERVED:
            raise ConfigError(f"两个插件都提供名为 {kind.name} 的{kind.channel}网关",
                              f"two gateways for {kind.channel} are named {kind.name}", field=f"{kind.channel}.gateway")
        found[kind.channel, kind.name] = kind
    return found


__all__ = ["BUILTIN", "RESERVED", "kinds_by_name"]
