"""Repositories: rows <-> the attrs objects of core.model, inside one transaction.

Aggregates are stored whole as JSON in ``data``; the other columns are derived from the aggregate
on every write (never set on their own), so they cannot drift from it. ``version`` is the
optimistic-concurrency counter: an update only lands if nobody changed the row since it was read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import attrs
from cryptography import x509
from sqlalchemy import (
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from core.convert import make_json_converter
from core.deadlines import FINISHED
from core.errors import ConflictError, InvalidInput, NotFound, TransitionError
from core.lifecycle import OPEN_STATES
from core.model import (
    Application,
    AppState,
    Attachment,
    Business,
    Card,
    CardKind,
    CardState,
    Delivery,
    Enterprise,
    Transition,
)
from core.store.records import (
    CERT_STATUSES,
    ApplicationProgress,
    ApplicationSummary,
    CertificateRecord,
    HolderLine,
    PersonLine,
    PublishedCrl,
    RevokedEntry,
    StateCount,
)
from core.store.tables import applications, attachments, cards, certificates, crls, enterprises, sequences

_converter = make_json_converter()

ORDERS = ("due", "created", "updated")
# Column text -> enum member by dict: calling the enum is ~20 times slower, and list rows do it a lot.
_BUSINESSES = {b.value: b for b in Business}
_STATES = {s.value: s for s in AppState}
_KINDS = {k.value: k for k in CardKind}


def _now() -> datetime:
    return datetime.now(UTC)


def _dump(obj: Any) -> str:
    return _dump_data(_converter.unstructure(obj))


def _dump_data(data: dict[str, Any]) -> str:
    data.pop("version", None)  # the column is the truth
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _load(cls: type, text: str, version: int | None = None) -> Any:
    data = json.loads(text)
    if version is not None:
        data["version"] = version
    return _converter.structure(data, cls)


def _summary(data: dict[str, Any]) -> str:
    """The list-row JSON stored beside an application (what ApplicationSummary needs beyond the columns),
    from the application's unstructured ``data``."""
    agent = data.get("agent")
    return json.dumps({
        "agent": {"name": agent["name"], "id_number": agent["id_number"]} if agent else None,
        "holders": [{"kind": i["kind"], "name": i["holder"]["name"], "id_number": i["holder"]["id_number"]}
                    for i in data.get("items", [])],
    }, ensure_ascii=False)


# ---- search ----------------------------------------------------------------------------------------------
# ``applications.search`` holds what staff type, each field between "|", lowercased; migration 0014
# indexes it by trigrams (SQLite: the FTS5 table application_search; PostgreSQL: pg_trgm's GIN).
# A query of 3 or more characters matches anywhere in a field; one of 2 characters (most Chinese
# names) matches a field that starts or ends with it, which the "|" around each field makes a trigram;
# a single character is looked for in every row (no index can narrow it).
SEARCH_SEPARATOR = "|"
_SPACE = re.compile(r"\s+")


def search_field(text: str) -> str:
    """A field or a query as the search column holds it: lowercased, spaces collapsed, no separator."""
    return _SPACE.sub(" ", text.replace(SEARCH_SEPARATOR, " ")).strip().lower()


def search_text(app: Application) -> str:
    """The ``search`` column of ``app``: id, acceptance number, USCC, enterprise name and the names of
    its agent and card holders."""
    people = [app.agent.name] if app.agent else []
    people += [item.holder.name for item in app.items]
    fields = [app.id, app.acceptance_no, app.enterprise.uscc, app.enterprise.name, *dict.fromkeys(people)]
    kept = [f for f in map(search_field, fields) if f]
    return SEARCH_SEPARATOR + SEARCH_SEPARATOR.join(kept) + SEARCH_SEPARATOR


def _like_literal(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


_CODE = re.compile(r"[0-9a-z]+")
CODE_TAIL = 6  # characters of a code the index is asked for


def _search_condition(dialect: str, query: str) -> Any:
    """Rows whose search column matches ``query`` (see above); the LIKE is exact, the index narrows."""
    needle = search_field(query)
    if len(needle) == 2:
        pieces = [SEARCH_SEPARATOR + needle, needle + SEARCH_SEPARATOR]
        patterns = [f"%{_like_literal(SEARCH_SEPARATOR)}{_like_literal(needle)}%",
                    f"%{_like_literal(needle)}{_like_literal(SEARCH_SEPARATOR)}%"]
    else:
        pieces = [needle] if len(needle) >= 3 else []
        patterns = [f"%{_like_literal(needle)}%"]
    exact = or_(*(_c.search.like(p, escape="/") for p in patterns))
    if len(needle) > CODE_TAIL and _CODE.fullmatch(needle):
        # An acceptance number, a USCC or an id: their starts are shared by whole regions (WSZ000, 914403),
        # so every trigram of the whole code has a list of nearly every row to read (12 ms at 300,000 rows
        # on either database); its last characters differ from row to row (0.4 ms). The index is asked
        # for those, and the whole code is matched on the rows it finds (a form no index serves).
        pieces = [needle[-CODE_TAIL:]]
        exact = and_(_c.search.like(f"%{_like_literal(pieces[0])}%", escape="/"),
                     _c.search.op("||")(literal("")).like(patterns[0], escape="/"))
    if dialect != "sqlite" or not pieces:
        return exact  # PostgreSQL: pg_trgm's GIN index serves the LIKE itself
    phrases = " OR ".join('"' + p.replace('"', '""') + '"' for p in pieces)  # FTS5 phrase strings
    indexed: Select[Any] = select(literal_column("rowid")).select_from(text("application_search")).where(
        literal_column("application_search").op("MATCH")(bindparam("search_phrases", phrases)))
    return and_(literal_column("applications.rowid").in_(indexed), exact)


def _indexed_search(dialect: str, query: str) -> bool:
    """Whether SQLite's FTS5 table narrows a search for ``query`` (2 characters or more)."""
    return dialect == "sqlite" and len(search_field(query)) >= 2


def _unindexed(column: Any, unindexed: bool) -> Any:
    return literal_column(f"+{column.table.name}.{column.name}", type_=column.type) if unindexed else column


def _upsert(conn: Connection, table: Any, values: dict[str, Any], key: str,
            update_values: dict[str, Any]) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(**values)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(**values)
    else:  # pragma: no cover - only the two backends are supported
        raise RuntimeError(f"unsupported database {dialect}")
    conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=update_values))


