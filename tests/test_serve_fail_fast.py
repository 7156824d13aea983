"""Issue #20 item 4: `eportcard serve` refuses to start, in one bilingual line and before it says
"serving on", when a part it needs is missing: a CA that cannot be unlocked (no passphrase, a wrong
one, no card master secret), a port another process holds, a `[regions] default` that is not
enabled, a `[pki] algorithm` that does not exist. Each runs the installed `eportcard serve` as a
process, as systemd would."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main
from core.pki.ca import CertificateAuthority
from core.services.cards import create_master_secret

PASSPHRASE = "fail fast tests passphrase 2026"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    config = tmp_path / "eportcard.toml"
    made = CliRunner().invoke(main, ["-c", str(config), "init", "--region", "shenzhen", "--enable", "shenzhen"])
    assert made.exit_code == 0, made.output
    return config


def serve(config: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None):
    exe = shutil.which("eportcard")
    assert exe, "the eportcard console script is not installed"
    clean = {k: v for k, v in os.environ.items() if k not in ("EPORTCARD_CA_PASSPHRASE", "CREDENTIALS_DIRECTORY",
                                                               "EPORTCARD_CONFIG")}
    try:
        return subprocess.run([exe, "-c", str(config), "serve", "--port", str(port or free_port()), *args],
                              capture_output=True, text=True, timeout=60, env=clean | (env or {}))
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"serve started instead of refusing: {exc.stdout!r} {exc.stderr!r}")


def assert_refused(result, *words: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "serving on" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert " / " in lines[0] and any("\u4e00" <= ch <= "\u9fff" for ch in lines[0]), lines[0]  # zh / en
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def with_ca(deployment: Path) -> Iterator[Path]:
    CertificateAuthority.init(deployment.parent / "ca", "电子口岸测试CA", PASSPHRASE, "ec-p256")
    create_master_secret(deployment.parent / "card-master.key")
    yield deployment


def test_a_ca_without_its_passphrase(with_ca: Path):
    assert_refused(serve(with_ca), "no passphrase to unlock it", "EPORTCARD_CA_PASSPHRASE", "ca_passphrase",
                   "passphrase_file", "口令")


def test_a_ca_with_a_wrong_passphrase(with_ca: Path):
    result = serve(with_ca, env={"EPORTCARD_CA_PASSPHRASE": "not the passphrase"})
    assert_refused(result, "wrong CA key passphrase", "口令")
    assert "not the passphrase" not in result.stderr


def test_a_ca_without_the_card_master_secret(with_ca: Path):
    (with_ca.parent / "card-master.key").unlink()
    assert_refused(serve(with_ca, env={"EPORTCARD_CA_PASSPHRASE": PASSPHRASE}), "counter init-master")


def test_a_port_another_process_holds(deployment: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_refused(serve(deployment, port=port), f"port {port}", "already in use", "--port", "占用")


def test_a_default_region_that_is_not_enabled(deployment: Path):
    text = deployment.read_text(encoding="utf-8").replace('default = "shenzhen"', 'default = "xian"')
    deployment.write_text(text, encoding="utf-8")
    assert_refused(serve(deployment), "[regions] default = 'xian'", "enabled: shenzhen", "不是已启用的地区")


def test_a_key_algorithm_that_does_not_exist(deployment: Path):
    text = deployment.read_text(encoding="utf-8").replace('algorithm = "ec-p256"', 'algorithm = "ed25519"')
    deployment.write_text(text, encoding="utf-8")
    assert_refused(serve(deployment), "[pki] algorithm cannot be 'ed25519'", "rsa2048", "ec-p256", "sm2")
