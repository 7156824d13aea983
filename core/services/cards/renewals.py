"""Renewal through the local agent, in two phases: released ON HOLD, confirmed once the card has it.

The legal card renews itself in its 0-180-day window; an operator (or declarant) card is renewed on a
grant of the legal card (:meth:`core.services.cards.grants.Grants.operator_action` ``renew``). The card's
kind picks which; both share the release / confirm pair and differ only in the authorisation. A renewal
never confirmed leaves the card as it was (``eportcard ca expire-renewals`` revokes such certificates).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core import cards as card_rules
from core.errors import Forbidden, InvalidInput, NotFound, RuleViolation
from core.hardware.keys import admin_cryptogram
from core.model import Card, CardKind, CardState
from core.pki import gm, revocation
from core.pki.ca import record_for, serial_hex
from core.services.actors import Actor
from core.services.card_challenges import Challenges
from core.services.cards.base import (
    COUNTER_ROLES,
    CardWork,
    authorise_card,
    card_summary,
    certificate_ref,
    der,
    own_card,
    same_card_in_reader,
)
from core.services.cards.grants import check_card_challenge
from core.services.cards.recovery import finish_renewal

if TYPE_CHECKING:
    from core.store.store import Transaction

Authorise = Callable[["Transaction", Card, datetime], None]


def _granted_card(actor: Actor, card: Card, now: datetime) -> None:
    """An operator (or declarant) card of the actor's enterprise, active and not expired (the grant itself
    is checked where it is used up)."""
    if actor.kind == "enterprise" and actor.uscc != card.enterprise_uscc:
        raise Forbidden("只能管理本企业的操作员卡", "a legal card manages its own enterprise's cards only",
                        field="card")
    if actor.kind not in ("enterprise", "system") and not (actor.kind == "staff" and actor.roles & COUNTER_ROLES):
        raise Forbidden("无权办理此卡的业务", "you may not act on this card", field="card")
    if card_rules.effective_state(card, now) is CardState.EXPIRED:
        raise RuleViolation("证书已过期的卡须到窗口办理延期", "a card whose certificate has expired is "
                            "renewed at the counter", field="card")
    card_rules.transition(card, "renew", actor.label, now)  # active only: the clear error otherwise


class Renewals(CardWork):
    def release(self, card_id: str, serial: str, card_challenge: bytes, public_key_der: bytes, actor: Actor,
                grant_token: str = "") -> tuple[bytes, bytes]:
        """(admin cryptogram for the card's challenge, new certificate DER for the SAME card key).

        ``serial`` is the chip serial of the card in the reader and must be this card's. The legal card:
        its 0-180-day window with the region's card policy. An operator card: the legal card's ``renew``
        grant, used up here in the same transaction that registers the new certificate ON HOLD. The key
        stays on the card, so ``public_key_der`` must be the key of the card's current certificate. The card
        record is not touched: only :meth:`confirm`, after ``eport-card_Renew`` wrote the certificate, puts
        it in force. Any refusal leaves everything (a grant too) as it was.
        """
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            card = own_card(tx, card_id, actor)
            legal = card.kind is CardKind.LEGAL
            same_card_in_reader(card, serial, "要延期的" + ("法人卡" if legal else "操作员卡"),
                                ("legal" if legal else "operator") + " card being renewed")
            check_card_challenge(card_challenge)
            if legal:
                authorise_card(actor, "renew", card)
                card_rules.check_self_renewal(card, now, self.policy(tx, card))
                audit_action = "release_renewal"
            else:
                if not grant_token:
                    raise InvalidInput("延期操作员卡须提供法人卡的授权（grant）",
                                       "an operator card is renewed on the legal card's grant (grant is required)",
                                       field="grant")
                _granted_card(actor, card, now)
                Challenges(tx).consume(grant_token, "grant", card.enterprise_uscc, now, card.id, "renew")
                audit_action = "release_operator_renewal"
            registered = tx.certificates.get(card.certificate.serial) if card.certificate else None
            if registered is None or not registered.pem:
                raise NotFound("找不到这张卡的证书记录", "the card's certificate is not on record", field="card")
            old = x509.load_pem_x509_certificate(registered.pem.encode())
            if public_key_der != gm.certificate_spki(old):
                raise InvalidInput("读卡器中的卡不是要延期的卡（密钥不符）",
                                   "the card in the reader is not the card being renewed (another key)",
                                   field="public_key")
            new_cert = self.ca.renew(old)  # the same key: the old certificate's
            tx.certificates.add(record_for(new_cert, card_id=card.id))
            revocation.hold(tx.certificates, serial_hex(new_cert.serial_number), now)
            tx.audit.append(actor.label, audit_action, "card", card.id,
                            {**card_summary(card), "pending_certificate": serial_hex(new_cert.serial_number)})
        return admin_cryptogram(self.keys.admin_key(card.card_no), card_challenge, card.card_no), der(new_cert)

    def confirm(self, card_id: str, certificate_der: bytes, actor: Actor) -> Card:
        """The card has the released certificate: in force, record renewed (PIN back to initial), old
        certificate revoked as superseded. Anything but this card's pending certificate is refused; for an
        operator card only a certificate released on a used grant is pending, so it is the proof of the
        legal card's authorisation."""
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            card = own_card(tx, card_id, actor)
            if card.kind is CardKind.LEGAL:
                authorise_card(actor, "renew", card)
            else:
                _granted_card(actor, card, now)
            try:
                new_cert = x509.load_der_x509_certificate(certificate_der)
            except ValueError:
                new_cert = None
            serial = serial_hex(new_cert.serial_number) if new_cert is not None else ""
            pending = tx.certificates.get(serial) if serial else None
            if (new_cert is None or pending is None or pending.card_id != card.id or pending.status != "hold"
                    or pending.pem.encode() != new_cert.public_bytes(serialization.Encoding.PEM)
                    or (card.certificate is not None and card.certificate.serial == serial)):
                raise InvalidInput("这不是为此卡签发、待确认的延期证书", "this is not the renewed certificate "
                                   "released for this card and awaiting confirmation", field="certificate")
            saved, event = finish_renewal(tx, actor.label, card, certificate_ref(new_cert), now)
            self.s.notifications.queue_card(tx, saved, [event])
        self.announce(saved, [event])
        return saved


__all__ = ["Renewals"]
