"""The card and its record written in two steps, and put right when a crash comes between them.

Personalisation and renewal record the new certificate ON HOLD before the card is written (with, for a
new card, its record in state ``blank``), and put both in force only once the card holds the certificate
and read it back: :func:`finish_personalisation`, :func:`finish_renewal`. A crash (the process killed, the
database gone, the card pulled out) leaves one of two things, both harmless (a certificate on hold is
valid for no one) and both found again:

* **the record written, the card not** — the card still holds what it held. A new card's ``blank``
  record is given up when that card is next read (or by the daily ``reconcile_cards`` job after a day:
  :func:`abandon_unfinished`); a renewal's certificate on hold is revoked by the daily
  ``expire_renewals`` job, as an unconfirmed renewal through the card agent is.
* **the card written, the record not** — the next read of the card finds it holding a certificate on
  hold that its record does not name, and finishes the work: the card made (its item marked made) or
  renewed. If the daily job gave the work up first (the certificate revoked), the read writes the
  record's certificate back onto the card (same key: a counter renewal keeps it), so card and record
  agree again.

Every repair is audited (``reconcile_personalize``, ``reconcile_renew``, ``reconcile_abandon``,
``reconcile_restore``), by whoever's read found it or ``system:jobs``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from attrs import frozen
from cryptography import x509

from core import cards as card_rules
from core import lifecycle
from core.errors import NotFound
from core.model import Application, AppState, Card, CardEvent, CardState, CertificateRef
from core.pki import revocation
from core.pki.ca import serial_hex

if TYPE_CHECKING:
    from core.services.context import Services
    from core.store.store import Transaction

FOUND_WRITTEN = "the card holds the certificate but the record was not written"
FOUND_NOT_WRITTEN = "the record was written but the card does not hold its certificate"
FOUND_GIVEN_UP = "the card holds a certificate whose unfinished work was given up"


def certificate_ref(cert: x509.Certificate) -> CertificateRef:
    return CertificateRef(serial=serial_hex(cert.serial_number), not_before=cert.not_valid_before_utc,
                          not_after=cert.not_valid_after_utc)


def card_summary(card: Card) -> dict[str, object]:
    """Audit payload: never a PIN, never a key."""
    last = card.history[-1] if card.history else None
    return {"state": card.state.value, "kind": card.kind.value, "uscc": card.enterprise_uscc,
            "card_no": card.card_no, "device_no": card.device_no,
            "certificate": card.certificate.serial if card.certificate else "",
            "pin_is_initial": card.pin_is_initial, "action": last.action if last else "",
            "holder": card.holder.name}


def _save(tx: Transaction, actor: str, card: Card, action: str, extra: dict[str, object]) -> Card:
    saved = tx.cards.update(card)
    tx.audit.append(actor, action, "card", saved.id, {**card_summary(saved), **extra})
    return saved


# ---- the second step, in force ----------------------------------------------------------------------------


def finish_personalisation(tx: Transaction, actor: str, card: Card, cert: CertificateRef, app: Application,
                           index: int, now: datetime, action: str = "personalize",
                           extra: dict[str, object] | None = None) -> tuple[Card, CardEvent]:
    """The card holds ``cert``: its ``blank`` record issued, the certificate released, the item made."""
    issued, event, _ = card_rules.issue(card, cert, card.card_no, card.device_no, actor, now)
    revocation.release(tx.certificates, cert.serial)
    tx.applications.update(lifecycle.mark_item_made(app, index))
    return _save(tx, actor, issued, action, {"application": app.id, "item": index, **(extra or {})}), event


def finish_renewal(tx: Transaction, actor: str, card: Card, cert: CertificateRef, now: datetime,
                   action: str = "renew", extra: dict[str, object] | None = None) -> tuple[Card, CardEvent]:
    """The card holds ``cert`` (recorded on hold): in force, the record renewed (PIN back to initial), the
    certificate it replaces revoked as superseded (one card, one valid certificate)."""
    renewed, event, _ = card_rules.renew(card, cert, actor, now)
    revocation.release(tx.certificates, cert.serial)
    old = card.certificate.serial if card.certificate else ""
    if old and tx.certificates.get(old) is not None:
        revocation.apply_cert_effect(tx.certificates, old, card_rules.SUPERSEDED, now)
    return _save(tx, actor, renewed, action, {"superseded": old, **(extra or {})}), event


def abandon(tx: Transaction, actor: str, card: Card, now: datetime, found: str) -> tuple[Card, CardEvent]:
    """Give up a personalisation that never finished: its ``blank`` record replaced, its certificate (on
    hold, never in force) revoked as superseded. The application's item stays to be made."""
    held = [r.serial for r in tx.certificates.for_card(card.id) if r.status == "hold"]
    given_up, event, _ = card_rules.transition(card, "replace", actor, now, note="personalisation not finished")
    for serial in held:
        revocation.apply_cert_effect(tx.certificates, serial, card_rules.SUPERSEDED, now)
    return _save(tx, actor, given_up, "reconcile_abandon", {"found": found, "revoked": held}), event


