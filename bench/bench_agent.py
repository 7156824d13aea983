"""The card agent's answer times as integrators wait for them, through the real pcscd.

Run: python bench/bench_agent.py [N]   (starts pcscd and a virtual card in "Virtual PCD 00 01" itself)

The public Java signing service (julxxy/chinaport-data-signature, core/SignHandler.java) opens a new
WebSocket for every call and waits 1 s for a read (getUkeyResponseArgs: parkNanos 1 s) and 5 s for a
signature (sign: parkNanos 5 s). This measures exactly that: connect, the "open" push, one request,
its reply, close, for a read (cus-sec_SpcGetCertNo) and a signature (cus-sec_SpcSignDataAsPEM), while
a page stays connected (receiving the pushes) and the agent polls the reader for card events.
Printed: p50 and p99 against those bounds, and as a ratio to a baseline measured in the same run,
interleaved round by round: the same card operation straight through CardDriver over pcscd (what the
card and pcscd cost at the least). Asserts nothing.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from core.agent.server import Agent, ReaderSlot, running_agent  # noqa: E402
from core.hardware.driver import CardDriver  # noqa: E402
from core.hardware.keys import derive_admin_key  # noqa: E402
from core.hardware.profile import INITIAL_PIN, KeyAlgorithm  # noqa: E402
from core.hardware.testing import MASTER_SECRET, SECOND_SLOT, CardRig  # noqa: E402
from core.hardware.transport import InProcessTransport, PcscTransport  # noqa: E402
from core.hardware.virtual_card import VirtualCard  # noqa: E402

READ_BOUND, SIGN_BOUND = 1.0, 5.0  # seconds the Java service waits
SERIAL = "00be0c4a00000001"
IN_DATA = '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">报关单 5301</ds:SignedInfo>'


def personalised_card(state: Path) -> None:
    """A card made as the branch makes one: key on the card, certificate from a (throwaway) CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    admin_key = derive_admin_key(MASTER_SECRET, SERIAL)
    card = VirtualCard.create(state, admin_key=admin_key, serial=SERIAL, device_no="")

    def certificate(public_key) -> bytes:
        now = datetime.now(UTC)
        holder = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "张三"),
                            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "深圳市某某进出口有限公司")])
        cert = (x509.CertificateBuilder().subject_name(holder).issuer_name(ca_name).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + timedelta(days=365)).sign(ca_key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.DER)

    driver = CardDriver(InProcessTransport(card)).connect()
    driver.personalise(admin_key, KeyAlgorithm.ECDSA_P256, certificate, device_no="1234567890123")
    driver.disconnect()


def java_style_call(url: str, method: str, args: dict) -> float:
    """What the Java service does per call: a new connection, the open push, one request, its reply."""
    start = time.perf_counter()
    with connect(url, proxy=None, open_timeout=10) as ws:
        ws.recv(timeout=10)  # open
        ws.send(json.dumps({"_method": method, "_id": 1, "args": args}, ensure_ascii=False))
        while True:
            reply = json.loads(ws.recv(timeout=30))
            if reply["_method"] == method:
                break
    elapsed = time.perf_counter() - start
    if not reply["_args"]["Result"]:
        raise SystemExit(f"{method} failed: {reply['_args']['Error']}")
    return elapsed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def connected_page(url: str, stop: threading.Event) -> threading.Thread:
    """A page that stays connected, taking the agent's pushes, as an open customs page does."""
    def listen() -> None:
        with connect(url, proxy=None, origin="http://www.singlewindow.cn") as ws:  # type: ignore[arg-type]
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):  # nothing pushed in this slice: listen on
                    ws.recv(timeout=0.2)
    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    return thread


def measure(pairs: dict[str, tuple[Callable[[], float], Callable[[], float]]], n: int, rounds: int) -> None:
    results = {name: ([], []) for name in pairs}
    for _ in range(rounds):
        for name, (agent_call, direct_call) in pairs.items():
            for _ in range(n):
                results[name][0].append(agent_call())
                results[name][1].append(direct_call())
    for name, (agent_times, direct_times) in results.items():
        bound = SIGN_BOUND if name == "signature" else READ_BOUND
        p50, p99 = statistics.median(agent_times), percentile(agent_times, 0.99)
        base50, base99 = statistics.median(direct_times), percentile(direct_times, 0.99)
        print(f"{name:9s} through the agent : p50 {p50 * 1e3:7.1f} ms  p99 {p99 * 1e3:7.1f} ms  "
              f"(bound {bound:.0f} s: p99 at {p99 / bound:6.1%}; {len(agent_times)} calls)")
        print(f"{name:9s} CardDriver direct : p50 {base50 * 1e3:7.1f} ms  p99 {base99 * 1e3:7.1f} ms")
        print(f"{name:9s} ratio agent/direct: p50 {p50 / base50:6.2f}  p99 {p99 / base99:6.2f}")


def main(n: int = 40, rounds: int = 5) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "start-pcscd.sh")], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "card.json"
        personalised_card(state)
        rig = CardRig("pcsc", state, slot=SECOND_SLOT)
        rig.insert()
        stop = threading.Event()
        try:
            agent = Agent(ReaderSlot(SECOND_SLOT.name), allowed_origins=[], port=0, watch=True)  # polls the reader
            with running_agent(agent) as background:
                url = background.url
                page = connected_page(url, stop)
                direct = CardDriver(PcscTransport(SECOND_SLOT.name)).connect()

                def direct_read() -> float:
                    start = time.perf_counter()
                    x509.load_der_x509_certificate(direct.read_certificate())
                    return time.perf_counter() - start

                def direct_sign() -> float:
                    start = time.perf_counter()
                    direct.sign(INITIAL_PIN, IN_DATA.encode())
                    return time.perf_counter() - start

                pairs = {
                    "read": (lambda: java_style_call(url, "cus-sec_SpcGetCertNo", {}), direct_read),
                    "signature": (lambda: java_style_call(url, "cus-sec_SpcSignDataAsPEM",
                                                          {"inData": IN_DATA, "passwd": INITIAL_PIN}), direct_sign),
                }
                for agent_call, direct_call in pairs.values():  # warm up
                    agent_call(), direct_call()
                measure(pairs, n, rounds)
                direct.disconnect()
                stop.set()
                page.join(10)
        finally:
            stop.set()
            rig.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
