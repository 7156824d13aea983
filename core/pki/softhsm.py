"""SoftHSM2 tokens in a folder of their own: the HSM tests, bench/bench_hsm.py and a developer's trial.

SoftHSM2 (Debian package ``softhsm2``) keeps its tokens in the folder its configuration file names,
and reads that file from ``SOFTHSM2_CONF`` when the module is initialised (softhsm2.conf(5)); tokens
are made with ``softhsm2-util --init-token --free --label L --pin P --so-pin S`` (softhsm2-util(1)).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from attrs import frozen

SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"  # Debian's softhsm2 package
USER_PIN = "eportcard-test-pin-2026"  # tests and the bench only
SO_PIN = "eportcard-test-so-pin-2026"
TOKENS = ("eportcard-ca", "eportcard-spare")  # made with the folder: the test process sees both


class SoftHsmMissing(Exception):
    """softhsm2 or python-pkcs11 is not installed (scripts/install-system.sh and the hardware extra)."""


@frozen
class SoftHsm:
    folder: Path
    module: str = SOFTHSM2_MODULE
    pin: str = USER_PIN
    so_pin: str = SO_PIN

    @property
    def conf(self) -> Path:
        return self.folder / "softhsm2.conf"

    @property
    def env(self) -> dict[str, str]:
        """The environment a process needs to see these tokens."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}

    @classmethod
    def make(cls, folder: Path, tokens: tuple[str, ...] = TOKENS) -> SoftHsm:
        """A configuration in ``folder`` with ``tokens`` initialised (label each, PIN ``USER_PIN``)."""
        util = shutil.which("softhsm2-util")
        if util is None or not Path(SOFTHSM2_MODULE).exists():
            raise SoftHsmMissing(f"SoftHSM2 is not installed (softhsm2-util, {SOFTHSM2_MODULE}): "
                                 "run scripts/install-system.sh")
        if importlib.util.find_spec("pkcs11") is None:
            raise SoftHsmMissing("python-pkcs11 is not installed: pip install -e '.[hardware,test]'")
        (folder / "tokens").mkdir(parents=True, exist_ok=True)
        rig = cls(folder)
        rig.conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
                            "log.level = ERROR\n", encoding="utf-8")
        for label in tokens:
            rig.init_token(label)
        return rig

    def init_token(self, label: str) -> None:
        self._util("--init-token", "--free", "--label", label, "--pin", self.pin, "--so-pin", self.so_pin)

    def delete_token(self, label: str) -> None:
        """Take a token away, as a pulled HSM or a token deleted by its officer."""
        self._util("--delete-token", "--token", label)

    def _util(self, *args: str) -> None:
        run = subprocess.run(["softhsm2-util", *args], capture_output=True, text=True, env=self.env, timeout=60,
                             check=False)
        if run.returncode != 0:
            raise SoftHsmMissing(f"softhsm2-util {args[0]} failed: {run.stdout}{run.stderr}")


__all__ = ["SOFTHSM2_MODULE", "SO_PIN", "TOKENS", "USER_PIN", "SoftHsm", "SoftHsmMissing"]