class EnterpriseRepo:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, uscc: str) -> Enterprise | None:
        row = self._conn.execute(select(enterprises.c.data).where(enterprises.c.uscc == uscc)).first()
        return None if row is None else _load(Enterprise, row.data)

    def save(self, enterprise: Enterprise) -> None:
        """Insert or replace the enterprise (its version counts the saves)."""
        now = _now()
        values = {"uscc": enterprise.uscc, "name": enterprise.name, "data": _dump(enterprise),
                  "version": 1, "updated_at": now}
        _upsert(self._conn, enterprises, values, "uscc", {
            "name": enterprise.name, "data": values["data"], "updated_at": now,
            "version": enterprises.c.version + 1})

    def version(self, uscc: str) -> int | None:
        return self._conn.execute(
            select(enterprises.c.version).where(enterprises.c.uscc == uscc)).scalar_one_or_none()


def _conflict(kind_zh: str, kind_en: str, ident: str) -> ConflictError:
    return ConflictError(
        f"{kind_zh} {ident} 已被他人修改，请刷新后重试。",
        f"The {kind_en} {ident} was changed by someone else meanwhile; reload it and try again.",
        field="version")


class ApplicationRepo:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @staticmethod
    def _columns(app: Application, now: datetime) -> dict[str, Any]:
        data = _converter.unstructure(app)
        return {
            "enterprise_uscc": app.enterprise.uscc,
            "enterprise_name": app.enterprise.name,
            "business": app.business.value,
            "region": app.region,
            "state": app.state.value,
            "acceptance_no": app.acceptance_no or None,
            "due": app.due,
            "submitted_at": app.submitted_at,
            "updated_at": now,
            "summary": _summary(data),
            "delivery": app.delivery.value if app.delivery else None,
            "search": search_text(app),
            "data": _dump_data(data),
        }

    def get(self, app_id: str) -> Application:
        row = self._conn.execute(
            select(applications.c.data, applications.c.version).where(applications.c.id == app_id)).first()
        if row is None:
            raise NotFound(f"申请单 {app_id} 不存在。", f"Application {app_id} does not exist.",
                           field="application")
        return _load(Application, row.data, row.version)

    def add(self, app: Application) -> Application:
        now = _now()
        stored = attrs.evolve(app, version=1, created_at=app.created_at or now)
        values = self._columns(stored, now) | {"id": app.id, "created_at": stored.created_at, "version": 1}
        try:
            with self._conn.begin_nested():
                self._conn.execute(insert(applications).values(**values))
        except IntegrityError:
            raise ConflictError(
                f"申请单 {app.id} 或受理编号 {app.acceptance_no} 已存在。",
                f"Application {app.id} or acceptance number {app.acceptance_no} already exists.",
                field="application") from None
        return stored

    def update(self, app: Application) -> Application:
        """Write ``app`` if the stored row is still at ``app.version``; returns it at version + 1."""
        stored = attrs.evolve(app, version=app.version + 1)
        values = self._columns(stored, _now()) | {"version": stored.version}
        try:
            with self._conn.begin_nested():
                result = self._conn.execute(
                    update(applications)
                    .where(applications.c.id == app.id, applications.c.version == app.version)
                    .values(**values))
        except IntegrityError:
            raise ConflictError(
                f"受理编号 {app.acceptance_no} 已被其他申请单使用。",
                f"Acceptance number {app.acceptance_no} is already used by another application.",
                field="acceptance_no") from None
        if result.rowcount != 1:
            self.get(app.id)  # NotFound if it was never stored
            raise _conflict("申请单", "application", app.id)
        return stored

    def _filtered(self, query: Select[Any], region: str | None, states: Iterable[AppState] | None,
                  enterprise: str | None, business: Business | None, search: str | None,
                  deliveries: Iterable[Delivery | None] | None = None, created: DateRange | None = None
                  ) -> Select[Any]:
        # With an indexed search on SQLite, the region and state are left out of index choice (SQLite docs,
        # "The SQLite Query Optimizer Overview", §9 "Disqualifying WHERE clause terms using unary-'+'"): else
        # the planner walks the whole branch's queue index in order, testing each row against the search.
        narrowed = search is not None and _indexed_search(self._conn.dialect.name, search)
        if region is not None:
            query = query.where(_unindexed(applications.c.region, narrowed) == region)
        if states is not None:
            query = query.where(_unindexed(applications.c.state, narrowed).in_([AppState(s).value for s in states]))
        if enterprise is not None:
            query = query.where(applications.c.enterprise_uscc == enterprise)
        if business is not None:
            query = query.where(applications.c.business == Business(business).value)
        if search and search_field(search):
            query = query.where(_search_condition(self._conn.dialect.name, search))
        if deliveries is not None:
            query = query.where(_delivery_in(deliveries))
        if created is not None:
            first, last = created
            if first is not None:
                query = query.where(applications.c.created_at >= _day_start(first))
            if last is not None:
                query = query.where(applications.c.created_at < _day_start(last, 1))
        return query

    def find(self, region: str | None = None, states: Iterable[AppState] | None = None,
             enterprise: str | None = None, business: Business | None = None, search: str | None = None,
             order: str = "due", limit: int = 100, offset: int = 0, deliveries: Iterable[Delivery | None] | None = None,
             created: DateRange | None = None) -> list[Application]:
        """Applications matching every given filter.

        ``order``: "due" (soonest first, no due date last: the staff queue), "created" or
        "updated" (newest first: progress lists). Ties break on id so pages are stable.
        ``deliveries``: where a completed application's cards are (None: not yet sent by mail);
        ``created``: the first and last day (UTC, either open) it was made on.
        """
        page, _order = self._page(region, states, enterprise, business, search, order, limit, offset, deliveries,
                                  created)
        ids = [r.id for r in self._conn.execute(page)]
        if not ids:
            return []
        rows = {r.id: r for r in self._conn.execute(
            select(applications.c.id, applications.c.data, applications.c.version)
            .where(applications.c.id.in_(ids)))}
        return [_load(Application, rows[i].data, rows[i].version) for i in ids if i in rows]

    def find_summaries(self, region: str | None = None, states: Iterable[AppState] | None = None,
                       enterprise: str | None = None, business: Business | None = None,
                       search: str | None = None, order: str = "due", limit: int = 100,
                       offset: int = 0, deliveries: Iterable[Delivery | None] | None = None
                       ) -> list[ApplicationSummary]:
        """The rows :meth:`find` would return, as list-row summaries (no aggregate is built)."""
        if search:  # rare: built each time (the LIKE patterns are escaped literals)
            page, ordering = self._page(region, states, enterprise, business, search, order, limit, offset,
                                        deliveries)
            rows = [tuple(r) for r in self._conn.execute(_summaries_of(page, ordering))]
        else:
            rows = _run_prepared(self._conn, *_summaries_query(region, states, enterprise, business, order, limit,
                                                               offset, deliveries))
        missing = [r[0] for r in rows if r[-1] is None]
        # Rows written before migration 0005 filled them in have none: derive it from their JSON.
        derived = {r.id: _summary(json.loads(r.data)) for r in self._conn.execute(
            select(_c.id, _c.data).where(_c.id.in_(missing)))} if missing else {}
        return [_summary_row(tuple(r) if r[-1] is not None else (*r[:-1], derived[r[0]])) for r in rows]

    def summaries_after(self, after: QueueKey | None, limit: int, *, region: str | None = None,
                        states: Iterable[AppState] | None = None, enterprise: str | None = None,
                        business: Business | None = None, search: str | None = None,
                        deliveries: Iterable[Delivery | None] | None = None
                        ) -> list[tuple[ApplicationSummary, QueueKey]]:
        """The first ``limit`` rows in the queue's order (due soonest first, no due date last; ties on
        created_at, id) that come after the row whose key is ``after`` (None: from the start), each with
        its own key: keyset pagination, as cheap at page 10,000 as at page 1 (an OFFSET reads and drops
        every row before the page). Two range scans of the queue index: the rows with a due date after
        the key's, then those without one."""
        if limit < 0:
            raise InvalidInput("分页参数不能为负数。", "limit must not be negative.", field="limit")
        c = applications.c
        deliveries = tuple(deliveries) if deliveries is not None else None
        base = self._filtered(select(c.id, c.due, c.created_at), region, states, enterprise, business, search,
                              deliveries)
        found: list[Any] = []
        if after is None or after[0] is not None:
            dated = base.where(c.due.is_not(None))
            if after is not None:
                dated = dated.where(tuple_(c.due, c.created_at, c.id) > tuple_(*_typed(after)))
            found += self._conn.execute(dated.order_by(c.due, c.created_at, c.id).limit(limit))
        if len(found) < limit:
            undated = base.where(c.due.is_(None))
            if after is not None and after[0] is None:
                undated = undated.where(tuple_(c.created_at, c.id) > tuple_(*_typed(after)[1:]))
            found += self._conn.execute(undated.order_by(c.created_at, c.id).limit(limit - len(found)))
        if not found:
            return []
        rows = {r[0]: tuple(r) for r in self._conn.execute(select(*_SUMMARY_COLUMNS).where(_c.id.in_([f.id for f in found])))}
        missing = [i for i, r in rows.items() if r[-1] is None]
        if missing:  # rows written before migration 0005: derived from their JSON
            for r in self._conn.execute(select(_c.id, _c.data).where(_c.id.in_(missing))):
                rows[r.id] = (*rows[r.id][:-1], _summary(json.loads(r.data)))
        return [(_summary_row(rows[f.id]), (f.due, f.created_at, f.id)) for f in found if f.id in rows]

    def _page(self, region: str | None, states: Iterable[AppState] | None, enterprise: str | None,
              business: Business | None, search: str | None, order: str, limit: int,
              offset: int, deliveries: Iterable[Delivery | None] | None = None,
              created: DateRange | None = None) -> tuple[Select[Any], tuple[Any, ...]]:
        """The query for one page of ids, and its ordering (to apply again to the rows it selects)."""
        # Two steps: the page's ids first (narrow rows, from the covering index when one fits), then
        # only those rows; sorting whole JSON rows made the 100,000-row queue ~200 times slower.
        _check_page(order, limit, offset)
        ordering = _ordering(order)
        c = applications.c
        query = self._filtered(select(c.id), region, states, enterprise, business, search, deliveries, created)
        return query.order_by(*ordering).limit(limit).offset(offset), ordering

    def count(self, region: str | None = None, states: Iterable[AppState] | None = None,
              enterprise: str | None = None, business: Business | None = None,
              search: str | None = None) -> int:
        query = self._filtered(select(func.count()).select_from(applications),
                               region, states, enterprise, business, search)
        return int(self._conn.execute(query).scalar_one())

    def stage_counts(self, region: str, states: Iterable[AppState]) -> dict[tuple[AppState, Delivery | None], int]:
        """How many of the branch's applications are in each (state, delivery) pair, for ``states``: one
        grouped query from the delivery index (the staff queue's tab counts)."""
        c = applications.c
        rows = self._conn.execute(select(c.state, c.delivery, func.count())
                                  .where(c.region == region, c.state.in_(sorted(AppState(s).value for s in states)))
                                  .group_by(c.state, c.delivery))
        return {(_STATES[state], Delivery(delivery) if delivery else None): int(n) for state, delivery, n in rows}

    def state_counts(self, today: date) -> list[StateCount]:
        """Applications per region and state (deleted drafts left out), with those overdue on ``today``
        as :func:`core.deadlines.is_overdue` counts them: one grouped query (the metrics' queue lengths)."""
        c = applications.c
        late = case((and_(c.due < today, c.state.not_in(sorted(s.value for s in FINISHED))), 1), else_=0)
        rows = self._conn.execute(select(c.region, c.state, func.count(), func.sum(late))
                                  .where(c.state != AppState.DELETED.value)
                                  .group_by(c.region, c.state).order_by(c.region, c.state))
        return [StateCount(region, state, int(total), int(overdue or 0)) for region, state, total, overdue in rows]

    def by_acceptance_no(self, no: str) -> Application | None:
        row = self._conn.execute(select(applications.c.data, applications.c.version)
                                 .where(applications.c.acceptance_no == no)).first()
        return None if row is None else _load(Application, row.data, row.version)

    def progress_of(self, no: str) -> ApplicationProgress | None:
        """The progress of the application with acceptance number ``no`` (the public query's view)."""
        rows = _run_prepared(self._conn, ("progress",), _progress_statement, {"no": no})
        return _progress_row(tuple(rows[0])) if rows else None  # QuickReads.progress_of: the same

    def open_for(self, uscc: str, business: Business) -> list[Application]:
        rows = self._conn.execute(
            select(applications.c.data, applications.c.version)
            .where(applications.c.enterprise_uscc == uscc,
                   applications.c.business == Business(business).value,
                   applications.c.state.in_(sorted(s.value for s in OPEN_STATES)))
            .order_by(applications.c.created_at, applications.c.id))
        return [_load(Application, r.data, r.version) for r in rows]


