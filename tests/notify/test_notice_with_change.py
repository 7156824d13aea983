"""A change and its notice commit together (a transactional outbox, core/services/notify.py): the service
transaction that returns an application, locks a card or renews its certificate also puts the notice in
the outbox. A failure after the change's writes but before its COMMIT leaves neither the change nor the
notice; the process dying right after the COMMIT (before the after-commit events run) leaves both, and
the next ``deliver_messages`` run sends the notice through the gateways. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from clocks import Clock
from notifykit import ENTERPRISE_EMAIL, ENTERPRISE_MOBILE, STAFF, TEMPLATES, ent, gateways
from sqlalchemy import event

from core.hardware.testing import MASTER_SECRET, CardRig
from core.model import AppState, Card, CardKind, CardState, CertificateRef, RejectionReason
from core.pki.ca import CertificateAuthority
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.cards import CardKeys
from core.services.jobs import Scheduler
from core.store.notify import Outbox


class Crash(BaseException):
    """The process dying at this point: nothing after it runs, nothing catches it."""


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))  # the CA stamps certificates with the real time


@contextmanager
def dying_at_commit(services: Services) -> Iterator[None]:
    """The next writing transaction dies when it is about to COMMIT, every statement before it run."""
    armed = [True]

    def die(_conn) -> None:
        if armed[0]:
            armed[0] = False
            raise Crash("COMMIT")

    event.listen(services.store.engine, "commit", die)
    try:
        yield
    finally:
        event.remove(services.store.engine, "commit", die)
    assert not armed[0], "no transaction reached its COMMIT"


def dying_after_commit(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies right after the change's COMMIT, where the after-commit events would run."""
    def die(*_args, **_kwargs):
        raise Crash("after COMMIT")

    monkeypatch.setattr(services.rulebook, "transitioned", die)
    monkeypatch.setattr(services.rulebook, "card_transitioned", die)


def messages(services: Services, kind: str) -> list:
    with services.store.transaction(readonly=True) as tx:
        outbox = Outbox(tx)
        return [m for state in ("pending", "sent", "dead") for m in outbox.listing(state, 100) if m.kind == kind]


def audit_actions(services: Services, entity: str, entity_id: str) -> list[str]:
    with services.store.transaction(readonly=True) as tx:
        return [e.action for e in tx.audit.for_entity(entity, entity_id)]


def queued_audit(services: Services) -> list[dict]:
    with services.store.transaction(readonly=True) as tx:
        return [e.payload for e in tx.audit.all(limit=1000) if e.action == "notify_queued"]


def deliver(services: Services) -> str:
    (ran,) = Scheduler(services).run_due(only="deliver_messages")
    assert ran.ran and ran.ok, ran
    return ran.summary


# ---- an application returned ---------------------------------------------------------------------------------

def _accepted(services: Services):
    sample = make_enrol(1, "shenzhen")
    owner = ent(sample.enterprise.uscc)
    services.notifications.set_choice(owner, "both", ENTERPRISE_MOBILE, ENTERPRISE_EMAIL, "zh")
    app = services.applications.create(attrs.evolve(sample, id=""), owner)
    return services.applications.accept(services.applications.submit(app.id, owner).id, STAFF)


def _reject(services: Services, app):
    return services.applications.reject(app.id, STAFF, [RejectionReason.REMARKS], note="备注栏未写联系人",
                                        expected_version=app.version)


def test_a_return_that_fails_before_its_commit_leaves_neither_change_nor_notice(store, tmp_path, clock):
    with gateways(store, tmp_path, clock) as (services, tencent, smtp):
        app = _accepted(services)
        trail, queued = audit_actions(services, "application", app.id), len(queued_audit(services))
        with pytest.raises(Crash), dying_at_commit(services):
            _reject(services, app)
        assert services.applications.get(app.id, STAFF) == app  # state, version, history as they were
        assert audit_actions(services, "application", app.id) == trail
        assert messages(services, "application_returned") == [] and len(queued_audit(services)) == queued

        returned = _reject(services, app)  # the same request again, no crash: the change and its notice
        assert returned.state is AppState.REJECTED
        assert sorted(m.channel for m in messages(services, "application_returned")) == ["mail", "sms"]
        deliver(services)
        assert [r["TemplateId"] for r in tencent.accepted].count(TEMPLATES["application_returned"]) == 1
        assert sum("退回" in m["Subject"] for m in smtp.parsed()) == 1


def test_a_return_whose_process_dies_right_after_its_commit_still_tells_the_enterprise(store, tmp_path, clock,
                                                                                        monkeypatch):
    with gateways(store, tmp_path, clock) as (services, tencent, smtp):
        app = _accepted(services)
        dying_after_commit(services, monkeypatch)
        with pytest.raises(Crash):
            _reject(services, app)
        assert services.applications.get(app.id, STAFF).state is AppState.REJECTED
        queued = messages(services, "application_returned")
        assert sorted((m.channel, m.state) for m in queued) == [("mail", "pending"), ("sms", "pending")]
        keys = {m.idem_key for m in queued}
        assert {p["key"] for p in queued_audit(services) if p["kind"] == "application_returned"} == keys
        assert tencent.accepted == [] and smtp.handler.messages == []  # nothing is sent in the change

        deliver(services)  # the worker, after the commit
        (sms,) = [r for r in tencent.accepted if r["TemplateId"] == TEMPLATES["application_returned"]]
        assert sms["TemplateParamSet"][0] == app.acceptance_no
        assert sum("退回" in m["Subject"] for m in smtp.parsed()) == 1
        assert {m.state for m in messages(services, "application_returned")} == {"sent"}


# ---- a card locked, a certificate renewed -------------------------------------------------------------------

