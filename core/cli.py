"""The ``eportcard`` command line (click).

Errors exit non-zero with a one-line bilingual message, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from core import __version__
from core.appfile import load_application
from core.cli_context import cli_actor_id, default_config_path
from core.cli_jobs import records_outcome
from core.cli_plugins import plugin_manager, plugins_dir_option
from core.cli_usage import OneLineGroup, friendly
from core.config import Settings, load_settings, redact_url
from core.convert import make_json_converter
from core.errors import ConfigError, EportError, Problems
from core.labels import label, pair
from core.lifecycle import state_name
from core.model import Application, AppState, Pickup, RejectionReason
from core.plugins import RegionPluginManager
from core.privacy import mask_id
from core.rulebook import Rulebook
from core.services import Actor, Services
from core.services.deployment import (
    AUDIT_KEY_ENV,
    Checkpoint,
    ensure_audit_key,
    make_deployment_files,
    secure_deployment,
)
from core.testing import conformance_report

JSON = make_json_converter()


class Ctx:
    def __init__(self, config: Path) -> None:
        self.config = config
        self._services: Services | None = None

    @property
    def settings(self) -> Settings:
        return load_settings(self.config)

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = Services.from_settings(self.settings)
        return self._services


def emit(data: Any, as_json: bool, text: Callable[[], str]) -> None:
    if as_json:
        click.echo(json.dumps(JSON.unstructure(data), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(text())


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="eportcard", message="%(prog)s %(version)s")
@click.option("--config", "-c", type=click.Path(dir_okay=False, path_type=Path),
              default=default_config_path, show_default="eportcard.toml",
              help="Deployment config file (env EPORTCARD_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config: Path) -> None:
    """eportcard: 电子口岸制发卡 — China E-Port card issuance for branch centres."""
    ctx.obj = Ctx(config)


# ---- deployment --------------------------------------------------------------------------------------------


@main.command()
@click.option("--region", default="", help="The deployment's own region code.")
@click.option("--enable", multiple=True, help="Enable only these regions (repeatable). Default: all.")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_obj
@friendly
def init(obj: Ctx, region: str, enable: tuple[str, ...], force: bool) -> None:
    """初始化：写入配置并建库 / Write a starter config (random session key) and create the database."""
    if obj.config.exists() and not force:
        raise click.ClickException(f"{obj.config} 已存在（--force 覆盖）/ {obj.config} exists (use --force)")
    made = make_deployment_files(obj.config, region=region, enabled=enable or None, replace=True)
    obj.services.store.upgrade()
    key_lines = _start_keyed_audit(obj, made.audit_key_created)
    secure_deployment(obj.settings)
    click.echo(f"wrote {obj.config}\n{key_lines}\ndatabase ready: {redact_url(obj.settings.database_url)}")


def _start_keyed_audit(obj: Ctx, created: bool) -> str:
    """Key the audit chain from now on (an existing trail gets a keyed row at once, which covers every
    row before it). A key just ``created`` is removed again if the chain is keyed with another (lost) one."""
    path = obj.settings.path(obj.settings.audit.key_file)
    try:
        started = obj.services.store.start_keyed_audit(_actor(None).label)
    except ConfigError:
        if created:
            path.unlink()
        raise
    key = (f"审计密钥已生成 / audit key created: {path} (0600); keep a copy apart from the database and its "
           "backups (docs/security.md)" if created else f"审计密钥沿用 / audit key kept: {path} (or {AUDIT_KEY_ENV})")
    keyed = (f"审计链自第 {started.seq} 行起加密钥 / the audit chain is keyed from row {started.seq}" if started
             else "审计链已加密钥（或为空）/ the audit chain is keyed already (or empty: its first row will be)")
    return f"{key}\n{keyed}"


@main.group()
def db() -> None:
    """数据库结构迁移 / Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.pass_obj
@friendly
def db_upgrade(obj: Ctx) -> None:
    """迁移到最新结构 / Migrate the database to the newest schema."""
    obj.services.store.upgrade()
    click.echo(f"database at revision {obj.services.store.current_revision()}")