# ---- hot list and progress reads ---------------------------------------------------------------------------
# The staff queue and the public progress query run on every page view. Their statements are built
# and compiled once per shape and dialect and run as driver SQL, and their rows are decoded by memos
# keyed on the raw row values: an unchanged row decodes to the same frozen value, and any change in
# the database changes the row and so the key, so a memo entry can never be stale.

def _ordering(order: str) -> tuple[Any, ...]:
    c = applications.c
    if order == "due":
        return (c.due.asc().nulls_last(), c.created_at, c.id)
    if order == "created":
        return (c.created_at.desc(), c.id.desc())
    if order == "updated":
        return (c.updated_at.desc(), c.id.desc())
    raise InvalidInput(f"不支持的排序方式：{order}", f"Unknown order {order!r}; use one of {ORDERS}.",
                       field="order")


def _check_page(order: str, limit: int, offset: int) -> None:
    if order not in ORDERS:
        _ordering(order)  # raises the error that names the orders there are
    if limit < 0 or offset < 0:
        raise InvalidInput("分页参数不能为负数。", "limit and offset must not be negative.", field="limit")


_c = applications.c
# summary last: NULL only on rows written before migration 0005 (filled in from their JSON then).
_SUMMARY_COLUMNS = (_c.id, _c.acceptance_no, _c.business, _c.region, _c.state, _c.version, _c.due,
                    _c.submitted_at, _c.enterprise_uscc, _c.enterprise_name, _c.delivery, _c.summary)
