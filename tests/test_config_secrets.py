"""Issue #20 item 7: the session key, the database URL or password and the CA passphrase may live
outside eportcard.toml (environment, systemd credentials, files the config names), so the config can be
world-readable and versioned; no secret ever shows in an error (a URL-scheme typo printed the database
password)."""

from __future__ import annotations

from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from core.cli import main
from core.config import ca_passphrase, load_settings, redact_url
from core.errors import ConfigError
from core.hardware.keys import derive_admin_key
from core.hardware.virtual_card import VirtualCard
from core.pki.ca import CertificateAuthority
from core.services.cards import create_master_secret
from core.store.permissions import exposed

PASSWORD = "p@ss/wörd:1%"  # every character a URL gives a meaning to
PG = "postgresql+psycopg://eportcard@db.example:5432/eportcard"


def _deployment(tmp_path: Path, config: str) -> Path:
    path = tmp_path / "eportcard.toml"
    path.write_text(config, encoding="utf-8")
    return path


def _secret(folder: Path, name: str, value: str) -> Path:
    path = folder / name
    path.write_text(value + "\n", encoding="utf-8")  # as `echo` writes it
    return path


def test_the_session_key_from_each_source_in_order(tmp_path: Path):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    _secret(tmp_path, "key-file", "from the file")
    config = _deployment(tmp_path, '[web]\nsecret_key_file = "key-file"\n')
    assert load_settings(config, {}).web.secret_key == "from the file"
    _secret(credentials, "secret_key", "from the credential")
    both = {"CREDENTIALS_DIRECTORY": str(credentials)}
    assert load_settings(config, both).web.secret_key == "from the credential"
    assert load_settings(config, {**both, "EPORTCARD_SECRET_KEY": "from the environment"}).web.secret_key == \
        "from the environment"

    inline = _deployment(tmp_path, '[web]\nsecret_key = "inline"\n')
    assert load_settings(inline, {}).web.secret_key == "inline"
    assert load_settings(inline, both).web.secret_key == "from the credential"


def test_the_database_url_and_password_from_each_source(tmp_path: Path):
    _secret(tmp_path, "db-password", PASSWORD)
    config = _deployment(tmp_path, f'[database]\nurl = "{PG}"\npassword_file = "db-password"\n')
    url = make_url(load_settings(config, {}).database_url)
    assert url.password == PASSWORD and url.username == "eportcard" and url.host == "db.example"
    assert make_url(load_settings(config, {"EPORTCARD_DATABASE_PASSWORD": "other"}).database_url).password == "other"

    _secret(tmp_path, "db-url", PG.replace("eportcard@", "eportcard:in-the-url@"))
    from_file = _deployment(tmp_path, '[database]\nurl_file = "db-url"\n')
    assert make_url(load_settings(from_file, {}).database_url).password == "in-the-url"
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    _secret(credentials, "database_url", PG)
    _secret(credentials, "database_password", PASSWORD)
    url = make_url(load_settings(from_file, {"CREDENTIALS_DIRECTORY": str(credentials)}).database_url)
    assert url.host == "db.example" and url.password == PASSWORD
    env = {"EPORTCARD_DATABASE_URL": "sqlite:///elsewhere.db"}
    assert load_settings(from_file, env).database_url == "sqlite:///elsewhere.db"


def test_the_ca_passphrase_from_each_source_in_order(tmp_path: Path):
    assert ca_passphrase(load_settings(_deployment(tmp_path, ""), {}), {}) is None
    _secret(tmp_path, "ca-pass", "from the file")
    settings = load_settings(_deployment(tmp_path, '[pki]\npassphrase_file = "ca-pass"\n'), {})
    assert ca_passphrase(settings, {}) == "from the file"
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    _secret(credentials, "ca_passphrase", "from the credential")
    both = {"CREDENTIALS_DIRECTORY": str(credentials)}
    assert ca_passphrase(settings, both) == "from the credential"
    assert ca_passphrase(settings, {**both, "EPORTCARD_CA_PASSPHRASE": "from the environment"}) == \
        "from the environment"


@pytest.mark.parametrize("config, field", [
    ('[web]\nsecret_key = "x"\nsecret_key_file = "k"\n', "web.secret_key_file"),
    (f'[database]\nurl = "{PG}"\nurl_file = "u"\n', "database.url_file"),
    ('[web]\nsecret_key_file = "missing"\n', "web.secret_key_file"),
    ('[web]\nsecret_key_file = "empty"\n', "web.secret_key_file"),
    ('[database]\npassword_file = "db-password"\n', "database.password_file"),  # SQLite has no password
    ('[database]\nurl = "sqlite:///x.db"\npassword_file = "db-password"\n', "database.password_file"),
])
def test_refusals_name_the_setting_never_the_secret(tmp_path: Path, config: str, field: str):
    (tmp_path / "empty").write_text("\n")
    _secret(tmp_path, "db-password", PASSWORD)
    with pytest.raises(ConfigError) as refused:
        load_settings(_deployment(tmp_path, config), {})
    assert refused.value.field == field and refused.value.zh and refused.value.en
    assert PASSWORD not in str(refused.value)


