"""`eportcard serve`'s process options: [web] workers (and --workers), the access log on or off, and the
event loop and HTTP parser it runs on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from core.cli import main
from core.config import load_settings
from core.errors import ConfigError
from core.web.app import create_app
from core.web.cli import quiet_access, server_options


@pytest.mark.parametrize("workers", ["0", "65", "-1"])
def test_a_worker_count_out_of_range_is_refused_in_both_languages(tmp_path: Path, workers: str):
    config = tmp_path / "eportcard.toml"
    assert CliRunner().invoke(main, ["-c", str(config), "init"]).exit_code == 0
    config.write_text(config.read_text().replace("workers = 1 ", f"workers = {workers} ", 1))
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    assert refused.value.field == "web.workers" and "1 到 64" in refused.value.zh and "from 1 to 64" in refused.value.en
    result = CliRunner().invoke(main, ["-c", str(config), "serve", "--port", "1"])
    assert result.exit_code != 0 and "[web] workers" in result.output
    cli = CliRunner().invoke(main, ["-c", str(tmp_path / "none.toml"), "serve", "--workers", "0"])
    assert cli.exit_code == 2 and "--workers" in cli.output  # click's own range check


def test_the_access_log_can_be_turned_off(services, caplog):
    client = TestClient(create_app(services))
    try:
        quiet_access(False)
        with caplog.at_level(logging.INFO):
            assert client.get("/healthz").status_code == 200
        assert not [r for r in caplog.records if r.name == "core.web.access"]
        quiet_access(True)
        with caplog.at_level(logging.INFO):
            client.get("/healthz")
        assert [r.getMessage() for r in caplog.records if r.name == "core.web.access"][-1].startswith("GET /healthz 200")
    finally:
        logging.getLogger("core.web.access").setLevel(logging.NOTSET)


def test_serve_runs_on_uvloop_and_httptools_when_installed():
    """Both are dependencies (pyproject.toml) on CPython outside Windows: the fastest pair uvicorn knows."""
    assert server_options() == {"loop": "uvloop", "http": "httptools"}
