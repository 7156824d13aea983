"""The card state machine and card rules (pure: no I/O).

Explicit state lists and allowed transitions, after Dogtag TPS. ``expired`` is never
stored: it is derived from the certificate's ``not_after``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from attrs import frozen

from core.errors import Forbidden, RuleViolation, TransitionError
from core.labels import counted, label
from core.model import Card, CardEvent, CardKind, CardState, CertificateRef
from core.rules import CardPolicy

C = CardState
TERMINAL = frozenset({C.VOIDED, C.CANCELLED, C.REPLACED})


@frozen
class CertEffect:
    """What a card transition does to its certificate."""

    kind: str  # "hold" | "release" | "revoke"
    reason: str = ""  # CRL reason name for revoke / hold (cryptography's x509.ReasonFlags names)


@frozen
class CardMove:
    sources: frozenset[CardState]
    target: CardState | None  # None: state unchanged (renew, reset_pin, change_pin)
    effect: CertEffect | None = None
    resets_pin: bool = False
    holder_set_pin: bool = False  # the holder chose a PIN: no longer the initial one


HOLD = CertEffect("hold", "certificate_hold")
RELEASE = CertEffect("release")
# A replaced card's certificate, and the old certificate of a renewed card once the card holds the new
# one: one card, one valid certificate.
SUPERSEDED = CertEffect("revoke", "superseded")

# The one table of card moves and what each does to the card's certificate (core.pki.revocation applies it).
CARD_MOVES: dict[str, CardMove] = {
    "issue": CardMove(frozenset({C.BLANK}), C.ACTIVE),
    "lock": CardMove(frozenset({C.ACTIVE}), C.LOCKED),  # PIN retries exhausted
    "unlock": CardMove(frozenset({C.LOCKED}), C.ACTIVE, resets_pin=True),
    "freeze": CardMove(frozenset({C.ACTIVE}), C.FROZEN, HOLD),
    "unfreeze": CardMove(frozenset({C.FROZEN}), C.ACTIVE, RELEASE),
    "report_lost": CardMove(frozenset({C.ACTIVE}), C.REPORTED_LOST, HOLD),
    "found": CardMove(frozenset({C.REPORTED_LOST}), C.ACTIVE, RELEASE),
    # A voided card was lost: whoever has it may hold the key, so the key counts as compromised.
    "void": CardMove(frozenset({C.REPORTED_LOST}), C.VOIDED, CertEffect("revoke", "key_compromise")),
    "cancel": CardMove(frozenset({C.ACTIVE, C.LOCKED, C.FROZEN}), C.CANCELLED,
                       CertEffect("revoke", "cessation_of_operation")),
    "replace": CardMove(frozenset({C.BLANK, C.ACTIVE, C.LOCKED, C.FROZEN, C.REPORTED_LOST}), C.REPLACED,
                        SUPERSEDED),
    "renew": CardMove(frozenset({C.ACTIVE}), None, resets_pin=True),
    "reset_pin": CardMove(frozenset({C.ACTIVE, C.LOCKED}), C.ACTIVE, resets_pin=True),
    "change_pin": CardMove(frozenset({C.ACTIVE}), None, holder_set_pin=True),
}

# What the legal card may do to its enterprise's operator cards (Shenzhen 000: 冻结、挂失、作废、解锁、证书延期).
OPERATOR_ACTIONS_BY_LEGAL_CARD = frozenset({"unlock", "renew", "freeze", "unfreeze", "report_lost", "void"})


def effective_state(card: Card, now: datetime) -> CardState:
    """The stored state, or ``expired`` once the certificate has run out on a usable card."""
    cert = card.certificate
    if card.state in {C.ACTIVE, C.LOCKED, C.FROZEN} and cert is not None and cert.not_after <= now:
        return C.EXPIRED
    return card.state


def allowed_card_actions(card: Card) -> list[str]:
    return [name for name, move in CARD_MOVES.items() if card.state in move.sources]


def transition(card: Card, action: str, actor: str, at: datetime, note: str = "",
               **changes) -> tuple[Card, CardEvent, CertEffect | None]:
    """Apply ``action``: the new card, its history entry and the certificate effect."""
    move = CARD_MOVES.get(action)
    if move is None:
        raise TransitionError(f"未知的卡操作：{action}", f"unknown card action: {action}", field="action")
    if card.state not in move.sources:
        raise TransitionError(
            f"卡当前状态为{label(card.state)}，不能执行“{action}”",
            f"cannot {action} a card that is {card.state.value}; allowed from: "
            f"{', '.join(sorted(s.value for s in move.sources))}", field="state")
    target = move.target or card.state
    event = CardEvent(action=action, from_state=card.state, to_state=target, actor=actor, at=at, note=note)
    cert = card.certificate
    if cert is not None and move.effect is not None:
        cert = attrs.evolve(cert, on_hold=move.effect.kind == "hold",
                            revoked=cert.revoked or move.effect.kind == "revoke")
    changes.setdefault("certificate", cert)
    if move.resets_pin:
        changes["pin_is_initial"] = True
    if move.holder_set_pin:
        changes["pin_is_initial"] = False
    new = attrs.evolve(card, state=target, history=(*card.history, event), **changes)
    return new, event, move.effect


def issue(card: Card, certificate: CertificateRef, card_no: str, device_no: str, actor: str, at: datetime
          ) -> tuple[Card, CardEvent, CertEffect | None]:
    """Personalisation finished: the certificate has been written and read back."""
    return transition(card, "issue", actor, at, certificate=certificate, card_no=card_no,
                      device_no=device_no or card.device_no, pin_is_initial=True)


def renew(card: Card, certificate: CertificateRef, actor: str, at: datetime
          ) -> tuple[Card, CardEvent, CertEffect | None]:
    return transition(card, "renew", actor, at, certificate=certificate)


# ---- rules ---------------------------------------------------------------------------------------------


def check_new_pin(new_pin: str, policy: CardPolicy) -> None:
    """A PIN the holder may set: 6-16 digits and never the initial 88888888."""
    if not (new_pin.isdigit() and 6 <= len(new_pin) <= 16):
        raise RuleViolation("新密码须为6至16位数字", "the new PIN must be 6 to 16 digits", field="new_pin")
    if new_pin == policy.initial_pin:
        raise RuleViolation(f"新密码不能设置为初始密码（{len(policy.initial_pin)}个8）",
                            "the new PIN may not be the initial PIN 88888888", field="new_pin")


def renewal_window(card: Card, policy: CardPolicy) -> tuple[datetime, datetime] | None:
    """(opens, expires) of the self-service renewal window, or None without a certificate."""
    if card.certificate is None:
        return None
    end = card.certificate.not_after
    return end - timedelta(days=policy.renewal_window_days), end


def check_self_renewal(card: Card, now: datetime, policy: CardPolicy) -> None:
    """Legal-card self-service renewal: 0-180 days before expiry, not expired, not locked (Shenzhen 000)."""
    if card.kind is not CardKind.LEGAL:
        raise RuleViolation("自助延期仅适用于法人卡", "self-service renewal is for the legal card only", field="card")
    state = effective_state(card, now)
    if state is C.EXPIRED:
        raise RuleViolation("已过期的法人卡不能自助延期，请持卡前往或邮寄至窗口办理",
                            "an expired legal card cannot be renewed online; bring or mail it to the counter",
                            field="card")
    if state is C.LOCKED:
        raise RuleViolation("已被锁的法人卡不能自助延期，请先解锁", "a locked legal card must be unlocked first",
                            field="card")
    if state is not C.ACTIVE:
        raise RuleViolation(f"卡状态为{label(state)}，不能延期", f"a {label(state, 'en')} card cannot be renewed",
                            field="card")
    window = renewal_window(card, policy)
    assert window is not None
    opens, _ = window
    if now < opens:
        days_left = (card.certificate.not_after - now).days  # type: ignore[union-attr]
        raise RuleViolation(
            f"距证书到期还有{days_left}天，到期前{policy.renewal_window_days}天内方可自助延期（{opens:%Y-%m-%d}起）",
            f"the certificate expires in {counted(days_left, 'day')}; renewal opens "
            f"{counted(policy.renewal_window_days, 'day')} "
            f"before expiry ({opens:%Y-%m-%d})", field="card")


def check_legal_card_action(action: str) -> None:
    """Only unlock / renew / freeze / unfreeze / report-loss / void are the legal card's to authorise."""
    if action not in OPERATOR_ACTIONS_BY_LEGAL_CARD:
        raise Forbidden(f"法人卡不能对操作员卡执行“{action}”", f"the legal card cannot {action} an operator card",
                        field="action")


def authorise_operator_action(legal: Card, target: Card, action: str, now: datetime) -> None:
    """The legal card authorises unlock / renew / freeze / report-loss / void of its own operator cards."""
    check_legal_card_action(action)
    if legal.kind is not CardKind.LEGAL:
        raise Forbidden("须使用法人卡授权", "this must be authorised with the legal card", field="card")
    if effective_state(legal, now) is not C.ACTIVE:
        raise Forbidden("授权的法人卡不可用（已锁、冻结、过期或注销）",
                        "the authorising legal card is not usable (locked, frozen, expired or cancelled)",
                        field="card")
    if legal.enterprise_uscc != target.enterprise_uscc:
        raise Forbidden("只能管理本企业的操作员卡", "a legal card manages its own enterprise's cards only",
                        field="card")
    if target.kind is CardKind.LEGAL:
        raise Forbidden("此功能仅用于操作员卡和报关员卡", "this is for operator and declarant cards",
                        field="card")
