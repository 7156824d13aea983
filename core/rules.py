"""The frozen rule types region plugins return from their hooks.

Every rule carries ``source``: the seed file (and passage) it was encoded from.
``source=None`` marks a core default: the region's guide says nothing about it, and
the guide output says so instead of presenting the default as the region's rule.
"""

from __future__ import annotations

from enum import StrEnum

from attrs import field, frozen

from core.model.enums import AppState, Business, CardKind


@frozen
class Text:
    """A bilingual text: Chinese first, English alongside."""

    zh: str
    en: str = ""

    def get(self, lang: str) -> str:
        return self.en if lang == "en" and self.en else self.zh


class ChannelKind(StrEnum):
    WEB = "web"                  # 网上办理 (portal)
    MOBILE_APP = "mobile_app"    # 掌上办理 (app)
    ON_SITE = "on_site"          # 现场办理
    EMAIL = "email"              # 邮件申请
    POST = "post"                # 邮寄材料 (paper by post)
    SELF_SERVICE = "self_service"  # 法人卡自助 (online with the legal card)


@frozen
class EmailRule:
    """How a process run by e-mail must be written (Xi'an)."""

    to: str
    subject: Text  # the required subject format
    body: tuple[Text, ...] = ()  # what the body must contain
    attachments: tuple[Text, ...] = ()
    reply: Text | None = None  # what the centre sends back


@frozen
class Channel:
    kind: ChannelKind
    name: Text
    url: str = ""
    steps: tuple[Text, ...] = ()  # what the enterprise does, in order
    note: Text | None = None
    email: EmailRule | None = None
    requires_legal_card: bool = False
    source: str | None = None


@frozen
class BusinessOffer:
    """A business the region offers and the channels it runs through."""

    business: Business
    name: Text  # the region's own name for it
    channels: tuple[Channel, ...] = field()
    note: Text | None = None
    self_service_only: bool = False
    source: str | None = None


class Condition(StrEnum):
    """When a material is needed. Core evaluates these against an application."""

    ALWAYS = "always"
    AGENT_NOT_LEGAL_REP = "agent_not_legal_rep"  # e.g. 授权委托书 unless the agent is the legal rep
    HAS_DECLARANT = "has_declarant"              # 报关人员备案证明号
    HAS_OPERATOR = "has_operator"
    MAIL_PICKUP = "mail_pickup"
    COUNTER_PICKUP = "counter_pickup"
    MEDIUM_PURCHASED = "medium_purchased"        # the enterprise had to buy the medium
    DATA_MISMATCH = "data_mismatch"              # only when automatic checks fail (Shenzhen licence photo)
    ORIGINAL_UNAVAILABLE = "original_unavailable"  # a stamped copy replaces an original
    AGENT_NOT_HOLDER = "agent_not_holder"        # agent is neither legal rep nor an operator of it (Changchun)
    HAS_LEGAL_CARD = "has_legal_card"        # the application acts on the legal card (Xi'an, Hangzhou)
    HAS_OPERATOR_CARD = "has_operator_card"  # an operator card proper, not a declarant card (Xi'an)


class MaterialForm(StrEnum):
    ORIGINAL = "original"        # 原件
    COPY = "copy"                # 复印件
    SCAN = "scan"                # 扫描件 / 照片 (upload)
    SCREENSHOT = "screenshot"    # 截图
    CARD = "card"                # the card itself (法人卡 / 操作员卡)
    FORM = "form"                # a template form filled in
    NUMBER = "number"            # a number to enter (报关人员备案证明号)