def _item_for(app: Application, card: Card) -> int | None:
    """The item a ``blank`` card was being made for: the first unmade one of its kind and holder."""
    return next((n for n in lifecycle.unmade_items(app) if app.items[n].kind is card.kind
                 and app.items[n].holder.id_number == card.holder.id_number), None)


# ---- what a read of the card finds --------------------------------------------------------------------------


@frozen
class Finding:
    kind: str  # "personalised" | "renewed" | "restore" | "abandon"
    card_id: str
    serial: str = ""  # the certificate on the card ("personalised", "renewed", "restore": the one to write back)


def findings(tx: Transaction, chip: str, on_card: x509.Certificate | None) -> list[Finding]:
    """Where the card in the reader (chip serial ``chip``, holding ``on_card``) and the records disagree."""
    found: list[Finding] = []
    serial = serial_hex(on_card.serial_number) if on_card is not None else ""
    held = tx.certificates.get(serial) if serial else None
    owner = _card(tx, held.card_id) if held is not None else None
    if held is not None and owner is not None and owner.card_no == chip and _names_other(owner, serial):
        if held.status == "hold" and owner.state in (CardState.BLANK, CardState.ACTIVE):
            found.append(Finding("personalised" if owner.state is CardState.BLANK else "renewed", owner.id, serial))
        elif held.status == "revoked" and owner.state is CardState.BLANK:  # given up by a job, not yet replaced
            found.append(Finding("abandon", owner.id))
        elif held.status == "revoked" and owner.certificate is not None and owner.state not in card_rules.TERMINAL:
            recorded = tx.certificates.get(owner.certificate.serial)
            if recorded is not None and recorded.status != "revoked":
                found.append(Finding("restore", owner.id, recorded.serial))
    claimed = {f.card_id for f in found}
    found += [Finding("abandon", card.id) for card in tx.cards.blank_on_hold()
              if card.card_no == chip and card.id not in claimed]
    return found


def _names_other(card: Card, serial: str) -> bool:
    return card.certificate is None or card.certificate.serial != serial


def _card(tx: Transaction, card_id: str) -> Card | None:
    try:
        return tx.cards.get(card_id)
    except NotFound:
        return None


def fix(tx: Transaction, finding: Finding, actor: str, now: datetime, on_card: x509.Certificate | None
        ) -> tuple[Card, CardEvent | None] | None:
    """Put one finding right, after checking it still holds in this transaction; None if it no longer does."""
    card = _card(tx, finding.card_id)
    if card is None or finding not in findings(tx, card.card_no, on_card):
        return None
    if finding.kind == "abandon":
        return abandon(tx, actor, card, now, FOUND_NOT_WRITTEN)
    if finding.kind == "restore":  # the card was written back before this transaction; the record stands
        given_up = serial_hex(on_card.serial_number) if on_card else ""
        tx.audit.append(actor, "reconcile_restore", "card", card.id,
                        {**card_summary(card), "found": FOUND_GIVEN_UP, "written_back": finding.serial,
                         "given_up": given_up})
        return card, None
    assert on_card is not None
    cert = certificate_ref(on_card)
    if finding.kind == "renewed":
        return finish_renewal(tx, actor, card, cert, now, "reconcile_renew", {"found": FOUND_WRITTEN})
    app = tx.applications.get(card.application_id)
    index = _item_for(app, card)
    if app.state is not AppState.IN_PRODUCTION or index is None:  # made another way meanwhile: give it up
        return abandon(tx, actor, card, now, FOUND_WRITTEN + ", and its application no longer needs it")
    return finish_personalisation(tx, actor, card, cert, app, index, now, "reconcile_personalize",
                                  {"found": FOUND_WRITTEN})


# ---- the daily job ------------------------------------------------------------------------------------------


UNFINISHED_AFTER = timedelta(days=1)  # a personalisation takes seconds: one a day old was cut short


def abandon_unfinished(tx: Transaction, actor: str, now: datetime, started_before: datetime
                       ) -> list[tuple[Card, CardEvent]]:
    """Give up every personalisation started (its certificate put on hold) before ``started_before`` and
    never finished (its card not read since)."""
    given_up = []
    for card in tx.cards.blank():
        started = [r.revoked_at for r in tx.certificates.for_card(card.id) if r.revoked_at is not None]
        if not started or min(started) < started_before:
            given_up.append(abandon(tx, actor, card, now, FOUND_NOT_WRITTEN + " (or the card was not read since)"))
    return given_up


def reconcile_daily(services: Services, actor: str) -> str:
    """The ``reconcile_cards`` job (core/services/jobs.py): :func:`abandon_unfinished` a day on; a summary."""
    now = services.clock()
    with services.store.transaction() as tx:
        given_up = abandon_unfinished(tx, actor, now, now - UNFINISHED_AFTER)
    for card, event in given_up:
        services.rulebook.card_transitioned(card, event)
    return f"gave up {len(given_up)} unfinished personalisation(s)"


__all__ = ["UNFINISHED_AFTER", "Finding", "abandon", "abandon_unfinished", "card_summary", "certificate_ref",
           "findings", "finish_personalisation", "finish_renewal", "fix", "reconcile_daily"]
