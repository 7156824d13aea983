"""The application aggregate (申请单) and its parts. Changed only by core.lifecycle."""

from __future__ import annotations

from datetime import date, datetime

from attrs import frozen

from core.model.enums import AppState, Business, CardKind, Delivery, Medium, Pickup, RejectionReason
from core.model.parties import Address, Enterprise, Person


@frozen
class CardRequest:
    """One card the application asks for (or acts on): an item of the application."""

    kind: CardKind
    holder: Person
    medium: Medium = Medium.IC_CARD
    device_no: str = ""  # 设备编号 of an existing medium (13 digits)
    declarant_no: str = ""  # 报关人员备案证明号, required for declarant cards
    card_id: str = ""  # the existing card this item acts on (change, reissue, renew ...)
    confirmed: bool = True  # 已确认; a 暂存 operator row cannot be submitted
    made: bool = False  # the card for this item has been personalised


@frozen
class MailAddress:
    recipient: str
    phone: str
    address: str


@frozen
class PickupChoice:
    method: Pickup = Pickup.COUNTER
    outlet: str = ""  # outlet code the enterprise collects from (counter)
    mail_to: MailAddress | None = None

    def missing_mail_details(self) -> tuple[str, ...]:
        """Which of ``address``, ``recipient``, ``phone`` a mail pickup still lacks (all three without an
        address): the one completeness check every region that mails cards uses."""
        mail = self.mail_to or MailAddress("", "", "")
        return tuple(name for name in ("address", "recipient", "phone") if not getattr(mail, name).strip())


@frozen
class Transition:
    """One entry of the application history: who did what, when and why."""

    action: str
    from_state: AppState
    to_state: AppState
    actor: str
    at: datetime
    reasons: tuple[RejectionReason, ...] = ()
    note: str = ""


@frozen
class AttachmentRef:
    attachment_id: str
    material: str  # material code the file is for
    filename: str


@frozen
class Application:
    id: str
    enterprise: Enterprise
    business: Business
    region: str  # code of the issuing centre's region: its plugin governs the application
    channel: str = "web"  # core.rules.ChannelKind the application was lodged through
    also: tuple[Business, ...] = ()  # further businesses in one request (Hangzhou multi-select)
    items: tuple[CardRequest, ...] = ()
    agent: Person | None = None  # 经办人; None until chosen
    pickup: PickupChoice = PickupChoice()
    remarks: str = ""
    attachments: tuple[AttachmentRef, ...] = ()
    making_centre: str = ""  # 制卡机构: chosen (an outlet code)
    issuing_centre: str = ""  # 发卡机构: derived from the making centre
    home_branch: str = ""  # 所属数据分中心: derived from the business address
    state: AppState = AppState.DRAFT
    acceptance_no: str = ""
    history: tuple[Transition, ...] = ()
    steps_done: tuple[str, ...] = ()  # region workflow steps completed
    delivery: Delivery | None = None
    tracking_no: str = ""
    created_at: datetime | None = None
    submitted_at: datetime | None = None
    accepted_at: datetime | None = None
    due: date | None = None  # final milestone on the working-day calendar
    version: int = 0

    @property
    def operators(self) -> tuple[CardRequest, ...]:
        return tuple(i for i in self.items if i.kind is not CardKind.LEGAL)

    @property
    def legal_items(self) -> tuple[CardRequest, ...]:
        return tuple(i for i in self.items if i.kind is CardKind.LEGAL)

    @property
    def last_reasons(self) -> tuple[RejectionReason, ...]:
        for t in reversed(self.history):
            if t.to_state is AppState.REJECTED:
                return t.reasons
        return ()

    @property
    def last_rejection_note(self) -> str:
        for t in reversed(self.history):
            if t.to_state is AppState.REJECTED:
                return t.note
        return ""


__all__ = ["Address", "Application", "AttachmentRef", "CardRequest", "MailAddress", "PickupChoice",
           "Transition"]