DateRange = tuple[date | None, date | None]
QueueKey = tuple[date | None, datetime, str]  # a row's place in the queue order: (due, created_at, id)


def _typed(key: QueueKey) -> tuple[Any, ...]:
    """The key's values as bound parameters of the columns' own types (UTCDateTime writes SQLite's text)."""
    return tuple(literal(value, column.type) for value, column in zip(key, (_c.due, _c.created_at, _c.id), strict=True))


def _day_start(day: date, days_after: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=days_after)


def _delivery_in(deliveries: Iterable[Delivery | None]) -> Any:
    """``delivery`` is one of ``deliveries`` (None: NULL, i.e. not yet sent by mail)."""
    chosen = set(deliveries)
    values = sorted(Delivery(d).value for d in chosen if d is not None)
    conditions = [_c.delivery.in_([literal_column(f"'{v}'") for v in values])] if values else []
    if None in chosen:
        conditions.append(_c.delivery.is_(None))
    return or_(*conditions) if conditions else literal_column("1") == literal_column("0")


# One statement per page: the page's ids (from the index) inside, only those rows' columns outside.
def _summaries_statement(order: str, states: tuple[str, ...] | None, by_region: bool, by_enterprise: bool,
                         by_business: bool, deliveries: tuple[str, ...] | None = None) -> Select[Any]:
    ordering = _ordering(order)
    page = select(_c.id)
    if by_region:
        page = page.where(_c.region == bindparam("region"))
    if states is not None:
        # Literal enum values (plain identifiers), so the IN list needs no expansion at each run.
        assert all(s.isidentifier() for s in states)
        page = page.where(_c.state.in_([literal_column(f"'{s}'") for s in states]))
    if by_enterprise:
        page = page.where(_c.enterprise_uscc == bindparam("enterprise"))
    if by_business:
        page = page.where(_c.business == bindparam("business"))
    if deliveries is not None:  # literal values too ("" for NULL)
        page = page.where(_delivery_in(Delivery(d) if d else None for d in deliveries))
    page = page.order_by(*ordering).limit(bindparam("lim", type_=Integer)).offset(bindparam("off", type_=Integer))
    return _summaries_of(page, ordering)


