"""Issue #18, faults where data is written: the disk fills up (a 1 MiB tmpfs the test mounts) while an
attachment is written, while the SQLite database commits, and while a backup is written. Each time: a
clear bilingual error (503), nothing half-written left referenced, no application in a state its data
does not support, reads still served; and once space returns the same request simply works."""

from __future__ import annotations

import pytest
from faultkit import (
    SYSTEM,
    deployment,
    enterprise_with_draft,
    fill,
    logged_in,
    open_services,
    png,
    reviewer,
    tmpfs,
)

from core.errors import Unavailable
from core.model import AppState
from core.services.backup import make_backup

UPLOAD = 200 * 1024  # bigger than what is left, smaller than the whole tmpfs


def _upload(client, csrf, app_id: str, content: bytes):
    return client.post(f"/api/applications/{app_id}/attachments", headers=csrf, data={"material": "business_licence"},
                       files={"file": ("licence.png", content, "image/png")})


def _storage_full(reply) -> None:
    assert reply.status_code == 503, reply.text
    error = reply.json()["error"]
    assert error["code"] == "unavailable" and "storage is full" in error["en"] and "存储空间已满" in error["zh"]


def test_an_upload_to_a_full_blob_store_is_refused_and_works_once_space_returns(tmp_path):
    with tmpfs(tmp_path / "small") as small:
        config = deployment(tmp_path / "deployment", f'[storage]\nblob_dir = "{small / "blobs"}"\n')
        services = open_services(config)
        username, app_id = enterprise_with_draft(services, 1)
        client, csrf = logged_in(services, username)
        first = _upload(client, csrf, app_id, png(4096, 1))
        assert first.status_code == 201, first.text
        before = services.applications.get(app_id, SYSTEM)

        filler = fill(small, leave=8192)
        _storage_full(_upload(client, csrf, app_id, png(UPLOAD, 2)))
        after = services.applications.get(app_id, SYSTEM)
        assert after == before  # same version, one attachment: nothing half-applied
        assert [a.id for a in services.applications.attachments_of(app_id, SYSTEM)] == [first.json()["id"]]
        stored = sorted(p.name for p in (small / "blobs").rglob("*") if p.is_file())
        assert len(stored) == 1 and not any(name.startswith(".tmp-") for name in stored)  # no half-written blob
        assert client.get(f"/api/applications/{app_id}").status_code == 200  # reads go on
        assert client.get(f"/api/attachments/{first.json()['id']}").content == png(4096, 1)

        filler.unlink()  # space returns: the same request works, nothing to restart
        second = _upload(client, csrf, app_id, png(UPLOAD, 2))
        assert second.status_code == 201, second.text
        assert client.get(f"/api/attachments/{second.json()['id']}").content == png(UPLOAD, 2)
        assert services.store.audit_verify().ok
        services.store.dispose()


def test_a_commit_on_a_full_disk_fails_cleanly_and_the_next_one_works(tmp_path):
    with tmpfs(tmp_path / "small", size="4m") as small:
        config = deployment(tmp_path / "deployment", f'[database]\nurl = "sqlite:///{small / "eportcard.db"}"\n')
        services = open_services(config)
        _username, app_id = enterprise_with_draft(services, 1)
        services.applications.submit(app_id, SYSTEM)
        client, csrf = logged_in(services, reviewer(services))
        seen = client.get(f"/api/applications/{app_id}").json()
        pooled = services.store.engine.raw_connection()  # an empty write-ahead log: a commit needs new blocks
        try:
            assert pooled.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        finally:
            pooled.close()
        rows_before = services.store.audit_verify().checked

        filler = fill(small)
        _storage_full(client.post(f"/api/applications/{app_id}/accept", headers=csrf,
                                  json={"version": seen["version"]}))
        assert client.get(f"/api/applications/{app_id}").json() == seen  # unchanged, and still read
        assert services.applications.get(app_id, SYSTEM).state is AppState.SUBMITTED

        filler.unlink()
        accepted = client.post(f"/api/applications/{app_id}/accept", headers=csrf, json={"version": seen["version"]})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["state"] == "accepted" and accepted.json()["version"] == seen["version"] + 1
        report = services.store.audit_verify()
        assert report.ok and report.checked == rows_before + 1  # one audit row: the accept, once
        services.store.dispose()


def test_a_backup_to_a_full_disk_leaves_nothing_behind(tmp_path):
    config = deployment(tmp_path / "deployment")
    services = open_services(config)
    try:
        for n in (1, 2):
            enterprise_with_draft(services, n)
        with tmpfs(tmp_path / "small") as small:
            filler = fill(small, leave=16 * 1024)
            with pytest.raises(Unavailable, match="full") as full:
                make_backup(services, config, small / "b.epbak")
            assert full.value.field == "dest" and "磁盘已满" in full.value.zh
            assert sorted(p.name for p in small.iterdir()) == ["filler"]  # no partial archive, no scratch folder
            filler.unlink()
            assert make_backup(services, config, small / "b.epbak").path.exists()
    finally:
        services.store.dispose()


def test_storage_full_is_told_apart_from_other_failures():
    import errno
    import sqlite3

    from core.store.space import is_disk_full

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5  # type: ignore[attr-defined]
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(full) and not is_disk_full(busy)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied")) and not is_disk_full(ValueError("x"))
