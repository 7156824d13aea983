"""Fault-test fixtures: a real store (SQLite and PostgreSQL) for the card crash points, a CA and the card
master secret, a settable clock; virtual cards in-process (the crash points are between card and
database, whatever carries the APDUs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from clocks import Clock

from core.calendar import WorkCalendar
from core.config import Settings
from core.hardware.testing import MASTER_SECRET
from core.pki.ca import CertificateAuthority
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.services import Services
from core.services.cards import CardKeys
from core.store.testing import store, store_backend  # noqa: F401  (pytest fixtures)

CA_PASSPHRASE = "Fault tests CA passphrase 2026"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))  # the CA stamps certificates with the real time


@pytest.fixture
def card_services(store, clock, tmp_path: Path) -> Services:  # noqa: F811
    ca = CertificateAuthority.init(tmp_path / "ca", "故障测试发卡CA", CA_PASSPHRASE, "ec-p256")
    return Services(settings=Settings(root=str(tmp_path)), store=store, rulebook=Rulebook(get_plugin_manager()),
                    calendar=WorkCalendar(), clock=clock, card_keys=CardKeys(ca, MASTER_SECRET))