@frozen
class Material:
    code: str  # stable within the region, e.g. "business_licence"
    name: Text
    form: MaterialForm
    stamped: bool = False  # 加盖单位公章
    annotation: Text | None = None  # handwritten 签注 required on it
    template: str = ""  # form number as in the source, e.g. "附件1"
    per_card: bool = False  # one per card / holder
    copies: int = 1  # e.g. 一式两份
    condition: Condition = Condition.ALWAYS
    channels: tuple[ChannelKind, ...] = ()  # only when lodged through one of these channels; () = any
    note: Text | None = None
    source: str | None = None

    def applies_to(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


@frozen
class Address:
    """A place to send things to: address, recipient, phone."""

    address: Text
    recipient: Text | None = None  # the name to write on the parcel, e.g. 服务大厅 (service hall)
    phone: str = ""


class Payer(StrEnum):
    """Who pays the postage of what the enterprise sends (labels: core.labels)."""

    ENTERPRISE = "enterprise"  # 寄付: the sending enterprise
    CENTRE = "centre"          # 到付: the branch centre receiving it


@frozen
class Inbound:
    """What the enterprise sends to the centre, and how."""

    accepted: bool  # can materials / cards be sent by post at all
    what: Text | None = None
    carriers: tuple[Text, ...] = ()  # e.g. 邮政EMS; empty = any
    payer: Payer | None = None  # None: the source does not say
    to: Address | None = None
    note: Text | None = None


class Milestone(StrEnum):
    """Events a delay or deadline counts from."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"    # 受理
    APPROVED = "approved"    # 审核通过
    PRODUCED = "produced"    # 制卡完成
    RECEIVED = "received"    # materials or card received by the centre
    PREVIOUS = "previous"    # the previous milestone of the same timeframe
    STEP = "step"            # a region step is done (``Deadline.step`` names it): its date cannot be foreseen


@frozen
class Outbound:
    """How cards come back."""

    mail: bool  # can cards be mailed back
    cod: bool = False  # 到付
    dispatch_after_days: int | None = None  # working days before dispatch
    counted_from: Milestone = Milestone.APPROVED
    carrier: Text | None = None  # the courier the centre sends cards by, e.g. EMS
    liability: Text | None = None  # who pays when delivery fails
    fallback: Text | None = None  # e.g. collect at counter one
    check_on_receipt: Text | None = None
    counter_pickup: Text | None = None  # what to bring to collect at a counter
    note: Text | None = None  # e.g. Hangzhou's "do not refuse the COD parcel"


@frozen
class CourierPolicy:
    inbound: Inbound
    outbound: Outbound
    source: str | None = None


class OutletKind(StrEnum):
    CENTRE = "centre"        # 制卡中心 / 分中心窗口
    BANK_AGENT = "bank_agent"  # 代理点 (e.g. CCB)


@frozen
class Outlet:
    code: str
    name: Text
    kind: OutletKind
    address: Text
    phone: str = ""
    hours: Text | None = None
    province: str = ""
    city: str = ""
    district: str = ""
    mail_possible: bool = False  # can cards made here be mailed
    appointment: Text | None = None  # None = no appointment stated
    final_choice: bool = False  # once chosen it cannot be changed
    making_centre: bool = True  # can be chosen as 制卡机构
    source: str | None = None


@frozen
class Deadline:
    """One milestone of a timeframe: due ``days`` working days after ``counted_from``."""

    code: str
    name: Text
    days: int
    counted_from: Milestone
    min_days: int | None = None  # for ranges such as 1-2 working days
    step: str = ""  # with ``Milestone.STEP``: the code of the region step it counts from
    # The source says the event happens *after* the period ("三个工作日后"), not within it: the date is
    # the earliest day it can happen, not a latest one.
    not_before: bool = False

    @property
    def event(self) -> str:
        """The key of the event it counts from: the milestone, or ``step:<code>`` for a region step
        (the history action that records the step as done)."""
        return f"step:{self.step}" if self.counted_from == Milestone.STEP else str(self.counted_from)


@frozen
class Timeframe:
    deadlines: tuple[Deadline, ...] = field()
    note: Text | None = None
    source: str | None = None

    @property
    def total(self) -> Deadline | None:
        return self.deadlines[-1] if self.deadlines else None


class StepActor(StrEnum):
    ENTERPRISE = "enterprise"
    STAFF = "staff"
    EXTERNAL = "external"  # another authority, e.g. the AIC (工商局)


@frozen
class Step:
    """A region step: blocks leaving ``after`` until it is done."""

    code: str
    name: Text
    after: AppState
    actor: StepActor
    description: Text | None = None
    source: str | None = None
    # Only applications lodged through these channels take the step (empty = all), e.g.
    # Xiamen's paper arriving by EMS does not apply to paperless (web) enrolment.
    channels: tuple[ChannelKind, ...] = ()

    def applies_to(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


@frozen
class Problem:
    """One thing wrong with an application, naming the field and the requirement it breaks."""

    field: str
    zh: str
    en: str
    source: str | None = None
    rule: str = ""  # the code of the region's Requirement (see Requirement.problem)


@frozen
class Requirement:
    """A rule a region's ``validate_application`` enforces, declared so the guide states it (in both
    languages) before an applicant meets it as a refusal. A plugin makes its problems only through
    :meth:`problem`, so every refusal names a requirement its guide shows."""

    code: str
    text: Text  # the requirement as the guide states it
    businesses: tuple[Business, ...] = ()  # () = every business the region offers
    source: str | None = None

    def applies_to(self, business: Business) -> bool:
        return not self.businesses or business in self.businesses

    def problem(self, field: str, zh: str, en: str) -> Problem:
        return Problem(field=field, zh=zh, en=en, source=self.source, rule=self.code)


class ReadingKind(StrEnum):
    """How an encoded rule relates to the words of its source (labels: core.labels)."""

    INTERPRETATION = "interpretation"  # the passage is unclear or silent on a detail: this is how it is read
    AS_WRITTEN = "as_written"          # kept exactly as the source writes it, though it may be a slip


@frozen
class Reading:
    """A note the guide prints beside a topic: how the encoding reads its source. ``passage`` is the
    source's own words (tests find it in the seed document)."""

    topic: str  # the guide section it belongs to (core.guide.build.SECTIONS)
    text: Text
    passage: str
    kind: ReadingKind = ReadingKind.INTERPRETATION
    businesses: tuple[Business, ...] = ()  # () = every business
    source: str | None = None

    def applies_to(self, business: Business) -> bool:
        return not self.businesses or business in self.businesses


