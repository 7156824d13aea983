"""Test support: virtual cards in-process or behind a real pcscd + vsmartcard-vpcd reader.

Reuse from any test folder's conftest.py (like ``core.store.testing``)::

    from core.hardware.testing import make_rig, pcscd  # noqa: F401  (pytest fixtures)

* ``pcscd`` starts pcscd (scripts/start-pcscd.sh) and FAILS the test when pcscd, the vpcd driver or
  pyscard is missing: a silent skip would hide a broken CI machine. It holds the reader's lock for
  the whole test, so a card taken out and put back stays this test run's.
* :class:`CardRig` runs one virtual card (a state file) in-process or as its own process
  (``python -m core.hardware.cli --vpcd``) in a vpcd reader slot.
* :class:`ReaderLock`: vpcd has one card per slot and pcscd is shared by the whole machine, so every
  test run takes ``/tmp/eportcard-vpcd-<port>.lock`` (``fcntl.flock``) before it puts a card in; a
  second run waits for the first instead of pushing its card into the same slot.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from attrs import frozen

from core.hardware.driver import CardDriver
from core.hardware.keys import derive_admin_key
from core.hardware.transport import InProcessTransport, PcscTransport
from core.hardware.virtual_card import VirtualCard

ROOT = Path(__file__).resolve().parents[2]
MASTER_SECRET = bytes(range(32))  # the test branch's master secret
BLANK_SERIAL = "00c0ffee12345678"
TRANSPORTS = ("inprocess", "pcsc")
LOCK_WAIT_ENV = "EPORTCARD_READER_WAIT"  # seconds a run waits for another run's reader (default below)
DEFAULT_LOCK_WAIT = 900.0
CARD_APPEARS_WITHIN = 20.0  # seconds: a new process, its vpcd connection and pcscd's next poll
CARD_LEAVES_WITHIN = 10.0
READERS_LISTED_WITHIN = 10.0


@frozen
class VpcdSlot:
    """One vsmartcard-vpcd reader slot: pcscd's name for it and the port the card connects to."""

    name: str
    port: int
    host: str = "127.0.0.1"

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def lock_path(self) -> Path:
        return Path(f"/tmp/eportcard-vpcd-{self.port}.lock")


FIRST_SLOT = VpcdSlot("Virtual PCD 00 00", 35963)  # hardware and card-service tests
SECOND_SLOT = VpcdSlot("Virtual PCD 00 01", 35964)  # agent tests, so they can run beside the others


# ---- the reader lock ----------------------------------------------------------------------------------------


class ReaderLock:
    """A cross-process lock on one vpcd slot, re-entrant within this process.

    ``flock`` locks belong to an open file, so two opens in one process would deadlock each other:
    the process keeps one descriptor per slot and counts its holders instead.
    """

    _held: ClassVar[dict[Path, tuple[int, int]]] = {}  # lock file -> (descriptor, holders in this process)
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, slot: VpcdSlot) -> None:
        self.slot = slot
        self.holding = False

    def acquire(self, timeout: float | None = None) -> None:
        if self.holding:
            return
        path = self.slot.lock_path
        with self._guard:
            if path in self._held:
                fd, count = self._held[path]
                self._held[path] = (fd, count + 1)
                self.holding = True
                return
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                self._wait_for(fd, float(os.environ.get(LOCK_WAIT_ENV, DEFAULT_LOCK_WAIT))
                               if timeout is None else timeout)
            except BaseException:
                os.close(fd)
                raise
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))  # who holds it, for the next run's message
            self._held[path] = (fd, 1)
            self.holding = True

    def _wait_for(self, fd: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                    pytest.fail(f"the reader {self.slot.name!r} is still in use by another test run "
                                f"(pid {holder}, lock {self.slot.lock_path}) after {timeout:.0f} s; "
                                f"wait for it or raise {LOCK_WAIT_ENV}")
                time.sleep(0.2)

    def release(self) -> None:
        if not self.holding:
            return
        path = self.slot.lock_path
        with self._guard:
            fd, count = self._held[path]
            if count > 1:
                self._held[path] = (fd, count - 1)
            else:
                del self._held[path]
                os.close(fd)  # closing the last descriptor drops the flock
            self.holding = False


# ---- pcscd --------------------------------------------------------------------------------------------------


def require_pcscd(slot: VpcdSlot) -> None:
    """pcscd running with ``slot`` listed; fails the test loudly otherwise."""
    try:
        import smartcard.System  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"pyscard is not installed: {exc}")
    run = subprocess.run(["bash", str(ROOT / "scripts" / "start-pcscd.sh")], capture_output=True, text=True,
                         check=False)
    if run.returncode != 0:
        pytest.fail(f"pcscd could not be started:\n{run.stdout}\n{run.stderr}")
    from core.hardware.errors import NoReader
    from core.hardware.readers import list_readers

    deadline = time.monotonic() + READERS_LISTED_WITHIN  # a pcscd just started loads vpcd a moment later
    while True:
        try:
            listed = list_readers()
        except NoReader as exc:
            listed = [f"none ({exc.en})"]
        if slot.name in listed:
            return
        if time.monotonic() >= deadline:
            pytest.fail(f"pcscd does not list the vpcd reader {slot.name!r}: {listed}")
        time.sleep(0.1)


