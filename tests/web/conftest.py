"""Web tests: the real app over a real store (SQLite; PostgreSQL where the ``store`` fixture is used)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browserkit import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import Browser, sync_playwright
from starlette.testclient import TestClient
from webkit import Clock, make_services

from core.services import Services
from core.store.testing import DatabaseUnavailable, store, store_backend, temporary_store  # noqa: F401
from core.web.app import create_app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator:
    with temporary_store("sqlite", tmp_path) as made:
        yield made


@pytest.fixture
def services(sqlite_store, tmp_path: Path, clock: Clock) -> Services:
    return make_services(sqlite_store, tmp_path, clock)


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's chromium; a missing binary fails the test, never skips."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as p:
        made = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield made
        made.close()
