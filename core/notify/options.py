"""A gateway's ``options`` table read into its own frozen settings, as strictly as the rest of the config."""

from __future__ import annotations

import os
from typing import TypeVar
from urllib.parse import urlsplit

from core.convert import describe_errors, make_config_converter
from core.errors import ConfigError
from core.loopback import is_loopback
from core.notify.base import GatewayContext

T = TypeVar("T")


def read_options(cls: type[T], context: GatewayContext, gateway: str) -> T:
    """``context.options`` as a ``cls``; unknown keys and wrong types are a ConfigError naming the key."""
    try:
        return make_config_converter().structure(dict(context.options), cls)
    except Exception as exc:
        lines = [line.replace("$", f"[{context.channel}] options", 1) for line in describe_errors(exc)]
        raise ConfigError(f"短信/邮件网关 {gateway} 的设置有误：" + "；".join(lines),
                          f"the settings of the {gateway} gateway are wrong: " + "; ".join(lines),
                          field=context.field) from None


def required_secret(context: GatewayContext, name: str, gateway: str) -> str:
    value = context.secret(name)
    if not value:
        env = f"EPORTCARD_{context.channel.upper()}_{name.upper()}"
        raise ConfigError(
            f"网关 {gateway} 缺少密钥 {name}：请设置环境变量 {env}、systemd 凭据 {context.channel}_{name}，"
            f"或在 [{context.channel}] options 中设置 {name}_file（见 docs/deployment.md）",
            f"the {gateway} gateway needs its {name}: set the environment variable {env}, the systemd "
            f"credential {context.channel}_{name}, or {name}_file in [{context.channel}] options "
            "(see docs/deployment.md)", field=f"{context.field}.{name}_file")
    return value


def readable_file(path: str, context: GatewayContext, key: str, gateway: str) -> None:
    """A file the gateway reads when it sends (``ca_file``) must be there now, not at the first message."""
    if path and not os.access(path, os.R_OK):
        raise ConfigError(f"网关 {gateway} 的 [{context.channel}] options.{key} 文件 {path} 不存在或不可读",
                          f"the {gateway} gateway's [{context.channel}] options.{key} {path} does not exist or "
                          "cannot be read", field=f"{context.field}.{key}")


def refuse_plain_http(url_or_host: str, scheme: str, context: GatewayContext, key: str, gateway: str) -> None:
    """Plain HTTP carries the secrets and the messages in the clear: only to this machine (a local stand-in)."""
    host = urlsplit(url_or_host).netloc if "://" in url_or_host else url_or_host
    if scheme != "https" and not is_loopback(host):
        raise ConfigError(f"网关 {gateway} 只能用 HTTPS 连接 {host}（HTTP 仅限本机 127.0.0.1）",
                          f"the {gateway} gateway must reach {host} over HTTPS (plain HTTP only to this machine, "
                          "127.0.0.1)", field=f"{context.field}.{key}")


__all__ = ["read_options", "readable_file", "refuse_plain_http", "required_secret"]
