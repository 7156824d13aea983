"""`eportcard ca` end to end: openssl makes the CSR and checks the results; SQLite holds the records."""

from __future__ import annotations

import grimp
import pytest
from click.testing import CliRunner
from pki_helpers import PASSPHRASE, openssl

from core.ca_cli import ca
from core.cli_context import cli_actor_id
from core.store import open_store


@pytest.fixture
def run(tmp_path):
    runner = CliRunner()
    base = ["--config", str(tmp_path / "absent.toml"), "--db", f"sqlite:///{tmp_path / 'eportcard.db'}"]

    def invoke(*args: str, env: dict | None = None, input: str | None = None):
        command, *rest = args
        environment = {"EPORTCARD_CA_PASSPHRASE": PASSPHRASE} if env is None else env
        return runner.invoke(ca, [command, *base, *rest], env=environment, input=input)
    return invoke


def test_init_issue_revoke_crl(tmp_path, run):
    root_dir, ca_dir = tmp_path / "root", tmp_path / "issuing"
    result = run("init", "--dir", str(root_dir), "--name", "测试根CA", "--algorithm", "ec-p256")
    assert result.exit_code == 0, result.output
    result = run("init", "--dir", str(ca_dir), "--name", "测试发卡CA", "--algorithm", "ec-p256",
                 "--root-dir", str(root_dir))
    assert result.exit_code == 0, result.output

    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tmp_path / "card.key", "-subj", "/CN=card", "-out", tmp_path / "card.csr")
    result = run("issue", "--dir", str(ca_dir), "--csr", str(tmp_path / "card.csr"), "--kind", "operator",
                 "--enterprise", "厦门某某报关有限公司", "--uscc", "91440300MA5EXAMPLA", "--holder", "王五",
                 "--card-id", "card-7", "--algorithm", "ec-p256", "--out", str(tmp_path / "leaf.pem"))
    assert result.exit_code == 0, result.output
    serial = result.output.strip()
    assert len(serial) == 32 and serial == serial.lower()

    verify = ["verify", "-CAfile", root_dir / "ca.cert.pem", "-untrusted", ca_dir / "ca.cert.pem"]
    openssl(*verify, tmp_path / "leaf.pem")
    assert run("crl", "--dir", str(ca_dir), "--out", str(tmp_path / "crl.pem"), "--pem").exit_code == 0
    openssl(*verify, "-crl_check", "-CRLfile", tmp_path / "crl.pem", tmp_path / "leaf.pem")

    result = run("revoke", serial, "--reason", "key_compromise")
    assert result.exit_code == 0, result.output
    shown = run("show", serial)
    assert "revoked (keyCompromise" in shown.output and "card-7" in shown.output
    result = run("crl", "--dir", str(ca_dir), "--out", str(tmp_path / "crl.pem"), "--pem")
    assert "1 entries" in result.output
    after = openssl(*verify, "-crl_check", "-CRLfile", tmp_path / "crl.pem", tmp_path / "leaf.pem",
                    check=False)
    assert after.returncode != 0 and b"certificate revoked" in after.stdout + after.stderr

    assert "测试发卡CA" in run("show", "--dir", str(ca_dir)).output


def _one_line_error(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    return lines[0]


def test_errors_are_one_bilingual_line(tmp_path, run):
    ca_dir = tmp_path / "ca"
    assert run("init", "--dir", str(ca_dir), "--name", "测试CA", "--algorithm", "rsa2048").exit_code == 0
    line = _one_line_error(run("crl", "--dir", str(ca_dir), "--out", str(tmp_path / "x.crl"),
                               env={"EPORTCARD_CA_PASSPHRASE": "wrong"}))
    assert "口令" in line and "passphrase" in line
    assert not (tmp_path / "x.crl").exists()

    line = _one_line_error(run("revoke", "ab" * 16, "--reason", "superseded"))
    assert "ab" * 16 in line and "no certificate" in line

    (tmp_path / "junk.csr").write_text("not a csr")
    line = _one_line_error(run("issue", "--dir", str(ca_dir), "--csr", str(tmp_path / "junk.csr"),
                               "--kind", "legal", "--enterprise", "某公司", "--uscc", "91440300MA5EXAMPLA",
                               "--holder", "赵六"))
    assert "CSR" in line

    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tmp_path / "k", "-subj", "/CN=x", "-out", tmp_path / "ec.csr")
    line = _one_line_error(run("issue", "--dir", str(ca_dir), "--csr", str(tmp_path / "ec.csr"),
                               "--kind", "legal", "--enterprise", "某公司", "--uscc", "91440300MA5EXAMPLA",
                               "--holder", "赵六", "--algorithm", "rsa2048"))
    assert "rsa2048" in line

    line = _one_line_error(run("init", "--dir", str(ca_dir), "--name", "again"))
    assert "overwritten" in line


