"""Issue #20 item 6: behind a reverse proxy. The client address comes from X-Forwarded-For only when the
connection's peer is one of [web] trusted_proxies (the rightmost address that is not a trusted proxy),
and X-Forwarded-Proto from them makes the session cookie Secure; so one proxy address no longer locks
every user out of logging in. The worked nginx example (deploy/nginx/eportcard.conf) passes `nginx -t`
and proxies real requests over TLS to the app, with the headers the app needs."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient
from webkit import PASSWORD, free_port, serving

from core.cli import main
from core.config import WebSettings, parse_settings
from core.errors import ConfigError
from core.services import Services
from core.services.accounts import create_user
from core.web.app import create_app
from core.web.logs import configured_logging

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "nginx" / "eportcard.conf"
GUIDE = ROOT / "docs" / "deployment.md"


def with_web(services: Services, **changes) -> Services:
    return attrs.evolve(services, settings=attrs.evolve(services.settings, web=attrs.evolve(
        services.settings.web, **changes)))


@contextmanager
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    with configured_logging("text", stream=stream):
        yield stream


def clients(stream: io.StringIO) -> list[str]:
    return re.findall(r"core\.web\.access .* client=(\S+)", stream.getvalue())


def test_the_client_is_the_rightmost_untrusted_address_from_a_trusted_proxy(services: Services):
    app = create_app(with_web(services, trusted_proxies=("127.0.0.1", "::1", "10.0.0.0/8")))
    proxy = TestClient(app, client=("127.0.0.1", 40000))
    stranger = TestClient(app, client=("198.51.100.1", 40000))
    with access_lines() as stream:
        proxy.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
        proxy.get("/", headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.9, 10.2.3.4"})  # a spoofed first entry
        proxy.get("/")  # no header: the proxy itself
        stranger.get("/", headers={"X-Forwarded-For": "203.0.113.9"})  # not a trusted peer: ignored
    assert clients(stream) == ["203.0.113.9", "203.0.113.9", "127.0.0.1", "198.51.100.1"]


def test_no_trusted_proxies_believes_no_header(services: Services):
    app = create_app(with_web(services, trusted_proxies=()))
    with access_lines() as stream:
        TestClient(app, client=("127.0.0.1", 40000)).get("/", headers={"X-Forwarded-For": "203.0.113.9"})
    assert clients(stream) == ["127.0.0.1"]


def test_the_per_address_login_limit_counts_each_client_behind_the_proxy(services: Services):
    """A hard-coded limit per proxy address locked everyone out after the 51st failure anywhere."""
    create_user(services, "ent1", PASSWORD, "enterprise", uscc="91440300MA0000001X", region="shenzhen")
    app = create_app(with_web(services, login_attempts_per_address=3, login_attempts=100))
    proxy = TestClient(app, client=("127.0.0.1", 40000))

    def login(client_ip: str, password: str) -> int:
        return proxy.post("/api/session", json={"username": "ent1", "password": password},
                          headers={"X-Forwarded-For": client_ip}).status_code

    assert [login("203.0.113.9", "Wrong-pass-1") for _ in range(3)] == [403, 403, 403]
    assert login("203.0.113.9", PASSWORD) == 403  # that address is out of tries
    assert login("198.51.100.20", PASSWORD) == 200  # another client behind the same proxy is not
    with services.store.transaction(readonly=True) as tx:
        failed = [e.payload["address"] for e in tx.audit.all(limit=100) if e.action == "login_failed"]
    assert failed == ["203.0.113.9"] * 3


def test_x_forwarded_proto_from_a_trusted_proxy_makes_the_cookie_secure(services: Services):
    create_user(services, "ent1", PASSWORD, "enterprise", uscc="91440300MA0000001X", region="shenzhen")
    app = create_app(services)

    def cookie(peer: str, proto: str | None) -> str:
        client = TestClient(app, client=(peer, 40000))
        headers = {"X-Forwarded-Proto": proto} if proto else {}
        answer = client.post("/api/session", json={"username": "ent1", "password": PASSWORD}, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.headers["set-cookie"].lower()

    assert "secure" in cookie("127.0.0.1", "https")
    assert "secure" not in cookie("127.0.0.1", None)
    assert "secure" not in cookie("198.51.100.1", "https")  # not a trusted proxy: the scheme stays http


def test_trusted_proxies_are_addresses_or_networks():
    assert WebSettings().trusted_proxies == ("127.0.0.1", "::1")
    assert parse_settings('[web]\ntrusted_proxies = ["10.0.0.0/8", "192.0.2.1", "fd00::/8"]\n').web.trusted_proxies
    for bad in ('"*"', '"proxy.internal"', '"10.0.0.0/33"'):
        with pytest.raises(ConfigError) as refused:
            parse_settings(f"[web]\ntrusted_proxies = [{bad}]\n")
        assert "trusted_proxies" in refused.value.en and "网段" in refused.value.zh


def test_serve_leaves_the_forwarded_headers_to_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    config = tmp_path / "eportcard.toml"
    assert CliRunner().invoke(main, ["-c", str(config), "init"]).exit_code == 0
    assert CliRunner().invoke(main, ["-c", str(config), "serve", "--port", str(free_port())]).exit_code == 0
    assert calls[0]["proxy_headers"] is False  # uvicorn's own would trust FORWARDED_ALLOW_IPS instead


# ---- the nginx example -------------------------------------------------------------------------------------

def test_the_example_sends_what_the_app_needs():
    text = EXAMPLE.read_text(encoding="utf-8")
    for needed in ("proxy_set_header X-Forwarded-For $remote_addr;", "proxy_set_header X-Forwarded-Proto $scheme;",
                   "proxy_set_header Host $host;", "proxy_set_header X-Request-ID $request_id;",
                   "listen 443 ssl", "ssl_certificate ", "ssl_certificate_key ", "return 301 https://",
                   "client_max_body_size", "location = /metrics"):
        assert needed in text, needed
    guide = GUIDE.read_text(encoding="utf-8")
    assert "deploy/nginx/eportcard.conf" in guide and "trusted_proxies" in guide


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "eport.example.cn")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("eport.example.cn")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def nginx_setup(tmp_path: Path, app_port: int) -> tuple[Path, int, int]:
    """The example as it is, with only its ports, certificate and upstream put where a test can run it,
    inside a minimal main config; returns (main config, http port, https port)."""
    cert, key = self_signed(tmp_path)
    http_port, https_port = free_port(), free_port()
    site = EXAMPLE.read_text(encoding="utf-8")
    for old, new in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"), ("listen [::]:80;", ""),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                     ("listen [::]:443 ssl http2;", ""),
                     ("/etc/ssl/eportcard/fullchain.pem", str(cert)), ("/etc/ssl/eportcard/privkey.pem", str(key))):
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "eportcard.conf").write_text(site, encoding="utf-8")
    temp = tmp_path / "temp"
    temp.mkdir()
    main_conf = tmp_path / "nginx.conf"
    main_conf.write_text(f"""