@db.command("current")
@click.pass_obj
@friendly
def db_current(obj: Ctx) -> None:
    """当前结构版本 / The database's schema revision, and the migrations it still needs."""
    history = obj.services.store.migrations()
    applied = [m.revision for m in history if m.applied]
    pending = [m.revision for m in history if not m.applied]
    if not applied:
        click.echo("数据库尚无结构：请执行 eportcard db upgrade / the database has no schema yet: "
                   "run `eportcard db upgrade`")
    elif pending:
        click.echo(f"数据库结构版本 {applied[-1]}，尚有 {len(pending)} 个迁移未执行：请执行 eportcard db upgrade / "
                   f"the database is at revision {applied[-1]}; {len(pending)} migration(s) to apply "
                   f"({', '.join(pending)}): run `eportcard db upgrade`")
    else:
        click.echo(f"数据库结构版本 {applied[-1]}（最新）/ the database is at revision {applied[-1]}, the newest")


@db.command("history")
@click.pass_obj
@friendly
def db_history(obj: Ctx) -> None:
    """迁移历史 / Every migration, oldest first; * marks those the database has."""
    history = obj.services.store.migrations()
    current = next((m.revision for m in reversed(history) if m.applied), None)
    for m in history:
        click.echo(f"{'*' if m.applied else ' '} {m.revision}  {m.title}"
                   + ("  <- 当前 current" if m.revision == current else ""))


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--check", is_flag=True, help="Run the conformance kit over every enabled region (exit 1 on a problem).")
@plugins_dir_option
@click.pass_obj
@friendly
def regions(obj: Ctx, as_json: bool, check: bool, plugins_dir: Path | None) -> None:
    """已启用的分中心 / The enabled regions (branch centres), and the plugins disabled for a fault."""
    pm = plugin_manager(obj.settings, plugins_dir)
    if check:
        _check_regions(pm)
        return
    found = sorted(Rulebook(pm).regions().values(), key=lambda r: r.code)
    emit(found, as_json, lambda: "\n".join(
        [f"{r.code:10} {r.name.zh} / {r.name.en}  {r.centre.zh}  {' '.join(r.hotlines)}" for r in found]
        + [f"已停用 disabled: {fault.zh} / {fault.en}" for fault in pm.disabled]))


def _check_regions(pm: RegionPluginManager) -> None:
    """Every enabled region through the conformance kit: each problem listed, then a one-line verdict."""
    report = conformance_report(pm)
    for code, problems in report.items():
        click.echo(f"{code}: " + (f"{len(problems)} 个问题 / {len(problems)} problem(s)" if problems
                                  else "通过 / passes"))
        for problem in problems:
            click.echo(f"  - {problem}")
    for fault in pm.disabled:
        click.echo(f"已停用 disabled: {fault.zh} / {fault.en}")
    failing = sorted(code for code, problems in report.items() if problems)
    if failing or pm.disabled:
        raise click.ClickException(
            f"{len(failing)} 个分中心未通过一致性检查（{', '.join(failing) or '-'}），{len(pm.disabled)} 个插件已停用 / "
            f"{len(failing)} region(s) fail the conformance kit ({', '.join(failing) or '-'}), "
            f"{len(pm.disabled)} plugin(s) disabled")
    click.echo(f"{len(report)} 个分中心全部通过一致性检查 / all {len(report)} region(s) pass the conformance kit: "
               f"{', '.join(report)}")


@main.group()
def audit() -> None:
    """审计记录（只增、哈希链）/ The append-only, hash-chained audit trail."""


class CannotCheck(click.ClickException):
    """Exit 2: the audit trail could not be checked (exit 1 means it was, and it is broken)."""

    exit_code = 2


