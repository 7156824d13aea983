"""Issue #20 item 5: the queue's numbers for /metrics in one grouped query, on SQLite and PostgreSQL:
applications per region and state (deleted drafts left out), and those overdue as
core.deadlines.is_overdue counts them (due before today, not finished)."""

from __future__ import annotations

from datetime import date

from store_samples import make_application

from core.deadlines import is_overdue
from core.model import AppState
from core.store import Store
from core.store.records import StateCount

TODAY = date(2026, 5, 11)


def test_state_counts_group_by_region_and_state_and_count_the_overdue(store: Store):
    rows = [("A1", "shenzhen", AppState.SUBMITTED, date(2026, 5, 8)),   # overdue
            ("A2", "shenzhen", AppState.SUBMITTED, date(2026, 5, 11)),  # due today: not yet
            ("A3", "shenzhen", AppState.SUBMITTED, None),
            ("A4", "shenzhen", AppState.ACCEPTED, date(2026, 5, 1)),    # overdue
            ("A5", "xiamen", AppState.COMPLETED, date(2026, 5, 1)),     # finished: never overdue
            ("A6", "xiamen", AppState.DRAFT, date(2026, 5, 1)),         # a draft: never overdue
            ("A7", "xiamen", AppState.DELETED, None)]                   # not counted
    apps = [make_application(app_id, region=region, state=state, due=due, acceptance_no=f"N{app_id}")
            for app_id, region, state, due in rows]
    with store.transaction() as tx:
        for app in apps:
            tx.applications.add(app)
    with store.transaction(readonly=True) as tx:
        counts = tx.applications.state_counts(TODAY)
    assert counts == [StateCount("shenzhen", "accepted", 1, 1), StateCount("shenzhen", "submitted", 3, 1),
                      StateCount("xiamen", "completed", 1, 0), StateCount("xiamen", "draft", 1, 0)]
    assert sum(c.overdue for c in counts) == sum(is_overdue(app, TODAY) for app in apps)
