"""The per-reader lock of core.hardware.testing: another process waits; this process may nest holders."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.hardware.testing import FIRST_SLOT, ROOT, CardRig, ReaderLock, VpcdSlot, require_pcscd

# A port no vpcd listens on, distinct per run, so this test never touches a real reader's lock.
SLOT = VpcdSlot("lock test", 50000 + os.getpid() % 10000)


def _other_process_acquires(slot: VpcdSlot = SLOT) -> subprocess.CompletedProcess[str]:
    code = ("from core.hardware.testing import ReaderLock, VpcdSlot\n"
            f"ReaderLock(VpcdSlot({slot.name!r}, {slot.port})).acquire(timeout=0.3)\n"
            "print('acquired')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.fixture(autouse=True)
def _cleanup():
    yield
    SLOT.lock_path.unlink(missing_ok=True)


def test_another_process_cannot_take_a_held_reader():
    first, second = ReaderLock(SLOT), ReaderLock(SLOT)
    first.acquire(timeout=1)
    second.acquire(timeout=1)  # the same process nests without deadlocking on its own flock
    try:
        refused = _other_process_acquires()
        assert refused.returncode != 0 and "acquired" not in refused.stdout
        assert "still in use by another test run" in refused.stderr and f"pid {os.getpid()}" in refused.stderr
        first.release()
        still = _other_process_acquires()  # one holder left in this process: still ours
        assert still.returncode != 0, still.stdout
    finally:
        first.release()
        second.release()
    free = _other_process_acquires()
    assert free.returncode == 0 and free.stdout.strip() == "acquired", free.stderr


def test_a_pcsc_rig_holds_the_reader_while_its_card_is_in(tmp_path):
    require_pcscd(FIRST_SLOT)
    rig = CardRig("pcsc", tmp_path / "card.json")
    driver = rig.start()
    try:
        assert driver.card_info().serial == rig.serial
        refused = _other_process_acquires(FIRST_SLOT)
        assert refused.returncode != 0 and "still in use by another test run" in refused.stderr
    finally:
        rig.stop()
    assert FIRST_SLOT.lock_path not in ReaderLock._held  # given back once the card is out
