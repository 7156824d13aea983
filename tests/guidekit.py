"""Finding codes where a person reads words (guides, pages): shared by the guide and the page tests."""

from __future__ import annotations

import re

from core.labels import ENUM_LABELS
from core.model import IdType, Medium, Pickup

# Every value of an enumeration a person reads (the labelled ones, and those a form shows).
CODES = {member.value for enum in (*ENUM_LABELS, Medium, Pickup, IdType) for member in enum}
# What a person reads as an address, not as words: web addresses, e-mail addresses, file names.
ADDRESSES = re.compile(r"(https?://\S+|www\.[\w.\-/]+|[\w.\-]+@[\w.\-]+|[\w\-]+(\.[\w\-]+)+(/\S*)?)")


def raw_codes(text: str, lang: str) -> set[str]:
    """Codes standing where words belong: in Chinese any ASCII word that is a code; in English a snake_case
    code (plain English words like "enterprise" are words there)."""
    words = set(re.findall(r"[A-Za-z_]+", ADDRESSES.sub(" ", text)))
    found = words & CODES
    return found if lang == "zh" else {w for w in found if "_" in w}
