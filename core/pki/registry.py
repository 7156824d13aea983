"""Where issued certificates and their status are kept.

core.pki codes against the small ``CertificateRegistry`` Protocol; ``core.store`` provides the
database-backed one (``tx.certificates``). ``MemoryRegistry`` serves tests and benchmarks and
``JsonFileRegistry`` a stand-alone CA directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

import attrs
from attrs import frozen

Status = Literal["good", "hold", "revoked"]
STATUSES: tuple[Status, ...] = ("good", "hold", "revoked")


@frozen
class CertificateRecord:
    serial: str  # lowercase hex: the E-Port certificate number
    card_id: str
    enterprise_uscc: str
    kind: str
    subject: str  # RFC 4514 string
    not_before: datetime
    not_after: datetime
    status: Status = "good"
    reason: str | None = None  # x509.ReasonFlags value, e.g. "keyCompromise"
    revoked_at: datetime | None = None
    pem: str = ""


class CertificateRegistry(Protocol):
    def add(self, record: CertificateRecord) -> None: ...

    def get(self, serial_hex: str) -> CertificateRecord | None: ...

    def set_status(self, serial_hex: str, status: Status, reason: str | None = None,
                   at: datetime | None = None) -> None: ...

    def revoked(self) -> Iterable[CertificateRecord]:
        """Every record whose status is ``hold`` or ``revoked``."""
        ...


# How the OCSP responder and CLI get a registry: a context manager per request (one transaction).
RegistryFactory = Callable[[], AbstractContextManager[CertificateRegistry]]


class MemoryRegistry:
    def __init__(self, records: Iterable[CertificateRecord] = ()) -> None:
        self._records: dict[str, CertificateRecord] = {r.serial: r for r in records}

    def add(self, record: CertificateRecord) -> None:
        self._records[record.serial] = record

    def get(self, serial_hex: str) -> CertificateRecord | None:
        return self._records.get(serial_hex.lower())

    def set_status(self, serial_hex: str, status: Status, reason: str | None = None,
                   at: datetime | None = None) -> None:
        serial_hex = serial_hex.lower()
        self._records[serial_hex] = attrs.evolve(self._records[serial_hex], status=status, reason=reason,
                                                 revoked_at=at)

    def revoked(self) -> Iterator[CertificateRecord]:
        return (r for r in self._records.values() if r.status != "good")

    def factory(self) -> RegistryFactory:
        @contextmanager
        def session() -> Iterator[CertificateRegistry]:
            yield self
        return session


def _record_to_json(record: CertificateRecord) -> dict:
    data = attrs.asdict(record)
    for name in ("not_before", "not_after", "revoked_at"):
        if data[name] is not None:
            data[name] = data[name].isoformat()
    return data


def _record_from_json(data: dict) -> CertificateRecord:
    for name in ("not_before", "not_after", "revoked_at"):
        if data.get(name) is not None:
            data[name] = datetime.fromisoformat(data[name])
    return CertificateRecord(**data)


class JsonFileRegistry(MemoryRegistry):
    """A registry in one JSON file, rewritten atomically on every change (small stand-alone CAs)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        records = []
        if self.path.exists():
            records = [_record_from_json(d) for d in json.loads(self.path.read_text(encoding="utf-8"))]
        super().__init__(records)

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([_record_to_json(r) for r in self._records.values()],
                                  ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def add(self, record: CertificateRecord) -> None:
        super().add(record)
        self._save()

    def set_status(self, serial_hex: str, status: Status, reason: str | None = None,
                   at: datetime | None = None) -> None:
        super().set_status(serial_hex, status, reason, at)
        self._save()
