"""Issue #9 items 1 and 4 at the command line: `eportcard init` makes the config (session key,
database password) and the SQLite database readable by their owner only and its folders 0700;
`eportcard serve` says loudly when secret files are readable by others, and refuses to start with
the development SMS outbox unless development mode is set, or in development mode on a public address.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner

from core.cli import main


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common 022 umask, under which plain writes come out world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def served(monkeypatch) -> list[dict]:
    """``uvicorn.run`` calls, recorded instead of serving."""
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    return calls


def eportcard(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def test_init_makes_the_config_and_database_private(tmp_path: Path):
    folder = tmp_path / "srv" / "eportcard"
    config = folder / "eportcard.toml"
    made = eportcard(config, "init")
    assert made.exit_code == 0, made.output
    assert mode(config) == 0o600 and mode(folder / "eportcard.db") == 0o600
    for companion in ("eportcard.db-wal", "eportcard.db-shm"):
        if (folder / companion).exists():
            assert mode(folder / companion) == 0o600
    assert mode(folder) == mode(tmp_path / "srv") == mode(folder / "blobs") == 0o700

    config.chmod(0o644)
    again = eportcard(config, "init", "--force")
    assert again.exit_code == 0, again.output
    assert mode(config) == 0o600


def test_init_leaves_existing_folders_alone(tmp_path: Path):
    tmp_path.chmod(0o755)
    assert eportcard(tmp_path / "eportcard.toml", "init").exit_code == 0
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "eportcard.toml") == 0o600


def test_serve_warns_loudly_about_secrets_others_can_read(tmp_path: Path, served: list[dict]):
    config = tmp_path / "eportcard.toml"
    assert eportcard(config, "init").exit_code == 0
    quiet = eportcard(config, "serve")
    assert quiet.exit_code == 0, quiet.output
    assert "WARNING" not in quiet.output and len(served) == 1
    config.chmod(0o644)
    (tmp_path / "eportcard.db").chmod(0o640)
    loud = eportcard(config, "serve")
    assert loud.exit_code == 0 and len(served) == 2
    assert "WARNING" in loud.stderr and "警告" in loud.stderr
    assert str(config) in loud.stderr and str(tmp_path / "eportcard.db") in loud.stderr
    assert "chmod 600" in loud.stderr


def test_serve_without_a_gateway_says_codes_cannot_be_sent(tmp_path: Path, served: list[dict]):
    config = tmp_path / "eportcard.toml"
    assert eportcard(config, "init").exit_code == 0
    started = eportcard(config, "serve")
    assert started.exit_code == 0 and len(served) == 1
    assert "no SMS gateway is configured" in started.stderr and "未配置短信网关" in started.stderr


def _with(config: Path, *edits: tuple[str, str]) -> None:
    text = config.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")


def test_serve_refuses_the_outbox_without_development_mode(tmp_path: Path, served: list[dict]):
    config = tmp_path / "eportcard.toml"
    assert eportcard(config, "init").exit_code == 0
    _with(config, ('gateway = "none"', 'gateway = "outbox"'))
    refused = eportcard(config, "serve")
    assert refused.exit_code != 0 and served == []
    message = refused.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "outbox" in message and "[web] development = true" in message and "开发" in message
    assert "docs/deployment.md" in message


def test_serve_refuses_development_mode_on_a_public_address(tmp_path: Path, served: list[dict]):
    config = tmp_path / "eportcard.toml"
    assert eportcard(config, "init").exit_code == 0
    _with(config, ('gateway = "none"', 'gateway = "outbox"'), ("development = false", "development = true"))
    for host in ("0.0.0.0", "192.0.2.10", "::"):
        refused = eportcard(config, "serve", "--host", host)
        assert refused.exit_code != 0 and served == []
        assert "development" in refused.stderr and "127.0.0.1" in refused.stderr and host in refused.stderr
    local = eportcard(config, "serve", "--host", "127.0.0.1")
    assert local.exit_code == 0 and served[0]["host"] == "127.0.0.1"
