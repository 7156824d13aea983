"""The legal card's signature as authority: card login, and actions on the enterprise's operator cards.

A card login signs a server nonce (:func:`login_message`). An operator-card action signs a nonce bound
to the action and the card (:func:`core.services.card_challenges.operator_action_message`): freeze,
unfreeze, report-loss and void happen at once; unlock and renew return a single-use grant for the
hardware half, which happens where the operator card is (at this machine, or through the local agent).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from attrs import frozen
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from core import cards as card_rules
from core.errors import Forbidden, InvalidInput
from core.hardware import profile as hw
from core.hardware.driver import CardDriver
from core.hardware.keys import admin_cryptogram
from core.model import Card, CardKind, CardState
from core.pki import gm, revocation
from core.pki.ca import serial_hex
from core.services.actors import Actor
from core.services.card_challenges import Challenge, Challenges, Grant, operator_action_message
from core.services.cards.base import CardWork, card_summary, own_card, same_card_in_reader, verify_signature

if TYPE_CHECKING:
    from core.store.store import Transaction

GRANTED_ACTIONS = frozenset({"unlock", "renew"})  # hardware half happens where the operator card is


@frozen
class OperatorActionResult:
    card: Card  # the operator card after the action (unchanged when a grant is returned)
    grant: Grant | None = None  # unlock / renew: the hardware half still has to happen at the card


def login_message(nonce: str) -> str:
    """Exactly what the legal card signs for a card login (SHA-256 of its UTF-8)."""
    return f"eportcard-login|{nonce}"


def sign_operator_action(driver: CardDriver, pin: str, nonce: str, action: str, target_card_id: str
                         ) -> tuple[bytes, bytes]:
    """The legal card's side: (its certificate DER, its signature over the action message)."""
    cert_der = driver.read_certificate()
    return cert_der, driver.sign(pin, operator_action_message(nonce, action, target_card_id))


def unblock_with_cryptogram(driver: CardDriver, release: Callable[[bytes, str], bytes]) -> None:
    """GET CHALLENGE, let ``release(challenge, serial)`` (the server) answer, then RESET RETRY COUNTER.

    The admin key never reaches the machine the card is in: only the one-time cryptogram does.
    """
    serial = driver.serial()
    driver.reset_retry_counter(lambda challenge: release(challenge, serial))


def check_card_challenge(card_challenge: bytes) -> None:
    if len(card_challenge) != hw.CHALLENGE_LENGTH:
        raise InvalidInput("卡片挑战值长度错误", "the card challenge must be 8 bytes", field="card_challenge")


