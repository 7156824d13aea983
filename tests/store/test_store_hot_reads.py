"""The hot reads (list-row summaries, progress) decode rows through memos keyed on the row's values:
whatever changes a row - even a write that bypasses the repositories and keeps the version - is
seen by the next read, on both backends."""

from __future__ import annotations

import json
from datetime import date, timedelta

import attrs
from sqlalchemy import select, update
from store_samples import T0, make_application

from core.model import AppState
from core.store import Store
from core.store.tables import applications
from core.store.testing import other_store


def _fill(store: Store) -> None:
    with store.transaction() as tx:
        tx.applications.add(make_application("H1", state=AppState.SUBMITTED, due=date(2026, 3, 10), created_at=T0,
                                             acceptance_no="WSZ0000701"))
        tx.applications.add(make_application("H2", state=AppState.ACCEPTED, due=date(2026, 3, 5),
                                             created_at=T0 + timedelta(minutes=1), acceptance_no="WSZ0000702"))


def _queue_names(store: Store) -> list[tuple[str, str]]:
    with store.transaction(readonly=True) as tx:
        return [(s.id, s.enterprise_name) for s in tx.applications.find_summaries(
            region="shenzhen", states=[AppState.SUBMITTED, AppState.ACCEPTED, AppState.IN_PRODUCTION], limit=20)]


def test_a_write_that_keeps_the_version_is_still_seen(store: Store):
    _fill(store)
    assert _queue_names(store) == [("H2", "深圳市测试贸易有限公司"), ("H1", "深圳市测试贸易有限公司")]
    with store.transaction() as tx:  # no repository: same id, same version, other content
        tx.connection.execute(update(applications).where(applications.c.id == "H1")
                              .values(enterprise_name="改名后的公司", due=date(2026, 3, 1)))
    assert _queue_names(store) == [("H1", "改名后的公司"), ("H2", "深圳市测试贸易有限公司")]

    with store.transaction(readonly=True) as tx:
        assert tx.applications.progress_of("WSZ0000701").tracking_no == ""
        data = json.loads(tx.connection.execute(select(applications.c.data)
                                                .where(applications.c.id == "H1")).scalar_one())
    with store.transaction() as tx:
        tx.connection.execute(update(applications).where(applications.c.id == "H1")
                              .values(data=json.dumps(data | {"tracking_no": "EMS1"}, ensure_ascii=False)))
    with store.transaction(readonly=True) as tx:
        assert tx.applications.progress_of("WSZ0000701").tracking_no == "EMS1"


def test_a_write_through_another_store_is_seen(store: Store, tmp_path):
    _fill(store)
    assert [n for _, n in _queue_names(store)] == ["深圳市测试贸易有限公司"] * 2
    with other_store(store, tmp_path / "other-blobs") as other:  # as another web worker would be
        with other.transaction() as tx:
            app = tx.applications.get("H2")
            tx.applications.update(attrs.evolve(app, enterprise=attrs.evolve(app.enterprise, name="另一个进程写的"),
                                                state=AppState.IN_PRODUCTION))
        assert _queue_names(store) == [("H2", "另一个进程写的"), ("H1", "深圳市测试贸易有限公司")]
        with store.transaction(readonly=True) as tx:
            assert tx.applications.progress_of("WSZ0000702").state is AppState.IN_PRODUCTION


def test_bad_paging_is_refused_on_the_prepared_path_too(store: Store):
    import pytest

    from core.errors import InvalidInput

    with store.transaction(readonly=True) as tx:
        for bad in ({"limit": -1}, {"offset": -5}, {"order": "sideways"}):
            with pytest.raises(InvalidInput) as caught:
                tx.applications.find_summaries(region="shenzhen", **bad)
            assert caught.value.zh and caught.value.en and caught.value.field in ("limit", "order")