def _with_card_keys(services: Services, tmp_path: Path) -> Services:
    ca = CertificateAuthority.init(tmp_path / "ca", "通知测试发卡CA", "notify tests CA passphrase 2026", "ec-p256")
    return attrs.evolve(services, card_keys=CardKeys(ca, MASTER_SECRET))


def _card_on_record(services: Services) -> tuple[Card, Actor]:
    sample = make_enrol(2, "shenzhen")
    now = services.clock()
    card = Card(id="C0001", enterprise_uscc=sample.enterprise.uscc, kind=CardKind.LEGAL,
                holder=sample.enterprise.legal_rep, state=CardState.ACTIVE, device_no="8800000000001",
                certificate=CertificateRef("ab01", now - timedelta(days=30), now + timedelta(days=3000)))
    with services.store.transaction() as tx:
        tx.enterprises.save(sample.enterprise)
        tx.cards.add(card)
    owner = ent(card.enterprise_uscc)
    services.notifications.set_choice(owner, "both", ENTERPRISE_MOBILE, ENTERPRISE_EMAIL, "zh")
    return card, owner


def _card_state(services: Services, card_id: str) -> CardState:
    with services.store.transaction(readonly=True) as tx:
        return tx.cards.get(card_id).state


def test_a_card_lock_that_fails_before_its_commit_leaves_neither(store, tmp_path, clock):
    with gateways(store, tmp_path, clock) as (services, _tencent, _smtp):
        services = _with_card_keys(services, tmp_path)
        card, owner = _card_on_record(services)
        with pytest.raises(Crash), dying_at_commit(services):
            services.cards.self_service.report_status("ab01", True, 0, owner)  # the agent: no PIN tries left
        assert _card_state(services, card.id) is CardState.ACTIVE and audit_actions(services, "card", card.id) == []
        assert messages(services, "card_locked") == []

        services.cards.self_service.report_status("ab01", True, 0, owner)
        assert _card_state(services, card.id) is CardState.LOCKED
        assert sorted(m.channel for m in messages(services, "card_locked")) == ["mail", "sms"]


def test_a_card_lock_whose_process_dies_after_its_commit_is_still_told(store, tmp_path, clock, monkeypatch):
    with gateways(store, tmp_path, clock) as (services, tencent, _smtp):
        services = _with_card_keys(services, tmp_path)
        card, owner = _card_on_record(services)
        dying_after_commit(services, monkeypatch)
        with pytest.raises(Crash):
            services.cards.self_service.report_status("ab01", True, 0, owner)
        assert _card_state(services, card.id) is CardState.LOCKED
        assert sorted((m.channel, m.state) for m in messages(services, "card_locked")) == [
            ("mail", "pending"), ("sms", "pending")]
        deliver(services)
        assert [r["TemplateId"] for r in tencent.accepted] == [TEMPLATES["card_locked"]]


def _active_card(services: Services, tmp_path: Path) -> tuple[Card, CardRig]:
    sample = make_enrol(3, "shenzhen", operators=0)
    owner = ent(sample.enterprise.uscc)
    services.notifications.set_choice(owner, "both", ENTERPRISE_MOBILE, ENTERPRISE_EMAIL, "zh")
    svc = services.applications
    app = svc.create(attrs.evolve(sample, id=""), owner)
    app = svc.start_production(svc.accept(svc.submit(app.id, owner).id, STAFF).id, STAFF)
    rig = CardRig("inprocess", tmp_path / "card.json", serial="00c0ffee0000a001")
    return services.cards.counter.personalize(app.id, 0, rig.start(), STAFF), rig


def test_a_counter_renewal_whose_process_dies_after_its_commit_is_still_told(store, tmp_path, clock, monkeypatch):
    with gateways(store, tmp_path, clock) as (services, tencent, smtp):
        services = _with_card_keys(services, tmp_path)
        card, rig = _active_card(services, tmp_path)
        dying_after_commit(services, monkeypatch)
        with pytest.raises(Crash):
            services.cards.counter.renew(rig.restart(), STAFF)
        with services.store.transaction(readonly=True) as tx:
            renewed = tx.cards.get(card.id)
        assert renewed.certificate is not None and renewed.certificate.serial != card.certificate.serial
        assert sorted((m.channel, m.state) for m in messages(services, "certificate_renewed")) == [
            ("mail", "pending"), ("sms", "pending")]
        deliver(services)
        assert [r["TemplateId"] for r in tencent.accepted].count(TEMPLATES["certificate_renewed"]) == 1
        assert sum("更新" in m["Subject"] for m in smtp.parsed()) == 1


def test_a_renewal_finished_by_the_next_read_is_told_with_it(store, tmp_path, clock, monkeypatch):
    """The card written, the record not (the process died between them): the next read of the card finishes
    the renewal (core/services/cards/recovery.py), and its notice is queued in that repair's transaction."""
    with gateways(store, tmp_path, clock) as (services, _tencent, _smtp):
        services = _with_card_keys(services, tmp_path)
        card, rig = _active_card(services, tmp_path)
        driver = rig.restart()

        def die(*_args, **_kwargs):
            raise Crash("reset_retry_counter")

        monkeypatch.setattr(driver, "reset_retry_counter", die)  # the certificate is on the card, read back
        with pytest.raises(Crash):
            services.cards.counter.renew(driver, STAFF)
        assert messages(services, "certificate_renewed") == []  # the record still names the old certificate

        services.cards.counter.read(rig.restart(), STAFF)
        assert "reconcile_renew" in audit_actions(services, "card", card.id)
        assert sorted(m.channel for m in messages(services, "certificate_renewed")) == ["mail", "sms"]
