"""``eportcard backup DEST``, ``backup verify ARCHIVE``, ``backup keygen OUT`` and ``eportcard restore ARCHIVE``
(core/services/backup.py does the work).

A passphrase comes from an environment variable (``--passphrase-env NAME``), never from the command
line (shell history, the process list). For unattended backups prefer ``--recipient``: the machine
then holds only a public key, and the private key (``backup keygen``) stays off it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from core.cli_context import config_path
from core.cli_jobs import records_outcome
from core.cli_usage import OneLineGroup, friendly
from core.config import load_settings
from core.errors import InvalidInput
from core.services import Services
from core.services.backup import (
    BackupResult,
    Identity,
    Passphrase,
    Recipient,
    RestoreReport,
    make_backup,
    make_backup_into,
    make_key_pair,
    restore_backup,
    verify_backup,
)


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal (standard error); nothing otherwise (logs, the jobs runner)."""
    if not sys.stderr.isatty():
        yield lambda _n: None
        return
    with click.progressbar(length=total, label=f"{label:14}", file=sys.stderr, show_pos=False) as bar:
        yield bar.update


def _passphrase(name: str | None) -> Passphrase | None:
    if name is None:
        return None
    value = os.environ.get(name, "")
    if not value:
        raise InvalidInput(f"环境变量 {name} 未设置或为空", f"the environment variable {name} is not set or empty",
                           field="passphrase-env")
    return Passphrase(value)


def _opening(passphrase_env: str | None, identity: Path | None) -> Passphrase | Identity | None:
    if passphrase_env and identity:
        raise InvalidInput("--passphrase-env 与 --identity 只能选一个", "give --passphrase-env or --identity, not both",
                           field="identity")
    return Identity.load(identity) if identity else _passphrase(passphrase_env)


passphrase_option = click.option("--passphrase-env", default=None, metavar="NAME",
                                 help="Environment variable holding the archive's passphrase.")
identity_option = click.option("--identity", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                               default=None, help="Private key (from `backup keygen`) the archive is sealed for.")


class _DefaultMake(OneLineGroup):
    """``eportcard backup DEST`` runs ``backup make DEST``; ``backup verify``/``keygen`` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["make", *args]
        return super().parse_args(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Any other word is the DEST of ``make`` (for whoever resolves a command line word by word)."""
        return super().get_command(ctx, cmd_name) or self.commands["make"]


@click.group(cls=_DefaultMake)
def backup() -> None:
    """备份 / Back up the deployment: `eportcard backup DEST`, `backup verify ARCHIVE`, `backup keygen OUT`."""


def _secrets_lines(manifest: dict[str, Any]) -> str:
    return "\n".join(f"  - {s['setting']}: {s['zh']} / {s['en']}" for s in manifest["secrets"])


def _describe(result: BackupResult) -> str:
    manifest = result.manifest
    head = manifest["audit_head"] or {"seq": 0}
    return (f"备份已写出 / backup written: {result.path} ({result.size} bytes, {len(manifest['members']) + 1} members, "
            f"encryption {result.encryption})\n"
            f"  database {manifest['database']['backend']} at revision {manifest['database']['schema_revision']}, "
            f"{sum(manifest['database']['tables'].values())} rows; audit trail to row {head['seq']}; "
            f"{manifest['blobs']['count']} blobs; {len(manifest['ca_files'])} CA files\n"
            f"恢复时须另行提供 / a restore must be given:\n{_secrets_lines(manifest)}")


