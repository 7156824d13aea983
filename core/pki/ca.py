"""The certificate authority: a CA directory, issuing and renewing holder certificates.

A CA directory holds ``ca.key.pem`` (encrypted PKCS#8, mode 0600), ``ca.cert.pem``, ``chain.pem``
(the issuers above this CA, empty for a root) and ``crl_number`` (see core.pki.crl).
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from attrs import frozen
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from core.errors import InvalidInput
from core.model import CardKind
from core.pki import gm
from core.pki.profiles import CertificateProfile, HolderSubject, key_usage_for, renewal_subject
from core.pki.registry import CertificateRecord, CertificateRegistry
from core.pki.signer import FileSigner, PublicKey, Signer, algorithm_of, check_algorithm

KEY_FILE = "ca.key.pem"
CERT_FILE = "ca.cert.pem"
CHAIN_FILE = "chain.pem"

ROOT_VALIDITY_YEARS = 25
ISSUING_VALIDITY_YEARS = 20
# Certificates start a little in the past so a relying party with a slow clock accepts them at once.
BACKDATE = timedelta(minutes=5)


def new_serial() -> int:
    """A random positive 128-bit serial; the top bit is set so its hex form is always 32 digits."""
    return secrets.randbits(128) | (1 << 127)


def serial_hex(serial: int) -> str:
    """The E-Port certificate number: the serial in lowercase hex."""
    return format(serial, "x")


def parse_serial(text: str) -> int:
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    try:
        value = int(cleaned, 16)
    except ValueError:
        raise InvalidInput(f"证书序列号 {text!r} 不是十六进制数",
                           f"certificate serial {text!r} is not hexadecimal", field="serial") from None
    if value <= 0:
        raise InvalidInput("证书序列号必须为正数", "the certificate serial must be positive", field="serial")
    return value


def _years(start: datetime, years: int) -> datetime:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _subject_key_id(key: object) -> x509.SubjectKeyIdentifier:
    # RFC 5280 4.2.1.2 method (1), as pyca's from_public_key, for SM2 keys too.
    if gm.sm2.is_public_key(key):
        return x509.SubjectKeyIdentifier(gm.key_identifier(gm.spki_der(key)))
    return x509.SubjectKeyIdentifier.from_public_key(key)  # type: ignore[arg-type]


def _authority_key_id(issuer_key: object) -> x509.AuthorityKeyIdentifier:
    if gm.sm2.is_public_key(issuer_key):
        return x509.AuthorityKeyIdentifier(gm.key_identifier(gm.spki_der(issuer_key)), None, None)
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key)  # type: ignore[arg-type]


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


@frozen
class CertificateAuthority:
    directory: Path
    certificate: x509.Certificate
    signer: Signer
    chain: tuple[x509.Certificate, ...] = ()  # issuers above this CA, nearest first

    # --- creating and opening -----------------------------------------------------------------

    @classmethod
    def init(cls, directory: str | os.PathLike[str], subject_name: str, passphrase: str,
             algorithm: str = "rsa2048", root: CertificateAuthority | None = None,
             validity_years: int | None = None, *, signer: Signer | None = None) -> CertificateAuthority:
        """A new self-signed root CA, or (with ``root``) an issuing CA signed by that root. Its key is a
        new encrypted file in ``directory``, or ``signer`` (a key made elsewhere, e.g. on a token;
        ``passphrase`` and ``algorithm`` are then unused)."""
        check_algorithm(algorithm)
        if not subject_name.strip():
            raise InvalidInput("CA 名称不能为空", "the CA name is required", field="name")
        directory = Path(directory)
        cls.check_free(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if signer is None:
            signer = gm.Sm2FileSigner.create(directory / KEY_FILE, passphrase) if algorithm == "sm2" \
                else FileSigner.create(directory / KEY_FILE, passphrase, algorithm)
        name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                          x509.NameAttribute(NameOID.COMMON_NAME, subject_name)])
        start = _now() - BACKDATE
        if root is None:
            years = validity_years or ROOT_VALIDITY_YEARS
            issuer_signer: Signer = signer
            issuer_name, issuer_key, path_length = name, signer.public_key(), None
            end = _years(start, years)
            chain: tuple[x509.Certificate, ...] = ()
        else:
            years = validity_years or ISSUING_VALIDITY_YEARS
            issuer_name, issuer_key = root.certificate.subject, root.signer.public_key()
            issuer_signer, path_length = root.signer, 0
            end = min(_years(start, years), root.certificate.not_valid_after_utc)
            chain = (root.certificate, *root.chain)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(issuer_name)
            .serial_number(new_serial()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=True, crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(_subject_key_id(signer.public_key()), critical=False)
            .add_extension(_authority_key_id(issuer_key), critical=False)
        )
        certificate = gm.sign_certificate(issuer_signer, builder, signer.public_key())
        (directory / CERT_FILE).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        (directory / CHAIN_FILE).write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
        return cls(directory=directory, certificate=certificate, signer=signer, chain=chain)

    @staticmethod
    def check_free(directory: Path) -> None:
        """Refuse a directory that already holds a CA (before any key is made for a new one)."""
        if (directory / CERT_FILE).exists() or (directory / KEY_FILE).exists():
            raise InvalidInput(f"目录 {directory} 中已有 CA，不会覆盖",
                               f"{directory} already holds a CA; it will not be overwritten", field="dir")

    @staticmethod
    def read_certificate(directory: str | os.PathLike[str]) -> x509.Certificate:
        """The CA certificate in ``directory`` (no key needed)."""
        try:
            return x509.load_pem_x509_certificate((Path(directory) / CERT_FILE).read_bytes())
        except FileNotFoundError:
            raise InvalidInput(f"目录 {directory} 中没有 CA，请先执行 eportcard ca init",
                               f"no CA in {directory}; run `eportcard ca init` first", field="dir") from None

    @classmethod
    def load(cls, directory: str | os.PathLike[str], passphrase: str) -> CertificateAuthority:
        """The CA in ``directory`` with its key file unlocked by ``passphrase``."""
        certificate = cls.read_certificate(directory)  # no CA at all: say that, not "no key file"
        key_file = Path(directory) / KEY_FILE
        return cls.open(directory, gm.load_file_signer(key_file, passphrase, certificate)
                        or FileSigner.load(key_file, passphrase))

    @classmethod
    def open(cls, directory: str | os.PathLike[str], signer: Signer) -> CertificateAuthority:
        """The CA in ``directory`` with its key held by ``signer`` (which must be the certificate's key)."""
        directory = Path(directory)
        certificate = cls.read_certificate(directory)
        chain_path = directory / CHAIN_FILE
        chain = tuple(x509.load_pem_x509_certificates(chain_path.read_bytes())) \
            if chain_path.exists() and chain_path.stat().st_size else ()
        if gm.spki_der(signer.public_key()) != gm.certificate_spki(certificate):
            raise InvalidInput("CA 私钥与 CA 证书不匹配", "the CA key does not match the CA certificate",
                               field="dir")
        return cls(directory=directory, certificate=certificate, signer=signer, chain=chain)

    # --- issuing ------------------------------------------------------------------------------

    def issue(self, profile: CertificateProfile, subject: HolderSubject, public_key: PublicKey | None = None,
              csr: x509.CertificateSigningRequest | None = None, not_before: datetime | None = None,
              *, registry: CertificateRegistry | None = None, card_id: str = "") -> x509.Certificate:
        """A holder certificate for a key made on the card (``public_key``) or sent as a ``csr``.

        The subject always comes from ``subject`` (what staff reviewed), never from the CSR.
        With ``registry`` the certificate is recorded there as ``good``.
        """
        if (public_key is None) == (csr is None):
            raise InvalidInput("须且只能提供公钥或证书请求之一", "give exactly one of a public key or a CSR",
                               field="csr")
        if csr is not None:
            if not gm.csr_signature_valid(csr):
                raise InvalidInput("证书请求（CSR）签名无效：请求中的公钥与签名不匹配，请在卡上重新生成请求",
                                   "the CSR signature is invalid: its public key does not match the "
                                   "signature; generate the request on the card again", field="csr")
            public_key = gm.csr_public_key(csr)
        assert public_key is not None
        if algorithm_of(public_key) != profile.algorithm:
            raise InvalidInput(f"公钥算法与证书模板不符（模板要求 {profile.algorithm}）",
                               f"the public key does not fit the profile (it requires {profile.algorithm})",
                               field="public_key")
        start = (not_before or _now() - BACKDATE).astimezone(UTC)
        end = self._clamp(_years(start, profile.validity_years))
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject.x509_name(profile.kind)).issuer_name(self.certificate.subject)
            .serial_number(new_serial())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(profile.key_usage_extension(), critical=True)
            .add_extension(x509.ExtendedKeyUsage(list(profile.extended_key_usages)), critical=False)
            .add_extension(_subject_key_id(public_key), critical=False)
            .add_extension(self._authority_key_id(), critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(profile.crl_url)],
                relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(profile.ocsp_url))]), critical=False)
        )
        certificate = gm.sign_certificate(self.signer, builder, public_key)
        if registry is not None:
            registry.add(record_for(certificate, card_id=card_id))
        return certificate

    def renew(self, old: x509.Certificate, public_key: PublicKey | None = None,
              validity_years: int | None = None, *, registry: CertificateRegistry | None = None,
              card_id: str | None = None) -> x509.Certificate:
        """A new certificate for the same holder: new serial, same subject and extensions, new validity.

        The subject is the old one, re-encoded where an earlier release wrote it wrongly (see
        ``renewal_subject``): a certificate already issued stays as it is until it is renewed.

        ``public_key`` defaults to the old key (extension without re-keying). The old certificate
        is left as it is; the caller decides whether it is superseded.
        """
        if old.issuer != self.certificate.subject:
            raise InvalidInput("该证书不是本 CA 签发的，无法更新",
                               "this certificate was not issued by this CA, so it cannot be renewed",
                               field="certificate")
        try:
            gm.verify_issued_by(old, self.certificate)  # pyca's check, or the SM2 one
        except (InvalidSignature, ValueError, TypeError):
            raise InvalidInput("该证书的签名无法用本 CA 验证，无法更新",
                               "this certificate's signature does not verify against this CA",
                               field="certificate") from None
        key = public_key if public_key is not None else gm.certificate_public_key(old)
        # A renewal onto a key of another profile (an RSA card re-keyed to SM2) takes that profile's key usage.
        new_usage = key_usage_for(algorithm_of(key)) \
            if algorithm_of(key) != algorithm_of(gm.certificate_public_key(old)) else None
        if validity_years is None:
            span = old.not_valid_after_utc - old.not_valid_before_utc
            validity_years = max(1, round(span.days / 365.25))
        start = _now() - BACKDATE
        builder = (
            x509.CertificateBuilder()
            .subject_name(renewal_subject(old.subject)).issuer_name(self.certificate.subject)
            .serial_number(new_serial())
            .not_valid_before(start).not_valid_after(self._clamp(_years(start, validity_years)))
        )
        for extension in old.extensions:
            if isinstance(extension.value, x509.SubjectKeyIdentifier):
                builder = builder.add_extension(_subject_key_id(key), critical=False)
            elif isinstance(extension.value, x509.AuthorityKeyIdentifier):
                builder = builder.add_extension(self._authority_key_id(), critical=False)
            elif isinstance(extension.value, x509.KeyUsage) and new_usage is not None:
                builder = builder.add_extension(new_usage, critical=extension.critical)
            else:
                builder = builder.add_extension(extension.value, critical=extension.critical)
        certificate = gm.sign_certificate(self.signer, builder, key)
        if registry is not None:
            if card_id is None:
                previous = registry.get(serial_hex(old.serial_number))
                card_id = previous.card_id if previous else ""
            registry.add(record_for(certificate, card_id=card_id))
        return certificate

    # --- helpers ------------------------------------------------------------------------------

    def _clamp(self, end: datetime) -> datetime:
        # A holder certificate never outlives its CA (relying parties would reject the tail end).
        return min(end, self.certificate.not_valid_after_utc)

    def _authority_key_id(self) -> x509.AuthorityKeyIdentifier:
        return _authority_key_id(self.signer.public_key())

    def authority_key_id(self) -> x509.AuthorityKeyIdentifier:
        """What the CA's CRLs and certificates name it by (its key's identifier, whatever the algorithm)."""
        return self._authority_key_id()

    def chain_pem(self) -> bytes:
        """This CA and the issuers above it, PEM, nearest first (what relying parties need)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (self.certificate, *self.chain))

    @property
    def root_certificate(self) -> x509.Certificate:
        return self.chain[-1] if self.chain else self.certificate


def record_for(certificate: x509.Certificate, card_id: str = "") -> CertificateRecord:
    """The registry record of a newly issued certificate."""
    return CertificateRecord(
        serial=serial_hex(certificate.serial_number),
        card_id=card_id,
        enterprise_uscc=_first(certificate.subject, NameOID.ORGANIZATION_IDENTIFIER),
        kind=CardKind(_first(certificate.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)),
        subject=certificate.subject.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )
