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
from typing import TYPE_CHECKING

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.config import Settings, record_pki_keys
from core.errors import ConfigError, EportError, InvalidInput
from core.pki import revocation
from core.pki.ca import CERT_FILE, CHAIN_FILE, CertificateAuthority, serial_hex
from core.pki.crl import write_crl
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.pki.signer import ALGORITHMS
from core.services.actors import Actor
from core.services.authority import (
    key_origin,
    key_place,
    make_token_key,
    open_authority,
    pkcs11_layer,
    token_key,
)
from core.services.crl_publication import CrlPublisher
from core.store import CertificateRecord, Store, Transaction, open_store
from core.store.audit import load_key

if TYPE_CHECKING:
    from core.pki.pkcs11 import TokenInfo, TokenKey

REVOKE_REASONS: tuple[str, ...] = tuple(r.name for r in revocation.REVOKE_REASONS)

__all__ = ["ALGORITHMS", "REVOKE_REASONS", "CaStatus", "CaSummary", "CertificateAdmin", "CertificateRecord", "Crl", "Issued"]


@frozen
class CaSummary:
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    directory: Path


@frozen
class CaStatus:
    ca: CaSummary
    key: str  # where the key lives
    token: TokenInfo | None  # the token's label, serial, maker and model (a key on a token)
    answers: bool  # unlocked, and on a token made to sign once
    problem: str  # why not, when it does not
    origin: str = ""  # a key on a token: made there, or imported (so it once was outside)


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
    passphrase: Callable[[], str]  # the CA key file's passphrase
    pin: Callable[[], str] = lambda: ""  # the token's PIN, when the CA key is on one ([pki] pkcs11_*)

    # ---- the CA's own files (no database) -------------------------------------------------------------------

    def init(self, name: str, algorithm: str | None, passphrase: Callable[[], str], *,
             root_dir: Path | None = None, root_passphrase: Callable[[], str] | None = None,
             token: TokenKey | None = None, existing_key: bool = False) -> CaSummary:
        """A new CA: a root, or an issuing CA signed by the root CA in ``root_dir`` (unlocked first, with
        ``root_passphrase``). Its key is a new encrypted, owner-only file in ``ca_dir``; or, with ``token``,
        a key made on that PKCS#11 token (``existing_key``: the one already there under that label), never
        extractable, unlocked with ``pin``, and ``[pki]`` of the config then records the module, token and
        key label (not the PIN). A failure after the key was made on the token removes it again."""
        if token is None:
            root = self._root(root_dir, root_passphrase)
            made = CertificateAuthority.init(self.ca_dir, name, passphrase(),
                                             algorithm or self.settings.pki.algorithm, root=root)
            return _summary(made.certificate, made.directory)
        if not self.config.is_file():
            raise ConfigError(f"没有配置文件 {self.config}，无法记录令牌上的 CA 密钥：请先执行 eportcard init，或用 -c 指定配置文件",
                              f"there is no config file {self.config} to record where the CA key is: run `eportcard "
                              "init` first, or name the config with -c", field="config")
        CertificateAuthority.check_free(self.ca_dir)
        root = self._root(root_dir, root_passphrase)
        signer, made_now = make_token_key(token, self.pin(), algorithm or self.settings.pki.algorithm,
                                          existing=existing_key)
        if algorithm and signer.algorithm != algorithm:
            raise InvalidInput(f"令牌上的密钥是 {signer.algorithm}，不是 --algorithm 所说的 {algorithm}",
                               f"the key on the token is {signer.algorithm}, not the {algorithm} --algorithm "
                               "names", field="algorithm")
        try:
            made = CertificateAuthority.init(self.ca_dir, name, "", signer.algorithm, root=root, signer=signer)
            record_pki_keys(self.config, {"pkcs11_module": token.module, "pkcs11_token": token.token,
                                          "pkcs11_key_label": token.key_label})
        except BaseException:
            for written in (CERT_FILE, CHAIN_FILE):
                (self.ca_dir / written).unlink(missing_ok=True)
            if made_now:
                signer.destroy()
            raise
        return _summary(made.certificate, made.directory)

    @staticmethod
    def token_key(module: str, token: str, key_label: str) -> TokenKey:
        """Where a key on a token is (for :meth:`init`)."""
        return pkcs11_layer().TokenKey(module, token, key_label)

    def _root(self, root_dir: Path | None, root_passphrase: Callable[[], str] | None) -> CertificateAuthority | None:
        if root_dir is None:
            return None
        return CertificateAuthority.load(root_dir, (root_passphrase or self.passphrase)())

    def status(self) -> CaStatus:
        """The CA certificate, where its key lives (for a token: its label and serial) and whether the key
        answers: unlocked (and on a token, made to sign once) with the deployment's secret."""
        summary = self.ca_certificate()
        try:
            place = key_place(self.settings, self.ca_dir)
        except EportError as exc:
            where = token_key(self.settings)
            return CaStatus(summary, where.describe() if where else str(self.ca_dir), None, False, str(exc))
        try:
            signer = self._authority().signer
        except EportError as exc:
            return CaStatus(summary, place.description, place.token, False, str(exc))
        return CaStatus(summary, place.description, place.token, True, "", key_origin(signer))

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
        secret = self.pin() if self.settings.pki.on_token else self.passphrase()
        return open_authority(self.settings, self.ca_dir, secret)

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
