"""Revoke / hold / release rules, the card-lifecycle mapping, and the same checks on the real store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from pki_helpers import SETTINGS, SUBJECT

from core.cards import CARD_MOVES
from core.errors import EportError, InvalidInput, NotFound, TransitionError
from core.model import CardKind
from core.pki import revocation
from core.pki.ca import record_for, serial_hex
from core.pki.crl import build_crl
from core.pki.profiles import profile_for
from core.pki.registry import CertificateRecord, MemoryRegistry, RegistryFactory, store_registry_factory
from core.pki.signer import generate_key

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _record(serial: str = "8" + "0" * 31) -> CertificateRecord:
    return CertificateRecord(serial=serial, card_id="c", enterprise_uscc=SUBJECT.uscc, kind=CardKind.LEGAL,
                             subject="CN=x", not_before=NOW, not_after=NOW.replace(year=2035), pem="")


def test_every_card_move_effect_is_one_the_ca_can_apply():
    """core.cards says what each card move does to the certificate; every reason it names is a CRL reason
    (a hold is always certificateHold), so applying any move's effect never fails on its reason."""
    for action, move in CARD_MOVES.items():
        if move.effect is None:
            continue
        assert move.effect.kind in ("hold", "release", "revoke"), action
        if move.effect.kind == "revoke":
            assert revocation.parse_reason(move.effect.reason) in revocation.REVOKE_REASONS, action
        elif move.effect.kind == "hold":
            assert move.effect.reason == x509.ReasonFlags.certificate_hold.name, action
        registry = MemoryRegistry([_record()])
        if move.effect.kind == "release":
            revocation.hold(registry, "8" + "0" * 31, at=NOW)
        record = revocation.apply_card_action(registry, "8" + "0" * 31, action, at=NOW)
        assert record is not None and record.status == {"hold": "hold", "release": "good",
                                                         "revoke": "revoked"}[move.effect.kind], action


@pytest.mark.parametrize("action, status, reason", [
    ("freeze", "hold", "certificateHold"),
    ("report_lost", "hold", "certificateHold"),
    ("void", "revoked", "keyCompromise"),
    ("cancel", "revoked", "cessationOfOperation"),
    ("replace", "revoked", "superseded"),
])
def test_card_actions(action, status, reason):
    registry = MemoryRegistry([_record()])
    record = revocation.apply_card_action(registry, "8" + "0" * 31, action, at=NOW)
    assert (record.status, record.reason, record.revoked_at) == (status, reason, NOW)


def test_actions_without_certificate_effect_change_nothing():
    registry = MemoryRegistry([_record()])
    assert revocation.apply_card_action(registry, "8" + "0" * 31, "unlock") is None
    assert registry.get("8" + "0" * 31).status == "good"


def exercise_rules(factory: RegistryFactory) -> None:
    """The status rules, through any registry; every refused step must change nothing."""
    serial = "9" + "a" * 31

    def status() -> tuple:
        with factory() as registry:
            record = registry.get(serial)
            assert record is not None
            return record.status, record.reason

    def refused(error: type[EportError], step) -> None:
        before = status()
        with pytest.raises(error) as caught, factory() as registry:
            step(registry)
        assert caught.value.zh and caught.value.en and caught.value.field
        assert status() == before

    with factory() as registry:
        registry.add(_record(serial))
    refused(NotFound, lambda r: revocation.revoke(r, "ab" * 16, "superseded"))
    refused(NotFound, lambda r: revocation.hold(r, "ab" * 16))
    refused(TransitionError, lambda r: revocation.release(r, serial))  # not on hold
    refused(InvalidInput, lambda r: revocation.revoke(r, serial, "because"))
    refused(InvalidInput, lambda r: revocation.revoke(r, serial, "certificate_hold"))  # use hold()

    with factory() as registry:
        revocation.hold(registry, serial, at=NOW)
    assert status() == ("hold", "certificateHold")
    refused(TransitionError, lambda r: revocation.hold(r, serial))
    with factory() as registry:
        revocation.release(registry, serial)
    assert status() == ("good", None)
    with factory() as registry:
        revocation.hold(registry, serial.upper(), at=NOW)  # serials are matched case-insensitively
        revocation.revoke(registry, serial, x509.ReasonFlags.key_compromise, at=NOW)
    assert status() == ("revoked", "keyCompromise")
    refused(TransitionError, lambda r: revocation.hold(r, serial))
    refused(TransitionError, lambda r: revocation.release(r, serial))
    refused(TransitionError, lambda r: revocation.revoke(r, serial, "superseded"))
    with factory() as registry:  # replacing a voided card: already revoked, nothing more to do
        assert revocation.apply_card_action(registry, serial, "replace").reason == "keyCompromise"


