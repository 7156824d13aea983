"""The [pki] keys of a CA key on a token: written into eportcard.toml by `ca init --pkcs11` (the rest of
the file as it was), refused unless all three are there, and the PIN read from the environment, a
systemd credential or a file, never from the config, and kept out of logs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from core.config import (
    ca_key_secret,
    load_settings,
    parse_settings,
    pkcs11_pin,
    record_pki_keys,
    secret_values,
)
from core.errors import ConfigError
from core.pki.softhsm import SoftHsm, SoftHsmMissing

KEYS = {"pkcs11_module": "/usr/lib/softhsm/libsofthsm2.so", "pkcs11_token": "分中心 CA", "pkcs11_key_label": 'a "b"'}


def test_recording_replaces_the_keys_in_place_and_keeps_the_rest(tmp_path: Path):
    config = tmp_path / "eportcard.toml"
    config.write_text('# the branch\n[web]\nport = 8000  # kept\n\n[pki]\nca_dir = "ca"\npkcs11_token = "old"\n'
                      '# a comment in [pki]\n\n[card]\nreader = ""\n', encoding="utf-8")
    config.chmod(0o600)
    record_pki_keys(config, KEYS)
    text = config.read_text(encoding="utf-8")
    assert "# the branch" in text and "port = 8000  # kept" in text and "# a comment in [pki]" in text
    assert 'pkcs11_token = "分中心 CA"' in text and "old" not in text
    assert text.index("[pki]") < text.index("pkcs11_module") < text.index("[card]")
    pki = parse_settings(text).pki
    assert (pki.pkcs11_module, pki.pkcs11_token, pki.pkcs11_key_label, pki.ca_dir) == (*KEYS.values(), "ca")
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_recording_adds_the_section_when_there_is_none(tmp_path: Path):
    config = tmp_path / "eportcard.toml"
    config.write_text('[web]\nport = 8000\n', encoding="utf-8")
    record_pki_keys(config, KEYS)
    assert parse_settings(config.read_text(encoding="utf-8")).pki.pkcs11_key_label == 'a "b"'


def test_recording_that_cannot_be_read_back_changes_nothing(tmp_path: Path):
    config = tmp_path / "eportcard.toml"
    before = 'pki.ca_dir = "ca"\n[web]\nport = 8000\n'  # [pki] as dotted keys: no [pki] section may follow
    config.write_text(before, encoding="utf-8")
    with pytest.raises(ConfigError, match="add them by hand") as refused:
        record_pki_keys(config, KEYS)
    assert "手工" in str(refused.value)
    assert config.read_text(encoding="utf-8") == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "eportcard.toml"]


@pytest.mark.parametrize("present", [["pkcs11_module"], ["pkcs11_module", "pkcs11_token"], ["pkcs11_key_label"]])
def test_the_three_keys_go_together(present: list[str]):
    text = "[pki]\n" + "".join(f"{key} = {json.dumps(KEYS[key])}\n" for key in present)
    with pytest.raises(ConfigError, match="go together") as refused:
        parse_settings(text)
    assert refused.value.field == "pki." + next(k for k in KEYS if k not in present)


def test_the_pin_from_each_source_in_order(tmp_path: Path):
    config = tmp_path / "eportcard.toml"
    config.write_text('[pki]\npkcs11_module = "m.so"\npkcs11_token = "t"\npkcs11_key_label = "k"\n'
                      'pkcs11_pin_file = "pin.txt"\npassphrase_file = "passphrase.txt"\n', encoding="utf-8")
    (tmp_path / "passphrase.txt").write_text("the file passphrase\n", encoding="utf-8")
    settings = load_settings(config, {})
    with pytest.raises(ConfigError, match=r"pin\.txt"):  # named, and missing
        pkcs11_pin(settings, {})
    (tmp_path / "pin.txt").write_text("from-the-file\n", encoding="utf-8")
    assert pkcs11_pin(settings, {}) == "from-the-file"
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "pkcs11_pin").write_text("from-the-credential", encoding="utf-8")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials)}
    assert pkcs11_pin(settings, environ) == "from-the-credential"
    assert pkcs11_pin(settings, environ | {"EPORTCARD_PKCS11_PIN": "from-the-environment"}) == "from-the-environment"
    assert ca_key_secret(settings, environ) == "from-the-credential"  # the token's PIN, not the passphrase
    assert {"from-the-credential", "the file passphrase"} <= set(secret_values(settings, environ))


def test_a_file_key_is_unlocked_with_the_passphrase(tmp_path: Path):
    settings = parse_settings("[pki]\n", tmp_path)
    assert not settings.pki.on_token
    assert ca_key_secret(settings, {"EPORTCARD_CA_PASSPHRASE": "p", "EPORTCARD_PKCS11_PIN": "pin"}) == "p"


def test_a_machine_without_softhsm2_is_told_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """What the HSM tests' fixture turns into a failure (never a skip) on a machine without softhsm2."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no softhsm2-util on it
    with pytest.raises(SoftHsmMissing, match=r"scripts/install-system\.sh"):
        SoftHsm.make(tmp_path / "softhsm")
