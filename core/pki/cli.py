"""`eportcard ca ...`: create the CA, issue from a CSR, revoke / hold / release, write the CRL.

The CA passphrase comes from an environment variable (``[pki] passphrase_env``, or
``--passphrase-env NAME``), the systemd credential ``ca_passphrase`` or ``[pki] passphrase_file``, or is
prompted for; it is never a command-line argument (shell history).
Certificates are recorded in the deployment database (``[database] url`` or ``--db``). The config is
the one ``eportcard -c/--config`` names (core/cli_context.py).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from attrs import evolve, frozen
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.cli_context import config_path
from core.cli_jobs import records_outcome
from core.config import Settings, ca_passphrase, load_settings
from core.errors import ConfigError, EportError, InvalidInput
from core.pki import revocation
from core.pki.ca import CertificateAuthority, serial_hex
from core.pki.crl import build_crl, write_crl
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for
from core.pki.signer import ALGORITHMS

if TYPE_CHECKING:
    from core.store.repos import CertificateRepo


@frozen
class _Env:
    settings: Settings
    config: Path
    ca_dir: Path
    db_url: str  # "": no config file and no --db, so no database to work on
    passphrase_env: str

    def passphrase(self, prompt: str = "CA 私钥口令 / CA key passphrase", confirm: bool = False) -> str:
        pki = evolve(self.settings.pki, passphrase_env=self.passphrase_env)
        value = ca_passphrase(evolve(self.settings, pki=pki))
        if value:
            return value
        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))

    def load_ca(self) -> CertificateAuthority:
        return CertificateAuthority.load(self.ca_dir, self.passphrase())

    @contextmanager
    def registry(self) -> Iterator[CertificateRepo]:
        from core.store import open_store  # imported late: `ca init` needs no database

        if not self.db_url:
            raise ConfigError(f"没有配置文件 {self.config}，不知道用哪个数据库：请在部署目录执行 eportcard init，"
                              "用 -c 指定配置文件，或用 --db 指定数据库",
                              f"there is no config file {self.config}, so no database to use: run `eportcard "
                              "init` in the deployment's folder, name its config with -c, or give --db",
                              field="config")
        store = open_store(self.db_url, self.settings.blob_dir)
        try:
            store.upgrade()
            with store.transaction() as tx:
                yield tx.certificates
        finally:
            store.dispose()


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options every subcommand shares; the wrapped command gets an ``env`` and one-line errors."""

    # --config after the subcommand: what older scripts wrote; the same as `eportcard -c`.
    @click.option("--config", "named_config", default=None, hidden=True, type=click.Path(dir_okay=False))
    @click.option("--dir", "ca_dir", default=None, help="CA directory (default: [pki] ca_dir)")
    @click.option("--db", "db_url", default=None, help="database URL (default: the config's)")
    @click.option("--passphrase-env", default=None, metavar="NAME",
                  help="environment variable holding the CA passphrase (default: [pki] passphrase_env)")
    @functools.wraps(command)
    def wrapper(named_config: str | None, ca_dir: str | None, db_url: str | None, passphrase_env: str | None,
                **kwargs: Any) -> Any:
        try:
            path = Path(named_config) if named_config else config_path()
            found = path.exists()
            # Without a config file the defaults apply beside where it would be (never the current folder).
            settings = load_settings(path) if found else Settings(root=str(path.resolve().parent))
            directory = Path(ca_dir) if ca_dir else settings.path(settings.pki.ca_dir)
            env = _Env(settings=settings, config=path, ca_dir=directory,
                       db_url=db_url or (settings.database_url if found else ""),
                       passphrase_env=passphrase_env or settings.pki.passphrase_env)
            return command(env, **kwargs)
        except EportError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


@click.group("ca")
def ca() -> None:
    """证书机构：建立 CA、签发、吊销、挂起、CRL / Certificate authority."""


@ca.command("init")
@click.option("--name", required=True, help="CA common name, e.g. 电子口岸某某数据分中心CA")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default=None,
              help="key algorithm (default: [pki] algorithm)")
@click.option("--root-dir", default=None, help="make an issuing CA signed by the root CA in this directory")
@click.option("--root-passphrase-env", default=None, metavar="NAME",
              help="environment variable with the root CA passphrase (default: same as --passphrase-env)")
@_common
def init_command(env: _Env, name: str, algorithm: str | None, root_dir: str | None,
                 root_passphrase_env: str | None) -> None:
    """Create a CA key (encrypted, owner-only) and its certificate."""
    root = None
    if root_dir:
        root_env = os.environ.get(root_passphrase_env or env.passphrase_env) or \
            click.prompt("根 CA 口令 / root CA passphrase", hide_input=True, err=True)
        root = CertificateAuthority.load(root_dir, root_env)
    made = CertificateAuthority.init(env.ca_dir, name, env.passphrase(confirm=True),
                                     algorithm or env.settings.pki.algorithm, root=root)
    _show_ca(made)


@ca.command("issue")
@click.option("--csr", "csr_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="certificate request (PEM or DER) generated on the card")
@click.option("--kind", required=True, type=click.Choice(["legal", "operator", "declarant"]))
@click.option("--enterprise", required=True, help="enterprise name (企业名称)")
@click.option("--uscc", required=True, help="unified social credit code (统一社会信用代码)")
@click.option("--holder", required=True, help="holder name (持卡人姓名)")
@click.option("--holder-id", default="", help="masked holder ID, e.g. 4403**********1234")
@click.option("--card-id", default="", help="the card this certificate goes on")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default=None,
              help="key algorithm the profile requires (default: [pki] algorithm)")
