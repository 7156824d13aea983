"""Keyset pages of the queue order (``ApplicationRepo.summaries_after``) on SQLite and PostgreSQL: walking
page after page gives exactly the rows, in exactly the order, that one OFFSET read gives, with due dates
missing, equal due dates and equal creation times; rows added behind the cursor shift nothing."""

from __future__ import annotations

from datetime import date, timedelta

import attrs
import pytest
from store_samples import T0, make_application

from core.model import AppState
from core.store import Store


@pytest.fixture
def queue(store: Store) -> Store:
    with store.transaction() as tx:
        for n in range(23):
            due = None if n % 5 == 0 else date(2026, 3, 1) + timedelta(days=n % 4)  # ties on due
            created = T0 + timedelta(minutes=n % 3)  # ties on created_at too: id breaks them
            state = AppState.SUBMITTED if n % 7 else AppState.ACCEPTED
            tx.applications.add(attrs.evolve(make_application(f"K{n:03d}", state=state, due=due), created_at=created))
        tx.applications.add(make_application("X1", region="xiamen", state=AppState.SUBMITTED))
    return store


def _walk(store: Store, per_page: int, **filters) -> list[str]:
    seen, after = [], None
    while True:
        with store.transaction(readonly=True) as tx:
            page = tx.applications.summaries_after(after, per_page, **filters)
        seen += [row.id for row, _key in page]
        if len(page) < per_page:
            return seen
        after = page[-1][1]


@pytest.mark.parametrize("per_page", [1, 4, 7, 23, 50])
def test_walking_the_pages_gives_the_queue_in_order(queue: Store, per_page: int):
    with queue.transaction(readonly=True) as tx:
        expected = [s.id for s in tx.applications.find_summaries(region="shenzhen", limit=1000)]
    assert len(expected) == 23
    assert _walk(queue, per_page, region="shenzhen") == expected


def test_filters_apply_to_every_page(queue: Store):
    with queue.transaction(readonly=True) as tx:
        accepted = [s.id for s in tx.applications.find_summaries(states=[AppState.ACCEPTED], limit=1000)]
    assert accepted and _walk(queue, 2, states=[AppState.ACCEPTED], region="shenzhen") == accepted
    assert _walk(queue, 3, region="xiamen") == ["X1"]
    assert _walk(queue, 3, region="shenzhen", search="k01") == [i for i in _walk(queue, 50, region="shenzhen")
                                                               if i.startswith("K01")]


def test_rows_added_before_the_cursor_do_not_shift_the_next_page(queue: Store):
    with queue.transaction(readonly=True) as tx:
        first = tx.applications.summaries_after(None, 5, region="shenzhen")
        rest = [s.id for s in tx.applications.find_summaries(region="shenzhen", limit=1000)][5:10]
    with queue.transaction() as tx:  # sorts before every row: with OFFSET the next page would repeat one
        tx.applications.add(make_application("K999", state=AppState.SUBMITTED, due=date(2000, 1, 1)))
    with queue.transaction(readonly=True) as tx:
        second = tx.applications.summaries_after(first[-1][1], 5, region="shenzhen")
    assert [row.id for row, _ in second] == rest