@audit.command("verify")
@click.option("--checkpoint", "checkpoint_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A checkpoint from `eportcard audit checkpoint` the chain must still contain (repeatable).")
@click.pass_obj
@records_outcome("audit_verify")
def audit_verify(obj: Ctx, checkpoint_files: tuple[Path, ...]) -> None:
    """Recompute the hash chain. Exit 1: a row was edited, inserted or deleted, or rows a checkpoint
    saw are gone; exit 2: it could not be checked (no key, no database, a refused checkpoint)."""
    try:
        kept = [Checkpoint.read(path) for path in checkpoint_files]
        report = obj.services.store.audit_verify(kept)
    except EportError as exc:
        raise CannotCheck(f"无法核验审计记录：{exc.zh} / cannot check the audit trail: {exc.en}") from None
    for warning in report.warnings:
        click.echo(warning, err=True)
    details = "".join(f"\n  {line}" for line in report.problems + report.unverified)
    if report.problems:
        raise click.ClickException(f"审计记录被篡改 / audit trail tampered ({report.checked} rows):{details}")
    if report.unverified:
        raise CannotCheck(f"审计记录未能全部核验 / the audit trail could not be fully checked "
                          f"({report.checked} rows):{details}")
    keyed = f", keyed from row {report.keyed_from}" if report.keyed_from else ""
    against = f", contains {len(kept)} checkpoint(s)" if kept else ""
    click.echo(f"audit trail intact: {report.checked} rows{keyed}{against} / 审计记录完整")


@audit.command("checkpoint")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write it to this file (default: print it).")
@click.pass_obj
@records_outcome("audit_checkpoint")
@friendly
def audit_checkpoint(obj: Ctx, out: Path | None) -> None:
    """Export the chain's head (row, hash, time) signed with the audit key, to keep away from the
    database; `audit verify --checkpoint FILE` later proves the chain still holds that row."""
    checkpoint = obj.services.store.audit_checkpoint(obj.services.clock())
    if out is None:
        click.echo(checkpoint.to_json(), nl=False)
        return
    try:
        out.write_text(checkpoint.to_json(), encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"无法写入 {out}：{exc.strerror} / cannot write {out}: {exc.strerror}") from None
    click.echo(f"checkpoint of row {checkpoint.seq} written to {out} / 检查点已写入")


@audit.command("init-key")
@click.pass_obj
@friendly
def audit_init_key(obj: Ctx) -> None:
    """Create the audit key ([audit] key_file, owner-only; an existing key is kept) and key the chain
    from now on: an existing trail gets a keyed row at once, which covers every row before it."""
    _path, created = ensure_audit_key(obj.settings)
    click.echo(_start_keyed_audit(obj, created))


# ---- applications ------------------------------------------------------------------------------------------


def _actor(name: str | None) -> Actor:
    return Actor.system(cli_actor_id(name))  # the operating system user, and whom --actor names


actor_option = click.option("--actor", default=None, help="Who is acting (recorded in the audit trail).")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
version_option = click.option("--expect-version", type=int, default=None,
                              help="Refuse if the application changed since you looked (optimistic locking).")


def _both(value: Any) -> str:
    zh, en = pair(value)
    return f"{zh} / {en}"


def describe(app: Application, services: Services) -> str:
    biz_zh, biz_en = pair(app.business)
    lines = [
        f"{app.id}  {app.acceptance_no or '(未提交 not submitted)'}  v{app.version}",
        f"  状态 state:     {state_name(app.state)}" + (f"  交付 delivery: {_both(app.delivery)}" if app.delivery else ""),
        f"  业务 business:  {biz_zh} / {biz_en} ({app.business.value})   分中心 region: {app.region}",
        f"  企业 enterprise: {app.enterprise.name}  {app.enterprise.uscc}",
        f"  经办人 agent:   {app.agent.name + ' ' + mask_id(app.agent.id_number) if app.agent else '-'}",
        f"  取卡 pickup:    {_both(app.pickup.method)}" + (f"  {app.pickup.outlet}" if app.pickup.outlet else "")
        + (f"  单号 tracking: {app.tracking_no}" if app.tracking_no else ""),
    ]
    mail = app.pickup.mail_to
    if app.pickup.method is Pickup.MAIL and mail is not None:  # where the clerk mails the cards
        lines.append(f"  寄送 mail to:   {mail.recipient}  {mail.phone}  {mail.address}")
    for n, item in enumerate(app.items, start=1):
        lines.append(f"  卡{n} card {n}:     {item.kind.value:9} {item.holder.name} {mask_id(item.holder.id_number)}"
                     + ("  已制 made" if item.made else ""))
    for due in services.applications.deadlines(app):
        lines.append(f"  时限 due:       {due.name_zh} / {due.name_en}: {due.due}" + ("（预计 projected）" if due.projected else ""))
    if app.state is AppState.REJECTED:
        reasons = "; ".join(label(r) for r in app.last_reasons)
        lines.append(f"  退单原因 reasons: {reasons} {app.last_rejection_note}")
    for h in app.history:
        lines.append(f"  {h.at:%Y-%m-%d %H:%M} {h.actor:20} {h.action:16} {h.from_state.value} -> {h.to_state.value}"
                     + (f"  {h.note}" if h.note else ""))
    return "\n".join(lines)