def _summaries_of(page: Select[Any], ordering: tuple[Any, ...]) -> Select[Any]:
    """The summary columns of the rows whose ids ``page`` selects (a join: on PostgreSQL ~0.1 ms
    cheaper than ``id IN (subquery)``, which hashes the ids first)."""
    ids = page.subquery("page")
    return select(*_SUMMARY_COLUMNS).join_from(ids, applications, _c.id == ids.c.id).order_by(*ordering)


def _progress_statement() -> Select[Any]:
    return select(_c.acceptance_no, _c.enterprise_uscc, _c.business, _c.region, _c.state, _c.due,
                  _c.data).where(_c.acceptance_no == bindparam("no"))


def _crl_rows_statement() -> Select[Any]:
    c = certificates.c  # the covering index ix_certificates_revoked, in its order
    return (select(c.serial, c.revoked_at, c.reason).where(c.status.in_([literal_column("'hold'"),
                                                                        literal_column("'revoked'")]))
            .order_by(c.revoked_at, c.serial))


def _certificate_status_statement() -> Select[Any]:
    c = certificates.c
    return select(c.status, c.reason, c.revoked_at).where(c.serial == bindparam("serial"))


def _summaries_query(region: str | None, states: Iterable[AppState] | None, enterprise: str | None,
                     business: Business | None, order: str, limit: int, offset: int,
                     deliveries: Iterable[Delivery | None] | None = None
                     ) -> tuple[tuple[Any, ...], Callable[[], Select[Any]], dict[str, Any]]:
    """(shape key, statement builder, parameters) of a page of summaries without a search."""
    _check_page(order, limit, offset)
    shape = (order, None if states is None else tuple(sorted({AppState(s).value for s in states})),
             region is not None, enterprise is not None, business is not None,
             None if deliveries is None else tuple(sorted({Delivery(d).value if d else "" for d in deliveries})))
    params = {"region": region, "enterprise": enterprise, "lim": limit, "off": offset,
              "business": None if business is None else Business(business).value}
    return ("summaries", *shape), lambda: _summaries_statement(*shape), params


_PREPARED: dict[tuple[Any, ...], tuple[str, tuple[str, ...] | None]] = {}


def prepared_sql(dialect: Dialect, key: tuple[Any, ...], build: Callable[[], Select[Any]],
                 params: dict[str, Any]) -> tuple[str, Any]:
    """(SQL, driver arguments) of the statement ``build`` makes, compiled once per dialect and ``key``."""
    full_key = (dialect.name, dialect.driver, dialect.paramstyle, *key)
    prepared = _PREPARED.get(full_key)
    if prepared is None:
        compiled = build().compile(dialect=dialect)
        order = compiled.positiontup  # the parameters' order for positional paramstyles (SQLite's "?")
        prepared = (compiled.string, tuple(order) if order is not None else None)
        _PREPARED[full_key] = prepared  # a few dozen shapes at most: no bound needed
    sql, positions = prepared
    return sql, tuple(params[n] for n in positions) if positions is not None else params


def _run_prepared(conn: Connection, key: tuple[Any, ...], build: Callable[[], Select[Any]],
                  params: dict[str, Any]) -> list[Any]:
    """Rows (raw driver values) of the statement ``build`` makes, on ``conn``."""
    return list(conn.exec_driver_sql(*prepared_sql(conn.dialect, key, build, params)).fetchall())


