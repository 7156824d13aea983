"""The agent's local CA and its certificate for ``wss://wss.singlewindow.cn:61231``.

The official library connects to ``wss://wss.singlewindow.cn:61231`` from every page that is not
``http:`` (client.js ``conn``; docs/agent.md). The official installer maps that name to 127.0.0.1 and
trusts a local certificate; eportcard does the same with a CA made on this PC on the agent's first
run (or by ``eportcard agent trust``), which ``eportcard agent trust`` installs into the system store
and the browsers' NSS databases.

The CA can sign for nothing but this PC: its Name Constraints extension (RFC 5280, 4.2.1.10, marked
critical) permits only ``wss.singlewindow.cn``, ``localhost`` and the loopback addresses, so even a
stolen CA key cannot impersonate another site to a browser that trusts it. Its key stays in the TLS
folder (owner-only) to renew the server certificate, which is re-issued when it nears its end.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.errors import ConfigError
from core.private_files import create_private_file

OFFICIAL_HOST = "wss.singlewindow.cn"  # client.js: the name every non-http page connects to
WSS_PORT = 61231
LOCAL_NAMES = (OFFICIAL_HOST, "localhost")
LOCAL_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
CA_NAME = "eportcard agent local CA"
CA_DAYS = 3650
SERVER_DAYS = 397  # the longest a browser accepts for a publicly trusted server certificate
RENEW_BEFORE = timedelta(days=30)
TLS_DIR_ENV = "EPORTCARD_AGENT_TLS_DIR"

CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY = "ca.pem", "ca-key.pem", "server.pem", "server-key.pem"


def default_dir() -> Path:
    """``$EPORTCARD_AGENT_TLS_DIR``, else ``$XDG_DATA_HOME/eportcard/agent-tls`` (XDG Base Directory
    Specification: ``~/.local/share`` when unset)."""
    if os.environ.get(TLS_DIR_ENV):
        return Path(os.environ[TLS_DIR_ENV])
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "eportcard" / "agent-tls"


@frozen
class LocalTls:
    """The TLS folder: the CA certificate and key, the server certificate and key."""

    directory: Path

    @property
    def ca_path(self) -> Path:
        return self.directory / CA_CERT

    @property
    def server_path(self) -> Path:
        return self.directory / SERVER_CERT

    def ca_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.ca_path.read_bytes())

    def ensure(self, now: datetime | None = None) -> LocalTls:
        """Make the CA on first use; (re-)issue the server certificate when missing or near its end."""
        now = now or datetime.now(UTC)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.ca_path.exists():
                self._make_ca(now)
            if self._server_needs_renewal(now):
                self._issue_server(now)
        except OSError as exc:
            raise ConfigError(f"无法在 {self.directory} 建立读卡控件的本地证书：{exc}",
                              f"cannot make the card agent's local certificates in {self.directory}: {exc}",
                              field="agent.tls_dir") from None
        return self

    def server_context(self) -> ssl.SSLContext:
        """The server side of wss: TLS 1.2 or later with the server certificate and its CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_path, self.directory / SERVER_KEY)
        return context

    def issue(self, names: tuple[str, ...], key: ec.EllipticCurvePrivateKey, now: datetime,
              days: int = SERVER_DAYS) -> x509.Certificate:
        """A server certificate from the local CA for ``names`` (host names or IP addresses it permits)."""
        ca_key = serialization.load_pem_private_key((self.directory / CA_KEY).read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca = self.ca_certificate()
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(min(now + timedelta(days=days), ca.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
        )
        return builder.sign(ca_key, hashes.SHA256())

    # -- making and renewing ---------------------------------------------------------------------------

    def _make_ca(self, now: datetime) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{CA_NAME} ({socket.gethostname()})"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "eportcard")])
        permitted: list[x509.GeneralName] = [x509.DNSName(n) for n in LOCAL_NAMES]
        permitted += [x509.IPAddress(ipaddress.ip_network(a)) for a in ("127.0.0.0/8", "::1/128")]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                           critical=True)
            .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        for stale in (SERVER_CERT, SERVER_KEY):  # a server certificate of an earlier CA
            (self.directory / stale).unlink(missing_ok=True)
        (self.directory / CA_KEY).unlink(missing_ok=True)
        create_private_file(self.directory / CA_KEY, _pem_key(key), what=("本地CA私钥", "the local CA key"),
                            field="agent.tls_dir")
        self.ca_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    def _server_needs_renewal(self, now: datetime) -> bool:
        if not self.server_path.exists() or not (self.directory / SERVER_KEY).exists():
            return True
        server = x509.load_pem_x509_certificate(self.server_path.read_bytes())
        return server.not_valid_after_utc - RENEW_BEFORE < now or server.issuer != self.ca_certificate().subject

    def _issue_server(self, now: datetime) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = self.issue(LOCAL_NAMES + tuple(str(a) for a in LOCAL_ADDRESSES), key, now)
        (self.directory / SERVER_KEY).unlink(missing_ok=True)
        create_private_file(self.directory / SERVER_KEY, _pem_key(key),
                            what=("读卡控件TLS私钥", "the agent's TLS key"), field="agent.tls_dir")
        self.server_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())