@pytest.mark.parametrize("weak", ["a", "password", "web card tests", "Aa1Aa1Aa1Aa1", "aaaaaaaaaaaaaaaaaaaaaaaa"])
def test_ca_init_refuses_a_weak_passphrase_and_writes_nothing(tmp_path, run, weak):
    """Issue #9.12: `ca init` accepted the passphrase "a" for the key that is the whole CA."""
    ca_dir = tmp_path / "ca"
    line = _one_line_error(run("init", "--dir", str(ca_dir), "--name", "测试CA", "--algorithm", "ec-p256",
                               env={"EPORTCARD_CA_PASSPHRASE": weak}))
    assert "口令太弱" in line and "passphrase is too weak" in line and "12 characters" in line
    assert not (ca_dir / "ca.key.pem").exists() and not (ca_dir / "ca.cert.pem").exists()


@pytest.mark.parametrize("strong", ["Kp7-zq2!Wm4x", "四个汉字也行吗 correct horse", "correct horse battery staple"])
def test_ca_init_takes_a_strong_passphrase(tmp_path, run, strong):
    result = run("init", "--dir", str(tmp_path / "ca"), "--name", "测试CA", "--algorithm", "ec-p256",
                 env={"EPORTCARD_CA_PASSPHRASE": strong})
    assert result.exit_code == 0, result.output


def test_every_certificate_change_is_audited_as_whoever_ran_the_command(tmp_path, run):
    """Issue #10: `ca` works through services.certificates, one transaction per command with its audit
    row, as the CLI's other commands are audited (system:cli:<operating system user>)."""
    ca_dir = tmp_path / "ca"
    assert run("init", "--dir", str(ca_dir), "--name", "测试CA", "--algorithm", "ec-p256").exit_code == 0
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", tmp_path / "k", "-subj", "/CN=x", "-out", tmp_path / "card.csr")
    issued = run("issue", "--dir", str(ca_dir), "--csr", str(tmp_path / "card.csr"), "--kind", "operator",
                 "--enterprise", "某公司", "--uscc", "91440300MA5EXAMPLA", "--holder", "赵六", "--card-id", "card-9",
                 "--algorithm", "ec-p256", "--out", str(tmp_path / "leaf.pem"))
    serial = issued.output.strip()
    for command in (["hold", serial], ["release", serial], ["revoke", serial, "--reason", "superseded"]):
        assert run(*command).exit_code == 0
    assert run("release", serial).exit_code != 0  # refused: nothing changed, nothing audited

    store = open_store(f"sqlite:///{tmp_path / 'eportcard.db'}", tmp_path / "blobs")
    try:
        with store.transaction(readonly=True) as tx:
            trail = [(e.actor, e.action, e.entity, e.entity_id, e.payload.get("reason")) for e in tx.audit.all()]
        assert store.audit_verify().problems == []
    finally:
        store.dispose()
    me = f"system:{cli_actor_id()}"
    assert trail == [(me, "issue", "certificate", serial, None), (me, "hold", "certificate", serial, None),
                     (me, "release", "certificate", serial, None),
                     (me, "revoke", "certificate", serial, "superseded")]


def test_the_ca_command_line_reaches_the_database_and_the_ca_only_through_the_service():
    graph = grimp.build_graph("core", cache_dir=None)
    direct = graph.find_modules_directly_imported_by("core.ca_cli")
    assert not {name for name in direct if name.startswith(("core.store", "core.pki"))}
