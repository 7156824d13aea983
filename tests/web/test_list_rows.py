"""The JSON lists (staff queue, /api/applications) are built from list-row summaries: the same JSON
as the whole-aggregate rows they replaced, key for key."""

from __future__ import annotations

from datetime import timedelta

import attrs

from core.model import AppState
from core.samples import make_enrol
from core.services import Actor
from core.web.api import application_summary, summary_json


def _seed(services) -> None:
    states = [AppState.DRAFT, AppState.SUBMITTED, AppState.ACCEPTED, AppState.IN_PRODUCTION, AppState.COMPLETED,
              AppState.REJECTED]
    today = services.today()
    with services.store.transaction() as tx:
        for n in range(1, 13):
            app = attrs.evolve(make_enrol(n, operators=n % 3), id=f"L{n:03d}", state=states[n % len(states)],
                               acceptance_no=f"WSZ{n:07d}" if n % len(states) else "",
                               due=today + timedelta(days=n - 6) if n % 4 else None,
                               submitted_at=services.clock() if n % len(states) else None)
            tx.applications.add(attrs.evolve(app, agent=None) if n == 5 else app)


def test_summary_json_equals_the_aggregate_row(services):
    _seed(services)
    today = services.today()
    with services.store.transaction(readonly=True) as tx:
        apps = tx.applications.find(limit=100)
        rows = tx.applications.find_summaries(limit=100)
    assert len(apps) == 12 and any(a.agent is None for a in apps) and any(a.due is None for a in apps)
    assert [summary_json(r, today) for r in rows] == [application_summary(a, today) for a in apps]
    assert any(application_summary(a, today)["overdue"] for a in apps)  # the flag is exercised both ways
    assert not all(application_summary(a, today)["overdue"] for a in apps)


def test_queue_summaries_match_the_queue(services):
    _seed(services)
    staff = Actor(id="s1", kind="staff", region="shenzhen", roles=frozenset({"branch_admin"}))
    for states in (None, [AppState.SUBMITTED], [AppState.COMPLETED]):
        for offset in (0, 1):
            rows = services.applications.queue(staff, states, limit=4, offset=offset)
            lines = services.applications.queue_summaries(staff, states, limit=4, offset=offset)
            assert rows, (states, offset)
            assert [(q.summary.id, q.summary.due, q.overdue) for q in lines] == \
                [(r.application.id, r.due, r.overdue) for r in rows]
    assert any(r.overdue for r in services.applications.queue(staff))
