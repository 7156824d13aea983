"""Cards (电子口岸卡) and the certificate they carry. Changed only by core.cards."""

from __future__ import annotations

from datetime import datetime

from attrs import frozen

from core.model.enums import CardKind, CardState, Medium
from core.model.parties import Person


@frozen
class CertificateRef:
    """What the card record knows of its certificate; the PKI keeps the certificate itself."""

    serial: str  # lowercase hex: the E-Port "certificate number"
    not_before: datetime
    not_after: datetime
    on_hold: bool = False
    revoked: bool = False


@frozen
class CardEvent:
    action: str
    from_state: CardState
    to_state: CardState
    actor: str
    at: datetime
    note: str = ""


@frozen
class Card:
    id: str
    enterprise_uscc: str
    kind: CardKind
    holder: Person
    medium: Medium = Medium.IC_CARD
    state: CardState = CardState.BLANK
    device_no: str = ""
    card_no: str = ""  # chip serial read from the card
    certificate: CertificateRef | None = None
    pin_is_initial: bool = True  # the PIN is 88888888 and must be changed; the PIN itself is never kept
    replaced_by: str = ""
    application_id: str = ""
    history: tuple[CardEvent, ...] = ()
    version: int = 0
