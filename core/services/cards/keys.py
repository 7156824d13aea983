"""The card issuer's secrets: the CA (its key unlocked) and the card master secret.

Reading them is I/O done once, at the edge (:meth:`core.services.Services.from_settings`); every part
of card work then gets them as a :class:`CardKeys`. The master secret only derives per-card admin keys;
it is never logged, returned or stored per card.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from attrs import field, frozen

from core.config import Settings, ca_key_secret
from core.errors import ConfigError, InvalidInput
from core.hardware.keys import MIN_MASTER_SECRET_LENGTH, derive_admin_key
from core.pki.ca import CERT_FILE, CertificateAuthority
from core.private_files import create_private_file
from core.services.authority import open_authority, secret_sources

log = logging.getLogger(__name__)


def create_master_secret(path: str | os.PathLike[str]) -> None:
    """A new random master secret (hex), owner-only from creation; never overwrites."""
    create_private_file(path, (secrets.token_hex(32) + "\n").encode("ascii"),
                        what=("主密钥文件", "a master secret"), field="master_key_file")


def load_master_secret(path: str | os.PathLike[str]) -> bytes:
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise InvalidInput(f"找不到制卡主密钥文件 {path}，请先执行 eportcard counter init-master",
                           f"no card master secret at {path}; run `eportcard counter init-master` first",
                           field="master_key_file") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) < MIN_MASTER_SECRET_LENGTH:
        raise InvalidInput("制卡主密钥文件已损坏（须为至少16字节的十六进制）",
                           "the card master secret file is damaged (it must be hex, at least 16 bytes)",
                           field="master_key_file")
    return secret


def _long_enough(_keys: object, _attribute: object, secret: bytes) -> None:
    if len(secret) < MIN_MASTER_SECRET_LENGTH:
        raise InvalidInput("制卡主密钥太短", "the card master secret is too short", field="master_secret")


@frozen
class CardKeys:
    ca: CertificateAuthority
    master_secret: bytes = field(repr=False, validator=_long_enough)  # out of tracebacks and logs

    def admin_key(self, serial: str) -> bytes:
        return derive_admin_key(self.master_secret, serial)

    def __repr__(self) -> str:
        return f"CardKeys(ca={self.ca.certificate.subject.rfc4514_string()!r})"


def load_card_keys(settings: Settings, passphrase: str | None = None, *,
                   required_with_ca: bool = False) -> CardKeys | None:
    """The deployment's card keys.

    ``passphrase`` is what unlocks the CA key: the key file's passphrase, or the token's PIN when the key is
    on a PKCS#11 token (core.services.authority). Given (the card commands, which ask for it) the keys
    are required: a missing CA or master secret is a clear error. Without it the secret comes from where
    the deployment keeps it (:func:`core.config.ca_key_secret`: ``[pki] passphrase_env``, the systemd
    credential ``ca_passphrase`` or ``[pki] passphrase_file``; for a token ``[pki] pkcs11_pin_env``, the
    credential ``pkcs11_pin`` or ``[pki] pkcs11_pin_file``), and card work is off (None) unless the CA,
    that secret and the master secret are all there. ``required_with_ca`` (the web front): once a CA
    exists they are required all the same, since its certificates name this server's CRL and OCSP addresses.
    """
    ca_dir = settings.path(settings.pki.ca_dir)
    master = settings.path(settings.card.master_key_file)
    if passphrase is None:
        passphrase = ca_key_secret(settings)
        has_ca = (ca_dir / CERT_FILE).exists()
        if not has_ca or not (required_with_ca or (passphrase and master.exists())):
            log.info("card login and card management are off: no CA in %s, no secret to unlock its key (%s), "
                     "or no master secret %s", ca_dir, secret_sources(settings)[1], master)
            return None
        if not passphrase:
            zh, en = secret_sources(settings)
            raise ConfigError(f"{ca_dir} 中有 CA，但没有解锁其私钥的{zh}（见 docs/deployment.md）",
                              f"there is a CA in {ca_dir} but no {'PIN' if settings.pki.on_token else 'passphrase'} "
                              f"to unlock it: give {en} "
                              "(see docs/deployment.md)",
                              field="pki.pkcs11_pin_env" if settings.pki.on_token else "pki.passphrase_env")
    return CardKeys(open_authority(settings, ca_dir, passphrase), load_master_secret(master))


__all__ = ["CardKeys", "create_master_secret", "load_card_keys", "load_master_secret"]
