"""Deployment configuration: one ``eportcard.toml`` -> a frozen :class:`Settings`.

Unknown keys and bad values are reported with their path and the reason.
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from attrs import Factory, evolve, frozen

from core.convert import describe_errors, make_config_converter
from core.errors import ConfigError

CONFIG_NAME = "eportcard.toml"
CONFIG_ENV = "EPORTCARD_CONFIG"  # names the config file when -c/--config does not
# Secrets may live outside the config (see resolve_secrets): in these environment variables, in systemd
# credentials ($CREDENTIALS_DIRECTORY/<name>) or in files the config names.
SECRET_KEY_ENV = "EPORTCARD_SECRET_KEY"
DATABASE_URL_ENV = "EPORTCARD_DATABASE_URL"
DATABASE_PASSWORD_ENV = "EPORTCARD_DATABASE_PASSWORD"
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


@frozen
class DatabaseSettings:
    url: str = ""  # empty: SQLite file eportcard.db beside the config
    url_file: str = ""  # a file holding the whole URL (instead of url)
    password_file: str = ""  # a file holding the password, put into the URL


@frozen
class RegionSettings:
    enabled: tuple[str, ...] | None = None  # None: every installed region
    default: str = ""  # the deployment's own region (staff console, guide default)
    plugins_dir: str = ""  # a folder of region plugins loaded without installing (core/plugin_folder.py)


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
    secret_key_file: str = ""  # a file holding it (instead of secret_key)
    secure_cookies: bool = False  # set true behind HTTPS
    development: bool = False  # a developer's machine: the outbox SMS gateway and /dev/outbox (loopback only)
    login_attempts: int = 5  # per username per 15 minutes, then throttled for 15 minutes
    login_attempts_per_address: int = 50  # failed logins per client address per 15 minutes (all processes)
    max_body_bytes: int = 1024 * 1024  # any request body but an upload ([storage] max_upload_bytes); 413 over it
    log_format: str = "text"  # or "json": one object per line (`serve --log-format` overrides it)
    access_log: bool = True  # one line per request (`serve --no-access-log` overrides it)
    workers: int = 1  # web processes `serve` starts on its port (`serve --workers` overrides it)
    metrics_allow: tuple[str, ...] = ("127.0.0.1", "::1")  # client addresses or networks that may read /metrics
    # Reverse proxies (addresses or networks) whose X-Forwarded-For / X-Forwarded-Proto are believed: the
    # client is the rightmost address in X-Forwarded-For that is not one of them. Loopback by default (a
    # proxy on this machine, as uvicorn trusts by default); [] believes no one.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")


@frozen
class PkiSettings:
    ca_dir: str = "ca"
    passphrase_env: str = "EPORTCARD_CA_PASSPHRASE"
    passphrase_file: str = ""  # a file holding the CA key's passphrase (the environment variable wins)
    algorithm: str = "ec-p256"  # or rsa2048, or sm2 (SM2 keys, SM2-with-SM3: core/pki/gm.py)
    validity_years: int = 10
    crl_hours: int = 24
    # The CA key on a PKCS#11 token instead of in ca_dir (`eportcard ca init --pkcs11` writes these three).
    pkcs11_module: str = ""  # the module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so
    pkcs11_token: str = ""  # the token's label
    pkcs11_key_label: str = ""  # the CA key's label on the token
    pkcs11_pin_env: str = "EPORTCARD_PKCS11_PIN"  # the token's user PIN (never in the config)
    pkcs11_pin_file: str = ""  # a file holding the PIN (the environment variable wins)

    @property
    def on_token(self) -> bool:
        return bool(self.pkcs11_module)


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
    # "none": nothing is sent; "outbox" (development only): messages land in the outbox table; "tencent",
    # "webhook" or a plugin's gateway, with its settings in `options` (docs/deployment.md, Notifications)
    gateway: str = "none"
    options: dict[str, Any] = Factory(dict)
    signature: str = ""  # the 【signature】 the provider puts before each SMS (it counts in the length)
    # Codes sent per number, per account asking and per client address (see docs/security.md).
    per_mobile_hour: int = 5
    per_mobile_day: int = 10
    per_account_hour: int = 20
    per_account_day: int = 50
    per_address_hour: int = 30
    per_address_day: int = 100


@frozen
class MailSettings:
    gateway: str = "none"  # "none", "outbox" (development only), "smtp", "webhook" or a plugin's gateway
    options: dict[str, Any] = Factory(dict)


@frozen
class NotifySettings:
    reminder_days: tuple[int, ...] = (90, 30, 7)  # remind this many days before a certificate expires
    max_attempts: int = 8  # tries before a message becomes a dead letter (staff may retry it)
    retry_after_seconds: int = 60  # the first retry's wait; it doubles each time ...
    max_retry_seconds: int = 6 * 3600  # ... up to this


@frozen
class JobsSettings:
    disabled: tuple[str, ...] = ()  # job names `eportcard jobs run-due` leaves alone
    every_minutes: dict[str, int] = Factory(dict)  # job name -> minutes between runs (its default else)


@frozen
class BackupSettings:
    # The `backup` job of `eportcard jobs run-due` (daily): an archive into ``dir`` (relative to the
    # config's folder; "" = the job does nothing), the ``keep`` newest kept there, sealed for the X25519
    # public key file ``recipient`` (`eportcard backup keygen`) when set. docs/deployment.md, "Backups".
    dir: str = ""
    keep: int = 14
    recipient: str = ""


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
    mail: MailSettings = MailSettings()
    notify: NotifySettings = NotifySettings()
    jobs: JobsSettings = JobsSettings()
    backup: BackupSettings = BackupSettings()
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

    @property
    def plugins_dir(self) -> Path | None:
        """``[regions] plugins_dir`` relative to the config's folder; None when it is not set."""
        return self.path(self.regions.plugins_dir) if self.regions.plugins_dir else None


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
    check_choices(settings)
    return evolve(settings, root=str(Path(root).resolve()))


