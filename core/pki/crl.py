"""Certificate revocation lists: every revoked or held certificate, signed by the CA."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.errors import InvalidInput
from core.pki.ca import CertificateAuthority, parse_serial
from core.pki.registry import CertificateRegistry, RevocationEntry

CRL_NUMBER_FILE = "crl_number"


def last_crl_number(directory: Path) -> int:
    """The number of the last CRL this CA signed by :func:`next_crl_number` (0: none)."""
    path = Path(directory) / CRL_NUMBER_FILE
    return int(path.read_text().strip()) if path.exists() else 0


def next_crl_number(directory: Path) -> int:
    """Increase and return the CA's CRL number (RFC 5280 §5.2.3: monotonically increasing)."""
    path = Path(directory) / CRL_NUMBER_FILE
    number = last_crl_number(directory) + 1
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{number}\n")
    os.replace(tmp, path)
    return number


def _reason_extensions() -> dict[str | None, list[x509.Extension[x509.ExtensionType]]]:
    # Built once: 100,000 entries share a handful of reasons. Stored reasons may be either spelling.
    table: dict[str | None, list[x509.Extension[x509.ExtensionType]]] = {None: []}
    for flag in x509.ReasonFlags:
        # RFC 5280 5.3.1: leave the reason out rather than say "unspecified".
        extensions: list[x509.Extension[x509.ExtensionType]] = [] \
            if flag is x509.ReasonFlags.unspecified \
            else [x509.Extension(x509.CRLReason.oid, False, x509.CRLReason(flag))]
        table[flag.value] = table[flag.name] = extensions
    return table


# A CRL entry as the store reads it for a CRL: (serial, revocation time, reason name).
EntryRow = tuple[int, datetime | None, str | None]


def entry_rows(records: Iterable[RevocationEntry]) -> list[EntryRow]:
    """The CRL entries of registry records (certificates on hold or revoked)."""
    return [(parse_serial(r.serial), r.revoked_at, r.reason) for r in records]


def revoked_entries(rows: Iterable[EntryRow], now: datetime) -> list[x509.RevokedCertificate]:
    reasons = _reason_extensions()
    empty: list[x509.Extension[x509.ExtensionType]] = []
    # A 100,000-entry CRL spends most of its time here: one builder per entry, nothing else per entry.
    return [x509.RevokedCertificateBuilder(serial, revoked_at or now, reasons.get(reason, empty)).build()
            for serial, revoked_at, reason in rows]


def build_crl(ca: CertificateAuthority, registry: CertificateRegistry, next_update_hours: int = 24,
              crl_number: int | None = None, now: datetime | None = None) -> x509.CertificateRevocationList:
    """A signed CRL of every held and revoked certificate. Without ``crl_number`` the CA's counter is used."""
    if next_update_hours < 1:
        raise InvalidInput("CRL 更新间隔至少 1 小时", "the CRL next-update interval must be at least 1 hour",
                           field="next_update_hours")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    number = crl_number if crl_number is not None else next_crl_number(ca.directory)
    return sign_crl(ca, entry_rows(registry.revoked()), number, now, next_update_hours)


def sign_crl(ca: CertificateAuthority, entries: Iterable[EntryRow], number: int, now: datetime,
             next_update_hours: int) -> x509.CertificateRevocationList:
    """The CRL numbered ``number`` listing ``entries`` (see :func:`entry_rows`), valid from ``now`` for
    ``next_update_hours``."""
    # The list goes to the constructor in one go: add_revoked_certificate copies the list on every
    # call (quadratic in the number of entries).
    builder = x509.CertificateRevocationListBuilder(
        issuer_name=ca.certificate.subject,
        last_update=now,
        next_update=now + timedelta(hours=next_update_hours),
        extensions=[
            x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(number)),
            x509.Extension(x509.AuthorityKeyIdentifier.oid, False,
                           ca.authority_key_id()),  # from the CA's key, whatever its algorithm (SM2 too)
        ],
        revoked_certificates=revoked_entries(entries, now),
    )
    return ca.signer.sign_crl(builder)


def write_crl(crl: x509.CertificateRevocationList, path: str | os.PathLike[str], pem: bool = False) -> None:
    encoding = serialization.Encoding.PEM if pem else serialization.Encoding.DER
    Path(path).write_bytes(crl.public_bytes(encoding))
