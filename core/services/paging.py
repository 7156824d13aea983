"""Page cursors: where the next page of a list starts, as an opaque string for a URL (``?after=``).

A cursor is the last row's place in the queue order (due date, creation time, id), so the next page is
a range read of the index from there, as fast at the millionth row as at the first, and rows added or
removed meanwhile shift nothing. It carries no permission: every filter and the caller's scope still
apply to the page it starts, so an edited cursor can only start a page elsewhere in what the caller
may see anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, datetime

from core.errors import InvalidInput

MAX_CURSOR = 512  # characters: a key is well under 200


def _bad() -> InvalidInput:
    return InvalidInput("翻页位置（after）无效，请从第一页重新开始。",
                        "The page cursor (after) is not valid; start again from the first page.", field="after")


def encode_cursor(key: tuple[date | None, datetime, str]) -> str:
    due, created_at, row_id = key
    text = json.dumps([due.isoformat() if due else None, created_at.isoformat(), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[date | None, datetime, str]:
    """The key ``cursor`` names; a clear bilingual refusal (field ``after``) for anything else."""
    if not cursor or len(cursor) > MAX_CURSOR:
        raise _bad()
    try:
        due, created_at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(created_at)
        key = (date.fromisoformat(due) if due is not None else None, when, row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise _bad() from None
    if when.tzinfo is None or not isinstance(row_id, str) or not row_id:
        raise _bad()
    return key


__all__ = ["decode_cursor", "encode_cursor"]
