"""Deadlines of an application from its region's timeframe and the working-day calendar (pure)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Protocol

from attrs import frozen

from core.calendar import WorkCalendar
from core.model import Application, AppState
from core.rules import Milestone, Timeframe

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991

# Which history action marks each milestone (审核通过 = the application moves on past review).
MILESTONE_ACTIONS: dict[Milestone, frozenset[str]] = {
    Milestone.SUBMITTED: frozenset({"submit", "resubmit"}),
    Milestone.ACCEPTED: frozenset({"accept"}),
    Milestone.APPROVED: frozenset({"require_medium", "start_production"}),
    Milestone.RECEIVED: frozenset({"step:paper_received", "step:card_received", "accept"}),
    Milestone.PRODUCED: frozenset({"complete"}),
}
FINISHED = frozenset({AppState.COMPLETED, AppState.DELETED, AppState.DRAFT})
LATER = (Milestone.ACCEPTED, Milestone.APPROVED, Milestone.RECEIVED, Milestone.PRODUCED)  # than submission


def china_date(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def milestone_dates(app: Application) -> dict[str, date]:
    """The date each milestone last happened, and each region step (``step:<code>``, the key a
    ``Deadline.event`` names) was done; a resubmission restarts the clock."""
    events: dict[str, date] = {}
    for entry in app.history:
        if entry.action.startswith("step:"):
            events[entry.action] = china_date(entry.at)
        for milestone, actions in MILESTONE_ACTIONS.items():
            if entry.action in actions:
                events[milestone] = china_date(entry.at)
                if milestone is Milestone.SUBMITTED:  # later events belong to the earlier round
                    for later in [*LATER, *(key for key in events if key.startswith("step:"))]:
                        events.pop(later, None)
    return events


@frozen
class Due:
    code: str
    name_zh: str
    name_en: str
    due: date
    projected: bool  # the milestone it counts from has not happened yet: earliest possible date


def due_dates(app: Application, timeframe: Timeframe, calendar: WorkCalendar, today: date) -> list[Due]:
    """Every deadline of the timeframe; missing milestones are projected from the latest known one."""
    events = milestone_dates(app)
    # What has not happened can happen today (a region step too, once it is due).
    projected: dict[str, date] = {d.event: today for d in timeframe.deadlines} | events
    dates = calendar.due_dates(timeframe, projected)
    actual = calendar.due_dates(timeframe, events)
    return [Due(d.code, d.name.zh, d.name.en, dates[d.code], d.code not in actual)
            for d in timeframe.deadlines if d.code in dates]


def final_due(app: Application, timeframe: Timeframe, calendar: WorkCalendar, today: date) -> date | None:
    if app.state in FINISHED or app.state is AppState.REJECTED:
        return None
    dues = due_dates(app, timeframe, calendar, today)
    return dues[-1].due if dues else None


class Dated(Protocol):
    """An application, or a list row of one: what being overdue depends on."""

    @property
    def due(self) -> date | None: ...

    @property
    def state(self) -> AppState: ...


def is_overdue(app: Dated, today: date) -> bool:
    """Past its final due date and not finished (a rejected application has no due date)."""
    return app.due is not None and app.due < today and app.state not in FINISHED
