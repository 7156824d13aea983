"""Deployments to back up and restore: a folder with its config on SQLite or on a PostgreSQL schema of its
own (created and dropped here; PostgreSQL unreachable FAILS the test), data made through the services, and
everything a restore must bring back, read back for comparison."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from core.config import load_settings
from core.model import Application, RejectionReason
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.deployment import make_deployment_files, secure_deployment
from core.store.dump import snapshot
from core.store.testing import pg_url

REGION = "shenzhen"
STAFF = Actor(id="admin-shenzhen", kind="staff", region=REGION, roles=frozenset({"branch_admin"}))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@contextmanager
def pg_schema() -> Iterator[str]:
    """A URL on a PostgreSQL schema of its own (its search_path), dropped afterwards."""
    schema = f"b_{uuid.uuid4().hex[:16]}"
    admin = create_engine(pg_url(), connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {pg_url()} cannot be reached ({exc.orig}); start it with "
                    "`bash scripts/start-postgres.sh`")
    joiner = "&" if "?" in pg_url() else "?"
    try:
        yield f"{pg_url()}{joiner}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def write_config(folder: Path, url: str = "", extra: str = "") -> Path:
    """The deployment's config (a SQLite one beside it when ``url`` is empty), its audit key and folders."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "eportcard.toml"
    database = f'[database]\nurl = "{url}"\n' if url else ""
    config.write_text(f'{database}[regions]\ndefault = "{REGION}"\n[web]\nsecret_key = "test session key"\n{extra}',
                      encoding="utf-8")
    made = make_deployment_files(config)
    secure_deployment(made.settings)
    return config


@contextmanager
def deployment(folder: Path, backend: str) -> Iterator[Path]:
    """A deployment folder on ``backend`` ("sqlite" or "postgres"), migrated; yields its config."""
    if backend == "sqlite":
        config = write_config(folder)
        open_services(config).store.dispose()
        yield config
        return
    with pg_schema() as url:
        config = write_config(folder, url)
        open_services(config).store.dispose()
        yield config


def open_services(config: Path) -> Services:
    return Services.from_settings(load_settings(config), upgrade=True)


def _owner(app: Application) -> Actor:
    return Actor(id=f"ent-{app.enterprise.uscc}", kind="enterprise", uscc=app.enterprise.uscc)


def populate(services: Services, first: int = 1) -> list[str]:
    """Applications in several states, each with an attachment (two share one file); their ids."""
    svc = services.applications
    outlet = services.rulebook.outlets(REGION)[0].code
    made = []
    for offset, steps in enumerate(((), ("submit",), ("submit", "accept"), ("submit", "accept", "reject"))):
        sample = make_enrol(first + offset, REGION, operators=1)
        sample = attrs.evolve(sample, id="", created_at=None, pickup=attrs.evolve(sample.pickup, outlet=outlet))
        owner = _owner(sample)
        app = svc.create(sample, owner)
        content = PNG if offset == 3 else PNG + bytes([first + offset]) * (offset + 1)
        svc.attach(app.id, "business_licence", f"licence{offset}.png", content, owner)
        for step in steps:
            if step == "submit":
                app = svc.submit(app.id, owner)
            elif step == "accept":
                app = svc.accept(app.id, STAFF)
            else:
                app = svc.reject(app.id, STAFF, [RejectionReason.OTHER], note="test")
        made.append(app.id)
    return made


def table_rows(config: Path, scratch: Path) -> dict[str, list[str]]:
    """Every table's rows (as JSON, sorted: the backends order text differently), read the way a backup
    reads them."""
    services = open_services(config)
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        taken = snapshot(services.store, scratch)
    finally:
        services.store.dispose()
    found: dict[str, list[str]] = {}
    for table, path in taken.rows.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        found[table] = sorted(lines[1:])
    return found


def deployment_files(config: Path) -> dict[str, bytes]:
    """The blobs and the CA files, by their path under the deployment's folders."""
    settings = load_settings(config)
    found: dict[str, bytes] = {}
    for prefix, folder in (("blobs", settings.blob_dir), ("ca", settings.path(settings.pki.ca_dir))):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    found[f"{prefix}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return found


def backed_up(config: Path, dest: Path, first: int = 1) -> Path:
    """Populate the deployment of ``config`` and back it up to ``dest``; the archive's path."""
    from core.services.backup import make_backup

    services = open_services(config)
    try:
        populate(services, first)
        return make_backup(services, config, dest).path
    finally:
        services.store.dispose()
