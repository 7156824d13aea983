"""Card-operation test helpers: the CA passphrase, staff actor, PIN, clock, environment, openssl."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
from clocks import Clock
from openssl_cli import openssl, write_pem  # noqa: F401  (re-exported for the tests)

from core.hardware.testing import FIRST_SLOT
from core.model import Application
from core.pki.ca import CertificateAuthority
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.cards import Cards

PASSPHRASE = "card tests passphrase"
# The rigs put one card at a time in vpcd's first slot (shared with tests/hardware). pcscd is shared by
# the whole machine: a test run takes the slot's lock file first, so another run waits its turn.
READER = FIRST_SLOT.name
STAFF = Actor(id="clerk", kind="staff", region="shenzhen", roles=frozenset({"branch_admin"}))
NEW_PIN = "13572468"


def started_now() -> Clock:
    # The CA stamps certificates with the real time, so the service clock starts there too.
    return Clock(datetime.now(UTC).replace(microsecond=0))


@attrs.define
class Env:
    services: Services
    cards: Cards
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




