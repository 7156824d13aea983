"""Issue #18, a crash between the card and the database during counter personalisation and renewal, at
each point (core/services/cards/recovery.py): the record written but not the card, and the card written
but not the record. A crash is injected as an exception no one catches, raised by the card step at that
point (as if the process died there: nothing after it runs), or, on PostgreSQL, by killing the backend of
the transaction that follows the card. The next read of the card, or the daily jobs, find the difference
and put it right, audited; and the card can then be made or renewed as usual."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from sqlalchemy import create_engine, event, text

from core.hardware.driver import CardDriver
from core.hardware.testing import CardRig
from core.model import Application, AppState, CardState
from core.pki.ca import serial_hex
from core.samples import make_enrol
from core.services import Actor, DatabaseUnavailable, Services
from core.services.jobs import Scheduler
from core.store.testing import pg_url

STAFF = Actor(id="clerk", kind="staff", region="shenzhen", roles=frozenset({"branch_admin"}))


class Crash(BaseException):
    """The process dying at this point: nothing after it runs, nothing catches it."""


def _crash_in(driver: CardDriver, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_args, **_kwargs):
        raise Crash(method)

    monkeypatch.setattr(driver, method, crash)


def _in_production(services: Services, n: int) -> Application:
    sample = make_enrol(n, "shenzhen", operators=0)
    owner = Actor(id="ent", kind="enterprise", uscc=sample.enterprise.uscc)
    svc = services.applications
    app = svc.create(attrs.evolve(sample, id=""), owner)
    app = svc.accept(svc.submit(app.id, owner).id, STAFF)
    return svc.start_production(app.id, STAFF)


def _rig(tmp_path: Path, n: int) -> CardRig:
    return CardRig("inprocess", tmp_path / f"card{n}.json", serial=f"00c0ffee0000c{n:03d}")


def _actions(services: Services, card_id: str) -> list[str]:
    with services.store.transaction(readonly=True) as tx:
        return [e.action for e in tx.audit.for_entity("card", card_id)]


def _made(services: Services, app: Application) -> bool:
    return services.applications.get(app.id, Actor.system()).items[0].made


def _blank(services: Services):
    with services.store.transaction(readonly=True) as tx:
        (card,) = tx.cards.blank()
        (held,) = tx.certificates.for_card(card.id)
    return card, held


def _status(services: Services, serial: str) -> str:
    with services.store.transaction(readonly=True) as tx:
        return tx.certificates.get(serial).status


def _jobs(services: Services, clock, name: str, days: int) -> str:
    clock.now += timedelta(days=days)
    (ran,) = Scheduler(services).run_due(only=name)
    assert ran.ran and ran.ok, ran
    return ran.summary


def _personalise_crashing(services: Services, tmp_path: Path, n: int, method: str,
                          monkeypatch: pytest.MonkeyPatch) -> tuple[Application, CardRig]:
    """Personalise a new card of a new application, the process dying in the card step ``method``."""
    app, rig = _in_production(services, n), _rig(tmp_path, n)
    driver = rig.start()
    _crash_in(driver, method, monkeypatch)
    with pytest.raises(Crash):
        services.cards.counter.personalize(app.id, 0, driver, STAFF)
    return app, rig


def _renew_crashing(services: Services, rig: CardRig, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = rig.restart()
    _crash_in(driver, method, monkeypatch)
    with pytest.raises(Crash):
        services.cards.counter.renew(driver, STAFF)


# ---- personalisation --------------------------------------------------------------------------------------


def test_personalisation_record_written_card_not_is_given_up_at_the_next_read(card_services, tmp_path,
                                                                                monkeypatch):
    app, rig = _personalise_crashing(card_services, tmp_path, 1, "write_certificate", monkeypatch)
    attempt, held = _blank(card_services)
    assert held.status == "hold" and not _made(card_services, app)

    reading = card_services.cards.counter.read(rig.restart(), STAFF)  # the clerk puts the card in again
    assert reading.record is None and reading.certificate is None
    with card_services.store.transaction(readonly=True) as tx:
        assert tx.cards.get(attempt.id).state is CardState.REPLACED and tx.cards.blank() == []
    assert _status(card_services, held.serial) == "revoked"
    assert _actions(card_services, attempt.id) == ["personalize_started", "reconcile_abandon"]
    made = card_services.cards.counter.personalize(app.id, 0, rig.restart(), STAFF)
    assert made.state is CardState.ACTIVE and _made(card_services, app)


def test_personalisation_record_written_card_not_is_given_up_by_the_daily_job(card_services, tmp_path, clock,
                                                                                monkeypatch):
    app, _rig_unread = _personalise_crashing(card_services, tmp_path, 2, "write_certificate", monkeypatch)
    attempt, held = _blank(card_services)
    assert _jobs(card_services, clock, "reconcile_cards", days=0) == "gave up 0 unfinished personalisation(s)"
    assert _jobs(card_services, clock, "reconcile_cards", days=2) == "gave up 1 unfinished personalisation(s)"
    assert _status(card_services, held.serial) == "revoked" and not _made(card_services, app)
    with card_services.store.transaction(readonly=True) as tx:
        (row,) = [e for e in tx.audit.for_entity("card", attempt.id) if e.action == "reconcile_abandon"]
    assert row.actor == "system:jobs" and row.payload["revoked"] == [held.serial]


@pytest.mark.parametrize("crash_point", ["after the card, before the record", "in the record's transaction"])
def test_personalisation_card_written_record_not_is_finished_at_the_next_read(card_services, tmp_path,
                                                                                monkeypatch, crash_point):
    app, rig = _in_production(card_services, 3), _rig(tmp_path, 3)
    driver = rig.start()
    if crash_point == "after the card, before the record":
        _crash_in(driver, "reset_retry_counter", monkeypatch)  # the certificate is on the card, read back
        with pytest.raises(Crash):
            card_services.cards.counter.personalize(app.id, 0, driver, STAFF)
    else:
        with pytest.raises(Crash), CrashAtStatement(card_services, "UPDATE cards"):
            card_services.cards.counter.personalize(app.id, 0, driver, STAFF)
    attempt, held = _blank(card_services)
    on_card = card_services.cards.counter.read_certificate(rig.restart())
    assert on_card is not None and serial_hex(on_card.serial_number) == held.serial and held.status == "hold"

    reading = card_services.cards.counter.read(rig.restart(), STAFF)
    assert reading.record is not None and reading.record.id == attempt.id
    assert reading.record.state is CardState.ACTIVE and reading.certificate_status == "good"
    assert reading.info.pin_is_initial and _made(card_services, app)
    assert _actions(card_services, attempt.id) == ["personalize_started", "reconcile_personalize"]


def test_personalisation_retried_on_the_same_card_returns_the_card_made_before_the_crash(card_services, tmp_path,
                                                                                         monkeypatch):
    app, rig = _personalise_crashing(card_services, tmp_path, 4, "reset_retry_counter", monkeypatch)
    attempt, _held = _blank(card_services)
    made = card_services.cards.counter.personalize(app.id, 0, rig.restart(), STAFF)  # the clerk tries again
    assert made.id == attempt.id and made.state is CardState.ACTIVE and _made(card_services, app)
    assert _actions(card_services, attempt.id) == ["personalize_started", "reconcile_personalize"]


def test_personalisation_card_written_record_not_then_the_daily_job_gives_it_up(card_services, tmp_path, clock,
                                                                                monkeypatch):
    """Nobody read the card for a day: the job cannot see it and gives the work up (the certificate, never in
    force, revoked). The card, read later, holds nothing the records stand behind, and is made again."""
    app, rig = _personalise_crashing(card_services, tmp_path, 5, "reset_retry_counter", monkeypatch)
    attempt, held = _blank(card_services)
    _jobs(card_services, clock, "reconcile_cards", days=2)
    reading = card_services.cards.counter.read(rig.restart(), STAFF)
    assert reading.record is None and reading.certificate_status == "revoked"
    made = card_services.cards.counter.personalize(app.id, 0, rig.restart(), STAFF)
    assert made.id != attempt.id and made.state is CardState.ACTIVE and _made(card_services, app)
    assert _status(card_services, held.serial) == "revoked"


def test_personalisation_card_written_record_not_revoked_by_expire_renewals_is_given_up_at_the_read(
        card_services, tmp_path, clock, monkeypatch):
    """The week-old certificate on hold was revoked by ``expire_renewals`` before ``reconcile_cards`` ran:
    the read gives the blank record up, and the card is made again."""
    app, rig = _personalise_crashing(card_services, tmp_path, 12, "reset_retry_counter", monkeypatch)
    attempt, held = _blank(card_services)
    _jobs(card_services, clock, "expire_renewals", days=8)
    assert _status(card_services, held.serial) == "revoked"
    reading = card_services.cards.counter.read(rig.restart(), STAFF)
    assert reading.record is None and reading.certificate_status == "revoked"
    assert _actions(card_services, attempt.id) == ["personalize_started", "reconcile_abandon"]
    made = card_services.cards.counter.personalize(app.id, 0, rig.restart(), STAFF)
    assert made.state is CardState.ACTIVE and _made(card_services, app)


# ---- counter renewal --------------------------------------------------------------------------------------


def _active_card(services: Services, tmp_path: Path, n: int):
    app, rig = _in_production(services, n), _rig(tmp_path, n)
    card = services.cards.counter.personalize(app.id, 0, rig.start(), STAFF)
    return card, rig


def test_renewal_record_written_card_not_leaves_the_card_working_and_the_daily_job_revokes(card_services, tmp_path,
                                                                                           clock, monkeypatch):
    card, rig = _active_card(card_services, tmp_path, 6)
    _renew_crashing(card_services, rig, "write_certificate", monkeypatch)
    with card_services.store.transaction(readonly=True) as tx:
        (pending,) = [r for r in tx.certificates.for_card(card.id) if r.status == "hold"]
    reading = card_services.cards.counter.read(rig.restart(), STAFF)  # the card still holds the old one
    assert reading.record is not None and reading.record.certificate == card.certificate
    assert reading.certificate_status == "good" and _status(card_services, pending.serial) == "hold"
    assert _jobs(card_services, clock, "expire_renewals", days=8) == "revoked 1 unconfirmed renewal(s)"
    assert _status(card_services, pending.serial) == "revoked"
    renewed = card_services.cards.counter.renew(rig.restart(), STAFF)  # and it renews as usual
    assert renewed.certificate is not None and renewed.certificate.serial != card.certificate.serial


def test_renewal_card_written_record_not_is_finished_at_the_next_read(card_services, tmp_path, monkeypatch):
    card, rig = _active_card(card_services, tmp_path, 7)
    _renew_crashing(card_services, rig, "reset_retry_counter", monkeypatch)
    old = card.certificate.serial
    reading = card_services.cards.counter.read(rig.restart(), STAFF)
    assert reading.record is not None and reading.record.id == card.id
    new = reading.record.certificate.serial
    assert new != old and serial_hex(reading.certificate.serial_number) == new
    assert _status(card_services, new) == "good" and _status(card_services, old) == "revoked"
    assert reading.info.pin_is_initial and reading.info.tries_left == reading.info.retry_limit
    assert _actions(card_services, card.id)[-2:] == ["renew_started", "reconcile_renew"]


def test_renewal_card_written_record_not_then_given_up_writes_the_recorded_certificate_back(card_services,
                                                                                             tmp_path, clock,
                                                                                             monkeypatch):
    card, rig = _active_card(card_services, tmp_path, 8)
    _renew_crashing(card_services, rig, "reset_retry_counter", monkeypatch)
    _jobs(card_services, clock, "expire_renewals", days=8)  # nobody read the card in a week
    reading = card_services.cards.counter.read(rig.restart(), STAFF)
    assert reading.record is not None and reading.record.certificate == card.certificate
    assert serial_hex(reading.certificate.serial_number) == card.certificate.serial  # written back
    assert reading.certificate_status == "good"
    assert _actions(card_services, card.id)[-2:] == ["renew_started", "reconcile_restore"]
    renewed = card_services.cards.counter.renew(rig.restart(), STAFF)
    assert renewed.state is CardState.ACTIVE and renewed.certificate.serial != card.certificate.serial


def test_a_card_whose_records_agree_is_read_without_a_write(card_services, tmp_path):
    card, rig = _active_card(card_services, tmp_path, 9)
    before = _actions(card_services, card.id)
    assert card_services.cards.counter.read(rig.restart(), STAFF).record == card
    assert _actions(card_services, card.id) == before


# ---- a database killed in the middle of the record's transaction (PostgreSQL) ---------------------------------


class CrashAtStatement:
    """Raise :class:`Crash` when the store is about to run a statement starting with ``prefix`` (once); on
    PostgreSQL kill the backend first, so the database really loses the connection mid-transaction."""

    def __init__(self, services: Services, prefix: str) -> None:
        self.engine = services.store.engine
        self.prefix = prefix.upper()
        self.done = False

    def _hook(self, conn, _cursor, statement: str, *_args) -> None:
        if self.done or not statement.lstrip().upper().startswith(self.prefix):
            return
        self.done = True
        if conn.dialect.name == "postgresql":
            admin = create_engine(pg_url())
            try:
                with admin.begin() as other:
                    pid = conn.connection.dbapi_connection.info.backend_pid
                    assert other.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid}).scalar_one()
            finally:
                admin.dispose()
            return  # the statement now meets a dead connection: DatabaseUnavailable, turned into Crash below
        raise Crash(self.prefix)

    def __enter__(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._hook)

    def __exit__(self, kind, exc, _tb) -> bool:
        event.remove(self.engine, "before_cursor_execute", self._hook)
        if isinstance(exc, DatabaseUnavailable):
            raise Crash("database gone") from exc
        return False


def test_the_application_state_is_never_ahead_of_the_cards(card_services, tmp_path, monkeypatch):
    """Whatever the crash point, an item is marked made only together with an active card for it."""
    for n, method in ((10, "write_certificate"), (11, "reset_retry_counter")):
        app, _rig_unread = _personalise_crashing(card_services, tmp_path, n, method, monkeypatch)
        assert not _made(card_services, app)
        with card_services.store.transaction(readonly=True) as tx:
            live = [c for c in tx.cards.for_enterprise(app.enterprise.uscc) if c.state is CardState.ACTIVE]
        assert live == [] and card_services.applications.get(app.id, Actor.system()).state is AppState.IN_PRODUCTION
