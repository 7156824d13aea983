"""Card operations: counter personalisation, unlock, renewal and read; enterprise self-service; and
operator-card actions authorised by a signature of the enterprise's legal card.

The order of every operation that touches a card is: hardware first (the card is changed, the
certificate written and READ BACK), then ONE database transaction (certificate record, card record,
application item, audit), then the ``card_transitioned`` event. If the card is pulled out or
answers wrongly the exception stops the operation before the transaction: nothing is recorded.

Decisions:

* Counter renewal keeps the card's key (the key never left the card) and revokes the old
  certificate as ``superseded`` once the new one is on the card and recorded: one card, one
  valid certificate, so a relying party never sees two.
* A card found blocked (PIN tries used up) is recorded as ``locked``: that is the card's real state
  and what the counter unlock later moves back to ``active``.
* Renewal through the local agent (legal card in its window, operator card on a legal-card grant)
  registers the new certificate ON HOLD and changes the record only when the page confirms the card
  has it; both kinds share that release/confirm pair and differ only in the authorisation.
* The master secret only derives per-card admin keys here; it is never logged, returned or stored
  per card. A remote card (local agent) gets one admin *cryptogram* for its own challenge.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import frozen
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from core import cards as card_rules
from core import lifecycle
from core.errors import Forbidden, InvalidInput, NotFound, RuleViolation, TransitionError
from core.hardware import profile as hw
from core.hardware.driver import CardDriver, CardInfo
from core.hardware.errors import CardBlocked, CardError, NotPersonalised, WrongPin
from core.hardware.keys import MIN_MASTER_SECRET_LENGTH, admin_cryptogram, derive_admin_key
from core.model import Application, AppState, Card, CardEvent, CardKind, CardState, CertificateRef
from core.pki import revocation
from core.pki.ca import CertificateAuthority, record_for, serial_hex
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.privacy import mask_id
from core.rules import CardPolicy
from core.services.actors import Actor, authorise
from core.services.card_challenges import Challenge, Challenges, Grant, operator_action_message

if TYPE_CHECKING:
    from core.services.context import Services
    from core.store.store import Transaction

KEY_ALGORITHMS = {"ec-p256": hw.KeyAlgorithm.ECDSA_P256, "rsa2048": hw.KeyAlgorithm.RSA_2048}
COUNTER_ROLES = frozenset({"card_maker", "counter_clerk", "branch_admin"})
SELF_SERVICE = frozenset({"info", "change_pin", "renew", "operator_action"})
GRANTED_ACTIONS = frozenset({"unlock", "renew"})  # hardware half happens where the operator card is


# ---- the master secret -------------------------------------------------------------------------------------


def create_master_secret(path: str | os.PathLike[str]) -> None:
    """A new random master secret (hex), owner-only from creation; never overwrites."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"主密钥文件已存在：{path}，不会覆盖",
                           f"a master secret already exists at {path}; it will not be overwritten",
                           field="master_key_file") from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32) + "\n")


def load_master_secret(path: str | os.PathLike[str]) -> bytes:
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise InvalidInput(f"找不到制卡主密钥文件 {path}，请先执行 eportcard counter init-master",
                           f"no card master secret at {path}; run `eportcard counter init-master` first",
                           field="master_key_file") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < MIN_MASTER_SECRET_LENGTH:
        raise InvalidInput("制卡主密钥文件已损坏（须为至少16字节的十六进制）",
                           "the card master secret file is damaged (it must be hex, at least 16 bytes)",
                           field="master_key_file")
    return secret


# ---- values ------------------------------------------------------------------------------------------------


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


@frozen
class OperatorActionResult:
    card: Card  # the operator card after the action (unchanged when a grant is returned)
    grant: Grant | None = None  # unlock / renew: the hardware half still has to happen at the card


