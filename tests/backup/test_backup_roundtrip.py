"""Issue #18 items 1-2: a backup made while the deployment is open restores, on either backend whatever
it came from, to the same rows in every table, the same blobs and the same CA files; an older schema is
migrated forward; the audit trail and every blob are checked and reported."""

from __future__ import annotations

import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from backupkit import (
    PNG,
    backed_up,
    deployment,
    deployment_files,
    open_services,
    pg_schema,
    populate,
    table_rows,
    write_config,
)

from core.config import load_settings
from core.errors import ConfigError, InvalidInput
from core.pki.ca import CertificateAuthority
from core.samples import make_enrol
from core.services import Actor
from core.services.backup import make_backup, restore_backup, verify_backup
from core.store.jobs import JobLeases
from core.store.store import MIGRATIONS


def _with_ca(config: Path) -> None:
    settings = load_settings(config)
    CertificateAuthority.init(settings.path(settings.pki.ca_dir), "备份测试CA", "Backup Test CA passphrase 2026", "ec-p256")


def _target(folder: Path, source: Path, url: str | None) -> Path:
    """A new, empty deployment folder holding the source's audit key (supplied, as the manifest asks) and,
    for another database than the archive's, a config naming it."""
    folder.mkdir(parents=True)
    shutil.copy(source.parent / "audit.key", folder / "audit.key")
    config = folder / "eportcard.toml"
    if url is not None:
        database = f'[database]\nurl = "{url}"\n' if url else ""
        config.write_text(f'{database}[regions]\ndefault = "shenzhen"\n', encoding="utf-8")
    return config


def _restore_and_compare(tmp_path: Path, source: Path, archive: Path, target_backend: str, **kw) -> None:
    before_rows, before_files = table_rows(source, tmp_path / "rows-a"), deployment_files(source)
    if target_backend == "postgres":
        with pg_schema() as url:
            target = _target(tmp_path / "restored", source, url)
            report = restore_backup(target, archive, **kw)
            assert report.ok, report
            assert table_rows(target, tmp_path / "rows-b") == before_rows
    else:
        target = _target(tmp_path / "restored", source, "")
        report = restore_backup(target, archive, **kw)
        assert report.ok, report
        assert table_rows(target, tmp_path / "rows-b") == before_rows
    assert deployment_files(target) == before_files
    assert report.blobs_checked == 4 and report.blob_problems == []
    assert report.loaded["applications"] == 4 and report.audit.checked == report.manifest["audit_head"]["seq"]


def test_every_row_blob_and_ca_file_comes_back_on_either_backend(tmp_path, source_backend, target_backend):
    with deployment(tmp_path / "source", source_backend) as source:
        services = open_services(source)
        populate(services)
        _with_ca(source)
        result = make_backup(services, source, tmp_path / "b.epbak")
        services.store.dispose()
        manifest = result.manifest
        assert manifest["database"]["backend"] == ("sqlite" if source_backend == "sqlite" else "postgresql")
        assert manifest["database"]["tables"]["applications"] == 4 and manifest["blobs"]["count"] == 4
        assert {"ca/ca.key.pem", "ca/ca.cert.pem"} <= set(manifest["ca_files"])
        assert verify_backup(result.path) == manifest
        _restore_and_compare(tmp_path, source, result.path, target_backend)


def test_leases_held_when_the_backup_was_taken_are_given_back_and_the_history_kept(tmp_path):
    with deployment(tmp_path / "source", "sqlite") as source:
        services = open_services(source)
        now = services.clock()
        with services.store.transaction() as tx:  # the backup job itself holds its lease while it runs
            JobLeases(tx).ensure(["backup", "renewal_reminders"], now)
            assert JobLeases(tx).take("backup", "old-host:42", now, now + timedelta(hours=3))
        archive = make_backup(services, source, tmp_path / "b.epbak").path
        services.store.dispose()
        target = _target(tmp_path / "restored", source, "")
        assert restore_backup(target, archive).ok
        restored = open_services(target)
        with restored.store.transaction(readonly=True) as tx:
            rows = {row.name: row for row in JobLeases(tx).all()}
        restored.store.dispose()
        assert {name: (row.lease_owner, row.lease_until) for name, row in rows.items()} == {
            "backup": ("", None), "renewal_reminders": ("", None)}
        assert rows["backup"].last_started_at == now  # what it did is kept; only the lease goes


