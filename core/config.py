"""Deployment configuration: one ``eportcard.toml`` -> a frozen :class:`Settings`.

Unknown keys and bad values are reported with their path and the reason.
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

from attrs import evolve, frozen

from core.convert import describe_errors, make_config_converter
from core.errors import ConfigError

CONFIG_NAME = "eportcard.toml"
CONFIG_ENV = "EPORTCARD_CONFIG"  # names the config file when -c/--config does not


@frozen
class DatabaseSettings:
    url: str = ""  # empty: SQLite file eportcard.db beside the config


@frozen
class RegionSettings:
    enabled: tuple[str, ...] | None = None  # None: every installed region
    default: str = ""  # the deployment's own region (staff console, guide default)


@frozen
class CalendarSettings:
    holidays: tuple[date, ...] = ()  # extra non-working days
    workdays: tuple[date, ...] = ()  # extra working days (调休)


@frozen
class StorageSettings:
    blob_dir: str = "blobs"
    max_upload_bytes: int = 4 * 1024 * 1024
    archive_after_days: int = 30


@frozen
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""  # signs sessions; `eportcard init` writes a random one
    secure_cookies: bool = False  # set true behind HTTPS
    development: bool = False  # a developer's machine: the outbox SMS gateway and /dev/outbox (loopback only)
    login_attempts: int = 5  # per username per 15 minutes, then throttled for 15 minutes
    login_attempts_per_address: int = 50  # failed logins per client address per 15 minutes (all processes)
    max_body_bytes: int = 1024 * 1024  # any request body but an upload ([storage] max_upload_bytes); 413 over it


@frozen
class PkiSettings:
    ca_dir: str = "ca"
    passphrase_env: str = "EPORTCARD_CA_PASSPHRASE"
    algorithm: str = "ec-p256"  # or rsa2048
    validity_years: int = 10
    crl_hours: int = 24


@frozen
class CardSettings:
    master_key_file: str = "card-master.key"  # derives per-card admin keys; never stored per card
    reader: str = ""  # PC/SC reader name at the counter ("" = first with a card)


@frozen
class AgentSettings:
    host: str = "127.0.0.1"
    port: int = 61232
    allowed_origins: tuple[str, ...] = ("http://127.0.0.1:8000", "http://localhost:8000")
    server_url: str = "http://127.0.0.1:8000"


@frozen
class SmsSettings:
    gateway: str = "none"  # no codes sent; "outbox" (development only): messages land in the outbox table
    # Codes sent per number, per account asking and per client address (see docs/security.md).
    per_mobile_hour: int = 5
    per_mobile_day: int = 10
    per_account_hour: int = 20
    per_account_day: int = 50
    per_address_hour: int = 30
    per_address_day: int = 100


@frozen
class AuditSettings:
    # Keys the audit chain (HMAC-SHA256): kept out of the database, so a database writer cannot
    # re-hash the chain. A missing file means an unkeyed chain; EPORTCARD_AUDIT_KEY (hex) overrides it.
    key_file: str = "audit.key"


@frozen
class Settings:
    root: str = "."  # folder of the config file (set by load_settings, not written in the file)
    database: DatabaseSettings = DatabaseSettings()
    regions: RegionSettings = RegionSettings()
    calendar: CalendarSettings = CalendarSettings()
    storage: StorageSettings = StorageSettings()
    web: WebSettings = WebSettings()
    pki: PkiSettings = PkiSettings()
    card: CardSettings = CardSettings()
    agent: AgentSettings = AgentSettings()
    sms: SmsSettings = SmsSettings()
    audit: AuditSettings = AuditSettings()

    def path(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else Path(self.root) / p

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.path('eportcard.db')}"

    @property
    def blob_dir(self) -> Path:
        return self.path(self.storage.blob_dir)


def parse_settings(text: str, root: Path | str = ".") -> Settings:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件不是合法的 TOML：{exc}", f"the config is not valid TOML: {exc}") from exc
    if "root" in raw:
        raise ConfigError("配置项 root 由程序设置，请删除", "'root' is set by eportcard; remove it", field="$.root")
    try:
        settings = make_config_converter().structure(raw, Settings)
    except Exception as exc:
        lines = describe_errors(exc)
        raise ConfigError("配置有误：" + "；".join(lines), "invalid configuration: " + "; ".join(lines),
                          field=lines[0].split(":")[0] if lines else None) from exc
    return evolve(settings, root=str(Path(root).resolve()))


def load_settings(path: Path | str) -> Settings:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"无法读取配置文件 {path}：{exc.strerror}",
                          f"cannot read the config file {path}: {exc.strerror}; run `eportcard init`") from exc
    return parse_settings(text, path.parent)


def starter_config(secret_key: str, region: str = "", enabled: tuple[str, ...] | None = None,
                   development: bool = False) -> str:
    """The config `eportcard init` writes: every section with its defaults, commented.
    ``development``: the demo's (outbox SMS gateway, codes readable at /dev/outbox from this machine)."""
    enabled_line = ("# enabled = [\"shenzhen\", \"changchun\", \"xiamen\", \"hangzhou\", \"xian\"]"
                    if enabled is None else "enabled = [" + ", ".join(f'"{c}"' for c in enabled) + "]")
    sms = SmsSettings()
    return f'''# eportcard deployment configuration (see docs/deployment.md)

[database]
# url = "postgresql+psycopg://user:password@127.0.0.1:5432/eportcard"   # default: SQLite eportcard.db here

[regions]
{enabled_line}     # default: every installed region
default = "{region}"

[calendar]
# Days the holidays library does not know yet (e.g. next year's schedule, published each November).
holidays = []
workdays = []

[storage]
blob_dir = "blobs"
max_upload_bytes = 4194304
archive_after_days = 30

[web]
host = "127.0.0.1"
port = 8000
base_url = "http://127.0.0.1:8000"
secret_key = "{secret_key}"
secure_cookies = false
max_body_bytes = 1048576
development = {"true" if development else "false"}   # true only on a developer's machine (loopback)

[pki]
ca_dir = "ca"
passphrase_env = "EPORTCARD_CA_PASSPHRASE"
algorithm = "ec-p256"
validity_years = 10

[card]
master_key_file = "card-master.key"

[agent]
port = 61232
allowed_origins = ["http://127.0.0.1:8000", "http://localhost:8000"]

[sms]
gateway = "{"outbox" if development else "none"}"   # "none": no codes can be sent (see docs/deployment.md)
per_mobile_hour = {sms.per_mobile_hour}      # codes per number, per account asking and per client address
per_mobile_day = {sms.per_mobile_day}
per_account_hour = {sms.per_account_hour}
per_account_day = {sms.per_account_day}
per_address_hour = {sms.per_address_hour}
per_address_day = {sms.per_address_day}

[audit]
# Keys the audit trail's hash chain; `eportcard init` creates it (owner-only). Keep a copy apart
# from the database and its backups (docs/security.md). EPORTCARD_AUDIT_KEY (hex) overrides it.
key_file = "audit.key"
'''
