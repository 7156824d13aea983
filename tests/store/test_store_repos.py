"""Repositories: aggregates round-trip whole, queries filter and order, versions guard updates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import attrs
import pytest
from sqlalchemy import select
from store_samples import T0, make_application, make_card, make_enterprise

from core.errors import ConflictError, InvalidInput, NotFound, TransitionError
from core.model import AppState, Attachment, Business, CardKind, CardState
from core.store import CertificateRecord, Store
from core.store.tables import applications, cards


def test_enterprise_round_trip_and_upsert(store: Store):
    ent = make_enterprise()
    with store.transaction() as tx:
        assert tx.enterprises.get(ent.uscc) is None
        tx.enterprises.save(ent)
    with store.transaction() as tx:
        loaded = tx.enterprises.get(ent.uscc)
        assert loaded == ent
        assert loaded is not None and loaded.customs_codes == ("4403123456", "4403654321")
        assert tx.enterprises.version(ent.uscc) == 1
        tx.enterprises.save(attrs.evolve(ent, name="深圳市新名称有限公司", customs_codes=("4403999999",)))
    with store.transaction() as tx:
        again = tx.enterprises.get(ent.uscc)
        assert again is not None and again.name == "深圳市新名称有限公司"
        assert again.customs_codes == ("4403999999",)
        assert tx.enterprises.version(ent.uscc) == 2


def test_application_with_history_round_trips(store: Store):
    app = make_application(due=date(2026, 3, 9), acceptance_no="WSZ0000988")
    with store.transaction() as tx:
        added = tx.applications.add(app)
    assert added.version == 1
    with store.transaction() as tx:
        loaded = tx.applications.get(app.id)
    assert loaded == attrs.evolve(app, version=1)
    assert loaded.history[1].reasons == app.history[1].reasons
    assert loaded.history[0].at == T0 and loaded.history[0].at.tzinfo is not None
    assert loaded.items == app.items and loaded.pickup == app.pickup


def test_add_sets_created_at_when_missing_and_refuses_duplicates(store: Store):
    app = attrs.evolve(make_application(), created_at=None)
    with store.transaction() as tx:
        added = tx.applications.add(app)
    assert added.created_at is not None and added.created_at.tzinfo is not None
    with pytest.raises(ConflictError), store.transaction() as tx:
        tx.applications.add(app)


def test_missing_application_is_not_found(store: Store):
    with store.transaction() as tx:
        with pytest.raises(NotFound) as info:
            tx.applications.get("nope")
        assert info.value.field == "application" and info.value.zh and info.value.en
        assert tx.applications.by_acceptance_no("SZ0000001") is None


def test_update_bumps_version_and_rewrites_derived_columns(store: Store):
    with store.transaction() as tx:
        app = tx.applications.add(make_application())
    accepted = attrs.evolve(app, state=AppState.ACCEPTED, acceptance_no="SZ0001127", due=date(2026, 3, 20))
    with store.transaction() as tx:
        saved = tx.applications.update(accepted)
    assert saved.version == 2
    with store.engine.connect() as conn:
        row = conn.execute(select(applications).where(applications.c.id == app.id)).one()
    # the columns come from the aggregate, so they agree with it
    assert (row.state, row.acceptance_no, row.due, row.version) == (
        "accepted", "SZ0001127", date(2026, 3, 20), 2)
    with store.transaction() as tx:
        assert tx.applications.by_acceptance_no("SZ0001127") == saved


def test_stale_update_conflicts_and_changes_nothing(store: Store):
    with store.transaction() as tx:
        app = tx.applications.add(make_application())
    # Two people loaded version 1 (in separate requests); the first to save wins.
    with store.transaction() as tx:
        first = tx.applications.get(app.id)
    with store.transaction() as tx:
        second = tx.applications.get(app.id)
    with store.transaction() as tx:
        tx.applications.update(attrs.evolve(first, remarks="first"))
    with pytest.raises(ConflictError) as info, store.transaction() as tx:
        tx.applications.update(attrs.evolve(second, remarks="second"))
    assert info.value.zh and info.value.en and info.value.field == "version"
    with store.transaction() as tx:
        stored = tx.applications.get(app.id)
    assert (stored.remarks, stored.version) == ("first", 2)


def test_update_of_unknown_application_is_not_found(store: Store):
    with pytest.raises(NotFound), store.transaction() as tx:
        tx.applications.update(attrs.evolve(make_application("ghost"), version=1))


def test_duplicate_acceptance_number_conflicts(store: Store):
    with store.transaction() as tx:
        tx.applications.add(make_application("A-1", acceptance_no="SZ0000001"))
        b = tx.applications.add(make_application("A-2"))
    with pytest.raises(ConflictError), store.transaction() as tx:
        tx.applications.update(attrs.evolve(b, acceptance_no="SZ0000001"))
    with store.transaction() as tx:
        assert tx.applications.get("A-2").acceptance_no == ""


def test_rollback_leaves_nothing_half_written(store: Store):
    class Boom(Exception):
        pass

    with store.transaction() as tx:
        tx.applications.add(make_application("kept"))
    with pytest.raises(Boom), store.transaction() as tx:
        tx.enterprises.save(make_enterprise("91440300MA5FYYYY0B"))
        tx.applications.add(make_application("lost"))
        app = tx.applications.get("kept")
        tx.applications.update(attrs.evolve(app, remarks="changed"))
        tx.cards.add(make_card())
        tx.audit.append("staff:王", "accept", "application", "lost", {})
        tx.next_sequence("shenzhen")
        raise Boom
    with store.transaction() as tx:
        assert tx.enterprises.get("91440300MA5FYYYY0B") is None
        with pytest.raises(NotFound):
            tx.applications.get("lost")
        assert tx.applications.get("kept").remarks == "新入网"
        assert tx.applications.get("kept").version == 1
        assert tx.cards.for_enterprise(make_card().enterprise_uscc) == []
        assert tx.next_sequence("shenzhen") == 1
        assert tx.audit.all() == []
    assert store.audit_verify().ok


def _ids(apps) -> list[str]:
    return [a.id for a in apps]


@pytest.fixture
def queue(store: Store) -> Store:
    other = make_enterprise("91350200MA2ZZZZZ0C", "厦门市另一家公司")
    sub = AppState.SUBMITTED

    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    rows = [
        make_application("A1", state=sub, due=date(2026, 3, 10), created_at=at(0)),
        make_application("A2", state=sub, due=None, created_at=at(1)),
        make_application("A3", state=sub, due=date(2026, 3, 5), created_at=at(2)),
        make_application("A4", state=AppState.ACCEPTED, due=date(2026, 3, 1), created_at=at(3),
                         acceptance_no="WSZ0000988"),
        make_application("X1", enterprise=other, region="xiamen", business=Business.RENEW,
                         state=sub, due=date(2026, 3, 2), created_at=at(4)),
        make_application("D1", state=AppState.DRAFT, created_at=at(5)),
        make_application("C1", state=AppState.COMPLETED, created_at=at(6)),
    ]
    with store.transaction() as tx:
        for app in rows:
            tx.applications.add(app)
    return store


def test_staff_queue_orders_by_due_with_no_due_last(queue: Store):
    with queue.transaction() as tx:
        found = tx.applications.find(region="shenzhen", states=[AppState.SUBMITTED, AppState.ACCEPTED])
        assert _ids(found) == ["A4", "A3", "A1", "A2"]
        assert tx.applications.count(region="shenzhen", states=[AppState.SUBMITTED, AppState.ACCEPTED]) == 4
        assert _ids(tx.applications.find(states=[AppState.SUBMITTED])) == ["X1", "A3", "A1", "A2"]
        assert _ids(tx.applications.find(states=[AppState.SUBMITTED], limit=2, offset=1)) == ["A3", "A1"]


def test_filters_by_enterprise_business_and_search(queue: Store):
    with queue.transaction() as tx:
        assert _ids(tx.applications.find(business=Business.RENEW)) == ["X1"]
        assert _ids(tx.applications.find(enterprise="91350200MA2ZZZZZ0C")) == ["X1"]
        assert _ids(tx.applications.find(search="wsz0000988")) == ["A4"]
        assert _ids(tx.applications.find(search="另一家")) == ["X1"]
        assert tx.applications.count(search="91440300MA5F") == 6
        assert tx.applications.count(search="%") == 0  # wildcards are literal
        assert tx.applications.count() == 7


def test_created_and_updated_orders_are_newest_first(queue: Store):
    with queue.transaction() as tx:
        assert _ids(tx.applications.find(order="created"))[:3] == ["C1", "D1", "X1"]
        a1 = tx.applications.get("A1")
        tx.applications.update(attrs.evolve(a1, remarks="touched"))
    with queue.transaction() as tx:
        assert _ids(tx.applications.find(order="updated"))[0] == "A1"
        with pytest.raises(InvalidInput):
            tx.applications.find(order="random")


def test_open_for_skips_closed_states(queue: Store):
    with queue.transaction() as tx:
        open_ids = _ids(tx.applications.open_for("91440300MA5FXXXX0A", Business.ENROL))
        assert open_ids == ["A1", "A2", "A3", "A4"]
        assert tx.applications.open_for("91440300MA5FXXXX0A", Business.RENEW) == []


def test_card_round_trip_lookups_and_versions(store: Store):
    card = make_card(serial="0a1b2c", device_no="8800000000001")
    with store.transaction() as tx:
        assert tx.cards.add(card).version == 1
    with store.transaction() as tx:
        loaded = tx.cards.get(card.id)
        assert loaded == attrs.evolve(card, version=1)
        assert tx.cards.by_certificate("0A1B2C") == loaded
        assert tx.cards.by_device_no("8800000000001") == loaded
        assert tx.cards.by_device_no("0000000000000") is None
        assert tx.cards.for_enterprise(card.enterprise_uscc) == [loaded]
        locked = tx.cards.update(attrs.evolve(loaded, state=CardState.LOCKED))
        assert locked.version == 2
        with pytest.raises(ConflictError):
            tx.cards.update(attrs.evolve(loaded, state=CardState.FROZEN))
    with store.engine.connect() as conn:
        row = conn.execute(select(cards)).one()
    assert (row.state, row.certificate_serial, row.version) == ("locked", "0a1b2c", 2)
    assert row.not_after == card.certificate.not_after
    with store.transaction() as tx, pytest.raises(NotFound):
        tx.cards.get("missing")


def _cert(serial: str, **kw) -> CertificateRecord:
    return CertificateRecord(serial=serial, card_id="C-0001", enterprise_uscc="91440300MA5FXXXX0A",
                             kind=CardKind.LEGAL, subject="CN=深圳市测试贸易有限公司", not_before=T0,
                             not_after=T0 + timedelta(days=3650), pem="-----BEGIN CERTIFICATE-----\n", **kw)


def test_certificates_status_and_revocation_list(store: Store):
    when = datetime(2026, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    with store.transaction() as tx:
        tx.certificates.add(_cert("01"))
        tx.certificates.add(_cert("0A"))  # stored lowercase
        tx.certificates.add(_cert("ff"))
        assert tx.certificates.get("0a") == _cert("0a")
        held = tx.certificates.set_status("01", "hold", at=when)
        assert (held.status, held.reason) == ("hold", "certificateHold")
        tx.certificates.set_status("0a", "revoked", reason="keyCompromise", at=when + timedelta(hours=1))
    with store.transaction() as tx:
        revoked = list(tx.certificates.revoked())
        assert [(c.serial, c.status, c.reason) for c in revoked] == [
            ("01", "hold", "certificateHold"), ("0a", "revoked", "keyCompromise")]
        assert revoked[0].revoked_at == when and revoked[0].revoked_at.tzinfo is not None
        released = tx.certificates.set_status("01", "good")
        assert (released.status, released.reason, released.revoked_at) == ("good", None, None)
        assert [c.serial for c in tx.certificates.revoked()] == ["0a"]
        with pytest.raises(TransitionError):
            tx.certificates.set_status("0a", "good")
        with pytest.raises(InvalidInput):
            tx.certificates.set_status("ff", "revoked", reason="because")
        with pytest.raises(InvalidInput):
            tx.certificates.set_status("ff", "lost")
        with pytest.raises(NotFound):
            tx.certificates.set_status("abcdef", "hold")
        with pytest.raises(ConflictError):
            tx.certificates.add(_cert("ff"))
        assert tx.certificates.get("ff") == _cert("ff")


def test_attachments_round_trip(store: Store):
    att = Attachment(id="F1", sha256="ab" * 32, filename="营业执照.pdf", media_type="application/pdf",
                     size=1234, uploaded_at=T0, owner_uscc="91440300MA5FXXXX0A", application_id="A-0001",
                     material="business_licence")
    loose = attrs.evolve(att, id="F2", application_id="", uploaded_at=T0 + timedelta(seconds=1))
    with store.transaction() as tx:
        tx.attachments.add(att)
        tx.attachments.add(loose)
    with store.transaction() as tx:
        assert tx.attachments.get("F1") == att
        assert tx.attachments.get("F2") == loose
        assert tx.attachments.for_application("A-0001") == [att]
        with pytest.raises(NotFound):
            tx.attachments.get("F3")


def test_sequences_count_per_name(store: Store):
    with store.transaction() as tx:
        assert [tx.next_sequence("shenzhen") for _ in range(3)] == [1, 2, 3]
        assert tx.next_sequence("xiamen") == 1
    with store.transaction() as tx:
        assert tx.next_sequence("shenzhen") == 4


def test_datetimes_are_aware_utc_whatever_zone_goes_in(store: Store):
    beijing = timezone(timedelta(hours=8))
    local = datetime(2026, 6, 1, 9, 30, 15, 123456, tzinfo=beijing)
    with store.transaction() as tx:
        tx.applications.add(attrs.evolve(make_application(), submitted_at=local, created_at=local))
    with store.engine.connect() as conn:
        row = conn.execute(select(applications)).one()
    assert row.created_at == local and row.created_at.utcoffset() == timedelta(0)
    assert row.submitted_at == datetime(2026, 6, 1, 1, 30, 15, 123456, tzinfo=UTC)
    with pytest.raises(Exception, match="naive"), store.transaction() as tx:
        tx.applications.add(attrs.evolve(make_application("naive"), created_at=datetime(2026, 1, 1)))
