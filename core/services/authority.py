"""The branch's CA with its key wherever the deployment keeps it: an encrypted file in ``[pki] ca_dir``, or
a PKCS#11 token (``[pki] pkcs11_module``, ``pkcs11_token``, ``pkcs11_key_label``; docs/deployment.md).

python-pkcs11 comes with the ``hardware`` extra; it is imported only when a deployment's key is on a
token, so a file-key deployment runs without it.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from attrs import frozen

from core.config import Settings
from core.errors import ConfigError
from core.pki.ca import KEY_FILE, CertificateAuthority
from core.pki.signer import Signer

if TYPE_CHECKING:
    from core.pki.pkcs11 import Pkcs11Signer, TokenInfo, TokenKey


def token_key(settings: Settings) -> TokenKey | None:
    """Where the CA key lives on a token, or None: it is the file in ``ca_dir``."""
    if not settings.pki.on_token:
        return None
    pkcs11 = pkcs11_layer()
    return pkcs11.TokenKey(settings.pki.pkcs11_module, settings.pki.pkcs11_token, settings.pki.pkcs11_key_label)


def pkcs11_layer() -> ModuleType:
    """core.pki.pkcs11, or a clear error when python-pkcs11 is not installed."""
    try:
        from core.pki import pkcs11
    except ImportError as exc:
        raise ConfigError(f"CA 密钥在 PKCS#11 令牌上，但未安装 python-pkcs11（{exc}）：请安装 eportcard[hardware]",
                          f"the CA key is on a PKCS#11 token but python-pkcs11 is not installed ({exc}): install "
                          "eportcard[hardware]", field="pki.pkcs11_module") from None
    return pkcs11


def secret_sources(settings: Settings) -> tuple[str, str]:
    """Where the secret that unlocks the CA key may come from (zh, en), for messages."""
    pki = settings.pki
    if pki.on_token:
        return (f"令牌 PIN（环境变量 {pki.pkcs11_pin_env}、systemd 凭据 pkcs11_pin 或 [pki] pkcs11_pin_file）",
                f"the token PIN (the environment variable {pki.pkcs11_pin_env}, the systemd credential pkcs11_pin "
                "or [pki] pkcs11_pin_file)")
    return (f"私钥口令（环境变量 {pki.passphrase_env}、systemd 凭据 ca_passphrase 或 [pki] passphrase_file）",
            f"the passphrase (the environment variable {pki.passphrase_env}, the systemd credential ca_passphrase "
            "or [pki] passphrase_file)")


def open_authority(settings: Settings, ca_dir: Path, secret: str) -> CertificateAuthority:
    """The CA in ``ca_dir``, its key unlocked with ``secret`` (the passphrase, or the token's PIN). On a
    token the key is checked unexportable and made to sign once, so a missing token or a wrong PIN is
    found here, before anything is served."""
    where = token_key(settings)
    if where is None:
        return CertificateAuthority.load(ca_dir, secret)
    certificate = CertificateAuthority.read_certificate(ca_dir)
    signer = pkcs11_layer().Pkcs11Signer.open(where, secret, certificate.public_key())
    return CertificateAuthority.open(ca_dir, signer)


@frozen
class KeyPlace:
    """Where the CA key lives, as `eportcard ca status` tells it."""

    description: str
    token: TokenInfo | None = None


def key_place(settings: Settings, ca_dir: Path) -> KeyPlace:
    """Where the key is; for a token also its label and serial, read without the PIN (raises when the module
    or the token is not there)."""
    where = token_key(settings)
    if where is None:
        return KeyPlace(f"file {ca_dir / KEY_FILE} (encrypted with the passphrase)")
    return KeyPlace(where.describe(), pkcs11_layer().token_info(where))


def key_origin(signer: Signer) -> str:
    """For a key on a token, whether it was made there (PKCS#11 v2.40 4.9: CKA_ALWAYS_SENSITIVE and
    CKA_NEVER_EXTRACTABLE stay true only for a key that never existed outside the token); else ""."""
    attributes = getattr(signer, "key_attributes", None)
    if attributes is None:
        return ""
    known = attributes()
    if known["always_sensitive"] and known["never_extractable"]:
        return "made on the token, never extractable"
    return ("imported into the token: it existed outside it, so copies of it may exist (CKA_ALWAYS_SENSITIVE or "
            "CKA_NEVER_EXTRACTABLE false)")


def make_token_key(where: TokenKey, pin: str, algorithm: str, *, existing: bool) -> tuple[Pkcs11Signer, bool]:
    """The CA key on the token: a new one, or (``existing``) the one already there under that label.
    Returns the signer and whether it was made now (so a failed `ca init` can remove it)."""
    pkcs11 = pkcs11_layer()
    if existing:
        return pkcs11.Pkcs11Signer.open(where, pin), False
    return pkcs11.Pkcs11Signer.generate(where, pin, algorithm), True


__all__ = ["KeyPlace", "key_origin", "key_place", "make_token_key", "open_authority", "secret_sources", "token_key"]
