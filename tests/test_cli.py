"""The command line as a newcomer uses it (README walk-through), on a fresh SQLite deployment."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "enrol-shenzhen.toml"


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()
    config = tmp_path / "eportcard.toml"

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, ["--config", str(config), *args], catch_exceptions=False)
        assert (result.exit_code == 0) == ok, result.output
        return result

    run("init")
    return run


def submit_json(cli, path=EXAMPLE):
    return json.loads(cli("app", "submit", str(path), "--json").output)


def test_newcomer_walks_an_application_from_submission_to_hand_over(cli):
    app = submit_json(cli)
    no = app["acceptance_no"]
    assert app["state"] == "submitted" and no.startswith("WSZ")
    cli("app", "accept", no)
    out = cli("app", "reject", no, "--reason", "remarks", "--reason", "other", "--note", "请补充联系电话").output
    assert "已退单" in out and "备注栏未填写" in out
    cli("app", "resubmit", no)
    cli("app", "accept", no)
    cli("app", "produce", no)
    cli("app", "complete", no)
    bad = cli("app", "hand-over", no, "--receipt", "WSZ9999999", ok=False)
    assert "does not match" in bad.output
    done = json.loads(cli("app", "hand-over", no, "--receipt", no, "--json").output)
    assert done["state"] == "completed" and done["delivery"] == "handed_over"
    listed = cli("app", "list", "--state", "completed").output
    assert no in listed
    assert "intact" in cli("audit", "verify").output


def test_regions_json_lists_the_five_built_in_regions(cli):
    codes = {r["code"] for r in json.loads(cli("regions", "--json").output)}
    assert {"shenzhen", "changchun", "xiamen", "hangzhou", "xian"} <= codes


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ("business = [unclosed", ".toml", "not valid TOML"),
    ("{\"business\": ", ".json", "not valid JSON"),
    ("business = \"enrol\"\nregion = \"shenzhen\"\nstate = \"completed\"\n", ".toml", "cannot set 'state'"),
    ("business = \"teleport\"\nregion = \"shenzhen\"\n", ".toml", "invalid"),
])
def test_malformed_files_get_one_line_errors_and_change_nothing(cli, tmp_path, content, suffix, message):
    bad = tmp_path / f"bad{suffix}"
    bad.write_text(content, encoding="utf-8")
    result = cli("app", "submit", str(bad), ok=False)
    assert message in result.output and "Traceback" not in result.output
    assert "(none)" in cli("app", "list").output


def test_invalid_identifiers_are_named_and_nothing_is_saved(cli, tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    uscc = text.split('uscc = "')[1].split('"')[0]
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(uscc, uscc[:-1] + ("0" if uscc[-1] != "0" else "1")), encoding="utf-8")
    result = cli("app", "submit", str(bad), ok=False)
    assert "uscc:" in result.output and "统一社会信用代码" in result.output
    assert "(none)" in cli("app", "list").output


def test_illegal_transition_and_stale_version(cli):
    app = submit_json(cli)
    out = cli("app", "complete", app["id"], ok=False).output
    assert "cannot complete" in out
    cli("app", "accept", app["id"], "--expect-version", str(app["version"]))
    stale = cli("app", "reject", app["id"], "--reason", "remarks", "--expect-version", str(app["version"]), ok=False)
    assert "changed meanwhile" in stale.output


def test_audit_verify_detects_an_edited_row(cli, tmp_path):
    submit_json(cli)
    db = sqlite3.connect(tmp_path / "eportcard.db")
    db.execute("DROP TRIGGER audit_no_update")  # an attacker with database access
    db.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 1")
    db.commit()
    db.close()
    out = cli("audit", "verify", ok=False).output
    assert "tampered" in out


def test_console_script_is_installed_and_errors_without_traceback(tmp_path):
    exe = shutil.which("eportcard")
    assert exe, "the eportcard console script is not installed"
    result = subprocess.run([exe, "--config", str(tmp_path / "missing.toml"), "regions"],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "eportcard init" in result.stderr and "Traceback" not in result.stderr