LOG_FORMATS = ("text", "json")
MAX_WORKERS = 64  # web processes on one port


def check_choices(settings: Settings) -> None:
    """Refuse a setting that names something that does not exist (a key algorithm, a log format)."""
    from core.pki.signer import ALGORITHMS  # only here: the rest of the config needs no cryptography

    for field, value, choices in (("pki.algorithm", settings.pki.algorithm, ALGORITHMS),
                                  ("web.log_format", settings.web.log_format, LOG_FORMATS)):
        if value not in choices:
            section, key = field.split(".")
            raise ConfigError(f"配置有误：[{section}] {key} 不能是 {value!r}，可选：{'、'.join(choices)}",
                              f"invalid configuration: [{section}] {key} cannot be {value!r}; choose one of: "
                              f"{', '.join(choices)}", field=field)
    pkcs11 = {"pkcs11_module": settings.pki.pkcs11_module, "pkcs11_token": settings.pki.pkcs11_token,
              "pkcs11_key_label": settings.pki.pkcs11_key_label}
    if any(pkcs11.values()) and not all(pkcs11.values()):
        missing = ", ".join(key for key, value in pkcs11.items() if not value)
        raise ConfigError(f"配置有误：[pki] 中 pkcs11_module、pkcs11_token、pkcs11_key_label 须同时设置（缺少 {missing}）",
                          f"invalid configuration: [pki] pkcs11_module, pkcs11_token and pkcs11_key_label go together "
                          f"(missing: {missing})", field="pki." + missing.split(",")[0])
    if not 1 <= settings.web.workers <= MAX_WORKERS:
        raise ConfigError(f"配置有误：[web] workers 须为 1 到 {MAX_WORKERS} 的整数",
                          f"invalid configuration: [web] workers must be a whole number from 1 to {MAX_WORKERS}",
                          field="web.workers")
    for key, values in (("metrics_allow", settings.web.metrics_allow),
                        ("trusted_proxies", settings.web.trusted_proxies)):
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ConfigError(f"配置有误：[web] {key} 中的 {value!r} 不是 IP 地址或网段（如 10.0.0.0/8）",
                                  f"invalid configuration: {value!r} in [web] {key} is not an IP address or "
                                  "network (such as 10.0.0.0/8)", field=f"web.{key}") from None


