"""Core's trylast answers, so every firstresult hook always answers.

Each default carries ``source=None``: the guide output then says that the region's
published guide is silent and the core default applies.
"""

from __future__ import annotations

from core import hookimpl
from core.model.enums import Business
from core.notices import DEFAULT_WORDING, NoticeKind, Wording
from core.rules import (
    BusinessOffer,
    CardPolicy,
    CourierPolicy,
    Inbound,
    MediumPolicy,
    Outbound,
    Text,
    Timeframe,
    UploadPolicy,
)

DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024 * 1024
DEFAULT_UPLOAD = UploadPolicy(
    media_types=("image/jpeg", "image/png", "application/pdf"), max_bytes=DEFAULT_MAX_UPLOAD_BYTES
)
DEFAULT_COURIER = CourierPolicy(
    inbound=Inbound(accepted=False),
    outbound=Outbound(mail=False, counter_pickup=Text("凭回执及领卡人身份证原件到窗口领取",
                                                      "Collect at the counter with the receipt and ID")),
)


@hookimpl(trylast=True)
def businesses(region: str) -> list[BusinessOffer]:
    return []


@hookimpl(trylast=True)
def courier_policy(region: str, business: Business) -> CourierPolicy:
    return DEFAULT_COURIER


@hookimpl(trylast=True)
def timeframe(region: str, business: Business) -> Timeframe:
    return Timeframe(deadlines=())


@hookimpl(trylast=True)
def acceptance_number(region: str, application, seq: int) -> str:
    return f"{region[:3].upper()}{seq:07d}"


@hookimpl(trylast=True)
def medium_policy(region: str, business: Business, enterprise) -> MediumPolicy:
    return MediumPolicy(free=False)


@hookimpl(trylast=True)
def upload_policy(region: str, business: Business) -> UploadPolicy:
    return DEFAULT_UPLOAD


@hookimpl(trylast=True)
def card_policy(region: str) -> CardPolicy:
    return CardPolicy()


@hookimpl(trylast=True)
def notice_wording(region: str, kind: NoticeKind) -> Wording:
    return DEFAULT_WORDING[NoticeKind(kind)]
