"""Logs an operator can use: one line per event (text or JSON), each with its request id, none with a secret.

``eportcard serve`` calls :func:`configure_logging` once. Every line carries the time (ISO 8601 with
the zone), the level, the logger and the id of the request it belongs to (``-`` outside a request);
:mod:`core.web.access` adds one access line per request. Secrets never reach the output: whatever a
line or a traceback holds, the formatter replaces with ``***``

* the deployment's own secrets (session key, database password, CA passphrase, the notification
  gateways' secrets: given at start);
* the current request's: its cookies, ``X-CSRF-Token`` and ``Authorization`` headers, the session's
  id and CSRF token, and every form or JSON field named like a password, PIN, code or token;
* a password written in any URL (``scheme://user:password@host``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import IO, Any
from urllib.parse import parse_qsl

from starlette.types import Message, Scope

# The app's own loggers, and the server's: INFO and up. Libraries stay at WARNING.
OWN_LOGGERS = ("core", "plugins", "uvicorn")
SCOPE_KEY = "eportcard.request"  # the scope entry holding the request's RequestInfo
REDACTED = "***"
MIN_SECRET = 4  # shorter values (a "1" in a form) would blank out half of every line
SENSITIVE_FIELD = re.compile(r"pass|pwd|pin|code|token|secret|csrf|otp|key", re.IGNORECASE)
BODY_TYPES = ("application/x-www-form-urlencoded", "application/json")
MAX_CAPTURE = 64 * 1024  # bodies read for their secret fields (uploads are larger and multipart)
URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/?#@\s]*:)[^@/\s]+(@)")
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms", "client")


class RequestInfo:
    """What the logs need from the request in progress: its id, and where its secrets are."""

    def __init__(self, request_id: str, scope: Scope) -> None:
        self.id = request_id
        self.scope = scope  # the live scope: the session middleware puts the session in it later
        self._body = bytearray()
        self._capture = _capturable(scope)

    def capture(self, message: Message) -> None:
        """Keep a small form or JSON body as it is read (only to find its secret fields)."""
        if self._capture and message.get("type") == "http.request":
            self._body += message.get("body", b"")
            if len(self._body) > MAX_CAPTURE:
                self._capture, self._body = False, bytearray()

    def secrets(self) -> list[str]:
        found = [value for name, value in self.scope.get("headers", ())
                 if name in (b"cookie", b"x-csrf-token", b"authorization")]
        texts = [v.decode("latin-1") for v in found]
        for header in texts[:]:  # each cookie's value on its own too
            texts += [part.partition("=")[2] for part in header.split(";")]
        session = self.scope.get("session")
        if isinstance(session, dict):
            texts += [str(session.get(key, "")) for key in ("sid", "csrf_token")]
        texts += _body_secrets(bytes(self._body), self.scope)
        return texts


REQUEST: ContextVar[RequestInfo | None] = ContextVar("eportcard_request", default=None)


def _capturable(scope: Scope) -> bool:
    headers = dict(scope.get("headers", ()))
    kind = headers.get(b"content-type", b"").decode("latin-1")
    return kind.startswith(BODY_TYPES)


def _body_secrets(body: bytes, scope: Scope) -> list[str]:
    if not body:
        return []
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith(("{", "[")):
        try:
            return list(_json_secrets(json.loads(text)))
        except ValueError:
            return []
    return [value for name, value in parse_qsl(text, keep_blank_values=False) if SENSITIVE_FIELD.search(name)]


def _json_secrets(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 8:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, item in items:
        if isinstance(item, dict | list):
            yield from _json_secrets(item, depth + 1)
        elif isinstance(name, str) and SENSITIVE_FIELD.search(name) and item is not None:
            yield str(item)


@contextmanager
def request_context(scope: Scope) -> Iterator[RequestInfo | None]:
    """Log as part of the request ``scope`` belongs to (the error handler runs outside its middleware)."""
    info = scope.get(SCOPE_KEY)
    token = REQUEST.set(info if isinstance(info, RequestInfo) else None)
    try:
        yield REQUEST.get()
    finally:
        REQUEST.reset(token)


class Scrubber:
    """Replaces the deployment's and the current request's secrets in a finished log line."""

    def __init__(self, fixed: Iterable[str | None] = ()) -> None:
        self.fixed = sorted({s for s in fixed if s and len(s) >= MIN_SECRET}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        info = REQUEST.get()
        extra = info.secrets() if info is not None else []
        for secret in sorted({s for s in extra if len(s) >= MIN_SECRET}, key=len, reverse=True) + self.fixed:
            text = text.replace(secret, REDACTED)
        return URL_PASSWORD.sub(rf"\1{REDACTED}\2", text)


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request it was logged in (``-`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            info = REQUEST.get()
            record.request_id = info.id if info is not None else "-"
        return True


class AlreadyLogged(logging.Filter):
    """Drops the server's own "Exception in ASGI application" traceback of an error the app's error
    handler logged already (with its request id): one traceback per failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not getattr(exc, LOGGED_MARK, False)


LOGGED_MARK = "_eportcard_logged"


def mark_logged(exc: BaseException) -> None:
    setattr(exc, LOGGED_MARK, True)


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """``2026-03-02T10:15:04.120+08:00 INFO core.web.access [3f2a…] GET /portal 200 12.4ms``"""

    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname} {record.name} [{getattr(record, 'request_id', '-')}] " \
               f"{record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return self.scrub(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``request_id``, ``message``, the access
    fields (``method``, ``path``, ``route``, ``status``, ``duration_ms``, ``client``) when present and
    ``exception`` (the traceback) when there is one."""

    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": _time(record), "level": record.levelname, "logger": record.name,
                                 "request_id": getattr(record, "request_id", "-"), "message": record.getMessage()}
        entry |= {name: getattr(record, name) for name in ACCESS_FIELDS if hasattr(record, name)}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Scrubbed before encoding: JSON would escape a quote or backslash inside a secret.
        return json.dumps({k: self.scrub(v) if isinstance(v, str) else v for k, v in entry.items()},
                          ensure_ascii=False, default=str)


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (as logging's last resort does)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure_logging(log_format: str = "text", *, secrets: Iterable[str | None] = (),
                      stream: IO[str] | None = None) -> logging.Handler:
    """Send every log line to ``stream`` (default stderr: the journal under systemd) in ``log_format``;
    the app's loggers at INFO. Replaces the handler an earlier call installed."""
    scrub = Scrubber(secrets)
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.setFormatter(JsonFormatter(scrub) if log_format == "json" else TextFormatter(scrub))
    handler.addFilter(RequestIdFilter())
    handler.set_name("eportcard")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "eportcard"]:
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    server = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, AlreadyLogged) for f in server.filters):
        server.addFilter(AlreadyLogged())
    return handler


@contextmanager
def configured_logging(log_format: str = "text", *, secrets: Iterable[str | None] = (),
                       stream: IO[str] | None = None) -> Iterator[logging.Handler]:
    """:func:`configure_logging` while the block runs (the server), then the logging as it was."""
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *OWN_LOGGERS)}
    handler = configure_logging(log_format, secrets=secrets, stream=stream)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


__all__ = ["REQUEST", "SCOPE_KEY", "AlreadyLogged", "JsonFormatter", "RequestIdFilter", "RequestInfo",
           "Scrubber", "TextFormatter", "configure_logging", "configured_logging", "mark_logged",
           "request_context"]
