"""Hardware fixtures: every card test runs in-process and through a real pcscd + vpcd reader.

The rigs, the pcscd fixture and the per-reader lock live in ``core.hardware.testing`` (shared with
tests/agent and tests/cards). When pcscd, vpcd or pyscard is missing these tests FAIL: a silent
skip would hide a broken CI machine.
"""

from __future__ import annotations

import pytest

from core.hardware.driver import CardDriver
from core.hardware.testing import (  # noqa: F401  (make_rig, pcscd: pytest fixtures)
    BLANK_SERIAL,
    FIRST_SLOT,
    MASTER_SECRET,
    ROOT,
    CardRig,
    make_rig,
    pcscd,
)

READER = FIRST_SLOT.name
SERIAL = BLANK_SERIAL

__all__ = ["MASTER_SECRET", "READER", "ROOT", "SERIAL", "CardRig"]


@pytest.fixture
def rig(make_rig) -> CardRig:  # noqa: F811
    return make_rig()


@pytest.fixture
def card(rig) -> CardDriver:
    """A started blank card: PIN 88888888, 3 tries, no key, no certificate."""
    return rig.start()