def test_rules_on_memory_registry():
    exercise_rules(MemoryRegistry().factory())


def test_rules_on_the_store(store):
    exercise_rules(store_registry_factory(store))


def test_issue_and_crl_from_the_store(store, cas, algorithm):
    """The CA records into tx.certificates and builds its CRL from it (SQLite and PostgreSQL)."""
    _, issuing = cas
    factory = store_registry_factory(store)
    profile = profile_for("operator", SETTINGS, algorithm)
    with factory() as registry:
        certs = [issuing.issue(profile, SUBJECT, public_key=generate_key(algorithm).public_key(),
                               registry=registry, card_id=f"card-{i}") for i in range(3)]
        revocation.apply_card_action(registry, serial_hex(certs[0].serial_number), "freeze", at=NOW)
        revocation.apply_card_action(registry, serial_hex(certs[1].serial_number), "cancel", at=NOW)
    with factory() as registry:
        crl = build_crl(issuing, registry, crl_number=7)
    entries = {e.serial_number: e for e in crl}
    assert set(entries) == {certs[0].serial_number, certs[1].serial_number}
    reason = entries[certs[1].serial_number].extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.cessation_of_operation
    assert entries[certs[1].serial_number].revocation_date_utc == NOW
    with factory() as registry:
        assert registry.get(serial_hex(certs[2].serial_number)) == record_for(certs[2], "card-2")


class CertificateStatusMachine(RuleBasedStateMachine):
    """Random hold / release / revoke sequences against a plain model of the rules."""

    def __init__(self) -> None:
        super().__init__()
        self.serials = [format((1 << 127) | i, "x") for i in range(3)]
        self.registry = MemoryRegistry([_record(s) for s in self.serials])
        self.model = dict.fromkeys(self.serials, "good")

    serial_index = st.integers(0, 2)

    def _try(self, index: int, call, allowed: bool, target: str) -> None:
        serial = self.serials[index]
        if allowed:
            call(self.registry, serial)
            self.model[serial] = target
        else:
            with pytest.raises(TransitionError):
                call(self.registry, serial)

    @rule(index=serial_index)
    def hold(self, index):
        self._try(index, revocation.hold, self.model[self.serials[index]] == "good", "hold")

    @rule(index=serial_index)
    def release(self, index):
        self._try(index, revocation.release, self.model[self.serials[index]] == "hold", "good")

    @rule(index=serial_index, reason=st.sampled_from(revocation.REVOKE_REASONS))
    def revoke(self, index, reason):
        self._try(index, lambda r, s: revocation.revoke(r, s, reason),
                  self.model[self.serials[index]] != "revoked", "revoked")

    @invariant()
    def registry_matches_model(self):
        for serial, expected in self.model.items():
            assert self.registry.get(serial).status == expected
        assert {r.serial for r in self.registry.revoked()} == \
            {s for s, v in self.model.items() if v != "good"}


TestCertificateStatusMachine = CertificateStatusMachine.TestCase
TestCertificateStatusMachine.settings = settings(max_examples=60, stateful_step_count=20, deadline=None)


