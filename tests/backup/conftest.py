"""Backup fixtures: the backends a deployment is backed up from and restored into (every pair)."""

from __future__ import annotations

import pytest

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def source_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=BACKENDS)
def target_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
