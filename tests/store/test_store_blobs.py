"""Blob store and upload checks: content decides, not the name."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import InvalidInput, NotFound
from core.rules import UploadPolicy
from core.store import BlobStore, check_upload, is_archived, sniff_media_type

POLICY = UploadPolicy(media_types=("image/jpeg", "image/png", "application/pdf"), max_bytes=2 * 1024 * 1024)


def png(extra: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body + b"\x00" * extra


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
GIF = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20
BMP = b"BM" + struct.pack("<I", 58) + b"\x00\x00\x00\x00" + struct.pack("<I", 54) + b"\x00" * 44
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120
ZIP = b"PK\x03\x04\x14\x00\x00\x00" + b"\x00" * 60


@pytest.mark.parametrize(("content", "expected"), [
    (JPEG, "image/jpeg"), (png(), "image/png"), (GIF, "image/gif"), (BMP, "image/bmp"),
    (PDF, "application/pdf"), (ZIP, "application/zip"), (EXE, "application/x-msdownload"),
    (b"hello, world", None), (b"BM but only text", None), (b"", None),
])
def test_sniff_by_magic_bytes(content: bytes, expected: str | None):
    assert sniff_media_type(content) == expected


@pytest.mark.parametrize(("content", "filename", "expected"), [
    (JPEG, "营业执照.jpg", "image/jpeg"), (JPEG, "ID.JPEG", "image/jpeg"),
    (png(), "photo.png", "image/png"), (PDF, "申请表.pdf", "application/pdf"),
])
def test_accepts_allowed_files_named_for_what_they_are(content: bytes, filename: str, expected: str):
    assert check_upload(content, filename, POLICY) == expected


def _refusal(content: bytes, filename: str, policy: UploadPolicy = POLICY) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        check_upload(content, filename, policy)
    err = info.value
    assert err.field == "attachment" and err.zh and err.en
    return err


def test_png_named_pdf_is_refused():
    err = _refusal(png(), "申请表.pdf")
    assert "not what its name says" in err.en and "PNG" in err.en and "扩展名" in err.zh


def test_oversized_file_is_refused_naming_the_limit_in_mb():
    err = _refusal(png(extra=2 * 1024 * 1024), "big.png")
    assert "2 MB" in err.en and "2 MB" in err.zh
    half = UploadPolicy(media_types=("image/png",), max_bytes=512 * 1024)
    assert "0.5 MB" in _refusal(png(extra=600 * 1024), "big.png", half).en


def test_exactly_the_limit_is_accepted():
    content = png()
    assert check_upload(content, "a.png", UploadPolicy(("image/png",), max_bytes=len(content))) == "image/png"


@pytest.mark.parametrize(("content", "filename"), [
    (EXE, "setup.exe"), (EXE, "photo.jpg"), (ZIP, "materials.zip"), (ZIP, "scan.pdf"),
    (b"just some text", "notes.txt"), (GIF, "anim.gif"),  # GIF is real but not in this policy
])
def test_types_outside_the_policy_are_refused(content: bytes, filename: str):
    err = _refusal(content, filename)
    assert "JPG" in err.en and "PDF" in err.en and "not accepted" in err.en


def test_empty_file_is_refused():
    assert "empty" in _refusal(b"", "a.pdf").en


def test_no_extension_is_refused():
    assert "not what its name says" in _refusal(PDF, "scan").en


def test_blob_put_is_content_addressed_atomic_and_idempotent(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put(PDF)
    assert digest == hashlib.sha256(PDF).hexdigest()
    path = blobs.path_for(digest)
    assert path == tmp_path / "blobs" / digest[:2] / digest[2:]
    assert path.read_bytes() == PDF
    mtime = path.stat().st_mtime_ns
    assert blobs.put(PDF) == digest  # again: same name, file untouched
    assert path.stat().st_mtime_ns == mtime
    assert blobs.get(digest) == PDF and blobs.exists(digest)
    # no temp files left behind
    assert [p.name for p in path.parent.iterdir()] == [digest[2:]]


def test_blob_get_refuses_unknown_damaged_and_malformed(tmp_path):
    blobs = BlobStore(tmp_path)
    with pytest.raises(NotFound):
        blobs.get(hashlib.sha256(b"nope").hexdigest())
    digest = blobs.put(JPEG)
    os.chmod(blobs.path_for(digest), 0o644)
    blobs.path_for(digest).write_bytes(JPEG + b"tampered")
    with pytest.raises(NotFound):
        blobs.get(digest)
    with pytest.raises(InvalidInput):
        blobs.get("../../etc/passwd")


def test_archived_thirty_days_after_submission():
    submitted = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    assert not is_archived(None, submitted + timedelta(days=400))
    assert not is_archived(submitted, submitted + timedelta(days=29, hours=23))
    assert is_archived(submitted, submitted + timedelta(days=30))
    assert is_archived(submitted, submitted + timedelta(days=7), days=7)
