"""Revoke, hold and release certificates; apply what a card move does to its certificate (the moves and
their effects are the domain's: ``core.cards.CARD_MOVES``).

Status rules: good -> hold -> good (release) | revoked; good -> revoked. Revoked is final.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from cryptography import x509

from core.cards import CARD_MOVES, CertEffect
from core.errors import InvalidInput, NotFound, TransitionError
from core.pki.registry import CertificateRecord, CertificateRegistry

# Reasons a person may choose when revoking; hold has its own operation, removeFromCRL is CRL-internal.
REVOKE_REASONS: tuple[x509.ReasonFlags, ...] = tuple(
    r for r in x509.ReasonFlags
    if r not in (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl))


def parse_reason(reason: x509.ReasonFlags | str) -> x509.ReasonFlags:
    """Accept a ReasonFlags, its RFC 5280 name (``keyCompromise``) or its Python name (``key_compromise``)."""
    if isinstance(reason, x509.ReasonFlags):
        found: x509.ReasonFlags | None = reason
    else:
        found = next((r for r in x509.ReasonFlags if reason in (r.value, r.name)), None)
    if found is None or found not in REVOKE_REASONS:
        choices = ", ".join(r.name for r in REVOKE_REASONS)
        raise InvalidInput(f"吊销原因 {reason!r} 无效，可选：{choices}",
                           f"invalid revocation reason {reason!r}; choose one of: {choices}", field="reason")
    return found


def reason_flag(text: str | None) -> x509.ReasonFlags | None:
    """A stored reason (RFC 5280 name or Python name) as a ReasonFlags; None when absent or unknown."""
    if not text:
        return None
    return next((r for r in x509.ReasonFlags if text in (r.value, r.name)), None)


def _existing(registry: CertificateRegistry, serial: str) -> CertificateRecord:
    record = registry.get(serial.lower())
    if record is None:
        raise NotFound(f"没有序列号为 {serial} 的证书，请核对证书编号",
                       f"no certificate with serial {serial}; check the certificate number", field="serial")
    return record


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def revoke(registry: CertificateRegistry, serial: str, reason: x509.ReasonFlags | str,
           at: datetime | None = None) -> CertificateRecord:
    flag = parse_reason(reason)
    record = _existing(registry, serial)
    if record.status == "revoked":
        raise TransitionError(f"证书 {record.serial} 已吊销",
                              f"certificate {record.serial} is already revoked", field="serial")
    registry.set_status(record.serial, "revoked", flag.value, at or _now())
    return _existing(registry, record.serial)


def hold(registry: CertificateRegistry, serial: str, at: datetime | None = None) -> CertificateRecord:
    record = _existing(registry, serial)
    if record.status == "revoked":
        raise TransitionError(f"证书 {record.serial} 已吊销，不能再挂起",
                              f"certificate {record.serial} is revoked and cannot be put on hold",
                              field="serial")
    if record.status == "hold":
        raise TransitionError(f"证书 {record.serial} 已处于挂起状态",
                              f"certificate {record.serial} is already on hold", field="serial")
    registry.set_status(record.serial, "hold", x509.ReasonFlags.certificate_hold.value, at or _now())
    return _existing(registry, record.serial)


def release(registry: CertificateRegistry, serial: str) -> CertificateRecord:
    record = _existing(registry, serial)
    if record.status != "hold":
        raise TransitionError(f"证书 {record.serial} 未被挂起，无需解除",
                              f"certificate {record.serial} is not on hold, so it cannot be released",
                              field="serial")
    registry.set_status(record.serial, "good", None, None)
    return _existing(registry, record.serial)


def apply_cert_effect(registry: CertificateRegistry, serial: str, effect: CertEffect,
                      at: datetime | None = None) -> CertificateRecord:
    """Apply a card move's certificate effect (hold / release / revoke with its ``x509.ReasonFlags`` name).

    Revoking twice is a no-op here: e.g. a voided card being replaced is already revoked.
    """
    if effect.kind == "hold":
        return hold(registry, serial, at)
    if effect.kind == "release":
        return release(registry, serial)
    if effect.kind == "revoke":
        current = _existing(registry, serial)
        if current.status == "revoked":
            return current
        return revoke(registry, serial, effect.reason or "unspecified", at)
    raise InvalidInput(f"未知的证书操作 {effect.kind!r}", f"unknown certificate effect {effect.kind!r}",
                       field="effect")


def apply_card_action(registry: CertificateRegistry, serial: str, action: str,
                      at: datetime | None = None) -> CertificateRecord | None:
    """Do to the certificate what the card move ``action`` does to it; None when it does not touch it."""
    move = CARD_MOVES.get(action)
    if move is None or move.effect is None:
        return None
    return apply_cert_effect(registry, serial, move.effect, at)


class RenewalRegistry(CertificateRegistry, Protocol):
    def pending_renewals(self, held_before: datetime) -> list[CertificateRecord]: ...


def expire_pending_renewals(registry: RenewalRegistry, held_before: datetime,
                            at: datetime | None = None) -> list[CertificateRecord]:
    """Revoke (cessation of operation) renewed certificates released to a card but never confirmed before
    ``held_before``. The card keeps its old certificate, still in force; the holder may renew again."""
    return [revoke(registry, record.serial, x509.ReasonFlags.cessation_of_operation, at)
            for record in registry.pending_renewals(held_before)]
