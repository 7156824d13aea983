"""PC/SC plumbing that only exists with a reader: other tools see our card, insert/remove events, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

from core.hardware.readers import CardWatcher, list_readers, slot_states
from core.hardware.virtual_card import ATR

from .conftest import READER, ROOT, CardRig


def test_opensc_tool_lists_the_virtual_reader_with_our_card(pcscd, tmp_path):
    rig = CardRig("pcsc", tmp_path / "card.json")
    rig.start()
    try:
        rig.driver.disconnect()  # opensc-tool needs the reader; we hold no handle meanwhile
        listing = subprocess.run(["opensc-tool", "-l"], capture_output=True, text=True, check=True).stdout
        line = next(line for line in listing.splitlines() if line.rstrip().endswith(READER))
        assert "Yes" in line.split(READER)[0], listing  # the Card column
        atr = subprocess.run(["opensc-tool", "-r", "0", "-a"], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        assert bytes.fromhex(atr.replace(":", "")) == ATR
        scan = subprocess.run(["pcsc_scan", "-r"], capture_output=True, text=True, check=True).stdout
        assert READER in scan
    finally:
        rig.stop()


def test_watcher_sees_insertion_and_removal(pcscd, tmp_path):
    events: list[tuple[str, str]] = []
    inserted, removed = threading.Event(), threading.Event()

    def on_insert(reader: str, atr: bytes) -> None:
        events.append(("insert", reader))
        assert atr == ATR
        inserted.set()

    def on_remove(reader: str) -> None:
        events.append(("remove", reader))
        removed.set()

    watcher = CardWatcher(on_insert, on_remove, readers=[READER], interval=0.05).start()
    rig = CardRig("pcsc", tmp_path / "card.json")
    try:
        rig.start()
        assert inserted.wait(10)
        assert any(s.reader == READER and s.card_present for s in slot_states())
        rig.stop()
        assert removed.wait(10)
    finally:
        watcher.stop()
        rig.stop()
    assert events == [("insert", READER), ("remove", READER)]
    assert READER in list_readers()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.hardware.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def test_cli_init_refuses_to_overwrite_a_card(tmp_path):
    secret = tmp_path / "master.hex"
    secret.write_text(bytes(range(32)).hex())
    state = tmp_path / "card.json"
    state.write_text("{}")
    run = _cli("--state", str(state), "--init", "--master-secret-file", str(secret))
    assert run.returncode != 0 and "already exists" in run.stderr
    assert state.read_text() == "{}"


def test_cli_rejects_bad_input_without_creating_a_card(tmp_path):
    secret = tmp_path / "master.hex"
    secret.write_text(bytes(range(32)).hex())
    state = tmp_path / "card.json"
    bad_device = _cli("--state", str(state), "--init", "--device-no", "12345",
                      "--master-secret-file", str(secret))
    assert bad_device.returncode != 0 and "13" in bad_device.stderr and not state.exists()
    no_secret = _cli("--state", str(state), "--init")
    assert no_secret.returncode != 0 and "master secret" in no_secret.stderr and not state.exists()
    missing = _cli("--state", str(state))
    assert missing.returncode != 0 and "--init" in missing.stderr


def test_cli_init_then_serve_through_pcscd(pcscd, tmp_path):
    """The real command line, start to finish: init a card, serve it, talk to it with our driver."""
    from core.hardware.driver import CardDriver
    from core.hardware.keys import derive_admin_key
    from core.hardware.readers import wait_for_card
    from core.hardware.transport import PcscTransport

    secret = tmp_path / "master.hex"
    secret.write_text(bytes(range(32)).hex())
    state = tmp_path / "card.json"
    proc = subprocess.Popen([sys.executable, "-m", "core.hardware.cli", "--state", str(state), "--init",
                             "--serial", "1234567890abcdef", "--device-no", "2200000099999",
                             "--master-secret-file", str(secret), "--vpcd", "127.0.0.1:35963"], cwd=ROOT)
    try:
        assert wait_for_card(READER, timeout=15)
        driver = CardDriver(PcscTransport(READER)).connect()
        info = driver.card_info()
        assert (info.serial, info.device_no, info.pin_is_initial) == ("1234567890abcdef", "2200000099999", True)
        driver.authenticate_admin(derive_admin_key(bytes(range(32)), "1234567890abcdef"))
        driver.disconnect()
    finally:
        proc.terminate()
        proc.wait(10)
    assert wait_for_card(READER, present=False, timeout=10)
    assert json.loads(state.read_text())["serial"] == "1234567890abcdef"
