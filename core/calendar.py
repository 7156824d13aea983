"""Working days in mainland China: Monday to Friday, less statutory holidays, plus 调休 workdays.

The statutory holidays and adjusted weekend workdays come from ``holidays.China``. The State
Council publishes each year's schedule only in the late autumn before, so a deployment can add
``CalendarOverrides`` for a year the library does not know yet; overrides win over the library.
Each year is computed once per calendar and kept as a table, so a staff queue computing many
due dates does not rebuild the holiday list each time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta

import holidays
from attrs import field, frozen

from core.errors import ConfigError, InvalidInput
from core.rules import Milestone, Timeframe

__all__ = ["FIRST_YEAR", "LAST_YEAR", "CalendarOverrides", "WorkCalendar", "in_calendar", "load_overrides"]

# The years ``holidays.China`` knows (1950-2100). Outside them a due date would be counted on bare
# weekends, or run past the last year ``date`` can hold, so a start date there is refused.
FIRST_YEAR: int = holidays.China.start_year
LAST_YEAR: int = holidays.China.end_year


def in_calendar(day: date, field: str) -> date:
    """``day`` when due dates can be counted from it, else a bilingual ``InvalidInput`` naming ``field``."""
    if FIRST_YEAR <= day.year <= LAST_YEAR:
        return day
    raise InvalidInput(f"{field} 的日期 {day.isoformat()} 超出工作日历的范围（{FIRST_YEAR}–{LAST_YEAR} 年），"
                       "请输入此范围内的日期",
                       f"{field} {day.isoformat()} is outside the working-day calendar ({FIRST_YEAR}–{LAST_YEAR}); "
                       "enter a date in that range", field=field.lstrip("-"))


def _sorted_dates(values: Iterable[date]) -> tuple[date, ...]:
    return tuple(sorted(set(values)))


@frozen
class CalendarOverrides:
    """Deployment overrides: days off and days worked that the library does not (yet) know."""

    holidays: tuple[date, ...] = field(default=(), converter=_sorted_dates)
    workdays: tuple[date, ...] = field(default=(), converter=_sorted_dates)

    def __attrs_post_init__(self) -> None:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise ConfigError(f"日期 {listed} 同时列在 calendar.holidays 和 calendar.workdays 中；"
                              "请只保留其一。",
                              f"{listed} is listed both in calendar.holidays and in calendar.workdays; "
                              "keep only one.",
                              field="calendar")


def load_overrides(mapping: Mapping[str, object]) -> CalendarOverrides:
    """``{"holidays": ["2031-01-01", ...], "workdays": [...]}`` (ISO dates) from deployment config."""
    if not isinstance(mapping, Mapping):
        raise ConfigError("日历覆盖配置应为包含 holidays 和 workdays 的表。",
                          "Calendar overrides must be a table with holidays and workdays.",
                          field="calendar")
    unknown = sorted(set(mapping) - {"holidays", "workdays"})
    if unknown:
        raise ConfigError(f"日历覆盖配置中有未知的键：{', '.join(map(str, unknown))}；"
                          "只允许 holidays 和 workdays。",
                          f"Unknown calendar override keys: {', '.join(map(str, unknown))}; "
                          "only holidays and workdays are allowed.", field="calendar")
    parsed = {key: _parse_dates(key, mapping.get(key, [])) for key in ("holidays", "workdays")}
    return CalendarOverrides(holidays=parsed["holidays"], workdays=parsed["workdays"])


def _parse_dates(key: str, values: object) -> tuple[date, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ConfigError(f"calendar.{key} 应为日期列表（如 [\"2031-01-01\"]）。",
                          f"calendar.{key} must be a list of dates (e.g. [\"2031-01-01\"]).",
                          field=f"calendar.{key}")
    return tuple(_parse_date(f"calendar.{key}[{index}]", value) for index, value in enumerate(values))


def _parse_date(where: str, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):  # TOML gives dates natively
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{where} 的值 {value!r} 不是有效日期；请写成 YYYY-MM-DD。",
                      f"{where} = {value!r} is not a valid date; write it as YYYY-MM-DD.",
                      field=where)


@frozen
class _Year:
    """One year's working days as sorted ordinals, for bisecting."""

    ordinals: tuple[int, ...]

    def count_through(self, d: date) -> int:
        """Working days of this year up to and including ``d``."""
        return bisect.bisect_right(self.ordinals, d.toordinal())


