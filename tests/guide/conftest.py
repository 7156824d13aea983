"""Guide fixtures: an independent working-day counter and a scaffolded throwaway region."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest

from core.guide.scaffold import scaffold_region
from core.plugins import get_plugin_manager
from core.regiondata import DataRegion, load_region_data
from core.rulebook import Rulebook


def nth_working_day(start: date, n: int) -> date:
    """Counted straight from the State Council schedule in ``holidays.China`` (not core.calendar)."""
    table = holidays.China(years=range(start.year, start.year + 2))
    day = start
    while n:
        day += timedelta(days=1)
        if day in table.weekend_workdays or (day.weekday() < 5 and day not in table):
            n -= 1
    return day


@pytest.fixture
def working_day():
    return nth_working_day


@pytest.fixture
def testland(tmp_path) -> Rulebook:
    """The region `eportcard new-region testland` writes, registered by hand (no install)."""
    dist = scaffold_region("testland", tmp_path, name_zh="测试", name_en="Testland")
    plugin = DataRegion(load_region_data(dist / "eportcard_region_testland" / "region.toml"))
    return Rulebook(get_plugin_manager(extra=[("testland", plugin)]))
