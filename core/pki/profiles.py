"""Certificate profiles per card kind, and the holder's subject name.

Key usage: digitalSignature (card login challenge, data signing) + contentCommitment (a customs
declaration signed with the card is a commitment by the enterprise), plus keyEncipherment for RSA
(legacy clients wrap session keys to the card) or keyAgreement for EC (ECDH is how EC keys do that).

Extended key usage: clientAuth for logging in to the E-Port / single-window sites with the card,
and emailProtection, the standard EKU for CMS/PKCS#7 signed data, which is what declaration and
manifest signatures are. codeSigning is deliberately absent: a card must not be able to sign software.
"""

from __future__ import annotations

from attrs import field, frozen
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from stdnum.cn import uscc as uscc_number

from core.config import Settings
from core.errors import InvalidInput
from core.model import CardKind
from core.pki.signer import ALGORITHMS, Algorithm, check_algorithm

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


@frozen
class HolderSubject:
    """Who the certificate names: O = enterprise, organizationIdentifier = USCC, CN = holder."""

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

    def x509_name(self, kind: CardKind) -> x509.Name:
        # cryptography encodes these as UTF8String, so Chinese names survive intact.
        attributes = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.enterprise_name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, self.uscc),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, str(kind)),
            x509.NameAttribute(NameOID.COMMON_NAME, self.holder_name),
        ]
        if self.holder_id_masked:
            # UTF8String: PrintableString (the default for serialNumber) has no '*'.
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, self.holder_id_masked,
                                                 _ASN1Type.UTF8String))
        return x509.Name(attributes)


__all__ = ["ALGORITHMS", "CertificateProfile", "HolderSubject", "ProfileSettings", "profile_for"]