def _ref(cert: x509.Certificate) -> CertificateRef:
    return CertificateRef(serial=serial_hex(cert.serial_number), not_before=cert.not_valid_before_utc,
                          not_after=cert.not_valid_after_utc)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _spki(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined]
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _card_summary(card: Card) -> dict[str, object]:
    """Audit payload: never a PIN, never a key."""
    last = card.history[-1] if card.history else None
    return {"state": card.state.value, "kind": card.kind.value, "uscc": card.enterprise_uscc,
            "card_no": card.card_no, "device_no": card.device_no,
            "certificate": card.certificate.serial if card.certificate else "",
            "pin_is_initial": card.pin_is_initial, "action": last.action if last else "",
            "holder": card.holder.name}


def verify_signature(cert: x509.Certificate, signature: bytes, message: bytes) -> bool:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except (InvalidSignature, ValueError):
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


# ---- the hardware half of a released unlock (usable by the local agent) ------------------------------------


def unblock_with_cryptogram(driver: CardDriver, release) -> None:
    """GET CHALLENGE, let ``release(challenge, serial)`` (the server) answer, then RESET RETRY COUNTER.

    The admin key never reaches the machine the card is in: only the one-time cryptogram does.
    """
    serial = driver.serial()
    driver.reset_retry_counter(lambda challenge: release(challenge, serial))


# ---- the service -------------------------------------------------------------------------------------------


