"""A real SoftHSM2 token for the HSM tests (the rig is core.pki.softhsm, shared with the bench).

The whole pytest process sees one SoftHSM2 configuration, made once with its tokens before the module
is first loaded: SoftHSM2 reads SOFTHSM2_CONF and finds its tokens when it is initialised, so a token
made later is seen only by new processes (the subprocess tests make a folder of their own).
When softhsm2 or python-pkcs11 is missing these tests FAIL: a skip would hide a broken CI machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from test_serve_fail_fast import deployment  # noqa: F401  (a fixture: a folder made by `eportcard init`)

from core.pki.softhsm import SoftHsm, SoftHsmMissing


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    try:
        rig = SoftHsm.make(tmp_path_factory.mktemp("softhsm"))
    except SoftHsmMissing as exc:
        pytest.fail(str(exc))
    before = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(rig.conf)
    yield rig
    if before is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = before