def test_a_restore_without_a_config_writes_the_archived_one_with_a_new_session_key(tmp_path):
    with deployment(tmp_path / "source", "sqlite") as source:
        archive = backed_up(source, tmp_path / "b.epbak")
        target = _target(tmp_path / "restored", source, None)
        report = restore_backup(target, archive)
        assert report.ok and report.config_written and report.session_key_made
        restored = load_settings(target)
        assert restored.web.secret_key not in ("", "test session key")  # the old one never left the source
        assert restored.database_url.endswith(f"{tmp_path / 'restored' / 'eportcard.db'}")
        assert (target.stat().st_mode & 0o777) == 0o600
        assert (tmp_path / "restored" / "eportcard.db").stat().st_mode & 0o777 == 0o600
        assert [s.setting for s in report.still_to_supply] == []  # no CA, no master secret here


def test_an_archive_of_an_older_schema_is_migrated_forward(tmp_path, source_backend, target_backend):
    """An archive at revision 0009 restores to this eportcard's schema with exactly the rows the old
    database itself has once migrated forward."""
    oldest_kept = "0009"
    with deployment(tmp_path / "source", source_backend) as source:
        (source.parent / "audit.key").unlink()  # the audit key came with 0010: an older trail is unkeyed
        services = open_services(source)
        populate(services)
        services.store.downgrade(oldest_kept)
        archive = make_backup(services, source, tmp_path / "b.epbak").path
        services.store.upgrade()  # the old database migrated in place: what the restore must match
        services.store.dispose()
        assert verify_backup(archive)["database"]["schema_revision"] == oldest_kept
        rows_then = table_rows(source, tmp_path / "rows-a")
        target_folder = tmp_path / "restored"
        target_folder.mkdir()
        if target_backend == "postgres":
            with pg_schema() as url:
                target = _plain_target(target_folder, url)
                report = restore_backup(target, archive)
                rows_now = table_rows(target, tmp_path / "rows-b")
        else:
            target = _plain_target(target_folder, "")
            report = restore_backup(target, archive)
            rows_now = table_rows(target, tmp_path / "rows-b")
    assert report.revision == _head() and report.audit.ok and report.audit_head_matches
    assert report.audit.warnings  # unkeyed: said so
    assert rows_now == rows_then and len(rows_now["applications"]) == 4


def _plain_target(folder: Path, url: str) -> Path:
    config = folder / "eportcard.toml"
    database = f'[database]\nurl = "{url}"\n' if url else ""
    config.write_text(f'{database}[regions]\ndefault = "shenzhen"\n', encoding="utf-8")
    return config


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def test_a_deployment_made_by_init_counts_as_empty(tmp_path, target_backend):
    """`eportcard init` makes the schema (and an audit key): still empty, so a restore goes there once the
    backed-up deployment's audit key replaces the new one."""
    with deployment(tmp_path / "source", "sqlite") as source:
        archive = backed_up(source, tmp_path / "b.epbak")
        rows = table_rows(source, tmp_path / "rows-a")
        with deployment(tmp_path / "restored", target_backend) as target:
            with pytest.raises(ConfigError, match="audit key") as wrong_key:
                restore_backup(target, archive)
            assert wrong_key.value.zh and wrong_key.value.field == "audit.key_file"
            shutil.copy(source.parent / "audit.key", target.parent / "audit.key")
            assert restore_backup(target, archive).ok
            assert table_rows(target, tmp_path / "rows-b") == rows


def test_a_target_holding_anything_is_refused_and_left_as_it_was(tmp_path, target_backend):
    with deployment(tmp_path / "source", "sqlite") as source:
        archive = backed_up(source, tmp_path / "b.epbak")
        with deployment(tmp_path / "busy", target_backend) as busy:
            shutil.copy(source.parent / "audit.key", busy.parent / "audit.key")
            held = open_services(busy)
            populate(held, first=50)
            held.store.dispose()
            before = table_rows(busy, tmp_path / "rows-busy")
            with pytest.raises(InvalidInput, match="not empty") as refused:
                restore_backup(busy, archive)
            assert refused.value.field == "blob_dir"
            shutil.rmtree(load_settings(busy).blob_dir)  # its blobs gone, its database still holds rows
            with pytest.raises(InvalidInput, match="not empty") as refused:
                restore_backup(busy, archive)
            assert refused.value.field == "database" and "applications (4)" in refused.value.en
            assert refused.value.zh.startswith("目标数据库不是空的")
            assert table_rows(busy, tmp_path / "rows-busy-after") == before
            assert not load_settings(busy).blob_dir.exists()
        for folder in ("blobs", "ca"):
            target = _target(tmp_path / f"files-{folder}", source, None)
            (target.parent / folder).mkdir()
            (target.parent / folder / "left-over").write_bytes(PNG)
            with pytest.raises(InvalidInput, match="not empty"):
                restore_backup(target, archive)
            assert sorted(p.name for p in target.parent.iterdir()) == ["audit.key", folder]


