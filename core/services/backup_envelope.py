"""The file a backup is written in: a header, the archive (sealed or not), and a SHA-256 of it all.

Layout (``eportcard-backup/1``)::

    EPORTCARD-BACKUP\\n
    {"format": "eportcard-backup/1", "encryption": ..., ...}\\n     one line of JSON: the header
    body                                                          the tar.gz archive, plain or sealed
    32 bytes                                                      SHA-256 of everything before them

The trailing SHA-256 makes any changed, missing or added byte anywhere in the file an error before a
single member is read, with or without the key. A sealed body is AES-256-GCM (NIST SP 800-38D) in
chunks of 64 KiB, each with the nonce ``prefix(7) || chunk number(4, big-endian) || last(1)``: the
STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption and its
Nonce-Reuse Misuse-Resistance", CRYPTO 2015, §7), the one age's payload uses
(age-encryption.org/v1, "Payload"), so chunks cannot be reordered, dropped or cut off at a chunk
boundary unnoticed. The header line is every chunk's associated data; its ``check`` (HMAC-SHA256 of a fixed label under the
key, 16 bytes) tells a wrong passphrase or key from an altered archive. Each archive has a key of its own:

* ``"encryption": "scrypt"`` — a passphrase through scrypt (RFC 7914) with a random 16-byte salt,
  ``n`` = 2**17, ``r`` = 8, ``p`` = 1 (128 MiB; RFC 7914 §2 and the cryptography docs advise raising
  ``n`` for files over interactive logins);
* ``"encryption": "x25519"`` — a recipient's X25519 public key (RFC 7748): a fresh ephemeral key pair,
  the shared secret through HKDF-SHA256 (RFC 5869) with salt ``ephemeral || recipient``. Only the
  holder of the recipient's private key (``eportcard backup keygen``) can read it; the machine that
  writes backups needs only the public key.

Fresh keys per archive keep the counter nonces unique (SP 800-38D §8.2.1: a deterministic IV).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from attrs import frozen
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.errors import InvalidInput
from core.private_files import create_private_file

MAGIC = b"EPORTCARD-BACKUP\n"
FORMAT = "eportcard-backup/1"
CHUNK = 64 * 1024
TAG = 16
DIGEST = 32
SCRYPT_N = 2**17
SCRYPT_N_MAX = 2**20  # a header asking for more is refused: it would only exhaust memory
HEADER_MAX = 4096
HKDF_INFO = b"eportcard-backup/1 x25519"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    return base64.b64decode(str(text), validate=True)


def damaged(path: Path, en_reason: str, zh_reason: str) -> InvalidInput:
    return InvalidInput(f"备份文件 {path} 不可用：{zh_reason}", f"the backup {path} cannot be used: {en_reason}",
                        field="archive")


# ---- keys -----------------------------------------------------------------------------------------------------


@frozen
class Passphrase:
    text: str = ""


def _key_file(path: Path, load: Any, kind: type, what: tuple[str, str], field: str) -> Any:
    """The X25519 key (``kind``) in the PEM file ``path``; a bilingual refusal naming ``what`` otherwise."""
    try:
        key = load(path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidInput(f"无法读取{what[0]} {path}：{exc}", f"cannot read {what[1]} {path}: {exc}",
                           field=field) from None
    if not isinstance(key, kind):
        raise InvalidInput(f"{path} 不是 X25519 {what[0]}（用 eportcard backup keygen 生成）",
                           f"{path} is not an X25519 {what[1]} (make one with `eportcard backup keygen`)",
                           field=field)
    return key


@frozen
class Recipient:
    """Seals for the holder of the private key; ``load`` reads the public key file `backup keygen` wrote."""

    key: X25519PublicKey

    @classmethod
    def load(cls, path: Path) -> Recipient:
        return cls(_key_file(path, serialization.load_pem_public_key, X25519PublicKey,
                             ("备份公钥", "backup public key"), "recipient"))


@frozen
class Identity:
    """The private key that opens archives sealed for its public key."""

    key: X25519PrivateKey

    @classmethod
    def load(cls, path: Path) -> Identity:
        return cls(_key_file(path, lambda data: serialization.load_pem_private_key(data, password=None),
                             X25519PrivateKey, ("备份私钥", "backup private key"), "identity"))


Sealing = Passphrase | Recipient | None
Opening = Passphrase | Identity | None


def make_key_pair(private_path: Path) -> Path:
    """A new X25519 key pair: the private key at ``private_path`` (0600, never overwritten) and the public
    key beside it with ``.pub`` added; returns the public key's path. Keep the private key off the machine
    that makes the backups."""
    key = X25519PrivateKey.generate()
    public_path = private_path.with_name(private_path.name + ".pub")
    if public_path.exists():
        raise InvalidInput(f"{public_path} 已存在，不会覆盖", f"{public_path} already exists; it will not be overwritten",
                           field="out")
    create_private_file(private_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()),
                        what=("备份私钥", "a backup private key"), field="out")
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return public_path


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _hkdf(shared: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=HKDF_INFO).derive(shared)


def _key_check(key: bytes) -> str:
    """Told apart: a wrong passphrase or key (this differs) from an altered archive (this matches)."""
    return _b64(hmac.new(key, b"eportcard-backup/1 key check", hashlib.sha256).digest()[:16])


def _seal_header(sealing: Sealing) -> tuple[dict[str, Any], bytes | None]:
    header, key = _sealed(sealing)
    if key is not None:
        header["check"] = _key_check(key)
    return header, key


def _sealed(sealing: Sealing) -> tuple[dict[str, Any], bytes | None]:
    if sealing is None:
        return {"encryption": "none"}, None
    prefix = secrets.token_bytes(7)
    if isinstance(sealing, Passphrase):
        if not sealing.text:
            raise InvalidInput("备份口令不能为空", "the backup passphrase is empty", field="passphrase")
        salt = secrets.token_bytes(16)
        key = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=8, p=1).derive(sealing.text.encode("utf-8"))
        return {"encryption": "scrypt", "salt": _b64(salt), "n": SCRYPT_N, "r": 8, "p": 1,
                "nonce": _b64(prefix), "chunk": CHUNK}, key
    ephemeral = X25519PrivateKey.generate()
    sent, recipient = _raw(ephemeral.public_key()), _raw(sealing.key)
    key = _hkdf(ephemeral.exchange(sealing.key), sent + recipient)
    return {"encryption": "x25519", "ephemeral": _b64(sent), "recipient": _b64(recipient),
            "nonce": _b64(prefix), "chunk": CHUNK}, key


def _open_key(path: Path, header: dict[str, Any], opening: Opening) -> bytes | None:
    kind = header.get("encryption")
    if kind == "none":
        return None
    if kind == "scrypt":
        if not isinstance(opening, Passphrase) or not opening.text:
            raise InvalidInput(f"备份 {path} 已用口令加密：请提供口令（--passphrase-env）",
                               f"the backup {path} is sealed with a passphrase: give it (--passphrase-env)",
                               field="passphrase")
        n, r, p = int(header["n"]), int(header["r"]), int(header["p"])
        if not (2**14 <= n <= SCRYPT_N_MAX and n & (n - 1) == 0 and r == 8 and p == 1):
            raise damaged(path, "its scrypt parameters are not ones eportcard writes", "scrypt 参数不是 eportcard 写出的")
        return Scrypt(salt=_unb64(header["salt"]), length=32, n=n, r=r, p=p).derive(opening.text.encode("utf-8"))
    if kind == "x25519":
        if not isinstance(opening, Identity):
            raise InvalidInput(f"备份 {path} 已用公钥加密：请提供对应的私钥（--identity）",
                               f"the backup {path} is sealed for a public key: give its private key (--identity)",
                               field="identity")
        sent, recipient = _unb64(header["ephemeral"]), _unb64(header["recipient"])
        if recipient != _raw(opening.key.public_key()):
            raise InvalidInput("这份备份不是为此私钥加密的", "this backup was not sealed for this private key",
                               field="identity")
        return _hkdf(opening.key.exchange(X25519PublicKey.from_public_bytes(sent)), sent + recipient)
    raise damaged(path, f"unknown encryption {kind!r}", f"未知的加密方式 {kind!r}")


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", number, 1 if last else 0)


# ---- writing --------------------------------------------------------------------------------------------------


class EnvelopeWriter:
    """A write-only file object: what is written goes, sealed or not, into ``path``'s temporary sibling,
    which ``close`` completes (trailer, fsync) and renames into place; ``discard`` removes it. A backup
    cut short (disk full, an error) never leaves a file at ``path``."""

    def __init__(self, path: Path, sealing: Sealing) -> None:
        self.path = path
        header, self._key = _seal_header(sealing)
        self.encryption = header["encryption"]
        self._line = json.dumps({"format": FORMAT, **header}, sort_keys=True).encode("ascii") + b"\n"
        self._prefix = _unb64(header["nonce"]) if self._key else b""
        self._aead = AESGCM(self._key) if self._key else None
        self._pending = bytearray()
        self._number = 0
        self._digest = hashlib.sha256()
        self._tmp = path.with_name(f".{path.name}.partial")
        # Owner-only from the first byte: an archive holds every application and account.
        self._out: IO[bytes] = os.fdopen(os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
        self._emit(MAGIC + self._line)

    def _emit(self, data: bytes) -> None:
        self._digest.update(data)
        self._out.write(data)

    def write(self, data: bytes) -> int:
        if self._aead is None:
            self._emit(bytes(data))
            return len(data)
        self._pending += data
        while len(self._pending) > CHUNK:  # keep the last chunk back: only close knows it is the last
            self._seal(bytes(self._pending[:CHUNK]), last=False)
            del self._pending[:CHUNK]
        return len(data)

    def _seal(self, chunk: bytes, last: bool) -> None:
        assert self._aead is not None
        self._emit(self._aead.encrypt(_nonce(self._prefix, self._number, last), chunk, MAGIC + self._line))
        self._number += 1

    def flush(self) -> None:
        pass  # tarfile calls it; the data goes out in whole chunks

    def close(self) -> None:
        if self._out.closed:
            return
        try:
            if self._aead is not None:
                self._seal(bytes(self._pending), last=True)
            self._out.write(self._digest.digest())
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        self._out.close()
        self._tmp.unlink(missing_ok=True)


# ---- reading --------------------------------------------------------------------------------------------------


def _header(path: Path, handle: IO[bytes]) -> tuple[bytes, dict[str, Any]]:
    if handle.read(len(MAGIC)) != MAGIC:
        raise damaged(path, "it is not an eportcard backup (no EPORTCARD-BACKUP header)", "不是 eportcard 备份文件")
    line = handle.readline(HEADER_MAX)
    try:
        header = json.loads(line)
        if header.get("format") != FORMAT:
            raise ValueError(header.get("format"))
    except (ValueError, AttributeError):
        raise damaged(path, "its header is damaged or of an unknown format", "文件头已损坏或格式未知") from None
    return line, header


def check_digest(path: Path, progress: Callable[[int], None] | None = None) -> None:
    """The file's trailing SHA-256 matches everything before it (no key needed)."""
    size = path.stat().st_size
    if size < len(MAGIC) + DIGEST:
        raise damaged(path, "it is too short (cut off?)", "文件过短（被截断？）")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        left = size - DIGEST
        while left:
            block = handle.read(min(1 << 20, left))
            if not block:
                raise damaged(path, "it was cut off", "文件被截断")
            digest.update(block)
            left -= len(block)
            if progress:
                progress(len(block))
        if handle.read() != digest.digest():
            raise damaged(path, "its SHA-256 does not match its content (a byte changed, or it was cut off)",
                          "内容与其 SHA-256 不符（有字节被改动或被截断）")


