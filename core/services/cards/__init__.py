"""Card work, in parts along its seams (``services.cards``):

* :mod:`~core.services.cards.counter` — counter work with the card in the branch's reader: personalise,
  read, unlock, renew;
* :mod:`~core.services.cards.self_service` — the enterprise's own: its cards, PIN change, the legal card's
  renewal in its window, what the card agent read from a card;
* :mod:`~core.services.cards.grants` — the legal card's signature as authority: card login, and actions on
  the enterprise's operator cards (unlock and renew as single-use grants);
* :mod:`~core.services.cards.renewals` — renewal through the local agent: released on hold, confirmed once
  the card has it;
* :mod:`~core.services.cards.status` — the CRL and OCSP answers.

The keys (CA and master secret) are read once at the edge (:mod:`~core.services.cards.keys`).

The order of every operation that touches a card is: hardware first (the card is changed, the
certificate written and READ BACK), then ONE database transaction (certificate record, card record,
application item, audit, the notice in the outbox), then the ``card_transitioned`` event. If the card is pulled out or
answers wrongly the exception stops the operation before the transaction: nothing is recorded.

Decisions:

* Counter renewal keeps the card's key (the key never left the card) and revokes the old
  certificate as ``superseded`` once the new one is on the card and recorded: one card, one
  valid certificate, so a relying party never sees two.
* A card found blocked (PIN tries used up) is recorded as ``locked``: that is the card's real state
  and what the counter unlock later moves back to ``active``.
* Renewal through the local agent (legal card in its window, operator card on a legal-card grant)
  registers the new certificate ON HOLD and changes the record only when the page confirms the card
  has it; both kinds share that release/confirm pair and differ only in the authorisation.
* The master secret only derives per-card admin keys here; it is never logged, returned or stored
  per card. A remote card (local agent) gets one admin *cryptogram* for its own challenge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import Forbidden, NotFound
from core.model import Application, Card
from core.services.actors import Actor
from core.services.cards.base import CardReading, authorise_card, verify_signature
from core.services.cards.counter import Counter
from core.services.cards.grants import (
    Grants,
    OperatorActionResult,
    login_message,
    sign_operator_action,
    unblock_with_cryptogram,
)
from core.services.cards.keys import CardKeys, create_master_secret, load_card_keys, load_master_secret
from core.services.cards.renewals import Renewals
from core.services.cards.self_service import CardsOverview, SelfService, overview
from core.services.cards.status import CertificateStatus

if TYPE_CHECKING:
    from core.services.context import Services


class Cards:
    """Card work in its parts (``services.cards.counter`` ...); callers use the part they need.

    Every part needs the card keys: without them (no CA, passphrase or master secret configured) card
    work is off and reaching a part is refused. The enterprise's list of cards needs none.
    """

    def __init__(self, services: Services, keys: CardKeys | None) -> None:
        self.s = services
        self._keys = keys

    def __repr__(self) -> str:
        return f"Cards({self._keys!r})"

    @property
    def enabled(self) -> bool:
        return self._keys is not None

    @property
    def keys(self) -> CardKeys:
        if self._keys is None:
            raise Forbidden("本系统未配置发卡CA，暂不能使用卡登录和卡管理",
                            "this deployment has no card CA configured, so card login and card management are off",
                            field="card")
        return self._keys

    def overview(self, actor: Actor) -> CardsOverview:
        return overview(self.s, actor)

    def made_for(self, app: Application, card_id: str) -> Card | None:
        """The card ``card_id`` if it was made for ``app`` (an application the caller may see), else None."""
        with self.s.store.transaction(readonly=True) as tx:
            try:
                card = tx.cards.get(card_id)
            except NotFound:
                return None
        return card if card.application_id == app.id else None

    @property
    def counter(self) -> Counter:
        return Counter(self.s, self.keys)

    @property
    def self_service(self) -> SelfService:
        return SelfService(self.s, self.keys)

    @property
    def grants(self) -> Grants:
        return Grants(self.s, self.keys)

    @property
    def renewals(self) -> Renewals:
        return Renewals(self.s, self.keys)

    @property
    def certificates(self) -> CertificateStatus:
        return CertificateStatus(self.s, self.keys)


__all__ = ["CardKeys", "CardReading", "Cards", "CardsOverview", "CertificateStatus", "Counter", "Grants",
           "OperatorActionResult", "Renewals", "SelfService", "authorise_card", "create_master_secret",
           "load_card_keys", "load_master_secret", "login_message", "sign_operator_action",
           "unblock_with_cryptogram", "verify_signature"]
