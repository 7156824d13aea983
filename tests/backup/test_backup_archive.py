"""Issue #18 items 1-3: the archive is checked before anything is restored. One changed, missing or added
byte anywhere is refused, a member that disagrees with the manifest is named, nothing outside the
deployment's folders can be written, and a sealed archive opens only with its passphrase or private key
(and says nothing of its content without them)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from backupkit import backed_up, deployment, open_services, populate
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import InvalidInput
from core.services import Actor
from core.services.backup import (
    Identity,
    Passphrase,
    Recipient,
    make_backup,
    make_key_pair,
    restore_backup,
    verify_backup,
)
from core.services.backup_envelope import MAGIC, EnvelopeWriter

PASSPHRASE = "correct horse battery staple 2026"


def _split(archive: Path) -> tuple[bytes, bytes]:
    """(magic and header line, body) of an archive; the trailing SHA-256 dropped."""
    raw = archive.read_bytes()
    end = raw.index(b"\n", len(MAGIC)) + 1
    return raw[:end], raw[end:-32]


def _with_trailer(path: Path, content: bytes) -> Path:
    """``content`` with a correct trailing SHA-256: what someone who rewrote the archive would make."""
    path.write_bytes(content + hashlib.sha256(content).digest())
    return path


def _members(archive: Path) -> dict[str, bytes]:
    _head, body = _split(archive)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(body))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _rebuilt(archive: Path, out: Path, members: dict[str, bytes]) -> Path:
    """A well-formed plain archive holding ``members`` (as a tool that rewrote one would make it)."""
    writer = EnvelopeWriter(out, None)
    with tarfile.open(fileobj=writer, mode="w|gz") as tar:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    writer.close()
    return out


@pytest.fixture
def archive(tmp_path) -> tuple[Path, Path]:
    """(a plain archive of a SQLite deployment with data, that deployment's config)."""
    with deployment(tmp_path / "source", "sqlite") as config:
        yield backed_up(config, tmp_path / "b.epbak"), config


def _restore_refused(tmp_path: Path, config: Path, bad: Path, match: str) -> InvalidInput:
    target = tmp_path / "restored"
    target.mkdir(exist_ok=True)
    shutil.copy(config.parent / "audit.key", target / "audit.key")
    with pytest.raises(InvalidInput, match=match) as refused:
        restore_backup(target / "eportcard.toml", bad)
    assert sorted(p.name for p in target.iterdir()) == ["audit.key"]  # nothing written
    return refused.value


@pytest.mark.parametrize("where", ["first", "header", "body-start", "middle", "body-end", "trailer", "last"])
def test_one_changed_byte_anywhere_is_refused_before_anything_is_restored(archive, tmp_path, where):
    path, config = archive
    raw = bytearray(path.read_bytes())
    header_end = raw.index(b"\n", len(MAGIC)) + 1
    at = {"first": 0, "header": header_end - 5, "body-start": header_end, "middle": len(raw) // 2,
          "body-end": len(raw) - 33, "trailer": len(raw) - 20, "last": len(raw) - 1}[where]
    raw[at] ^= 0x01
    bad = tmp_path / "bad.epbak"
    bad.write_bytes(bytes(raw))
    with pytest.raises(InvalidInput) as refused:
        verify_backup(bad)
    assert refused.value.field == "archive" and str(bad) in refused.value.en and refused.value.zh
    _restore_refused(tmp_path, config, bad, "cannot be used")


@pytest.mark.parametrize("change", ["cut", "appended", "empty"])
def test_a_cut_off_or_lengthened_archive_is_refused(archive, tmp_path, change):
    path, config = archive
    raw = path.read_bytes()
    bad = tmp_path / "bad.epbak"
    bad.write_bytes({"cut": raw[:-100], "appended": raw + b"\x00", "empty": b""}[change])
    with pytest.raises(InvalidInput, match="cannot be used"):
        verify_backup(bad)
    _restore_refused(tmp_path, config, bad, "cannot be used")


def test_a_member_that_disagrees_with_the_manifest_is_named(archive, tmp_path):
    path, config = archive
    members = _members(path)
    rows = "database/rows/applications.jsonl"
    edited = dict(members)
    edited[rows] = members[rows].replace(b"shenzhen", b"shenzheN", 1)  # same size, other content
    bad = _rebuilt(path, tmp_path / "edited.epbak", edited)
    with pytest.raises(InvalidInput, match=f"member {rows} does not match its SHA-256") as refused:
        verify_backup(bad)
    assert f"成员 {rows} 与清单中的 SHA-256 不符" in refused.value.zh
    _restore_refused(tmp_path, config, bad, rows)

    blob = next(name for name in members if name.startswith("blobs/"))
    missing = {k: v for k, v in members.items() if k != blob}
    with pytest.raises(InvalidInput, match=f"member {blob} is in the manifest but not in the archive"):
        verify_backup(_rebuilt(path, tmp_path / "missing.epbak", missing))

    extra = {**members, "blobs/00/" + "0" * 62: b"\x89PNG"}
    with pytest.raises(InvalidInput, match="is not in the manifest"):
        verify_backup(_rebuilt(path, tmp_path / "extra.epbak", extra))

    manifest = json.loads(members["manifest.json"])
    manifest["database"]["tables"]["applications"] += 1
    recounted = {**members, "manifest.json": json.dumps(manifest).encode()}
    with pytest.raises(InvalidInput, match="holds 4 rows, the manifest says 5"):
        verify_backup(_rebuilt(path, tmp_path / "recounted.epbak", recounted))


@pytest.mark.parametrize("name", ["../escape", "/etc/cron.d/x", "ca/../../escape", "blobs/zz/not-a-hash", "notes.txt"])
def test_a_member_no_backup_has_is_refused_and_never_written(archive, tmp_path, name):
    path, config = archive
    members = {name: b"payload", **_members(path)}
    bad = _rebuilt(path, tmp_path / "evil.epbak", members)
    with pytest.raises(InvalidInput, match="which no eportcard backup has"):
        verify_backup(bad)
    _restore_refused(tmp_path, config, bad, "no eportcard backup has")
    assert not (tmp_path / "escape").exists()


def test_an_archive_sealed_with_a_passphrase_opens_with_it_only(tmp_path):
    with deployment(tmp_path / "source", "sqlite") as config:
        services = open_services(config)
        populate(services)
        uscc = services.applications.list_for(Actor.system())[0].enterprise.uscc
        sealed = make_backup(services, config, tmp_path / "sealed.epbak", Passphrase(PASSPHRASE))
        services.store.dispose()
    assert sealed.encryption == "scrypt"
    assert uscc.encode() not in sealed.path.read_bytes() and b"manifest" not in sealed.path.read_bytes()
    with pytest.raises(InvalidInput, match="sealed with a passphrase") as no_key:
        verify_backup(sealed.path)
    assert no_key.value.field == "passphrase" and "请提供口令" in no_key.value.zh
    with pytest.raises(InvalidInput, match="wrong passphrase"):
        verify_backup(sealed.path, Passphrase(PASSPHRASE + "!"))
    assert verify_backup(sealed.path, Passphrase(PASSPHRASE)) == sealed.manifest
    target = tmp_path / "restored"
    target.mkdir()
    shutil.copy(config.parent / "audit.key", target / "audit.key")
    assert restore_backup(target / "eportcard.toml", sealed.path, Passphrase(PASSPHRASE)).ok


def test_an_archive_sealed_for_a_public_key_opens_with_its_private_key_only(tmp_path):
    public = make_key_pair(tmp_path / "backup-key.pem")
    assert (tmp_path / "backup-key.pem").stat().st_mode & 0o777 == 0o600
    other_public = make_key_pair(tmp_path / "other-key.pem")
    with pytest.raises(InvalidInput, match="will not be overwritten"):
        make_key_pair(tmp_path / "backup-key.pem")
    with deployment(tmp_path / "source", "sqlite") as config:
        services = open_services(config)
        populate(services)
        sealed = make_backup(services, config, tmp_path / "sealed.epbak", Recipient.load(public))
        services.store.dispose()
    assert sealed.encryption == "x25519" and sealed.path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(InvalidInput, match="give its private key"):
        verify_backup(sealed.path)
    with pytest.raises(InvalidInput, match="not sealed for this private key"):
        verify_backup(sealed.path, Identity.load(tmp_path / "other-key.pem"))
    with pytest.raises(InvalidInput, match="cannot read backup public key"):
        Recipient.load(tmp_path / "backup-key.pem")  # a private key where the public one belongs
    ec_public = tmp_path / "ec.pub"
    ec_public.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(InvalidInput, match="is not an X25519 backup public key") as not_x25519:
        Recipient.load(ec_public)
    assert not_x25519.value.field == "recipient" and "不是 X25519" in not_x25519.value.zh
    assert other_public.exists()
    assert verify_backup(sealed.path, Identity.load(tmp_path / "backup-key.pem")) == sealed.manifest


def test_a_sealed_chunk_rewritten_with_a_fresh_trailer_does_not_decrypt(tmp_path):
    """Someone who changes the ciphertext and recomputes the trailing SHA-256 still fails: GCM's tag."""
    with deployment(tmp_path / "source", "sqlite") as config:
        services = open_services(config)
        populate(services)
        sealed = make_backup(services, config, tmp_path / "sealed.epbak", Passphrase(PASSPHRASE)).path
        services.store.dispose()
    head, body = _split(sealed)
    changed = bytearray(body)
    changed[len(changed) // 2] ^= 0x80
    bad = _with_trailer(tmp_path / "bad.epbak", head + bytes(changed))
    with pytest.raises(InvalidInput, match="does not decrypt"):
        verify_backup(bad, Passphrase(PASSPHRASE))
    cut = _with_trailer(tmp_path / "cut.epbak", head + body[:-16])  # the last chunk's tag gone
    with pytest.raises(InvalidInput):
        verify_backup(cut, Passphrase(PASSPHRASE))
