"""The E-Port "client control" envelopes, byte-compatible with the public WebSocket protocol.

Request:  ``{"_method": "cus-sec_SpcSignDataAsPEM", "_id": 1, "args": {...}}``
Reply:    ``{"_id": 1, "_method": "...", "_status": "00", "_args": {"Result": true, "Data": [...], "Error": []}}``

A failure is still ``_status "00"`` with ``Result: false`` and an ``Error`` list: existing clients
look only at ``_args.Result`` and route replies by ``_method``. On connect the server first pushes
an ``open`` message. Pure: no I/O here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from core.errors import EportError, InvalidInput

STATUS_OK = "00"
OPEN = "open"
CARD_EVENT = "cardEvent"
PUSH_ID = 0  # pushes (open, card events) carry _id 0, as the real control's open message does
ERROR_CODE_PREFIX = "Err:"


class ProtocolError(InvalidInput):
    """The message is not a client-control request."""

    code = "bad_request"


@frozen
class Request:
    method: str
    id: int | str  # echoed back as sent: some clients send 1, others "1"
    args: Mapping[str, Any]


def _bad(zh: str, en: str, field: str) -> ProtocolError:
    return ProtocolError(zh, en, field=field)


def parse_request(text: str | bytes) -> Request:
    """One request envelope; raises :class:`ProtocolError` with what was wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("请求须为UTF-8编码的JSON", "the request must be UTF-8 JSON", "$") from None
    try:
        raw = json.loads(text)
    except ValueError:
        raise _bad("请求不是合法的JSON（本控件不支持BLOCKTXT分块传输）",
                   "the request is not valid JSON (BLOCKTXT chunked transfer is not supported)", "$") from None
    if not isinstance(raw, dict):
        raise _bad("请求须为JSON对象", "the request must be a JSON object", "$")
    method = raw.get("_method")
    if not isinstance(method, str) or not method:
        raise _bad("请求缺少方法名 _method", "the request has no _method", "_method")
    request_id = raw.get("_id", PUSH_ID)
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        raise _bad("请求编号 _id 须为整数或字符串", "_id must be an integer or a string", "_id")
    args = raw.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise _bad("参数 args 须为JSON对象", "args must be a JSON object", "args")
    return Request(method=method, id=request_id, args=args)


# A frame that is not JSON (cut short, a stray byte, the first block of a BLOCKTXT transfer) still
# names its method near the start: the official library writes ``{"_method": ..., "_id": ..., "args"``
# in that order (JSON.stringify of {_method, _id, args}, docs/agent.md).
_METHOD_IN_TEXT = re.compile(r'"_method"\s*:\s*"([^"\\]{1,200})"')
_ID_IN_TEXT = re.compile(r'"_id"\s*:\s*(-?\d{1,18}|"[^"\\]{0,200}")')


def request_id_of(text: str | bytes) -> tuple[int | str, str]:
    """Best effort ``(_id, _method)`` of a message that failed to parse, so the reply still routes:
    the official library hands a reply to the callback of its ``_method`` and drops any other."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        raw = json.loads(text)
    except ValueError:
        return _ids_in_text(text)
    if not isinstance(raw, dict):
        return PUSH_ID, ""
    rid, method = raw.get("_id", PUSH_ID), raw.get("_method", "")
    rid = rid if isinstance(rid, int | str) and not isinstance(rid, bool) else PUSH_ID
    return rid, method if isinstance(method, str) else ""


def _ids_in_text(text: str) -> tuple[int | str, str]:
    method = _METHOD_IN_TEXT.search(text)
    found = _ID_IN_TEXT.search(text)
    rid: int | str = PUSH_ID
    if found:
        value = found.group(1)
        rid = value[1:-1] if value.startswith('"') else int(value)
    return rid, method.group(1) if method else ""


def envelope(request_id: int | str, method: str, result: bool, data: Sequence[Any] = (),
             errors: Sequence[str] = ()) -> dict[str, Any]:
    """The reply envelope, keys in the order the real control sends them."""
    return {"_id": request_id, "_method": method, "_status": STATUS_OK,
            "_args": {"Result": result, "Data": list(data), "Error": list(errors)}}


def success(request: Request, data: Sequence[Any] = ()) -> dict[str, Any]:
    return envelope(request.id, request.method, True, data)


@frozen
class OfficialCode:
    """A code of the official control that integrators test for."""

    code: str  # Error[1] is "Err:" + code
    number: str = ""  # the number pages search the Error list for ("51590")
    wording: str = ""  # the official message, where a public source gives it


# eportcard's error code -> the official one (sources in docs/agent.md, "Error codes"). Failures
# with no public official code keep eportcard's own code.
OFFICIAL_CODES: dict[str, OfficialCode] = {
    "no_reader": OfficialCode("Custom50200", "50200", "[读卡器底层库]打开读卡器失败:错误码=50200"),
    "card_removed": OfficialCode("Custom51590", "51590"),
    "card_error": OfficialCode("Custom50070", "50070", "[读卡器底层库]复位读卡器失败:错误码=50070"),
    "invalid": OfficialCode("Base50000"),
}


def error_code(error: EportError) -> str:
    """``Err:<code>``: the official code where one exists, else eportcard's own (docs/agent.md)."""
    official = OFFICIAL_CODES.get(error.code)
    return ERROR_CODE_PREFIX + (official.code if official else error.code)


def error_list(error: EportError) -> list[str]:
    """``["中文 / English", "Err:<code>"]``: message first, code second, like the real control. Where the
    official code has a number the message carries it too (pages search ``Error`` for "51590"),
    after the official wording where there is one."""
    message = f"{error.zh} / {error.en}"
    official = OFFICIAL_CODES.get(error.code)
    if official and official.number:
        message = (f"{official.wording or '错误码=' + official.number}；{error.zh} / {error.en} "
                   f"(error {official.number})")
    return [message, error_code(error)]


def failure(request_id: int | str, method: str, error: EportError,
            data: Sequence[Any] = ()) -> dict[str, Any]:
    return envelope(request_id, method, False, data, error_list(error))


def open_push(version: str) -> dict[str, Any]:
    """The first message on every connection; clients wait for it before sending."""
    return envelope(PUSH_ID, OPEN, True, [f"eportcard agent {version}"])


CARD_EVENTS = ("inserted", "unreadable", "removed")


def card_event(event: str, reader: str, **details: Any) -> dict[str, Any]:
    """A card was ``inserted`` (and read: atr, serial, cardId), is in but ``unreadable`` so far (atr,
    error) or was ``removed``. docs/agent.md says what each carries."""
    if event not in CARD_EVENTS:
        raise ValueError(f"unknown card event {event!r}")
    return envelope(PUSH_ID, CARD_EVENT, True, [{"event": event, "reader": reader, **details}])


def encode(message: Mapping[str, Any]) -> str:
    """Compact JSON with Chinese kept as is (the real control sends UTF-8 text frames)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))
