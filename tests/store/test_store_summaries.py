"""List-row summaries (ApplicationRepo.find_summaries): the same rows as find, read without aggregates.

Each expected summary is derived here from the aggregate that find() loads, so the test checks the
summary column and its reader against the JSON the aggregate is stored in, on both backends.
"""

from __future__ import annotations

from datetime import date, timedelta

import attrs
import pytest
from sqlalchemy import update
from store_samples import T0, make_application, make_enterprise

from core.model import Application, AppState, Business, CardKind, CardRequest, Person
from core.store import Store
from core.store.records import ApplicationSummary, HolderLine, PersonLine
from core.store.tables import applications


def expected(app: Application) -> ApplicationSummary:
    return ApplicationSummary(
        id=app.id, acceptance_no=app.acceptance_no, business=app.business, region=app.region, state=app.state,
        version=app.version, due=app.due, submitted_at=app.submitted_at, enterprise_uscc=app.enterprise.uscc,
        enterprise_name=app.enterprise.name,
        agent=PersonLine(app.agent.name, app.agent.id_number) if app.agent else None,
        holders=tuple(HolderLine(i.kind, i.holder.name, i.holder.id_number) for i in app.items))


FILTERS = [
    {},
    {"region": "shenzhen", "states": [AppState.SUBMITTED, AppState.ACCEPTED]},
    {"states": [AppState.SUBMITTED], "limit": 2, "offset": 1},
    {"business": Business.RENEW},
    {"enterprise": "91350200MA2ZZZZZ0C"},
    {"search": "wsz0000988"},
    {"search": "另一家"},
    {"order": "created"},
    {"order": "updated", "limit": 3},
]


@pytest.fixture
def listed(store: Store) -> Store:
    other = make_enterprise("91350200MA2ZZZZZ0C", "厦门市另一家公司")
    sub = AppState.SUBMITTED
    rows = [
        make_application("A1", state=sub, due=date(2026, 3, 10), created_at=T0),
        make_application("A2", state=sub, due=None, created_at=T0 + timedelta(minutes=1)),
        make_application("A3", state=AppState.ACCEPTED, due=date(2026, 3, 1), acceptance_no="WSZ0000988",
                         created_at=T0 + timedelta(minutes=2)),
        make_application("X1", enterprise=other, region="xiamen", business=Business.RENEW, state=sub,
                         due=date(2026, 3, 2), created_at=T0 + timedelta(minutes=3)),
        # no agent chosen yet and no cards: the summary says so rather than inventing them
        attrs.evolve(make_application("D1", created_at=T0 + timedelta(minutes=4)), agent=None, items=()),
    ]
    with store.transaction() as tx:
        for app in rows:
            tx.applications.add(app)
    return store


def _check_every_filter(store: Store) -> None:
    with store.transaction(readonly=True) as tx:
        for filters in FILTERS:
            apps = tx.applications.find(**filters)
            assert apps, filters  # every filter selects something, so the comparison means something
            assert tx.applications.find_summaries(**filters) == [expected(a) for a in apps], filters
            # the driver-level read the web front uses: the same rows (falling back for searches and
            # for rows without a summary)
            assert store.quick.find_summaries(**filters) == [expected(a) for a in apps], filters


def test_summaries_are_the_rows_find_returns_in_the_same_order(listed: Store):
    _check_every_filter(listed)
    with listed.transaction(readonly=True) as tx:
        assert tx.applications.find_summaries(search="nothing matches this") == []


def test_an_update_keeps_the_summary_in_step(listed: Store):
    newcomer = Person("王五", "440902199303033456")
    with listed.transaction() as tx:
        app = tx.applications.get("A1")
        tx.applications.update(attrs.evolve(app, agent=newcomer, state=AppState.ACCEPTED,
                                            items=(*app.items, CardRequest(CardKind.DECLARANT, newcomer))))
    with listed.transaction(readonly=True) as tx:
        (row,) = [s for s in tx.applications.find_summaries() if s.id == "A1"]
        assert row.agent == PersonLine("王五", "440902199303033456")
        assert row.holders[-1] == HolderLine(CardKind.DECLARANT, "王五", "440902199303033456")
        assert row.state is AppState.ACCEPTED and row.version == 2
    _check_every_filter(listed)


def test_rows_without_a_summary_are_read_from_their_json(listed: Store):
    with listed.transaction() as tx:
        tx.connection.execute(update(applications).where(applications.c.id.in_(["A1", "D1", "X1"]))
                              .values(summary=None))
    _check_every_filter(listed)


def test_migration_0005_fills_the_summary_of_existing_rows(listed: Store):
    listed.downgrade("0004")  # drops the column, as before 0005
    listed.upgrade()
    with listed.engine.connect() as conn:
        assert conn.execute(applications.select().where(applications.c.summary.is_(None))).all() == []
    _check_every_filter(listed)


def test_progress_of_reads_what_the_aggregate_holds(listed: Store):
    from core.model import Delivery

    with listed.transaction() as tx:
        app = tx.applications.get("A3")
        tx.applications.update(attrs.evolve(app, delivery=Delivery.SHIPPED, tracking_no="EMS123456789CN"))
    with listed.transaction(readonly=True) as tx:
        app = tx.applications.get("A3")
        found = tx.applications.progress_of("WSZ0000988")
        assert tx.applications.progress_of("WSZ0000000") is None
    assert listed.quick.progress_of("WSZ0000988") == found and listed.quick.progress_of("WSZ0000000") is None
    assert found is not None and app.history  # the sample carries a history with reasons and notes
    assert (found.acceptance_no, found.enterprise_uscc, found.business, found.region, found.state, found.due,
            found.delivery, found.tracking_no, found.history) == (
        app.acceptance_no, app.enterprise.uscc, app.business, app.region, app.state, app.due, app.delivery,
        app.tracking_no, app.history)