@backup.command("make")
@click.argument("dest", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Write eportcard-<UTC time>.epbak into this folder instead of DEST.")
@click.option("--keep", type=click.IntRange(min=1), default=None,
              help="With --into: keep only this many of the newest archives there.")
@passphrase_option
@click.option("--recipient", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Seal the archive for this public key (from `backup keygen`).")
@click.pass_context
@records_outcome("backup")
@friendly
def make(ctx: click.Context, dest: Path | None, into: Path | None, keep: int | None, passphrase_env: str | None,
         recipient: Path | None) -> None:
    """Write one consistent archive of the database, blobs, CA folder and config (without secrets) while
    the server runs. Exit 1 when an attachment's blob was missing (the archive is written all the same)."""
    if (dest is None) == (into is None):
        raise InvalidInput("请给出 DEST 或 --into 之一", "give either DEST or --into", field="dest")
    if keep is not None and into is None:
        raise InvalidInput("--keep 只能与 --into 一起用", "--keep goes with --into", field="keep")
    if passphrase_env and recipient:
        raise InvalidInput("--passphrase-env 与 --recipient 只能选一个", "give --passphrase-env or --recipient, not "
                           "both", field="recipient")
    sealing = Recipient.load(recipient) if recipient else _passphrase(passphrase_env)
    config = config_path(ctx)
    services = Services.from_settings(load_settings(config))
    try:
        if into is not None:
            result, removed = make_backup_into(services, config, into, keep, sealing, _progress)
        else:
            assert dest is not None
            result, removed = make_backup(services, config, dest, sealing, _progress), []
    finally:
        services.store.dispose()
    click.echo(_describe(result))
    for path in removed:
        click.echo(f"  旧备份已删除 / old backup removed: {path}")
    if result.missing_blobs:
        raise click.ClickException(f"{len(result.missing_blobs)} 个附件文件缺失或已损坏，未能备份 / "
                                   f"{len(result.missing_blobs)} attachment file(s) missing or damaged, not backed "
                                   f"up: {', '.join(result.missing_blobs[:5])}")


@backup.command("verify")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@passphrase_option
@identity_option
@friendly
def verify(archive: Path, passphrase_env: str | None, identity: Path | None) -> None:
    """Check an archive without restoring it: its SHA-256, every member against the manifest, the row
    counts and the database copy (exit 1 and the damaged member when any fails)."""
    manifest = verify_backup(archive, _opening(passphrase_env, identity), _progress)
    database = manifest["database"]
    head = manifest["audit_head"] or {"seq": 0}
    click.echo(f"备份完好 / backup intact: {archive}\n"
               f"  made {manifest['created_at']} by eportcard {manifest['eportcard_version']}; database "
               f"{database['backend']} at revision {database['schema_revision']}; audit trail to row {head['seq']}; "
               f"{manifest['blobs']['count']} blobs; {len(manifest['members']) + 1} members checked\n"
               + "\n".join(f"  {table}: {rows}" for table, rows in sorted(database["tables"].items()) if rows)
               + f"\n恢复时须另行提供 / a restore must be given:\n{_secrets_lines(manifest)}")


@backup.command("keygen")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def keygen(out: Path) -> None:
    """Make a key pair for sealed backups: OUT (private, 0600; keep it off the server) and OUT.pub (for
    `backup --recipient`)."""
    public = make_key_pair(out)
    click.echo(f"私钥 / private key: {out} (0600: keep it away from the server and its backups)\n"
               f"公钥 / public key: {public} (for `eportcard backup --recipient {public}`)")


def _restore_lines(report: RestoreReport) -> str:
    lines = [f"  database at revision {report.revision} (archive: {report.manifest['database']['schema_revision']}"
             f", {report.manifest['database']['backend']}); {sum(report.loaded.values())} rows loaded",
             f"  audit trail: {report.audit.checked} rows, "
             + ("intact" if report.audit.ok else "NOT intact")
             + ("" if report.audit_head_matches else "; its last row differs from the backup's"),
             f"  blobs: {report.blobs_checked} checked, {len(report.blob_problems)} missing or damaged"]
    lines += [f"    {line}" for line in report.audit.problems + report.audit.unverified + report.blob_problems]
    if report.config_written:
        lines.append("  config written from the backup" + (" with a new session key" if report.session_key_made
                                                            else ""))
    if report.still_to_supply:
        lines.append("还须提供 / still to supply:")
        lines += [f"  - {s.setting}: {s.zh} / {s.en}" for s in report.still_to_supply]
    return "\n".join(lines)


@click.command()
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@passphrase_option
@identity_option
@click.pass_context
@friendly
def restore(ctx: click.Context, archive: Path, passphrase_env: str | None, identity: Path | None) -> None:
    """恢复 / Restore ARCHIVE into the empty deployment `-c` names (its config is written from the archive
    when it does not exist; write it first to restore into another database, e.g. PostgreSQL). Then
    checks the audit trail and every blob; exit 1 if anything does not hold."""
    report = restore_backup(config_path(ctx), archive, _opening(passphrase_env, identity), _progress)
    if not report.ok:
        raise click.ClickException(f"恢复完成，但核验未通过 / restored, but the checks failed:\n{_restore_lines(report)}")
    click.echo(f"恢复完成并已核验 / restored and checked: {config_path(ctx)}\n{_restore_lines(report)}")


__all__ = ["backup", "restore"]