def encryption_of(path: Path) -> str:
    with path.open("rb") as handle:
        return str(_header(path, handle)[1].get("encryption"))


class EnvelopeReader:
    """A read-only file object over the archive inside ``path`` (opened with ``opening`` when sealed).
    Call :func:`check_digest` first: this reader trusts the bytes to be the ones written."""

    def __init__(self, path: Path, opening: Opening) -> None:
        self.path = path
        self._in = path.open("rb")
        try:
            line, header = _header(path, self._in)
            self._aad = MAGIC + line
            self._key = _open_key(path, header, opening)
            if self._key is not None and not hmac.compare_digest(str(header.get("check")), _key_check(self._key)):
                raise InvalidInput("无法解密备份：口令或私钥不对", "the backup cannot be decrypted: wrong passphrase "
                                   "or private key", field="archive")
            self._prefix = _unb64(header["nonce"]) if self._key else b""
            self._aead = AESGCM(self._key) if self._key else None
        except BaseException:
            self._in.close()
            raise
        self._left = path.stat().st_size - DIGEST - self._in.tell()
        self._buffer = bytearray()
        self._number = 0

    def _next_chunk(self) -> bytes:
        if self._aead is None:
            block = self._in.read(min(CHUNK, self._left))
            self._left -= len(block)
            return block
        size = min(CHUNK + TAG, self._left)
        sealed = self._in.read(size)
        self._left -= len(sealed)
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._number, self._left == 0), sealed, self._aad)
        except InvalidTag:
            raise damaged(self.path, f"chunk {self._number} does not decrypt (altered)", f"第 {self._number} 块无法解密（被改动）") from None
        self._number += 1
        return plain

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._buffer) < size) and self._left > 0:
            self._buffer += self._next_chunk()
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def close(self) -> None:
        self._in.close()

    def __enter__(self) -> EnvelopeReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


__all__ = ["FORMAT", "EnvelopeReader", "EnvelopeWriter", "Identity", "Opening", "Passphrase", "Recipient",
           "Sealing", "check_digest", "damaged", "encryption_of", "make_key_pair"]
