"""Store benchmark at national scale: staff search, deep pages and the renewal-window scan, on SQLite and
PostgreSQL, each row against a baseline measured in the same run on the same data (issue #16 rows 1, 4, 8).

    python bench/bench_store.py [--quick] [--sqlite-only] [--postgres-only] [--count N]

Seeds COUNT applications (1,000,000; ``--quick`` 100,000) of some 250,000 enterprises with varied names
(a city, two words from a vocabulary, a kind of company) and people (a surname and one or two given-name
characters), in the Shenzhen branch, plus COUNT cards whose certificates end over ten years. Rows are
written straight into the tables (the columns the queries read; ``data`` is a stub, nothing here reads it);
on PostgreSQL the trigram index is built after the load, as after a restore, then VACUUM ANALYZE.

1. Search: the staff queue's query with a search (``ApplicationRepo.find_summaries(region, open states,
   search, limit 21)``) for what staff type (a whole acceptance number, its last 6 digits, a USCC, 4
   characters of an enterprise's name, a person's 2- or 3-character name): p50 and p90 over many
   queries. Baseline: the query before migration 0014 (``lower(column) LIKE '%x%'`` over id, acceptance
   number, USCC and name). Goal: p50 < 20 ms on both at 1,000,000.
2. Deep pages: page 10,000 of 100 of the queue (OFFSET 999,900) against the keyset page at the same
   place (``summaries_after`` from the row before it) and against page 1. Goal: the keyset page as cheap
   deep as at page 1 (ratio <= 2), whatever the OFFSET page costs.
3. Renewal window: the cards whose certificate ends in the next 180 days, by end date (first 500, and
   how many), with ``ix_cards_expiry`` (migration 0012: not_after, state, id, certificate_serial)
   against the same queries forced off every index. Goal (issue #16 row 8, measured with a
   (state, not_after) index): about 32 ms on SQLite and 11 ms on PostgreSQL at 1,000,000 cards.

Times are medians (p50) in milliseconds; no assertions, numbers are printed with their goal.
"""

from __future__ import annotations

import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, or_, select, text  # noqa: E402

from core.lifecycle import OPEN_STATES  # noqa: E402
from core.model import AppState  # noqa: E402
from core.store.repos import SEARCH_SEPARATOR, search_field  # noqa: E402
from core.store.tables import applications  # noqa: E402
from core.store.testing import temporary_store  # noqa: E402


def _option(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


QUICK = "--quick" in sys.argv
COUNT = int(_option("--count", "100000" if QUICK else "1000000"))
SEARCHES = 40 if QUICK else 120  # searches per kind
BASELINE_SEARCHES = 3  # the full scans are slow: a few are enough for a median
RUNS = 7
NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
STATES = [AppState.SUBMITTED, AppState.ACCEPTED, AppState.IN_PRODUCTION, AppState.COMPLETED, AppState.REJECTED,
          AppState.DRAFT, AppState.NEEDS_MEDIUM]
CITIES = ["深圳市", "东莞市", "惠州市", "广州市", "佛山市"]
WORDS = [a + b for a in "华中兴盛达恒信联创新海天宏博远鑫泰安瑞永嘉丰源鸿金裕隆富晟" for b in "发通达成业德福利祥和美康顺昌宇航"]
KINDS = ["贸易有限公司", "进出口有限公司", "科技有限公司", "电子有限公司", "物流有限公司", "实业有限公司"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏斌辉宇浩凯健俊帆帅旭宁龙林欣佳雪琳晶婷倩颖慧莉"


# ---- the data ------------------------------------------------------------------------------------------------

def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 1, 2))))


def enterprise(n: int) -> tuple[str, str]:
    rng = random.Random(n)
    name = rng.choice(CITIES) + rng.choice(WORDS) + rng.choice(WORDS) + rng.choice(KINDS)
    return f"91440300MA{n:07d}X"[:18], name


def rows(count: int) -> Any:
    """(column values, people) of each application, the same every run."""
    rng = random.Random(16)
    for i in range(count):
        uscc, name = enterprise(i // 4)
        state = STATES[i % len(STATES)]
        number = f"WSZ{i + 1:07d}" if state is not AppState.DRAFT else None
        people = [person(rng) for _ in range(1 + rng.randrange(3))]
        due = None if i % 11 == 0 else date(2026, 11, 2) + timedelta(days=rng.randint(-30, 60))
        row_id = f"B{i:09d}"
        search = SEARCH_SEPARATOR + SEARCH_SEPARATOR.join(
            f for f in map(search_field, [row_id, number or "", uscc, name, *dict.fromkeys(people)]) if f) \
            + SEARCH_SEPARATOR
        summary = json.dumps({"agent": {"name": people[0], "id_number": "440304199001011234"},
                              "holders": [{"kind": "operator", "name": p, "id_number": "440304199001011234"}
                                          for p in people]}, ensure_ascii=False)
        yield {"id": row_id, "enterprise_uscc": uscc, "enterprise_name": name, "business": "enrol",
               "region": "shenzhen", "state": state.value, "acceptance_no": number, "due": due,
               "created_at": NOW - timedelta(seconds=count - i), "updated_at": NOW,
               "submitted_at": NOW if number else None, "version": 1, "data": "{}", "summary": summary,
               "delivery": None, "search": search}, people


def seed(store) -> list[dict[str, Any]]:
    """The applications and cards; returns a sample of the rows (for the queries)."""
    started = time.perf_counter()
    sample: list[dict[str, Any]] = []
    picker = random.Random(99)
    postgres = store.dialect == "postgresql"
    if postgres:
        with store.engine.begin() as conn:  # built after the load, as a restore does: far faster
            conn.exec_driver_sql("DROP INDEX ix_applications_search")
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if postgres:
            copy_rows(store, "applications", batch)
        else:
            with store.engine.begin() as conn:
                conn.execute(applications.insert(), batch)
        batch.clear()

    for values, people in rows(COUNT):
        batch.append(values)
        if picker.random() < 2000 / COUNT:
            sample.append(values | {"people": people})
        if len(batch) == 20_000:
            flush()
    if batch:
        flush()
    seed_cards(store)
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if postgres:
            schema = conn.exec_driver_sql("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                          "WHERE extname = 'pg_trgm'").scalar()
            conn.exec_driver_sql(f'CREATE INDEX ix_applications_search ON applications USING gin '
                                 f'(search "{schema}".gin_trgm_ops)')
            conn.exec_driver_sql("VACUUM ANALYZE applications")
            conn.exec_driver_sql("VACUUM ANALYZE cards")
        else:
            conn.exec_driver_sql("ANALYZE")
    print(f"  seeded {COUNT:,} applications and {COUNT:,} cards in {time.perf_counter() - started:.0f} s", flush=True)
    return sample


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def copy_rows(store, table: str, batch: list[dict[str, Any]]) -> None:
    columns = list(batch[0])
    buffer = io.StringIO()
    for row in batch:
        buffer.write("\t".join(_copy_text(row[c]) for c in columns) + "\n")
    raw = store.engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


def seed_cards(store) -> None:
    from core.store.tables import cards

    span = timedelta(days=3650).total_seconds()
    batch: list[dict[str, Any]] = []
    for n in range(COUNT):
        ends = NOW + timedelta(seconds=span * (n * 7919 % COUNT) / COUNT)  # evenly spread, not in id order
        batch.append({"id": f"C{n:08d}", "enterprise_uscc": enterprise(n // 4)[0], "kind": "operator",
                      "state": "active" if n % 20 else "cancelled", "device_no": f"88{n:011d}",
                      "certificate_serial": f"{n + 1:x}", "not_after": ends, "version": 1, "data": "{}"})
        if len(batch) == 20_000:
            if store.dialect == "postgresql":
                copy_rows(store, "cards", batch)
            else:
                with store.engine.begin() as conn:
                    conn.execute(cards.insert(), batch)
            batch = []


# ---- timing --------------------------------------------------------------------------------------------------

def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def median(call: Callable[[], Any], runs: int = RUNS) -> float:
    call()  # warm: the pages this query reads are cached, as for a query staff repeat
    return statistics.median(timed(call) for _ in range(runs))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# ---- 1. search ---------------------------------------------------------------------------------------------

def search_queries(sample: list[dict[str, Any]]) -> dict[str, list[str]]:
    rng = random.Random(5)
    numbered = [r for r in sample if r["acceptance_no"]]
    picks = [rng.choice(numbered) for _ in range(SEARCHES)]
    return {
        "acceptance number": [r["acceptance_no"] for r in picks],
        "its last 6 digits": [r["acceptance_no"][-6:] for r in picks],
        "USCC": [r["enterprise_uscc"] for r in picks],
        "4 chars of a name": [r["enterprise_name"][3:7] for r in picks],
        "a person's name": [rng.choice(r["people"]) for r in picks],
    }


def old_search(store, needle: str) -> list[str]:
    """The query before migration 0014: lower(column) LIKE '%x%' over four columns (a full scan)."""
    c = applications.c
    query = (select(c.id).where(c.region == "shenzhen", c.state.in_(sorted(s.value for s in OPEN_STATES)),
                                or_(*(func.lower(col).contains(needle.lower(), autoescape=True)
                                      for col in (c.id, c.acceptance_no, c.enterprise_uscc, c.enterprise_name))))
             .order_by(c.due.asc().nulls_last(), c.created_at, c.id).limit(21))
    with store.transaction(readonly=True) as tx:
        return list(tx.connection.execute(query).scalars())


def new_search(store, needle: str) -> list[str]:
    with store.transaction(readonly=True) as tx:
        return [s.id for s in tx.applications.find_summaries(region="shenzhen", states=OPEN_STATES, search=needle,
                                                              limit=21)]


def bench_search(store, sample: list[dict[str, Any]]) -> dict[str, float]:
    print(f"  1. search ({SEARCHES} queries of each kind; goal p50 < 20 ms at 1,000,000)")
    results = {}
    every: list[float] = []
    for kind, queries in search_queries(sample).items():
        new_search(store, queries[0])  # warm
        times = [timed(lambda q=q: new_search(store, q)) for q in queries]
        every += times
        print(f"     {kind:18} p50 {statistics.median(times):7.1f} ms   p90 {percentile(times, 0.9):7.1f} ms", flush=True)
    base = statistics.median(timed(lambda q=q: old_search(store, q))
                             for q in search_queries(sample)["4 chars of a name"][:BASELINE_SEARCHES])
    ours = statistics.median(every)
    results["search p50"] = ours
    verdict = "met" if ours < 20 else "NOT MET"
    print(f"     all kinds          p50 {ours:7.1f} ms   p90 {percentile(every, 0.9):7.1f} ms   "
          f"baseline full scan p50 {base:8.1f} ms   ratio {ours / base:6.3f}   goal p50 < 20 ms: {verdict}",
          flush=True)
    return results


# ---- 2. deep pages -----------------------------------------------------------------------------------------

def bench_pages(store) -> None:
    per_page, page = 100, 10_000
    offset = min((page - 1) * per_page, COUNT // 2)
    with store.transaction(readonly=True) as tx:
        before = tx.applications.summaries_after(None, 1, region="shenzhen", states=OPEN_STATES)
        assert before
        # the row just before the deep page: its key starts the keyset page at the same place
        rows = tx.applications.find_summaries(region="shenzhen", states=OPEN_STATES, limit=1, offset=offset - 1)
        key_row = tx.connection.execute(select(applications.c.due, applications.c.created_at, applications.c.id)
                                        .where(applications.c.id == rows[0].id)).one()
    key = (key_row.due, key_row.created_at, key_row.id)

    def by_offset() -> None:
        with store.transaction(readonly=True) as tx:
            tx.applications.find_summaries(region="shenzhen", states=OPEN_STATES, limit=per_page, offset=offset)

    def keyset(after) -> Callable[[], None]:
        def run() -> None:
            with store.transaction(readonly=True) as tx:
                tx.applications.summaries_after(after, per_page, region="shenzhen", states=OPEN_STATES)
        return run

    with store.transaction(readonly=True) as tx:  # the same rows both ways
        deep = [s.id for s, _ in tx.applications.summaries_after(key, per_page, region="shenzhen", states=OPEN_STATES)]
        same = [s.id for s in tx.applications.find_summaries(region="shenzhen", states=OPEN_STATES, limit=per_page,
                                                              offset=offset)]
    assert deep == same, "the keyset page differs from the OFFSET page"
    first, deep_keyset, deep_offset = median(keyset(None)), median(keyset(key)), median(by_offset, 3)
    verdict = "met" if deep_keyset <= 2 * first else "NOT MET"
    print(f"  2. page at row {offset:,} x {per_page}: OFFSET {deep_offset:8.1f} ms   keyset {deep_keyset:6.1f} ms   "
          f"page 1 {first:6.1f} ms   keyset deep / page 1 {deep_keyset / first:4.2f} (goal <= 2: {verdict})   "
          f"keyset / OFFSET {deep_keyset / deep_offset:5.3f}", flush=True)


# ---- 3. renewal window ---------------------------------------------------------------------------------------

def window(store, indexed: bool) -> tuple[int, int]:
    start, end = NOW, NOW + timedelta(days=180)
    with store.transaction() as tx:
        conn = tx.connection
        if store.dialect == "postgresql":
            if not indexed:
                for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                    conn.exec_driver_sql(f"SET LOCAL {setting} = off")
            table = "cards"
            first = conn.execute(text(f"SELECT id, certificate_serial, not_after FROM {table} WHERE not_after > :a "
                                      "AND not_after <= :b AND state IN ('active') ORDER BY not_after, id LIMIT 500"),
                                 {"a": start, "b": end}).all()
            count = conn.execute(text(f"SELECT count(*) FROM {table} WHERE not_after > :a AND not_after <= :b "
                                      "AND state IN ('active')"), {"a": start, "b": end}).scalar_one()
        else:
            table = "cards" if indexed else "cards NOT INDEXED"
            naive = (start.replace(tzinfo=None).isoformat(" "), end.replace(tzinfo=None).isoformat(" "))
            first = conn.exec_driver_sql(f"SELECT id, certificate_serial, not_after FROM {table} WHERE not_after > ? "
                                         "AND not_after <= ? AND state IN ('active') ORDER BY not_after, id LIMIT 500",
                                         naive).all()
            count = conn.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE not_after > ? AND not_after <= ? "
                                         "AND state IN ('active')", naive).scalar_one()
    return len(first), int(count)


def bench_window(store) -> None:
    ours, base = window(store, True), window(store, False)
    assert ours == base, (ours, base)
    indexed, scan = median(lambda: window(store, True)), median(lambda: window(store, False), 3)
    goal = 32 if store.dialect == "sqlite" else 11
    verdict = "met" if indexed <= goal else "NOT MET"
    print(f"  3. renewal window (180 days: {ours[1]:,} cards, first {ours[0]}): ix_cards_expiry {indexed:6.1f} ms   "
          f"no index {scan:7.1f} ms   ratio {indexed / scan:5.3f}   goal ~{goal} ms: {verdict}", flush=True)


def run(backend: str) -> None:
    print(f"\n== {backend}: {COUNT:,} applications ==", flush=True)
    with tempfile.TemporaryDirectory() as folder, temporary_store(backend, Path(folder)) as store:
        sample = seed(store)
        bench_search(store, sample)
        bench_pages(store)
        bench_window(store)


def main() -> None:
    backends = ["sqlite", "postgres"]
    if "--sqlite-only" in sys.argv:
        backends = ["sqlite"]
    if "--postgres-only" in sys.argv:
        backends = ["postgres"]
    print(f"bench_store: {COUNT:,} applications and cards per backend; medians of {RUNS} runs unless said")
    for backend in backends:
        run(backend)


if __name__ == "__main__":
    main()
