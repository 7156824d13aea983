"""The members of a backup archive: which names may appear, writing them with their SHA-256, and walking
an archive to check every member against the manifest (``manifest.json``, the last member).

Only regular files with the names below are accepted, so an archive can never write outside the
folders a restore puts it in (no absolute paths, no ``..``, no links).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from attrs import frozen

from core.errors import InvalidInput
from core.services.backup_envelope import EnvelopeReader, Opening, damaged
from core.store.dump import POSTGRES_DUMP, SQLITE_COPY, pg_tool

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "eportcard-backup-manifest/1"
CONFIG = "config/eportcard.toml"
ROWS = "database/rows/"
NATIVE = {"sqlite": f"database/{SQLITE_COPY}", "postgresql": f"database/{POSTGRES_DUMP}"}
BLOBS = "blobs/"
ARCHIVED = "archive/"  # the blob store's archive area (core/store/blobs.py): compressed, named by the content's hash
CA = "ca/"
_ROWS_NAME = re.compile(r"^database/rows/[a-z0-9_]+\.jsonl$")
_BLOB_NAME = re.compile(r"^blobs/[0-9a-f]{2}/[0-9a-f]{62}$")
_ARCHIVED_NAME = re.compile(r"^archive/[0-9a-f]{2}/[0-9a-f]{62}\.gz$")
BLOCK = 1 << 16

Advance = Callable[[int], None]


def allowed_name(name: str) -> bool:
    if name in (MANIFEST, CONFIG, *NATIVE.values()) or _ROWS_NAME.match(name) or _BLOB_NAME.match(name) \
            or _ARCHIVED_NAME.match(name):
        return True
    if name.startswith(CA):
        parts = PurePosixPath(name).parts
        return len(parts) > 1 and not PurePosixPath(name).is_absolute() and all(p not in ("", ".", "..")
                                                                                 for p in parts)
    return False


def blob_member(sha256: str) -> str:
    return f"{BLOBS}{sha256[:2]}/{sha256[2:]}"


def archived_member(sha256: str) -> str:
    return f"{ARCHIVED}{sha256[:2]}/{sha256[2:]}.gz"


@frozen
class Member:
    size: int
    sha256: str


# ---- writing --------------------------------------------------------------------------------------------------


class _Hashing:
    """A file object passing reads through, hashing them and counting progress."""

    def __init__(self, source: IO[bytes], advance: Advance) -> None:
        self._source = source
        self._advance = advance
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.digest.update(data)
        self._advance(len(data))
        return data


def add_file(tar: tarfile.TarFile, name: str, path: Path, advance: Advance) -> Member:
    """Add ``path`` as ``name`` (owner-only mode, the file's size as it is now)."""
    with path.open("rb") as source:
        info = tarfile.TarInfo(name)
        info.size = path.stat().st_size
        info.mode = 0o600
        info.mtime = int(path.stat().st_mtime)
        hashing = _Hashing(source, advance)
        tar.addfile(info, hashing)
    return Member(info.size, hashing.digest.hexdigest())


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> Member:
    import io

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, mtime
    tar.addfile(info, io.BytesIO(data))
    return Member(len(data), hashlib.sha256(data).hexdigest())


# ---- reading --------------------------------------------------------------------------------------------------


@frozen
class Walked:
    manifest: dict[str, Any]
    members: dict[str, Member]


@contextmanager
def tar_stream(path: Path, opening: Opening) -> Iterator[tarfile.TarFile]:
    """The archive inside the envelope, read as a stream (each member once, in order)."""
    with EnvelopeReader(path, opening) as reader:
        try:
            tar = tarfile.open(fileobj=reader, mode="r|gz")  # type: ignore[call-overload]  # noqa: SIM115  (entered below)
        except _BROKEN as exc:
            raise _broken(path, exc) from None
        with tar:
            yield tar


def members_of(tar: tarfile.TarFile, path: Path) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    """Every member with its content; a name or kind a backup never has is refused."""
    try:
        for info in tar:
            if not info.isreg() or not allowed_name(info.name):
                raise damaged(path, f"it holds {info.name!r}, which no eportcard backup has",
                              f"含有 eportcard 备份不会有的成员 {info.name!r}")
            content = tar.extractfile(info)
            assert content is not None  # a regular file
            yield info, _Guarded(content, path)  # type: ignore[misc]
    except _BROKEN as exc:
        raise _broken(path, exc) from None


_BROKEN = (tarfile.TarError, zlib.error, EOFError, OSError)


class _Guarded:
    """A member's content whose reads say "damaged" (bilingual) where the archive stops making sense."""

    def __init__(self, content: IO[bytes], path: Path) -> None:
        self._content = content
        self._path = path

    def read(self, size: int = -1) -> bytes:
        try:
            return self._content.read(size)
        except _BROKEN as exc:
            raise _broken(self._path, exc) from None


def _broken(path: Path, exc: BaseException) -> InvalidInput:
    return damaged(path, f"the archive inside is damaged ({exc})", f"内部归档已损坏（{exc}）")


def copy_hashed(content: IO[bytes], out: Any, advance: Advance) -> Member:
    """Read a member to its end (into ``out`` when given): its size and SHA-256."""
    digest, size = hashlib.sha256(), 0
    while block := content.read(BLOCK):
        digest.update(block)
        size += len(block)
        if out is not None:
            out.write(block)
        advance(len(block))
    return Member(size, digest.hexdigest())


def read_manifest(data: bytes, path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
        if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("members"), dict):
            raise ValueError("format")
    except (ValueError, AttributeError):
        raise damaged(path, f"{MANIFEST} is damaged or of an unknown format", f"{MANIFEST} 已损坏或格式未知") \
            from None
    return manifest


def walk(path: Path, opening: Opening, advance: Advance, keep: Path | None = None) -> Walked:
    """Read every member, hash it and check it against the manifest: the first disagreement is refused,
    naming the member. The native database copy is checked with the database's own tools too. With
    ``keep``, the database members and the config are also written there (what a restore loads)."""
    seen: dict[str, Member] = {}
    manifest: dict[str, Any] | None = None
    lines: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="eportcard-verify-") as scratch, tar_stream(path, opening) as tar:
        native: Path | None = None
        for info, content in members_of(tar, path):
            if info.name in seen or (info.name == MANIFEST and manifest is not None):
                raise damaged(path, f"it holds {info.name} twice", f"成员 {info.name} 出现两次")
            if info.name == MANIFEST:
                manifest = read_manifest(content.read(), path)
                continue
            kept = keep / info.name if keep is not None and (info.name.startswith("database/")
                                                             or info.name == CONFIG) else None
            if info.name in NATIVE.values():
                native = kept or Path(scratch) / PurePosixPath(info.name).name
            out = _Sink(kept or (native if info.name in NATIVE.values() else None))
            with out:
                seen[info.name] = copy_hashed(content, out, advance)
            if info.name.startswith(ROWS):
                lines[info.name] = out.lines - 1  # the header line
        if manifest is None:
            raise damaged(path, f"it has no {MANIFEST}", f"缺少 {MANIFEST}")
        compare(manifest, seen, lines, path)
        if native is not None:
            check_native(native, str(manifest["database"]["backend"]), path)
    return Walked(manifest, seen)