def reader_for_test(slot: VpcdSlot) -> Iterator[str]:
    """pcscd up and ``slot`` this run's for the test (body of a fixture: ``yield from``)."""
    require_pcscd(slot)
    lock = ReaderLock(slot)
    lock.acquire()
    try:
        _wait_until_empty(slot)
        yield slot.name
    finally:
        lock.release()


def _empty_or_recovered(slot: VpcdSlot) -> bool:
    """Wait for the slot to be empty. If pcscd keeps reporting a card that no vpcd client holds, restart it once.

    vsmartcard's vpcd driver can wedge when a PC/SC client connects in the instant a virtual card
    withdraws (pcscd logs "Error powering up card: SCARD_W_REMOVED_CARD" and reports the card present
    from then on). That is the virtual reader's quirk, not ours; a real reader has no such state.
    """
    from core.hardware.readers import wait_for_card

    if wait_for_card(slot.name, present=False, timeout=CARD_LEAVES_WITHIN):
        return True
    if subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{slot.port} )"],
                      capture_output=True, text=True).stdout.strip():
        return False  # a virtual card really is connected: not the wedge
    print(f"\n[eportcard tests] vpcd wedged on {slot.name!r}: restarting pcscd", file=sys.stderr)
    restart_pcscd()
    return wait_for_card(slot.name, present=False, timeout=CARD_LEAVES_WITHIN)


def stop_pcscd() -> None:
    """Stop pcscd (as a crash, an update or socket activation's idle exit would)."""
    subprocess.run(["pkill", "-x", "pcscd"], check=False)
    time.sleep(0.5)


def start_pcscd() -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "start-pcscd.sh")], capture_output=True, check=False)


def restart_pcscd() -> None:
    stop_pcscd()
    start_pcscd()


def _wait_until_empty(slot: VpcdSlot) -> None:
    if not _empty_or_recovered(slot):
        pytest.fail(f"a card is still in {slot.name!r} although no test run holds {slot.lock_path}: "
                    "is a stray `python -m core.hardware.cli --vpcd` process running?")


@pytest.fixture
def pcscd() -> Iterator[str]:
    """pcscd with vpcd's first slot, held by this test run for the test; its reader name."""
    yield from reader_for_test(FIRST_SLOT)


# ---- one virtual card ---------------------------------------------------------------------------------------