class QuickReads:
    """The public progress query and list pages as single statements run straight on the driver.

    ``run(sql, args)`` executes one statement outside any SQLAlchemy Connection or transaction of
    ours (``Store.driver_rows``: about 75 µs less per read than a read-only transaction); one
    statement sees one consistent snapshot by itself. Results equal ApplicationRepo's methods of
    the same names, which ``fallback`` (a read-only transaction) serves in the rare cases a single
    statement cannot: a text search, rows from before migration 0005.
    """

    def __init__(self, dialect: Dialect, run: Callable[[str, Any], list[Any]],
                 fallback: Callable[[], AbstractContextManager[Any]]) -> None:
        self._dialect = dialect
        self._run = run
        self._fallback = fallback

    def _rows(self, key: tuple[Any, ...], build: Callable[[], Select[Any]], params: dict[str, Any]) -> list[Any]:
        return self._run(*prepared_sql(self._dialect, key, build, params))

    def progress_of(self, no: str) -> ApplicationProgress | None:
        rows = self._rows(("progress",), _progress_statement, {"no": no})
        return _progress_row(tuple(rows[0])) if rows else None

    def certificate_status(self, serial: str) -> RevokedEntry | None:
        """A certificate's status, reason and revocation time (what an OCSP answer says), or None."""
        rows = self._rows(("certificate status",), _certificate_status_statement, {"serial": serial.lower()})
        if not rows:
            return None
        status, reason, revoked_at = rows[0]
        return RevokedEntry(serial.lower(), status, reason, _utc(revoked_at))

    def find_summaries(self, region: str | None = None, states: Iterable[AppState] | None = None,
                       enterprise: str | None = None, business: Business | None = None,
                       search: str | None = None, order: str = "due", limit: int = 100,
                       offset: int = 0, deliveries: Iterable[Delivery | None] | None = None
                       ) -> list[ApplicationSummary]:
        if deliveries is not None:
            deliveries = tuple(deliveries)  # read twice below
        if not search:
            rows = self._rows(*_summaries_query(region, states, enterprise, business, order, limit, offset,
                                                deliveries))
            if all(r[-1] is not None for r in rows):
                return [_summary_row(tuple(r)) for r in rows]
        with self._fallback() as tx:
            return list(tx.applications.find_summaries(region, states, enterprise, business, search, order,
                                                       limit, offset, deliveries))


def _date(value: Any) -> date | None:
    """A Date column's raw driver value (SQLite: ISO text; PostgreSQL: a date)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _utc(value: Any) -> datetime | None:
    """A UTCDateTime column's raw driver value as ``UTCDateTime`` returns it (aware, UTC)."""
    if value is None:
        return None
    if isinstance(value, str):  # SQLite: naive UTC text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@lru_cache(maxsize=8192)
def _summary_row(row: tuple[Any, ...]) -> ApplicationSummary:
    app_id, acceptance_no, business, region, state, version, due, submitted_at, uscc, name, delivery, summary = row
    extra = json.loads(summary)
    agent = extra["agent"]
    return ApplicationSummary(
        id=app_id, acceptance_no=acceptance_no or "", business=_BUSINESSES[business], region=region,
        state=_STATES[state], version=version, due=_date(due), submitted_at=_utc(submitted_at),
        enterprise_uscc=uscc, enterprise_name=name, delivery=Delivery(delivery) if delivery else None,
        agent=PersonLine(agent["name"], agent["id_number"]) if agent else None,
        holders=tuple(HolderLine(_KINDS[h["kind"]], h["name"], h["id_number"]) for h in extra["holders"]))


@lru_cache(maxsize=4096)
def _progress_row(row: tuple[Any, ...]) -> ApplicationProgress:
    acceptance_no, uscc, business, region, state, due, text = row
    data = json.loads(text)  # only its history and delivery are turned into objects
    delivery = data.get("delivery")
    return ApplicationProgress(
        acceptance_no=acceptance_no, enterprise_uscc=uscc, business=_BUSINESSES[business], region=region,
        state=_STATES[state], due=_date(due), delivery=Delivery(delivery) if delivery else None,
        tracking_no=data.get("tracking_no", ""),
        history=_converter.structure(data.get("history", []), tuple[Transition, ...]))

class CardRepo:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @staticmethod
    def _columns(card: Card) -> dict[str, Any]:
        cert = card.certificate
        return {
            "enterprise_uscc": card.enterprise_uscc,
            "kind": card.kind.value,
            "state": card.state.value,
            "device_no": card.device_no or None,
            "certificate_serial": cert.serial if cert else None,
            "not_after": cert.not_after if cert else None,
            "data": _dump(card),
        }

    def get(self, card_id: str) -> Card:
        row = self._conn.execute(select(cards.c.data, cards.c.version).where(cards.c.id == card_id)).first()
        if row is None:
            raise NotFound(f"卡 {card_id} 不存在。", f"Card {card_id} does not exist.", field="card")
        return _load(Card, row.data, row.version)

    def add(self, card: Card) -> Card:
        stored = attrs.evolve(card, version=1)
        try:
            with self._conn.begin_nested():
                self._conn.execute(insert(cards).values(id=card.id, version=1, **self._columns(stored)))
        except IntegrityError:
            raise ConflictError(f"卡 {card.id} 已存在。", f"Card {card.id} already exists.",
                                field="card") from None
        return stored

    def update(self, card: Card) -> Card:
        stored = attrs.evolve(card, version=card.version + 1)
        result = self._conn.execute(
            update(cards).where(cards.c.id == card.id, cards.c.version == card.version)
            .values(version=stored.version, **self._columns(stored)))
        if result.rowcount != 1:
            self.get(card.id)
            raise _conflict("卡", "card", card.id)
        return stored

    def _many(self, query: Select[Any]) -> list[Card]:
        return [_load(Card, r.data, r.version) for r in self._conn.execute(query)]

    def for_enterprise(self, uscc: str) -> list[Card]:
        return self._many(select(cards.c.data, cards.c.version)
                          .where(cards.c.enterprise_uscc == uscc).order_by(cards.c.kind, cards.c.id))

    def by_certificate(self, serial_hex: str) -> Card | None:
        found = self._many(select(cards.c.data, cards.c.version)
                           .where(cards.c.certificate_serial == serial_hex.lower()).limit(1))
        return found[0] if found else None

    def blank(self) -> list[Card]:
        """Cards recorded but not yet made (a personalisation under way, or cut short by a crash)."""
        return self._many(select(cards.c.data, cards.c.version).where(cards.c.state == CardState.BLANK.value)
                          .order_by(cards.c.id))

    def blank_on_hold(self) -> list[Card]:
        """The :meth:`blank` cards whose certificate is still on hold: found through the certificates'
        status index (a card's every read asks, so it must not scan every card)."""
        held = select(certificates.c.card_id).where(certificates.c.status == "hold")
        return self._many(select(cards.c.data, cards.c.version)
                          .where(cards.c.id.in_(held), cards.c.state == CardState.BLANK.value).order_by(cards.c.id))

    def by_device_no(self, no: str) -> Card | None:
        # A device number may be reused after a card is replaced: the most recent card wins.
        found = self._many(select(cards.c.data, cards.c.version)
                           .where(cards.c.device_no == no).order_by(cards.c.version.desc()).limit(1))
        return found[0] if found else None