@main.group()
def app() -> None:
    """申请单：提交、审核、制卡、交付 / Applications: submit, review, produce, deliver."""


@app.command("submit")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--draft", is_flag=True, help="Only save it as a draft (暂存).")
@actor_option
@json_option
@click.pass_obj
@friendly
def app_submit(obj: Ctx, file: Path, draft: bool, actor: str | None, as_json: bool) -> None:
    """Create an application from a TOML or JSON FILE and submit it."""
    svc = obj.services.applications
    who = _actor(actor)
    application = load_application(file)
    problems = [] if draft else svc.preflight(application)  # before saving: a bad file leaves nothing
    if problems:
        raise Problems(problems)
    saved = svc.create(application, who)
    if not draft:
        saved = svc.submit(saved.id, who)
    emit(saved, as_json, lambda: describe(saved, obj.services))


@app.command("show")
@click.argument("app_id")
@json_option
@click.pass_obj
@friendly
def app_show(obj: Ctx, app_id: str, as_json: bool) -> None:
    """One application with its history and deadlines (ID or acceptance number)."""
    found = _find(obj, app_id)
    emit(found, as_json, lambda: describe(found, obj.services))


def _find(obj: Ctx, key: str) -> Application:
    return obj.services.applications.find(key, Actor.system())


@app.command("list")
@click.option("--state", "states", multiple=True, type=click.Choice([s.value for s in AppState]))
@click.option("--region", default=None)
@click.option("--limit", default=50, show_default=True)
@json_option
@click.pass_obj
@friendly
def app_list(obj: Ctx, states: tuple[str, ...], region: str | None, limit: int, as_json: bool) -> None:
    """Applications sorted by due date; overdue ones are flagged with '!'."""
    services = obj.services
    actor = Actor(id="cli", kind="staff", region=region, roles=frozenset({"branch_admin"})) if region else Actor.system()
    rows = services.applications.queue(actor, [AppState(s) for s in states] or None, limit=limit)
    emit([r.application for r in rows], as_json, lambda: "\n".join(
        f"{'!' if r.overdue else ' '} {r.application.id}  {r.application.acceptance_no or '-':12} "
        f"{r.application.state.value:14} {r.application.business.value:18} {r.application.region:10} "
        f"{r.due or '-'}  {r.application.enterprise.name}" for r in rows) or "(none)")


def _simple(name: str, method: str, help_text: str, **fixed: Any) -> None:
    @app.command(name, help=help_text)
    @click.argument("app_id")
    @click.option("--note", default="", help="Why (recorded in the history).")
    @actor_option
    @version_option
    @json_option
    @click.pass_obj
    @friendly
    def command(obj: Ctx, app_id: str, note: str, actor: str | None, expect_version: int | None,
                as_json: bool) -> None:
        target = _find(obj, app_id)
        kwargs: dict[str, Any] = {"expected_version": expect_version, **fixed}
        if method != "submit":
            kwargs["note"] = note
        done = getattr(obj.services.applications, method)(target.id, _actor(actor), **kwargs)
        emit(done, as_json, lambda: describe(done, obj.services))


