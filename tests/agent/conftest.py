"""Agent fixtures: a personalised virtual card behind the agent, in-process and through a real pcscd.

The card goes in and out through ``core.hardware.testing.CardRig``. The PC/SC variant uses the second
vpcd reader ("Virtual PCD 00 01", port 35964) so the agent tests and the hardware tests (reader 00 00)
can run at the same time; another test run on this machine waits for the reader's lock. A missing
pcscd/vpcd FAILS the test.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
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
from core.hardware.testing import (  # noqa: F401  (ROOT: for the tests)
    MASTER_SECRET,
    ROOT,
    SECOND_SLOT,
    TRANSPORTS,
    CardRig,
    reader_for_test,
)
from core.hardware.transport import InProcessTransport
from core.hardware.virtual_card import VirtualCard
from core.pki.ca import CertificateAuthority
from core.pki.profiles import HolderSubject, ProfileSettings, profile_for

READER = SECOND_SLOT.name
SERIAL = "00a9e11700000001"
DEVICE_NO = "1234567890123"
ORIGIN = "http://127.0.0.1:8000"
PIN = "88888888"
KEY_ALGORITHMS = {"rsa2048": KeyAlgorithm.RSA_2048, "ec-p256": KeyAlgorithm.ECDSA_P256, "sm2": KeyAlgorithm.SM2}
SUBJECT = HolderSubject(enterprise_name="深圳市某某进出口有限公司", uscc="91440300MA5EXAMPLA",
                        holder_name="张三", holder_id_masked="4403**********1234")
PKI = ProfileSettings(base_url="http://127.0.0.1:8000")


@pytest.fixture
def agent_reader() -> Iterator[str]:
    """pcscd running with the second vpcd reader, held by this test run for the test; fails loudly otherwise."""
    yield from reader_for_test(SECOND_SLOT)


@pytest.fixture(scope="session")
def ca(tmp_path_factory) -> CertificateAuthority:
    return CertificateAuthority.init(tmp_path_factory.mktemp("ca"), "电子口岸测试发卡CA", "agent tests passphrase",
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
        self.card_rig = CardRig(kind, state_path, slot=SECOND_SLOT, master_secret=MASTER_SECRET)
        self.kind = kind
        self.state_path = state_path
        self.certificate = certificate
        self.watch = watch
        self.background: BackgroundAgent | None = None
        self.slot: VirtualSlot | ReaderSlot | None = None

    def insert(self) -> None:
        self.card_rig.insert()
        if self.slot is None:
            if self.kind == "inprocess":
                assert self.card_rig.card is not None
                self.slot = VirtualSlot(self.card_rig.card)  # the same card object goes out and back in
            else:
                self.slot = ReaderSlot(READER)

    def remove(self) -> None:
        self.card_rig.remove()

    def start(self, *, allowed_origins: tuple[str, ...] = (ORIGIN,), **agent_kwargs: Any) -> str:
        self.insert()
        assert self.slot is not None
        agent = Agent(self.slot, allowed_origins=allowed_origins, port=0, watch=self.watch, **agent_kwargs)
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
