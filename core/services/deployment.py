"""A deployment's own files (``eportcard init`` and ``eportcard demo``): its folder, its config with a fresh
session key, the SQLite database file and the audit key, each readable by its owner only from the first
byte (the config holds the session key, perhaps the database password; the database every account)."""

from __future__ import annotations

import secrets
from pathlib import Path

from attrs import frozen

from core.config import Settings, load_settings, starter_config
from core.store.audit import KEY_ENV as AUDIT_KEY_ENV
from core.store.audit import Checkpoint, ensure_key
from core.store.jobs import jobs_dir, record_job
from core.store.permissions import exposed, make_private_dir, secure_database, write_private

# The operator's files the command line names (audit checkpoints, the daily jobs' notes) come through here.
__all__ = ["AUDIT_KEY_ENV", "Checkpoint", "DeploymentFiles", "ensure_audit_key", "exposed_secret_files", "jobs_dir",
           "make_deployment_files", "record_job", "secure_deployment"]


@frozen
class DeploymentFiles:
    settings: Settings
    audit_key: Path
    audit_key_created: bool


def ensure_audit_key(settings: Settings) -> tuple[Path, bool]:
    """The ``[audit] key_file``, made (owner-only) unless a key exists there or in ``EPORTCARD_AUDIT_KEY``;
    its path, and whether it was made now."""
    path = settings.path(settings.audit.key_file)
    return path, ensure_key(path)


def make_deployment_files(config: Path, *, region: str = "", enabled: tuple[str, ...] | None = None,
                          development: bool = False, replace: bool = False) -> DeploymentFiles:
    """The config's folder (0700 when made here), a starter config (written when there is none, or
    ``replace``-d), the empty SQLite database file (0600, so SQLite never makes it with the umask's mode)
    and the audit key, before the store opens: it reads the key."""
    make_private_dir(config.parent)
    if replace or not config.exists():
        write_private(config, starter_config(secrets.token_urlsafe(32), region, enabled, development=development))
    settings = load_settings(config)
    secure_database(settings)
    path, created = ensure_audit_key(settings)
    return DeploymentFiles(settings=settings, audit_key=path, audit_key_created=created)


def secure_deployment(settings: Settings) -> None:
    """Once the store has made its tables: the SQLite -wal/-shm files it made 0600, the blob folder 0700."""
    secure_database(settings)
    make_private_dir(settings.blob_dir)


def exposed_secret_files(settings: Settings, config: Path) -> list[Path]:
    """The deployment's secret files (config, database, keys) that other users of the machine may read
    or write (``eportcard serve`` says so loudly)."""
    return exposed(settings, config)