for _name, _method, _help in [
    ("accept", "accept", "受理: take a submitted application into review."),
    ("withdraw", "withdraw", "撤回: take a submitted application back to draft (before acceptance only)."),
    ("resubmit", "submit", "重新提交: submit a draft or a rejected application again after editing."),
    ("medium-required", "require_medium", "需提供介质: the enterprise must supply the card medium."),
    ("medium-provided", "provide_medium", "已具备介质: the medium has arrived."),
    ("produce", "start_production", "制卡中: start making the cards."),
    ("delete", "delete", "删除: delete a draft."),
    ("deliver", "mark_delivered", "已妥投: the shipped cards were delivered."),
]:
    _simple(_name, _method, _help)
_simple("return", "mark_delivered", "快递退回: the shipped cards came back undeliverable (ship again, or hand over).",
        returned=True)


@app.command("reject")
@click.argument("app_id")
@click.option("--reason", "reasons", multiple=True, required=True,
              type=click.Choice([r.value for r in RejectionReason]),
              help="Standard reason (repeatable): " + ", ".join(r.value for r in RejectionReason))
@click.option("--note", default="", help="Free text (required with 'other').")
@actor_option
@version_option
@json_option
@click.pass_obj
@friendly
def app_reject(obj: Ctx, app_id: str, reasons: tuple[str, ...], note: str, actor: str | None,
               expect_version: int | None, as_json: bool) -> None:
    """退单: reject an accepted application with at least one reason."""
    target = _find(obj, app_id)
    done = obj.services.applications.reject(target.id, _actor(actor), reasons, note, expect_version)
    emit(done, as_json, lambda: describe(done, obj.services))


@app.command("make")
@click.argument("app_id")
@click.argument("item", type=click.IntRange(min=1))
@actor_option
@version_option
@json_option
@click.pass_obj
@friendly
def app_make(obj: Ctx, app_id: str, item: int, actor: str | None, expect_version: int | None,
             as_json: bool) -> None:
    """登记制卡: record that card ITEM (1-based, as `app show` lists them) was made."""
    target = _find(obj, app_id)
    done = obj.services.applications.mark_made(target.id, item - 1, _actor(actor), expect_version)
    emit(done, as_json, lambda: describe(done, obj.services))


@app.command("complete")
@click.argument("app_id")
@click.option("--note", default="", help="Why (recorded in the history).")
@click.option("--unmade-reason", default="",
              help="Required while a requested card is not made: why complete without it (kept in the history).")
@actor_option
@version_option
@json_option
@click.pass_obj
@friendly
def app_complete(obj: Ctx, app_id: str, note: str, unmade_reason: str, actor: str | None,
                 expect_version: int | None, as_json: bool) -> None:
    """已处理 (办结): finish an application in production once every card is made (`app make`)."""
    target = _find(obj, app_id)
    done = obj.services.applications.complete(target.id, _actor(actor), note, expect_version, unmade_reason)
    emit(done, as_json, lambda: describe(done, obj.services))


@app.command("step")
@click.argument("app_id")
@click.argument("code")
@click.option("--note", default="")
@actor_option
@version_option
@json_option
@click.pass_obj
@friendly
def app_step(obj: Ctx, app_id: str, code: str, note: str, actor: str | None, expect_version: int | None,
             as_json: bool) -> None:
    """Record a region workflow step as done (e.g. Xi'an aic_review)."""
    target = _find(obj, app_id)
    done = obj.services.applications.complete_step(target.id, code, _actor(actor), note, expect_version)
    emit(done, as_json, lambda: describe(done, obj.services))


@app.command("ship")
@click.argument("app_id")
@click.option("--tracking", required=True, help="The courier's tracking number.")
@actor_option
@version_option
@json_option
@click.pass_obj
@friendly
def app_ship(obj: Ctx, app_id: str, tracking: str, actor: str | None, expect_version: int | None,
             as_json: bool) -> None:
    """邮寄: ship the cards of a completed application (cash on delivery)."""
    target = _find(obj, app_id)
    done = obj.services.applications.ship(target.id, tracking, _actor(actor), expect_version)
    emit(done, as_json, lambda: describe(done, obj.services))