@pytest.mark.parametrize("url", [
    "postgresq+psycopg://eportcard:S3cretPw@127.0.0.1/eportcard",  # the scheme misspelt
    "postgresql+psycog://eportcard:S3cretPw@127.0.0.1/eportcard",  # the driver misspelt
    "postgresql+psycopg://eportcard:S3cretPw@127.0.0.1:port/eportcard",
    "eportcard:S3cretPw@127.0.0.1/eportcard",
])
@pytest.mark.parametrize("where", ["inline", "password_file"])
def test_a_bad_database_url_is_one_line_without_the_password(tmp_path: Path, url: str, where: str):
    if where == "inline":
        config = _deployment(tmp_path, f'[database]\nurl = "{url}"\n')
    else:
        _secret(tmp_path, "db-password", "S3cretPw")
        config = _deployment(tmp_path, f'[database]\nurl = "{url.replace(":S3cretPw", "")}"\n'
                                       'password_file = "db-password"\n')
        (tmp_path / "db-password").chmod(0o600)
    config.chmod(0o600)  # serve would say so, loudly, on a line of its own
    for args in (["db", "upgrade"], ["app", "list"], ["serve"], ["ca", "expire-renewals"]):
        result = CliRunner().invoke(main, ["-c", str(config), *args])
        assert result.exit_code == 1, (args, result.output)
        assert "S3cretPw" not in result.output and "Traceback" not in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1 and "database" in result.output, (args, result.output)


def test_redact_url():
    assert redact_url("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"
    assert redact_url("postgresql://u:p@w@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_url("sqlite:////srv/e.db") == "sqlite:////srv/e.db"
    assert redact_url("u:pw@h/db") == "u:***@h/db"


def test_a_world_readable_config_without_secrets_is_not_flagged(tmp_path: Path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    _secret(secrets, "key", "k" * 32).chmod(0o644)
    config = _deployment(tmp_path, f'[web]\nsecret_key_file = "{secrets / "key"}"\n')
    config.chmod(0o644)
    settings = load_settings(config, {})
    assert exposed(settings, config) == [secrets / "key"]  # the key file, not the config
    (secrets / "key").chmod(0o600)
    assert exposed(settings, config) == []
    config.write_text('[web]\nsecret_key = "inline"\n')
    assert exposed(load_settings(config, {}), config) == [config]


def test_serve_unlocks_the_ca_with_the_passphrase_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EPORTCARD_CA_PASSPHRASE", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    passphrase = "serve tests passphrase 2026"
    CertificateAuthority.init(tmp_path / "ca", "电子口岸测试CA", passphrase, "ec-p256")
    create_master_secret(tmp_path / "card-master.key")
    _secret(tmp_path, "ca-pass", passphrase).chmod(0o600)
    _secret(tmp_path, "session-key", "s" * 40).chmod(0o600)
    config = _deployment(tmp_path, '[web]\nsecret_key_file = "session-key"\n[pki]\npassphrase_file = "ca-pass"\n')
    apps: list = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: apps.append(app))
    result = CliRunner().invoke(main, ["-c", str(config), "serve"])
    assert result.exit_code == 0, result.output
    paths = {getattr(route, "path", "") for route in apps[0].routes}
    assert "/pki/crl.der" in paths  # the card CA is on: unlocked with the file's passphrase
    assert passphrase not in result.output


def test_the_counter_unlocks_the_ca_with_the_passphrase_file_without_asking(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("EPORTCARD_CA_PASSPHRASE", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    passphrase = "counter tests passphrase 2026"
    CertificateAuthority.init(tmp_path / "ca", "电子口岸测试CA", passphrase, "ec-p256")
    create_master_secret(tmp_path / "card-master.key")
    _secret(tmp_path, "ca-pass", passphrase)
    config = _deployment(tmp_path, '[pki]\npassphrase_file = "ca-pass"\n')
    master = bytes.fromhex((tmp_path / "card-master.key").read_text().strip())
    VirtualCard.create(tmp_path / "card.json", admin_key=derive_admin_key(master, "00c0ffee000000bb"),
                       serial="00c0ffee000000bb")
    result = CliRunner().invoke(main, ["-c", str(config), "counter", "read", "--virtual", str(tmp_path / "card.json")])
    assert result.exit_code == 0 and "00c0ffee000000bb" in result.output, result.output  # no prompt
    assert "passphrase" not in result.output
