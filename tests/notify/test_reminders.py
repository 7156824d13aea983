"""Renewal reminders: at each point once per card and certificate, beyond the region's window never,
through both gateways; the staff's expiring list and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import attrs
from notifykit import ENTERPRISE_EMAIL, ENTERPRISE_MOBILE, STAFF, TEMPLATES, ent, gateways, notify_services

from core.config import NotifySettings, SmsSettings
from core.model import Business, Card, CardKind, CardState, CertificateRef
from core.samples import make_enrol
from core.services import Actor
from core.services.notify_reminders import CSV_HEADER, expiring, expiring_csv, scan
from core.store.notify import Outbox

UTC_DAY = timedelta(days=1)


def _card(services, n: int, days_left: float, state=CardState.ACTIVE, serial: str | None = None) -> Card:
    app = make_enrol(n, "shenzhen")
    now = services.clock()
    card = Card(id=f"C{n:04d}", enterprise_uscc=app.enterprise.uscc, kind=CardKind.LEGAL, holder=app.enterprise.legal_rep,
                state=state, device_no=f"880000000{n:04d}",
                certificate=CertificateRef(serial or f"ab{n:04x}", now - timedelta(days=3000),
                                           now + timedelta(days=days_left)))
    with services.store.transaction() as tx:
        tx.enterprises.save(app.enterprise)
        tx.cards.add(card)
    services.notifications.set_choice(ent(card.enterprise_uscc), "both", ENTERPRISE_MOBILE, ENTERPRISE_EMAIL, "zh")
    return card


def _queued(services, kind="renewal_reminder"):
    with services.store.transaction(readonly=True) as tx:
        return [m for m in Outbox(tx).listing("pending", 100) + Outbox(tx).listing("sent", 100) if m.kind == kind]


def test_an_expiring_card_is_reminded_by_sms_and_mail_once_per_point(store, tmp_path, clock):
    with gateways(store, tmp_path, clock) as (services, tencent, smtp):
        card = _card(services, 1, 25.5)
        _card(services, 2, 200)  # beyond every point
        _card(services, 3, 20, state=CardState.VOIDED)  # cannot be renewed: never reminded
        report = scan(services)
        assert (report.queued, report.skipped) == (1, 0)
        assert scan(services).queued == 0  # once per point
        assert services.notifications.deliver_due().sent == 2
        (sms,) = [r for r in tencent.accepted if r["TemplateId"] == TEMPLATES["renewal_reminder"]]
        holder = card.holder.name
        not_after = (clock.now + timedelta(days=25.5)).astimezone().date()
        assert sms["TemplateParamSet"][0] == f"{holder}的法人卡"
        assert sms["TemplateParamSet"][1] in {str(not_after), str(not_after + UTC_DAY)}  # China's date
        renew = services.rulebook.offer("shenzhen", Business.RENEW)
        assert sms["TemplateParamSet"][2].startswith(renew.channels[0].name.zh[:4])
        (mail,) = [m for m in smtp.parsed() if "到期" in m["Subject"]]
        body = mail.get_content()
        assert "还有 25 天" in body or "还有 26 天" in body
        assert "in 25 days" in body or "in 26 days" in body

        clock.now += timedelta(days=20)  # 5.5 days left: the 7-day point
        assert scan(services).queued == 1
        assert scan(services).queued == 0
        keys = sorted(m.idem_key for m in _queued(services))
        assert keys == sorted(f"remind:{card.id}:{card.certificate.serial}:{days}:{channel}"
                              for days in (7, 30) for channel in ("mail", "sms"))


def test_a_renewed_certificate_is_reminded_afresh(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock, sms=SmsSettings(gateway="outbox"), development=True)
    card = _card(services, 1, 5)
    assert scan(services).queued == 1
    with services.store.transaction() as tx:
        stored = tx.cards.get(card.id)
        renewed = attrs.evolve(stored, certificate=attrs.evolve(stored.certificate, serial="cd01",
                                                                not_after=clock.now + timedelta(days=6)))
        tx.cards.update(renewed)
    assert scan(services).queued == 1  # a new certificate, a new reminder


def test_a_point_beyond_the_regions_renewal_window_is_skipped(store, tmp_path, clock):
    # Shenzhen renews 0-180 days before the end: a 200-day reminder would ask for what cannot be done yet.
    window = notify_services(store, tmp_path, clock).rulebook.card_policy("shenzhen").renewal_window_days
    services = notify_services(store, tmp_path, clock, sms=SmsSettings(gateway="outbox"), development=True,
                               notify=NotifySettings(reminder_days=(window + 20, 30)))
    _card(services, 1, window + 10)
    _card(services, 2, 10)
    report = scan(services)
    assert (report.found, report.queued, report.skipped) == (2, 1, 1)
    assert scan(services).found == 0  # the skipped one is not looked at again


def test_two_scans_at_once_remind_each_card_once(store, tmp_path, clock):
    import threading

    services = notify_services(store, tmp_path, clock, sms=SmsSettings(gateway="outbox"), development=True)
    for n in range(1, 9):
        _card(services, n, 3 + n)
    barrier, reports = threading.Barrier(2), []

    def run() -> None:
        barrier.wait()
        reports.append(scan(services))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.queued for r in reports) == 8
    assert len(_queued(services)) == 8


def test_the_expiring_list_and_its_csv(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock, sms=SmsSettings(gateway="outbox"), development=True)
    soon = _card(services, 1, 10)
    later = _card(services, 2, 80)
    _card(services, 3, 120)  # beyond 90 days
    scan(services)
    rows = expiring(services, STAFF)
    assert [r.card_id for r in rows] == [soon.id, later.id]
    assert rows[0].days_left in (10, 9) and rows[0].reminded == (30,) and rows[1].reminded == (90,)
    assert [r.card_id for r in expiring(services, STAFF, within_days=30)] == [soon.id]
    other_branch = attrs.evolve(STAFF, region="xian")
    assert expiring(services, other_branch) == []
    text = "".join(expiring_csv(services, STAFF))
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert tuple(table[0]) == CSV_HEADER and [r[0] for r in table[1:]] == [soon.id, later.id]
    assert table[1][3] == "法人卡" and table[1][10] == "30"


def test_each_branch_pages_through_its_own_expiring_cards(store, tmp_path, clock):
    """Two branches' cards interleaved by expiry: a branch's page is a whole page of its own cards (the
    region is filtered in the query, not after it), as staff see their branch's applications only."""
    services = notify_services(store, tmp_path, clock, sms=SmsSettings(gateway="outbox"), development=True)
    by_region: dict[str, list[str]] = {"shenzhen": [], "xian": []}
    for n in range(1, 9):
        region = "xian" if n % 2 else "shenzhen"
        card = _card(services, n, 10 + n)
        if region == "xian" or n == 8:  # a card made for an application of its region; the others: the default
            app = make_enrol(n, region)
            with services.store.transaction() as tx:
                tx.applications.add(app)
                tx.cards.update(attrs.evolve(tx.cards.get(card.id), application_id=app.id))
        by_region[region].append(card.id)
    xian_staff = attrs.evolve(STAFF, region="xian")
    for actor, region in ((STAFF, "shenzhen"), (xian_staff, "xian")):
        pages = [[r.card_id for r in expiring(services, actor, limit=3, offset=offset)] for offset in (0, 3)]
        assert pages == [by_region[region][:3], by_region[region][3:]]
        assert all(r.region == region for r in expiring(services, actor))
        table = list(csv.reader(io.StringIO("".join(expiring_csv(services, actor)).lstrip("\ufeff"))))
        assert [row[0] for row in table[1:]] == by_region[region] and {row[7] for row in table[1:]} == {region}
    everyone = [r.card_id for r in expiring(services, Actor.system("test"))]
    assert everyone == [f"C{n:04d}" for n in range(1, 9)]
    no_branch = attrs.evolve(STAFF, region="")
    assert expiring(services, no_branch) == []  # staff without a branch see none, not every branch's


def test_an_enterprise_cannot_read_the_expiring_list(store, tmp_path, clock):
    import pytest

    from core.errors import Forbidden

    services = notify_services(store, tmp_path, clock)
    with pytest.raises(Forbidden) as refused:
        expiring(services, ent("91440300MA5XXXXXX1"))
    assert refused.value.zh and refused.value.en
