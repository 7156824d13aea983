"""Certificate profiles per card kind, and the holder's subject name.

Key usage: digitalSignature (card login challenge, data signing) + contentCommitment (a customs
declaration signed with the card is a commitment by the enterprise), plus keyEncipherment for RSA
(legacy clients wrap session keys to the card) or keyAgreement for EC (ECDH is how EC keys do that).

Extended key usage: clientAuth for logging in to the E-Port / single-window sites with the card,
and emailProtection, the standard EKU for CMS/PKCS#7 signed data, which is what declaration and
manifest signatures are. codeSigning is deliberately absent: a card must not be able to sign software.
"""

from __future__ import annotations

import string
import unicodedata

from attrs import field, frozen
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from stdnum.cn import uscc as uscc_number

from core.config import Settings
from core.errors import InvalidInput
from core.model import CardKind
from core.pki.signer import ALGORITHMS, Algorithm, check_algorithm
from core.privacy import MASK

DEFAULT_VALIDITY_YEARS = 10  # DESIGN.md: new cards valid 10 years

KEY_USAGE_NAMES = ("digital_signature", "content_commitment", "key_encipherment", "key_agreement")
DEFAULT_EKUS: tuple[x509.ObjectIdentifier, ...] = (
    ExtendedKeyUsageOID.CLIENT_AUTH,
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
)


@frozen
class ProfileSettings:
    """Per-deployment PKI settings. ``base_url`` is where the web front serves the CRL and OCSP."""

    base_url: str
    algorithm: Algorithm = "rsa2048"
    validity_years: int = DEFAULT_VALIDITY_YEARS

    def __attrs_post_init__(self) -> None:
        check_algorithm(self.algorithm)
        if not 1 <= self.validity_years <= 30:
            raise InvalidInput("证书有效期须为 1 至 30 年", "certificate validity must be 1 to 30 years",
                               field="validity_years")
        if not self.base_url.startswith(("http://", "https://")):
            raise InvalidInput("PKI 地址须以 http:// 或 https:// 开头",
                               "the PKI base URL must start with http:// or https://", field="base_url")

    @classmethod
    def from_settings(cls, settings: Settings) -> ProfileSettings:
        """From the deployment config: ``[web] base_url`` and ``[pki] algorithm / validity_years``."""
        return cls(base_url=settings.web.base_url, algorithm=check_algorithm(settings.pki.algorithm),
                   validity_years=settings.pki.validity_years)

    @property
    def crl_url(self) -> str:
        return self.base_url.rstrip("/") + "/pki/crl.der"

    @property
    def ocsp_url(self) -> str:
        return self.base_url.rstrip("/") + "/pki/ocsp"


def _default_key_usages(algorithm: Algorithm) -> tuple[str, ...]:
    third = "key_encipherment" if algorithm == "rsa2048" else "key_agreement"
    return ("digital_signature", "content_commitment", third)


@frozen
class CertificateProfile:
    kind: CardKind
    crl_url: str
    ocsp_url: str
    algorithm: Algorithm = "rsa2048"
    validity_years: int = DEFAULT_VALIDITY_YEARS
    key_usages: tuple[str, ...] = field(converter=tuple, default=())
    extended_key_usages: tuple[x509.ObjectIdentifier, ...] = field(converter=tuple, default=DEFAULT_EKUS)

    def __attrs_post_init__(self) -> None:
        check_algorithm(self.algorithm)
        unknown = set(self.key_usages) - set(KEY_USAGE_NAMES)
        if unknown:
            raise InvalidInput(f"未知的密钥用途：{sorted(unknown)}", f"unknown key usages: {sorted(unknown)}",
                               field="key_usages")
        if not self.key_usages:
            object.__setattr__(self, "key_usages", _default_key_usages(self.algorithm))

    def key_usage_extension(self) -> x509.KeyUsage:
        flags = {name: name in self.key_usages for name in KEY_USAGE_NAMES}
        return x509.KeyUsage(
            digital_signature=flags["digital_signature"],
            content_commitment=flags["content_commitment"],
            key_encipherment=flags["key_encipherment"],
            data_encipherment=False,
            key_agreement=flags["key_agreement"],
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )


def key_usage_for(algorithm: Algorithm) -> x509.KeyUsage:
    """The card key usage of a profile (what a certificate re-keyed onto that profile's key carries)."""
    return CertificateProfile(kind=CardKind.LEGAL, crl_url="", ocsp_url="", algorithm=algorithm).key_usage_extension()


def profile_for(kind: CardKind | str, settings: ProfileSettings,
                algorithm: str | None = None) -> CertificateProfile:
    """The deployment's profile for a card kind; ``algorithm`` overrides the deployment default."""
    try:
        kind = CardKind(kind)
    except ValueError:
        raise InvalidInput(f"未知的卡类型 {kind!r}（legal / operator / declarant）",
                           f"unknown card kind {kind!r} (legal / operator / declarant)",
                           field="kind") from None
    chosen = check_algorithm(algorithm) if algorithm else settings.algorithm
    return CertificateProfile(kind=kind, crl_url=settings.crl_url, ocsp_url=settings.ocsp_url,
                              algorithm=chosen, validity_years=settings.validity_years)


