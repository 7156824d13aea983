"""Staff search over the trigram index (migration 0014), on SQLite (FTS5) and PostgreSQL (pg_trgm).

What staff type: an acceptance number, a USCC, part of an enterprise's name, a person's name (agent or
card holder). Three or more characters match anywhere in one field; two (most Chinese names) match a
field that starts or ends with them; one character is looked for everywhere. Wildcards are literal.
"""

from __future__ import annotations

import attrs
import pytest
from sqlalchemy import text
from store_samples import make_application, make_enterprise

from core.model import AppState, CardKind, CardRequest, Person
from core.store import Store
from core.store.repos import search_text


@pytest.fixture
def apps(store: Store) -> Store:
    rows = [
        make_application("A1", acceptance_no="WSZ0000988", state=AppState.SUBMITTED),
        make_application("A2", enterprise=make_enterprise("91440300MA5FYYYY1B", "深圳市另一家进出口有限公司"),
                         acceptance_no="WSZ0001001", state=AppState.ACCEPTED),
        make_application("A3", enterprise=make_enterprise("91350200MA2ZZZZZ0C", "Xiamen Harbour_Trading 100%"),
                         region="xiamen", acceptance_no="XM0000007", state=AppState.SUBMITTED),
    ]
    a4 = make_application("A4", acceptance_no="WSZ0002002", state=AppState.SUBMITTED)
    rows.append(attrs.evolve(a4, agent=Person("欧阳明华", "440902199202023456"),
                             items=(CardRequest(CardKind.LEGAL, Person("王芳", "440902199001011234")),)))
    with store.transaction() as tx:
        for app in rows:
            tx.applications.add(app)
    return store


def _found(store: Store, query: str) -> list[str]:
    with store.transaction(readonly=True) as tx:
        found = [a.id for a in tx.applications.find(search=query, order="created")]
        assert sorted(found) == sorted(s.id for s in tx.applications.find_summaries(search=query))
        assert tx.applications.count(search=query) == len(found)
    return sorted(found)


@pytest.mark.parametrize("query, expected", [
    ("WSZ0000988", ["A1"]),            # the whole acceptance number, any case
    ("wsz0000988", ["A1"]),
    ("0988", ["A1"]),                  # its end
    ("WSZ000", ["A1", "A2", "A4"]),    # its start
    ("91440300MA5F", ["A1", "A2", "A4"]),  # a USCC's start
    ("MA5FYYYY", ["A2"]),              # the middle of one
    ("另一家", ["A2"]),                 # part of an enterprise's name
    ("进出口有限", ["A2"]),
    ("harbour_trading", ["A3"]),       # the underscore is literal...
    ("harbourxtrading", []),           # ...not "any character"
    ("100%", ["A3"]), ("%", ["A3"]),   # so is the percent sign
    ("欧阳明华", ["A4"]), ("明华", ["A4"]), ("欧阳", ["A4"]),  # the agent, whole, ending, starting
    ("阳明", []),                      # two characters inside a name match nothing
    ("王芳", ["A4"]),                  # a card holder's two-character name
    ("李四", ["A1", "A2", "A3"]),      # the agent of the others
    ("张", ["A1", "A2", "A3"]),        # one character: looked for everywhere
    ("  深圳市另一家  ", ["A2"]),        # spaces around are ignored
    ("a1|wsz", []),                    # one field at a time: the separator is not searchable
    ("nothing like it", []),
])
def test_search_finds_what_staff_type(apps: Store, query: str, expected: list[str]):
    assert _found(apps, query) == expected


def test_the_index_follows_every_write(apps: Store):
    with apps.transaction() as tx:
        a2 = tx.applications.get("A2")
        tx.applications.update(attrs.evolve(a2, enterprise=attrs.evolve(a2.enterprise, name="深圳市改名贸易有限公司")))
    assert _found(apps, "另一家") == [] and _found(apps, "改名贸易") == ["A2"]
    with apps.transaction() as tx:
        tx.connection.execute(text("DELETE FROM applications WHERE id = 'A2'"))
    assert _found(apps, "改名贸易") == []
    with apps.transaction() as tx:  # a new row is found at once
        tx.applications.add(make_application("A5", enterprise=make_enterprise(name="深圳市新来贸易有限公司")))
    assert _found(apps, "新来贸易") == ["A5"]


def test_the_search_column_names_every_field_once(apps: Store):
    app = make_application("A9", acceptance_no="WSZ0000999")
    assert search_text(app) == "|a9|wsz0000999|91440300ma5fxxxx0a|深圳市测试贸易有限公司|李四|张三|"
    with apps.transaction(readonly=True) as tx:
        stored = tx.connection.execute(text("SELECT search FROM applications WHERE id = 'A1'")).scalar_one()
    assert stored == "|a1|wsz0000988|91440300ma5fxxxx0a|深圳市测试贸易有限公司|李四|张三|"


def test_searches_use_the_trigram_index(apps: Store):
    """The plan reads the index, not every row (PostgreSQL is told to avoid a sequential scan, which it
    prefers for four rows; SET LOCAL needs a transaction, which read-only ones on PostgreSQL are not)."""
    with apps.transaction() as tx:
        conn = tx.connection
        if apps.dialect == "postgresql":
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plans = [" ".join(r[0] for r in conn.execute(text(
                "EXPLAIN SELECT id FROM applications WHERE search LIKE :p"), {"p": p})) for p in ("%另一家%", "%|王芳%")]
            assert all("ix_applications_search" in plan for plan in plans), plans
        else:
            plan = " ".join(str(r[-1]) for r in conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT id FROM applications WHERE rowid IN "
                "(SELECT rowid FROM application_search WHERE application_search MATCH '\"另一家\"')")))
            assert "VIRTUAL TABLE INDEX" in plan, plan


@pytest.mark.parametrize("query", ["另一家", "王芳", "WSZ0001001", "91440300MA5FYYYY1B"])
def test_the_staff_queue_search_starts_from_the_index(apps: Store, query: str):
    """The queue's own statement (branch, open states, order by due): SQLite must not walk the branch's
    queue index testing each row (its region and state terms are kept out of index choice; PostgreSQL
    chooses by its statistics, which the bench exercises at 1,000,000 rows), and a code (acceptance
    number, USCC) asks the index for its last characters only (its start is every row's)."""
    from core.lifecycle import OPEN_STATES
    from core.store.repos import CODE_TAIL, _summaries_of

    with apps.transaction(readonly=True) as tx:
        page, ordering = tx.applications._page("shenzhen", OPEN_STATES, None, None, query, "due", 21, 0)
        sql = str(_summaries_of(page, ordering).compile(dialect=tx.connection.dialect,
                                                         compile_kwargs={"literal_binds": True}))
        found = sorted(row[0] for row in tx.connection.exec_driver_sql(sql))
        if apps.dialect == "sqlite":
            plan = " ".join(str(r[-1]) for r in tx.connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "VIRTUAL TABLE INDEX" in plan and "ix_applications_queue" not in plan, plan
    assert found == _found(apps, query) and found
    if len(query) > CODE_TAIL:
        tail = query.lower()[-CODE_TAIL:]
        indexed = f"MATCH '\"{tail}\"'" if apps.dialect == "sqlite" else f"LIKE '%%{tail}%%'"
        assert indexed in sql, sql
