"""Backup, verify and restore a whole deployment (``eportcard backup``, ``backup verify``, ``restore``).

One archive holds, of one moment while the server runs: the database (its native copy and its rows,
core/store/dump.py), every blob an attachment references, the CA folder as it is (its key stays
encrypted with the CA passphrase), the config without its secrets, and ``manifest.json`` with the
schema revision, the audit head, the secrets a restore must be given, and the size and SHA-256 of
every member. The file around it (core/services/backup_envelope.py) may be sealed with a passphrase or
for a recipient's public key, and ends with a SHA-256 of all of it.

Secrets never go into an archive: the session key, the database password, the CA passphrase, the
audit key (whoever holds a backup and the key could rewrite the trail: docs/security.md) and the card
master secret. The manifest lists the ones the deployment uses; a restore asks for them.

A restore always loads the rows: into a database migrated to the archive's revision, then migrated to
this eportcard's, on SQLite or PostgreSQL whatever the archive came from; so it also moves a branch
from one to the other. The native copy is for the database's own tools (``sqlite3``, ``pg_restore``).
"""

from __future__ import annotations

import os
import re
import secrets
import tarfile
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from attrs import frozen
from sqlalchemy.exc import OperationalError

from core import __version__
from core.config import (
    CONFIG_ENV,
    CONFIG_NAME,
    Settings,
    ca_passphrase,
    load_settings,
    parse_settings,
    redact_url,
    resolve_secrets,
)
from core.errors import ConfigError, EportError, InvalidInput, NotFound, Unavailable
from core.services.backup_envelope import (
    EnvelopeWriter,
    Identity,
    Opening,
    Passphrase,
    Recipient,
    Sealing,
    check_digest,
    damaged,
    encryption_of,
    make_key_pair,
)
from core.services.backup_members import (
    ARCHIVED,
    BLOBS,
    CA,
    CONFIG,
    MANIFEST,
    MANIFEST_FORMAT,
    NATIVE,
    ROWS,
    Member,
    add_bytes,
    add_file,
    archived_member,
    blob_member,
    copy_hashed,
    members_of,
    name_damaged_member,
    tar_stream,
    walk,
)
from core.services.context import Services
from core.store import Store, open_store
from core.store.archive import Archive
from core.store.audit import key_id, load_key
from core.store.blobs import ARCHIVE
from core.store.dump import DatabaseSnapshot, data_counts, load_rows, snapshot
from core.store.jobs import JobLeases
from core.store.permissions import make_private_dir, secure_database, write_private
from core.store.records import AuditReport
from core.store.space import is_disk_full

Advance = Callable[[int], None]


# ``with progress(label, total) as advance: advance(n)``: how a caller shows the bytes done.
Progress = Callable[[str, int], AbstractContextManager[Advance]]


def no_progress(_label: str, _total: int) -> AbstractContextManager[Advance]:
    return nullcontext(lambda _n: None)


@frozen
class Secret:
    setting: str
    zh: str
    en: str


@frozen
class BackupResult:
    path: Path
    size: int
    encryption: str
    manifest: dict[str, Any]

    @property
    def missing_blobs(self) -> list[str]:
        return list(self.manifest["blobs"]["missing"]) + list(self.manifest["blobs"]["damaged"])


@frozen
class RestoreReport:
    manifest: dict[str, Any]
    loaded: dict[str, int]
    revision: str | None  # the database's after the restore
    audit: AuditReport
    audit_head_matches: bool
    blobs_checked: int
    blob_problems: list[str]
    config_written: bool
    session_key_made: bool
    still_to_supply: list[Secret]

    @property
    def ok(self) -> bool:
        return self.audit.ok and self.audit_head_matches and not self.blob_problems


def _disk_full(where: Path) -> Unavailable:
    return Unavailable(f"{where} 所在磁盘已满，备份未写出：腾出空间后再试",
                       f"the disk holding {where} is full and no backup was written: free some space and try again",
                       field="dest")


# ---- the config and its secrets --------------------------------------------------------------------------------


_PASSWORD_IN_URL = re.compile(r"^(?P<head>[^:/]+://[^:/@]+):[^@]*@")


# A key holding a secret itself (``[mail.options] password``, a plugin gateway's ``token`` ...); the keys
# naming where a secret is (``*_file``, ``*_env``) and identifiers (``secret_id``) stay.
_SESSION_KEY_PLACEHOLDER = 'secret_key = ""   # not in the backup: `eportcard restore` makes a new one'
_SECRET_KEY = re.compile(r"(\w+_)?(secret|secret_key|password|passphrase|token|auth_token|pin)")


