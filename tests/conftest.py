"""Shared fixtures: a fresh plugin manager per test, the seed documents, real parts."""

from __future__ import annotations

import pytest
from citations import assert_cited, seed_text

from core.plugins import get_plugin_manager
from core.rulebook import Rulebook

__all__ = ["assert_cited", "seed_text"]


@pytest.fixture
def pm():
    return get_plugin_manager()


@pytest.fixture
def rulebook(pm) -> Rulebook:
    return Rulebook(pm)
