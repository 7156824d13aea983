"""Content-addressed storage of uploaded files, and the checks an upload must pass first.

Files live at ``blob_dir/ab/cdef…`` named by their SHA-256, so storing the same file twice is a
no-op and a stored file can be checked against its name; archived ones (core/services/archive.py) at
``blob_dir/archive/ab/cdef….gz``, compressed, named by the same hash. Writes go to a temp file in the same
directory and are renamed into place, so a crash never leaves a half-written blob.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
import zlib
from datetime import datetime, timedelta
from pathlib import Path, PurePath

from core.errors import InvalidInput, NotFound
from core.rules import UploadPolicy
from core.store.space import is_disk_full, storage_full

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# Magic numbers: what the content really is, whatever its name says.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"MZ", "application/x-msdownload"),
    (b"\x7fELF", "application/x-executable"),
)

_EXTENSIONS: dict[str, str] = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg",
    ".png": "image/png", ".gif": "image/gif", ".bmp": "image/bmp",
    ".pdf": "application/pdf", ".tif": "image/tiff", ".tiff": "image/tiff",
    ".webp": "image/webp",
}

_TYPE_NAMES: dict[str, str] = {
    "image/jpeg": "JPG", "image/png": "PNG", "image/gif": "GIF", "image/bmp": "BMP",
    "application/pdf": "PDF", "image/tiff": "TIFF", "image/webp": "WEBP",
}


def sniff_media_type(content: bytes) -> str | None:
    """The media type the content's magic bytes show, or None when unknown."""
    for magic, media_type in _MAGIC:
        if content.startswith(magic):
            return media_type
    # BMP: "BM" then the file size as a little-endian uint32 (checked loosely: "BM" alone is text).
    if content[:2] == b"BM" and len(content) >= 26 and content[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g}"


def check_upload(content: bytes, filename: str, policy: UploadPolicy) -> str:
    """The media type of an acceptable upload; ``InvalidInput`` (field "attachment") otherwise."""
    if not content:
        raise InvalidInput("上传的文件是空的，请重新选择文件。",
                           "The file is empty; please choose the file again.", field="attachment")
    if len(content) > policy.max_bytes:
        raise InvalidInput(
            f"文件大小超过 {_mb(policy.max_bytes)} MB 的上限，请压缩后重新上传。",
            f"The file is larger than the {_mb(policy.max_bytes)} MB limit; "
            "please reduce its size and upload again.", field="attachment")
    allowed = "、".join(_TYPE_NAMES.get(t, t) for t in policy.media_types)
    allowed_en = ", ".join(_TYPE_NAMES.get(t, t) for t in policy.media_types)
    detected = sniff_media_type(content)
    if detected is None or detected not in policy.media_types:
        raise InvalidInput(f"不支持此文件类型，只接受 {allowed} 文件。",
                           f"This type of file is not accepted; only {allowed_en} files are.",
                           field="attachment")
    extension = PurePath(filename).suffix.lower()
    if _EXTENSIONS.get(extension) != detected:
        shown = _TYPE_NAMES.get(detected, detected)
        raise InvalidInput(
            f"文件“{filename}”的内容是 {shown}，与其扩展名不符，请以正确的扩展名重新上传。",
            f"The file '{filename}' is not what its name says: its content is {shown}; "
            "please upload it with the right extension.", field="attachment")
    return detected


def is_archived(submitted_at: datetime | None, now: datetime, days: int = 30) -> bool:
    """Attachments are kept but no longer viewable ``days`` after the application was submitted."""
    if submitted_at is None:
        return False
    return now - submitted_at >= timedelta(days=days)


ARCHIVE = "archive"  # the archive area: blob_dir/archive/ab/cdef….gz


class BlobStore:
    """Live copies at ``root/ab/cdef…``; archived ones, gzip-compressed (RFC 1952), at
    ``root/archive/ab/cdef….gz``: both named by the SHA-256 of the content, which every read checks."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise InvalidInput("文件标识无效。", "Invalid file identifier.", field="attachment")
        return self.root / sha256[:2] / sha256[2:]

    def archive_path(self, sha256: str) -> Path:
        self.path_for(sha256)  # the same check of the name
        return self.root / ARCHIVE / sha256[:2] / f"{sha256[2:]}.gz"

    def put(self, content: bytes) -> str:
        """Store the content and return its SHA-256 (hex). Storing it again changes nothing.
        A full disk is ``Unavailable`` (storage full), and leaves no file behind."""
        digest = hashlib.sha256(content).hexdigest()
        target = self.path_for(digest)
        if not target.exists():
            _write_whole(target, content)
        return digest

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def get(self, sha256: str) -> bytes:
        """The content ``sha256``: the live copy, or, when it is gone but the archive holds the content (an
        upload of the same file as an archived one), the archived copy, put back as the live one."""
        try:
            return self._live(sha256)
        except FileNotFoundError:
            pass
        try:
            content = self.archived(sha256)
        except NotFound:
            raise NotFound("文件不存在。", "The file does not exist.", field="attachment") from None
        _write_whole(self.path_for(sha256), content)
        return content

    def _live(self, sha256: str) -> bytes:
        content = self.path_for(sha256).read_bytes()
        if hashlib.sha256(content).hexdigest() != sha256:
            # Storage corruption or tampering: never serve a file that is not what was uploaded.
            raise NotFound("文件已损坏。", "The stored file is damaged.", field="attachment")
        return content

    # ---- the archive area ------------------------------------------------------------------------------------
    def archive(self, sha256: str) -> int:
        """Put the content ``sha256`` in the archive area unless a good copy is there already: the live copy
        (checked against its name) compressed, written whole, read back and checked. The archived copy's
        size; ``NotFound`` when neither copy holds the content."""
        target = self.archive_path(sha256)
        if not self._archived_ok(sha256):
            try:
                content = self._live(sha256)
            except FileNotFoundError:
                raise NotFound("文件不存在，无法归档。", "The file does not exist; it cannot be archived.",
                               field="attachment") from None
            _write_whole(target, gzip.compress(content, mtime=0))  # mtime 0: the same content, the same bytes
            if not self._archived_ok(sha256):
                raise NotFound("归档副本读回校验不符。", "The archived copy read back does not match.",
                               field="attachment")
        return target.stat().st_size

    def archived(self, sha256: str) -> bytes:
        """The content of the archived copy, checked against its name; ``NotFound`` if missing or damaged."""
        try:
            content = gzip.decompress(self.archive_path(sha256).read_bytes())
        except FileNotFoundError:
            raise NotFound("归档文件不存在。", "The archived file does not exist.", field="attachment") from None
        except (OSError, EOFError, zlib.error):  # not gzip, or cut short
            content = b""
        if hashlib.sha256(content).hexdigest() != sha256:
            raise NotFound("归档文件已损坏。", "The archived file is damaged.", field="attachment")
        return content

    def _archived_ok(self, sha256: str) -> bool:
        try:
            self.archived(sha256)
        except NotFound:
            return False
        return True

    def release(self, sha256: str) -> None:
        """Remove the live copy once the archive holds the content (checked again first)."""
        self.archived(sha256)
        self.path_for(sha256).unlink(missing_ok=True)


def _write_whole(target: Path, content: bytes) -> None:
    """Write ``content`` at ``target`` whole or not at all: a temp file beside it, flushed to disk, renamed.
    A full disk is ``Unavailable`` (storage full), and leaves no file behind."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    except OSError as exc:
        if is_disk_full(exc):
            raise storage_full("attachment") from exc
        raise
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(exc):
            raise storage_full("attachment") from exc
        raise
