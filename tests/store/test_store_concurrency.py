"""Concurrency: optimistic versions, counters and the audit chain under real threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from store_samples import make_application

from core.errors import ConflictError
from core.model import Application
from core.store import Store
from core.store.testing import DatabaseUnavailable, temporary_store

WORKERS = 4


def test_two_writers_one_winner_with_threads_on_postgres(store: Store):
    """Both load version 1 in their own open transaction, then both update: exactly one wins."""
    if store.dialect != "postgresql":
        return  # SQLite takes the write lock at BEGIN: see test_stale_update_conflicts_and_changes_nothing
    with store.transaction() as tx:
        tx.applications.add(make_application("A1"))
    loaded = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def writer(name: str) -> None:
        try:
            with store.transaction() as tx:
                app = tx.applications.get("A1")
                loaded.wait(timeout=30)  # both hold version 1 now
                tx.applications.update(attrs.evolve(app, remarks=name))
            outcomes[name] = "won"
        except ConflictError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [n for n, o in outcomes.items() if o == "won"]
    losers = [n for n, o in outcomes.items() if isinstance(o, ConflictError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    with store.transaction() as tx:
        stored = tx.applications.get("A1")
    assert (stored.remarks, stored.version) == (winners[0], 2)


def test_sequences_never_repeat_under_threads(store: Store):
    per_worker = 15

    def take(_: int) -> list[int]:
        got = []
        for _ in range(per_worker):
            with store.transaction() as tx:
                got.append(tx.next_sequence("shenzhen"))
        return got

    with ThreadPoolExecutor(WORKERS) as pool:
        taken = [n for chunk in pool.map(take, range(WORKERS)) for n in chunk]
    assert sorted(taken) == list(range(1, WORKERS * per_worker + 1))


def test_audit_chain_stays_linear_under_threads(store: Store):
    per_worker = 10

    def append(worker: int) -> None:
        for i in range(per_worker):
            with store.transaction() as tx:
                tx.audit.append(f"w{worker}", "touch", "application", f"A{worker}", {"i": i})

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(append, range(WORKERS)))
    report = store.audit_verify()
    assert (report.ok, report.checked) == (True, WORKERS * per_worker), report.problems


class OptimisticVersions(RuleBasedStateMachine):
    """Updates with any copy ever read: only a copy of the current version may land."""

    backend = "sqlite"
    copies = Bundle("copies")

    def __init__(self) -> None:
        super().__init__()
        import tempfile
        from pathlib import Path
        self._tmp = tempfile.TemporaryDirectory()
        self._ctx = temporary_store(self.backend, Path(self._tmp.name))
        try:
            self.store = self._ctx.__enter__()
        except DatabaseUnavailable as exc:
            pytest.fail(str(exc))
        self.version = 0
        self.remarks = ""

    @initialize(target=copies)
    def add(self) -> Application:
        with self.store.transaction() as tx:
            app = tx.applications.add(make_application("A1"))
        self.version, self.remarks = 1, app.remarks
        return app

    @rule(target=copies)
    def read(self) -> Application:
        with self.store.transaction(readonly=True) as tx:
            return tx.applications.get("A1")

    @rule(copy=copies, remark=st.text(alphabet="abc受理", max_size=5))
    def write(self, copy: Application, remark: str) -> None:
        try:
            with self.store.transaction() as tx:
                tx.applications.update(attrs.evolve(copy, remarks=remark))
        except ConflictError:
            assert copy.version != self.version
        else:
            assert copy.version == self.version
            self.version, self.remarks = self.version + 1, remark

    @invariant()
    def stored_matches_model(self) -> None:
        if self.version:
            with self.store.transaction(readonly=True) as tx:
                app = tx.applications.get("A1")
            assert (app.version, app.remarks) == (self.version, self.remarks)

    def teardown(self) -> None:
        self._ctx.__exit__(None, None, None)
        self._tmp.cleanup()


class OptimisticVersionsOnPostgres(OptimisticVersions):
    backend = "postgres"


_settings = settings(max_examples=15, stateful_step_count=12, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])
TestOptimisticVersionsSqlite = OptimisticVersions.TestCase
TestOptimisticVersionsSqlite.settings = _settings
TestOptimisticVersionsPostgres = OptimisticVersionsOnPostgres.TestCase
TestOptimisticVersionsPostgres.settings = _settings
