"""The run-due units in deploy/systemd/ verify (systemd-analyze, warnings fail) and run a real command."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from core.cli import main

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
NAMES = ("eportcard-run-due.service", "eportcard-run-due.timer")


def test_the_run_due_units_verify(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/install-system.sh installs the systemd package"
    real = shutil.which("true")
    copies = []
    for name in NAMES:
        copy = tmp_path / name
        copy.write_text((UNITS / name).read_text(encoding="utf-8").replace("/opt/eportcard/bin/eportcard", real))
        copies.append(str(copy))
    run = subprocess.run([analyze, "verify", "--man=no", *copies], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice"), check=False)
    assert run.returncode == 0 and not (run.stdout + run.stderr).strip(), run.stdout + run.stderr


def test_the_unit_runs_a_command_that_exists(tmp_path: Path):
    line = next(line for line in (UNITS / NAMES[0]).read_text().splitlines() if line.startswith("ExecStart="))
    args = shlex.split(line.removeprefix("ExecStart=/opt/eportcard/bin/eportcard"))
    config = tmp_path / "eportcard.toml"
    runner = CliRunner()
    assert runner.invoke(main, ["-c", str(config), "init"]).exit_code == 0
    ran = runner.invoke(main, ["-c", str(config), *args])
    assert ran.exit_code == 0, ran.output
    assert "deliver_messages" in ran.output and "renewal_reminders" in ran.output
    assert (tmp_path / "jobs" / "jobs_run_due.json").exists()  # its outcome for /metrics
    listed = runner.invoke(main, ["-c", str(config), "jobs", "list"])
    assert listed.exit_code == 0 and "deliver_messages" in listed.output and " ok " in listed.output
    missing = runner.invoke(main, ["-c", str(tmp_path / "none.toml"), *args])
    assert missing.exit_code == 2, missing.output
