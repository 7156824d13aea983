"""Issue #18 items 1-3 from the command line: `eportcard backup DEST`, `--into DIR --keep N`,
`backup verify`, `backup keygen`, `eportcard restore`; and the daily `backup` job of `jobs run-due`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from backupkit import deployment, open_services, populate, write_config
from click.testing import CliRunner

from core.cli import main
from core.services.jobs import Scheduler


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def source(tmp_path):
    with deployment(tmp_path / "source", "sqlite") as config:
        services = open_services(config)
        populate(services)
        services.store.dispose()
        yield config


def test_backup_verify_and_restore_from_the_command_line(source, tmp_path):
    archive = tmp_path / "b.epbak"
    made = run("-c", str(source), "backup", str(archive))
    assert made.exit_code == 0, made.output
    assert f"backup written: {archive}" in made.output and "audit.key_file" in made.output
    outcome = json.loads((source.parent / "jobs" / "backup.json").read_text())
    assert outcome["exit_code"] == 0 and outcome["last_success"]

    again = run("-c", str(source), "backup", str(archive))
    assert again.exit_code == 1 and "already exists" in again.output and "已存在" in again.output

    checked = run("backup", "verify", str(archive))
    assert checked.exit_code == 0 and "backup intact" in checked.output and "applications: 4" in checked.output

    target = tmp_path / "restored"
    target.mkdir()
    shutil.copy(source.parent / "audit.key", target / "audit.key")
    restored = run("-c", str(target / "eportcard.toml"), "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert "restored and checked" in restored.output and "intact" in restored.output
    refused = run("-c", str(target / "eportcard.toml"), "restore", str(archive))
    assert refused.exit_code == 1 and "not empty" in refused.output and "\n" not in refused.output.strip()

    broken = tmp_path / "broken.epbak"
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    broken.write_bytes(bytes(raw))
    failed = run("backup", "verify", str(broken))
    assert failed.exit_code == 1 and "cannot be used" in failed.output and "不可用" in failed.output


def test_sealed_backups_from_the_command_line(source, tmp_path):
    keygen = run("backup", "keygen", str(tmp_path / "key.pem"))
    assert keygen.exit_code == 0 and "key.pem.pub" in keygen.output
    sealed = tmp_path / "sealed.epbak"
    made = run("-c", str(source), "backup", "--recipient", str(tmp_path / "key.pem.pub"), str(sealed))
    assert made.exit_code == 0 and "encryption x25519" in made.output
    assert run("backup", "verify", str(sealed)).exit_code == 1
    assert run("backup", "verify", "--identity", str(tmp_path / "key.pem"), str(sealed)).exit_code == 0

    unset = run("-c", str(source), "backup", "--passphrase-env", "NO_SUCH_VARIABLE_H6", str(tmp_path / "p.epbak"))
    assert unset.exit_code == 1 and "NO_SUCH_VARIABLE_H6" in unset.output and not (tmp_path / "p.epbak").exists()
    env = {"BACKUP_PASSPHRASE": "a long backup passphrase 2026"}
    made = run("-c", str(source), "backup", "--passphrase-env", "BACKUP_PASSPHRASE", str(tmp_path / "p.epbak"),
               env=env)
    assert made.exit_code == 0 and "encryption scrypt" in made.output
    both = run("backup", "verify", "--passphrase-env", "BACKUP_PASSPHRASE", "--identity", str(tmp_path / "key.pem"),
               str(tmp_path / "p.epbak"), env=env)
    assert both.exit_code == 1 and "not both" in both.output
    assert run("backup", "verify", "--passphrase-env", "BACKUP_PASSPHRASE", str(tmp_path / "p.epbak"),
               env=env).exit_code == 0


def test_backups_into_a_folder_keep_the_newest_and_touch_nothing_else(source, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    old = [folder / f"eportcard-2020010{n}T000000Z.epbak" for n in (1, 2, 3)]
    for path in old:
        path.write_bytes(b"an older archive")
    unrelated = folder / "notes.txt"
    unrelated.write_text("kept")
    made = run("-c", str(source), "backup", "--into", str(folder), "--keep", "2")
    assert made.exit_code == 0, made.output
    left = sorted(p.name for p in folder.iterdir())
    assert len(left) == 3 and "notes.txt" in left and old[2].name in left
    assert all(f"old backup removed: {path}" in made.output for path in old[:2])
    newest = max(name for name in left if name.endswith(".epbak"))
    assert run("backup", "verify", str(folder / newest)).exit_code == 0
    assert run("-c", str(source), "backup", str(tmp_path / "x.epbak"), "--into", str(folder)).exit_code == 1
    assert run("-c", str(source), "backup", str(tmp_path / "x.epbak"), "--keep", "3").exit_code == 1


def test_the_daily_backup_job_writes_where_the_config_says(tmp_path):
    folder = tmp_path / "deployment"
    config = write_config(folder, extra='[backup]\ndir = "archives"\nkeep = 3\n')
    services = open_services(config)
    try:
        populate(services)
        ran = Scheduler(services).run_due(only="backup")
        assert [(r.name, r.ran, r.ok) for r in ran] == [("backup", True, True)], ran
        archives = sorted((folder / "archives").iterdir())
        assert len(archives) == 1 and ran[0].summary.startswith(f"wrote {archives[0]}")
        assert run("backup", "verify", str(archives[0])).exit_code == 0
        assert Scheduler(services).run_due(only="backup")[0].ran is False  # daily: not due again yet
    finally:
        services.store.dispose()


def test_the_daily_backup_job_does_nothing_until_a_folder_is_set(tmp_path):
    config = write_config(tmp_path / "deployment")
    services = open_services(config)
    try:
        ran = Scheduler(services).run_due(only="backup")
        assert [(r.ran, r.ok, r.summary) for r in ran] == [(True, True, "skipped: [backup] dir is not set")]
    finally:
        services.store.dispose()


def test_progress_is_shown_on_a_terminal_only(source, tmp_path):
    """On a terminal (here a pseudo-terminal as standard error) a progress bar; in a log, nothing."""
    command = [sys.executable, "-c", "from core.cli import main; main()", "-c", str(source), "backup"]
    main_fd, terminal = os.openpty()
    try:
        done = subprocess.run([*command, str(tmp_path / "tty.epbak")], stderr=terminal, stdout=subprocess.PIPE,
                              check=False, timeout=120)
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main_fd)
    assert done.returncode == 0 and b"backup" in shown and b"%" in shown
    logged = subprocess.run([*command, str(tmp_path / "log.epbak")], capture_output=True, check=False, timeout=120)
    assert logged.returncode == 0 and b"%" not in logged.stderr
