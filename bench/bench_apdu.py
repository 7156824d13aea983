"""APDU round trip through our layer vs the raw call beneath it, with or without pcscd.

Run: python bench/bench_apdu.py [N] [--in-process]   (target ratio <= 1.2)

Through pcscd (the default; starts pcscd and a virtual card itself): CardDriver.serial() against raw
pyscard ``transmit`` on the same vpcd reader and card. ``--in-process`` (no pcscd, no reader: issue #16
row 9): CardDriver over InProcessTransport against the virtual card's own ``process`` given the same
APDU bytes, so the ratio is what the driver's encoding, status-word mapping and decoding add. Both sides
send GET DATA (serial) in the same run, interleaved in rounds so drift on a shared machine hits both
equally. Prints medians and the ratio; asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.hardware import profile as p  # noqa: E402
from core.hardware.apdu import Command  # noqa: E402
from core.hardware.driver import CardDriver  # noqa: E402
from core.hardware.keys import derive_admin_key  # noqa: E402
from core.hardware.profile import Ins, Tag  # noqa: E402
from core.hardware.readers import wait_for_card  # noqa: E402
from core.hardware.transport import InProcessTransport, PcscTransport  # noqa: E402
from core.hardware.virtual_card import VirtualCard  # noqa: E402

READER = "Virtual PCD 00 00"
SERIAL = "00000000000000aa"


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def compare(raw, ours, n: int, rounds: int, raw_label: str) -> None:
    raw(), ours()  # warm up
    raw_times, our_times = [], []
    for _ in range(rounds):
        raw_times.append(timed(raw, n))
        our_times.append(timed(ours, n))
    base, mine = statistics.median(raw_times), statistics.median(our_times)
    print(f"{raw_label:21}: {base * 1e6:8.1f} us per APDU (median of {rounds}x{n})")
    print(f"CardDriver.serial()  : {mine * 1e6:8.1f} us per APDU")
    print(f"ratio ours/raw       : {mine / base:8.3f}  (target <= 1.2: {'met' if mine / base <= 1.2 else 'NOT MET'})")


def in_process(n: int, rounds: int) -> None:
    """No pcscd: the driver over InProcessTransport against the card's own process()."""
    with tempfile.TemporaryDirectory() as tmp:
        card = VirtualCard.create(Path(tmp) / "card.json", admin_key=derive_admin_key(bytes(32), SERIAL),
                                  serial=SERIAL)
        driver = CardDriver(InProcessTransport(card)).connect()
        apdu = Command(p.CLA_ISO, Ins.GET_DATA, Tag.SERIAL >> 8, Tag.SERIAL & 0xFF, le=256).encode()

        def raw() -> None:
            assert card.process(apdu)[-2:] == b"\x90\x00"

        print("in process (no pcscd): GET DATA (serial) to the virtual card")
        compare(raw, driver.serial, n, rounds, "card.process(apdu)")
        driver.disconnect()


def main(n: int = 500, rounds: int = 7) -> None:
    if "--in-process" in sys.argv:
        in_process(n * 10, rounds)
        return
    subprocess.run(["bash", str(ROOT / "scripts" / "start-pcscd.sh")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "card.json"
        VirtualCard.create(state, admin_key=derive_admin_key(bytes(32), SERIAL), serial=SERIAL)
        card = subprocess.Popen([sys.executable, "-m", "core.hardware.cli", "--state", str(state)], cwd=ROOT,
                                stderr=subprocess.DEVNULL)
        try:
            if not wait_for_card(READER, timeout=15):
                raise SystemExit("the virtual card did not appear in the vpcd reader")
            driver = CardDriver(PcscTransport(READER)).connect()
            connection = driver.transport._connection  # the same pyscard connection, used raw
            raw_apdu = list(Command(p.CLA_ISO, Ins.GET_DATA, Tag.SERIAL >> 8, Tag.SERIAL & 0xFF,
                                    le=256).encode())

            def raw() -> None:
                _data, sw1, sw2 = connection.transmit(raw_apdu)
                assert (sw1, sw2) == (0x90, 0x00)

            def ours() -> None:
                driver.serial()  # encode, transmit, decode, map status word, decode ASCII

            print(f"through pcscd and the vpcd reader {READER!r}: GET DATA (serial)")
            compare(raw, ours, n, rounds, "raw pyscard transmit")
            driver.disconnect()
        finally:
            card.terminate()
            card.wait(10)


if __name__ == "__main__":
    counts = [a for a in sys.argv[1:] if a.isdigit()]
    main(int(counts[0]) if counts else 500)
