"""What every part of card work shares: who may act on a card, the card in the reader joined with its
record, saving a card move with its audit row, and the card-side steps several parts run (read the card,
write a certificate and read it back, renew the certificate on the card's own key)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from attrs import frozen
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from core import cards as card_rules
from core.errors import Forbidden, InvalidInput, NotFound
from core.hardware import profile as hw
from core.hardware.driver import CardDriver, CardInfo
from core.hardware.errors import CardBlocked, CardError, NotPersonalised, WrongPin
from core.model import Card, CardEvent, CardState
from core.pki import gm, revocation
from core.pki.ca import record_for, serial_hex
from core.pki.signer import check_algorithm
from core.rules import CardPolicy
from core.services.actors import Actor
from core.services.cards import recovery
from core.services.cards.keys import CardKeys
from core.services.cards.recovery import card_summary, certificate_ref

if TYPE_CHECKING:
    from core.pki.ca import CertificateAuthority
    from core.services.context import Services
    from core.store.store import Transaction

# The card's key for each certificate profile (GENERATE ASYMMETRIC KEY PAIR's algorithm byte).
KEY_ALGORITHMS = {"ec-p256": hw.KeyAlgorithm.ECDSA_P256, "rsa2048": hw.KeyAlgorithm.RSA_2048,
                  "sm2": hw.KeyAlgorithm.SM2}
COUNTER_ROLES = frozenset({"card_maker", "counter_clerk", "branch_admin"})
SELF_SERVICE = frozenset({"info", "change_pin", "renew", "operator_action"})

T = TypeVar("T")


@frozen
class CardReading:
    """What is on a card, joined with what the branch knows of it."""

    info: CardInfo
    certificate: x509.Certificate | None
    record: Card | None
    certificate_status: str = ""  # registry: good | hold | revoked; "" when unknown here

    def summary(self) -> dict[str, object]:
        cert = self.certificate
        return {
            "serial": self.info.serial, "device_no": self.info.device_no,
            "personalised": self.info.personalised, "pin_is_initial": self.info.pin_is_initial,
            "tries_left": self.info.tries_left, "retry_limit": self.info.retry_limit,
            "certificate_serial": serial_hex(cert.serial_number) if cert else "",
            "subject": cert.subject.rfc4514_string() if cert else "",
            "not_before": cert.not_valid_before_utc.isoformat() if cert else "",
            "not_after": cert.not_valid_after_utc.isoformat() if cert else "",
            "certificate_status": self.certificate_status,
            "card_id": self.record.id if self.record else "",
            "kind": self.record.kind.value if self.record else "",
            "state": self.record.state.value if self.record else "",
            "enterprise_uscc": self.record.enterprise_uscc if self.record else "",
        }


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def spki(key: object) -> bytes:
    """A public key's DER SubjectPublicKeyInfo (pyca's RSA / EC key or tongsuopy's SM2 key)."""
    return gm.spki_der(key)


def verify_signature(cert: x509.Certificate, signature: bytes, message: bytes) -> bool:
    """Whether the certificate's key signed ``message``: PKCS#1 v1.5 or ECDSA over SHA-256, or for an SM2
    key SM2-with-SM3 with the GM/T 0009 ID (DER, or r || s as the client control returns it)."""
    key_spki = gm.certificate_spki(cert)
    try:
        gm.verify_signature(key_spki, gm.key_algorithm(gm.load_public_key(key_spki)), signature, message)
    except (InvalidSignature, InvalidInput, ValueError):
        return False
    return True


def authorise_card(actor: Actor, action: str, card: Card) -> None:
    """Counter work needs a counter role; self-service needs the card's own enterprise."""
    if actor.kind == "system":
        return
    if actor.kind == "staff" and actor.roles & COUNTER_ROLES:
        return
    if actor.kind == "enterprise" and actor.uscc == card.enterprise_uscc and action in SELF_SERVICE:
        return
    raise Forbidden("无权办理此卡的业务", "you may not act on this card", field="card")


def own_card(tx: Transaction, card_id: str, actor: Actor) -> Card:
    """The card ``card_id``; for an enterprise, only its own (another's answers as an unknown id would)."""
    try:
        card = tx.cards.get(card_id)
    except NotFound:
        card = None
    if card is None or (actor.kind == "enterprise" and card.enterprise_uscc != actor.uscc):
        raise Forbidden("只能管理本企业的卡", "you may manage your own enterprise's cards only", field="card")
    return card


