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
    cli("app", "make", no, "1")
    cli("app", "make", no, "2")
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


@pytest.mark.parametrize("args, zh, en", [
    (["deadline", "xiamen", "renew", "--from", "2026-01-02", "--lang", "fr"], "--lang 的值无效，可选：zh, en",
     "Invalid value for '--lang'"),
    (["app", "list", "--state", "bogus"], "--state 的值无效，可选：draft", "'bogus' is not one of"),
    (["app", "reject", "X"], "缺少 --reason，可选：materials_incomplete", "Missing option '--reason'"),
    (["app", "list", "--limit", "many"], "--limit 的值无效", "'many' is not a valid integer"),
    (["--bogus"], "没有选项 --bogus", "No such option '--bogus'"),
    (["app", "lst"], "没有命令 lst", "No such command 'lst'"),
    (["deadline", "xiamen"], "缺少 BUSINESS", "Missing argument 'BUSINESS'"),
])
def test_usage_mistakes_are_one_bilingual_line_not_the_usage_block(tmp_path, args, zh, en):
    """Issue #9.12: a bad choice or option printed click's multi-line usage block in English only."""
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "eportcard.toml"), *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Usage:" not in result.output, result.output
    assert zh in lines[0] and en in lines[0] and "--help" in lines[0]


def test_help_and_a_bare_group_still_show_the_usage(tmp_path):
    runner = CliRunner()
    shown = runner.invoke(main, ["deadline", "--help"])
    assert shown.exit_code == 0 and shown.output.startswith("Usage: main deadline [OPTIONS]")
    bare = runner.invoke(main, ["app"])
    assert "Usage: main app [OPTIONS]" in bare.output and "submit" in bare.output