def _certificate(row: Any) -> CertificateRecord:
    return CertificateRecord(
        serial=row.serial, card_id=row.card_id, enterprise_uscc=row.enterprise_uscc,
        kind=CardKind(row.kind), subject=row.subject, not_before=row.not_before,
        not_after=row.not_after, pem=row.pem, status=row.status, reason=row.reason,
        revoked_at=row.revoked_at)


_ADD_CERTIFICATE = {name: dialect.insert(certificates).on_conflict_do_nothing(index_elements=["serial"])
                    .returning(certificates.c.serial) for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))}


class CertificateRepo:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: CertificateRecord) -> CertificateRecord:
        serial = record.serial.lower()
        if not serial or any(c not in "0123456789abcdef" for c in serial):
            raise InvalidInput("证书序列号必须是十六进制。", "The certificate serial must be hexadecimal.",
                               field="serial")
        record = attrs.evolve(record, serial=serial)
        # ON CONFLICT DO NOTHING instead of a savepoint around a failing INSERT: two round trips fewer on
        # PostgreSQL, and the statement is built once (issuance is the write path's hot spot).
        added = self._conn.execute(_ADD_CERTIFICATE[self._conn.dialect.name], {
            "serial": serial, "card_id": record.card_id, "enterprise_uscc": record.enterprise_uscc,
            "kind": record.kind.value, "subject": record.subject, "not_before": record.not_before,
            "not_after": record.not_after, "status": record.status, "reason": record.reason,
            "revoked_at": record.revoked_at, "pem": record.pem}).first()
        if added is None:
            raise ConflictError(f"证书 {serial} 已存在。", f"Certificate {serial} already exists.",
                                field="serial")
        if record.status != "good":  # a renewal registered on hold: a CRL entry
            next_value(self._conn, STATUS_MARK)
        return record

    def get(self, serial: str) -> CertificateRecord | None:
        row = self._conn.execute(select(certificates).where(certificates.c.serial == serial.lower())).first()
        return None if row is None else _certificate(row)

    def set_status(self, serial: str, status: str, reason: str | None = None,
                   at: datetime | None = None) -> CertificateRecord:
        """Put a certificate on hold, release it ("good") or revoke it. Revocation is final."""
        if status not in CERT_STATUSES:
            raise InvalidInput(f"未知的证书状态：{status}", f"Unknown certificate status {status!r}.",
                               field="status")
        if reason is not None:
            try:
                x509.ReasonFlags(reason)
            except ValueError:
                raise InvalidInput(f"未知的吊销原因：{reason}", f"Unknown CRL reason {reason!r}.",
                                   field="reason") from None
        current = self.get(serial)
        if current is None:
            raise NotFound(f"证书 {serial} 不存在。", f"Certificate {serial} does not exist.", field="serial")
        if current.status == "revoked" and status != "revoked":
            raise TransitionError(f"证书 {serial} 已吊销，不能恢复。",
                                  f"Certificate {serial} is revoked; revocation cannot be undone.",
                                  field="status")
        if status == "good":
            values: dict[str, Any] = {"status": "good", "reason": None, "revoked_at": None}
        else:
            default_reason = "certificateHold" if status == "hold" else "unspecified"
            values = {"status": status, "reason": reason or default_reason,
                      "revoked_at": at or _now()}
        self._conn.execute(
            update(certificates).where(certificates.c.serial == current.serial).values(**values))
        next_value(self._conn, STATUS_MARK)  # every published CRL is stale from now on
        return attrs.evolve(current, **values)

    def revoked(self) -> Iterator[RevokedEntry]:
        """Certificates on hold or revoked, oldest revocation first: the entries of a CRL, read from the
        covering index ix_certificates_revoked (serial, status, reason and date only)."""
        c = certificates.c
        rows = self._conn.execute(
            select(c.serial, c.status, c.reason, c.revoked_at).where(c.status.in_(("hold", "revoked")))
            .order_by(c.revoked_at, c.serial))
        for serial, status, reason, revoked_at in rows:
            yield RevokedEntry(serial, status, reason, revoked_at)

    def crl_rows(self) -> list[tuple[int, datetime | None, str | None]]:
        """:meth:`revoked` as the CRL signs it: (serial as an integer, revocation time, reason), read on the
        driver's own cursor (plain tuples: a 100,000-entry CRL spent more time making row objects than
        signing) within this transaction."""
        sql, args = prepared_sql(self._conn.dialect, ("crl rows",), _crl_rows_statement, {})
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if self._conn.dialect.name == "sqlite":  # naive UTC text with microseconds (UTCDateTime)
            parse = datetime.fromisoformat
            return [(int(serial, 16), parse(at + "+00:00") if at else None, reason) for serial, at, reason in rows]
        return [(int(serial, 16), at, reason) for serial, at, reason in rows]  # timestamptz: aware, in UTC

    def pending_renewals(self, held_before: datetime) -> list[CertificateRecord]:
        """Renewed certificates released to a card (on hold) before ``held_before`` whose card record still
        names another certificate: renewals never confirmed. A frozen or lost card's own certificate is on
        hold too, but its card names it, so it is not among them."""
        current = cards.c.certificate_serial
        rows = self._conn.execute(
            select(certificates).join(cards, cards.c.id == certificates.c.card_id)
            .where(certificates.c.status == "hold", certificates.c.revoked_at < held_before,
                   or_(current.is_(None), current != certificates.c.serial))
            .order_by(certificates.c.revoked_at, certificates.c.serial))
        return [_certificate(r) for r in rows]

    def for_card(self, card_id: str) -> list[CertificateRecord]:
        rows = self._conn.execute(select(certificates).where(certificates.c.card_id == card_id)
                                  .order_by(certificates.c.not_before))
        return [_certificate(r) for r in rows]


