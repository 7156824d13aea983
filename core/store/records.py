"""Values the store defines itself (the domain model has no place for them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from attrs import field, frozen

from core.model import AppState, Business, CardKind, Delivery, Transition

CertStatus = Literal["good", "hold", "revoked"]
CERT_STATUSES: tuple[str, ...] = ("good", "hold", "revoked")


@frozen
class CertificateRecord:
    """One issued certificate as the CA keeps it: the source of CRLs and OCSP answers."""

    serial: str  # lowercase hex, the E-Port "certificate number"
    card_id: str
    enterprise_uscc: str
    kind: CardKind
    subject: str
    not_before: datetime  # aware UTC
    not_after: datetime  # aware UTC
    status: CertStatus = "good"
    reason: str | None = None  # a CRL reason name (cryptography.x509.ReasonFlags value)
    revoked_at: datetime | None = None
    pem: str = ""


@frozen
class RevokedEntry:
    """A certificate on hold or revoked as a CRL lists it: only what an entry needs (no PEM, no subject)."""

    serial: str
    status: CertStatus
    reason: str | None
    revoked_at: datetime | None


@frozen
class PublishedCrl:
    """A CRL the CA published: served as it is until it is stale (``mark``: the certificate status
    counter it was built at)."""

    number: int
    this_update: datetime  # aware UTC
    next_update: datetime
    entries: int
    mark: int
    der: bytes = field(repr=False, eq=False, default=b"")


@frozen
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    payload: dict[str, Any] = field(eq=True, hash=False)
    prev_hash: str
    hash: str


@frozen
class AuditReport:
    """``ok``: nothing wrong and everything checked. ``problems``: evidence of tampering;
    ``unverified``: what could not be checked (no key, another key, an unusable checkpoint);
    ``warnings``: intact, but weaker than it should be (an unkeyed chain)."""

    ok: bool
    checked: int
    problems: list[str] = field(factory=list, hash=False)
    unverified: list[str] = field(factory=list, hash=False)
    warnings: list[str] = field(factory=list, hash=False)
    keyed_from: int | None = None  # the first row carrying the key's HMAC


@frozen
class Migration:
    """One schema revision this eportcard knows, and whether the database has it."""

    revision: str
    title: str  # the first line of the migration's docstring
    applied: bool


@frozen
class StateCount:
    """How many applications of a region are in a state, and how many of those are past their due date."""

    region: str
    state: str
    applications: int
    overdue: int


@frozen
class PersonLine:
    """A person as a list row shows them (the identity number is masked when shown, not here)."""

    name: str
    id_number: str


@frozen
class HolderLine:
    kind: CardKind
    name: str
    id_number: str


@frozen(cache_hash=True)  # hashed again and again as a memo key (the queue's row JSON)
class ApplicationSummary:
    """One list row of an application, read from the columns and the small ``summary`` JSON.

    Lists (staff queue, application lists) need only this; building whole aggregates from their
    JSON for every row of a page cost most of a list request.
    """

    id: str
    acceptance_no: str
    business: Business
    region: str
    state: AppState
    version: int
    due: date | None
    submitted_at: datetime | None
    enterprise_uscc: str
    enterprise_name: str
    agent: PersonLine | None
    holders: tuple[HolderLine, ...]
    delivery: Delivery | None = None  # where a completed application's cards are (None: not yet mailed)


@frozen
class ApplicationProgress:
    """What the public progress query shows: state, due date, delivery and history; nothing personal.

    Read from the columns and the history in the JSON, without building the whole aggregate.
    """

    acceptance_no: str
    enterprise_uscc: str
    business: Business
    region: str
    state: AppState
    due: date | None
    delivery: Delivery | None
    tracking_no: str
    history: tuple[Transition, ...]
