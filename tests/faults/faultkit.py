"""The rig of the fault tests: a small tmpfs that fills up (mounted here; this needs root, as CI runs it,
and a test FAILS, never skips, when it cannot mount one), a deployment with its parts where the test
wants them, and an API client logged in as an enterprise or as staff."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from core.config import load_settings
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.accounts import create_user
from core.services.deployment import make_deployment_files, secure_deployment
from core.web.app import create_app

PASSWORD = "Fault-tests-1"
PNG = b"\x89PNG\r\n\x1a\n"
SYSTEM = Actor.system("fault-tests")


@contextmanager
def tmpfs(mountpoint: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``mountpoint`` (made), unmounted afterwards."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs at {mountpoint} (the disk-full tests need root): {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def fill(mountpoint: Path, leave: int = 0) -> Path:
    """Take all the free space of ``mountpoint`` but ``leave`` bytes, with one file; returns it."""
    filler = mountpoint / "filler"
    stats = os.statvfs(mountpoint)
    free = stats.f_bavail * stats.f_frsize
    with filler.open("ab") as out:
        out.write(b"\0" * max(0, free - leave))
    return filler


def png(size: int, tag: int = 0) -> bytes:
    return PNG + bytes([tag]) * (size - len(PNG))


def deployment(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "eportcard.toml"
    config.write_text(f'[regions]\ndefault = "shenzhen"\n[web]\nsecret_key = "fault tests"\n{extra}',
                      encoding="utf-8")
    made = make_deployment_files(config)
    secure_deployment(made.settings)
    return config


def open_services(config: Path) -> Services:
    return Services.from_settings(load_settings(config), upgrade=True)


def logged_in(services: Services, username: str, app=None) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(app or create_app(services), base_url="http://testserver")
    reply = client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return client, {"X-CSRF-Token": reply.json()["csrf_token"]}


def enterprise_with_draft(services: Services, n: int) -> tuple[str, str]:
    """(username, id of its draft enrolment) of sample enterprise ``n``."""
    sample = make_enrol(n, "shenzhen")
    with services.store.transaction() as tx:
        tx.enterprises.save(sample.enterprise)
    username = f"ent{n}"
    create_user(services, username, PASSWORD, "enterprise", uscc=sample.enterprise.uscc, region="shenzhen",
                mobile="13800000000")
    return username, services.applications.create(sample, SYSTEM).id


def reviewer(services: Services) -> str:
    create_user(services, "reviewer", PASSWORD, "staff", region="shenzhen", roles=["reviewer"])
    return "reviewer"