class WorkCalendar:
    """Working days, with a per-year cache. Not shared across threads for writing; cheap to build."""

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self.overrides = overrides or CalendarOverrides()
        self._extra_holidays = frozenset(self.overrides.holidays)
        self._extra_workdays = frozenset(self.overrides.workdays)
        self._years: dict[int, _Year] = {}

    # -- the per-year table -------------------------------------------------------------------

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            table = self._years[year] = self._build_year(year)
        return table

    def _build_year(self, year: int) -> _Year:
        # A 调休 workday can belong to a neighbouring year's holiday (e.g. a late-December
        # Saturday worked for New Year), so the neighbours are loaded and the result filtered.
        years = range(max(year - 1, MINYEAR), min(year + 1, MAXYEAR) + 1)
        library = holidays.China(years=years)
        day_off = {d for d in library if d.year == year}
        worked = {d for d in library.weekend_workdays if d.year == year}
        day_off = (day_off | {d for d in self._extra_holidays if d.year == year}) - self._extra_workdays
        worked = (worked | {d for d in self._extra_workdays if d.year == year}) - self._extra_holidays
        ordinals = []
        day = date(year, 1, 1)
        while day.year == year:
            if day in worked or (day.weekday() < 5 and day not in day_off):
                ordinals.append(day.toordinal())
            if day == date.max:
                break
            day += timedelta(days=1)
        return _Year(tuple(ordinals))

    def _days_in_year(self, year: int) -> int:
        return len(self._year(year).ordinals)

    # -- queries ------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        ordinals = self._year(d.year).ordinals
        index = bisect.bisect_left(ordinals, d.toordinal())
        return index < len(ordinals) and ordinals[index] == d.toordinal()

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]``; negative (the count of ``(end, start]``) if end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        if start.year == end.year:
            year = self._year(start.year)
            return year.count_through(end) - year.count_through(start)
        total = self._days_in_year(start.year) - self._year(start.year).count_through(start)
        total += sum(self._days_in_year(y) for y in range(start.year + 1, end.year))
        return total + self._year(end.year).count_through(end)

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (start not counted); ``n == 0`` gives ``start``.

        A negative ``n`` gives the ``|n|``-th working day before ``start``.
        """
        if n == 0:
            return start
        year = start.year
        if n > 0:
            # position of the wanted day among this year's working days, counting from index 0
            wanted = self._year(year).count_through(start) + n - 1
            while wanted >= self._days_in_year(year):
                wanted -= self._days_in_year(year)
                year = self._next_year(year)
            return date.fromordinal(self._year(year).ordinals[wanted])
        before = bisect.bisect_left(self._year(year).ordinals, start.toordinal())  # days before start
        wanted = before + n  # n < 0
        while wanted < 0:
            year = self._previous_year(year)
            wanted += self._days_in_year(year)
        return date.fromordinal(self._year(year).ordinals[wanted])

    def next_working_day(self, d: date) -> date:
        """The first working day after ``d``."""
        return self.add_working_days(d, 1)

    def due_dates(self, timeframe: Timeframe, events: Mapping[str, date]) -> dict[str, date]:
        """Each deadline's due date, by deadline code.

        ``events`` maps each event that happened (a milestone, or ``step:<code>`` for a region step:
        ``Deadline.event``) to its date. ``Milestone.PREVIOUS`` counts from the due date of the deadline
        before it. A deadline whose event has not happened yet (or whose previous deadline has no date)
        is left out.
        """
        due: dict[str, date] = {}
        previous: date | None = None
        for deadline in timeframe.deadlines:
            origin = previous if deadline.counted_from == Milestone.PREVIOUS else events.get(deadline.event)
            previous = None if origin is None else self.add_working_days(origin, deadline.days)
            if previous is not None:
                due[deadline.code] = previous
        return due

    def _next_year(self, year: int) -> int:
        if year >= MAXYEAR:
            raise OverflowError("date beyond the last supported year")
        return year + 1

    def _previous_year(self, year: int) -> int:
        if year <= MINYEAR:
            raise OverflowError("date before the first supported year")
        return year - 1
