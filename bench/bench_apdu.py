"""APDU round trip through our layer vs raw pyscard ``transmit``, on the same pcscd vpcd reader.

Run: python bench/bench_apdu.py [N]   (starts pcscd and a virtual card itself; target ratio <= 1.2)
Both sides send GET DATA (serial) to the same card in the same run, interleaved in rounds so
drift on a shared machine hits both equally. Prints medians and the ratio; asserts nothing.
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
from core.hardware.transport import PcscTransport  # noqa: E402
from core.hardware.virtual_card import VirtualCard  # noqa: E402

READER = "Virtual PCD 00 00"


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main(n: int = 500, rounds: int = 7) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "start-pcscd.sh")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "card.json"
        VirtualCard.create(state, admin_key=derive_admin_key(bytes(32), "00000000000000aa"),
                           serial="00000000000000aa")
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

            raw(), ours()  # warm up
            raw_times, our_times = [], []
            for _ in range(rounds):
                raw_times.append(timed(raw, n))
                our_times.append(timed(ours, n))
            base, mine = statistics.median(raw_times), statistics.median(our_times)
            print(f"raw pyscard transmit : {base * 1e6:8.1f} us per APDU (median of {rounds}x{n})")
            print(f"CardDriver.serial()  : {mine * 1e6:8.1f} us per APDU")
            print(f"ratio ours/raw       : {mine / base:8.3f}  (target <= 1.2)")
            driver.disconnect()
        finally:
            card.terminate()
            card.wait(10)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
