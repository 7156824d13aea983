"""The openssl CLI as the outside client that must accept what we issue."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def openssl(*args: str | Path, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the real openssl CLI; a missing binary fails the test (FileNotFoundError), never skips."""
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, input=input, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))} failed:\n"
                             f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}")
    return result


def write_pem(path: Path, *items: x509.Certificate | x509.CertificateRevocationList) -> Path:
    path.write_bytes(b"".join(i.public_bytes(serialization.Encoding.PEM) for i in items))
    return path