class Grants(CardWork):
    # ---- card login -------------------------------------------------------------------------------------
    def login_challenge(self) -> Challenge:
        """A single-use nonce for a card login; the card signs :func:`login_message` of it.

        Stored as a ``challenge`` for no enterprise (uscc ""), so it can never authorise an
        operator-card action (those are bound to the legal card's enterprise) and vice versa.
        """
        with self.s.store.transaction() as tx:
            return Challenges(tx).issue_challenge("", self.s.clock())

    def verify_login(self, nonce: str, signature: bytes, certificate_der: bytes) -> Card:
        """The legal card behind a card login: our CA, registered and good, an ACTIVE legal card record
        (not expired, locked or frozen), the signature over :func:`login_message`, the nonce unused and
        unexpired. Every refusal is bilingual and leaves everything (the nonce too) unchanged."""
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            cert, legal = self._legal_card(tx, certificate_der)
            state = card_rules.effective_state(legal, now)
            if state is not CardState.ACTIVE:
                raise Forbidden(f"法人卡当前不可用（{state.value}），不能用于登录",
                                f"the legal card is not usable ({state.value}), so it cannot log in",
                                field="card")
            if not verify_signature(cert, signature, login_message(nonce).encode()):
                raise Forbidden("法人卡签名验证失败", "the legal card's signature does not verify", field="signature")
            Challenges(tx).consume(nonce, "challenge", "", now)
            tx.audit.append(f"card:{legal.id}", "card_login", "card", legal.id, card_summary(legal))
        return legal

    # ---- operator cards, authorised by the legal card ---------------------------------------------------
    def challenge(self, uscc: str, actor: Actor) -> Challenge:
        """A single-use nonce for the enterprise's legal card to sign (expires in a few minutes)."""
        if actor.kind == "enterprise" and actor.uscc != uscc:
            raise Forbidden("只能为本企业申请授权码", "you may request challenges for your own enterprise only",
                            field="uscc")
        with self.s.store.transaction() as tx:
            return Challenges(tx).issue_challenge(uscc.strip().upper(), self.s.clock())

    def _legal_card(self, tx: Transaction, legal_cert_der: bytes) -> tuple[x509.Certificate, Card]:
        """The signing certificate: issued by OUR CA, registered, not revoked or held, on an active legal card."""
        forged = Forbidden("授权证书不是本数据分中心签发的有效法人卡证书",
                           "the authorising certificate is not a valid legal-card certificate of this branch",
                           field="certificate")
        try:
            cert = x509.load_der_x509_certificate(legal_cert_der)
            gm.verify_issued_by(cert, self.ca.certificate)  # SM2 certificates too
        except (ValueError, TypeError, InvalidSignature):
            raise forged from None
        serial = serial_hex(cert.serial_number)
        registered = tx.certificates.get(serial)
        if registered is None or registered.pem.encode() != cert.public_bytes(serialization.Encoding.PEM):
            raise forged
        if registered.status != "good":
            raise Forbidden("授权的法人卡证书已吊销或挂起", "the authorising legal-card certificate is revoked or "
                            "on hold", field="certificate")
        legal = tx.cards.by_certificate(serial)
        if legal is None or legal.kind is not CardKind.LEGAL:
            raise forged
        return cert, legal

    def operator_action(self, target_card_id: str, action: str, legal_cert_der: bytes, signature: bytes,
                        nonce: str, actor: Actor) -> OperatorActionResult:
        """Freeze / unfreeze / report-loss / void now; unlock / renew return a grant for the card's side.

        The legal card signs :func:`core.services.card_challenges.operator_action_message` (SHA-256).
        Every refusal leaves the records (and the nonce) unchanged.
        """
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            target = own_card(tx, target_card_id, actor)
            card_rules.check_legal_card_action(action)
            cert, legal = self._legal_card(tx, legal_cert_der)
            if actor.kind == "enterprise" and actor.uscc != legal.enterprise_uscc:
                raise Forbidden("无权办理此卡的业务", "you may not act on this card", field="card")
            card_rules.authorise_operator_action(legal, target, action, now)
            if not verify_signature(cert, signature, operator_action_message(nonce, action, target_card_id)):
                raise Forbidden("法人卡签名验证失败", "the legal card's signature does not verify", field="signature")
            store = Challenges(tx)
            store.consume(nonce, "challenge", legal.enterprise_uscc, now)
            if action in GRANTED_ACTIONS:
                # Refuse now, not at the card. An "active" record may hide a card that blocked itself
                # where we could not see it, so unlock is checked as a PIN reset (active or locked).
                card_rules.transition(target, "reset_pin" if action == "unlock" else action, actor.label, now)
                grant = store.issue_grant(target.enterprise_uscc, target.id, action, now)
                tx.audit.append(actor.label, f"grant_{action}", "card", target.id,
                                {**card_summary(target), "legal_card": legal.id})
                return OperatorActionResult(target, grant)
            moved, event, _ = card_rules.transition(target, action, actor.label, now,
                                                    note=f"authorised by legal card {legal.id}")
            if moved.certificate is not None:
                revocation.apply_card_action(tx.certificates, moved.certificate.serial, action, now)
            saved = self.save(tx, actor, moved, action, {"legal_card": legal.id})
        self.announce(saved, [event])
        return OperatorActionResult(saved)

    def release_unblock(self, target_card_id: str, serial: str, card_challenge: bytes, grant_token: str,
                        actor: Actor) -> bytes:
        """For a granted unlock: the admin cryptogram answering the operator card's own challenge.

        ``serial`` is the chip serial of the card in the reader: it must be the granted card. The grant
        is used up and the record moves to active (PIN initial); the caller then sends EXTERNAL
        AUTHENTICATE + RESET RETRY COUNTER to the card (:func:`unblock_with_cryptogram`).
        """
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            card = own_card(tx, target_card_id, actor)
            same_card_in_reader(card, serial, "被授权解锁的操作员卡", "operator card being unlocked")
            check_card_challenge(card_challenge)
            Challenges(tx).consume(grant_token, "grant", card.enterprise_uscc, now, card.id, "unlock")
            action = "unlock" if card.state is CardState.LOCKED else "reset_pin"
            card, event, _ = card_rules.transition(card, action, actor.label, now, note="released")
            saved = self.save(tx, actor, card, action)
        self.announce(saved, [event])
        return admin_cryptogram(self.keys.admin_key(saved.card_no), card_challenge, saved.card_no)

    # ---- the hardware half at this machine (the card commands) ------------------------------------------
    def _granted_card_in_reader(self, serial: str, grant: Grant) -> Card:
        with self.s.store.transaction(readonly=True) as tx:
            card = tx.cards.get(grant.card_id)
        if card.card_no != serial:
            raise InvalidInput("读卡器中的卡不是被授权的操作员卡", "the card in the reader is not the authorised "
                               "operator card", field="card")
        return card

    def operator_unlock(self, driver: CardDriver, grant: Grant, actor: Actor) -> Card:
        """The counter or local agent side of a granted unlock, with the operator card in ``driver``."""
        self._granted_card_in_reader(driver.serial(), grant)
        unblock_with_cryptogram(driver, lambda challenge, serial: self.release_unblock(
            grant.card_id, serial, challenge, grant.token, actor))
        with self.s.store.transaction(readonly=True) as tx:
            return tx.cards.get(grant.card_id)

    def operator_renew(self, driver: CardDriver, grant: Grant, actor: Actor) -> Card:
        """A granted renewal of the operator card in ``driver`` (same machine as the server)."""
        self.reconcile(driver, actor)
        with self.s.store.transaction(readonly=True) as tx:
            info, cert, record = self.record_for_card(tx, driver)
        if record.id != grant.card_id or grant.action != "renew":
            raise InvalidInput("读卡器中的卡不是被授权的操作员卡", "the card in the reader is not the authorised "
                               "operator card", field="card")
        with self.s.store.transaction(readonly=True) as tx:  # refuse before the card is touched
            Challenges(tx).check(grant.token, "grant", record.enterprise_uscc, self.s.clock(), record.id, "renew")

        def consume(tx: Transaction, now: datetime) -> None:
            Challenges(tx).consume(grant.token, "grant", record.enterprise_uscc, now, record.id, "renew")

        return self.renew_on_card(driver, info, cert, record, actor, consume=consume)


__all__ = ["GRANTED_ACTIONS", "Grants", "OperatorActionResult", "check_card_challenge", "login_message",
           "sign_operator_action", "unblock_with_cryptogram"]
