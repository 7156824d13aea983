"""`eportcard ca ...`: create the CA, issue from a CSR, revoke / hold / release, write the CRL.

The CA passphrase comes from an environment variable (``[pki] passphrase_env``, or
``--passphrase-env NAME``), the systemd credential ``ca_passphrase`` or ``[pki] passphrase_file``, or is
prompted for; it is never a command-line argument (shell history). A CA key on a PKCS#11 token
(``ca init --pkcs11``) is unlocked with the token's PIN, from ``EPORTCARD_PKCS11_PIN`` (``[pki]
pkcs11_pin_env``), the systemd credential ``pkcs11_pin`` or ``[pki] pkcs11_pin_file``, or prompted for:
never an argument either, and never logged.
Certificates are recorded in the deployment database (``[database] url`` or ``--db``), by
``services.certificates`` (one transaction and its audit row per command). The config is the one
``eportcard -c/--config`` names (core/cli_context.py).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from attrs import evolve, frozen

from core.cli_context import cli_actor_id, config_path
from core.cli_jobs import records_outcome
from core.config import Settings, ca_passphrase, load_settings, pkcs11_pin
from core.errors import EportError
from core.services.actors import Actor
from core.services.certificates import ALGORITHMS, REVOKE_REASONS, CaSummary, CertificateAdmin


@frozen
class _Env:
    admin: CertificateAdmin
    passphrase_env: str

    def passphrase(self, confirm: bool = False) -> str:
        settings = self.admin.settings
        value = ca_passphrase(evolve(settings, pki=evolve(settings.pki, passphrase_env=self.passphrase_env)))
        if value:
            return value
        return str(click.prompt("CA 私钥口令 / CA key passphrase", hide_input=True, confirmation_prompt=confirm,
                                err=True))

    def pin(self) -> str:
        return pkcs11_pin(self.admin.settings) or \
            str(click.prompt("CA 密钥令牌的 PIN / PIN of the CA key's token", hide_input=True, err=True))


def _actor() -> Actor:
    return Actor.system(cli_actor_id())  # the branch centre's operator: the OS user running the command


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
            admin = CertificateAdmin(settings=settings, config=path,
                                     ca_dir=Path(ca_dir) if ca_dir else settings.path(settings.pki.ca_dir),
                                     database_url=db_url or (settings.database_url if found else ""),
                                     passphrase=lambda: env.passphrase(), pin=lambda: env.pin())
            env = _Env(admin=admin, passphrase_env=passphrase_env or settings.pki.passphrase_env)
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
@click.option("--pkcs11", "module", default=None, metavar="MODULE",
              help="make the key on a token of this PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so); "
                   "PIN from EPORTCARD_PKCS11_PIN")
@click.option("--token", default=None, metavar="LABEL", help="the token's label (with --pkcs11)")
@click.option("--key-label", default=None, metavar="LABEL", help="the CA key's label on the token (with --pkcs11)")
@click.option("--existing-key", is_flag=True, help="use the key already on the token under --key-label")
@_common
def init_command(env: _Env, name: str, algorithm: str | None, root_dir: str | None,
                 root_passphrase_env: str | None, module: str | None, token: str | None, key_label: str | None,
                 existing_key: bool) -> None:
    """Create a CA key (encrypted, owner-only; or on a PKCS#11 token, never extractable) and its certificate."""

    def root_passphrase() -> str:
        return os.environ.get(root_passphrase_env or env.passphrase_env) or \
            str(click.prompt("根 CA 口令 / root CA passphrase", hide_input=True, err=True))

    if module is None and (token or key_label or existing_key):
        raise click.UsageError("--token、--key-label、--existing-key 须与 --pkcs11 一起使用 / --token, --key-label "
                               "and --existing-key go with --pkcs11")
    where = None
    if module is not None:
        if not (token and key_label):
            raise click.UsageError("--pkcs11 须同时给出 --token 与 --key-label / --pkcs11 needs --token and --key-label")
        where = env.admin.token_key(module, token, key_label)
    authority = env.admin.init(name, algorithm, lambda: env.passphrase(confirm=True),
                               root_dir=Path(root_dir) if root_dir else None, root_passphrase=root_passphrase,
                               token=where, existing_key=existing_key)
    _show_ca(authority)
    if where is not None:
        click.echo(f"key: {where.describe()}; [pki] of {env.admin.config} records it")


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
    issued = env.admin.issue(_actor(), Path(csr_path), kind, enterprise=enterprise, uscc=uscc, holder=holder,
                             holder_id=holder_id, card_id=card_id, algorithm=algorithm)
    if out_path:
        Path(out_path).write_bytes(issued.pem)
        click.echo(issued.serial)
    else:
        click.echo(issued.pem.decode("ascii"), nl=False)


@ca.command("revoke")
@click.argument("serial")
@click.option("--reason", required=True, type=click.Choice(REVOKE_REASONS))
@_common
def revoke_command(env: _Env, serial: str, reason: str) -> None:
    """Revoke a certificate (final)."""
    record = env.admin.revoke(_actor(), serial, reason)
    click.echo(f"{record.serial} revoked ({record.reason})")


@ca.command("hold")
@click.argument("serial")
@_common
def hold_command(env: _Env, serial: str) -> None:
    """Put a certificate on hold (card frozen or reported lost)."""
    record = env.admin.hold(_actor(), serial)
    click.echo(f"{record.serial} on hold")


@ca.command("release")
@click.argument("serial")
@_common
def release_command(env: _Env, serial: str) -> None:
    """Release a held certificate (card unfrozen or found)."""
    record = env.admin.release(_actor(), serial)
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
    expired = env.admin.expire_renewals(_actor(), days)
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
    crl = env.admin.write_crl(Path(out_path), pem=pem, hours=hours)
    click.echo(f"CRL #{crl.number}: {crl.entries} entries -> {out_path}")


@ca.command("show")
@click.argument("serial", required=False)
@_common
def show_command(env: _Env, serial: str | None) -> None:
    """Show the CA, or one certificate's record."""
    if serial is None:
        authority = env.admin.ca_certificate()
        click.echo(f"subject:   {authority.subject}")
        click.echo(f"issuer:    {authority.issuer}")
        click.echo(f"serial:    {authority.serial}")
        click.echo(f"valid:     {authority.not_before:%Y-%m-%d} .. {authority.not_after:%Y-%m-%d}")
        return
    record = env.admin.record(serial)
    click.echo(f"serial:    {record.serial}")
    click.echo(f"subject:   {record.subject}")
    click.echo(f"kind:      {record.kind}    card: {record.card_id or '-'}")
    click.echo(f"valid:     {record.not_before:%Y-%m-%d} .. {record.not_after:%Y-%m-%d}")
    click.echo(f"status:    {record.status}" + (f" ({record.reason}, {record.revoked_at:%Y-%m-%d %H:%M})"
                                                if record.status != "good" and record.revoked_at else ""))


@ca.command("status")
@_common
def status_command(env: _Env) -> None:
    """Where the CA key lives (for a token: its label and serial) and whether it answers; exit 1 if not."""
    status = env.admin.status()
    click.echo(f"subject:   {status.ca.subject}")
    click.echo(f"valid:     {status.ca.not_before:%Y-%m-%d} .. {status.ca.not_after:%Y-%m-%d}")
    click.echo(f"key:       {status.key}")
    if status.token is not None:
        click.echo(f"token:     {status.token.label}    serial: {status.token.serial}    "
                   f"({status.token.manufacturer}, {status.token.model})")
    if status.origin:
        click.echo(f"origin:    {status.origin}")
    click.echo("answers:   yes" if status.answers else f"answers:   no: {status.problem}")
    if not status.answers:
        raise SystemExit(1)


def _show_ca(authority: CaSummary) -> None:
    click.echo(f"CA {authority.subject} serial {authority.serial} in {authority.directory}")
