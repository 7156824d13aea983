"""The ``archive_attachments`` job (core/services/archive.py): 30 days after an application was submitted
(seed 001_56e603108c85a312.txt, 第六篇 小提示: 归档留存, 不能被查看) its attachments are moved into the blob
store's archive area, compressed, their hash checked, the database row updated with an audit row; a live
copy another live attachment shares stays; a run cut short anywhere is finished by the next; a file that
is missing or damaged fails the job and is never archived wrong. Archived attachments are never viewed
again; an administrator takes one out on purpose, with a reason, audited. ``eportcard backup`` holds the
archive area and a restore puts it back. SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import stat
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from notifykit import STAFF, ent, notify_services
from sqlalchemy import select

from core.cli import main
from core.config import StorageSettings, load_settings
from core.errors import Forbidden, InvalidInput
from core.samples import make_enrol
from core.services import Actor, Services
from core.services.archive import retrieve, run
from core.services.backup import make_backup, restore_backup
from core.services.deployment import make_deployment_files, secure_deployment
from core.services.jobs import JOBS, Scheduler
from core.store.archive import Archive
from core.store.blobs import BlobStore
from core.store.tables import attachments

PNG = b"\x89PNG\r\n\x1a\n"
SYSTEM = Actor.system("archive-tests")


class Crash(BaseException):
    """The process dying at this point: nothing after it runs, nothing catches it."""


def png(tag: int) -> bytes:
    return PNG + bytes([tag]) * 4000  # compresses well: the archive copy is smaller


def _application(services: Services, n: int, content: bytes, submit: bool = True) -> tuple[str, str]:
    """(application id, attachment id) of a new enrolment with one upload, submitted unless told not to."""
    outlet = services.rulebook.outlets("shenzhen")[0].code
    sample = make_enrol(n, "shenzhen")
    sample = attrs.evolve(sample, id="", created_at=None, pickup=attrs.evolve(sample.pickup, outlet=outlet))
    owner = ent(sample.enterprise.uscc)
    app = services.applications.create(sample, owner)
    att = services.applications.attach(app.id, "business_licence", f"licence{n}.png", content, owner)
    if submit:
        services.applications.submit(app.id, owner)
    return app.id, att.id


def _state(services: Services, att_id: str) -> tuple[bool, bool]:
    """(archived, live copy released) as the database says."""
    with services.store.transaction(readonly=True) as tx:
        row = tx.connection.execute(select(attachments.c.archived_at, attachments.c.released_at)
                                    .where(attachments.c.id == att_id)).one()
    return row.archived_at is not None, row.released_at is not None


def _audit(services: Services, action: str) -> list:
    with services.store.transaction(readonly=True) as tx:
        return [e for e in tx.audit.all(limit=10_000) if e.action == action]


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_the_job_moves_attachments_30_days_after_submission_into_the_archive(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    old_app, old = _application(services, 1, png(1))
    clock.now += timedelta(days=10)
    _young_app, young = _application(services, 2, png(2))
    _draft, draft = _application(services, 3, png(3), submit=False)
    blobs = services.store.blobs

    clock.now += timedelta(days=21)  # the first submitted 31 days ago, the second 21
    (ran,) = Scheduler(services).run_due(only="archive_attachments")
    assert ran.ran and ran.ok and ran.summary.startswith("archived 1 attachment(s), removed 1 live copy")
    assert _state(services, old) == (True, True) and _state(services, young) == (False, False)
    assert _state(services, draft) == (False, False)
    packed = blobs.archive_path(_sha(png(1)))
    assert gzip.decompress(packed.read_bytes()) == png(1) and packed.stat().st_size < len(png(1))
    assert not blobs.path_for(_sha(png(1))).exists() and blobs.path_for(_sha(png(2))).exists()
    (row,) = _audit(services, "archive_attachment")
    assert (row.entity_id, row.actor, row.payload["application"]) == (old, "system:jobs", old_app)
    assert row.payload["sha256"] == _sha(png(1)) and row.payload["archived_size"] == packed.stat().st_size
    assert [e.entity_id for e in _audit(services, "archive_release")] == [_sha(png(1))]

    assert run(services).summary() == "archived 0 attachment(s), removed 0 live copy(ies), 0 could not be archived"
    assert len(_audit(services, "archive_attachment")) == 1  # nothing twice
    assert "archive_attachments" in {job.name for job in JOBS}

    # never viewed again, even were the rule lengthened afterwards: the content is in the archive only
    longer = attrs.evolve(services, settings=attrs.evolve(services.settings, storage=StorageSettings(
        archive_after_days=365)))
    for who in (STAFF, SYSTEM):
        with pytest.raises(Forbidden) as refused:
            longer.applications.attachment(old, who)
        assert "归档" in refused.value.zh and "archived" in refused.value.en
    assert longer.applications.attachment(young, SYSTEM)[1] == png(2)


def test_a_live_copy_another_live_attachment_shares_stays_until_that_one_is_archived(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    _first_app, first = _application(services, 1, png(7))
    clock.now += timedelta(days=20)
    _second_app, second = _application(services, 2, png(7))  # the same file: stored once
    live = services.store.blobs.path_for(_sha(png(7)))

    clock.now += timedelta(days=11)
    assert run(services).summary().startswith("archived 1 attachment(s), removed 0 live copy")
    assert _state(services, first) == (True, False) and live.exists()
    assert services.applications.attachment(second, SYSTEM)[1] == png(7)

    clock.now += timedelta(days=20)
    assert run(services).summary().startswith("archived 1 attachment(s), removed 1 live copy")
    assert _state(services, first) == (True, True) and _state(services, second) == (True, True)
    assert not live.exists()


def test_an_upload_of_an_archived_file_reads_it_back_from_the_archive(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    _application(services, 1, png(8))
    clock.now += timedelta(days=31)
    run(services)
    live = services.store.blobs.path_for(_sha(png(8)))
    assert not live.exists()
    _app, again = _application(services, 2, png(8))  # put() writes the live copy again
    live.unlink()  # as if the release had raced the upload: the live copy went after put() saw it there
    assert services.applications.attachment(again, SYSTEM)[1] == png(8) and live.exists()


@pytest.mark.parametrize("crash_at", ["before the row", "before the release"])
def test_a_run_cut_short_is_finished_by_the_next(store, tmp_path, clock, monkeypatch, crash_at):
    services = notify_services(store, tmp_path, clock)
    _app, att = _application(services, 1, png(9))
    clock.now += timedelta(days=31)

    def crash(*_args, **_kwargs):
        raise Crash(crash_at)

    target = (Archive, "mark_archived") if crash_at == "before the row" else (BlobStore, "release")
    with monkeypatch.context() as patched:
        patched.setattr(*target, crash)
        with pytest.raises(Crash):
            run(services)
    assert services.store.blobs.archived(_sha(png(9))) == png(9)  # the archive copy was written and checked
    assert _state(services, att) == ((False, False) if crash_at == "before the row" else (True, False))

    report = run(services)
    assert (report.archived, report.released, report.failed) == (int(crash_at == "before the row"), 1, 0)
    assert _state(services, att) == (True, True) and len(_audit(services, "archive_attachment")) == 1
    assert not services.store.blobs.path_for(_sha(png(9))).exists()


def test_a_damaged_archive_copy_is_written_again_from_the_live_one(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    _app, att = _application(services, 1, png(10))
    packed = services.store.blobs.archive_path(_sha(png(10)))
    packed.parent.mkdir(parents=True)
    packed.write_bytes(gzip.compress(png(11)))  # a copy that is not what its name says
    clock.now += timedelta(days=31)
    assert run(services).archived == 1
    assert gzip.decompress(packed.read_bytes()) == png(10) and _state(services, att) == (True, True)


@pytest.mark.parametrize("fault", ["missing", "damaged"])
def test_a_file_missing_or_damaged_fails_the_job_and_is_not_archived(store, tmp_path, clock, fault):
    services = notify_services(store, tmp_path, clock)
    _bad_app, bad = _application(services, 1, png(12))
    _good_app, good = _application(services, 2, png(13))
    live = services.store.blobs.path_for(_sha(png(12)))
    if fault == "missing":
        live.unlink()
    else:
        live.write_bytes(png(14))
    clock.now += timedelta(days=31)
    (ran,) = Scheduler(services).run_due(only="archive_attachments")
    assert ran.ran and not ran.ok
    assert "archived 1 attachment(s)" in ran.summary and "1 could not be archived" in ran.summary
    assert _state(services, bad) == (False, False) and _state(services, good) == (True, True)
    assert not services.store.blobs.archive_path(_sha(png(12))).exists()
    (failed,) = _audit(services, "archive_failed")
    assert failed.entity_id == bad and ("does not exist" if fault == "missing" else "damaged") in failed.payload["reason"]


def test_an_archived_attachment_is_taken_out_on_purpose_with_a_reason(store, tmp_path, clock):
    services = notify_services(store, tmp_path, clock)
    _app, att = _application(services, 1, png(15))
    clock.now += timedelta(days=20)
    _young_app, young = _application(services, 2, png(16))
    clock.now += timedelta(days=11)
    run(services)  # the first archived, the second not yet
    reason = "海关稽查调阅 / customs inquiry 2026-118"
    other_branch = attrs.evolve(STAFF, region="xian")
    reviewer = attrs.evolve(STAFF, roles=frozenset({"reviewer"}))
    for who, refused in ((other_branch, Forbidden), (reviewer, Forbidden), (ent("91440300MA5XXXXXX1"), Forbidden)):
        with pytest.raises(refused) as answer:
            retrieve(services, att, who, reason)
        assert answer.value.zh and answer.value.en
    for blank in ("", "   ", "x" * 501):
        with pytest.raises(InvalidInput) as answer:
            retrieve(services, att, STAFF, blank)
        assert answer.value.field == "reason" and answer.value.zh and answer.value.en
    with pytest.raises(InvalidInput) as answer:
        retrieve(services, young, STAFF, reason)
    assert "not archived" in answer.value.en
    with pytest.raises(Forbidden):
        retrieve(services, "no-such-attachment", STAFF, reason)
    assert _audit(services, "attachment_retrieved") == []  # nothing refused was recorded

    found, content = retrieve(services, att, STAFF, reason)
    assert found.id == att and content == png(15)
    (row,) = _audit(services, "attachment_retrieved")
    assert (row.actor, row.entity_id, row.payload["reason"]) == (STAFF.label, att, reason)


# ---- the command line and the backup ----------------------------------------------------------------------

def _deployment(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "eportcard.toml"
    config.write_text('[regions]\ndefault = "shenzhen"\n[web]\nsecret_key = "archive tests"\n', encoding="utf-8")
    secure_deployment(make_deployment_files(config).settings)
    return config


def _archived_deployment(folder: Path, clock) -> tuple[Path, Services, str]:
    config = _deployment(folder)
    services = attrs.evolve(Services.from_settings(load_settings(config), upgrade=True), clock=clock)
    _app, att = _application(services, 1, png(17))
    _application(services, 2, png(18))
    clock.now += timedelta(days=31)
    run(services)
    clock.now -= timedelta(days=31)
    _application(services, 3, png(19))  # live
    return config, services, att


def test_eportcard_app_retrieve_writes_the_file_for_its_owner_only(tmp_path, clock):
    config, services, att = _archived_deployment(tmp_path / "site", clock)
    services.store.dispose()
    out = tmp_path / "taken-out.png"
    cli = CliRunner()
    listed = cli.invoke(main, ["-c", str(config), "app", "attachments", "WSZ0000001"])
    taken = cli.invoke(main, ["-c", str(config), "app", "retrieve", att, "--reason", "customs inquiry", "--out",
                              str(out), "--actor", "王某"])
    assert taken.exit_code == 0, taken.output
    assert out.read_bytes() == png(17) and stat.S_IMODE(out.stat().st_mode) == 0o600
    again = cli.invoke(main, ["-c", str(config), "app", "retrieve", att, "--reason", "again", "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output and "已存在" in again.output
    no_reason = cli.invoke(main, ["-c", str(config), "app", "retrieve", att, "--reason", " ", "--out",
                                  str(tmp_path / "other.png")])
    assert no_reason.exit_code == 1 and "needs a reason" in no_reason.output and not (tmp_path / "other.png").exists()
    check = attrs.evolve(Services.from_settings(load_settings(config)), clock=clock)
    (row,) = _audit(check, "attachment_retrieved")
    assert row.actor.endswith("as 王某") and row.payload["reason"] == "customs inquiry"
    check.store.dispose()
    assert listed.exit_code == 0 and f"{att}  business_licence  licence1.png" in listed.output, listed.output
    assert "archived 2026-" in listed.output


def test_a_backup_holds_the_archive_area_and_a_restore_puts_it_back(tmp_path, clock):
    config, services, att = _archived_deployment(tmp_path / "site", clock)
    archived = [_sha(png(17)), _sha(png(18))]
    try:
        result = make_backup(services, config, tmp_path / "site.epbak")
    finally:
        services.store.dispose()
    members = result.manifest["members"]
    assert {f"archive/{sha[:2]}/{sha[2:]}.gz" for sha in archived} <= set(members)
    assert not {f"blobs/{sha[:2]}/{sha[2:]}" for sha in archived} & set(members)  # their live copies are gone
    assert f"blobs/{_sha(png(19))[:2]}/{_sha(png(19))[2:]}" in members
    assert result.manifest["blobs"]["missing"] == [] and result.manifest["blobs"]["archived"] == 2

    (tmp_path / "restored").mkdir(mode=0o700)
    shutil.copy2(config.parent / "audit.key", tmp_path / "restored" / "audit.key")  # kept apart from backups
    report = restore_backup(tmp_path / "restored" / "eportcard.toml", result.path)
    assert report.blob_problems == [] and report.blobs_checked == 3
    restored = Services.from_settings(load_settings(tmp_path / "restored" / "eportcard.toml"))
    try:
        assert [restored.store.blobs.archived(sha) for sha in archived] == [png(17), png(18)]
        assert retrieve(restored, att, SYSTEM, "restore drill")[1] == png(17)
        with pytest.raises(Forbidden):
            restored.applications.attachment(att, SYSTEM)
    finally:
        restored.store.dispose()


def test_a_backup_names_an_archived_file_that_is_gone(tmp_path, clock):
    config, services, _att = _archived_deployment(tmp_path / "site", clock)
    services.store.blobs.archive_path(_sha(png(18))).unlink()
    try:
        result = make_backup(services, config, tmp_path / "site.epbak")
    finally:
        services.store.dispose()
    assert result.missing_blobs == [_sha(png(18))]
