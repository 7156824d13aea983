"""Working days: 2026 against the official schedule and the library, arithmetic properties, overrides."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendar import CalendarOverrides, WorkCalendar, load_overrides
from core.errors import ConfigError
from core.rules import Deadline, Milestone, Text, Timeframe

# 国务院办公厅关于2026年部分节假日安排的通知: (first day off, last day off) and 调休 workdays.
OFFICIAL_2026_BREAKS = {
    "元旦 New Year": (date(2026, 1, 1), date(2026, 1, 3)),
    "春节 Spring Festival": (date(2026, 2, 15), date(2026, 2, 23)),
    "清明 Qingming": (date(2026, 4, 4), date(2026, 4, 6)),
    "劳动节 Labour Day": (date(2026, 5, 1), date(2026, 5, 5)),
    "端午 Dragon Boat": (date(2026, 6, 19), date(2026, 6, 21)),
    "中秋 Mid-Autumn": (date(2026, 9, 25), date(2026, 9, 27)),
    "国庆 National Day": (date(2026, 10, 1), date(2026, 10, 7)),
}
OFFICIAL_2026_WORKDAYS = {
    date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
    date(2026, 10, 10),
}


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def official_2026_days_off() -> set[date]:
    return {d for first, last in OFFICIAL_2026_BREAKS.values() for d in days(first, last)}


def official_2026_is_working_day(d: date) -> bool:
    """The working-day rule applied to the official notice alone (no library)."""
    if d in OFFICIAL_2026_WORKDAYS:
        return True
    return d.weekday() < 5 and d not in official_2026_days_off()


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# -- 2026 ------------------------------------------------------------------------------------

def test_national_day_2026(cal: WorkCalendar) -> None:
    assert not any(cal.is_working_day(d) for d in days(date(2026, 10, 1), date(2026, 10, 7)))
    assert date(2026, 10, 10).weekday() == 5 and cal.is_working_day(date(2026, 10, 10))
    assert date(2026, 9, 20).weekday() == 6 and cal.is_working_day(date(2026, 9, 20))


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    assert not any(cal.is_working_day(d) for d in days(date(2026, 2, 15), date(2026, 2, 23)))
    assert cal.is_working_day(date(2026, 2, 14)) and cal.is_working_day(date(2026, 2, 28))
    assert cal.next_working_day(date(2026, 2, 13)) == date(2026, 2, 14)
    assert cal.next_working_day(date(2026, 2, 14)) == date(2026, 2, 24)


@pytest.mark.parametrize("month", range(1, 13))
def test_every_day_of_2026_matches_the_official_notice(cal: WorkCalendar, month: int) -> None:
    first = date(2026, month, 1)
    last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    mismatches = [d for d in days(first, last) if cal.is_working_day(d) != official_2026_is_working_day(d)]
    assert mismatches == []


def test_the_library_itself_agrees_with_the_official_notice() -> None:
    library = holidays.China(years=2026)
    assert {d for d in library.weekend_workdays if d.year == 2026} == OFFICIAL_2026_WORKDAYS
    weekday_holidays = {d for d in library if d.weekday() < 5}
    assert weekday_holidays == {d for d in official_2026_days_off() if d.weekday() < 5}


def test_four_working_days_across_the_national_day_break(cal: WorkCalendar) -> None:
    # From Tue 29 Sep: Wed 30 Sep, (1-7 Oct off), Thu 8, Fri 9, Sat 10 Oct (调休 workday).
    assert cal.add_working_days(date(2026, 9, 29), 4) == date(2026, 10, 10)
    assert cal.working_days_between(date(2026, 9, 29), date(2026, 10, 10)) == 4
    assert cal.working_days_between(date(2026, 10, 10), date(2026, 9, 29)) == -4
    assert cal.add_working_days(date(2026, 10, 10), -4) == date(2026, 9, 29)
    assert cal.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert cal.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)


def test_across_new_year(cal: WorkCalendar) -> None:
    # Wed 31 Dec 2025, then 1-3 Jan 2026 off, Sun 4 Jan worked, Mon 5 Jan.
    assert cal.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 4)
    assert cal.add_working_days(date(2025, 12, 31), 2) == date(2026, 1, 5)
    assert cal.working_days_between(date(2025, 12, 30), date(2026, 1, 5)) == 3


# -- properties ------------------------------------------------------------------------------

dates = st.dates(min_value=date(2001, 1, 1), max_value=date(2040, 12, 31))
counts = st.integers(min_value=-600, max_value=600)


@settings(max_examples=200)
@given(d=dates)
def test_is_working_day_agrees_with_the_library(cal: WorkCalendar, d: date) -> None:
    assert cal.is_working_day(d) == holidays.China(years=d.year).is_working_day(d)


@given(d=dates, n=counts)
def test_add_then_count_gives_n_from_a_working_day(cal: WorkCalendar, d: date, n: int) -> None:
    d = cal.add_working_days(d, 1)  # a working day
    later = cal.add_working_days(d, n)
    assert cal.is_working_day(later)
    assert cal.working_days_between(d, later) == n


@given(d=dates, n=st.integers(min_value=0, max_value=600))
def test_add_then_count_gives_n_forwards_from_any_day(cal: WorkCalendar, d: date, n: int) -> None:
    assert cal.working_days_between(d, cal.add_working_days(d, n)) == n


@given(a=dates, b=dates, c=dates)
def test_between_is_antisymmetric_and_additive(cal: WorkCalendar, a: date, b: date, c: date) -> None:
    assert cal.working_days_between(a, b) == -cal.working_days_between(b, a)
    assert cal.working_days_between(a, a) == 0
    assert cal.working_days_between(a, b) + cal.working_days_between(b, c) == cal.working_days_between(a, c)


@given(a=dates, b=dates, origin=dates)
def test_between_is_monotonic_in_end(cal: WorkCalendar, a: date, b: date, origin: date) -> None:
    early, late = sorted((a, b))
    assert cal.working_days_between(origin, early) <= cal.working_days_between(origin, late)


@given(d=dates, m=counts, n=counts)
def test_add_is_strictly_monotonic_in_n(cal: WorkCalendar, d: date, m: int, n: int) -> None:
    if m < n:
        assert cal.add_working_days(d, m) < cal.add_working_days(d, n)


@settings(max_examples=50)
@given(start=dates, span=st.integers(min_value=0, max_value=60))
def test_between_counts_working_days_one_by_one(cal: WorkCalendar, start: date, span: int) -> None:
    end = start + timedelta(days=span)
    counted = sum(cal.is_working_day(d) for d in days(start + timedelta(days=1), end))
    assert cal.working_days_between(start, end) == counted


@given(d=dates)
def test_next_working_day_skips_only_days_off(cal: WorkCalendar, d: date) -> None:
    following = cal.next_working_day(d)
    assert following > d and cal.is_working_day(following)
    assert not any(cal.is_working_day(x) for x in days(d + timedelta(days=1), following - timedelta(days=1)))


# -- overrides -------------------------------------------------------------------------------

def test_overrides_for_a_year_the_library_does_not_know() -> None:
    holiday, workday = date(2031, 3, 12), date(2031, 3, 15)  # made up: a Wednesday off, a Saturday worked
    assert holiday.weekday() == 2 and workday.weekday() == 5
    plain = WorkCalendar()
    assert plain.is_working_day(holiday) and not plain.is_working_day(workday)
    cal = WorkCalendar(CalendarOverrides(holidays=(holiday,), workdays=(workday,)))
    assert not cal.is_working_day(holiday) and cal.is_working_day(workday)
    # Tue 11 Mar + 1 skips Wed 12 (off), reaches Thu 13; + 3 reaches the worked Saturday 15
    assert cal.add_working_days(date(2031, 3, 11), 1) == date(2031, 3, 13)
    assert cal.add_working_days(date(2031, 3, 11), 3) == workday
    assert cal.working_days_between(date(2031, 3, 10), date(2031, 3, 16)) == \
        plain.working_days_between(date(2031, 3, 10), date(2031, 3, 16))  # one lost, one gained


def test_overrides_win_over_the_library() -> None:
    cal = WorkCalendar(CalendarOverrides(holidays=(date(2026, 10, 10),), workdays=(date(2026, 10, 1),)))
    assert not cal.is_working_day(date(2026, 10, 10))
    assert cal.is_working_day(date(2026, 10, 1))
    assert WorkCalendar().is_working_day(date(2026, 10, 10))  # other calendars are not touched


def test_a_day_cannot_be_both() -> None:
    with pytest.raises(ConfigError) as info:
        CalendarOverrides(holidays=(date(2031, 3, 12),), workdays=(date(2031, 3, 12),))
    assert "2031-03-12" in info.value.zh and "2031-03-12" in info.value.en


def test_load_overrides_accepts_iso_strings_and_toml_dates() -> None:
    overrides = load_overrides({"holidays": ["2031-03-12", date(2031, 1, 1)], "workdays": ["2031-03-15"]})
    assert overrides == CalendarOverrides(holidays=(date(2031, 1, 1), date(2031, 3, 12)),
                                          workdays=(date(2031, 3, 15),))
    assert load_overrides({}) == CalendarOverrides()


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"holidays": ["2031-01-01", "2031-02-30"]}, "calendar.holidays[1]"),
        ({"workdays": ["20310315"]}, "calendar.workdays[0]"),
        ({"workdays": [datetime(2031, 3, 15, 9, 0)]}, "calendar.workdays[0]"),
        ({"workdays": [20310315]}, "calendar.workdays[0]"),
        ({"holidays": "2031-01-01"}, "calendar.holidays"),
        ({"holiday": ["2031-01-01"]}, "calendar"),
        ({"holidays": ["2031-01-01"], "workdays": ["2031-01-01"]}, "calendar"),
    ],
)
def test_load_overrides_names_the_bad_entry(mapping: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_overrides(mapping)
    assert info.value.field == field
    assert info.value.zh and info.value.en and field in info.value.en


# -- due dates -------------------------------------------------------------------------------

TIMEFRAME = Timeframe(deadlines=(
    Deadline("review", Text("审核", "review"), 1, Milestone.SUBMITTED),
    Deadline("making", Text("制卡", "making"), 2, Milestone.PREVIOUS),
    Deadline("dispatch", Text("寄出", "dispatch"), 1, Milestone.PRODUCED),
    Deadline("delivered", Text("送达", "delivered"), 3, Milestone.PREVIOUS),
))


def test_due_dates_chain_through_previous(cal: WorkCalendar) -> None:
    due = cal.due_dates(TIMEFRAME, {Milestone.SUBMITTED: date(2026, 9, 30)})
    # review: 1 after Wed 30 Sep -> Thu 8 Oct; making: 2 after that -> Fri 9, Sat 10 (调休)
    assert due == {"review": date(2026, 10, 8), "making": date(2026, 10, 10)}
    assert due["making"] == cal.add_working_days(cal.add_working_days(date(2026, 9, 30), 1), 2)


def test_due_dates_include_deadlines_once_their_event_happened(cal: WorkCalendar) -> None:
    events = {Milestone.SUBMITTED: date(2026, 9, 30), Milestone.PRODUCED: date(2026, 10, 9)}
    due = cal.due_dates(TIMEFRAME, events)
    assert due["dispatch"] == date(2026, 10, 10)
    assert due["delivered"] == cal.add_working_days(date(2026, 10, 10), 3)


def test_due_dates_skip_a_chain_whose_start_has_not_happened(cal: WorkCalendar) -> None:
    assert cal.due_dates(TIMEFRAME, {Milestone.PRODUCED: date(2026, 10, 9)}) == {
        "dispatch": date(2026, 10, 10), "delivered": cal.add_working_days(date(2026, 10, 10), 3),
    }
    assert cal.due_dates(TIMEFRAME, {}) == {}