class _Sink:
    """Where a member's bytes go while they are hashed: a file (or nowhere), counting lines."""

    def __init__(self, target: Path | None) -> None:
        self.lines = 0
        self._target = target
        self._out: IO[bytes] | None = None

    def __enter__(self) -> _Sink:
        if self._target is not None:
            self._target.parent.mkdir(parents=True, exist_ok=True)
            self._out = self._target.open("wb")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._out is not None:
            self._out.close()

    def write(self, block: bytes) -> None:
        self.lines += block.count(b"\n")
        if self._out is not None:
            self._out.write(block)


def compare(manifest: dict[str, Any], seen: dict[str, Member], lines: dict[str, int], path: Path) -> None:
    listed: dict[str, Any] = manifest["members"]
    for name in sorted(set(listed) | set(seen)):
        if name not in seen:
            raise damaged(path, f"member {name} is in the manifest but not in the archive",
                          f"成员 {name} 列在清单中，但归档里没有")
        if name not in listed:
            raise damaged(path, f"member {name} is not in the manifest", f"成员 {name} 不在清单中")
        expected = listed[name]
        if expected.get("sha256") != seen[name].sha256 or expected.get("size") != seen[name].size:
            raise damaged(path, f"member {name} does not match its SHA-256 in the manifest",
                          f"成员 {name} 与清单中的 SHA-256 不符")
    tables: dict[str, int] = manifest["database"]["tables"]
    for name, count in lines.items():
        table = PurePosixPath(name).stem
        if tables.get(table) != count:
            raise damaged(path, f"member {name} holds {count} rows, the manifest says {tables.get(table)}",
                          f"成员 {name} 有 {count} 行，清单记为 {tables.get(table)}")


def check_native(copy: Path, backend: str, path: Path) -> None:
    """The native copy opens with its own tools: SQLite's integrity check, ``pg_restore --list``."""
    if backend == "sqlite":
        try:
            with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as conn:
                answer = conn.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            answer = str(exc)
        if answer != "ok":
            raise damaged(path, f"its SQLite copy fails the integrity check ({answer})",
                          f"SQLite 副本未通过完整性检查（{answer}）")
        return
    done = subprocess.run([pg_tool("pg_restore"), "--list", str(copy)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise damaged(path, f"pg_restore cannot read its PostgreSQL dump ({reason})",
                      f"pg_restore 无法读取其中的 PostgreSQL 转储（{reason}）")


def name_damaged_member(path: Path, opening: Opening) -> InvalidInput | None:
    """After the file's SHA-256 failed: the refusal of the first member that reads differently from the
    manifest, or of where the archive stops making sense (best effort, to say where the damage is)."""
    try:
        walk(path, opening, lambda _n: None)
    except InvalidInput as exc:
        return exc
    return None


__all__ = ["ARCHIVED", "BLOBS", "CA", "CONFIG", "MANIFEST", "MANIFEST_FORMAT", "NATIVE", "ROWS", "Member", "Walked",
           "add_bytes", "add_file", "allowed_name", "archived_member", "blob_member", "copy_hashed", "members_of",
           "name_damaged_member", "read_manifest", "tar_stream", "walk"]