class CardService:
    def __init__(self, services: Services, ca: CertificateAuthority, master_secret: bytes,
                 profile_settings: ProfileSettings | None = None) -> None:
        if len(master_secret) < MIN_MASTER_SECRET_LENGTH:
            raise InvalidInput("制卡主密钥太短", "the card master secret is too short", field="master_secret")
        self.s = services
        self.ca = ca
        self._master = master_secret
        self.profiles = profile_settings or ProfileSettings.from_settings(services.settings)

    def __repr__(self) -> str:  # keep the master secret out of tracebacks and logs
        return f"CardService(ca={self.ca.certificate.subject.rfc4514_string()!r})"

    # ---- helpers -------------------------------------------------------------------------------------------
    def _admin_key(self, serial: str) -> bytes:
        return derive_admin_key(self._master, serial)

    def _policy(self, tx: Transaction, card: Card) -> CardPolicy:
        region = self.s.settings.regions.default
        if card.application_id:
            with contextlib.suppress(NotFound):
                region = tx.applications.get(card.application_id).region
        if not region:
            return CardPolicy()
        return self.s.rulebook.card_policy(region)

    def _read_certificate(self, driver: CardDriver) -> x509.Certificate | None:
        try:
            return x509.load_der_x509_certificate(driver.read_certificate())
        except NotPersonalised:
            return None
        except ValueError:
            raise CardError(hw.SW.WRONG_DATA, "卡内证书已损坏，请到窗口重新制卡",
                            "the certificate on the card is damaged; have the card remade at the counter") \
                from None

    def _record_for_card(self, tx: Transaction, driver: CardDriver) -> tuple[CardInfo, x509.Certificate, Card]:
        """The card in the reader and its record; the chip serial must match the record."""
        info = driver.card_info()
        cert = self._read_certificate(driver)
        record = tx.cards.by_certificate(serial_hex(cert.serial_number)) if cert else None
        if cert is None or record is None or record.card_no != info.serial:
            raise NotFound("本系统没有这张卡的记录（卡未制卡或不是本数据分中心发的卡）",
                           "this card is not known here (not personalised, or issued by another branch)",
                           field="card")
        return info, cert, record

    def _save(self, tx: Transaction, actor: Actor, card: Card, action: str, extra: dict | None = None) -> Card:
        saved = tx.cards.update(card)
        tx.audit.append(actor.label, action, "card", saved.id, {**_card_summary(saved), **(extra or {})})
        return saved

    def _announce(self, card: Card, events: list[CardEvent]) -> None:
        for event in events:
            self.s.rulebook.card_transitioned(card, event)

    def _record_lock(self, driver: CardDriver, actor: Actor) -> None:
        """The card blocked itself: record it as locked (if the record still says active)."""
        with self.s.store.transaction() as tx:
            try:
                _info, _cert, record = self._record_for_card(tx, driver)
            except (NotFound, CardError):
                return
            if record.state is not CardState.ACTIVE:
                return
            locked, event, _ = card_rules.transition(record, "lock", actor.label, self.s.clock(),
                                                     note="PIN retries exhausted")
            saved = self._save(tx, actor, locked, "lock")
        self._announce(saved, [event])

    def _with_pin(self, driver: CardDriver, actor: Actor, step):
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

    # ---- counter -------------------------------------------------------------------------------------------
    def personalize(self, app_id: str, item_index: int, driver: CardDriver, actor: Actor,
                    device_no: str = "") -> Card:
        """Make the card for item ``item_index`` of an application in production."""
        with self.s.store.transaction(readonly=True) as tx:
            app = self._application_for_making(tx, app_id, item_index, actor)
            info = driver.card_info()
            existing = self._read_certificate(driver) if info.personalised else None
            if existing is not None:
                old = tx.cards.by_certificate(serial_hex(existing.serial_number))
                if old is not None and old.state not in card_rules.TERMINAL:
                    raise RuleViolation(f"这张卡仍在使用中（{old.state.value}），须先注销或补办后才能重新制卡",
                                        f"this card is still in use ({old.state.value}); cancel or replace it "
                                        "before making it again", field="card")
        item = app.items[item_index]
        device_no = device_no or item.device_no
        profile = profile_for(item.kind, self.profiles)
        subject = HolderSubject(enterprise_name=app.enterprise.name, uscc=app.enterprise.uscc,
                                holder_name=item.holder.name, holder_id_masked=mask_id(item.holder.id_number))
        admin_key = self._admin_key(info.serial)

        # Hardware: device number, key ON the card, certificate written and read back, PIN to initial.
        if device_no:
            driver.set_device_no(admin_key, device_no)
        public_key = driver.generate_key_pair(admin_key, KEY_ALGORITHMS[profile.algorithm])
        certificate = self.ca.issue(profile, subject, public_key=public_key)  # type: ignore[arg-type]
        self._write_and_check(driver, admin_key, certificate)
        driver.reset_retry_counter(admin_key)

        now = self.s.clock()
        with self.s.store.transaction() as tx:
            app = self._application_for_making(tx, app_id, item_index, actor)  # again: someone may have
            blank = Card(id=secrets.token_hex(8), enterprise_uscc=app.enterprise.uscc, kind=item.kind,
                         holder=item.holder, medium=item.medium, application_id=app.id)
            card, event, _ = card_rules.issue(blank, _ref(certificate), info.serial, device_no, actor.label, now)
            tx.certificates.add(record_for(certificate, card_id=card.id))
            saved = tx.cards.add(card)
            tx.applications.update(lifecycle.mark_item_made(app, item_index))
            tx.audit.append(actor.label, "personalize", "card", saved.id,
                            {**_card_summary(saved), "application": app.id, "item": item_index})
        self._announce(saved, [event])
        return saved

    def check_making(self, app_id: str, item_index: int, actor: Actor) -> Application:
        """What :meth:`personalize` refuses before it touches a card (role and branch, state, item), without
        a card: the counter page asks this before it opens the reader."""
        with self.s.store.transaction(readonly=True) as tx:
            return self._application_for_making(tx, app_id, item_index, actor)

    def _application_for_making(self, tx: Transaction, app_id: str, index: int, actor: Actor):
        try:
            app = tx.applications.get(app_id)
        except NotFound:
            by_no = tx.applications.by_acceptance_no(app_id.strip().upper())  # the number on the receipt
            if by_no is None:
                raise Forbidden("无权查看或办理此申请单", "you may not view or act on this application",
                                field="application") from None
            app = by_no
        authorise(actor, "make", app)
        if app.state is not AppState.IN_PRODUCTION:
            raise TransitionError(f"申请单状态为{lifecycle.state_name(app.state)}，只有制卡中的申请单可以制卡",
                                  f"cards are made only while the application is in production "
                                  f"(it is {app.state.value})", field="state")
        if not 0 <= index < len(app.items):
            raise InvalidInput(f"申请单没有第{index + 1}项", f"the application has no item {index + 1}",
                               field="item")
        if app.items[index].made:
            raise RuleViolation(f"第{index + 1}项的卡已制作", f"the card of item {index + 1} is already made",
                                field="item")
        return app

    def _write_and_check(self, driver: CardDriver, admin_key: bytes, certificate: x509.Certificate) -> None:
        der = _der(certificate)
        driver.write_certificate(admin_key, der)
        if driver.read_certificate() != der:
            raise CardError(hw.SW.WRONG_DATA, "证书写入后读回不一致，请重新写卡",
                            "the certificate read back differs from the one written; write it again")

    def read(self, driver: CardDriver) -> CardReading:
        """What is on the card (serial, device number, certificate, PIN tries) joined with its record."""
        info = driver.card_info()
        cert = self._read_certificate(driver) if info.personalised else None
        record, status = None, ""
        if cert is not None:
            with self.s.store.transaction(readonly=True) as tx:
                serial = serial_hex(cert.serial_number)
                found = tx.cards.by_certificate(serial)
                record = found if found is not None and found.card_no == info.serial else None
                registered = tx.certificates.get(serial)
                status = registered.status if registered else ""
        return CardReading(info=info, certificate=cert, record=record, certificate_status=status)

    def counter_unlock(self, driver: CardDriver, actor: Actor) -> Card:
        """The legal holder brought the card to the window: PIN back to 88888888, tries back to the limit."""
        with self.s.store.transaction(readonly=True) as tx:
            info, _cert, record = self._record_for_card(tx, driver)
        authorise_card(actor, "unlock", record)
        if record.state not in (CardState.ACTIVE, CardState.LOCKED):
            card_rules.transition(record, "reset_pin", actor.label, self.s.clock())  # raises the clear error
        driver.reset_retry_counter(self._admin_key(info.serial))
        return self._record_reset(record.id, actor, blocked=info.blocked)

    def _record_reset(self, card_id: str, actor: Actor, blocked: bool) -> Card:
        now = self.s.clock()
        events = []
        with self.s.store.transaction() as tx:
            card = tx.cards.get(card_id)
            if card.state is CardState.ACTIVE and blocked:  # the card had locked itself unnoticed
                card, event, _ = card_rules.transition(card, "lock", actor.label, now, note="found blocked")
                events.append(event)
            action = "unlock" if card.state is CardState.LOCKED else "reset_pin"
            card, event, _ = card_rules.transition(card, action, actor.label, now)
            events.append(event)
            saved = self._save(tx, actor, card, action)
        self._announce(saved, events)
        return saved

    def counter_renew(self, driver: CardDriver, actor: Actor) -> Card:
        """A new certificate for the same card key (expired certificates too); the old one is superseded."""
        with self.s.store.transaction(readonly=True) as tx:
            info, old_cert, record = self._record_for_card(tx, driver)
        authorise_card(actor, "renew", record)
        return self._renew(driver, info, old_cert, record, actor)

    def _renew(self, driver: CardDriver, info: CardInfo, old_cert: x509.Certificate, record: Card,
               actor: Actor, consume=None) -> Card:
        if record.state is not CardState.ACTIVE:
            card_rules.transition(record, "renew", actor.label, self.s.clock())  # raises the clear error
        public_key = driver.public_key()
        if _spki(public_key) != _spki(old_cert.public_key()):
            raise CardError(hw.SW.WRONG_DATA, "卡内密钥与证书不匹配，请到窗口重新制卡",
                            "the key on the card does not match its certificate; have the card remade",
                            field="card")
        admin_key = self._admin_key(info.serial)
        new_cert = self.ca.renew(old_cert, public_key=public_key)  # type: ignore[arg-type]
        self._write_and_check(driver, admin_key, new_cert)
        driver.reset_retry_counter(admin_key)

        now = self.s.clock()
        with self.s.store.transaction() as tx:
            if consume is not None:
                consume(tx, now)
            card = tx.cards.get(record.id)
            tx.certificates.add(record_for(new_cert, card_id=card.id))
            old_serial = serial_hex(old_cert.serial_number)
            if tx.certificates.get(old_serial) is not None:
                revocation.apply_cert_effect(tx.certificates, old_serial, "revoke", "superseded", now)
            renewed, event, _ = card_rules.renew(card, _ref(new_cert), actor.label, now)
            saved = self._save(tx, actor, renewed, "renew", {"superseded": old_serial})
        self._announce(saved, [event])
        return saved

    # ---- enterprise self-service ---------------------------------------------------------------------------
    def info(self, driver: CardDriver, actor: Actor) -> CardReading:
        reading = self.read(driver)
        if reading.record is not None:
            authorise_card(actor, "info", reading.record)
        return reading

    def change_pin(self, driver: CardDriver, old_pin: str, new_pin: str, actor: Actor) -> Card:
        """Change the PIN of an active card; 88888888 is refused here and by the card. Recorded as a
        ``change_pin`` move (state unchanged, PIN no longer initial); the PIN itself never is."""
        with self.s.store.transaction(readonly=True) as tx:
            _info, _cert, record = self._record_for_card(tx, driver)
            policy = self._policy(tx, record)
        authorise_card(actor, "change_pin", record)
        card_rules.check_new_pin(new_pin, policy)
        if record.state is CardState.LOCKED and driver.pin_tries_left() == 0:
            raise CardBlocked()  # the card's own answer says what to do (apply for an unlock); no try used
        card_rules.transition(record, "change_pin", actor.label, self.s.clock())  # refuse before the card
        self._with_pin(driver, actor, lambda: driver.change_pin(old_pin, new_pin))
        with self.s.store.transaction() as tx:
            changed, event, _ = card_rules.transition(tx.cards.get(record.id), "change_pin", actor.label,
                                                      self.s.clock())
            saved = self._save(tx, actor, changed, "change_pin")
        self._announce(saved, [event])
        return saved

    def report_status(self, cert_serial: str, pin_is_initial: bool, tries_left: int, actor: Actor) -> Card:
        """What the card agent read from a card of the actor's own enterprise (``eport-card_Status``): a PIN
        the holder changed there, or a card that blocked itself (no tries left). Recorded as a ``change_pin``
        or ``lock`` move noted as reported; anything else changes nothing. A report can only move the
        record the way the card itself went, and only for the enterprise's own active card."""
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            card = tx.cards.by_certificate(cert_serial.lower())
            if card is None or actor.kind != "enterprise" or card.enterprise_uscc != actor.uscc:
                raise Forbidden("只能报告本企业的卡", "you may report your own enterprise's cards only",
                                field="certNo")
            if card.state is not CardState.ACTIVE:
                return card
            if tries_left == 0:
                action, note = "lock", "读卡控件报告：密码重试次数已用完 / reported by the card agent: PIN retries exhausted"
            elif card.pin_is_initial and not pin_is_initial:
                action, note = "change_pin", "读卡控件报告：持卡人已修改密码 / reported by the card agent: PIN changed"
            else:
                return card
            moved, event, _ = card_rules.transition(card, action, actor.label, now, note=note)
            saved = self._save(tx, actor, moved, action)
        self._announce(saved, [event])
        return saved

    def self_renew(self, driver: CardDriver, pin: str, actor: Actor) -> Card:
        """Legal card only, 0-180 days before expiry, not expired, not locked; the PIN returns to initial."""
        with self.s.store.transaction(readonly=True) as tx:
            info, cert, record = self._record_for_card(tx, driver)
            policy = self._policy(tx, record)
        authorise_card(actor, "renew", record)
        card_rules.check_self_renewal(record, self.s.clock(), policy)
        self._with_pin(driver, actor, lambda: driver.verify_pin(pin))  # the holder is present
        return self._renew(driver, info, cert, record, actor)

    # ---- operator cards, authorised by the legal card -------------------------------------------------------
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
            cert.verify_directly_issued_by(self.ca.certificate)
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
            cert, legal = self._legal_card(tx, legal_cert_der)
            try:
                target = tx.cards.get(target_card_id)
            except NotFound:
                raise Forbidden("只能管理本企业的操作员卡", "a legal card manages its own enterprise's cards only",
                                field="card") from None
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
                                {**_card_summary(target), "legal_card": legal.id})
                return OperatorActionResult(target, grant)
            moved, event, effect = card_rules.transition(target, action, actor.label, now,
                                                         note=f"authorised by legal card {legal.id}")
            if effect is not None and moved.certificate is not None:
                revocation.apply_cert_effect(tx.certificates, moved.certificate.serial, effect.kind,
                                             effect.reason, now)
            saved = self._save(tx, actor, moved, action, {"legal_card": legal.id})
        self._announce(saved, [event])
        return OperatorActionResult(saved)

    def release_unblock(self, target_card_id: str, card_challenge: bytes, grant_token: str, actor: Actor
                        ) -> bytes:
        """For a granted unlock: the admin cryptogram answering the operator card's own challenge.

        The grant is used up and the record moves to active (PIN initial); the caller then sends
        EXTERNAL AUTHENTICATE + RESET RETRY COUNTER to the card (:func:`unblock_with_cryptogram`).
        """
        if len(card_challenge) != hw.CHALLENGE_LENGTH:
            raise InvalidInput("卡片挑战值长度错误", "the card challenge must be 8 bytes", field="card_challenge")
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            card = tx.cards.get(target_card_id)
            Challenges(tx).consume(grant_token, "grant", card.enterprise_uscc, now, card.id, "unlock")
            action = "unlock" if card.state is CardState.LOCKED else "reset_pin"
            card, event, _ = card_rules.transition(card, action, actor.label, now, note="released")
            saved = self._save(tx, actor, card, action)
        self._announce(saved, [event])
        return admin_cryptogram(self._admin_key(saved.card_no), card_challenge, saved.card_no)

    def operator_unlock(self, driver: CardDriver, grant: Grant, actor: Actor) -> Card:
        """The counter or local agent side of a granted unlock, with the operator card in ``driver``."""
        serial = driver.serial()
        with self.s.store.transaction(readonly=True) as tx:
            card = tx.cards.get(grant.card_id)
        if card.card_no != serial:
            raise InvalidInput("读卡器中的卡不是被授权的操作员卡", "the card in the reader is not the authorised "
                               "operator card", field="card")
        unblock_with_cryptogram(
            driver, lambda challenge, _serial: self.release_unblock(grant.card_id, challenge, grant.token, actor))
        with self.s.store.transaction(readonly=True) as tx:
            return tx.cards.get(grant.card_id)

    def operator_renew(self, driver: CardDriver, grant: Grant, actor: Actor) -> Card:
        """A granted renewal of the operator card in ``driver`` (same machine as the server)."""
        with self.s.store.transaction(readonly=True) as tx:
            info, cert, record = self._record_for_card(tx, driver)
        if record.id != grant.card_id or grant.action != "renew":
            raise InvalidInput("读卡器中的卡不是被授权的操作员卡", "the card in the reader is not the authorised "
                               "operator card", field="card")
        with self.s.store.transaction(readonly=True) as tx:  # refuse before the card is touched
            Challenges(tx).check(grant.token, "grant", record.enterprise_uscc, self.s.clock(), record.id, "renew")

        def consume(tx: Transaction, now: datetime) -> None:
            Challenges(tx).consume(grant.token, "grant", record.enterprise_uscc, now, record.id, "renew")

        return self._renew(driver, info, cert, record, actor, consume=consume)


    # ---- card login and legal-card renewal through the local agent (web front) ----------------------------
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
            tx.audit.append(f"card:{legal.id}", "card_login", "card", legal.id, _card_summary(legal))
        return legal

    # ---- renewal through the agent: released on hold, confirmed once the card has it ----------------------
    # Legal card (self-renewal in its window) and operator card (granted by the legal card) share these
    # two halves; only the authorisation differs, passed in as ``authorise(tx, card, now)``.

    def _release_pending_renewal(self, card_id: str, card_challenge: bytes, public_key_der: bytes, actor: Actor,
                                 authorise: Callable[[Transaction, Card, datetime], None], audit_action: str
                                 ) -> tuple[bytes, bytes]:
        """(admin cryptogram for the card's challenge, new certificate DER) for the SAME card key.

        The new certificate is registered ON HOLD and the card record is not touched; ``authorise``
        runs in the same transaction, so a refusal after it (another key) undoes what it did (a grant
        it used up).
        """
        if len(card_challenge) != hw.CHALLENGE_LENGTH:
            raise InvalidInput("卡片挑战值长度错误", "the card challenge must be 8 bytes", field="card_challenge")
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            card = tx.cards.get(card_id)
            authorise(tx, card, now)
            registered = tx.certificates.get(card.certificate.serial) if card.certificate else None
            if registered is None or not registered.pem:
                raise NotFound("找不到这张卡的证书记录", "the card's certificate is not on record", field="card")
            old = x509.load_pem_x509_certificate(registered.pem.encode())
            if public_key_der != _spki(old.public_key()):
                raise InvalidInput("读卡器中的卡不是要延期的卡（密钥不符）",
                                   "the card in the reader is not the card being renewed (another key)",
                                   field="public_key")
            new_cert = self.ca.renew(old, public_key=old.public_key())  # type: ignore[arg-type]
            tx.certificates.add(record_for(new_cert, card_id=card.id))
            revocation.hold(tx.certificates, serial_hex(new_cert.serial_number), now)
            tx.audit.append(actor.label, audit_action, "card", card.id,
                            {**_card_summary(card), "pending_certificate": serial_hex(new_cert.serial_number)})
        return admin_cryptogram(self._admin_key(card.card_no), card_challenge, card.card_no), _der(new_cert)

    def _confirm_pending_renewal(self, card_id: str, certificate_der: bytes, actor: Actor,
                                 authorise: Callable[[Transaction, Card, datetime], None]) -> Card:
        """Put the released certificate in force, renew the record (PIN initial), revoke the old one as
        superseded. Anything but this card's pending certificate is refused."""
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            card = tx.cards.get(card_id)
            authorise(tx, card, now)
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
            renewed, event, _ = card_rules.renew(card, _ref(new_cert), actor.label, now)
            revocation.release(tx.certificates, serial)
            old_serial = card.certificate.serial if card.certificate else ""
            if old_serial and tx.certificates.get(old_serial) is not None:
                revocation.apply_cert_effect(tx.certificates, old_serial, "revoke", "superseded", now)
            saved = self._save(tx, actor, renewed, "renew", {"superseded": old_serial})
        self._announce(saved, [event])
        return saved

    def _self_renewal_allowed(self, actor: Actor) -> Callable[[Transaction, Card, datetime], None]:
        def authorise(tx: Transaction, card: Card, now: datetime) -> None:
            authorise_card(actor, "renew", card)
            card_rules.check_self_renewal(card, now, self._policy(tx, card))
        return authorise

    def release_renewal(self, card_id: str, card_challenge: bytes, public_key_der: bytes, actor: Actor
                        ) -> tuple[bytes, bytes]:
        """Legal-card self-renewal through the agent: (admin cryptogram for the card's challenge, new certificate DER).

        Checks the 0-180-day window with the region's card policy; the key stays on the card, so
        ``public_key_der`` must be the key of the card's current certificate. The new certificate is
        registered ON HOLD (not in force yet) and the card record is not touched: only
        :meth:`confirm_renewal`, after ``eport-card_Renew`` wrote it, puts it in force, renews the
        record and supersedes the old certificate. A renewal never confirmed leaves the card as it was.
        """
        return self._release_pending_renewal(card_id, card_challenge, public_key_der, actor,
                                             self._self_renewal_allowed(actor), "release_renewal")

    def confirm_renewal(self, card_id: str, certificate_der: bytes, actor: Actor) -> Card:
        """The agent wrote the released certificate: put it in force, renew the record (PIN initial),
        revoke the old certificate as superseded. Anything but this card's pending certificate is refused."""
        return self._confirm_pending_renewal(card_id, certificate_der, actor,
                                             lambda tx, card, now: authorise_card(actor, "renew", card))

    @staticmethod
    def _granted_card(actor: Actor, card: Card, now: datetime) -> None:
        """An operator (or declarant) card of the actor's enterprise, active and not expired."""
        if actor.kind == "enterprise" and actor.uscc != card.enterprise_uscc:
            raise Forbidden("只能管理本企业的操作员卡", "a legal card manages its own enterprise's cards only",
                            field="card")
        if actor.kind not in ("enterprise", "system") and not (actor.kind == "staff" and actor.roles & COUNTER_ROLES):
            raise Forbidden("无权办理此卡的业务", "you may not act on this card", field="card")
        if card.kind is CardKind.LEGAL:
            raise Forbidden("法人卡请使用法人卡自助延期", "the legal card renews itself (legal-card renewal)",
                            field="card")
        if card_rules.effective_state(card, now) is CardState.EXPIRED:
            raise RuleViolation("证书已过期的卡须到窗口办理延期", "a card whose certificate has expired is "
                                "renewed at the counter", field="card")
        card_rules.transition(card, "renew", actor.label, now)  # active only: the clear error otherwise

    def release_operator_renewal(self, card_id: str, card_challenge: bytes, public_key_der: bytes,
                                 grant_token: str, actor: Actor) -> tuple[bytes, bytes]:
        """A renewal granted by the legal card (:meth:`operator_action` ``renew``), through the agent:
        (admin cryptogram for the operator card's challenge, new certificate DER for the SAME card key).

        The grant is used up here, in the same transaction that registers the new certificate ON HOLD;
        any refusal (grant used, expired or for another card or enterprise; card not active or expired;
        another key) leaves everything, the grant too, as it was. :meth:`confirm_operator_renewal`
        puts the certificate in force once ``eport-card_Renew`` wrote it.
        """
        def authorise(tx: Transaction, card: Card, now: datetime) -> None:
            self._granted_card(actor, card, now)
            Challenges(tx).consume(grant_token, "grant", card.enterprise_uscc, now, card.id, "renew")

        return self._release_pending_renewal(card_id, card_challenge, public_key_der, actor, authorise,
                                             "release_operator_renewal")

    def confirm_operator_renewal(self, card_id: str, certificate_der: bytes, actor: Actor) -> Card:
        """The operator card has the released certificate: in force, record renewed (PIN back to initial),
        old certificate revoked as superseded. Only the certificate released for this card on a used
        grant is pending, so that certificate is the proof of the legal card's authorisation."""
        return self._confirm_pending_renewal(card_id, certificate_der, actor,
                                             lambda tx, card, now: self._granted_card(actor, card, now))


def login_message(nonce: str) -> str:
    """Exactly what the legal card signs for a card login (SHA-256 of its UTF-8)."""
    return f"eportcard-login|{nonce}"


def sign_operator_action(driver: CardDriver, pin: str, nonce: str, action: str, target_card_id: str
                         ) -> tuple[bytes, bytes]:
    """The legal card's side: (its certificate DER, its signature over the action message)."""
    cert_der = driver.read_certificate()
    return cert_der, driver.sign(pin, operator_action_message(nonce, action, target_card_id))


__all__ = ["CardReading", "CardService", "OperatorActionResult", "create_master_secret",
           "load_master_secret", "login_message", "sign_operator_action", "unblock_with_cryptogram", "verify_signature"]
