"""The domain model: frozen attrs values and aggregates."""

from core.model.application import (
    Application,
    AttachmentRef,
    CardRequest,
    MailAddress,
    PickupChoice,
    Transition,
)
from core.model.attachment import Attachment
from core.model.card import Card, CardEvent, CertificateRef
from core.model.enums import (
    AppState,
    Business,
    CardKind,
    CardState,
    Delivery,
    IdType,
    Medium,
    Pickup,
    RejectionReason,
)
from core.model.parties import Address, Enterprise, Person

__all__ = [
    "Address", "AppState", "Application", "Attachment", "AttachmentRef", "Business", "Card", "CardEvent",
    "CardKind", "CardRequest", "CardState", "CertificateRef", "Delivery", "Enterprise", "IdType",
    "MailAddress", "Medium", "Person", "Pickup", "PickupChoice", "RejectionReason", "Transition",
]