def config_without_secrets(text: str) -> str:
    """The config's text with the session key and every other inline secret emptied and the database URL's
    password removed; comments and everything else kept as written. (Line by line: a secret inside an
    inline table, ``options = { password = "…" }``, is not seen; keep secrets in files, as
    docs/deployment.md says.)"""
    section, out = "", []
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            section = stripped[1:].split("]", 1)[0].strip()
        key = stripped.split("=", 1)[0].strip() if "=" in stripped and not stripped.startswith("#") else ""
        if (section, key) == ("web", "secret_key"):
            line = _SESSION_KEY_PLACEHOLDER + "\n"
        elif _SECRET_KEY.fullmatch(key):
            line = f'{key} = ""   # not in the backup: supply it\n'
        elif (section, key) == ("database", "url"):
            try:
                url = str(tomllib.loads(stripped)["url"])
            except (tomllib.TOMLDecodeError, KeyError):
                url = ""
            if _PASSWORD_IN_URL.match(url):
                bare = _PASSWORD_IN_URL.sub(r"\g<head>@", url)
                line = (f'url = "{bare}"   # password not in the backup: supply it ([database] password_file '
                        "or EPORTCARD_DATABASE_PASSWORD)\n")
        out.append(line)
    return "".join(out)


def secrets_to_supply(settings: Settings, audit_key_id: str | None) -> list[Secret]:
    """What a restore of this deployment must be given, as it is kept apart from its backups."""
    found = [Secret("web.secret_key", "会话密钥：恢复时自动生成新的（所有人需重新登录），也可自行提供",
                    "the session key: a restore makes a new one (everyone logs in again), or supply your own")]
    if _PASSWORD_IN_URL.match(settings.database.url) or settings.database.password_file \
            or settings.database.url_file:
        found.append(Secret("database.password", "数据库密码（[database] password_file 或 EPORTCARD_DATABASE_PASSWORD）",
                            "the database password ([database] password_file or EPORTCARD_DATABASE_PASSWORD)"))
    if audit_key_id is not None:
        found.append(Secret("audit.key_file", f"审计密钥（标识 {audit_key_id}）：放到 [audit] key_file 或 EPORTCARD_AUDIT_KEY；"
                            "没有它，恢复后的审计记录既不能核验也不能续写",
                            f"the audit key (id {audit_key_id}) at [audit] key_file or in EPORTCARD_AUDIT_KEY: "
                            "without it the restored audit trail can be neither checked nor continued"))
    if (settings.path(settings.pki.ca_dir)).is_dir():
        found.append(Secret("pki.passphrase", f"CA 私钥口令（{settings.pki.passphrase_env}、[pki] passphrase_file "
                            "或凭据 ca_passphrase）", f"the CA key's passphrase ({settings.pki.passphrase_env}, "
                            "[pki] passphrase_file or the credential ca_passphrase)"))
    if settings.path(settings.card.master_key_file).exists():
        found.append(Secret("card.master_key_file", "制卡主密钥文件（[card] master_key_file）",
                            "the card master secret file ([card] master_key_file)"))
    return found


# ---- backup ---------------------------------------------------------------------------------------------------


def _ca_files(settings: Settings) -> list[tuple[str, Path]]:
    folder = settings.path(settings.pki.ca_dir)
    if not folder.is_dir():
        return []
    return [(CA + path.relative_to(folder).as_posix(), path) for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.is_symlink()]


def _plan(services: Services, snap: DatabaseSnapshot, staging: Path, config_text: str
          ) -> tuple[list[tuple[str, Path]], list[str]]:
    """(member name, file) for everything but the manifest; and the attachments' blobs that are missing.
    The archive area's copies go in as they are (compressed); a live copy the archive also holds may be
    gone (an upload of an archived file reads it back from there), so only one neither holds is missing."""
    config_file = staging / "eportcard.toml"
    config_file.write_text(config_without_secrets(config_text), encoding="utf-8")
    planned = [(f"{ROWS}{name}.jsonl", path) for name, path in snap.rows.items()]
    planned.append((NATIVE[snap.backend], snap.native))
    missing = []
    blobs = services.store.blobs
    for sha in snap.archived_blobs:
        try:
            blobs.archived(sha)  # whole and what it is named (it was checked when written; a disk may fail)
            planned.append((archived_member(sha), blobs.archive_path(sha)))
        except NotFound:
            missing.append(sha)
    archived = {sha for sha in snap.archived_blobs if sha not in missing}
    for sha in snap.attachment_blobs:
        path = blobs.path_for(sha)
        if path.is_file():
            planned.append((blob_member(sha), path))
        elif sha not in archived:
            missing.append(sha)
    planned += _ca_files(services.settings)
    planned.append((CONFIG, config_file))
    return planned, missing


