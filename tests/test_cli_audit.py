"""`eportcard audit`: the keyed chain, checkpoints kept elsewhere, and exit codes (0 intact, 1 broken,
2 not checkable), on a fresh SQLite deployment made by `eportcard init`."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main
from core.store import Store, open_store
from core.store.testing import rewrite_audit

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "enrol-shenzhen.toml"


class Deployment:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "eportcard.toml"
        self.key_file = folder / "audit.key"
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0):
        result = self.runner.invoke(main, ["--config", str(self.config), *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    def submit(self) -> str:
        return str(json.loads(self("app", "submit", str(EXAMPLE), "--json").stdout)["id"])

    def tamper(self) -> Iterator[Store]:
        store = open_store(f"sqlite:///{self.folder / 'eportcard.db'}", self.folder / "blobs")
        try:
            yield store
        finally:
            store.dispose()


@pytest.fixture
def cli(tmp_path: Path) -> Deployment:
    deployment = Deployment(tmp_path)
    made = deployment("init").output
    assert "audit key created" in made
    return deployment


def rewrite(cli: Deployment, *args, **kwargs) -> None:
    for store in cli.tamper():
        rewrite_audit(store, *args, **kwargs)


def test_init_makes_an_owner_only_key_and_the_chain_is_keyed_from_its_first_row(cli):
    assert stat.S_IMODE(cli.key_file.stat().st_mode) == 0o600
    key = cli.key_file.read_text()
    assert len(bytes.fromhex(key.strip())) == 32 and key.strip() not in cli("init", "--force").output
    assert cli.key_file.read_text() == key  # never overwritten
    cli.submit()
    assert "intact: 2 rows, keyed from row 1" in cli("audit", "verify").output


def test_an_edit_with_every_later_hash_and_the_head_recomputed_fails_verify(cli):
    app_id = cli.submit()
    cli("app", "accept", app_id)
    rewrite(cli, {1: {"actor": "someone-else"}})
    out = cli("audit", "verify", code=1).output
    assert "审计记录被篡改 / audit trail tampered" in out and "no row is keyed" in out


def test_a_checkpoint_kept_elsewhere_catches_rows_cut_off_the_end(cli, tmp_path):
    app_id = cli.submit()
    cli("audit", "checkpoint", "--out", str(tmp_path / "monday.json"))
    cli("app", "accept", app_id)
    printed = cli("audit", "checkpoint").stdout
    (tmp_path / "tuesday.json").write_text(printed)
    assert {"format", "seq", "hash", "taken_at", "key_id", "hmac"} == set(json.loads(printed))
    both = ["--checkpoint", str(tmp_path / "monday.json"), "--checkpoint", str(tmp_path / "tuesday.json")]
    assert "contains 2 checkpoint(s)" in cli("audit", "verify", *both).output
    rewrite(cli, keep_until=json.loads(printed)["seq"] - 1)  # delete the last row, rewind the head
    cli("audit", "verify")  # nothing in the database shows it
    out = cli("audit", "verify", *both, code=1).output
    assert "rows cut off the end and audit_head rewound" in out


def test_a_forged_checkpoint_is_refused_with_exit_2(cli, tmp_path):
    cli.submit()
    checkpoint = json.loads(cli("audit", "checkpoint").stdout)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**checkpoint, "seq": checkpoint["seq"] - 1}))
    out = cli("audit", "verify", "--checkpoint", str(forged), code=2).output
    assert "could not be fully checked" in out and "refused" in out
    forged.write_text("not json")
    out = cli("audit", "verify", "--checkpoint", str(forged), code=2).output
    assert len(out.strip().splitlines()) == 1 and "无法核验审计记录" in out and "not an audit checkpoint" in out


def test_a_keyed_chain_without_its_key_cannot_be_checked_nor_continued(cli):
    app_id = cli.submit()
    cli.key_file.unlink()
    out = cli("audit", "verify", code=2).output
    assert "could not be fully checked" in out and "no audit key is configured" in out
    refused = cli("app", "accept", app_id, code=1).output
    assert "审计记录已用审计密钥签名" in refused and "restore [audit] key_file" in refused
    lost = cli("audit", "init-key", code=1).output  # a new key would not do: the old one must come back
    assert "restore [audit] key_file" in lost and not cli.key_file.exists()
    cli.key_file.write_text("damaged")
    out = cli("audit", "verify", code=2).output
    assert len(out.strip().splitlines()) == 1 and "the audit key" in out and "is damaged" in out


def test_an_unreachable_database_cannot_be_checked(tmp_path):
    deployment = Deployment(tmp_path)
    deployment.config.write_text('[database]\nurl = "postgresql+psycopg://nobody:x@127.0.0.1:9/none"\n')
    out = deployment("audit", "verify", code=2).output
    assert len(out.strip().splitlines()) == 1
    assert "无法核验审计记录" in out and "cannot read the audit trail" in out and "reachable" in out


def test_an_unkeyed_deployment_is_warned_and_init_key_keys_it(cli):
    cli.key_file.unlink()  # as a deployment from before the audit key
    app_id = cli.submit()
    result = cli("audit", "verify")
    assert "intact: 2 rows / " in result.stdout and "the audit chain is not keyed" in result.stderr
    assert "no audit key is configured" in cli("audit", "checkpoint", code=1).output
    out = cli("audit", "init-key").output
    assert "audit key created" in out and "keyed from row 3" in out
    assert "keyed already" in cli("audit", "init-key").output
    cli("app", "accept", app_id)
    result = cli("audit", "verify")
    assert "intact: 4 rows, keyed from row 3" in result.stdout and not result.stderr
