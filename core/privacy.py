"""Masking personal data before it leaves the aggregate (audit payloads, logs, staff lists).

Audit rows are append-only and kept for years, so nothing identifying goes into them in clear.
PINs are never stored or logged anywhere: keys that look like a PIN are redacted outright.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "*"
REDACTED = "[redacted]"

# Keys whose values are identity numbers or phone numbers (masked) or secrets (redacted).
_ID_KEYS = frozenset({"id_number", "id_no", "idno", "id_card", "resident_id", "passport_no"})
_PHONE_KEYS = frozenset({"phone", "mobile", "tel", "telephone"})
_SECRET_KEYS = frozenset({"pin", "old_pin", "new_pin", "oldpin", "newpin", "passwd", "password",
                          "puk", "so_pin", "secret"})
# An 18-character resident ID (last character may be X) standing anywhere in free text.
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![0-9A-Za-z])")


def mask_id(number: str) -> str:
    """Mask an identity number, keeping just enough to recognise it.

    ``440902199001011234`` -> ``440902********1234`` (region code and last four kept);
    shorter documents (passports, permits) keep two characters at each end.
    """
    n = len(number)
    if n >= 15:
        keep_head, keep_tail = 6, 4
    elif n >= 8:
        keep_head, keep_tail = 2, 2
    elif n >= 4:
        keep_head, keep_tail = 0, 1
    else:
        return MASK * n
    return number[:keep_head] + MASK * (n - keep_head - keep_tail) + number[n - keep_tail:]


def mask_phone(phone: str) -> str:
    """``13812345678`` -> ``138****5678``; other lengths keep only the last four."""
    digits = phone.strip()
    if len(digits) == 11:
        return digits[:3] + MASK * 4 + digits[7:]
    if len(digits) > 4:
        return MASK * (len(digits) - 4) + digits[-4:]
    return MASK * len(digits)


def mask_ids_in_text(text: str) -> str:
    """Mask every resident ID number written inside free text (remarks, notes)."""
    return _RESIDENT_ID_IN_TEXT.sub(lambda m: m.group(1) + MASK * 8 + m.group(3)[-4:], text)


def scrub(value: Any) -> Any:
    """A copy of a JSON-like value with identity numbers and phones masked and secrets redacted."""
    if isinstance(value, Mapping):
        return {str(k): _scrub_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return mask_ids_in_text(value)
    return value


def _scrub_item(key: str, value: Any) -> Any:
    lowered = key.lower()
    if lowered in _SECRET_KEYS:
        return REDACTED
    if isinstance(value, str) and value:
        if lowered in _ID_KEYS:
            return mask_id(value)
        if lowered in _PHONE_KEYS:
            return mask_phone(value)
    return scrub(value)


__all__ = ["MASK", "REDACTED", "mask_id", "mask_ids_in_text", "mask_phone", "scrub"]