def make_backup(services: Services, config: Path, dest: Path, sealing: Sealing = None,
                progress: Progress = no_progress) -> BackupResult:
    """Write one archive of the deployment at ``dest`` (refused if it exists). Blobs an attachment names but
    that are missing or damaged are listed in the manifest (the archive is still written)."""
    if dest.exists():
        raise InvalidInput(f"{dest} 已存在，不会覆盖", f"{dest} already exists; it will not be overwritten",
                           field="dest")
    if not dest.parent.is_dir():
        raise InvalidInput(f"目录 {dest.parent} 不存在", f"the folder {dest.parent} does not exist", field="dest")
    config_text = config.read_text(encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory(prefix=".eportcard-backup-", dir=dest.parent) as scratch:
            staging = Path(scratch)
            (staging / "database").mkdir()
            snap = snapshot(services.store, staging / "database")
            planned, missing = _plan(services, snap, staging, config_text)
            return _write(services, dest, sealing, progress, snap, planned, missing)
    except Exception as exc:  # a full disk shows as OSError, or as SQLite's own error while it copies
        if is_disk_full(exc):
            raise _disk_full(dest) from None
        raise


def _write(services: Services, dest: Path, sealing: Sealing, progress: Progress, snap: DatabaseSnapshot,
           planned: list[tuple[str, Path]], missing: list[str]) -> BackupResult:
    now = services.clock()
    writer = EnvelopeWriter(dest, sealing)
    members: dict[str, Member] = {}
    try:
        with progress("backup", sum(path.stat().st_size for _n, path in planned)) as advance, \
                tarfile.open(fileobj=writer, mode="w|gz") as tar:  # type: ignore[call-overload]
            for name, path in planned:
                members[name] = add_file(tar, name, path, advance)
            damaged_blobs = [name[len(BLOBS):].replace("/", "") for name, m in members.items()
                             if name.startswith(BLOBS) and m.sha256 != name[len(BLOBS):].replace("/", "")]
            manifest = _manifest(services, snap, members, missing, damaged_blobs, now)
            add_bytes(tar, MANIFEST, _json(manifest), int(now.timestamp()))
        writer.close()
    except BaseException:
        writer.discard()
        raise
    return BackupResult(dest, dest.stat().st_size, writer.encryption, manifest)


def _json(data: dict[str, Any]) -> bytes:
    import json

    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _manifest(services: Services, snap: DatabaseSnapshot, members: dict[str, Member], missing: list[str],
              damaged_blobs: list[str], now: datetime) -> dict[str, Any]:
    head = snap.audit_head
    return {
        "format": MANIFEST_FORMAT,
        "created_at": now.astimezone(UTC).isoformat(),
        "eportcard_version": __version__,
        "database": {"backend": snap.backend, "schema_revision": snap.revision, "native": NATIVE[snap.backend],
                     "tables": snap.counts},
        "audit_head": None if head is None else {"seq": head.seq, "hash": head.hash, "key_id": head.key_id},
        "blobs": {"count": sum(1 for n in members if n.startswith(BLOBS)), "missing": missing,
                  "damaged": damaged_blobs, "archived": sum(1 for n in members if n.startswith(ARCHIVED))},
        "ca_files": sorted(n for n in members if n.startswith(CA)),
        "secrets": [{"setting": s.setting, "zh": s.zh, "en": s.en}
                    for s in secrets_to_supply(services.settings, head.key_id if head else None)],
        "members": {name: {"size": m.size, "sha256": m.sha256} for name, m in sorted(members.items())},
    }


ARCHIVE_SUFFIX = ".epbak"
_ARCHIVE_NAME = re.compile(r"^eportcard-\d{8}T\d{6}Z\.epbak$")


def archive_name(at: datetime) -> str:
    """``eportcard-20260302T183000Z.epbak``: names sort by time."""
    return f"eportcard-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}{ARCHIVE_SUFFIX}"


def make_backup_into(services: Services, config: Path, folder: Path, keep: int | None = None,
                     sealing: Sealing = None, progress: Progress = no_progress) -> tuple[BackupResult, list[Path]]:
    """A new archive in ``folder`` named by the time; then, with ``keep``, only that many of the newest
    archives named so are kept (other files are never touched). Returns the archive and those removed."""
    if keep is not None and keep < 1:
        raise InvalidInput("至少保留 1 份备份", "keep at least 1 backup", field="keep")
    result = make_backup(services, config, folder / archive_name(services.clock()), sealing, progress)
    if keep is None:
        return result, []
    kept = sorted((p for p in folder.iterdir() if _ARCHIVE_NAME.match(p.name) and p.is_file()), reverse=True)
    removed = [p for p in kept[keep:] if p != result.path]
    for path in removed:
        path.unlink()
    return result, removed


def deployment_config(settings: Settings, environ: Any = os.environ) -> Path:
    """The config file of the deployment ``settings`` came from: ``$EPORTCARD_CONFIG`` when it names one in the
    deployment's folder, else ``eportcard.toml`` there (what a scheduled job, given only settings, archives)."""
    named = environ.get(CONFIG_ENV)
    for path in ([Path(named)] if named else []) + [settings.path(CONFIG_NAME)]:
        if path.is_file() and path.resolve().parent == Path(settings.root).resolve():
            return path
    raise ConfigError(f"在 {settings.root} 中找不到配置文件：请命名为 {CONFIG_NAME} 或设置 {CONFIG_ENV}",
                      f"the config file is not in {settings.root}: name it {CONFIG_NAME} there or set {CONFIG_ENV}",
                      field="backup.dir")


def run_scheduled(services: Services) -> str:
    """The ``backup`` job (core/services/jobs.py): an archive into ``[backup] dir``, the ``keep`` newest kept,
    sealed for ``[backup] recipient``; a one-line summary. Fails (raises) when a blob was missing."""
    wanted = services.settings.backup
    if not wanted.dir:
        return "skipped: [backup] dir is not set"
    folder = services.settings.path(wanted.dir)
    make_private_dir(folder)
    sealing = Recipient.load(services.settings.path(wanted.recipient)) if wanted.recipient else None
    result, removed = make_backup_into(services, deployment_config(services.settings), folder, wanted.keep, sealing)
    if result.missing_blobs:
        raise Unavailable(f"备份 {result.path} 已写出，但 {len(result.missing_blobs)} 个附件文件缺失或已损坏",
                          f"{result.path} was written, but {len(result.missing_blobs)} attachment file(s) are "
                          "missing or damaged", field="blob_dir")
    return f"wrote {result.path} ({result.size} bytes, {result.encryption}); removed {len(removed)} old archive(s)"


# ---- verify ---------------------------------------------------------------------------------------------------


def verify_backup(path: Path, opening: Opening = None, progress: Progress = no_progress,
                  keep: Path | None = None) -> dict[str, Any]:
    """Check an archive without restoring it: the file's SHA-256, then (opened) every member against the
    manifest, the row counts, and the native database copy with its own tools. Returns the manifest.
    ``keep``: a folder to write the database members and the config into on the way (for a restore)."""
    if not path.is_file():
        raise InvalidInput(f"找不到备份文件 {path}", f"there is no backup file {path}", field="archive")
    size = path.stat().st_size
    try:
        with progress("verify", size) as advance:
            check_digest(path, advance)
    except InvalidInput as exc:
        where = name_damaged_member(path, opening) if encryption_of_or_none(path) is not None else None
        if where is not None:  # say where, in the member's words
            raise damaged(path, f"{_reason(exc.en, ': ')}; {_reason(where.en, ': ')}",
                          f"{_reason(exc.zh, '：')}；{_reason(where.zh, '：')}") from None
        raise
    with progress("check members", size) as advance:
        return walk(path, opening, advance, keep).manifest


def _reason(message: str, separator: str) -> str:
    return message.split(separator, 1)[-1]


def encryption_of_or_none(path: Path) -> str | None:
    try:
        return encryption_of(path)
    except EportError:
        return None


# ---- restore --------------------------------------------------------------------------------------------------


@frozen
class _Target:
    config: Path
    settings: Settings
    config_text: str | None  # None: the config exists already


def _target(config: Path, archived_config: str, environ: Any) -> _Target:
    if config.exists():
        return _Target(config, load_settings(config, environ), None)
    settings = resolve_secrets(parse_settings(archived_config, config.parent), environ)
    return _Target(config, settings, archived_config)


def _refuse_files(target: _Target) -> None:
    for folder, what in ((target.settings.blob_dir, "blob_dir"),
                         (target.settings.path(target.settings.pki.ca_dir), "pki.ca_dir")):
        if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
            raise InvalidInput(f"目标目录 {folder} 不是空的：请恢复到新的部署目录",
                               f"the target folder {folder} is not empty: restore into a new deployment",
                               field=what)


def _refuse_data(store: Store) -> None:
    held = [f"{name} ({rows})" for name, rows in data_counts(store).items()]
    if held:
        raise InvalidInput("目标数据库不是空的（" + "、".join(held[:5]) + "）：请恢复到新的数据库",
                           "the target database is not empty (" + ", ".join(held[:5]) + "): restore into a new one",
                           field="database")


def _check_audit_key(target: _Target, manifest: dict[str, Any], environ: Any) -> bytes | None:
    head = manifest.get("audit_head") or {}
    wanted = head.get("key_id")
    key = load_key(target.settings.path(target.settings.audit.key_file), environ)
    if wanted is None:
        return key
    if key is None or key_id(key) != wanted:
        have = "no audit key" if key is None else f"the audit key {key_id(key)}"
        raise ConfigError(f"备份的审计记录以审计密钥 {wanted} 签名：请先把该密钥放到 "
                          f"{target.settings.path(target.settings.audit.key_file)} 或 EPORTCARD_AUDIT_KEY",
                          f"the backup's audit trail is keyed with audit key {wanted}, but the target has {have}: "
                          f"put that key at {target.settings.path(target.settings.audit.key_file)} or in "
                          "EPORTCARD_AUDIT_KEY first", field="audit.key_file")
    return key


@contextmanager
def _open_target_store(settings: Settings, audit_key: bytes | None) -> Iterator[Store]:
    store = open_store(settings.database_url, settings.blob_dir, audit_key=audit_key)
    try:
        yield store
    finally:
        store.dispose()


def restore_backup(config: Path, archive: Path, opening: Opening = None, progress: Progress = no_progress,
                   environ: Any = os.environ) -> RestoreReport:
    """Restore ``archive`` into the empty deployment of ``config``: written from the archive's config when it
    does not exist (with a new session key), else as it says (e.g. another database). Refused, before
    anything is written, for a damaged archive, a target holding data or the wrong audit key."""
    with tempfile.TemporaryDirectory(prefix=".eportcard-restore-", dir=_existing_parent(config)) as scratch:
        staging = Path(scratch)
        manifest = verify_backup(archive, opening, progress, keep=staging)
        target = _target(config, (staging / CONFIG).read_text(encoding="utf-8"), environ)
        audit_key = _check_audit_key(target, manifest, environ)
        try:
            _refuse_files(target)
            secure_database(target.settings)  # a new SQLite file is the owner's only from its first byte
            with _open_target_store(target.settings, audit_key) as store:
                _refuse_data(store)
                session_key_made = False
                if target.config_text is not None:
                    make_private_dir(config.parent)
                    text, session_key_made = _with_new_session_key(target.config_text)
                    write_private(config, text)
                loaded = _load_database(store, manifest, staging)
                secure_database(target.settings)
                make_private_dir(target.settings.blob_dir)
                _extract_files(archive, opening, progress, manifest, blob_dir=target.settings.blob_dir,
                               ca_dir=target.settings.path(target.settings.pki.ca_dir))
                return _report(store, manifest, loaded, target, session_key_made, environ)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            shown = redact_url(target.settings.database_url)
            raise Unavailable(f"目标数据库 {shown} 出错（{reason}）：请检查 [database] url 及其密码",
                              f"the target database {shown} failed ({reason}): check [database] url and its "
                              "password", field="database.url") from None


def _existing_parent(config: Path) -> Path:
    folder = config.parent.resolve()
    while not folder.is_dir():
        folder = folder.parent
    return folder


def _with_new_session_key(text: str) -> tuple[str, bool]:
    if _SESSION_KEY_PLACEHOLDER not in text:
        return text, False
    return text.replace(_SESSION_KEY_PLACEHOLDER, f'secret_key = "{secrets.token_urlsafe(32)}"', 1), True


def _extract_files(archive: Path, opening: Opening, progress: Progress, manifest: dict[str, Any], *,
                   blob_dir: Path, ca_dir: Path) -> None:
    """The blobs and the CA files into the target, each hashed again on the way (the file could have
    changed since it was verified)."""
    with progress("restore", archive.stat().st_size) as advance, tar_stream(archive, opening) as tar:
        for info, content in members_of(tar, archive):
            if info.name.startswith(BLOBS):
                target = blob_dir / info.name[len(BLOBS):]
            elif info.name.startswith(ARCHIVED):
                target = blob_dir / ARCHIVE / info.name[len(ARCHIVED):]
            elif info.name.startswith(CA):
                target = ca_dir.joinpath(*PurePosixPath(info.name[len(CA):]).parts)
            else:
                copy_hashed(content, None, advance)
                continue
            member = _write_member(content, target, advance)
            if manifest["members"].get(info.name) != {"size": member.size, "sha256": member.sha256}:
                target.unlink()
                raise damaged(archive, f"member {info.name} changed since it was verified",
                              f"成员 {info.name} 在核验后被改动")


def _write_member(content: Any, target: Path, advance: Advance) -> Member:
    make_private_dir(target.parent)
    partial = target.with_name(f".{target.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            member = copy_hashed(content, out, advance)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return member


def _load_database(store: Store, manifest: dict[str, Any], staging: Path) -> dict[str, int]:
    """The archive's schema revision (a schema made empty by `eportcard init` is taken back first), its
    rows, then this eportcard's newest schema."""
    revision = manifest["database"]["schema_revision"]
    current = store.current_revision()
    if current is not None and current != revision:
        store.downgrade("base")
    if revision is not None:
        store.upgrade(revision)
    rows = {PurePosixPath(name).stem: staging / name for name in manifest["members"] if name.startswith(ROWS)}
    loaded = load_rows(store, rows)
    store.upgrade()
    with store.transaction() as tx:
        JobLeases(tx).release_all()  # no runner of the old deployment runs here (a backup job held its own)
    return loaded


def _report(store: Store, manifest: dict[str, Any], loaded: dict[str, int], target: _Target,
            session_key_made: bool, environ: Any) -> RestoreReport:
    audit = store.audit_verify()
    head = manifest.get("audit_head")
    with store.transaction(readonly=True) as tx:
        entries = tx.audit.all(after_seq=max(0, (head or {}).get("seq", 0) - 1), limit=1)
        shas, archived = Archive(tx).live_hashes(), Archive(tx).archived_hashes()
    matches = head is None or (head["seq"] == 0 and not entries) or \
        bool(entries and entries[0].seq == head["seq"] and entries[0].hash == head["hash"])
    problems = []
    for sha, read in [*((sha, store.blobs.archived) for sha in archived), *((sha, store.blobs.get) for sha in shas)]:
        try:
            read(sha)  # the content checked against its hash (a live copy the archive holds is put back)
        except EportError as exc:
            problems.append(f"{sha}: {exc.en}")
    return RestoreReport(manifest=manifest, loaded=loaded, revision=store.current_revision(), audit=audit,
                         audit_head_matches=matches, blobs_checked=len(shas) + len(archived), blob_problems=problems,
                         config_written=target.config_text is not None, session_key_made=session_key_made,
                         still_to_supply=_still_missing(manifest, target, session_key_made, environ))


def _still_missing(manifest: dict[str, Any], target: _Target, session_key_made: bool, environ: Any) -> list[Secret]:
    """The manifest's secrets the restored deployment does not have yet (the database's and the audit key
    were needed to get this far)."""
    settings = target.settings
    have = {"database.password", "audit.key_file"}
    if session_key_made or settings.web.secret_key:
        have.add("web.secret_key")
    try:
        if ca_passphrase(settings, environ):
            have.add("pki.passphrase")
    except ConfigError:
        pass
    if settings.path(settings.card.master_key_file).exists():
        have.add("card.master_key_file")
    return [Secret(s["setting"], s["zh"], s["en"]) for s in manifest["secrets"] if s["setting"] not in have]


__all__ = ["ARCHIVE_SUFFIX", "BackupResult", "Identity", "Passphrase", "Progress", "Recipient", "RestoreReport",
           "Secret", "archive_name", "config_without_secrets", "make_backup", "make_backup_into", "make_key_pair",
           "no_progress", "restore_backup", "run_scheduled", "secrets_to_supply", "verify_backup"]
