"""Issue #20 item 8: the deployment guide works as written, and the systemd units in deploy/systemd/
are valid. Every `eportcard …` command line in docs/deployment.md and in the units resolves with the
real command line (command path and options); the guide's commands run in order on a fresh folder;
systemd-analyze verifies the units (the system ones as root's, the agent's as a user's)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from core.cli import main

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "deployment.md"
UNITS = ROOT / "deploy" / "systemd"
SYSTEM_UNITS = ("eportcard@.service", "eportcard-jobs.service", "eportcard-jobs.timer")
USER_UNITS = ("user/eportcard-agent.service",)
INSTALLED = "/opt/eportcard/bin/eportcard"
# The guide's commands that do not end by themselves or need a card reader: parsed, not run.
NOT_RUN = {"serve"}


def guide_blocks() -> list[list[str]]:
    """The `eportcard` command lines of the guide's shell blocks, in order (comments dropped)."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            for command in " ".join(shlex.quote(w) for w in words).split(" '&&' "):
                parts = shlex.split(command)
                if parts[:1] == ["eportcard"]:
                    lines.append(parts[1:])
    return lines


def guide_inline() -> list[list[str]]:
    """`eportcard …` written inline in the guide's prose (placeholders such as REGION included)."""
    spans = re.findall(r"`(eportcard [^`]+)`", GUIDE.read_text(encoding="utf-8"))
    return [shlex.split(" ".join(span.split()))[1:] for span in spans]


def unit_commands() -> list[list[str]]:
    found = []
    for name in SYSTEM_UNITS + USER_UNITS:
        for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
            if line.startswith("ExecStart="):
                for command in re.findall(r"(?:/opt/eportcard/bin/|%h/\.local/share/eportcard/bin/)eportcard"
                                          r"([^;']*)", line):
                    found.append(shlex.split(command.replace("%i", "8000")))
    return found


def resolve(args: list[str]) -> click.Command:
    """The command ``eportcard ARGS`` runs, its options checked against it; nothing is run."""
    command: click.Command = main
    options: set[str] = {"-c", "--config"}
    words = list(args)
    path = ["eportcard"]
    while isinstance(command, click.Group):
        if words == ["--version"] and command is main:
            return main
        while words and words[0].startswith("-"):  # the group's own options, e.g. -c FILE
            assert words.pop(0) in options, (args, path)
            words.pop(0)
        if not words and command.invoke_without_command:
            return command  # a group that runs itself, e.g. `eportcard agent`
        assert words, f"{' '.join(args)}: no command after {' '.join(path)}"
        name = words.pop(0)
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"{' '.join(args)}: no command {name!r} in {' '.join(path)}"
        command, path = found, [*path, name]
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words:
        if word.startswith("-"):
            assert word.split("=")[0] in options | {"--help", "-h"}, f"{' '.join(args)}: {word} is not an option"
    return command


def test_the_guide_and_the_units_name_real_commands_and_options():
    commands = guide_blocks() + guide_inline() + unit_commands()
    assert len(guide_blocks()) >= 15 and len(unit_commands()) == 6
    for args in commands:
        resolve(args)
    with pytest.raises(AssertionError):
        resolve(["staff", "add", "wang", "--regoin", "shenzhen"])
    with pytest.raises(AssertionError):
        resolve(["db", "upgrad"])


def test_the_guide_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """From `eportcard init` to the staff accounts, every command of the guide's blocks in order, in an
    empty folder; the prompts (passwords) are answered as an operator would."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EPORTCARD_CONFIG", raising=False)
    monkeypatch.setenv("EPORTCARD_CA_PASSPHRASE", "guide tests passphrase 2026")  # the guide's `export`
    runner = CliRunner()
    ran = []
    for args in guide_blocks():
        if args[0] in NOT_RUN:
            continue
        result = runner.invoke(main, args, input="Guide2026pass!\nGuide2026pass!\n")
        assert result.exit_code == 0, (args, result.output)
        ran.append(" ".join(args[:2]))
    assert {"init --region", "ca init", "counter init-master", "staff add", "staff disable"} <= set(ran)
    listed = runner.invoke(main, ["staff", "list", "--region", "shenzhen"]).output
    assert "zhang\tshenzhen\tbranch_admin\tactive" in listed and "wang\tshenzhen\tcard_maker,reviewer\tdisabled" in listed


def _texts(names: tuple[str, ...]) -> dict[str, str]:
    """The units as installed here: running the eportcard installed on this machine (they name the
    guide's /opt/eportcard)."""
    installed = shutil.which("eportcard")
    assert installed
    real = os.path.realpath(installed)
    return {name: (UNITS / name).read_text(encoding="utf-8").replace(INSTALLED, real)
            .replace("%h/.local/share/eportcard/bin/eportcard", real) for name in names}


def _verify(units: dict[str, str], folder: Path, *, user: bool) -> None:
    """systemd-analyze verify; a warning is a failure too."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: scripts/install-system.sh installs the systemd package"
    copies = []
    for name, text in units.items():
        copy = folder / Path(name).name.replace("@.", "@8000.")
        copy.write_text(text, encoding="utf-8")
        copies.append(str(copy))
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice")
    if user:
        runtime = folder / "runtime"
        runtime.mkdir(mode=0o700)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    run = subprocess.run([analyze, "verify", "--man=no", *(["--user"] if user else []), *copies],
                         capture_output=True, text=True, env=env, check=False, timeout=120)
    assert run.returncode == 0 and not (run.stdout + run.stderr).strip(), run.stdout + run.stderr


def test_the_system_units_verify(tmp_path: Path):
    _verify(_texts(SYSTEM_UNITS), tmp_path, user=False)


def test_the_agent_user_unit_verifies(tmp_path: Path):
    _verify(_texts(USER_UNITS), tmp_path, user=True)


def test_a_misspelt_setting_fails_verification(tmp_path: Path):
    """The check can fail: systemd only warns about an unknown key, and the warning counts."""
    units = _texts(("eportcard-jobs.service",))
    units["eportcard-jobs.service"] = units["eportcard-jobs.service"].replace("ProtectHome=", "ProtectHom=")
    with pytest.raises(AssertionError, match="ProtectHom"):
        _verify(units, tmp_path, user=False)
