"""The branch's CA as its operator works it (``eportcard ca``): create it, issue from a CSR, revoke /
hold / release, revoke renewals never confirmed, write the CRL, show the CA or a certificate.

Each use case that touches the database opens the deployment's store, brings its schema up to date and
works in one transaction, with its audit row (``certificate`` entity) in that same transaction. The CA
passphrase is asked for (``passphrase``) only when the CA key is needed, so a bad request is refused
before anyone types it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.config import Settings
from core.errors import ConfigError, InvalidInput
from core.pki import revocation
from core.pki.ca import CERT_FILE, CertificateAuthority, serial_hex
from core.pki.crl import write_crl
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.pki.signer import ALGORITHMS
from core.services.actors import Actor
from core.services.crl_publication import CrlPublisher
from core.store import CertificateRecord, Store, Transaction, open_store
from core.store.audit import load_key

REVOKE_REASONS: tuple[str, ...] = tuple(r.name for r in revocation.REVOKE_REASONS)

__all__ = ["ALGORITHMS", "REVOKE_REASONS", "CaSummary", "CertificateAdmin", "CertificateRecord", "Crl", "Issued"]


@frozen
class CaSummary:
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    directory: Path


@frozen
class Issued:
    serial: str
    pem: bytes


@frozen
class Crl:
    number: int
    entries: int
    path: Path


def _summary(certificate: x509.Certificate, directory: Path) -> CaSummary:
    return CaSummary(subject=certificate.subject.rfc4514_string(), issuer=certificate.issuer.rfc4514_string(),
                     serial=serial_hex(certificate.serial_number), not_before=certificate.not_valid_before_utc,
                     not_after=certificate.not_valid_after_utc, directory=directory)


def _load_csr(path: Path) -> x509.CertificateSigningRequest:
    data = path.read_bytes()
    try:
        return x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data)
    except ValueError:
        raise InvalidInput(f"{path} 不是有效的证书请求（CSR）",
                           f"{path} is not a valid certificate request (CSR)", field="csr") from None


@frozen
class CertificateAdmin:
    """``settings`` as loaded from ``config`` (the defaults beside it when it does not exist);
    ``database_url`` empty: there is no database to work on (no config file and none named)."""

    settings: Settings
    config: Path
    ca_dir: Path
    database_url: str
    passphrase: Callable[[], str]

    # ---- the CA's own files (no database) -------------------------------------------------------------------

    def init(self, name: str, algorithm: str | None, passphrase: Callable[[], str], *,
             root_dir: Path | None = None, root_passphrase: Callable[[], str] | None = None) -> CaSummary:
        """A new CA key (encrypted, owner-only) and certificate: a root, or an issuing CA signed by the
        root CA in ``root_dir`` (unlocked first, with ``root_passphrase``)."""
        root = None
        if root_dir is not None:
            root = CertificateAuthority.load(root_dir, (root_passphrase or self.passphrase)())
        made = CertificateAuthority.init(self.ca_dir, name, passphrase(), algorithm or self.settings.pki.algorithm,
                                         root=root)
        return _summary(made.certificate, made.directory)

    def ca_certificate(self) -> CaSummary:
        """The CA certificate in ``ca_dir`` (no passphrase needed)."""
        path = self.ca_dir / CERT_FILE
        if not path.exists():
            raise InvalidInput(f"目录 {self.ca_dir} 中没有 CA，请先执行 eportcard ca init",
                               f"no CA in {self.ca_dir}; run `eportcard ca init` first", field="dir")
        return _summary(x509.load_pem_x509_certificate(path.read_bytes()), self.ca_dir)

    # ---- certificates (one transaction each) ----------------------------------------------------------------

    @contextmanager
    def _transaction(self, readonly: bool = False) -> Iterator[Transaction]:
        with self._store() as store, store.transaction(readonly=readonly) as tx:
            yield tx

    @contextmanager
    def _store(self) -> Iterator[Store]:
        if not self.database_url:
            raise ConfigError(f"没有配置文件 {self.config}，不知道用哪个数据库：请在部署目录执行 eportcard init，"
                              "用 -c 指定配置文件，或用 --db 指定数据库",
                              f"there is no config file {self.config}, so no database to use: run `eportcard "
                              "init` in the deployment's folder, name its config with -c, or give --db",
                              field="config")
        store = open_store(self.database_url, self.settings.blob_dir,
                           audit_key=load_key(self.settings.path(self.settings.audit.key_file)))
        try:
            store.upgrade()
            yield store
        finally:
            store.dispose()

    def _authority(self) -> CertificateAuthority:
        return CertificateAuthority.load(self.ca_dir, self.passphrase())

    def issue(self, actor: Actor, csr_path: Path, kind: str, *, enterprise: str, uscc: str, holder: str,
              holder_id: str = "", card_id: str = "", algorithm: str | None = None) -> Issued:
        """A holder certificate from the CSR generated on the card, recorded as good. The subject is the
        one given (what staff reviewed), never the CSR's."""
        csr = _load_csr(csr_path)
        subject = HolderSubject(enterprise_name=enterprise, uscc=uscc, holder_name=holder,
                                holder_id_masked=holder_id)
        profile = profile_for(kind, ProfileSettings.from_settings(self.settings), algorithm)
        authority = self._authority()
        with self._transaction() as tx:
            cert = authority.issue(profile, subject, csr=csr, registry=tx.certificates, card_id=card_id)
            serial = serial_hex(cert.serial_number)
            tx.audit.append(actor.label, "issue", "certificate", serial,
                            {"kind": kind, "card_id": card_id, "uscc": subject.uscc,
                             "subject": cert.subject.rfc4514_string()})
        return Issued(serial=serial, pem=cert.public_bytes(serialization.Encoding.PEM))

    def revoke(self, actor: Actor, serial: str, reason: str) -> CertificateRecord:
        """Revoke a certificate (final)."""
        with self._transaction() as tx:
            record = revocation.revoke(tx.certificates, serial, reason)
            tx.audit.append(actor.label, "revoke", "certificate", record.serial, {"reason": record.reason})
        return record

    def hold(self, actor: Actor, serial: str) -> CertificateRecord:
        """Put a certificate on hold (card frozen or reported lost)."""
        with self._transaction() as tx:
            record = revocation.hold(tx.certificates, serial)
            tx.audit.append(actor.label, "hold", "certificate", record.serial, {})
        return record

    def release(self, actor: Actor, serial: str) -> CertificateRecord:
        """Release a held certificate (card unfrozen or found)."""
        with self._transaction() as tx:
            record = revocation.release(tx.certificates, serial)
            tx.audit.append(actor.label, "release", "certificate", record.serial, {})
        return record

    def expire_renewals(self, actor: Actor, days: int) -> list[CertificateRecord]:
        """Revoke renewed certificates released to a card ``days`` ago or earlier and never confirmed."""
        with self._transaction() as tx:
            expired = revocation.expire_pending_renewals(tx.certificates, datetime.now(UTC) - timedelta(days=days))
            for record in expired:
                tx.audit.append(actor.label, "expire_renewal", "certificate", record.serial,
                                {"reason": record.reason, "card_id": record.card_id})
        return expired

    def write_crl(self, out_path: Path, *, pem: bool = False, hours: int | None = None) -> Crl:
        """Sign and publish a new CRL of every held and revoked certificate (numbered after the newest
        published; ``/pki/crl.der`` serves it from then on) and write it to ``out_path``."""
        authority = self._authority()
        with self._store() as store:
            published = CrlPublisher(store, authority, self.settings.pki.crl_hours).publish(hours)
        write_crl(x509.load_der_x509_crl(published.der), out_path, pem=pem)
        return Crl(number=published.number, entries=published.entries, path=out_path)

    def record(self, serial: str) -> CertificateRecord:
        """One certificate's record."""
        with self._transaction(readonly=True) as tx:
            record = tx.certificates.get(serial.strip().lower())
        if record is None:
            raise InvalidInput(f"没有序列号为 {serial} 的证书", f"no certificate with serial {serial}",
                               field="serial")
        return record
