"""Card-operation fixtures: a real store (SQLite and PostgreSQL), a CA on disk, the Shenzhen rules,
a settable clock, and the shared card rigs of core.hardware.testing (in-process and through pcscd + vpcd)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.calendar import WorkCalendar
from core.config import Settings
from core.hardware.testing import FIRST_SLOT, MASTER_SECRET, make_rig, pcscd  # noqa: F401  (pytest fixtures)
from core.model import Application
from core.pki.ca import CertificateAuthority
from core.plugins import get_plugin_manager
from core.rulebook import Rulebook
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.cards import CardService
from core.store.testing import store, store_backend  # noqa: F401  (pytest fixtures)

PASSPHRASE = "card tests passphrase"
# The rigs put one card at a time in vpcd's first slot (shared with tests/hardware). pcscd is shared by
# the whole machine: a test run takes the slot's lock file first, so another run waits its turn.
READER = FIRST_SLOT.name
STAFF = Actor(id="clerk", kind="staff", region="shenzhen", roles=frozenset({"branch_admin"}))
NEW_PIN = "13572468"


class Clock:
    def __init__(self) -> None:
        # The CA stamps certificates with the real time, so the service clock starts there too.
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@attrs.define
class Env:
    services: Services
    cards: CardService
    ca: CertificateAuthority
    clock: Clock
    workdir: Path

    def produced(self, n: int, operators: int = 1) -> Application:
        """An enrolment submitted, accepted and in production (cards to be made)."""
        app = make_enrol(n, "shenzhen", operators=operators)
        me = enterprise(app)
        svc = self.services.applications
        made = svc.create(attrs.evolve(app, id=""), me)
        made = svc.submit(made.id, me)
        made = svc.accept(made.id, STAFF)
        return svc.start_production(made.id, STAFF)

    def chain_file(self) -> Path:
        path = self.workdir / "chain.pem"
        path.write_bytes(self.ca.chain_pem())
        return path

    def snapshot(self, uscc: str) -> tuple:
        """Everything a refused operation must leave as it was."""
        with self.services.store.transaction(readonly=True) as tx:
            cards = tuple(tx.cards.for_enterprise(uscc))
            certs = tuple(r for c in cards for r in tx.certificates.for_card(c.id))
            trail = len(tx.audit.all(limit=100000))
        return cards, certs, trail


def enterprise(app: Application) -> Actor:
    return Actor(id="admin", kind="enterprise", uscc=app.enterprise.uscc)


def openssl(*args: str | Path, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
    """The real openssl CLI; a missing binary fails the test."""
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, input=input, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))} failed:\n"
                             f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}")
    return result


def write_pem(path: Path, *items: x509.Certificate | x509.CertificateRevocationList) -> Path:
    path.write_bytes(b"".join(i.public_bytes(serialization.Encoding.PEM) for i in items))
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(store, clock, tmp_path) -> Env:  # noqa: F811
    ca = CertificateAuthority.init(tmp_path / "ca", "电子口岸测试发卡CA", PASSPHRASE, "ec-p256")
    settings = Settings(root=str(tmp_path))
    services = Services(settings=settings, store=store, rulebook=Rulebook(get_plugin_manager()),
                        calendar=WorkCalendar(), clock=clock)
    return Env(services=services, cards=CardService(services, ca, MASTER_SECRET), ca=ca, clock=clock,
               workdir=tmp_path)
