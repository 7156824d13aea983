"""E-mail over SMTP (``smtplib``): STARTTLS or implicit TLS, and authentication.

``[mail] gateway = "smtp"``, ``options``: ``host``, ``port`` (587), ``security`` (``starttls``: RFC 3207;
``ssl``: implicit TLS, port 465, RFC 8314 §3.3; ``none`` only to this machine), ``username``, the
secret ``password`` (``EPORTCARD_MAIL_PASSWORD``, credential ``mail_password`` or
``options.password_file``), ``sender`` (``电子口岸 <noreply@eport.example>``), ``ca_file``.

A message is MIME (RFC 2045): ``text/plain; charset="utf-8"`` in base64, both languages in one body
(``Content-Language: zh-CN, en``, RFC 3282); headers that are not ASCII, such as a Chinese subject, are
RFC 2047 encoded words (``email.policy.SMTP``). ``Message-ID`` is made from the idempotency key, so a
message sent again after a crash is the same message to the receiving side (RFC 5322 §3.6.4).
A 5xx answer is final (a dead letter); a 4xx answer, a dropped connection or a timeout is retried.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from attrs import frozen

from core.errors import ConfigError
from core.loopback import is_loopback
from core.notify.base import GatewayContext, Outgoing, SendError
from core.notify.options import read_options, readable_file, required_secret

NAME = "smtp"
SECURITY = ("starttls", "ssl", "none")


@frozen
class SmtpOptions:
    host: str
    sender: str
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_file: str = ""  # read by the secret reader
    ca_file: str = ""
    timeout_seconds: int = 20


def compose(message: Outgoing, sender: str, now: datetime | None = None) -> EmailMessage:
    """The MIME message for ``message`` (see the module docstring)."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["To"] = message.recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now or datetime.now(UTC))
    domain = mail["From"].addresses[0].domain or "localhost"
    mail["Message-ID"] = f"<{hashlib.sha256(message.key.encode()).hexdigest()[:32]}@{domain}>"
    mail["Content-Language"] = "zh-CN, en"
    mail.set_content(message.text, charset="utf-8", cte="base64")
    return mail


class SmtpMail:
    name = NAME
    channel = "mail"
    keeps_text = False

    def __init__(self, options: SmtpOptions, password: str | None) -> None:
        self.options = options
        self._password = password

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.options.ca_file or None)

    def _connect(self) -> smtplib.SMTP:
        o = self.options
        if o.security == "ssl":
            return smtplib.SMTP_SSL(o.host, o.port, timeout=o.timeout_seconds, context=self._tls())
        client = smtplib.SMTP(o.host, o.port, timeout=o.timeout_seconds)
        if o.security == "starttls":
            client.starttls(context=self._tls())  # refuses (SMTPNotSupportedError) a server without STARTTLS
        return client

    def send(self, message: Outgoing) -> str:
        mail = compose(message, self.options.sender)
        try:
            with self._connect() as client:
                if self.options.username:
                    client.login(self.options.username, self._password or "")
                client.send_message(mail, to_addrs=[message.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            raise SendError(f"recipient refused ({codes})", permanent=all(c >= 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            final = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
            raise SendError(f"the mail server answered {exc.smtp_code}", permanent=final) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused, dropped, timed out, TLS failed
            raise SendError(f"cannot reach the mail server ({type(exc).__name__})") from None
        return str(mail["Message-ID"])


def make(context: GatewayContext) -> SmtpMail:
    options = read_options(SmtpOptions, context, NAME)
    if options.security not in SECURITY:
        raise ConfigError(f"[mail] options.security 只能是 {'、'.join(SECURITY)}",
                          f"[mail] options.security must be one of {', '.join(SECURITY)}",
                          field=f"{context.field}.security")
    if options.security == "none" and not is_loopback(options.host):
        raise ConfigError("不加密的 SMTP 只能连接本机（security = \"none\" 仅限 127.0.0.1）",
                          "unencrypted SMTP only to this machine (security = \"none\" is for 127.0.0.1 only)",
                          field=f"{context.field}.security")
    try:
        Address(addr_spec=options.sender.rsplit("<", 1)[-1].rstrip(">").strip())
    except (ValueError, IndexError):
        raise ConfigError(f"[mail] options.sender 不是邮件地址：{options.sender}",
                          f"[mail] options.sender is not an e-mail address: {options.sender}",
                          field=f"{context.field}.sender") from None
    readable_file(options.ca_file, context, "ca_file", NAME)
    password = required_secret(context, "password", NAME) if options.username else None
    return SmtpMail(options, password)


__all__ = ["NAME", "SmtpMail", "SmtpOptions", "compose", "make"]
