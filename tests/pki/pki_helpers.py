"""PKI test helpers: the openssl CLI as the outside client, a holder, PEM writing."""

from __future__ import annotations

from openssl_cli import openssl, write_pem  # noqa: F401  (re-exported for the tests)

from core.pki.profiles import HolderSubject, ProfileSettings

PASSPHRASE = "correct horse battery staple"
SETTINGS = ProfileSettings(base_url="http://127.0.0.1:8000")
SUBJECT = HolderSubject(enterprise_name="深圳市某某进出口有限公司", uscc="91440300MA5EXAMPLA",
                        holder_name="张三", holder_id_masked="4403**********1234")