# RFC 5280 Appendix A.1: X520SerialNumber ::= PrintableString (SIZE (1..ub-serial-number)),
# ub-serial-number INTEGER ::= 64. PrintableString's alphabet: ITU-T X.680, restricted character string types.
PRINTABLE_STRING = frozenset(string.ascii_letters + string.digits + " '()+,-./:=?")
SERIAL_NUMBER_MAX = 64
# The masking character people see ('*', core.privacy.MASK) is not in that alphabet; in the certificate
# each masked character is written as '-' instead, so the value stays a valid PrintableString. A masked ID
# itself may not hold '-' (nor space or apostrophe), so every '-' in the certificate means "masked".
SUBJECT_MASK = "-"
MASKED_ID_CHARACTERS = (PRINTABLE_STRING - {SUBJECT_MASK, " ", "'"}) | {MASK}


def subject_serial_number(masked_id: str) -> str:
    """The subject serialNumber for a masked holder ID: ``4403**********1234`` -> ``4403----------1234``.

    Full-width forms become their ASCII ones and white space goes (IDs are typed as people write them).
    Raises ``InvalidInput`` (field ``holder_id_masked``) when the ID is not masked, holds a character
    outside ``MASKED_ID_CHARACTERS``, or is longer than 64 characters.
    """
    text = "".join(unicodedata.normalize("NFKC", masked_id).split())
    if MASK not in text:
        raise InvalidInput("持卡人证件号须为打码形式（如 4403**********1234），证书中不写完整证件号",
                           "give the holder ID masked (e.g. 4403**********1234): a certificate never "
                           "carries a full identity number", field="holder_id_masked")
    if len(text) > SERIAL_NUMBER_MAX or not set(text) <= MASKED_ID_CHARACTERS:
        raise InvalidInput(f"打码证件号 {masked_id!r} 只能含字母、数字、* 和 ()+,./:=? 这些符号，"
                           f"且不超过 {SERIAL_NUMBER_MAX} 个字符",
                           f"the masked holder ID {masked_id!r} may hold only letters, digits, * and the "
                           f"symbols ()+,./:=?, at most {SERIAL_NUMBER_MAX} characters",
                           field="holder_id_masked")
    return text.replace(MASK, SUBJECT_MASK)


@frozen
class HolderSubject:
    """Who the certificate names: C = CN, O = enterprise, organizationIdentifier = USCC, OU = card kind,
    CN = holder, and serialNumber = the holder's masked ID (docs/certificate-profile.md)."""

    enterprise_name: str
    uscc: str
    holder_name: str
    holder_id_masked: str = ""  # e.g. 4403**********1234; lets two holders of one name be told apart

    def __attrs_post_init__(self) -> None:
        if not self.enterprise_name.strip():
            raise InvalidInput("企业名称不能为空", "the enterprise name is required", field="enterprise_name")
        if not self.holder_name.strip():
            raise InvalidInput("持卡人姓名不能为空", "the holder name is required", field="holder_name")
        if not uscc_number.is_valid(self.uscc):
            raise InvalidInput(f"统一社会信用代码 {self.uscc!r} 无效，请核对 18 位代码",
                               f"invalid unified social credit code {self.uscc!r}; check the 18 characters",
                               field="uscc")
        if self.holder_id_masked:
            subject_serial_number(self.holder_id_masked)

    def x509_name(self, kind: CardKind) -> x509.Name:
        # cryptography writes countryName and serialNumber as PrintableString and the rest as
        # UTF8String, so Chinese names survive intact (RFC 5280 4.1.2.4: UTF8String for new names).
        attributes = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.enterprise_name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, self.uscc),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, str(kind)),
            x509.NameAttribute(NameOID.COMMON_NAME, self.holder_name),
        ]
        if self.holder_id_masked:
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER,
                                                 subject_serial_number(self.holder_id_masked),
                                                 _ASN1Type.PrintableString))
        return x509.Name(attributes)


def renewal_subject(old: x509.Name) -> x509.Name:
    """The subject a renewal carries: the old one, except that a serialNumber written as UTF8String
    (certificates issued before the PrintableString fix) is written again as a PrintableString."""
    rdns = []
    for rdn in old.rdns:
        attributes = []
        for attribute in rdn:
            if attribute.oid == NameOID.SERIAL_NUMBER and attribute._type != _ASN1Type.PrintableString:
                attribute = x509.NameAttribute(NameOID.SERIAL_NUMBER, _legacy_serial_number(str(attribute.value)),
                                               _ASN1Type.PrintableString)
            attributes.append(attribute)
        rdns.append(x509.RelativeDistinguishedName(attributes))
    return x509.Name(rdns)


def _legacy_serial_number(value: str) -> str:
    printable = value.replace(MASK, SUBJECT_MASK)
    if not 1 <= len(printable) <= SERIAL_NUMBER_MAX or not set(printable) <= PRINTABLE_STRING:
        raise InvalidInput(f"旧证书主题中的 serialNumber {value!r} 无法写成 PrintableString，不能续期；"
                           "请为持卡人签发新证书",
                           f"the old certificate's subject serialNumber {value!r} cannot be written as a "
                           "PrintableString, so it cannot be renewed; issue the holder a new certificate",
                           field="certificate")
    return printable


__all__ = ["ALGORITHMS", "CertificateProfile", "HolderSubject", "ProfileSettings", "key_usage_for", "profile_for",
           "renewal_subject",
           "subject_serial_number"]
