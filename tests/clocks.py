"""A clock tests set by hand: services take ``clock`` so deadlines and windows are testable."""

from __future__ import annotations

from datetime import UTC, datetime

MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = MONDAY) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
