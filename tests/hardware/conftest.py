"""Hardware fixtures: every card test runs in-process and through a real pcscd + vpcd reader.

The PC/SC variant starts pcscd with scripts/start-pcscd.sh and the virtual card as its own process
(``python -m core.hardware.cli``) connected to vsmartcard-vpcd. When pcscd, vpcd or pyscard is
missing these tests FAIL: a silent skip would hide a broken CI machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.hardware.driver import CardDriver
from core.hardware.keys import derive_admin_key
from core.hardware.transport import InProcessTransport, PcscTransport
from core.hardware.virtual_card import VirtualCard

ROOT = Path(__file__).resolve().parents[2]
READER = "Virtual PCD 00 00"  # vpcd port 35963
VPCD = "127.0.0.1:35963"
MASTER_SECRET = bytes(range(32))  # a test branch's master secret
SERIAL = "00c0ffee12345678"
TRANSPORTS = ["inprocess", "pcsc"]


@pytest.fixture(scope="session")
def pcscd() -> str:
    """pcscd running with the vpcd reader; fails loudly otherwise."""
    try:
        import smartcard.System  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"pyscard is not installed: {exc}")
    run = subprocess.run(["bash", str(ROOT / "scripts" / "start-pcscd.sh")], capture_output=True, text=True,
                         check=False)
    if run.returncode != 0:
        pytest.fail(f"pcscd could not be started:\n{run.stdout}\n{run.stderr}")
    from core.hardware.readers import list_readers, wait_for_card

    if READER not in list_readers():
        pytest.fail(f"pcscd does not list the vpcd reader {READER!r}: {list_readers()}")
    if not wait_for_card(READER, present=False, timeout=10):
        pytest.fail(f"another virtual card is still in {READER!r}")
    return READER


class CardRig:
    """One virtual card behind one transport; ``restart`` powers it off and back on from its file."""

    def __init__(self, kind: str, state_path: Path, *, serial: str = SERIAL, retry_limit: int = 3) -> None:
        self.kind = kind
        self.state_path = state_path
        self.serial = serial
        self.admin_key = derive_admin_key(MASTER_SECRET, serial)
        VirtualCard.create(state_path, admin_key=self.admin_key, serial=serial, retry_limit=retry_limit,
                           device_no="")
        self.card: VirtualCard | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.driver: CardDriver | None = None

    def start(self, *, pull_out_on: tuple[int, int] | None = None) -> CardDriver:
        if self.kind == "inprocess":
            self.card = VirtualCard.load(self.state_path)
            if pull_out_on:
                self.card.pull_out_on(*pull_out_on)
            self.driver = CardDriver(InProcessTransport(self.card)).connect()
            return self.driver
        from core.hardware.readers import wait_for_card

        args = [sys.executable, "-m", "core.hardware.cli", "--state", str(self.state_path), "--vpcd", VPCD]
        if pull_out_on:
            args += ["--pull-out-on", f"{pull_out_on[0]:02X}:{pull_out_on[1]}"]
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        if not wait_for_card(READER, present=True, timeout=20):
            self.process.kill()
            _, err = self.process.communicate()
            pytest.fail(f"the virtual card never appeared in {READER!r}: {err.decode(errors='replace')}")
        self.driver = CardDriver(PcscTransport(READER)).connect()
        return self.driver

    def stop(self) -> None:
        if self.driver is not None:
            self.driver.disconnect()
            self.driver = None
        if self.process is not None:
            from core.hardware.readers import wait_for_card

            if self.process.poll() is None:
                self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
            assert wait_for_card(READER, present=False, timeout=10), "pcscd still sees the card"

    def restart(self, *, pull_out_on: tuple[int, int] | None = None) -> CardDriver:
        self.stop()
        return self.start(pull_out_on=pull_out_on)


@pytest.fixture(params=TRANSPORTS)
def make_rig(request, tmp_path):
    """A factory for one card rig per test (the pcsc reader holds one card at a time)."""
    kind = request.param
    if kind == "pcsc":
        request.getfixturevalue("pcscd")
    rigs: list[CardRig] = []

    def make(**kwargs) -> CardRig:
        rig = CardRig(kind, tmp_path / f"card{len(rigs)}.json", **kwargs)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop()


@pytest.fixture
def rig(make_rig) -> CardRig:
    return make_rig()


@pytest.fixture
def card(rig) -> CardDriver:
    """A started blank card: PIN 88888888, 3 tries, no key, no certificate."""
    return rig.start()
