"""Rate counters: a limit holds under parallel attempts on both backends, windows and blocks end,
and a given-back attempt does not count."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store import Store
from core.store.throttle import Limit, RateCounters

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FIVE_IN_15 = Limit(5, timedelta(minutes=15), block=timedelta(minutes=15))


def take(store: Store, key: str, now: datetime, limit: Limit = FIVE_IN_15) -> bool:
    with store.transaction() as tx:
        return RateCounters(tx).take(key, now, limit)


def test_parallel_attempts_never_exceed_the_limit(store: Store) -> None:
    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(lambda _: take(store, "login-user:alice", T0), range(40)))
    assert taken.count(True) == FIVE_IN_15.count


def test_block_lasts_its_time_then_a_new_window_starts(store: Store) -> None:
    for _ in range(5):
        assert take(store, "k", T0)
    assert not take(store, "k", T0 + timedelta(minutes=14, seconds=59))
    assert take(store, "k", T0 + timedelta(minutes=15))
    with store.transaction(readonly=True) as tx:
        assert not RateCounters(tx).blocked("k", T0 + timedelta(minutes=15), FIVE_IN_15)


def test_a_window_without_block_refuses_until_it_ends(store: Store) -> None:
    hourly = Limit(2, timedelta(hours=1))
    assert take(store, "sms", T0, hourly) and take(store, "sms", T0 + timedelta(minutes=1), hourly)
    assert not take(store, "sms", T0 + timedelta(minutes=59), hourly)
    assert take(store, "sms", T0 + timedelta(hours=1), hourly)


def test_given_back_attempts_do_not_count_and_keys_are_separate(store: Store) -> None:
    for _ in range(10):
        assert take(store, "login-address:10.0.0.1", T0)
        with store.transaction() as tx:
            RateCounters(tx).give_back("login-address:10.0.0.1")
    assert take(store, "login-address:10.0.0.2", T0)
    with store.transaction() as tx:
        counters = RateCounters(tx)
        assert counters.prune(T0 + timedelta(days=2)) == 2
        assert not counters.blocked("login-address:10.0.0.1", T0, FIVE_IN_15)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.integers(min_value=0, max_value=40), max_size=30))
def test_take_agrees_with_a_model(store: Store, steps: list[int]) -> None:
    """Against a plain model: at most ``count`` takes per window; a full window blocks for ``block``."""
    limit = Limit(3, timedelta(minutes=10), block=timedelta(minutes=20))
    key = uuid.uuid4().hex  # one store for every example: each has its own key
    now, start, hits, blocked_until = T0, None, 0, None
    for minutes in steps:
        now += timedelta(minutes=minutes)
        if blocked_until is not None and now < blocked_until:
            expected = False
        else:
            if start is None or now - start >= limit.window or blocked_until is not None:
                start, hits, blocked_until = now, 0, None
            expected = hits < limit.count
            if expected:
                hits += 1
                if hits >= limit.count:
                    blocked_until = now + limit.block  # type: ignore[operator]
        assert take(store, key, now, limit) == expected