@app.command("hand-over")
@click.argument("app_id")
@click.option("--receipt", required=True, help="Acceptance number printed on the receipt the collector shows.")
@actor_option
@version_option
@json_option
@click.pass_obj
@friendly
def app_hand_over(obj: Ctx, app_id: str, receipt: str, actor: str | None, expect_version: int | None,
                  as_json: bool) -> None:
    """窗口领取: hand the cards over at the counter after checking the receipt."""
    target = _find(obj, app_id)
    done = obj.services.applications.hand_over(target.id, _actor(actor), acceptance_no=receipt,
                                               expected_version=expect_version)
    emit(done, as_json, lambda: describe(done, obj.services))


@app.command("attach")
@click.argument("app_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--material", required=True, help="Material code the file is for (see `eportcard guide`).")
@actor_option
@click.pass_obj
@friendly
def app_attach(obj: Ctx, app_id: str, file: Path, material: str, actor: str | None) -> None:
    """Attach a file (checked by content: type and size) to a draft or rejected application."""
    target = _find(obj, app_id)
    att = obj.services.applications.attach(target.id, material, file.name, file.read_bytes(), _actor(actor))
    click.echo(f"{att.id} {att.media_type} {att.size} bytes sha256:{att.sha256[:16]}…")


@app.command("attachments")
@click.argument("app_id")
@click.pass_obj
@friendly
def app_attachments(obj: Ctx, app_id: str) -> None:
    """List an application's attachments: id, material, file, size, upload date, and whether archived."""
    from core.services.archive import archived_of

    target = _find(obj, app_id)
    archived = archived_of(obj.services, target.id, Actor.system())
    for att in obj.services.applications.attachments_of(target.id, Actor.system()):
        when = archived.get(att.id)
        click.echo(f"{att.id}  {att.material}  {att.filename}  {att.size} bytes  uploaded {att.uploaded_at:%Y-%m-%d}  "
                   + (f"archived {when:%Y-%m-%d}" if when else "live"))


@app.command("retrieve")
@click.argument("att_id")
@click.option("--reason", required=True, help="Why it is taken out (kept in the audit trail).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (never overwritten; readable by you only).")
@actor_option
@click.pass_obj
@friendly
def app_retrieve(obj: Ctx, att_id: str, reason: str, out: Path, actor: str | None) -> None:
    """调取归档附件: take an archived attachment out of the archive, for the record (audited with the reason).
    Archived attachments are never shown again (seed 001: 归档留存的证明材料不能被查看); this is the one way out."""
    from core.services.archive import retrieve

    if out.exists():
        raise click.ClickException(f"{out} 已存在，不会覆盖 / {out} already exists; it will not be overwritten")
    att, content = retrieve(obj.services, att_id, _actor(actor), reason)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as written:
        written.write(content)
    click.echo(f"{att.filename}: {len(content)} bytes, sha256 {att.sha256} -> {out}")


# The other layers' commands. Imported here, after `main`, and kept light at import time
# (pyscard, uvicorn and the web stack load only when their command runs).
from core.accounts_cli import staff  # noqa: E402
from core.agent.cli import agent  # noqa: E402
from core.backup_cli import backup, restore  # noqa: E402
from core.ca_cli import ca  # noqa: E402
from core.cards_cli import card, counter  # noqa: E402
from core.cli_jobs import jobs, notify  # noqa: E402
from core.guide.cli import deadline, guide, new_region  # noqa: E402
from core.hardware.cli import virtual_card  # noqa: E402
from core.web.cli import demo, serve  # noqa: E402

for _command in (guide, deadline, new_region, ca, virtual_card, counter, card, serve, demo, agent, staff, jobs, notify,
                 backup, restore):
    main.add_command(_command)
