"""Issue #18, the restore drill (what docs/deployment.md asks a branch to run monthly): the demo deployment
(applications in every state, attachments, cards made with certificates from its CA) is backed up, restored
into a fresh folder on the other backend, and every application, attachment and certificate compared; the
restored deployment then works on (its CA unlocks, a change is audited on the same keyed chain). One
changed byte of the archive and the restore refuses it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from backupkit import PNG, STAFF, deployment_files, pg_schema, table_rows

from core.config import load_settings
from core.errors import InvalidInput
from core.model import AppState
from core.services import Actor, Services
from core.services.backup import make_backup, restore_backup
from core.web.demo import build_demo

CA_PASSPHRASE = "Restore drill CA passphrase 2026"
SYSTEM = Actor.system()


def _demo(folder: Path, url: str) -> Path:
    folder.mkdir()
    config = folder / "eportcard.toml"
    if url:
        config.write_text(f'[database]\nurl = "{url}"\n[regions]\ndefault = "shenzhen"\n', encoding="utf-8")
    services, _logins, _lines = build_demo(folder)
    try:
        for app in services.applications.list_for(SYSTEM):
            if app.state in (AppState.DRAFT, AppState.REJECTED):
                owner = Actor(id="drill", kind="enterprise", uscc=app.enterprise.uscc)
                services.applications.attach(app.id, "business_licence", "licence.png", PNG + app.id.encode(), owner)
    finally:
        services.store.dispose()
    return config


def _everything(config: Path) -> dict[str, object]:
    """Every application, its attachments with their content, and every card's certificates, as the
    services read them."""
    services = Services.from_settings(load_settings(config))
    try:
        apps = sorted(services.applications.list_for(SYSTEM, limit=1000), key=lambda a: a.id)
        attachments = {a.id: [(att, services.store.blobs.get(att.sha256))
                              for att in services.applications.attachments_of(a.id, SYSTEM)] for a in apps}
        with services.store.transaction(readonly=True) as tx:
            cards = [card for uscc in sorted({a.enterprise.uscc for a in apps}) for card in tx.cards.for_enterprise(uscc)]
            certificates = {card.id: tx.certificates.for_card(card.id) for card in cards}
        return {"applications": apps, "attachments": attachments, "cards": cards, "certificates": certificates}
    finally:
        services.store.dispose()


def _drill(tmp_path: Path, source_url: str, target_url: str) -> None:
    source = _demo(tmp_path / "demo", source_url)
    before = _everything(source)
    states = {app.state for app in before["applications"]}  # type: ignore[attr-defined]
    assert states >= {AppState.DRAFT, AppState.SUBMITTED, AppState.ACCEPTED, AppState.NEEDS_MEDIUM,
                      AppState.MEDIUM_READY, AppState.IN_PRODUCTION, AppState.COMPLETED, AppState.REJECTED}
    made = sorted((tmp_path / "demo" / "cards").glob("*.json"))  # the demo's virtual cards, one certificate each
    assert len(made) >= 3 and sum(len(c) for c in before["certificates"].values()) == len(made)  # type: ignore[attr-defined]
    assert sum(len(a) for a in before["attachments"].values()) == 2  # type: ignore[attr-defined]

    services = Services.from_settings(load_settings(source))
    try:
        archive = make_backup(services, source, tmp_path / "drill.epbak").path
    finally:
        services.store.dispose()

    target = tmp_path / "restored"
    target.mkdir()
    for secret in ("audit.key", "card-master.key"):  # kept apart from the backups, supplied by the operator
        shutil.copy(source.parent / secret, target / secret)
    config = target / "eportcard.toml"
    database = f'[database]\nurl = "{target_url}"\n' if target_url else ""
    config.write_text(f'{database}[regions]\ndefault = "shenzhen"\n[web]\nsecret_key = "drill"\n', encoding="utf-8")
    report = restore_backup(config, archive)
    assert report.ok and report.blobs_checked == 2 and report.still_to_supply == [], report

    assert _everything(config) == before
    assert table_rows(config, tmp_path / "rows-b") == table_rows(source, tmp_path / "rows-a")
    assert deployment_files(config) == deployment_files(source)

    restored = Services.from_settings(load_settings(config), ca_passphrase=CA_PASSPHRASE)
    try:
        assert restored.cards.enabled  # the CA key, still encrypted, opens with its passphrase
        waiting = restored.applications.list_for(SYSTEM, states=[AppState.SUBMITTED])[0]
        restored.applications.accept(waiting.id, STAFF)
        assert restored.store.audit_verify().ok  # the same keyed chain, continued
    finally:
        restored.store.dispose()

    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    archive.write_bytes(bytes(raw))
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(source.parent / "audit.key", again / "audit.key")
    with pytest.raises(InvalidInput, match="cannot be used"):
        restore_backup(again / "eportcard.toml", archive)
    assert sorted(p.name for p in again.iterdir()) == ["audit.key"]


def test_drill_sqlite_demo_restored_on_postgresql(tmp_path, monkeypatch):
    monkeypatch.setenv("EPORTCARD_CA_PASSPHRASE", CA_PASSPHRASE)
    with pg_schema() as target_url:
        _drill(tmp_path, "", target_url)


def test_drill_postgresql_demo_restored_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("EPORTCARD_CA_PASSPHRASE", CA_PASSPHRASE)
    with pg_schema() as source_url:
        _drill(tmp_path, source_url, "")
