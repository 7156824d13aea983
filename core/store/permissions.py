"""Files that hold secrets (the config's session key and database password, the SQLite database, key
files) are made readable by their owner only, and folders made for them 0700; ``exposed`` names the
ones another user of the machine could read, so ``eportcard serve`` can say so loudly.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.config import Settings, parse_settings, redact_url
from core.errors import ConfigError
from core.pki.ca import KEY_FILE

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents 0700; folders already there keep their mode."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        folder.chmod(PRIVATE_DIR)  # mkdir's mode passes through the umask


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (created or replaced) readable by its owner only, from the first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(fd, PRIVATE_FILE)  # an existing file (init --force) keeps its old mode otherwise
        out.write(text)


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database file, None for another database or an in-memory one (or a URL that does not
    parse: opening the store says what is wrong with it, without its password)."""
    try:
        url = make_url(settings.database_url)
    except (ArgumentError, ValueError):
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def secure_database(settings: Settings) -> None:
    """The SQLite database file (created empty when missing, so SQLite never makes it with the
    umask's mode) and its -wal/-shm/-journal files, which SQLite makes with the database's mode: 0600."""
    database = sqlite_file(settings)
    if database is None:
        return
    make_private_dir(database.parent)
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_COMPANIONS)):
        if path.exists():
            path.chmod(PRIVATE_FILE)


def secret_files(settings: Settings, config: Path) -> list[Path]:
    """Every file of the deployment that holds a secret (those that exist). The config is one only while
    it holds a secret itself: the session key, or a database password in its URL."""
    candidates = [settings.path(settings.audit.key_file), settings.path(settings.card.master_key_file),
                  settings.path("ca-passphrase.txt")]
    candidates += [settings.path(name) for name in (settings.web.secret_key_file, settings.database.url_file,
                                                     settings.database.password_file, settings.pki.passphrase_file)
                   if name]
    if _holds_secrets(config):
        candidates.append(config)
    candidates.append(settings.path(settings.pki.ca_dir) / KEY_FILE)
    database = sqlite_file(settings)
    if database is not None:
        candidates += [database, *(Path(f"{database}{suffix}") for suffix in SQLITE_COMPANIONS)]
    return [path for path in candidates if path.exists()]


def _holds_secrets(config: Path) -> bool:
    try:
        written = parse_settings(config.read_text(encoding="utf-8"))  # as written: no secrets resolved
    except (OSError, ConfigError):
        return True  # unreadable here: assume the worst
    return bool(written.web.secret_key) or redact_url(written.database.url) != written.database.url


def exposed(settings: Settings, config: Path) -> list[Path]:
    """The secret files group or other users may read or write."""
    return [path for path in secret_files(settings, config)
            if stat.S_IMODE(path.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO)]


__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "exposed",
    "make_private_dir",
    "secret_files",
    "secure_database",
    "sqlite_file",
    "write_private",
]
