"""Card-operation fixtures: a real store (SQLite and PostgreSQL), a CA on disk, the Shenzhen rules,
a settable clock, and the shared card rigs of core.hardware.testing (in-process and through pcscd + vpcd)."""

from __future__ import annotations

import pytest
from cardkit import PASSPHRASE, Clock, Env, started_now

from core.calendar import WorkCalendar
from core.config import Settings
from core.hardware.testing import MASTER_SECRET, make_rig, pcscd  # noqa: F401  (pytest fixtures)
from core.pki.ca import CertificateAuthority
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.services import Services
from core.services.cards import CardKeys
from core.store.testing import store, store_backend  # noqa: F401  (pytest fixtures)


@pytest.fixture
def clock() -> Clock:
    return started_now()


@pytest.fixture
def env(store, clock, tmp_path) -> Env:  # noqa: F811
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    settings = Settings(root=str(tmp_path))
    services = Services(settings=settings, store=store, rulebook=Rulebook(get_plugin_manager()),
                        calendar=WorkCalendar(), clock=clock, card_keys=CardKeys(ca, MASTER_SECRET))
    return Env(services=services, cards=services.cards, ca=ca, clock=clock,
               workdir=tmp_path)