def same_card_in_reader(card: Card, serial: str, zh_which: str, en_which: str) -> None:
    """The chip serial the agent read must be the card being worked on (its record's ``card_no``)."""
    if serial.strip().lower() != card.card_no.lower():
        raise InvalidInput(f"读卡器中的卡不是{zh_which}，请插入正确的卡",
                           f"the card in the reader is not the {en_which}; insert that card", field="serial")


class CardWork:
    """The shared steps of the parts of card work (each part is a subclass)."""

    def __init__(self, services: Services, keys: CardKeys) -> None:
        self.s = services
        self.keys = keys

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.keys!r})"

    @property
    def ca(self) -> CertificateAuthority:
        return self.keys.ca

    def policy(self, tx: Transaction, card: Card) -> CardPolicy:
        """The card rules of the card's region (its application's; else the deployment's default region)."""
        region = self.s.settings.regions.default
        if card.application_id:
            with contextlib.suppress(NotFound):
                region = tx.applications.get(card.application_id).region
        if not region:
            return CardPolicy()
        return self.s.rulebook.card_policy(region)

    # ---- the card in the reader -------------------------------------------------------------------------
    @staticmethod
    def read_certificate(driver: CardDriver) -> x509.Certificate | None:
        try:
            return x509.load_der_x509_certificate(driver.read_certificate())
        except NotPersonalised:
            return None
        except ValueError:
            raise CardError(hw.SW.WRONG_DATA, "卡内证书已损坏，请到窗口重新制卡",
                            "the certificate on the card is damaged; have the card remade at the counter") \
                from None

    def record_for_card(self, tx: Transaction, driver: CardDriver) -> tuple[CardInfo, x509.Certificate, Card]:
        """The card in the reader and its record; the chip serial must match the record."""
        info = driver.card_info()
        cert = self.read_certificate(driver)
        record = tx.cards.by_certificate(serial_hex(cert.serial_number)) if cert else None
        if cert is None or record is None or record.card_no != info.serial:
            raise NotFound("本系统没有这张卡的记录（卡未制卡或不是本数据分中心发的卡）",
                           "this card is not known here (not personalised, or issued by another branch)",
                           field="card")
        return info, cert, record

    def read(self, driver: CardDriver, actor: Actor | None = None) -> CardReading:
        """What is on the card (serial, device number, certificate, PIN tries) joined with its record, once
        card and record agree (:meth:`reconcile`, audited as ``actor``: the system's card read by default)."""
        self.reconcile(driver, actor or Actor.system("card-read"))
        info = driver.card_info()
        cert = self.read_certificate(driver) if info.personalised else None
        record, status = None, ""
        if cert is not None:
            with self.s.store.transaction(readonly=True) as tx:
                serial = serial_hex(cert.serial_number)
                found = tx.cards.by_certificate(serial)
                record = found if found is not None and found.card_no == info.serial else None
                registered = tx.certificates.get(serial)
                status = registered.status if registered else ""
        return CardReading(info=info, certificate=cert, record=record, certificate_status=status)

    def reconcile(self, driver: CardDriver, actor: Actor) -> list[Card]:
        """Card and record made to agree again where a crash came between writing one and the other
        (core/services/cards/recovery.py); each repair in its own transaction, audited. The cards repaired."""
        info = driver.card_info()
        on_card = self.read_certificate(driver) if info.personalised else None
        with self.s.store.transaction(readonly=True) as tx:
            found = recovery.findings(tx, info.serial, on_card)
        repaired = []
        for finding in found:
            if finding.kind == "restore" and not self._write_back(driver, info, finding.serial):
                continue
            if finding.kind in ("personalised", "renewed"):  # the step the crash may have cut: PIN to initial
                driver.reset_retry_counter(self.keys.admin_key(info.serial))
            with self.s.store.transaction() as tx:
                outcome = recovery.fix(tx, finding, actor.label, self.s.clock(), on_card)
                if outcome is not None and outcome[1] is not None:
                    self.s.notifications.queue_card(tx, outcome[0], [outcome[1]])
            if outcome is not None:
                card, event = outcome
                repaired.append(card)
                if event is not None:
                    self.announce(card, [event])
        return repaired

    def _write_back(self, driver: CardDriver, info: CardInfo, serial: str) -> bool:
        """Write the recorded certificate ``serial`` back onto the card, if it is for the key the card holds."""
        with self.s.store.transaction(readonly=True) as tx:
            recorded = tx.certificates.get(serial)
        if recorded is None:
            return False
        cert = x509.load_pem_x509_certificate(recorded.pem.encode("ascii"))
        if spki(driver.public_key()) != gm.certificate_spki(cert):
            return False
        admin_key = self.keys.admin_key(info.serial)
        self.write_and_check(driver, admin_key, cert)
        return True

    # ---- records ----------------------------------------------------------------------------------------
    def save(self, tx: Transaction, actor: Actor, card: Card, action: str, extra: dict | None = None) -> Card:
        saved = tx.cards.update(card)
        tx.audit.append(actor.label, action, "card", saved.id, {**card_summary(saved), **(extra or {})})
        self.s.notifications.queue_card(tx, saved, saved.history[-1:])  # the notice commits with the change
        return saved

    def announce(self, card: Card, events: list[CardEvent]) -> None:
        for event in events:
            self.s.rulebook.card_transitioned(card, event)

    def _record_lock(self, driver: CardDriver, actor: Actor) -> None:
        """The card blocked itself: record it as locked (if the record still says active)."""
        with self.s.store.transaction() as tx:
            try:
                _info, _cert, record = self.record_for_card(tx, driver)
            except (NotFound, CardError):
                return
            if record.state is not CardState.ACTIVE:
                return
            locked, event, _ = card_rules.transition(record, "lock", actor.label, self.s.clock(),
                                                     note="PIN retries exhausted")
            saved = self.save(tx, actor, locked, "lock")
        self.announce(saved, [event])

    def with_pin(self, driver: CardDriver, actor: Actor, step: Callable[[], T]) -> T:
        """Run a PIN-checked card step; a PIN that used up the last try records the lock."""
        try:
            return step()
        except WrongPin as exc:
            if exc.tries_left == 0:
                self._record_lock(driver, actor)
            raise
        except CardBlocked:
            self._record_lock(driver, actor)
            raise

    # ---- card-side steps --------------------------------------------------------------------------------
    @staticmethod
    def write_and_check(driver: CardDriver, admin_key: bytes, certificate: x509.Certificate) -> None:
        written = der(certificate)
        driver.write_certificate(admin_key, written)
        if driver.read_certificate() != written:
            raise CardError(hw.SW.WRONG_DATA, "证书写入后读回不一致，请重新写卡",
                            "the certificate read back differs from the one written; write it again")

    def renew_on_card(self, driver: CardDriver, info: CardInfo, old_cert: x509.Certificate, record: Card,
                      actor: Actor, consume: Callable[[Transaction, datetime], None] | None = None,
                      rekey: str | None = None) -> Card:
        """A new certificate for the key on the card in ``driver`` (written, read back, PIN to initial), then
        one transaction: ``consume`` (a grant), the certificate recorded, the old one superseded, the card renewed.

        ``rekey`` (a profile: ``sm2``, ``ec-p256``, ``rsa2048``) is the explicit choice to move the card onto
        another algorithm: a new key made on the card first, its certificate with that profile's key usage, and
        the move in the audit trail (``algorithm``: from -> to). Without it the card keeps its key."""
        if record.state is not CardState.ACTIVE:
            card_rules.transition(record, "renew", actor.label, self.s.clock())  # raises the clear error
        public_key = driver.public_key()
        if spki(public_key) != gm.certificate_spki(old_cert):
            raise CardError(hw.SW.WRONG_DATA, "卡内密钥与证书不匹配，请到窗口重新制卡",
                            "the key on the card does not match its certificate; have the card remade",
                            field="card")
        admin_key = self.keys.admin_key(info.serial)
        moved: dict[str, object] = {}
        if rekey is not None:
            # The old certificate leaves the card with the old key: a renewal cut short here is a card to make
            # again at the counter, which is where a re-key happens (docs/cards.md).
            moved = {"algorithm": f"{gm.key_algorithm(public_key)} -> {rekey}"}
            public_key = driver.generate_key_pair(admin_key, KEY_ALGORITHMS[check_algorithm(rekey)])
        new_cert = self.ca.renew(old_cert, public_key=public_key)
        new_serial = serial_hex(new_cert.serial_number)

        now = self.s.clock()
        with self.s.store.transaction() as tx:  # first the record, on hold: a crash from here on is found again
            if consume is not None:
                consume(tx, now)
            tx.certificates.add(record_for(new_cert, card_id=record.id))
            revocation.hold(tx.certificates, new_serial, now)
            tx.audit.append(actor.label, "renew_started", "card", record.id,
                            {**card_summary(record), "pending_certificate": new_serial, **moved})
        self.write_and_check(driver, admin_key, new_cert)
        driver.reset_retry_counter(admin_key)
        with self.s.store.transaction() as tx:  # the card holds it: in force
            saved, event = recovery.finish_renewal(tx, actor.label, tx.cards.get(record.id),
                                                   certificate_ref(new_cert), self.s.clock(), extra=moved)
            self.s.notifications.queue_card(tx, saved, [event])
        self.announce(saved, [event])
        return saved