def test_a_restore_refuses_without_the_audit_key_the_trail_is_keyed_with(tmp_path):
    with deployment(tmp_path / "source", "sqlite") as source:
        archive = backed_up(source, tmp_path / "b.epbak")
    target = tmp_path / "restored" / "eportcard.toml"
    target.parent.mkdir()
    with pytest.raises(ConfigError, match="keyed with audit key") as missing:
        restore_backup(target, archive)
    assert "把该密钥放到" in missing.value.zh
    assert sorted(p.name for p in target.parent.iterdir()) == []  # nothing written


def test_secrets_stay_out_of_the_archive_and_are_listed(tmp_path):
    secret = "super-secret-session-key"
    password_url_note = "postgresql+psycopg://branch:hunter2@db.example/eportcard"
    folder = tmp_path / "source"
    config = write_config(folder)
    text = config.read_text(encoding="utf-8").replace("test session key", secret)
    config.write_text(text + f'# url = "{password_url_note}"\n', encoding="utf-8")
    services = open_services(config)
    populate(services)
    _with_ca(config)
    result = make_backup(services, config, tmp_path / "b.epbak")
    services.store.dispose()
    raw = result.path.read_bytes()
    import gzip

    inside = gzip.decompress(raw[raw.index(b"\n", len(b"EPORTCARD-BACKUP\n")) + 1:-32])
    assert secret.encode() not in inside and b"test session key" not in inside
    assert (folder / "audit.key").read_bytes().strip() not in inside
    assert (folder / "card-master.key").exists() is False
    settings = {s["setting"] for s in result.manifest["secrets"]}
    assert settings == {"web.secret_key", "audit.key_file", "pki.passphrase"}


def test_the_archived_config_loses_its_password_and_session_key_but_keeps_the_rest():
    from core.services.backup import config_without_secrets

    original = ('# the branch\n[database]\nurl = "postgresql+psycopg://branch:hunter2@db.example:5432/ep"\n'
                '[web]\nsecret_key = "abc"  # signs sessions\nport = 8000\n[sms]\ngateway = "none"\n'
                '[mail.options]\npassword = "smtp-pass"\npassword_file = "/etc/eportcard/mail"\n'
                '[sms.options]\nsecret_id = "AKID1"\nauth_token = "tok"\n')
    archived = config_without_secrets(original)
    for secret in ("hunter2", '"abc"', "smtp-pass", '"tok"'):
        assert secret not in archived
    assert 'url = "postgresql+psycopg://branch@db.example:5432/ep"' in archived
    assert "# the branch" in archived and "port = 8000" in archived and 'gateway = "none"' in archived
    assert 'password_file = "/etc/eportcard/mail"' in archived and 'secret_id = "AKID1"' in archived
    import tomllib

    parsed = tomllib.loads(archived)
    assert parsed["web"]["secret_key"] == "" and parsed["mail"]["options"]["password"] == ""


def test_a_backup_taken_while_applications_are_written_is_of_one_moment(tmp_path, source_backend):
    """A writer keeps creating applications (each one row and one audit row in one transaction) all through
    the backup: the archive's rows and its audit trail are of one moment, so the restore's chain ends where
    the manifest says and holds one ``create`` row per application, neither more nor fewer."""
    with deployment(tmp_path / "source", source_backend) as source:
        services = open_services(source)
        writer = open_services(source)  # another process's worth of connections: the running server
        started, done, made = threading.Event(), threading.Event(), [0]

        def write() -> None:
            while not done.is_set():
                made[0] += 1
                writer.applications.create(make_enrol(500 + made[0], "shenzhen"), Actor.system("writer"))
                started.set()

        thread = threading.Thread(target=write)
        thread.start()
        try:
            assert started.wait(60)
            archive = make_backup(services, source, tmp_path / "b.epbak").path
        finally:
            done.set()
            thread.join()
            writer.store.dispose()
            services.store.dispose()
        target = _target(tmp_path / "restored", source, "")
        report = restore_backup(target, archive)
    assert report.ok and report.audit_head_matches
    restored = open_services(target)
    try:
        with restored.store.transaction(readonly=True) as tx:
            creates = [e for e in tx.audit.all(limit=100000) if e.action == "create"]
        apps = restored.applications.list_for(Actor.system(), limit=100000)
    finally:
        restored.store.dispose()
    assert 1 <= len(apps) <= made[0] and sorted(e.entity_id for e in creates) == sorted(a.id for a in apps)
