"""Agent fixtures: a personalised virtual card behind the agent, in-process and through a real pcscd.

The PC/SC variant uses the second vpcd reader ("Virtual PCD 00 01", port 35964) so the agent tests
and the hardware tests (reader 00 00) can run at the same time. A missing pcscd/vpcd FAILS the test.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from websockets.sync.client import ClientConnection, connect

from core.agent.server import Agent, BackgroundAgent, ReaderSlot, VirtualSlot
from core.hardware.driver import CardDriver
from core.hardware.keys import derive_admin_key
from core.hardware.profile import KeyAlgorithm
from core.hardware.transport import InProcessTransport
from core.hardware.virtual_card import VirtualCard
from core.pki.ca import CertificateAuthority
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for

ROOT = Path(__file__).resolve().parents[2]
READER = "Virtual PCD 00 01"
VPCD = "127.0.0.1:35964"
MASTER_SECRET = bytes(range(32))  # the test branch's master secret
SERIAL = "00a9e11700000001"
DEVICE_NO = "1234567890123"
ORIGIN = "http://127.0.0.1:8000"
PIN = "88888888"
TRANSPORTS = ["inprocess", "pcsc"]
KEY_ALGORITHMS = {"rsa2048": KeyAlgorithm.RSA_2048, "ec-p256": KeyAlgorithm.ECDSA_P256}
SUBJECT = HolderSubject(enterprise_name="深圳市某某进出口有限公司", uscc="91440300MA5EXAMPLA",
                        holder_name="张三", holder_id_masked="4403**********1234")
PKI = ProfileSettings(base_url="http://127.0.0.1:8000")


@pytest.fixture(scope="session")
def agent_reader() -> str:
    """pcscd running with the second vpcd reader empty; fails loudly otherwise."""
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


@pytest.fixture(scope="session")
def ca(tmp_path_factory) -> CertificateAuthority:
    return CertificateAuthority.init(tmp_path_factory.mktemp("ca"), "电子口岸测试发卡CA", "test passphrase",
                                     "ec-p256")


def personalise(state_path: Path, ca: CertificateAuthority, *, algorithm: str = "ec-p256",
                kind: str = "legal", serial: str = SERIAL, device_no: str = DEVICE_NO,
                retry_limit: int = 3) -> x509.Certificate:
    """Card making as the branch does it: key generated on the card, certificate from our CA."""
    admin_key = derive_admin_key(MASTER_SECRET, serial)
    card = VirtualCard.create(state_path, admin_key=admin_key, serial=serial, device_no="",
                              retry_limit=retry_limit)
    driver = CardDriver(InProcessTransport(card)).connect()
    issued: list[x509.Certificate] = []

    def make_certificate(public_key) -> bytes:
        cert = ca.issue(profile_for(kind, PKI, algorithm), SUBJECT, public_key=public_key)
        issued.append(cert)
        return cert.public_bytes(serialization.Encoding.DER)

    driver.personalise(admin_key, KEY_ALGORITHMS[algorithm], make_certificate, device_no=device_no)
    driver.disconnect()
    return issued[0]


class AgentRig:
    """One personalised card, the agent in front of it, and a way to pull the card out and back."""

    def __init__(self, kind: str, state_path: Path, certificate: x509.Certificate, *, watch: bool = False):
        self.kind = kind
        self.state_path = state_path
        self.certificate = certificate
        self.watch = watch
        self.process: subprocess.Popen[bytes] | None = None
        self.background: BackgroundAgent | None = None
        self.slot: VirtualSlot | ReaderSlot | None = None

    def insert(self) -> None:
        if self.kind == "inprocess":
            if self.slot is None:
                self.slot = VirtualSlot.from_file(self.state_path)
            else:
                assert isinstance(self.slot, VirtualSlot)
                self.slot.card.insert()
            return
        from core.hardware.readers import wait_for_card

        if not wait_for_card(READER, present=False, timeout=20):
            pytest.fail(f"another card is in {READER!r}: is another test run (tests/cards?) using that reader?")
        self.process = subprocess.Popen([sys.executable, "-m", "core.hardware.cli", "--state",
                                         str(self.state_path), "--vpcd", VPCD], cwd=ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_for_card(READER, present=True, timeout=15):
            self.process.kill()
            _, err = self.process.communicate()
            pytest.fail(f"the virtual card never appeared in {READER!r}: {err.decode(errors='replace')}")
        if self.slot is None:
            self.slot = ReaderSlot(READER)

    def remove(self) -> None:
        if self.kind == "inprocess":
            assert isinstance(self.slot, VirtualSlot)
            self.slot.card.remove()
            return
        from core.hardware.readers import wait_for_card

        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
            assert wait_for_card(READER, present=False, timeout=10), "pcscd still sees the card"

    def start(self, **agent_kwargs: Any) -> str:
        self.insert()
        assert self.slot is not None
        agent = Agent(self.slot, allowed_origins=[ORIGIN], port=0, watch=self.watch, **agent_kwargs)
        self.background = BackgroundAgent(agent).start()
        return self.background.url

    @property
    def url(self) -> str:
        assert self.background is not None
        return self.background.url

    def stop(self) -> None:
        if self.background is not None:
            self.background.stop()
            self.background = None
        self.remove()


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    if request.param == "pcsc":
        request.getfixturevalue("agent_reader")
    return request.param


@pytest.fixture
def make_rig(transport, tmp_path, ca):
    rigs: list[AgentRig] = []

    def make(*, algorithm: str = "ec-p256", kind: str = "legal", watch: bool = False,
             start: bool = True) -> AgentRig:
        state = tmp_path / f"card{len(rigs)}.json"
        cert = personalise(state, ca, algorithm=algorithm, kind=kind)
        rig = AgentRig(transport, state, cert, watch=watch)
        rigs.append(rig)
        if start:
            rig.start()
        return rig

    yield make
    for rig in rigs:
        rig.stop()


@pytest.fixture
def rig(make_rig) -> AgentRig:
    return make_rig()


class Client:
    """A plain WebSocket client speaking the exact DESIGN.md envelopes."""

    def __init__(self, url: str, origin: str | None = ORIGIN) -> None:
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(url, origin=origin, proxy=None))  # type: ignore[arg-type]
        self.opened = json.loads(self.ws.recv(timeout=10))
        self.next_id = 1
        self.pushes: list[dict[str, Any]] = []

    def send_raw(self, text: str) -> dict[str, Any]:
        self.ws.send(text)
        return self.receive_reply()

    def receive_reply(self) -> dict[str, Any]:
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message["_method"] == "cardEvent":
                self.pushes.append(message)
                continue
            return message

    def call(self, method: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id, self.next_id = self.next_id, self.next_id + 1
        reply = self.send_raw(json.dumps({"_method": method, "_id": request_id, "args": args or {}},
                                         ensure_ascii=False))
        assert reply["_id"] == request_id and reply["_method"] == method, reply
        assert reply["_status"] == "00", reply
        assert list(reply) == ["_id", "_method", "_status", "_args"], reply
        assert list(reply["_args"]) == ["Result", "Data", "Error"], reply
        return reply["_args"]

    def wait_push(self, event: str) -> dict[str, Any]:
        for i, push in enumerate(self.pushes):
            if push["_args"]["Data"][0]["event"] == event:
                return self.pushes.pop(i)
        while True:
            message = json.loads(self.ws.recv(timeout=20))
            if message["_method"] == "cardEvent" and message["_args"]["Data"][0]["event"] == event:
                return message
            self.pushes.append(message)

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def client(rig):
    c = Client(rig.url)
    yield c
    c.close()
