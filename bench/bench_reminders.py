"""Reminder scan benchmark: the renewal reminders' range query at 1,000,000 cards on PostgreSQL.

    python bench/bench_reminders.py [--quick]

Seeds one schema with 1,000,000 cards whose certificates end evenly over the next ten years (COPY),
then times what the ``renewal_reminders`` job asks each day (core/store/notify.py ``Reminders.due``):
for each point of ``[notify] reminder_days`` (7, 30, 90), the cards whose certificate ends in that band
and that have had no reminder at that point. Two states: the first scan (no reminder sent yet, every
card of the bands is returned: some 25,000) and a steady day (every card already reminded: none is
returned, each still checked). The baseline, measured in the same run on the same data, is the same
queries with PostgreSQL's index scans turned off (``enable_indexscan``, ``enable_indexonlyscan``,
``enable_bitmapscan``: sequential scans, what the scan costs without ``ix_cards_expiry``); the ratio is ours / baseline
(lower is better). Goal: the whole scan (three bands) under 1 s. Medians of 5 runs; no assertions.
``--quick`` seeds 100,000 cards. PostgreSQL comes from EPORTCARD_TEST_PG_URL (the test URL by default).
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.services.notify_reminders import REMINDED_STATES  # noqa: E402
from core.store.notify import Reminders  # noqa: E402
from core.store.testing import temporary_store  # noqa: E402

QUICK = "--quick" in sys.argv
COUNT = 100_000 if QUICK else 1_000_000
POINTS = (7, 30, 90)
RUNS = 5
NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
DATA = '{"id": "%s", "enterprise_uscc": "%s", "kind": "operator", "state": "active", "holder": {"name": "张三", ' \
       '"id_number": "440304198506150111", "phone": "13900000011"}, "device_no": "%s", "application_id": "", ' \
       '"certificate": {"serial": "%s", "not_before": "2016-11-02T01:00:00+00:00", "not_after": "%s"}}'


def seed(store) -> None:
    span = timedelta(days=3650).total_seconds()
    buffer = io.StringIO()
    for n in range(COUNT):
        ends = NOW + timedelta(seconds=span * (n * 7919 % COUNT) / COUNT)  # evenly spread, not in id order
        state = "active" if n % 20 else "cancelled"
        card_id, uscc, device, serial = f"C{n:07d}", f"91440300MA{n % 100000:07d}X", f"88{n:011d}", f"{n:x}"
        data = DATA % (card_id, uscc, device, serial, ends.isoformat())
        buffer.write("\t".join((card_id, uscc, "operator", state, device, serial, ends.isoformat(), "1", data)) + "\n")
    buffer.seek(0)
    raw = store.engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            with cursor.copy("COPY cards (id, enterprise_uscc, kind, state, device_no, certificate_serial, not_after, "
                             "version, data) FROM STDIN") as copy:
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
            cursor.execute("ANALYZE cards")
        raw.commit()
        raw.driver_connection.autocommit = True
        with raw.cursor() as cursor:
            cursor.execute("VACUUM cards")  # what autovacuum does after a load: the visibility map for index-only scans
        raw.driver_connection.autocommit = False
    finally:
        raw.close()


def scan_all(store, baseline: bool) -> int:
    """One day's scan: every band, every row it returns (what the job then reminds)."""
    found = 0
    previous = 0
    with store.transaction() as tx:
        if baseline:
            tx.connection.exec_driver_sql("SET LOCAL enable_indexscan = off")
            tx.connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            tx.connection.exec_driver_sql("SET LOCAL enable_indexonlyscan = off")
        for days in POINTS:
            found += len(Reminders(tx).due(NOW + timedelta(days=previous), NOW + timedelta(days=days), days,
                                           REMINDED_STATES, limit=COUNT))
            previous = days
    return found


def mark_all(store) -> None:
    previous = 0
    with store.transaction() as tx:
        for days in POINTS:
            for due in Reminders(tx).due(NOW + timedelta(days=previous), NOW + timedelta(days=days), days,
                                         REMINDED_STATES, limit=COUNT):
                Reminders(tx).mark(due.card_id, due.serial, days, NOW)
            previous = days
        tx.connection.exec_driver_sql("ANALYZE card_reminders")


def median_ms(call: Callable[[], int]) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(RUNS):
        started = time.perf_counter()
        rows = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), rows


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, temporary_store("postgres", Path(folder)) as store:
        started = time.perf_counter()
        seed(store)
        print(f"seeded {COUNT:,} cards in {time.perf_counter() - started:.1f} s (PostgreSQL)")
        for label, prepare in (("first scan (nothing reminded yet)", None), ("steady day (all reminded)", mark_all)):
            if prepare is not None:
                prepare(store)
            ours, rows = median_ms(lambda: scan_all(store, baseline=False))
            base, base_rows = median_ms(lambda: scan_all(store, baseline=True))
            assert rows == base_rows, (rows, base_rows)  # the same answer both ways
            print(f"{label:36} rows {rows:6,}   indexed {ours:8.1f} ms   sequential baseline {base:8.1f} ms   "
                  f"ratio {ours / base:.3f} (lower is better; goal: indexed < 1000 ms)")


if __name__ == "__main__":
    main()
