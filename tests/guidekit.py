"""Finding codes where a person reads words (guides, pages): shared by the guide and the page tests."""

from __future__ import annotations

import re
from enum import StrEnum

from core.model import AppState, Business, CardKind, IdType, Medium, Pickup
from core.rules import (
    ChannelKind,
    Condition,
    MaterialForm,
    Milestone,
    OutletKind,
    Payer,
    ReadingKind,
    StepActor,
)

ENUMS: tuple[type[StrEnum], ...] = (Business, AppState, CardKind, ChannelKind, Condition, MaterialForm, Milestone,
                                    OutletKind, Payer, ReadingKind, StepActor, Medium, Pickup, IdType)
CODES = {member.value for enum in ENUMS for member in enum}
# What a person reads as an address, not as words: web addresses, e-mail addresses, file names.
ADDRESSES = re.compile(r"(https?://\S+|www\.[\w.\-/]+|[\w.\-]+@[\w.\-]+|[\w\-]+(\.[\w\-]+)+(/\S*)?)")


def raw_codes(text: str, lang: str) -> set[str]:
    """Codes standing where words belong: in Chinese any ASCII word that is a code; in English a snake_case
    code (plain English words like "enterprise" are words there)."""
    words = set(re.findall(r"[A-Za-z_]+", ADDRESSES.sub(" ", text)))
    found = words & CODES
    return found if lang == "zh" else {w for w in found if "_" in w}
