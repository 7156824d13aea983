"""Notification tests over a real store (SQLite and PostgreSQL) with a settable clock."""

from __future__ import annotations

import pytest
from clocks import Clock

from core.store.testing import pg_store, store, store_backend  # noqa: F401  (pytest fixtures)


@pytest.fixture
def clock() -> Clock:
    return Clock()