@click.option("--out", "out_path", default=None, help="write the certificate PEM here (default: stdout)")
@_common
def issue_command(env: _Env, csr_path: str, kind: str, enterprise: str, uscc: str, holder: str,
                  holder_id: str, card_id: str, algorithm: str | None, out_path: str | None) -> None:
    """Issue a holder certificate from a CSR and record it."""
    csr = _load_csr(Path(csr_path))
    subject = HolderSubject(enterprise_name=enterprise, uscc=uscc, holder_name=holder,
                            holder_id_masked=holder_id)
    profile = profile_for(kind, ProfileSettings.from_settings(env.settings), algorithm)
    authority = env.load_ca()
    with env.registry() as registry:
        cert = authority.issue(profile, subject, csr=csr, registry=registry, card_id=card_id)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if out_path:
        Path(out_path).write_bytes(pem)
        click.echo(serial_hex(cert.serial_number))
    else:
        click.echo(pem.decode("ascii"), nl=False)


@ca.command("revoke")
@click.argument("serial")
@click.option("--reason", required=True, type=click.Choice([r.name for r in revocation.REVOKE_REASONS]))
@_common
def revoke_command(env: _Env, serial: str, reason: str) -> None:
    """Revoke a certificate (final)."""
    with env.registry() as registry:
        record = revocation.revoke(registry, serial, reason)
    click.echo(f"{record.serial} revoked ({record.reason})")


@ca.command("hold")
@click.argument("serial")
@_common
def hold_command(env: _Env, serial: str) -> None:
    """Put a certificate on hold (card frozen or reported lost)."""
    with env.registry() as registry:
        record = revocation.hold(registry, serial)
    click.echo(f"{record.serial} on hold")


@ca.command("release")
@click.argument("serial")
@_common
def release_command(env: _Env, serial: str) -> None:
    """Release a held certificate (card unfrozen or found)."""
    with env.registry() as registry:
        record = revocation.release(registry, serial)
    click.echo(f"{record.serial} released")


@ca.command("expire-renewals")
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1),
              help="revoke renewals released this many days ago or earlier and never confirmed")
@records_outcome("ca_expire_renewals")
@_common
def expire_renewals_command(env: _Env, days: int) -> None:
    """Revoke renewed certificates released to a card but never confirmed (run it daily from cron).

    A renewal through the card agent registers the new certificate on hold until the page confirms
    the card holds it; a browser closed half-way leaves it on hold. The card keeps its old
    certificate, still in force, and may be renewed again.
    """
    with env.registry() as registry:
        expired = revocation.expire_pending_renewals(registry, datetime.now(UTC) - timedelta(days=days))
    for record in expired:
        click.echo(f"{record.serial} revoked (cessationOfOperation): renewal of card {record.card_id} never confirmed")
    click.echo(f"{len(expired)} 张未确认的延期证书已吊销 / unconfirmed renewal certificate(s) revoked")


@ca.command("crl")
@click.option("--out", "out_path", required=True, help="where to write the CRL")
@click.option("--pem", is_flag=True, help="PEM instead of DER")
@click.option("--hours", type=int, default=None, help="next update in hours (default: [pki] crl_hours)")
@_common
def crl_command(env: _Env, out_path: str, pem: bool, hours: int | None) -> None:
    """Write a signed CRL of every held and revoked certificate."""
    authority = env.load_ca()
    with env.registry() as registry:
        crl = build_crl(authority, registry, hours or env.settings.pki.crl_hours)
    write_crl(crl, out_path, pem=pem)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    click.echo(f"CRL #{number}: {len(crl)} entries -> {out_path}")


@ca.command("show")
@click.argument("serial", required=False)
@_common
def show_command(env: _Env, serial: str | None) -> None:
    """Show the CA, or one certificate's record."""
    if serial is None:
        cert_path = env.ca_dir / "ca.cert.pem"
        if not cert_path.exists():
            raise InvalidInput(f"目录 {env.ca_dir} 中没有 CA，请先执行 eportcard ca init",
                               f"no CA in {env.ca_dir}; run `eportcard ca init` first", field="dir")
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        click.echo(f"subject:   {certificate.subject.rfc4514_string()}")
        click.echo(f"issuer:    {certificate.issuer.rfc4514_string()}")
        click.echo(f"serial:    {serial_hex(certificate.serial_number)}")
        click.echo(f"valid:     {certificate.not_valid_before_utc:%Y-%m-%d} .. "
                   f"{certificate.not_valid_after_utc:%Y-%m-%d}")
        return
    with env.registry() as registry:
        record = registry.get(serial.strip().lower())
    if record is None:
        raise InvalidInput(f"没有序列号为 {serial} 的证书", f"no certificate with serial {serial}",
                           field="serial")
    click.echo(f"serial:    {record.serial}")
    click.echo(f"subject:   {record.subject}")
    click.echo(f"kind:      {record.kind}    card: {record.card_id or '-'}")
    click.echo(f"valid:     {record.not_before:%Y-%m-%d} .. {record.not_after:%Y-%m-%d}")
    click.echo(f"status:    {record.status}" + (f" ({record.reason}, {record.revoked_at:%Y-%m-%d %H:%M})"
                                                if record.status != "good" and record.revoked_at else ""))


def _show_ca(authority: CertificateAuthority) -> None:
    click.echo(f"CA {authority.certificate.subject.rfc4514_string()} "
               f"serial {serial_hex(authority.certificate.serial_number)} in {authority.directory}")


def _load_csr(path: Path) -> x509.CertificateSigningRequest:
    data = path.read_bytes()
    try:
        return x509.load_pem_x509_csr(data) if b"-----BEGIN" in data else x509.load_der_x509_csr(data)
    except ValueError:
        raise InvalidInput(f"{path} 不是有效的证书请求（CSR）",
                           f"{path} is not a valid certificate request (CSR)", field="csr") from None