@frozen
class Supplier:
    name: Text
    how: Text | None = None  # how to buy
    url: str = ""


@frozen
class MediumPolicy:
    free: bool
    # When only some enterprises provide their own medium, who they are, in the source's words
    # (e.g. Changchun: 不满足免费配发条件的用户); None: ``free`` holds for everyone.
    condition: Text | None = None
    suppliers: tuple[Supplier, ...] = ()
    proof: Text | None = None  # how proof of purchase is supplied
    note: Text | None = None
    source: str | None = None


@frozen
class FormField:
    key: str  # a key of the pre-fill context (see core.forms)
    label: Text


@frozen
class Form:
    """A printable form the region requires, rendered pre-filled from an application."""

    code: str  # "附件1"
    title: Text
    fields: tuple[FormField, ...] = ()
    body: Text | None = None  # fixed text such as a 承诺书
    per_card_kind: CardKind | None = None
    copies: int = 1
    source: str | None = None


@frozen
class UploadPolicy:
    media_types: tuple[str, ...] = field()  # e.g. ("image/jpeg", "application/pdf")
    max_bytes: int
    note: Text | None = None
    source: str | None = None


@frozen
class CardPolicy:
    pin_retry_limit: int = 3
    validity_years: int = 10
    renewal_window_days: int = 180  # legal-card self-service renewal: 0..N days before expiry
    initial_pin: str = "88888888"
    legal_rep_may_hold_operator: bool = False  # core rule; a region may state otherwise
    max_operators_first_application: int = 10
    stated: tuple[str, ...] = ()  # the fields the region's source states; the rest are core defaults
    note: Text | None = None
    source: str | None = None


@frozen
class SourceDocument:
    """A document a region's rules cite: ``file`` is what their ``source`` holds, ``title`` what a
    person reads (the document's own heading where it has one)."""

    file: str
    title: Text


@frozen
class Region:
    code: str
    name: Text  # e.g. 深圳 / Shenzhen
    centre: Text  # 中国电子口岸数据中心深圳分中心
    hotlines: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    website: str = ""
    hours: Text | None = None
    address: Text | None = None
    provinces: tuple[str, ...] = ()  # home-branch coverage
    cities: tuple[str, ...] = ()  # narrower coverage, if any
    acceptance_prefix: str = ""
    source: str | None = None
    hotline_hours: Text | None = None  # when the hotlines answer, if the guide says
    note: Text | None = None  # further contact points (e.g. a WeChat account)
    requirements: tuple[Requirement, ...] = ()  # what validate_application enforces, for the guide
    readings: tuple[Reading, ...] = ()  # interpretations and as-written notes the guide prints
    sources: tuple[SourceDocument, ...] = ()  # the documents its rules cite, with their titles

    def source_title(self, source: str) -> Text | None:
        """The title of the cited document ``source`` (None: the region gives it none)."""
        for document in self.sources:
            if document.file == source:
                return document.title
        return None

    def covers(self, province: str, city: str) -> bool:
        if self.cities:
            return city in self.cities
        return province in self.provinces

    def requirement(self, code: str) -> Requirement:
        """The declared requirement ``code`` (a plugin bug when it is not declared)."""
        for found in self.requirements:
            if found.code == code:
                return found
        raise KeyError(f"region {self.code} declares no requirement {code!r}")


__all__ = [
    "Address", "BusinessOffer", "CardPolicy", "Channel", "ChannelKind", "Condition", "CourierPolicy",
    "Deadline", "EmailRule", "Form", "FormField", "Inbound", "Material", "MaterialForm", "MediumPolicy",
    "Milestone", "Outbound", "Outlet", "OutletKind", "Payer", "Problem", "Reading", "ReadingKind", "Region",
    "Requirement", "SourceDocument", "Step", "StepActor", "Supplier", "Text", "Timeframe", "UploadPolicy",
]