def load_settings(path: Path | str, environ: Mapping[str, str] = os.environ) -> Settings:
    """The deployment's settings, with the secrets kept outside the file put in place (resolve_secrets)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"无法读取配置文件 {path}：{exc.strerror}",
                          f"cannot read the config file {path}: {exc.strerror}; run `eportcard init`") from exc
    return resolve_secrets(parse_settings(text, path.parent), environ)


# ---- secrets outside the config file ---------------------------------------------------------------------


def resolve_secrets(settings: Settings, environ: Mapping[str, str] = os.environ) -> Settings:
    """The session key and the database URL and password from wherever the deployment keeps them, so
    that eportcard.toml itself can hold no secret (world-readable, under version control).

    Each comes from the first of: its environment variable (``EPORTCARD_SECRET_KEY``,
    ``EPORTCARD_DATABASE_URL``, ``EPORTCARD_DATABASE_PASSWORD``), its systemd credential
    (``$CREDENTIALS_DIRECTORY/secret_key``, ``database_url``, ``database_password``), the file the config
    names (``[web] secret_key_file``, ``[database] url_file``, ``password_file``), the value in the config.
    A password from any source replaces the URL's own. Errors name the source, never the secret.
    """
    for section, inline, file_key in ((settings.web, "secret_key", "secret_key_file"),
                                      (settings.database, "url", "url_file")):
        if getattr(section, inline) and getattr(section, file_key):
            where = "web" if section is settings.web else "database"
            raise ConfigError(f"[{where}] {inline} 与 {file_key} 只能设置一个",
                              f"set either [{where}] {inline} or {file_key}, not both", field=f"{where}.{file_key}")
    key = _secret(settings, environ, SECRET_KEY_ENV, "secret_key", settings.web.secret_key_file, "web.secret_key_file")
    url = _secret(settings, environ, DATABASE_URL_ENV, "database_url", settings.database.url_file,
                  "database.url_file")
    password = _secret(settings, environ, DATABASE_PASSWORD_ENV, "database_password",
                       settings.database.password_file, "database.password_file")
    database = settings.database
    if url is not None or password is not None:
        url = url if url is not None else database.url
        database = evolve(database, url=_with_password(url, password) if password is not None else url)
    web = settings.web if key is None else evolve(settings.web, secret_key=key)
    return evolve(settings, database=database, web=web)


def ca_passphrase(settings: Settings, environ: Mapping[str, str] = os.environ) -> str | None:
    """The CA key's passphrase: the environment variable ``[pki] passphrase_env``, else the systemd
    credential ``ca_passphrase``, else the file ``[pki] passphrase_file``; None when none is set."""
    return _secret(settings, environ, settings.pki.passphrase_env, "ca_passphrase", settings.pki.passphrase_file,
                   "pki.passphrase_file")


def pkcs11_pin(settings: Settings, environ: Mapping[str, str] = os.environ) -> str | None:
    """The CA token's user PIN: the environment variable ``[pki] pkcs11_pin_env``, else the systemd
    credential ``pkcs11_pin``, else the file ``[pki] pkcs11_pin_file``; None when none is set."""
    return _secret(settings, environ, settings.pki.pkcs11_pin_env, "pkcs11_pin", settings.pki.pkcs11_pin_file,
                   "pki.pkcs11_pin_file")


def ca_key_secret(settings: Settings, environ: Mapping[str, str] = os.environ) -> str | None:
    """What unlocks the CA key: the token's PIN when the key is on a token, else the key file's passphrase."""
    return pkcs11_pin(settings, environ) if settings.pki.on_token else ca_passphrase(settings, environ)


def record_pki_keys(path: Path, values: Mapping[str, str]) -> None:
    """Write ``values`` (string keys of ``[pki]``) into the config file at ``path``, replacing the lines that
    set them or adding them under ``[pki]`` (the section is added when missing); everything else, comments
    included, stays as it was. The result is read back before it replaces the file, which keeps its mode."""
    import json

    # A JSON string is a TOML basic string (https://toml.io/en/v1.0.0#string: the same escapes).
    lines = {key: f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()}
    text = path.read_text(encoding="utf-8")
    out: list[str] = []
    section, header, done = "", -1, set[str]()
    for line in text.splitlines():
        stripped = line.strip()
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
        if stripped.startswith("["):
            section = stripped[1:].split("]", 1)[0].strip()
            header = len(out) if section == "pki" and header < 0 else header
        elif section == "pki" and key in lines:
            out.append(lines[key])
            done.add(key)
            continue
        out.append(line)
    missing = [line for key, line in lines.items() if key not in done]
    if header < 0:
        out.extend(["", "[pki]", *missing])
    else:
        out[header + 1:header + 1] = missing
    new_text = "\n".join(out) + "\n"
    try:
        written: PkiSettings | None = parse_settings(new_text, path.parent).pki
    except ConfigError:  # e.g. [pki] given as dotted keys, which a [pki] section may not repeat
        written = None
    if written is None or any(getattr(written, key) != value for key, value in values.items()):
        raise ConfigError(f"无法在 {path} 的 [pki] 中写入 {', '.join(values)}，请手工添加",
                          f"cannot write {', '.join(values)} into [pki] of {path}; add them by hand",
                          field="pki")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new_text, encoding="utf-8")
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)


def secret_values(settings: Settings, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The deployment's secrets as they may appear in text (kept out of every log line): the session
    key, the database password (as written in the URL and decoded), the CA passphrase, the CA token's PIN,
    the notification gateways' secrets."""
    from urllib.parse import unquote, urlsplit

    try:
        written = urlsplit(settings.database.url).password or ""
    except ValueError:  # not a URL at all: redact_url still hides what looks like a password
        written = ""
    found = []
    for secret in (ca_passphrase, pkcs11_pin):
        with contextlib.suppress(ConfigError):  # an unreadable secret file holds nothing to hide
            found.append(secret(settings, environ))
    found += gateway_secrets(settings, environ)
    return [value for value in (settings.web.secret_key, written, unquote(written), *found) if value]