worker_processes 1;
{"user root;" if os.geteuid() == 0 else ""}
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {tmp_path}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp_path}/eportcard.conf;
}}
""", encoding="utf-8")
    return main_conf, http_port, https_port


def nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    assert found, "nginx is missing: scripts/install-system.sh installs nginx-light"
    return found


def test_the_example_passes_nginx_t(tmp_path: Path):
    main_conf, _, _ = nginx_setup(tmp_path, 8000)
    checked = subprocess.run([nginx(), "-t", "-c", str(main_conf), "-p", str(tmp_path)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def test_a_real_request_through_nginx_reaches_the_app_with_the_client_scheme_and_id(services: Services,
                                                                                  tmp_path: Path):
    create_user(services, "ent1", PASSWORD, "enterprise", uscc="91440300MA0000001X", region="shenzhen")
    app_port = free_port()
    main_conf, http_port, https_port = nginx_setup(tmp_path, app_port)
    proxy = subprocess.Popen([nginx(), "-c", str(main_conf), "-p", str(tmp_path), "-g", "daemon off;"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with serving(create_app(services), app_port), access_lines() as stream:
            for _ in range(100):  # nginx up?
                try:
                    socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                    break
                except OSError:
                    assert proxy.poll() is None, proxy.communicate()
                    time.sleep(0.05)
            # From another loopback address than nginx's own, so the client and the proxy differ.
            transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=False)
            with httpx.Client(transport=transport, base_url=f"https://127.0.0.1:{https_port}",
                              headers={"Host": "eport.example.cn"}) as browser:
                answer = browser.post("/api/session", json={"username": "ent1", "password": PASSWORD})
                spoofed = browser.get("/", headers={"X-Forwarded-For": "192.0.2.66"})
                hidden = browser.get("/metrics")
            redirect = httpx.get(f"http://127.0.0.1:{http_port}/portal", headers={"Host": "eport.example.cn"})
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
    assert answer.status_code == 200, answer.text
    assert "secure" in answer.headers["set-cookie"].lower()  # X-Forwarded-Proto: https
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"])  # nginx's $request_id, kept
    assert spoofed.status_code == 200 and hidden.status_code == 404
    assert redirect.status_code == 301 and redirect.headers["location"] == "https://eport.example.cn/portal"
    assert clients(stream) == ["127.0.0.2", "127.0.0.2"]  # the browser's address: not nginx's, not the spoof
    assert answer.headers["x-request-id"] in stream.getvalue()
