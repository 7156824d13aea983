"""PKI fixtures: a root and an issuing CA on disk (both algorithms), an in-memory registry."""

from __future__ import annotations

import pytest
from pki_helpers import PASSPHRASE

from core.pki.ca import CertificateAuthority
from core.pki.registry import MemoryRegistry
from core.store.testing import store, store_backend  # noqa: F401  (pytest fixtures: SQLite and PostgreSQL)


@pytest.fixture(scope="module", params=["rsa2048", "ec-p256"])
def algorithm(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def cas(tmp_path_factory, algorithm) -> tuple[CertificateAuthority, CertificateAuthority]:
    """(root, issuing): both with the parametrised algorithm."""
    base = tmp_path_factory.mktemp(f"ca-{algorithm}")
    root = CertificateAuthority.init(base / "root", "电子口岸测试根CA", PASSPHRASE, algorithm)
    issuing = CertificateAuthority.init(base / "issuing", "电子口岸测试发卡CA", PASSPHRASE, algorithm,
                                        root=root)
    return root, issuing


@pytest.fixture
def registry() -> MemoryRegistry:
    return MemoryRegistry()
