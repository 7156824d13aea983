"""Enterprise self-service: what its cards are and may do, reading a card, changing the PIN, the legal
card's own renewal in its window, and what the card agent read from a card (PIN changed there, card blocked)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from attrs import frozen

from core import cards as card_rules
from core.errors import EportError, Forbidden
from core.hardware.driver import CardDriver
from core.hardware.errors import CardBlocked
from core.model import Card, CardKind, CardState
from core.rules import CardPolicy
from core.services.actors import Actor
from core.services.cards.base import CardReading, CardWork, authorise_card

if TYPE_CHECKING:
    from core.services.context import Services


@frozen
class CardRow:
    card: Card
    state: CardState  # effective: ``expired`` once the certificate ran out
    actions: tuple[str, ...]  # what the legal card may do to it from the page


@frozen
class RenewalWindow:
    """The legal card's self-service renewal window, and why it is closed now (None: open)."""

    card: Card
    opens: datetime
    expires: datetime
    days: int
    refusal: EportError | None


@frozen
class CardsOverview:
    rows: tuple[CardRow, ...]
    renewal: RenewalWindow | None
    policy: CardPolicy | None  # the region's card rules (retry limit, initial PIN); None without a region


def page_actions(card: Card, now: datetime) -> tuple[str, ...]:
    """What the legal card may do to this card from the page: the state machine ∩ the legal card's powers.

    An expired card is renewed at the counter; an active one may be renewed from the page at any time
    (the 0-180-day window is the legal card's own self-service rule).
    """
    if card.kind is CardKind.LEGAL or card_rules.effective_state(card, now) is CardState.EXPIRED:
        return ()
    allowed = set(card_rules.allowed_card_actions(card)) & card_rules.OPERATOR_ACTIONS_BY_LEGAL_CARD
    if card.state is CardState.ACTIVE:
        allowed.add("unlock")  # a card may have blocked itself where we could not see it (PIN reset)
    return tuple(sorted(allowed))


def overview(services: Services, actor: Actor) -> CardsOverview:
    """The enterprise's cards (made ones), what the page may do to each, and the legal card's window.

    Needs no card keys: the list is there to look at even when card work is off."""
    if actor.kind != "enterprise":
        raise Forbidden("只能查看本企业的卡", "you may see your own enterprise's cards only", field="card")
    now = services.clock()
    with services.store.transaction(readonly=True) as tx:
        cards = [c for c in tx.cards.for_enterprise(actor.uscc) if c.state is not CardState.BLANK]
    region = actor.region or services.settings.regions.default
    policy = services.rulebook.card_policy(region) if region else None
    rows = tuple(CardRow(card, card_rules.effective_state(card, now), page_actions(card, now)) for card in cards)
    legal = next((c for c in reversed(cards) if c.kind is CardKind.LEGAL and c.state not in card_rules.TERMINAL),
                 None)
    renewal = None
    if legal is not None and policy is not None:
        window = card_rules.renewal_window(legal, policy)
        if window is not None:
            try:
                card_rules.check_self_renewal(legal, now, policy)
                refusal = None
            except EportError as exc:
                refusal = exc
            renewal = RenewalWindow(legal, window[0], window[1], policy.renewal_window_days, refusal)
    return CardsOverview(rows, renewal, policy)


class SelfService(CardWork):
    def info(self, driver: CardDriver, actor: Actor) -> CardReading:
        reading = self.read(driver, actor)
        if reading.record is not None:
            authorise_card(actor, "info", reading.record)
        return reading

    def change_pin(self, driver: CardDriver, old_pin: str, new_pin: str, actor: Actor) -> Card:
        """Change the PIN of an active card; 88888888 is refused here and by the card. Recorded as a
        ``change_pin`` move (state unchanged, PIN no longer initial); the PIN itself never is."""
        self.reconcile(driver, actor)
        with self.s.store.transaction(readonly=True) as tx:
            _info, _cert, record = self.record_for_card(tx, driver)
            policy = self.policy(tx, record)
        authorise_card(actor, "change_pin", record)
        card_rules.check_new_pin(new_pin, policy)
        if record.state is CardState.LOCKED and driver.pin_tries_left() == 0:
            raise CardBlocked()  # the card's own answer says what to do (apply for an unlock); no try used
        card_rules.transition(record, "change_pin", actor.label, self.s.clock())  # refuse before the card
        self.with_pin(driver, actor, lambda: driver.change_pin(old_pin, new_pin))
        with self.s.store.transaction() as tx:
            changed, event, _ = card_rules.transition(tx.cards.get(record.id), "change_pin", actor.label,
                                                      self.s.clock())
            saved = self.save(tx, actor, changed, "change_pin")
        self.announce(saved, [event])
        return saved

    def report_status(self, cert_serial: str, pin_is_initial: bool, tries_left: int, actor: Actor) -> Card:
        """What the card agent read from a card of the actor's own enterprise (``eport-card_Status``): a PIN
        the holder changed there, or a card that blocked itself (no tries left). Recorded as a ``change_pin``
        or ``lock`` move noted as reported; anything else changes nothing. A report can only move the
        record the way the card itself went, and only for the enterprise's own active card."""
        now = self.s.clock()
        with self.s.store.transaction() as tx:
            card = tx.cards.by_certificate(cert_serial.lower())
            if card is None or actor.kind != "enterprise" or card.enterprise_uscc != actor.uscc:
                raise Forbidden("只能报告本企业的卡", "you may report your own enterprise's cards only",
                                field="certNo")
            if card.state is not CardState.ACTIVE:
                return card
            if tries_left == 0:
                action, note = "lock", "读卡控件报告：密码重试次数已用完 / reported by the card agent: PIN retries exhausted"
            elif card.pin_is_initial and not pin_is_initial:
                action, note = "change_pin", "读卡控件报告：持卡人已修改密码 / reported by the card agent: PIN changed"
            else:
                return card
            moved, event, _ = card_rules.transition(card, action, actor.label, now, note=note)
            saved = self.save(tx, actor, moved, action)
        self.announce(saved, [event])
        return saved

    def renew(self, driver: CardDriver, pin: str, actor: Actor) -> Card:
        """Legal card only, 0-180 days before expiry, not expired, not locked; the PIN returns to initial."""
        self.reconcile(driver, actor)
        with self.s.store.transaction(readonly=True) as tx:
            info, cert, record = self.record_for_card(tx, driver)
            policy = self.policy(tx, record)
        authorise_card(actor, "renew", record)
        card_rules.check_self_renewal(record, self.s.clock(), policy)
        self.with_pin(driver, actor, lambda: driver.verify_pin(pin))  # the holder is present
        return self.renew_on_card(driver, info, cert, record, actor)


__all__ = ["CardRow", "CardsOverview", "RenewalWindow", "SelfService", "overview", "page_actions"]
