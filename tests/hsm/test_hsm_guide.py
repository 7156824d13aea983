"""Issue #17 item 6: the guide's HSM section (docs/deployment.md, "The CA key in an HSM") works as
written. Its two shell blocks run in bash against a SoftHSM2 folder of their own: a new CA on the
token, and an existing file CA moved onto it (the certificate kept, the key file gone)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from click.testing import CliRunner
from openssl_cli import openssl

from core.cli import main
from core.pki.softhsm import SoftHsm

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
PIN = "guide-token-pin-2026"
PASSPHRASE = "guide tests passphrase 2026"


def hsm_blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("### The CA key in an HSM (PKCS#11)"):text.index("## 5. Card readers")]
    return re.findall(r"```shell\n(.*?)```", section, re.S)


def deployment(folder: Path) -> Path:
    folder.mkdir()
    config = folder / "eportcard.toml"
    made = CliRunner().invoke(main, ["-c", str(config), "init", "--region", "shenzhen", "--enable", "shenzhen"])
    assert made.exit_code == 0, made.output
    return config


def bash(block: str, folder: Path, rig: SoftHsm, **env: str) -> subprocess.CompletedProcess[str]:
    script = block.replace("'…'", f"'{PIN}'").replace("cd /srv/eportcard", f"cd {folder}")
    keep = {k: v for k, v in rig.env.items() if not k.startswith("EPORTCARD_") and k != "CREDENTIALS_DIRECTORY"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder, capture_output=True, text=True,
                          timeout=300, env=keep | {"SO_PIN": "guide-so-pin-2026"} | env)


def test_the_guide_has_its_two_hsm_blocks():
    new, move = hsm_blocks()
    assert "eportcard ca init" in new and "--pkcs11" in new and "softhsm2-util --init-token" in new
    assert "softhsm2-util --import" in move and "shred -u" in move


def test_a_new_ca_on_the_token_as_the_guide_says(tmp_path: Path):
    folder = tmp_path / "branch"
    deployment(folder)
    rig = SoftHsm.make(tmp_path / "softhsm", ())
    run = bash(hsm_blocks()[0], folder, rig)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "answers:   yes" in run.stdout and "origin:    made on the token, never extractable" in run.stdout
    assert "token:     branch-ca" in run.stdout and PIN not in run.stdout + run.stderr
    assert not (folder / "ca" / "ca.key.pem").exists()
    openssl("crl", "-inform", "DER", "-in", folder / "crl.der", "-noout", "-CAfile", folder / "ca" / "ca.cert.pem")


def test_moving_a_file_key_onto_the_token_as_the_guide_says(tmp_path: Path):
    folder = tmp_path / "branch"
    config = deployment(folder)
    made = CliRunner().invoke(main, ["-c", str(config), "ca", "init", "--name", "某某分中心 CA"],
                              env={"EPORTCARD_CA_PASSPHRASE": PASSPHRASE})
    assert made.exit_code == 0, made.output
    certificate = (folder / "ca" / "ca.cert.pem").read_bytes()
    rig = SoftHsm.make(tmp_path / "softhsm", ())
    rig.init_token("branch-ca")
    run = bash(hsm_blocks()[1], folder, rig, EPORTCARD_CA_PASSPHRASE=PASSPHRASE, EPORTCARD_PKCS11_PIN=rig.pin)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "answers:   yes" in run.stdout and "origin:    imported into the token" in run.stdout
    assert sorted(p.name for p in (folder / "ca").iterdir()) == ["ca.cert.pem", "chain.pem"]
    assert not (folder / "ca-key.pk8").exists()
    assert (folder / "ca" / "ca.cert.pem").read_bytes() == certificate  # the same CA, its key now on the token
    # Another process (this one has the session's SoftHSM2 folder loaded): the CRL is signed on the token.
    crl = subprocess.run(["eportcard", "-c", str(config), "ca", "crl", "--out", str(folder / "crl.pem"), "--pem"],
                         capture_output=True, text=True, timeout=120, env=rig.env | {"EPORTCARD_PKCS11_PIN": rig.pin})
    assert crl.returncode == 0, crl.stderr
    openssl("crl", "-in", folder / "crl.pem", "-noout", "-CAfile", folder / "ca" / "ca.cert.pem")