class CardRig:
    """One virtual card (its state file) in-process (``kind="inprocess"``) or in a vpcd slot (``"pcsc"``).

    ``insert``/``remove`` move the card in and out of its slot (in-process: the same card object, as
    the local agent's virtual slot sees it). ``start`` inserts it and connects a driver; ``stop``
    disconnects and takes it out, and the next ``start`` reads the card again from its file, so
    ``restart`` is a power cycle that shows what the card really kept.

    Without a card at ``state_path`` a blank one is made there (PIN 88888888, no key, no certificate,
    no device number) with ``serial`` and ``retry_limit``; ``admin_key`` is derived from ``master_secret``.
    """

    def __init__(self, kind: str, state_path: Path, *, serial: str = BLANK_SERIAL, retry_limit: int = 3,
                 slot: VpcdSlot = FIRST_SLOT, master_secret: bytes = MASTER_SECRET) -> None:
        if kind not in TRANSPORTS:
            raise ValueError(f"unknown rig kind {kind!r}; one of {TRANSPORTS}")
        self.kind = kind
        self.state_path = Path(state_path)
        self.slot = slot
        if not self.state_path.exists():
            VirtualCard.create(self.state_path, admin_key=derive_admin_key(master_secret, serial), serial=serial,
                               retry_limit=retry_limit, device_no="")
        self.serial = VirtualCard.load(self.state_path).serial
        self.admin_key = derive_admin_key(master_secret, self.serial)
        self.card: VirtualCard | None = None  # in-process only
        self.process: subprocess.Popen[bytes] | None = None  # pcsc only
        self.driver: CardDriver | None = None
        self._lock = ReaderLock(slot)

    @property
    def reader(self) -> str:
        return self.slot.name

    def insert(self, *, pull_out_on: tuple[int, int] | None = None, fail_first: int = 0) -> None:
        """Put the card in; ``pull_out_on=(INS, n)`` pulls it out when the n-th such command arrives;
        ``fail_first=n`` answers the first n commands with an error, as a card not ready to be read yet."""
        if self.kind == "inprocess":
            if self.card is None:
                self.card = VirtualCard.load(self.state_path)
            else:
                self.card.insert()
            if pull_out_on:
                self.card.pull_out_on(*pull_out_on)
            self.card.fail_next(fail_first)
            return
        if self.process is not None:
            return
        from core.hardware.readers import wait_for_card

        self._lock.acquire()  # held until the card is out again (see ReaderLock)
        _wait_until_empty(self.slot)
        args = [sys.executable, "-m", "core.hardware.cli", "--state", str(self.state_path),
                "--vpcd", self.slot.endpoint]
        if pull_out_on:
            args += ["--pull-out-on", f"{pull_out_on[0]:02X}:{pull_out_on[1]}"]
        if fail_first:
            args += ["--fail-first", str(fail_first)]
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_for_card(self.slot.name, present=True, timeout=CARD_APPEARS_WITHIN):
            self.process.kill()
            _, err = self.process.communicate()
            self.process = None
            self._lock.release()
            pytest.fail(f"the virtual card never appeared in {self.slot.name!r}: {err.decode(errors='replace')}")

    def remove(self) -> None:
        if self.kind == "inprocess":
            if self.card is not None:
                self.card.remove()
            return
        if self.process is None:
            return

        try:
            if self.process.poll() is None:
                self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
            if not _empty_or_recovered(self.slot):
                pytest.fail(f"pcscd still sees a card in {self.slot.name!r}")
        finally:
            self._lock.release()

    def connect(self) -> CardDriver:
        """A driver connected to the card now in the slot."""
        if self.kind == "inprocess":
            assert self.card is not None, "insert the card first"
            self.driver = CardDriver(InProcessTransport(self.card)).connect()
        else:
            self.driver = CardDriver(PcscTransport(self.slot.name)).connect()
        return self.driver

    def start(self, *, pull_out_on: tuple[int, int] | None = None) -> CardDriver:
        self.insert(pull_out_on=pull_out_on)
        return self.connect()

    def stop(self) -> None:
        if self.driver is not None:
            self.driver.disconnect()
            self.driver = None
        self.remove()
        self.card = None  # the next start reads the card from its file, as after a power cycle

    def restart(self, *, pull_out_on: tuple[int, int] | None = None) -> CardDriver:
        self.stop()
        return self.start(pull_out_on=pull_out_on)


@pytest.fixture(params=TRANSPORTS)
def make_rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., CardRig]]:
    """A factory of blank-card rigs in vpcd's first slot (``serial=``, ``retry_limit=``), stopped after
    the test; each test runs in-process and through pcscd. The slot holds one card at a time."""
    kind = str(request.param)
    if kind == "pcsc":
        request.getfixturevalue("pcscd")
    rigs: list[CardRig] = []

    def make(*, serial: str = BLANK_SERIAL, retry_limit: int = 3) -> CardRig:
        rig = CardRig(kind, tmp_path / f"card{len(rigs)}.json", serial=serial, retry_limit=retry_limit)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop()