def gateway_secrets(settings: Settings, environ: Mapping[str, str] = os.environ) -> list[str]:
    """Every secret of the ``[sms]`` and ``[mail]`` gateways (the SMS SDK's secret key, the webhook's token,
    the SMTP password, a plugin gateway's own), wherever :func:`gateway_secret` would find it: each name an
    ``options.<name>_file``, an ``EPORTCARD_<CHANNEL>_<NAME>`` variable or a ``<channel>_<name>`` credential
    gives."""
    found = []
    credentials = Path(environ.get(CREDENTIALS_ENV) or "")
    for channel, section in (("sms", settings.sms), ("mail", settings.mail)):
        names = {key[:-len("_file")] for key in section.options if key.endswith("_file") and key != "ca_file"}
        prefix = f"EPORTCARD_{channel.upper()}_"
        names |= {key[len(prefix):].lower() for key in environ if key.startswith(prefix)}
        if environ.get(CREDENTIALS_ENV) and credentials.is_dir():
            names |= {path.name[len(channel) + 1:] for path in credentials.glob(f"{channel}_*")}
        for name in sorted(names):
            try:
                found.append(gateway_secret(settings, channel, name, environ))
            except ConfigError:  # an unreadable secret file holds nothing to hide
                continue
    return [value for value in found if value]


