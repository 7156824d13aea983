"""Services over a real store (SQLite and PostgreSQL) with a test region and a settable clock."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from clocks import Clock
from testland import TESTLAND

from core.calendar import WorkCalendar
from core.config import Settings, StorageSettings
from core.plugins import get_plugin_manager
from core.regiondata import DataRegion
from core.rulebook import Rulebook
from core.services import Services
from core.store.testing import store, store_backend  # noqa: F401  (pytest fixtures)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(store, clock, tmp_path: Path) -> Services:  # noqa: F811
    pm = get_plugin_manager(enabled=["testland"], extra=[("testland", DataRegion(TESTLAND))])
    settings = attrs.evolve(Settings(root=str(tmp_path)), storage=StorageSettings(max_upload_bytes=4 * 1024 * 1024))
    return Services(settings=settings, store=store, rulebook=Rulebook(pm), calendar=WorkCalendar(), clock=clock)
