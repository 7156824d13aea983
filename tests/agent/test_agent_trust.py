"""The agent's local CA (core/agent/tls.py) and ``eportcard agent trust`` (core/agent/trust.py), run against a
temporary root (system store, hosts file) and HOME (NSS database), never the machine's own.
update-ca-certificates and certutil are the real ones: a missing one FAILS the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.agent import trust
from core.agent.tls import LocalTls
from core.errors import ConfigError

from .conftest import ROOT


@pytest.fixture(autouse=True)
def _tools():
    for tool in ("certutil", "update-ca-certificates", "openssl"):
        assert shutil.which(tool), f"{tool} is missing: bash scripts/install-system.sh"


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, check=False)


def test_the_local_ca_signs_for_this_pc_only(tmp_path):
    tls = LocalTls(tmp_path / "tls").ensure()
    assert oct((tmp_path / "tls" / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "tls" / "server-key.pem").stat().st_mode & 0o777) == "0o600"
    server = str(tls.server_path)
    assert _openssl("verify", "-CAfile", str(tls.ca_path), server).returncode == 0
    for name in ("wss.singlewindow.cn", "localhost"):
        checked = _openssl("verify", "-CAfile", str(tls.ca_path), "-verify_hostname", name, server)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    assert _openssl("verify", "-CAfile", str(tls.ca_path), "-verify_ip", "127.0.0.1", server).returncode == 0
    # The CA's Name Constraints: a certificate it signed for another site does not verify.
    stray = tmp_path / "stray.pem"
    stray.write_bytes(tls.issue(("www.bank.example",), ec.generate_private_key(ec.SECP256R1()),
                                datetime.now(UTC)).public_bytes(serialization.Encoding.PEM))
    refused = _openssl("verify", "-CAfile", str(tls.ca_path), str(stray))
    assert refused.returncode != 0 and "subtree" in (refused.stdout + refused.stderr).lower()


def test_ensure_keeps_what_is_there_and_renews_a_server_certificate_near_its_end(tmp_path):
    tls = LocalTls(tmp_path / "tls").ensure()
    ca, server = tls.ca_path.read_bytes(), tls.server_path.read_bytes()
    tls.ensure()
    assert (tls.ca_path.read_bytes(), tls.server_path.read_bytes()) == (ca, server)
    expires = x509.load_pem_x509_certificate(server).not_valid_after_utc
    tls.ensure(now=expires - timedelta(days=10))
    assert tls.ca_path.read_bytes() == ca and tls.server_path.read_bytes() != server
    renewed = x509.load_pem_x509_certificate(tls.server_path.read_bytes())
    assert renewed.not_valid_after_utc > expires
    tls.server_context()  # the new key matches the new certificate


def test_a_folder_that_cannot_be_written_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError) as refused:
        LocalTls(blocker / "tls").ensure()
    assert refused.value.field == "agent.tls_dir" and "本地证书" in refused.value.zh
    assert "local certificates" in refused.value.en


def _stand_in_system_ca(root: Path) -> x509.Certificate:
    """One CA already in the temporary system store, as a real machine has (the bundle is rebuilt around it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stand-in Root CA")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (root / "usr/share/ca-certificates/stand-in").mkdir(parents=True)
    (root / "usr/share/ca-certificates/stand-in/root.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/ca-certificates.conf").write_text("stand-in/root.crt\n")
    return cert


def _bundle(root: Path) -> str:
    return (root / "etc/ssl/certs/ca-certificates.crt").read_text()


def _nss_nicknames(home: Path) -> str:
    return subprocess.run(["certutil", "-L", "-d", f"sql:{home / '.pki/nssdb'}"], capture_output=True, text=True,
                          timeout=60, check=True).stdout


def _cli(*args: str, home: Path, tls_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["eportcard", "agent", "trust", "--tls-dir", str(tls_dir), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "HOME": str(home)})


def test_trust_and_remove_end_to_end(tmp_path):
    root, home, tls_dir = tmp_path / "root", tmp_path / "home", tmp_path / "tls"
    _stand_in_system_ca(root)
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n")
    firefox = home / ".mozilla/firefox/abcd.default-release"
    firefox.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{firefox}", "--empty-password"], check=True, timeout=60)

    shown = _cli("--root", str(root), home=home, tls_dir=tls_dir)  # no --hosts: the line is offered, not written
    assert shown.returncode == 0, shown.stderr
    assert trust.HOSTS_LINE in shown.stdout and (root / "etc/hosts").read_text() == "127.0.0.1 localhost\n"
    ca_pem = (tls_dir / "ca.pem").read_text()
    assert ca_pem in _bundle(root) and "Stand-in" not in ca_pem
    assert (root / "usr/local/share/ca-certificates" / trust.SYSTEM_FILE).read_text() == ca_pem
    assert trust.NICKNAME in _nss_nicknames(home)
    firefox_list = subprocess.run(["certutil", "-L", "-d", f"sql:{firefox}"], capture_output=True, text=True,
                                  check=True, timeout=60).stdout
    assert trust.NICKNAME in firefox_list and "C,," in firefox_list

    # Trusting again neither duplicates anything nor changes the CA.
    again = _cli("--root", str(root), "--hosts", home=home, tls_dir=tls_dir)
    assert again.returncode == 0, again.stderr
    assert _nss_nicknames(home).count(trust.NICKNAME) == 1 and (tls_dir / "ca.pem").read_text() == ca_pem
    assert _bundle(root).count(ca_pem.strip()) == 1
    assert (root / "etc/hosts").read_text() == "127.0.0.1 localhost\n" + trust.HOSTS_LINE + "\n"
    assert "already" in _cli("--root", str(root), "--no-system", "--no-nss", home=home, tls_dir=tls_dir).stdout

    removed = _cli("--root", str(root), "--remove", "--hosts", home=home, tls_dir=tls_dir)
    assert removed.returncode == 0, removed.stderr
    assert ca_pem not in _bundle(root) and "BEGIN CERTIFICATE" in _bundle(root)  # the stand-in stays
    assert not (root / "usr/local/share/ca-certificates" / trust.SYSTEM_FILE).exists()
    assert trust.NICKNAME not in _nss_nicknames(home)
    assert (root / "etc/hosts").read_text() == "127.0.0.1 localhost\n"
    quiet = _cli("--root", str(root), "--remove", "--hosts", home=home, tls_dir=tls_dir)
    assert quiet.returncode == 0 and "nothing to remove" in quiet.stdout


def test_a_hosts_line_someone_else_wrote_is_left_alone(tmp_path):
    places = trust.TrustPlaces(root=tmp_path, home=tmp_path / "home")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/hosts").write_text("127.0.0.1   wss.singlewindow.cn  # the official installer\n")
    assert trust.hosts_has_entry(places) and trust.add_hosts_entry(places) is False
    assert trust.remove_hosts_entry(places) is False
    assert "official installer" in (tmp_path / "etc/hosts").read_text()


def test_without_root_the_system_store_is_refused_and_untouched(tmp_path, monkeypatch):
    tls = LocalTls(tmp_path / "tls").ensure()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    system_dir = trust.TrustPlaces().system_dir
    real_access = os.access  # a user may not write the store (but may still run programs)
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) in (system_dir, Path("/"))
                        else real_access(path, mode))
    with pytest.raises(ConfigError) as refused:
        trust.trust_system(tls, trust.TrustPlaces(root=Path("/"), home=tmp_path))
    assert "sudo" in refused.value.zh and "--no-system" in refused.value.en
    assert not Path("/usr/local/share/ca-certificates", trust.SYSTEM_FILE).exists()


def test_a_missing_tool_is_named_with_its_package(tmp_path):
    """certutil not on PATH: a bilingual error naming the Debian package, and no NSS database made."""
    run = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "agent", "trust", "--no-system",
                          "--tls-dir", str(tmp_path / "tls")], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False,
                         env={**os.environ, "HOME": str(tmp_path / "home"), "PATH": str(tmp_path / "empty")})
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "libnss3-tools" in run.stderr and "certutil" in run.stderr and "找不到" in run.stderr
    assert not (tmp_path / "home/.pki").exists()
