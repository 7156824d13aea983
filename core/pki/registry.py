"""Where issued certificates and their status are kept.

core.pki codes against the small ``CertificateRegistry`` Protocol. ``core.store`` provides the
database-backed one (``tx.certificates``) and the record type; ``MemoryRegistry`` serves tests and
benchmarks. The status rules (what may follow what) live in core.pki.revocation, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Protocol, cast

import attrs

from core.store.records import CertificateRecord, CertStatus

Status = CertStatus


class RevocationEntry(Protocol):
    """What a CRL entry needs of a certificate on hold or revoked (a CertificateRecord has it too)."""

    @property
    def serial(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def revoked_at(self) -> datetime | None: ...


class CertificateRegistry(Protocol):
    def add(self, record: CertificateRecord) -> object: ...

    def get(self, serial_hex: str) -> CertificateRecord | None: ...

    def set_status(self, serial_hex: str, status: str, reason: str | None = None,
                   at: datetime | None = None) -> object: ...

    def revoked(self) -> Iterable[RevocationEntry]:
        """Every certificate whose status is ``hold`` or ``revoked``."""
        ...


# How the OCSP responder and CLI get a registry: a context manager per use (one transaction).
RegistryFactory = Callable[[], AbstractContextManager[CertificateRegistry]]


class MemoryRegistry:
    """A registry in a dict; same observable behaviour as the store's for what core.pki uses."""

    def __init__(self, records: Iterable[CertificateRecord] = ()) -> None:
        self._records: dict[str, CertificateRecord] = {r.serial: r for r in records}

    def add(self, record: CertificateRecord) -> CertificateRecord:
        self._records[record.serial.lower()] = record
        return record

    def get(self, serial_hex: str) -> CertificateRecord | None:
        return self._records.get(serial_hex.lower())

    def set_status(self, serial_hex: str, status: str, reason: str | None = None,
                   at: datetime | None = None) -> CertificateRecord:
        current = self._records[serial_hex.lower()]
        if status == "good":
            record = attrs.evolve(current, status="good", reason=None, revoked_at=None)
        else:
            record = attrs.evolve(current, status=cast(CertStatus, status), reason=reason,
                                  revoked_at=at or datetime.now(UTC).replace(microsecond=0))
        self._records[record.serial] = record
        return record

    def revoked(self) -> Iterator[CertificateRecord]:
        return (r for r in self._records.values() if r.status != "good")

    def factory(self) -> RegistryFactory:
        @contextmanager
        def session() -> Iterator[CertificateRegistry]:
            yield self
        return session


def store_registry_factory(store: object, *, readonly: bool = False) -> RegistryFactory:
    """A factory giving ``tx.certificates`` of a ``core.store.Store`` inside one transaction each.
    ``readonly`` for readers (OCSP, CRLs): no write lock on SQLite, and no change token moves."""

    @contextmanager
    def session() -> Iterator[CertificateRegistry]:
        with store.transaction(readonly=readonly) as tx:  # type: ignore[attr-defined]
            yield tx.certificates
    return session


__all__ = ["CertificateRecord", "CertificateRegistry", "MemoryRegistry", "RegistryFactory", "RevocationEntry", "Status",
           "store_registry_factory"]