def redact_url(url: str) -> str:
    """``url`` with any password masked, even when it does not parse (for messages and logs)."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # no scheme: "user:password@host/db" is still a password
        scheme, rest = "", url
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def _secret(settings: Settings, environ: Mapping[str, str], env: str, credential: str, file: str,
            file_key: str) -> str | None:
    if environ.get(env):
        return environ[env]
    directory = environ.get(CREDENTIALS_ENV)
    if directory and (Path(directory) / credential).is_file():
        return _read_secret(Path(directory) / credential, f"systemd credential {credential}", file_key)
    if file:
        return _read_secret(settings.path(file), f"[{file_key.replace('.', '] ', 1)}", file_key)
    return None


def _read_secret(path: Path, source: str, field: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"无法读取 {source} 的文件 {path}：{reason}", f"cannot read {path} ({source}): {reason}",
                          field=field) from None
    if not value:
        raise ConfigError(f"{source} 的文件 {path} 是空的", f"{path} ({source}) is empty", field=field)
    return value


def _with_password(url: str, password: str) -> str:
    from sqlalchemy.engine import make_url  # only here: reading the config needs no database layer
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url) if url else None
    except (ArgumentError, ValueError):  # their messages would show the URL, password and all
        parsed = None
    if parsed is None or parsed.get_backend_name() != "postgresql":
        raise ConfigError(f"设置了数据库密码，但数据库地址 {redact_url(url) or '（默认 SQLite）'} 不是 PostgreSQL 地址",
                          f"a database password is set, but the database URL {redact_url(url) or '(default: SQLite)'} "
                          "is not a PostgreSQL one", field="database.password_file")
    return parsed.set(password=password).render_as_string(hide_password=False)


def gateway_secret(settings: Settings, channel: str, name: str, environ: Mapping[str, str] = os.environ
                   ) -> str | None:
    """A gateway's secret ``name`` (``[sms]`` or ``[mail]``): the environment variable
    ``EPORTCARD_<CHANNEL>_<NAME>``, else the systemd credential ``<channel>_<name>``, else the file
    ``options.<name>_file``; None when none is set."""
    section = settings.sms if channel == "sms" else settings.mail
    file = section.options.get(f"{name}_file", "")
    return _secret(settings, environ, f"EPORTCARD_{channel.upper()}_{name.upper()}", f"{channel}_{name}",
                   file if isinstance(file, str) else "", f"{channel}.options.{name}_file")


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
# plugins_dir = "plugins"   # region plugins (*.py modules or packages) loaded from this folder, uninstalled

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
log_format = "text"          # or "json": one JSON object per line
access_log = true            # one line per request (core.web.access)
workers = 1                  # web processes on this port: one per CPU core (docs/deployment.md, Sizing)
metrics_allow = ["127.0.0.1", "::1"]   # who may read /metrics (addresses or networks)
trusted_proxies = ["127.0.0.1", "::1"] # reverse proxies whose X-Forwarded-For/-Proto count (docs/deployment.md)
development = {"true" if development else "false"}   # true only on a developer's machine (loopback)

[pki]
ca_dir = "ca"
passphrase_env = "EPORTCARD_CA_PASSPHRASE"
algorithm = "ec-p256"
validity_years = 10
# The CA key on a PKCS#11 token (an HSM) instead of in ca_dir: `eportcard ca init --pkcs11` sets these,
# and the PIN comes from EPORTCARD_PKCS11_PIN or the systemd credential pkcs11_pin (docs/deployment.md).
# pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
# pkcs11_token = "ca"
# pkcs11_key_label = "eportcard-ca"

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

[mail]
gateway = "none"             # "smtp" with [mail.options] host, port, security, username, sender

[notify]
reminder_days = [90, 30, 7]  # certificate expiry reminders, days before the end

[jobs]
disabled = []                # jobs `eportcard jobs run-due` leaves alone (`eportcard jobs list`)

[backup]
# The daily `backup` job writes an archive here and keeps the newest `keep` (docs/deployment.md, Backups);
# copy them off the machine. recipient: a public key from `eportcard backup keygen` seals them.
# dir = "/var/backups/eportcard"
keep = 14
# recipient = "/etc/eportcard/backup.pub"

[audit]
# Keys the audit trail's hash chain; `eportcard init` creates it (owner-only). Keep a copy apart
# from the database and its backups (docs/security.md). EPORTCARD_AUDIT_KEY (hex) overrides it.
key_file = "audit.key"
'''
