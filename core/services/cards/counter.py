"""Counter work, with the card in the branch's reader: personalise a card for an application, read a card,
unlock it (PIN back to 88888888) and renew its certificate (expired ones too)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from core import cards as card_rules
from core import lifecycle
from core.errors import Forbidden, InvalidInput, NotFound, RuleViolation, TransitionError
from core.hardware.driver import CardDriver
from core.model import Application, AppState, Card, CardState
from core.pki import gm, revocation
from core.pki.ca import record_for, serial_hex
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.pki.signer import check_algorithm
from core.privacy import mask_id
from core.services.actors import Actor, authorise
from core.services.applications import check_version
from core.services.cards import recovery
from core.services.cards.base import (
    KEY_ALGORITHMS,
    CardReading,
    CardWork,
    authorise_card,
    card_summary,
    certificate_ref,
)
from core.services.cards.keys import CardKeys
from core.services.cards.readers import open_reader, readers_present

if TYPE_CHECKING:
    from core.services.context import Services
    from core.store.store import Transaction


class Counter(CardWork):
    def __init__(self, services: Services, keys: CardKeys, profiles: ProfileSettings | None = None) -> None:
        super().__init__(services, keys)
        self.profiles = profiles or ProfileSettings.from_settings(services.settings)

    def personalize(self, app_id: str, item_index: int, driver: CardDriver, actor: Actor,
                    device_no: str = "", expected_version: int | None = None) -> Card:
        """Make the card for item ``item_index`` of an application in production.

        ``expected_version`` (the version the person saw) is checked before the card is touched. Written in
        two steps (core/services/cards/recovery.py): the card's ``blank`` record and its certificate on hold,
        then the card, then both in force; a card whose making a crash cut short is put right first.
        """
        wanted = self.check_making(app_id, item_index, actor, expected_version)
        for repaired in self.reconcile(driver, actor):
            if repaired.application_id == wanted.id and repaired.state is CardState.ACTIVE:
                with self.s.store.transaction(readonly=True) as tx:
                    if tx.applications.get(wanted.id).items[item_index].made:
                        return repaired  # this very item's card, made before a crash: nothing more to do
        with self.s.store.transaction(readonly=True) as tx:
            app = self._application_for_making(tx, app_id, item_index, actor, expected_version)
            info = driver.card_info()
            existing = self.read_certificate(driver) if info.personalised else None
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
        admin_key = self.keys.admin_key(info.serial)

        # Hardware: device number, key ON the card, certificate written and read back, PIN to initial.
        if device_no:
            driver.set_device_no(admin_key, device_no)
        public_key = driver.generate_key_pair(admin_key, KEY_ALGORITHMS[profile.algorithm])
        certificate = self.ca.issue(profile, subject, public_key=public_key)
        serial = serial_hex(certificate.serial_number)

        now = self.s.clock()
        with self.s.store.transaction() as tx:  # first the records: the card blank, its certificate on hold
            app = self._application_for_making(tx, app_id, item_index, actor)  # again: someone may have
            blank = tx.cards.add(Card(id=secrets.token_hex(8), enterprise_uscc=app.enterprise.uscc, kind=item.kind,
                                      holder=item.holder, medium=item.medium, application_id=app.id,
                                      card_no=info.serial, device_no=device_no))
            tx.certificates.add(record_for(certificate, card_id=blank.id))
            revocation.hold(tx.certificates, serial, now)
            tx.audit.append(actor.label, "personalize_started", "card", blank.id,
                            {**card_summary(blank), "application": app.id, "item": item_index,
                             "pending_certificate": serial})
        self.write_and_check(driver, admin_key, certificate)
        driver.reset_retry_counter(admin_key)
        with self.s.store.transaction() as tx:  # the card holds it: in force
            app = self._application_for_making(tx, app_id, item_index, actor)
            saved, event = recovery.finish_personalisation(tx, actor.label, tx.cards.get(blank.id),
                                                           certificate_ref(certificate), app, item_index,
                                                           self.s.clock())
        self.announce(saved, [event])
        return saved

    def personalize_at_reader(self, app_id: str, item_index: int, reader: str, actor: Actor,
                              expected_version: int | None = None) -> Card:
        """:meth:`personalize` with the card in the PC/SC ``reader`` (else the configured reader or the first
        holding a card). Everything it refuses without a card is refused before the reader is opened."""
        self.check_making(app_id, item_index, actor, expected_version)
        with open_reader(reader or self.s.settings.card.reader) as driver:
            return self.personalize(app_id, item_index, driver, actor, expected_version=expected_version)

    @staticmethod
    def readers() -> list[str]:
        """The PC/SC readers pcscd lists now; none when pcscd or pyscard is missing."""
        return readers_present()

    def check_making(self, app_id: str, item_index: int, actor: Actor, expected_version: int | None = None
                     ) -> Application:
        """What :meth:`personalize` refuses before it touches a card (role and branch, state, item, version),
        without a card."""
        with self.s.store.transaction(readonly=True) as tx:
            return self._application_for_making(tx, app_id, item_index, actor, expected_version)

    def _application_for_making(self, tx: Transaction, app_id: str, index: int, actor: Actor,
                                expected_version: int | None = None) -> Application:
        try:
            app = tx.applications.get(app_id)
        except NotFound:
            by_no = tx.applications.by_acceptance_no(app_id.strip().upper())  # the number on the receipt
            if by_no is None:
                raise Forbidden("无权查看或办理此申请单", "you may not view or act on this application",
                                field="application") from None
            app = by_no
        authorise(actor, "make", app)
        if expected_version is not None:
            check_version(app, expected_version)
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

    def unlock(self, driver: CardDriver, actor: Actor) -> Card:
        """The legal holder brought the card to the window: PIN back to 88888888, tries back to the limit."""
        self.reconcile(driver, actor)
        with self.s.store.transaction(readonly=True) as tx:
            info, _cert, record = self.record_for_card(tx, driver)
        authorise_card(actor, "unlock", record)
        if record.state not in (CardState.ACTIVE, CardState.LOCKED):
            card_rules.transition(record, "reset_pin", actor.label, self.s.clock())  # raises the clear error
        driver.reset_retry_counter(self.keys.admin_key(info.serial))
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
            saved = self.save(tx, actor, card, action)
        self.announce(saved, events)
        return saved

    def renew(self, driver: CardDriver, actor: Actor, algorithm: str | None = None) -> Card:
        """A new certificate for the same card key (expired certificates too); the old one is superseded.

        ``algorithm`` names the profile to move the card onto (a mixed deployment moving RSA and P-256 cards to
        SM2): the card gets a new key of that profile, and the audit trail records the move. Only this explicit
        choice changes a card's algorithm; naming the card's own profile is an ordinary renewal.
        """
        self.reconcile(driver, actor)
        with self.s.store.transaction(readonly=True) as tx:
            info, old_cert, record = self.record_for_card(tx, driver)
        authorise_card(actor, "renew", record)
        current = gm.key_algorithm(gm.certificate_public_key(old_cert))
        rekey = check_algorithm(algorithm) if algorithm and algorithm != current else None
        return self.renew_on_card(driver, info, old_cert, record, actor, rekey=rekey)


__all__ = ["KEY_ALGORITHMS", "CardReading", "Counter"]