# The counter every change of a certificate's status moves: a CRL built at another value is stale.
STATUS_MARK = "certificate_status"


def next_value(conn: Connection, name: str) -> int:
    """The next value of the named counter in ``sequences``, starting at 1; atomic under concurrent callers."""
    insert_fn: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (insert_fn(sequences).values(name=name, value=1)
            .on_conflict_do_update(index_elements=["name"], set_={"value": sequences.c.value + 1})
            .returning(sequences.c.value))
    return int(conn.execute(stmt).scalar_one())


class CrlRepo:
    """The CRLs the CA published, newest last (see core/services/crl_publication.py)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def mark(self) -> int:
        """The certificate status counter now (0: no status ever changed)."""
        found = self._conn.execute(select(sequences.c.value).where(sequences.c.name == STATUS_MARK)).scalar()
        return int(found or 0)

    def latest(self, with_der: bool = True) -> PublishedCrl | None:
        """The newest published CRL (its DER only when ``with_der``), or None before the first."""
        c = crls.c
        columns = [c.number, c.this_update, c.next_update, c.entries, c.mark] + ([c.der] if with_der else [])
        row = self._conn.execute(select(*columns).order_by(c.number.desc()).limit(1)).first()
        if row is None:
            return None
        return PublishedCrl(row.number, row.this_update, row.next_update, row.entries, row.mark,
                            bytes(row.der) if with_der else b"")

    def add(self, crl: PublishedCrl) -> bool:
        """Record a newly signed CRL; False when another process published that number first."""
        try:
            with self._conn.begin_nested():
                self._conn.execute(insert(crls).values(
                    number=crl.number, this_update=crl.this_update, next_update=crl.next_update,
                    entries=crl.entries, mark=crl.mark, der=crl.der))
        except IntegrityError:
            return False
        return True


def _attachment(row: Any) -> Attachment:
    return Attachment(id=row.id, sha256=row.sha256, filename=row.filename, media_type=row.media_type,
                      size=row.size, uploaded_at=row.uploaded_at, owner_uscc=row.owner_uscc,
                      application_id=row.application_id or "", material=row.material)


class AttachmentRepo:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, attachment: Attachment) -> Attachment:
        try:
            with self._conn.begin_nested():
                self._conn.execute(insert(attachments).values(
                    id=attachment.id, sha256=attachment.sha256, owner_uscc=attachment.owner_uscc,
                    application_id=attachment.application_id or None, material=attachment.material,
                    filename=attachment.filename, media_type=attachment.media_type,
                    size=attachment.size, uploaded_at=attachment.uploaded_at))
        except IntegrityError:
            raise ConflictError(f"附件 {attachment.id} 已存在。",
                                f"Attachment {attachment.id} already exists.", field="attachment") from None
        return attachment

    def get(self, att_id: str) -> Attachment:
        row = self._conn.execute(select(attachments).where(attachments.c.id == att_id)).first()
        if row is None:
            raise NotFound(f"附件 {att_id} 不存在。", f"Attachment {att_id} does not exist.",
                           field="attachment")
        return _attachment(row)

    def for_application(self, app_id: str) -> list[Attachment]:
        rows = self._conn.execute(select(attachments).where(attachments.c.application_id == app_id)
                                  .order_by(attachments.c.uploaded_at, attachments.c.id))
        return [_attachment(r) for r in rows]

    def blob_hashes(self) -> list[str]:
        """The SHA-256 of every blob an attachment references (each once, sorted): what the blob store must hold."""
        return list(self._conn.execute(select(attachments.c.sha256).distinct().order_by(attachments.c.sha256))
                    .scalars())
